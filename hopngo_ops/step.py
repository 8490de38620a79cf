"""A diagnostic step's result: what it checked, its table, plot and findings, displayed."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from hopngo_ops.findings import Finding

_SEVERITY_COLOUR = {"info": "#2b6cb0", "warning": "#b7791f", "critical": "#c53030"}


@dataclass
class Step:
    title: str = ""
    table: pd.DataFrame | None = None
    findings: list[Finding] = field(default_factory=list)
    figure: Figure | None = None
    # Why the step could not run (a backend down): the run goes on, degraded.
    error: str | None = None
    # A short note: the query or call behind the table, the threshold used.
    note: str = ""

    def _repr_html_(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>"]
        if self.error:
            parts.append(
                f"<p style='color:#c53030'><b>Could not run:</b> {html.escape(self.error)}</p>"
            )
        parts += [_finding_html(f) for f in self.findings]
        if self.table is not None:
            parts.append(
                "<p><i>no rows</i></p>" if self.table.empty else self.table.to_html(max_rows=50)
            )
        if self.figure is not None:
            parts.append(f"<img src='data:image/png;base64,{_png(self.figure)}'/>")
        if self.note:
            parts.append(f"<p><small>{html.escape(self.note)}</small></p>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        lines = [self.title]
        if self.error:
            lines.append(f"  could not run: {self.error}")
        lines += [f"  [{f.severity}] {f.check}: {f.message}" for f in self.findings]
        if self.table is not None:
            lines.append(self.table.to_string(max_rows=20) if not self.table.empty else "no rows")
        return "\n".join(lines)


def _finding_html(finding: Finding) -> str:
    colour = _SEVERITY_COLOUR[finding.severity]
    return (
        f"<p style='color:{colour}'><b>{finding.severity.upper()}</b> "
        f"{html.escape(finding.check)}: {html.escape(finding.message)}</p>"
    )


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()
