"""Times as the tables show them: UTC timestamps, and ages measured from one `now`."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd


def now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))


def timestamp(value: datetime | None) -> pd.Timestamp | None:
    """The API's datetime as a UTC pandas Timestamp (None stays None, so columns stay tidy)."""
    return pd.Timestamp(value).tz_convert("UTC") if value is not None else None


def age(value: datetime | None, at: pd.Timestamp) -> pd.Timedelta | None:
    """How long before `at` the API's time was, to the second, like kubectl's AGE."""
    if value is None:
        return None
    return (at - timestamp(value)).round("s")
