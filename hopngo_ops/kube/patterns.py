"""The runbook's log greps as named pattern sets: each alternative counted on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class LogPattern:
    label: str
    regex: re.Pattern
    # How serious a match is: a log line is evidence, not yet an outage, unless it says so.
    severity: str


@dataclass(frozen=True)
class PatternSet:
    name: str
    # The runbook's command this set stands for, shown in the step's note.
    grep: str
    patterns: tuple[LogPattern, ...]


def _p(label: str, regex: str, severity: str, flags: int = 0) -> LogPattern:
    return LogPattern(label, re.compile(regex, flags), severity)


PATTERN_SETS: dict[str, PatternSet] = {
    s.name: s
    for s in (
        PatternSet("errors", "grep ERROR", (_p("ERROR", r"ERROR", "warning"),)),
        PatternSet(
            "errors_by_kind",
            'grep -E "(OutOfMemory|Connection|Timeout)"',
            (
                _p("OutOfMemory", r"OutOfMemory", "critical"),
                _p("Connection", r"Connection", "warning"),
                _p("Timeout", r"Timeout", "warning"),
            ),
        ),
        PatternSet(
            "pool_exhausted",
            'grep "connection pool exhausted"',
            (_p("connection pool exhausted", r"connection pool exhausted", "critical"),),
        ),
        PatternSet(
            "slow_consumer",
            'grep -E "processing took [0-9]{4,}ms"',
            # A message that takes seconds: the consumer, not the broker, is the bottleneck.
            (_p("processing took seconds", r"processing took \d{4,}ms", "warning"),),
        ),
        PatternSet(
            "heap",
            'grep -i "outofmemory\\|heap"',
            (
                _p("outofmemory", r"outofmemory", "critical", re.IGNORECASE),
                _p("heap", r"heap", "warning", re.IGNORECASE),
            ),
        ),
    )
}


def pattern_set(name: str) -> PatternSet:
    try:
        return PATTERN_SETS[name]
    except KeyError:
        raise ValueError(
            f"unknown log pattern set {name!r}; choose one of: {', '.join(PATTERN_SETS)}"
        ) from None
