"""What a sandbox server's `start` receives: where to write, which scenario, and a pid tracker."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hopngo_ops.sandbox.procs import Proc
from hopngo_ops.sandbox.scenarios import Scenario


@dataclass
class SandboxContext:
    state_dir: Path
    scenario: Scenario
    # Epoch seconds the sandbox came up: every scenario time is an offset from it.
    started_at: float
    procs: list[Proc] = field(default_factory=list)
    # Called after each tracked process, so the manager can persist pids as they appear.
    on_track: Callable[[list[Proc]], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def dir(self, *parts: str) -> Path:
        """A folder under the state dir, created."""
        path = self.state_dir.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def track(self, proc: Proc) -> None:
        """Record a started process at once, so a later failure still stops it."""
        with self._lock:
            self.procs.append(proc)
            if self.on_track:
                self.on_track(list(self.procs))

    def untrack(self, proc: Proc) -> None:
        """Forget a process that has exited (a retried start): its pid may be reused."""
        with self._lock:
            self.procs.remove(proc)
            if self.on_track:
                self.on_track(list(self.procs))

    @property
    def incident_start(self) -> float:
        return self.started_at - self.scenario.incident_minutes_ago * 60
