"""Sessions of pg_stat_activity chosen by a Selection: the long-running, the idle, the blockers.

The reads list them; the terminate actions act on exactly the same choice. Every row says
whether a termination would skip it (`protected`): replication and other non-client
backends, sessions of other databases, superusers unless asked. The caller's own backend is
never listed at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from psycopg import sql

from hopngo_ops import names
from hopngo_ops.postgres.connection import Postgres

IDLE_STATES = ("idle",)
IDLE_IN_TRANSACTION_STATES = ("idle in transaction", "idle in transaction (aborted)")

# Which sessions are blocking another one, from pg_blocking_pids (PostgreSQL 9.6 and later).
_BLOCKING = sql.SQL(
    "a.pid IN (SELECT unnest(pg_blocking_pids(w.pid)) FROM pg_stat_activity AS w"
    " WHERE w.wait_event_type = 'Lock')"
)

SESSION_COLUMNS = [
    "pid",
    "user",
    "application",
    "client",
    "database",
    "backend_type",
    "state",
    "wait_event_type",
    "wait_event",
    "backend_start",
    "since",
    "age",
    "query",
    "protected",
]


@dataclass(frozen=True)
class Selection:
    """A WHERE clause over pg_stat_activity (as `a`) and the timestamp its age counts from.

    `since` also identifies what was chosen: a session whose `since` changed between a
    preview and an apply (another query started, the transaction ended) is no longer the
    one previewed.
    """

    description: str
    where: sql.Composable
    since: str
    params: dict = field(default_factory=dict)
    include_superusers: bool = False

    def query(self) -> sql.Composed:
        """The chosen sessions, oldest first, each with the guardrail that protects it."""
        since = sql.SQL("a.{}").format(sql.Identifier(self.since))
        return sql.SQL(
            """
            SELECT a.pid, a.usename AS "user", a.application_name AS application,
                   host(a.client_addr) AS client, a.datname AS database, a.backend_type,
                   a.state, a.wait_event_type, a.wait_event, a.backend_start,
                   {since} AS since, date_trunc('second', now() - {since}) AS age, a.query,
                   CASE
                       WHEN a.backend_type IS DISTINCT FROM 'client backend'
                           THEN 'not a client backend: ' || coalesce(a.backend_type, '?')
                       WHEN a.datname IS DISTINCT FROM current_database()
                           THEN 'another database'
                       WHEN r.rolsuper AND NOT %(include_superusers)s THEN 'superuser'
                   END AS protected
            FROM pg_stat_activity AS a
            LEFT JOIN pg_roles AS r ON r.oid = a.usesysid
            WHERE a.pid <> pg_backend_pid() AND ({where})
            ORDER BY {since}, a.pid
            """
        ).format(since=since, where=self.where)

    def query_params(self) -> dict:
        return {**self.params, "include_superusers": self.include_superusers}

    def with_superusers(self, include: bool) -> Selection:
        return Selection(self.description, self.where, self.since, self.params, include)


def select(pg: Postgres, selection: Selection) -> pd.DataFrame:
    """The sessions `selection` chooses, as rows (empty with the same columns if none)."""
    return pg.frame(selection.query(), selection.query_params(), columns=SESSION_COLUMNS)


def long_running(minutes: float, *, application: str | None = None) -> Selection:
    """Statements running for longer than `minutes` (the runbook's `state = 'active'`)."""
    where = sql.SQL(
        "a.state = 'active' AND a.query_start < now() - make_interval(secs => %(seconds)s)"
    )
    params = {"seconds": _seconds(minutes)}
    description = f"queries running for more than {minutes:g} min"
    if application is not None:
        where, params = _of_application(where, params, application)
        description += f" of {application}"
    return Selection(description, where, "query_start", params)


def idle(older_than_minutes: float, *, states: tuple[str, ...] = IDLE_STATES) -> Selection:
    """Sessions in one of the idle `states` for longer than `older_than_minutes`.

    Idle time counts from the last state change, not from `query_start` as the runbook's
    query does: a session that ran a quick query an hour ago has been idle an hour too.
    """
    if unknown := set(states) - {*IDLE_STATES, *IDLE_IN_TRANSACTION_STATES}:
        raise ValueError(f"not idle states: {sorted(unknown)}")
    where = sql.SQL(
        "a.state = ANY(%(states)s) AND a.state_change < now() - make_interval(secs => %(seconds)s)"
    )
    return Selection(
        f"sessions {' or '.join(states)} for more than {older_than_minutes:g} min",
        where,
        "state_change",
        {"states": list(states), "seconds": _seconds(older_than_minutes)},
    )


def blockers(pid: int | None = None) -> Selection:
    """Session `pid` if it blocks another, or else the root blockers: blocking, not blocked.

    Its transaction identifies a blocker: when `xact_start` changed, the locks did too.
    """
    if pid is None:
        where = sql.SQL("{} AND cardinality(pg_blocking_pids(a.pid)) = 0").format(_BLOCKING)
        return Selection("the root blockers of the lock-wait tree", where, "xact_start")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise ValueError(f"pid must be a positive integer, got {pid!r}")
    where = sql.SQL("a.pid = %(pid)s AND {}").format(_BLOCKING)
    return Selection(f"blocker pid {pid}", where, "xact_start", {"pid": pid})


def _of_application(where: sql.Composable, params: dict, application: str):
    # A service's sessions carry its name as application_name (booking-service).
    return (
        sql.SQL("{} AND a.application_name = %(application)s").format(where),
        {**params, "application": names.service_name(application)},
    )


def _seconds(minutes: float) -> float:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes < 0:
        raise ValueError(f"minutes must be a number >= 0, got {minutes!r}")
    return float(minutes) * 60
