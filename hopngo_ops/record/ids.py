"""Incident records on disk: ids, their folders, and the numbered executed notebooks in them.

Layout: `<root>/YYYY/MM/DD/INC-YYYY-MMDD-NNN/NN-<notebook>.ipynb`. Ids and record numbers are
claimed with exclusive creates (mkdir, O_EXCL), so concurrent runs never get the same one.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from hopngo_ops.errors import HopngoError, NotFound

INCIDENT_ID = re.compile(r"INC-(\d{4})-(\d{2})(\d{2})-(\d{3})")


class RecordError(HopngoError):
    """An incident id or record that cannot be used."""


def records_root() -> Path:
    default = Path(__file__).resolve().parents[2] / "incidents"
    return Path(os.environ.get("HOPNGO_INCIDENTS_DIR", default))


def list_incidents(root: Path) -> list[str]:
    """Every incident id under `root`, oldest first."""
    return sorted(
        p.name for p in root.glob("[0-9]*/[0-9]*/[0-9]*/INC-*") if INCIDENT_ID.fullmatch(p.name)
    )


def existing_incident_dir(root: Path, incident_id: str) -> Path:
    """The folder of an incident that has records; NotFound otherwise."""
    folder = incident_dir(root, incident_id)
    if not folder.is_dir():
        raise NotFound(f"no incident {incident_id} under {root}")
    return folder


def incident_dir(root: Path, incident_id: str) -> Path:
    """The folder of an incident; its date comes from the id itself."""
    match = INCIDENT_ID.fullmatch(incident_id or "")
    if not match:
        raise RecordError(
            f"invalid incident id {incident_id!r}: the runbook's format is INC-YYYY-MMDD-NNN"
        )
    year, month, day, _ = match.groups()
    return root / year / month / day / incident_id


def allocate_incident(root: Path, now: datetime | None = None) -> str:
    """Claim the day's next incident id by creating its folder."""
    now = now or datetime.now(UTC)
    day = root / f"{now:%Y/%m/%d}"
    day.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(4)) for p in day.iterdir() if (m := INCIDENT_ID.fullmatch(p.name))]
    number = max(taken, default=0) + 1
    while number <= 999:
        incident_id = f"INC-{now:%Y-%m%d}-{number:03d}"
        try:
            (day / incident_id).mkdir()
        except FileExistsError:
            number += 1
            continue
        return incident_id
    raise RecordError(f"no incident ids left for {now:%Y-%m-%d} in {day}")


def claim_record_path(folder: Path, notebook: str) -> Path:
    """The next `NN-<notebook>.ipynb` in the incident's folder, created empty to claim it."""
    folder.mkdir(parents=True, exist_ok=True)
    number = 1 + max((int(p.name[:2]) for p in folder.glob("[0-9][0-9]-*.ipynb")), default=0)
    while True:
        path = folder / f"{number:02d}-{notebook}.ipynb"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            number += 1
            continue
        return path
