"""What every remediation action is: it plans, previews, applies when asked, and verifies."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from hopngo_ops.actions.guards import Guardrails
from hopngo_ops.errors import ActionFailed

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Plan:
    """What the action will do, in words and as the command an engineer would type."""

    action: str
    target: str
    description: str
    command: str
    parameters: dict = field(default_factory=dict)


@dataclass
class Preview:
    """What applying would change, computed without changing anything.

    `summary` and `diff` (or `rows`) are shown and audited; `before` is the state now;
    `payload` carries what `apply` must act on exactly (e.g. the previewed backend pids).
    """

    summary: str
    before: Any = None
    diff: str = ""
    rows: pd.DataFrame | None = None
    payload: Any = None


class Action(ABC):
    name: ClassVar[str]
    # Destructive actions lose work or data (terminations, purges, pod deletions): an alert
    # that resolved meanwhile skips them.
    destructive: ClassVar[bool] = False

    @abstractmethod
    def plan(self) -> Plan: ...

    def guard(self, guardrails: Guardrails) -> None:  # noqa: B027 - optional hook
        """Refuse (GuardRefused) what this action must never do; nothing by default."""

    @abstractmethod
    def preview(self) -> Preview: ...

    @abstractmethod
    def apply(self, preview: Preview) -> Any:
        """Make the previewed change; return the state after it."""

    @abstractmethod
    def verify(self, preview: Preview, *, timeout: float) -> str:
        """Wait (bounded) for the post-condition; say what holds or raise ActionFailed."""

    def wait_for(self, check: Callable[[], tuple[bool, str]], *, timeout: float) -> str:
        """Poll `check` (done, what holds) until done; ActionFailed with its last word if not."""
        deadline = time.monotonic() + timeout
        while True:
            done, state = check()
            if done:
                return state
            if time.monotonic() >= deadline:
                raise ActionFailed(self.name, f"not done {timeout:g} s after the change: {state}")
            time.sleep(POLL_SECONDS)

    def expected_confirmation(self) -> str | None:
        """What a user must type to confirm, when the action needs more than a click."""
        return None
