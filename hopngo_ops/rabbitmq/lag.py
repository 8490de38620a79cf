"""Which queues lag and since when, from Prometheus' history of ready messages.

A queue lags while its ready count is above the threshold; it has lagged since the first
sample of the run of samples above the threshold that reaches the present.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ["queue", "ready_now", "lagging_since", "lagging_for", "growth_in_window"]


def lag_history(history: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per queue of a `queue_messages_ready` range frame: the latest ready count, since when it
    has been above `threshold` (NaT: not above now; the window's start if above all of it), for
    how long, and how much ready grew over the window."""
    rows = []
    for queue, points in history.sort_values("timestamp").groupby("queue", sort=True):
        values, times = points["value"].to_numpy(), points["timestamp"].reset_index(drop=True)
        below = (values <= threshold).nonzero()[0]
        since = pd.NaT
        if values[-1] > threshold:
            since = times.iloc[below[-1] + 1] if len(below) else times.iloc[0]
        rows.append(
            {
                "queue": queue,
                "ready_now": values[-1],
                "lagging_since": since,
                "lagging_for": times.iloc[-1] - since if pd.notna(since) else pd.NaT,
                "growth_in_window": values[-1] - values[0],
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
