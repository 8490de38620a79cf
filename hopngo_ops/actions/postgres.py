"""The runbook's SQL remediations: terminate long-running queries, idle sessions, a blocker.

All three are one action over a Selection of sessions (hopngo_ops.postgres.sessions):
- preview: the exact sessions, each identified by (pid, backend_start, since);
- apply: pg_terminate_backend on those of them that still match the selection and still
  have the same identity (a pid the server reused, or a session that moved on to another
  statement or transaction, is left alone);
- verify: a bounded wait until the terminated backends are gone from pg_stat_activity.
Guardrails are part of the selection's SQL, so preview and apply cannot disagree on them:
never the caller's own backend, replication or other non-client backends, sessions of other
databases, nor superuser sessions unless `include_superusers=True`.
"""

from __future__ import annotations

from typing import ClassVar

from psycopg import sql

from hopngo_ops.actions.base import Action, Plan, Preview
from hopngo_ops.actions.guards import Guardrails
from hopngo_ops.actions.perform import ActionReport, perform
from hopngo_ops.errors import GuardRefused
from hopngo_ops.postgres import Postgres, Selection, blockers, idle, long_running, select
from hopngo_ops.postgres.sessions import IDLE_IN_TRANSACTION_STATES, IDLE_STATES

PREVIEW_COLUMNS = ["pid", "user", "application", "client", "state", "age", "query"]

# Terminate exactly the previewed sessions that the selection still chooses, unprotected.
_TERMINATE = """
WITH previewed AS (
    SELECT * FROM unnest(%(pids)s::int[], %(starts)s::timestamptz[], %(sinces)s::timestamptz[])
        AS p(pid, backend_start, since)
)
SELECT s.pid, pg_terminate_backend(s.pid) AS signalled
FROM ({selected}) AS s
JOIN previewed AS p
  ON p.pid = s.pid AND p.backend_start = s.backend_start AND p.since = s.since
WHERE s.protected IS NULL
"""

_STILL_THERE = """
SELECT a.pid
FROM pg_stat_activity AS a
JOIN unnest(%s::int[], %s::timestamptz[]) AS t(pid, backend_start)
  ON t.pid = a.pid AND t.backend_start = a.backend_start
"""

# What an engineer would type in psql for the same termination (shown in the plan).
_EQUIVALENT = """SELECT pg_terminate_backend(a.pid)
FROM pg_stat_activity AS a JOIN pg_roles AS r ON r.oid = a.usesysid
WHERE a.pid <> pg_backend_pid()
  AND a.backend_type = 'client backend'
  AND a.datname = current_database(){superusers}
  AND {where};"""


class TerminateSessions(Action):
    """Terminate the sessions a Selection chooses; subclasses say which and why."""

    destructive = True
    why: ClassVar[str]

    def __init__(self, pg: Postgres, selection: Selection, *, include_superusers: bool = False):
        self.pg = pg
        self.selection = selection.with_superusers(include_superusers)
        self.include_superusers = include_superusers
        self._terminated: list[tuple[int, object]] = []

    def parameters(self) -> dict:
        return {**self.selection.params, "include_superusers": self.include_superusers}

    def plan(self) -> Plan:
        return Plan(
            action=self.name,
            target=f"database {self.pg.database}",
            description=f"Terminate {self.selection.description} ({self.why}). "
            + _guardrail_words(self.include_superusers),
            command=self._equivalent_sql(),
            parameters=self.parameters(),
        )

    def preview(self) -> Preview:
        sessions = select(self.pg, self.selection)
        chosen = sessions[sessions["protected"].isna()].reset_index(drop=True)
        protected = sessions["protected"].dropna().value_counts()
        summary = f"would terminate {len(chosen)} session(s): {self.selection.description}"
        if len(protected):
            reasons = ", ".join(f"{reason}: {n}" for reason, n in protected.items())
            summary += f"; left alone by the guardrails: {reasons}"
        return Preview(
            summary=summary,
            before=[
                {k: row[k] for k in ("pid", "user", "application", "state", "query")}
                for row in chosen.to_dict("records")
            ],
            rows=chosen[PREVIEW_COLUMNS],
            payload=[
                (row["pid"], row["backend_start"], row["since"])
                for row in chosen.to_dict("records")
            ],
        )

    def apply(self, preview: Preview) -> dict:
        previewed = preview.payload or []
        if not previewed:
            return {"terminated": [], "no_longer_matching": []}
        pids, starts, sinces = (list(column) for column in zip(*previewed, strict=True))
        query = sql.SQL(_TERMINATE).format(selected=self.selection.query())
        params = {**self.selection.query_params(), "pids": pids, "starts": starts, "sinces": sinces}
        signalled = {row["pid"]: row["signalled"] for row in self.pg.rows(query, params)}
        self._terminated = [(pid, start) for pid, start, _ in previewed if signalled.get(pid)]
        return {
            "terminated": [pid for pid, _ in self._terminated],
            # Finished, moved on or already gone between the preview and now.
            "no_longer_matching": [pid for pid in pids if not signalled.get(pid)],
        }

    def verify(self, preview: Preview, *, timeout: float) -> str:
        if not self._terminated:
            return "nothing was terminated: no previewed session still matched"
        pids = [pid for pid, _ in self._terminated]
        starts = [start for _, start in self._terminated]

        def gone() -> tuple[bool, str]:
            left = [row["pid"] for row in self.pg.rows(_STILL_THERE, (pids, starts))]
            return not left, f"backends {left} are still there"

        self.wait_for(gone, timeout=timeout)
        skipped = len(preview.payload) - len(pids)
        return f"terminated {len(pids)} backend(s), all gone: pids {pids}" + (
            f"; {skipped} previewed session(s) no longer matched and were left alone"
            if skipped
            else ""
        )

    def _equivalent_sql(self) -> str:
        superusers = "" if self.include_superusers else "\n  AND NOT r.rolsuper"
        where = self.selection.where.as_string()
        # Display only, never executed: the values are quoted the way psql would need them.
        literals = {k: sql.Literal(v).as_string() for k, v in self.selection.params.items()}
        return _EQUIVALENT.format(superusers=superusers, where=where % literals)


class TerminateLongQueries(TerminateSessions):
    """The runbook's "kill long-running queries": active for longer than `minutes`."""

    name = "terminate_long_queries"
    why = "their statements hold connections, locks and snapshots"

    def __init__(
        self,
        pg: Postgres,
        *,
        minutes: float = 5,
        application: str | None = None,
        include_superusers: bool = False,
    ):
        super().__init__(
            pg,
            long_running(minutes, application=application),
            include_superusers=include_superusers,
        )


class TerminateIdleConnections(TerminateSessions):
    """The runbook's "kill idle connections": idle for longer than `older_than_minutes`.

    Sessions idle in a transaction are only chosen with `in_transaction=True`: ending one
    rolls its transaction back.
    """

    name = "terminate_idle_connections"
    why = "they hold connection slots the services need"

    def __init__(
        self,
        pg: Postgres,
        *,
        older_than_minutes: float = 60,
        in_transaction: bool = False,
        include_superusers: bool = False,
    ):
        states = IDLE_IN_TRANSACTION_STATES if in_transaction else IDLE_STATES
        super().__init__(
            pg, idle(older_than_minutes, states=states), include_superusers=include_superusers
        )


class TerminateBlocker(TerminateSessions):
    """Terminate blocker `pid`, or the root blockers of the lock-wait tree when none is given.

    Its transaction rolls back and its locks are released: the sessions waiting behind it go on.
    """

    name = "terminate_blocker"
    why = "other sessions wait for the locks they hold"

    def __init__(self, pg: Postgres, pid: int | None = None, *, include_superusers: bool = False):
        super().__init__(pg, blockers(pid), include_superusers=include_superusers)
        self.pid = pid

    def guard(self, guardrails: Guardrails) -> None:
        """A chosen pid that is the caller's own session is refused outright, with the reason."""
        if (
            self.pid is not None
            and self.pg.rows("SELECT pg_backend_pid() AS pid")[0]["pid"] == self.pid
        ):
            raise GuardRefused(f"{self.name}: pid {self.pid} is this notebook's own session")


def _guardrail_words(include_superusers: bool) -> str:
    protected = "replication and other non-client backends, and sessions of other databases"
    if not include_superusers:
        protected = "superuser sessions, " + protected
    return f"Never this notebook's own session, {protected}."


# --- notebook-facing: each previews, and applies only when the run names it in `apply` -------


def terminate_long_queries(
    rb, *, minutes: float = 5, application: str | None = None, include_superusers: bool = False
) -> ActionReport:
    """Terminate queries active for longer than `minutes` (the runbook's 5)."""
    action = TerminateLongQueries(
        rb.postgres,
        minutes=minutes,
        application=application,
        include_superusers=include_superusers,
    )
    return perform(rb, action)


def terminate_idle_connections(
    rb,
    *,
    older_than_minutes: float = 60,
    in_transaction: bool = False,
    include_superusers: bool = False,
) -> ActionReport:
    """Terminate sessions idle for longer than `older_than_minutes` (the runbook's hour)."""
    action = TerminateIdleConnections(
        rb.postgres,
        older_than_minutes=older_than_minutes,
        in_transaction=in_transaction,
        include_superusers=include_superusers,
    )
    return perform(rb, action)


def terminate_blocker(
    rb, pid: int | None = None, *, include_superusers: bool = False
) -> ActionReport:
    """Terminate blocker `pid`, or every root blocker of the lock-wait tree."""
    return perform(rb, TerminateBlocker(rb.postgres, pid, include_superusers=include_superusers))
