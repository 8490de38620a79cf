"""The runbook's Communication, Escalation and Post-Incident sections, filled from the records.

`incident(rb, ...)` reads the incident's records once; the post_incident notebook's steps take
it: the timeline, the escalation step due, each severity's response time, the status update
and the post-mortem draft (jinja2 templates in `templates/`), the action items left. Contacts,
the escalation matrix and response times come from `parameters/contacts.yaml`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from hopngo_ops.errors import HopngoError
from hopngo_ops.findings import Finding
from hopngo_ops.record.history import IncidentHistory, load_history
from hopngo_ops.record.ids import list_incidents, records_root
from hopngo_ops.runbook import Runbook, check
from hopngo_ops.step import Step

CONTACTS_FILE = Path(__file__).resolve().parents[1] / "parameters" / "contacts.yaml"
SEVERITY_LEVELS = ("P0", "P1", "P2", "P3")


class CommsError(HopngoError, ValueError):
    """Incident facts that cannot be used: an unknown severity, an unreadable time."""


@dataclass(frozen=True)
class Incident:
    """What the communication is about: the records, and what only people know."""

    history: IncidentHistory
    severity: str
    title: str
    incident_commander: str
    user_impact: str
    started_at: datetime
    now: datetime
    resolved_at: datetime | None
    contacts: dict

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def ended_at(self) -> datetime:
        """Resolution, or the latest record while the incident goes on."""
        return self.resolved_at or max(self.history.last_record_at, self.started_at)

    @property
    def duration(self) -> timedelta:
        return self.ended_at - self.started_at

    @property
    def status(self) -> str:
        """The runbook's status words, from what the records show."""
        if self.resolved:
            return "Resolved"
        if self.history.applied_actions:
            return "Monitoring"
        if self.history.root_causes:
            return "Identified"
        return "Investigating"

    @cached_property
    def timeline(self):
        alert_at = self.started_at if self.started_at < self.history.first_record_at else None
        return self.history.timeline(alert_at=alert_at, resolved_at=self.resolved_at)

    def action_items(self) -> list[str]:
        items = [
            f"Decide on {a['action']} for {a['target']}: it was {a['result']} ({a['message']})"
            for a in self.history.actions_left
        ]
        items += [
            f"Re-run {r['notebook']}: it {r['status']} ({r['error']})"
            for r in self.history.runs
            if r.get("error")
        ]
        items += [
            f"Prevent a recurrence: {c['message']}"
            for c in self.history.root_causes
            if c["severity"] == "critical"
        ]
        return items

    def _repr_html_(self) -> str:
        rows = {
            "incident": self.history.incident_id,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "started": f"{self.started_at:%Y-%m-%d %H:%M:%S} UTC",
            "duration": _hours_minutes(self.duration),
            "runs": len(self.history.runs),
            "actions applied": len(self.history.applied_actions),
            "services": ", ".join(self.history.services) or "unknown",
        }
        return pd.Series(rows, name="incident").to_frame().to_html()


def incident(
    rb: Runbook,
    *,
    severity: str,
    title: str,
    incident_commander: str,
    user_impact: str,
    alert_at: str = "",
    resolved_at: str = "",
    now: str = "",
) -> Incident:
    """Read the records of `rb.incident_id`; times are ISO 8601, UTC when they say no zone."""
    if severity not in SEVERITY_LEVELS:
        raise CommsError(f"severity {severity!r} is not one of {', '.join(SEVERITY_LEVELS)}")
    if not rb.incident_id:
        # Interactively, the incident one just worked on is the one to report on.
        known = list_incidents(records_root())
        if not known:
            raise CommsError(
                f"no incident records under {records_root()}: run a runbook first, or set "
                "incident_id"
            )
        rb.incident_id = known[-1]
    history = load_history(records_root(), rb.incident_id)
    if history.first_record_at is None:
        raise CommsError(f"incident {rb.incident_id} has no finished run or event to report on")
    started_at = _time(alert_at, "alert_at") or history.first_record_at
    now_at = _time(now, "now") or datetime.now(UTC)
    if now_at < started_at:
        raise CommsError(f"now ({now_at}) is before the incident started ({started_at})")
    return Incident(
        history=history,
        severity=severity,
        title=title,
        incident_commander=incident_commander,
        user_impact=user_impact,
        started_at=started_at,
        now=now_at,
        resolved_at=_time(resolved_at, "resolved_at"),
        contacts=load_contacts(),
    )


def load_contacts(path: Path = CONTACTS_FILE) -> dict:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise CommsError(f"cannot read the contacts and escalation matrix {path}: {err}") from err


@check("Timeline")
def timeline(rb: Runbook, *, incident: Incident) -> Step:
    table = pd.DataFrame(
        [(e.at, e.kind, e.text) for e in incident.timeline], columns=["at", "kind", "what"]
    )
    note = f"From {incident.history.folder}: the runs' records and timeline.jsonl."
    return Step(table=table, note=note)


@check("Escalation")
def escalation(rb: Runbook, *, incident: Incident) -> Step:
    """The matrix's steps with their due times; which one is due at `now` (or was at the end)."""
    at = incident.resolved_at or incident.now
    contacts = incident.contacts["contacts"]
    rows = []
    for step in incident.contacts["escalation"]:
        due_at = incident.started_at + timedelta(minutes=step["after_minutes"])
        contact = contacts[step["contact"]]
        reach = contact.get("email") or contact.get("reach")
        rows.append((due_at, step["action"], contact["name"], reach, due_at <= at))
    table = pd.DataFrame(rows, columns=["due_at", "action", "contact", "reach", "due"])
    current = table[table["due"]].iloc[-1]
    elapsed = _hours_minutes(at - incident.started_at)
    if incident.resolved:
        message = f"resolved after {elapsed}; escalation had reached: {current['action']}"
        severity = "info"
    else:
        message = f"{elapsed} in: {current['action']} ({current['contact']}, {current['reach']})"
        severity = "info" if current.name == 0 else "warning"
    upcoming = table[~table["due"]]
    note = (
        f"Next: {upcoming.iloc[0]['action']} at {upcoming.iloc[0]['due_at']:%H:%M} UTC."
        if len(upcoming) and not incident.resolved
        else "The runbook's Escalation Matrix."
    )
    return Step(table=table, findings=[Finding("escalation", severity, message)], note=note)


@check("Response time")
def response_times(rb: Runbook, *, incident: Incident) -> Step:
    """Each severity's response target against the first record (the first response)."""
    responded = incident.history.first_record_at
    rows = []
    for level, target in incident.contacts["severities"].items():
        deadline = _response_deadline(incident.started_at, target)
        rows.append((level, target["name"], deadline, responded, responded <= deadline))
    table = pd.DataFrame(rows, columns=["severity", "name", "respond_by", "responded", "met"])
    mine = table.set_index("severity").loc[incident.severity]
    took = _hours_minutes(responded - incident.started_at)
    if mine["met"]:
        finding = Finding("response_time", "info", f"{incident.severity} response met ({took})")
    else:
        finding = Finding(
            "response_time",
            "critical",
            f"{incident.severity} response missed: first record {took} after the alert, "
            f"due by {mine['respond_by']:%Y-%m-%d %H:%M} UTC",
        )
    note = "Response: the incident's first record. Without alert_at the alert is that record."
    return Step(table=table, findings=[finding], note=note)


@dataclass
class Draft(Step):
    """A step whose result is a text to send or file: shown as it will be pasted."""

    text: str = ""

    def _repr_html_(self) -> str:
        return f"{super()._repr_html_()}\n<pre>{html.escape(self.text)}</pre>"

    def __repr__(self) -> str:
        return f"{super().__repr__()}\n{self.text}"


@check("Status update")
def status_update(rb: Runbook, *, incident: Incident) -> Draft:
    """The runbook's Incident Communication Template for the incident as it stands now."""
    updates = incident.contacts["status_updates"]
    next_update = incident.now + timedelta(minutes=updates["every_minutes"][incident.severity])
    text = _render(
        "status_update.md.j2",
        incident,
        next_update=next_update,
        update_to=updates["to"],
    )
    return Draft(text=text, note=f"Send to {updates['to']}.")


@check("Post-mortem draft")
def postmortem(rb: Runbook, *, incident: Incident) -> Draft:
    """The runbook's Post-Mortem Template, filled from the records; prose is left to write."""
    due = incident.now + timedelta(days=incident.contacts["action_items_due_days"])
    text = _render(
        "postmortem.md.j2",
        incident,
        duration=incident.duration,
        resolved=incident.resolved,
        timeline=incident.timeline,
        action_items=incident.action_items(),
        due=due,
        runs=len(incident.history.runs),
    )
    return Draft(text=text)


@check("Actions and action items")
def action_items(rb: Runbook, *, incident: Incident) -> Step:
    """Every action the runs took (applied or not); what is left to do, as findings."""
    columns = ["at", "notebook", "action", "target", "result", "message"]
    table = pd.DataFrame(
        [{k: a.get(k) for k in columns} for a in incident.history.actions], columns=columns
    )
    findings = [Finding("action_items", "info", item) for item in incident.action_items()]
    return Step(table=table, findings=findings)


def _render(template: str, incident: Incident, **extra) -> str:
    history = incident.history
    return (
        _templates()
        .get_template(template)
        .render(
            incident_id=history.incident_id,
            title=incident.title,
            severity=incident.severity,
            status=incident.status,
            started_at=incident.started_at,
            services=history.services,
            user_impact=incident.user_impact,
            incident_commander=incident.incident_commander,
            root_causes=history.root_causes,
            applied=history.applied_actions,
            left=history.actions_left,
            **extra,
        )
    )


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hopngo_ops", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["utc_minute"] = lambda t: f"{t:%Y-%m-%d %H:%M} UTC"
    env.filters["hours_minutes"] = _hours_minutes
    return env


def _response_deadline(started_at: datetime, target: dict) -> datetime:
    if "response_minutes" in target:
        return started_at + timedelta(minutes=target["response_minutes"])
    # "Next business day": by the end of the next weekday.
    day = started_at.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.max.time(), UTC)


def _hours_minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} hours {minutes % 60} minutes"


def _time(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as err:
        raise CommsError(f"{name} {text!r} is not an ISO 8601 time: {err}") from err
    return value if value.tzinfo else value.replace(tzinfo=UTC)
