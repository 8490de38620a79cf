"""The runbook's database diagnostics (section 5, and the database parts of section 2) as steps.

Each step reads PostgreSQL through the notebook's session (`rb.postgres`); connection usage
also reads Prometheus, side by side, and says when the two disagree. Findings grade what
an on-call engineer acts on: saturation and lock waits are critical; long-running queries,
piles of sessions idle in a transaction and slow statements warn.
"""

from __future__ import annotations

import pandas as pd

from hopngo_ops import postgres
from hopngo_ops.config import ProfileError
from hopngo_ops.errors import BackendUnavailable, NotFound
from hopngo_ops.findings import Finding
from hopngo_ops.postgres.sessions import IDLE_IN_TRANSACTION_STATES, IDLE_STATES
from hopngo_ops.runbook import Runbook, check
from hopngo_ops.step import Step

# Usage of the two sources that differ by more than this many points is called out.
_DISAGREEMENT_POINTS = 10
_QUERY_CHARS = 80


@check("Connection usage (% of max_connections)")
def connection_usage(
    rb: Runbook, *, warning_percent: float = 75, critical_percent: float = 90
) -> Step:
    """Prometheus' `numbackends / max_connections` beside pg_stat_database read directly."""
    direct = postgres.connection_usage(rb.postgres)
    rows = [
        {
            "source": "pg_stat_database (now)",
            "instance": rb.postgres.database,
            "connections": direct["connections"],
            "max_connections": direct["max_connections"],
            "usage_percent": direct["usage_percent"],
        }
    ]
    note = f"{direct['reserved_for_superusers']} of max_connections are reserved for superusers."
    try:
        scraped = rb.prometheus.instant("pg_connection_usage")
    except (BackendUnavailable, ProfileError) as err:
        # The server's own count still answers the question: show it, say what is missing.
        note += f" Prometheus not read: {err}."
    else:
        note += f" PromQL: {scraped.attrs.get('promql', '')}"
        rows += [
            {"source": "Prometheus", "instance": row["instance"], "usage_percent": row["value"]}
            for row in scraped.to_dict("records")
        ]
    table = pd.DataFrame(rows).round({"usage_percent": 1})
    findings = [
        _graded_usage(row, warning_percent, critical_percent) for row in table.to_dict("records")
    ]
    spread = table["usage_percent"].max() - table["usage_percent"].min()
    if spread > _DISAGREEMENT_POINTS:
        findings.append(
            Finding(
                "connection_usage",
                "info",
                f"the sources disagree by {spread:.0f} points: Prometheus holds the exporter's "
                "last scrapes, pg_stat_database this instant (sessions may have ended since)",
            )
        )
    return Step(table=table, findings=findings, note=note)


@check("Sessions by state, application and client")
def sessions(rb: Runbook) -> Step:
    table = postgres.session_counts(rb.postgres)
    by_state = table.groupby("state")["sessions"].sum().sort_values(ascending=False)
    listed = ", ".join(f"{n} {state}" for state, n in by_state.items()) or "none"
    finding = Finding(
        "sessions",
        "info",
        f"{int(by_state.sum())} client sessions besides this notebook's: {listed}",
        {"by_state": {str(k): int(v) for k, v in by_state.items()}},
    )
    return Step(table=table, findings=[finding], note="pg_stat_activity, client backends")


@check("Long-running queries")
def long_running_queries(
    rb: Runbook, *, minutes: float = 5, application: str | None = None
) -> Step:
    """Statements active for longer than `minutes` (the runbook's 5), oldest first."""
    selection = postgres.long_running(minutes, application=application)
    table = _shown(postgres.select(rb.postgres, selection))
    if table.empty:
        finding = Finding("long_running_queries", "info", f"no {selection.description}")
    else:
        finding = Finding(
            "long_running_queries",
            "warning",
            f"{len(table)} {selection.description}: {_sessions_listed(table)} "
            "(terminate_long_queries ends them)",
            {"pids": table["pid"].tolist()},
        )
    return Step(table=table, findings=[finding], note=f"{selection.description}, oldest first")


@check("Idle and idle-in-transaction sessions")
def idle_sessions(
    rb: Runbook, *, older_than_minutes: float = 60, idle_in_transaction_warning: int = 5
) -> Step:
    """Every idle session with its idle time; warns on piles of open transactions."""
    states = (*IDLE_STATES, *IDLE_IN_TRANSACTION_STATES)
    table = _shown(postgres.select(rb.postgres, postgres.idle(0, states=states)))
    in_transaction = table[table["state"].isin(IDLE_IN_TRANSACTION_STATES)]
    old_idle = table[
        table["state"].isin(IDLE_STATES) & (table["age"] > pd.Timedelta(minutes=older_than_minutes))
    ]
    findings = [
        Finding(
            "idle_sessions",
            "info",
            f"{len(table) - len(in_transaction)} idle sessions, {len(old_idle)} of them idle "
            f"for more than {older_than_minutes:g} min (terminate_idle_connections ends those)",
            {"idle": len(table) - len(in_transaction), "old_idle": old_idle["pid"].tolist()},
        )
    ]
    if len(in_transaction) >= idle_in_transaction_warning:
        findings.append(
            Finding(
                "idle_sessions",
                "warning",
                f"{len(in_transaction)} sessions idle in a transaction: they hold their locks "
                "and keep vacuum from cleaning up; a service does not commit or roll back "
                f"(by application: {_counts(in_transaction['application'])})",
                {"pids": in_transaction["pid"].tolist()},
            )
        )
    return Step(table=table, findings=findings, note="idle time counts from the last state change")


@check("Lock waits (blocked and blocking sessions)")
def lock_waits(rb: Runbook) -> Step:
    """The lock-wait tree: each root blocker, the sessions waiting behind it, their queries."""
    tree = postgres.lock_tree(rb.postgres)
    table = tree.table.assign(query=lambda t: t["query"].map(_short))
    if not tree.waiting:
        return Step(table=table, findings=[Finding("lock_waits", "info", "no session waits")])
    roots = table[table["level"] == 0]
    blockers = "; ".join(
        f"pid {r.pid} ({r.application or r.user}, {r.state} for {_duration(r.in_state_for)}): "
        f"{r.query}"
        for r in roots.itertuples()
    )
    finding = Finding(
        "lock_waits",
        "critical",
        f"{len(tree.waiting)} session(s) wait for locks behind {len(tree.roots)} root "
        f"blocker(s): {blockers} (terminate_blocker ends them)",
        {"waiting": tree.waiting, "root_blockers": tree.roots},
    )
    return Step(table=table, findings=[finding], note="pg_blocking_pids; level 0 is a root blocker")


@check("Slowest statements (pg_stat_statements)")
def slow_statements(
    rb: Runbook, *, limit: int = 10, order_by: str = "mean", warning_ms: float = 200
) -> Step:
    """The runbook's slow-query list, by mean (or total) execution time."""
    try:
        table = postgres.slowest_statements(rb.postgres, limit=limit, order_by=order_by)
    except NotFound as err:
        return Step(error=str(err))
    mean, total = postgres.time_columns(rb.postgres.server_version)
    note = f"pg_stat_statements.{mean} and .{total} of this database, in ms"
    slow = table[table["mean_ms"] >= warning_ms]
    if slow.empty:
        finding = Finding(
            "slow_statements", "info", f"no statement averages {warning_ms:g} ms or more"
        )
    else:
        listed = "; ".join(
            f"{r.mean_ms:.0f} ms x {r.calls} ({r.user}): {_short(r.query)}"
            for r in slow.itertuples()
        )
        finding = Finding(
            "slow_statements",
            "warning",
            f"{len(slow)} statement(s) average {warning_ms:g} ms or more: {listed}",
            {"queryids": slow["queryid"].tolist()},
        )
    return Step(table=table.assign(query=table["query"].map(_short)), findings=[finding], note=note)


@check("Missing index hints (pg_stats)")
def index_hints(rb: Runbook, *, schema: str = "public") -> Step:
    """The runbook's pg_stats list by n_distinct, with a hint where an index is missing."""
    table = postgres.index_hints(rb.postgres, schema=schema)
    hinted = table[table["hint"] != ""]
    findings = [
        Finding(
            "index_hints",
            "info",
            f"{r.table}.{r.column}: {r.hint} ({r.distinct_values:.0f} distinct values, "
            f"{r.table} had {r.seq_scans} sequential scans)",
        )
        for r in hinted.itertuples()
    ] or [Finding("index_hints", "info", f"no foreign key in {schema} lacks an index")]
    return Step(
        table=table,
        findings=findings,
        note="n_distinct below 0 is a fraction of the rows; distinct_values estimates the count",
    )


@check("Database sizes")
def database_sizes(rb: Runbook) -> Step:
    table = postgres.database_sizes(rb.postgres)
    largest = table.iloc[0] if not table.empty else None
    message = (
        f"largest database: {largest['database']} ({largest['size']})"
        if largest is not None
        else "no database allows connections"
    )
    return Step(table=table, findings=[Finding("database_sizes", "info", message)])


# --- helpers ---------------------------------------------------------------------------------


def _graded_usage(row: dict, warning: float, critical: float) -> Finding:
    usage, source = row["usage_percent"], row["source"]
    severity = "critical" if usage > critical else "warning" if usage > warning else "info"
    return Finding(
        "connection_usage",
        severity,
        f"{source}: {usage:.0f}% of max_connections in use"
        + (
            f" (over {critical if severity == 'critical' else warning:g}%)"
            if severity != "info"
            else ""
        ),
        {"source": source, "usage_percent": float(usage)},
    )


def _shown(sessions: pd.DataFrame) -> pd.DataFrame:
    """The columns an engineer reads, the query shortened."""
    columns = ["pid", "user", "application", "client", "state", "wait_event_type", "age"]
    return sessions[[*columns, "query", "protected"]].assign(query=sessions["query"].map(_short))


def _sessions_listed(table: pd.DataFrame) -> str:
    return "; ".join(
        f"pid {r.pid} ({r.application or r.user}, {_duration(r.age)})"
        for r in table.head(5).itertuples()
    ) + (f"; and {len(table) - 5} more" if len(table) > 5 else "")


def _duration(value: pd.Timedelta) -> str:
    """1:02:03 rather than pandas' "0 days 01:02:03"."""
    return str(pd.Timedelta(value).to_pytimedelta())


def _counts(values: pd.Series) -> str:
    return ", ".join(f"{k or '(none)'} {n}" for k, n in values.value_counts().items())


def _short(query: str | None) -> str:
    text = " ".join((query or "").split())
    return text if len(text) <= _QUERY_CHARS else text[: _QUERY_CHARS - 1] + "…"


__all__ = [
    "connection_usage",
    "database_sizes",
    "idle_sessions",
    "index_hints",
    "lock_waits",
    "long_running_queries",
    "sessions",
    "slow_statements",
]
