"""Fixtures for the Kubernetes simulator's tests: simulators started by
`hopngo_ops.sandbox.kubernetes.start`, once per module and scenario, stopped by pid."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from hopngo_ops.sandbox import kubernetes
from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.procs import stop_pid
from hopngo_ops.sandbox.scenarios import get_scenario


@pytest.fixture(scope="module")
def kubesim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], dict]]:
    """`kubesim(key)` -> the targets of a simulator; `key` is "<scenario>" or "<scenario>/<tag>"
    (a tag gives a separate simulator, e.g. one that tests may change)."""
    started: dict[str, dict] = {}
    # Every context, a failed start's too: its tracked pids are stopped below.
    contexts: list[SandboxContext] = []

    def get(key: str) -> dict:
        if key not in started:
            scenario = get_scenario(key.split("/")[0])
            state = tmp_path_factory.mktemp(key.replace("/", "-"))
            ctx = SandboxContext(state, scenario, time.time())
            contexts.append(ctx)
            info = kubernetes.start(ctx)
            started[key] = {**info, "home": str(ctx.dir("home"))}
        return started[key]

    yield get
    for ctx in contexts:
        for proc in reversed(ctx.procs):
            stop_pid(proc.pid, proc.stop_signal)
