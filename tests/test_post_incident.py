"""The post_incident notebook over a real sandbox incident: two runs and an applied action."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import nbformat
import pytest

from hopngo_ops import comms
from hopngo_ops.config import load_targets
from hopngo_ops.record import read_manifest, verify_incident
from hopngo_ops.record.timeline import read_events
from hopngo_ops.runbook import Runbook
from hopngo_ops.runner import run_notebook

ACTION = "terminate_long_queries"
# Both tests apply ACTION to the sandbox's PostgreSQL.
pytestmark = [pytest.mark.scenario("database_issues"), pytest.mark.mutates]


@pytest.fixture
def incident(sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """Diagnosis, then diagnosis applying the long-query termination, in one incident."""
    monkeypatch.setenv("HOPNGO_INCIDENTS_DIR", str(tmp_path))
    first = run_notebook("database_issues")
    second = run_notebook("database_issues", {"apply": [ACTION]}, incident_id=first.incident_id)
    assert (first.error, second.error) == (None, None)
    return first.incident_id, first.path.parent


def _rb(incident_id: str) -> Runbook:
    return Runbook("post_incident", load_targets("sandbox"), incident_id=incident_id)


def _facts(incident_id: str, **times) -> comms.Incident:
    return comms.incident(
        _rb(incident_id),
        severity="P1",
        title="Bookings time out",
        incident_commander="Ada Lovelace",
        user_impact="Searches fail",
        **times,
    )


def test_postmortem_has_the_timeline_duration_and_actions(incident):
    incident_id, folder = incident
    runs = read_manifest(folder)["runs"]
    applied = [e for e in read_events(folder) if e.get("result") == "applied"]
    assert [e["action"] for e in applied] == [ACTION]
    started = datetime.fromisoformat(runs[0]["started_at"])
    alert_at = started - timedelta(minutes=20)
    last = max(
        datetime.fromisoformat(runs[1]["finished_at"]), datetime.fromisoformat(applied[0]["at"])
    )
    facts = _facts(
        incident_id, alert_at=alert_at.isoformat(), now=(last + timedelta(minutes=5)).isoformat()
    )

    assert facts.duration == last - alert_at
    assert facts.status == "Monitoring"
    assert facts.history.services == ["booking-service"]
    kinds = [e.kind for e in facts.timeline]
    assert kinds[:2] == ["alert", "run"] and kinds.count("run") == 4
    assert [e.text.split(" on ")[0] for e in facts.timeline if e.kind == "action"].count(
        ACTION
    ) >= 1
    at = [e.at for e in facts.timeline]
    assert at == sorted(at)
    action_entry = next(e for e in facts.timeline if e.kind == "action" and ": applied" in e.text)
    run2_start = datetime.fromisoformat(runs[1]["started_at"])
    run2_end = datetime.fromisoformat(runs[1]["finished_at"])
    assert run2_start <= action_entry.at <= run2_end

    draft = comms.postmortem(_rb(incident_id), incident=facts)
    text = draft.text
    assert "# Post-Mortem: Bookings time out" in text
    assert f"- **Date**: {alert_at:%Y-%m-%d}" in text
    minutes = int((last - alert_at).total_seconds() // 60)
    assert f"- **Duration**: {minutes // 60} hours {minutes % 60} minutes (not resolved" in text
    assert "- **Severity**: P1" in text and "booking-service" in text
    resolution = text.split("## Resolution")[1].split("## Action Items")[0]
    assert ACTION in resolution and "No remediation" not in resolution
    assert f"- **{alert_at:%H:%M}** - Initial alert" in text
    assert "Owner: Ada Lovelace" in text

    escalation = comms.escalation(_rb(incident_id), incident=facts)
    # 20 minutes before the first run plus the runs: the secondary on-call is due.
    assert "Escalate to secondary on-call" in escalation.findings[0].message
    response = comms.response_times(_rb(incident_id), incident=facts)
    met = dict(zip(response.table["severity"], response.table["met"], strict=True))
    assert met == {"P0": False, "P1": False, "P2": True, "P3": True}
    assert response.findings[0].severity == "critical"


def test_post_incident_notebook_reports_into_the_incident(incident):
    incident_id, folder = incident
    report = run_notebook(
        "post_incident",
        {"severity": "P2", "title": "Slow bookings", "resolved_at": "", "user_impact": "slow"},
        incident_id=incident_id,
    )
    assert (report.status, report.error) == ("ok", None)
    assert report.path.name == "03-post_incident.ipynb"
    outputs = "\n".join(
        out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
        for cell in nbformat.read(report.path, as_version=4).cells
        for out in cell.get("outputs", [])
    )
    assert "# Post-Mortem: Slow bookings" in outputs
    assert "Subject: [INCIDENT] Slow bookings - Monitoring" in outputs
    assert "manager@hopngo.com" in outputs
    manifest = read_manifest(folder)
    assert [r["notebook"] for r in manifest["runs"]] == ["database_issues"] * 2 + ["post_incident"]
    assert verify_incident(folder) == []
