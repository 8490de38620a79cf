"""Range-query spans over a notebook's window, and the PromQL note a step shows."""

from __future__ import annotations

import pandas as pd

from hopngo_ops import names

# A plot needs no more points than this; a step below the scrape interval adds none.
RANGE_POINTS = 240
SCRAPE_SECONDS = 30


def window_span(window: str) -> tuple[pd.Timestamp, pd.Timestamp, float]:
    """Start, end (now) and step of a range query over the last `window`."""
    seconds = names.duration_seconds(window)
    end = pd.Timestamp.now(tz="UTC")
    return end - pd.Timedelta(seconds=seconds), end, max(SCRAPE_SECONDS, seconds / RANGE_POINTS)


def promql_note(*frames: pd.DataFrame) -> str:
    """The queries behind `frames` (each frame carries its PromQL in attrs)."""
    return "PromQL: " + " ; ".join(f.attrs.get("promql", "") for f in frames)
