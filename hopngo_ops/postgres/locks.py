"""Lock waits as a tree: who waits (pg_blocking_pids), for which lock, behind whom.

The runbook joins pg_locks to itself by lock type only, which pairs every waiter with every
holder of any lock of that type. pg_blocking_pids asks the lock manager instead: exactly the
sessions in the way, including those ahead in the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from hopngo_ops.postgres.connection import Postgres

# Every session that waits or blocks, with the lock it waits for (if any).
_INVOLVED = """
WITH waiting AS (
    SELECT pid, pg_blocking_pids(pid) AS blocked_by
    FROM pg_stat_activity
    WHERE wait_event_type = 'Lock'
), involved AS (
    SELECT pid FROM waiting WHERE cardinality(blocked_by) > 0
    UNION
    SELECT unnest(blocked_by) FROM waiting
)
SELECT a.pid, coalesce(w.blocked_by, '{}') AS blocked_by, a.usename AS "user",
       a.application_name AS application, host(a.client_addr) AS client,
       a.datname AS database, a.state,
       date_trunc('second', now() - a.xact_start) AS transaction_age,
       date_trunc('second', now() - a.state_change) AS in_state_for,
       (SELECT l.mode || ' on ' || l.locktype
               || coalesce(' ' || l.relation::regclass::text, '')
        FROM pg_locks AS l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) AS waits_for,
       a.query
FROM involved AS i
JOIN pg_stat_activity AS a ON a.pid = i.pid
LEFT JOIN waiting AS w ON w.pid = a.pid
"""

TREE_COLUMNS = [
    "level",
    "pid",
    "role",
    "blocked_by",
    "user",
    "application",
    "client",
    "database",
    "state",
    "transaction_age",
    "in_state_for",
    "waits_for",
    "query",
]


@dataclass(frozen=True)
class LockTree:
    """The sessions in lock waits, depth first from each root blocker (`level` 0)."""

    table: pd.DataFrame

    @property
    def roots(self) -> list[int]:
        return self.table.loc[self.table["level"] == 0, "pid"].tolist()

    @property
    def waiting(self) -> list[int]:
        return (
            self.table.loc[self.table["blocked_by"].map(len) > 0, "pid"].drop_duplicates().tolist()
        )


def lock_tree(pg: Postgres) -> LockTree:
    sessions = {row["pid"]: row for row in pg.rows(_INVOLVED)}
    blocks: dict[int, list[int]] = {pid: [] for pid in sessions}
    for pid, row in sessions.items():
        for blocker in row["blocked_by"]:
            blocks.setdefault(blocker, []).append(pid)
    roots = sorted(pid for pid, row in sessions.items() if not row["blocked_by"])
    rows: list[dict] = []

    def visit(pid: int, level: int, path: frozenset[int]) -> None:
        if pid not in sessions or pid in path:
            # Gone since the read, or a cycle the deadlock detector is about to break.
            return
        row = sessions[pid]
        role = (
            "root blocker"
            if not row["blocked_by"]
            else "waiting and blocking"
            if blocks[pid]
            else "waiting"
        )
        rows.append({**row, "level": level, "role": role})
        for waiter in sorted(blocks[pid]):
            visit(waiter, level + 1, path | {pid})

    for root in roots:
        visit(root, 0, frozenset())
    return LockTree(pd.DataFrame(rows, columns=TREE_COLUMNS))
