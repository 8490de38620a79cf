"""The incident's timeline: one JSON object a line, appended, never rewritten."""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

TIMELINE = "timeline.jsonl"


def append_event(folder: Path, event: dict) -> dict:
    """Append `event` (stamped with its time) to the folder's timeline; return it as written."""
    folder.mkdir(parents=True, exist_ok=True)
    stamped = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), **event}
    line = json.dumps(stamped, default=str, sort_keys=True) + "\n"
    # One locked write: concurrent runs of the same incident never interleave their lines.
    with open(folder / TIMELINE, "a", encoding="utf-8") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        out.write(line)
        out.flush()
        os.fsync(out.fileno())
    return stamped


def read_events(folder: Path) -> list[dict]:
    path = folder / TIMELINE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
