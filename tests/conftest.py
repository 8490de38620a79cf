"""Project-wide fixtures: one real sandbox at a time, shared by the tests of its scenario.

Tests name their scenario with `@pytest.mark.scenario("NAME")` (default: healthy) and take
the `sandbox` fixture, the running sandbox's status. Tests are ordered by scenario so each
sandbox starts once per session; the previous one stops before the next starts. Tests marked
`@pytest.mark.mutates` change the sandbox (remediation applied): they run last in their
scenario's group, so every other test sees the scenario as planted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from hopngo_ops import sandbox as sandbox_manager
from hopngo_ops.errors import SandboxError

DEFAULT_SCENARIO = "healthy"


def _scenario_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("scenario")
    return marker.args[0] if marker else DEFAULT_SCENARIO


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Stable sort: within a scenario, tests keep their file order.
    order = {name: i for i, name in enumerate(sandbox_manager.SCENARIOS)}
    # Tests that take the pool itself (to restart a scenario) are ordered the same way.
    uses_sandbox = [
        i for i in items if {"sandbox", "sandbox_pool"} & set(getattr(i, "fixturenames", ()))
    ]
    others = [i for i in items if i not in uses_sandbox]
    items[:] = others + sorted(
        uses_sandbox,
        key=lambda i: (order[_scenario_of(i)], i.get_closest_marker("mutates") is not None),
    )


class SandboxPool:
    """Keeps at most one sandbox running; starts another scenario's on demand."""

    def __init__(self, root: Path):
        self.root = root
        self.current: tuple[str, Path] | None = None
        # A scenario whose sandbox failed to start fails its other tests at once.
        self.failed: dict[str, str] = {}

    def get(self, scenario: str, *, fresh: bool = False) -> dict:
        if scenario in self.failed:
            pytest.fail(f"the {scenario} sandbox failed to start: {self.failed[scenario]}")
        if self.current and (self.current[0] != scenario or fresh):
            self.stop()
        if self.current and sandbox_manager.read_status(self.current[1])["state"] != "up":
            self.stop()  # a server died under the previous test: start afresh
        if self.current is None:
            state_dir = self.root / f"{scenario}-{len(list(self.root.iterdir()))}"
            try:
                status, _ = sandbox_manager.up(scenario, state_dir)
            except SandboxError as err:
                self.failed[scenario] = str(err)
                raise
            self.current = (scenario, state_dir)
            # The `sandbox` profile (and kernels papermill starts) find it through this.
            os.environ["HOPNGO_SANDBOX_DIR"] = str(state_dir)
            return status
        return sandbox_manager.read_status(self.current[1])

    def stop(self) -> None:
        if self.current:
            sandbox_manager.down(self.current[1])
            self.current = None


@pytest.fixture(scope="session")
def sandbox_pool():
    # Not pytest's tmp dir: its root is 0700, and PostgreSQL runs as the `postgres` user, who
    # must be able to reach its data dir.
    root = Path(tempfile.mkdtemp(prefix="hopngo-sandboxes-"))
    root.chmod(0o711)
    pool = SandboxPool(root)
    yield pool
    pool.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, sandbox_pool: SandboxPool) -> dict:
    """The running sandbox of the test's scenario: its `status --json` object."""
    return sandbox_pool.get(_scenario_of(request.node))
