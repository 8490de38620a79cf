"""Findings: what a diagnostic step concluded, in a shape tools and tests read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Ordered from least to most serious.
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    message: str
    evidence: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")

    def to_record(self) -> dict:
        """The part that goes into the notebook's metadata (evidence stays in the outputs)."""
        return {k: v for k, v in asdict(self).items() if k != "evidence"}


def worst_severity(findings: list[Finding]) -> str | None:
    """The most serious severity among `findings`, None when there are none."""
    if not findings:
        return None
    return max((f.severity for f in findings), key=SEVERITIES.index)
