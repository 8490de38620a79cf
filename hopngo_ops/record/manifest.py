"""An incident's `manifest.json`: what its runs found and did, and the hash of every file.

The manifest is derived from the folder (each executed notebook's `hopngo` metadata, the
timeline, the files), so rewriting it after any run, under the folder lock, keeps every
concurrent run's entry.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from hopngo_ops.findings import SEVERITIES
from hopngo_ops.record.files import MANIFEST, file_hashes, write_atomically
from hopngo_ops.record.ids import RecordError
from hopngo_ops.record.redact import Redactor
from hopngo_ops.record.timeline import read_events

MANIFEST_FORMAT = 1
# Ordered from best to worst: an incident is as bad as its worst run.
RUN_STATUSES = ("ok", "degraded", "failed")
# A record number claimed by a run that has not finished (or whose runner was killed).
RUNNING = "running"


def runbook_commit(checkout: Path) -> str | None:
    """`git rev-parse HEAD` of the checkout the notebooks come from; None outside git."""
    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def run_entries(folder: Path) -> list[dict]:
    """One entry per numbered notebook record, from its `hopngo` metadata."""
    entries = []
    for path in sorted(folder.glob("[0-9][0-9]-*.ipynb")):
        if not path.stat().st_size:
            entries.append({"record": path.name, "status": RUNNING})
            continue
        # A record is JSON: reading its metadata needs no nbformat (slow to import for the CLI).
        meta = dict(json.loads(path.read_text()).get("metadata", {}).get("hopngo", {}))
        html = path.with_suffix(".html")
        entries.append({"record": path.name, "html": html.name if html.exists() else None, **meta})
    return entries


def action_entries(folder: Path) -> list[dict]:
    keep = ("at", "notebook", "action", "target", "result", "message", "who", "mode")
    return [
        {k: event.get(k) for k in keep}
        for event in read_events(folder)
        if event.get("type") == "action"
    ]


def build_manifest(folder: Path, incident_id: str, *, version: str, commit: str | None) -> dict:
    runs = run_entries(folder)
    finished = [r for r in runs if r["status"] != RUNNING]
    findings = [
        {**finding, "record": run["record"], "notebook": run.get("notebook")}
        for run in finished
        for finding in run.get("findings", [])
    ]
    severities = [f["severity"] for f in findings if f.get("severity") in SEVERITIES]
    return {
        "format": MANIFEST_FORMAT,
        "incident_id": incident_id,
        "hopngo_ops_version": version,
        "runbook_commit": commit,
        "profiles": sorted({r["profile"] for r in finished if r.get("profile")}),
        "started_at": min((r["started_at"] for r in finished), default=None),
        "finished_at": max((r["finished_at"] for r in finished), default=None),
        "status": max((r["status"] for r in finished), key=RUN_STATUSES.index, default=None),
        "worst_severity": max(severities, key=SEVERITIES.index, default=None),
        "runs": runs,
        "findings": findings,
        "actions": action_entries(folder),
        "files": file_hashes(folder),
    }


def write_manifest(folder: Path, manifest: dict, redactor: Redactor) -> None:
    """Write the manifest atomically; the caller holds the folder lock."""
    # Hashes are hex, never a secret: they stay exactly as computed.
    redacted = redactor.data(manifest, keep=lambda key: key == "files")
    text = json.dumps(redacted, indent=2, sort_keys=True, default=str)
    write_atomically(folder / MANIFEST, text + "\n")


def read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError as err:
        raise RecordError(f"{folder.name} has no {MANIFEST}: no run has finished in it") from err
    except json.JSONDecodeError as err:
        raise RecordError(f"{folder / MANIFEST} is not valid JSON: {err}") from err
