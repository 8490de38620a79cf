"""An incident's history as its records tell it: runs, timeline events, times, root causes.

Reports about the incident (the post_incident notebook's own runs) are not part of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hopngo_ops.record.ids import existing_incident_dir
from hopngo_ops.record.manifest import RUNNING, run_entries
from hopngo_ops.record.timeline import read_events

REPORT_NOTEBOOKS = frozenset({"post_incident"})
ROOT_CAUSE_SEVERITIES = ("critical", "warning")


@dataclass(frozen=True)
class Entry:
    """One line of the incident's timeline."""

    at: datetime
    kind: str  # alert | run | finding | action | resolved
    text: str


@dataclass(frozen=True)
class IncidentHistory:
    incident_id: str
    folder: Path
    runs: list[dict]
    events: list[dict]

    @property
    def actions(self) -> list[dict]:
        return [e for e in self.events if e.get("type") == "action"]

    @property
    def applied_actions(self) -> list[dict]:
        return [a for a in self.actions if a.get("result") == "applied"]

    @property
    def actions_left(self) -> list[dict]:
        """The last event of each action and target that was never applied."""
        last = {(a["action"], a["target"]): a for a in self.actions}
        return [a for a in last.values() if a.get("result") != "applied"]

    @property
    def first_record_at(self) -> datetime | None:
        times = [_time(r["started_at"]) for r in self.runs]
        times += [_time(e["at"]) for e in self.events]
        return min(times, default=None)

    @property
    def last_record_at(self) -> datetime | None:
        times = [_time(r["finished_at"]) for r in self.runs]
        times += [_time(e["at"]) for e in self.events]
        return max(times, default=None)

    @property
    def services(self) -> list[str]:
        return sorted({s for r in self.runs if (s := r.get("parameters", {}).get("service"))})

    @property
    def root_causes(self) -> list[dict]:
        """Critical then warning findings of the runs, each once, with the run that found it."""
        seen, causes = set(), []
        for severity in ROOT_CAUSE_SEVERITIES:
            for run in self.runs:
                for finding in run.get("findings", []):
                    key = (finding["check"], finding["message"])
                    if finding["severity"] == severity and key not in seen:
                        seen.add(key)
                        causes.append({**finding, "notebook": run["notebook"]})
        return causes

    def timeline(self, *, alert_at: datetime | None, resolved_at: datetime | None) -> list[Entry]:
        entries = [Entry(alert_at, "alert", "Initial alert")] if alert_at else []
        for run in self.runs:
            entries.append(Entry(_time(run["started_at"]), "run", f"{run['notebook']} run started"))
            worst = f", worst finding {run['worst_severity']}" if run.get("worst_severity") else ""
            error = f": {run['error']}" if run.get("error") else ""
            entries.append(
                Entry(
                    _time(run["finished_at"]),
                    "run",
                    f"{run['notebook']} run finished: {run['status']}{worst}{error}",
                )
            )
        if first := self._first_root_cause():
            entries.append(first)
        # Previews changed nothing: they are action items, not events of the incident.
        for action in (a for a in self.actions if a.get("result") != "previewed"):
            entries.append(
                Entry(
                    _time(action["at"]),
                    "action",
                    f"{action['action']} on {action['target']}: {action['result']} "
                    f"({action.get('who')}): {action.get('message')}",
                )
            )
        if resolved_at:
            entries.append(Entry(resolved_at, "resolved", "Service restored"))
        return sorted(entries, key=lambda e: e.at)

    def _first_root_cause(self) -> Entry | None:
        for run in sorted(self.runs, key=lambda r: r["finished_at"]):
            causes = [f for f in run.get("findings", []) if f["severity"] == "critical"]
            if causes:
                return Entry(
                    _time(run["finished_at"]),
                    "finding",
                    f"Root cause identified by {run['notebook']}: {causes[0]['message']}",
                )
        return None


def load_history(root: Path, incident_id: str) -> IncidentHistory:
    folder = existing_incident_dir(root, incident_id)
    runs = [
        run
        for run in run_entries(folder)
        if run["status"] != RUNNING and run.get("notebook") not in REPORT_NOTEBOOKS
    ]
    return IncidentHistory(incident_id, folder, runs, read_events(folder))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)
