"""`sandbox up` to ready, cold (a fresh process and state dir) and warm (again, same process).

The floor is starting the slowest single server on its own, measured in the same run: the
sandbox starts its servers side by side, so it should cost little more than that one.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hopngo_ops import sandbox

SCENARIO = "service_down"


def _timed_up(state_dir: Path) -> float:
    started = time.perf_counter()
    sandbox.up(SCENARIO, state_dir)
    elapsed = time.perf_counter() - started
    sandbox.down(state_dir)
    return elapsed


def _cold_up(state_dir: Path) -> float:
    """A new interpreter: imports and all, as `hopngo-ops sandbox up` pays them."""
    cli = [sys.executable, "-m", "hopngo_ops.cli"]
    started = time.perf_counter()
    subprocess.run(
        [*cli, "sandbox", "up", "--scenario", SCENARIO, "--state-dir", state_dir],
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - started
    subprocess.run(
        [*cli, "sandbox", "down", "--state-dir", state_dir], check=True, capture_output=True
    )
    return elapsed


def _slowest_component_alone(root: Path) -> float:
    from hopngo_ops.sandbox import rabbitmq
    from hopngo_ops.sandbox.context import SandboxContext
    from hopngo_ops.sandbox.procs import stop_pid

    ctx = SandboxContext(root, sandbox.get_scenario(SCENARIO), time.time())
    started = time.perf_counter()
    try:
        rabbitmq.start(ctx)
        return time.perf_counter() - started
    finally:
        for proc in reversed(ctx.procs):
            stop_pid(proc.pid, proc.stop_signal)


def measure() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o711)  # PostgreSQL runs as the postgres user, who must reach its data
        cold = _cold_up(root / "cold")
        warm = [_timed_up(root / f"warm{i}") for i in range(2)]
        floor = _slowest_component_alone(root / "floor")
    return {
        "scenario": SCENARIO,
        "cold_seconds": round(cold, 2),
        "warm_seconds": [round(w, 2) for w in warm],
        "floor_rabbitmq_alone_seconds": round(floor, 2),
        "warm_over_floor": round(min(warm) / floor, 2),
    }
