"""The incident's timeline: one JSON object a line, appended under a lock.

Events are redacted before they are written (known secret values, secret shapes), so the
timeline never holds a secret even while a run is still going.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

TIMELINE = "timeline.jsonl"


def append_event(folder: Path, event: dict, *, profile: str | None = None) -> dict:
    """Append `event` (stamped with its time) to the folder's timeline; return it as written.

    It is redacted first with the secrets of `profile` (the one the event's actions used),
    else of the profile the runner named for this kernel."""
    # Imported here: the record package reads timelines, so it imports this module first.
    from hopngo_ops.record.secret_values import RECORD_PROFILE_ENV, run_redactor

    folder.mkdir(parents=True, exist_ok=True)
    stamped = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), **event}
    redactor = run_redactor(profile or os.environ.get(RECORD_PROFILE_ENV), {})
    stamped = redactor.data(json.loads(json.dumps(stamped, default=str)))
    # One locked write: concurrent runs of the same incident never interleave their lines.
    with open(folder / TIMELINE, "a", encoding="utf-8") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        out.write(_line(stamped))
        out.flush()
        os.fsync(out.fileno())
    return stamped


def rewrite_events(folder: Path, transform: Callable[[dict], dict]) -> bool:
    """Apply `transform` to every event in place, under the append lock; True if any changed."""
    path = folder / TIMELINE
    if not path.exists():
        return False
    with open(path, "r+", encoding="utf-8") as timeline:
        fcntl.flock(timeline, fcntl.LOCK_EX)
        text = timeline.read()
        rewritten = "".join(_line(transform(json.loads(ln))) for ln in text.splitlines() if ln)
        if rewritten == text:
            return False
        timeline.seek(0)
        timeline.write(rewritten)
        timeline.truncate()
        timeline.flush()
        os.fsync(timeline.fileno())
    return True


def read_events(folder: Path) -> list[dict]:
    path = folder / TIMELINE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _line(event: dict) -> str:
    return json.dumps(event, default=str, sort_keys=True) + "\n"
