"""A small Prometheus HTTP API client that answers with tidy DataFrames.

It speaks /api/v1/query and /api/v1/query_range with `requests` rather than wrapping
prometheus_api_client's PrometheusConnect: that one retries a refused connection with back-off
(seconds lost before a degraded step is shown) and raises one exception type for both an
unreachable server and a bad query, which callers must tell apart.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pandas as pd
import requests

from hopngo_ops.errors import BackendUnavailable
from hopngo_ops.prometheus.errors import QueryError
from hopngo_ops.prometheus.queries import template

# Prometheus' errorType for a query it cannot parse or evaluate as written.
_BAD_QUERY = "bad_data"
_MAX_WORKERS = 8

Timestamp = float | datetime | pd.Timestamp


class Prometheus:
    def __init__(self, url: str, *, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"Prometheus({self.url!r})"

    def instant(self, name: str, *, at: Timestamp | None = None, **params) -> pd.DataFrame:
        """Template `name` evaluated at `at` (default now): one row per series."""
        query = template(name)
        promql = query.build(**params)
        data = self.raw("query", query=promql, **({"time": _epoch(at)} if at is not None else {}))
        frame = _instant_frame(data, query.labels)
        frame.attrs["promql"] = promql
        return frame

    def range(
        self,
        name: str,
        *,
        start: Timestamp,
        end: Timestamp,
        step: float | str,
        **params,
    ) -> pd.DataFrame:
        """Template `name` over [start, end]: one row per series and timestamp (UTC)."""
        query = template(name)
        promql = query.build(**params)
        data = self.raw(
            "query_range", query=promql, start=_epoch(start), end=_epoch(end), step=step
        )
        frame = _range_frame(data, query.labels)
        frame.attrs["promql"] = promql
        return frame

    def raw(self, endpoint: str, **params) -> dict:
        """The `data` of GET /api/v1/<endpoint>: any API call, for tests and one-off reads."""
        try:
            response = self._session.get(
                f"{self.url}/api/v1/{endpoint}", params=params, timeout=self.timeout
            )
        except requests.RequestException as err:
            raise BackendUnavailable("prometheus", self.url, _reason(err)) from err
        try:
            body = response.json()
        except ValueError as err:
            raise BackendUnavailable(
                "prometheus",
                self.url,
                f"HTTP {response.status_code} {response.reason} without a Prometheus answer",
            ) from err
        if body.get("status") != "success":
            error_type, error = body.get("errorType", "unknown"), body.get("error", "")
            if error_type == _BAD_QUERY:
                raise QueryError(params.get("query", endpoint), error)
            raise BackendUnavailable(
                "prometheus", self.url, f"HTTP {response.status_code}: {error_type}: {error}"
            )
        return body["data"]


def gather(**calls: Callable[[], object]) -> dict[str, object]:
    """Run independent calls (a step's queries) concurrently; their results by name.

    The first call that failed re-raises its error, after the others have finished.
    """
    if not calls:
        return {}
    with ThreadPoolExecutor(max_workers=min(len(calls), _MAX_WORKERS)) as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
        return {name: future.result() for name, future in futures.items()}


def _epoch(moment: Timestamp) -> float:
    if isinstance(moment, datetime):
        return pd.Timestamp(moment).timestamp()
    return float(moment)


def _reason(err: requests.RequestException) -> str:
    if isinstance(err, requests.Timeout):
        return f"no answer within the timeout ({err.__class__.__name__})"
    if isinstance(err, requests.ConnectionError):
        return f"cannot connect ({err.__class__.__name__})"
    return f"{err.__class__.__name__}: {err}"


def _instant_frame(data: dict, labels: tuple[str, ...]) -> pd.DataFrame:
    result = data["result"]
    if data["resultType"] in ("scalar", "string"):
        result = [{"metric": {}, "value": result}]
    rows = [{**_labels(series), "value": float(series["value"][1])} for series in result]
    return _tidy(rows, labels)


def _range_frame(data: dict, labels: tuple[str, ...]) -> pd.DataFrame:
    rows = [
        {"timestamp": float(t), **_labels(series), "value": float(v)}
        for series in data["result"]
        for t, v in series["values"]
    ]
    frame = _tidy(rows, labels, time_column=True)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].astype(float), unit="s", utc=True)
    return frame


def _labels(series: dict) -> dict:
    # The metric name says nothing the template does not: leave it out of the table.
    return {k: v for k, v in series["metric"].items() if k != "__name__"}


def _tidy(rows: list[dict], labels: tuple[str, ...], *, time_column: bool = False) -> pd.DataFrame:
    """Columns: [timestamp], the template's labels, any other labels (sorted), value."""
    frame = pd.DataFrame(rows)
    extra = sorted(set(frame.columns) - set(labels) - {"timestamp", "value"})
    label_columns = [*labels, *extra]
    time = ["timestamp"] if time_column else []
    # Label columns stay text even without rows, so callers can filter them as strings.
    frame = frame.reindex(columns=[*time, *label_columns, "value"]).astype(
        {**dict.fromkeys(label_columns, object), "value": float}
    )
    order = [*label_columns, *time]
    return frame.sort_values(order, kind="stable").reset_index(drop=True) if order else frame
