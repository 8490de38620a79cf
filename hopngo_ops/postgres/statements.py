"""The slowest statements from pg_stat_statements, whichever the server's column names.

PostgreSQL 13 renamed `mean_time`/`total_time` (the runbook's) to `mean_exec_time`/
`total_exec_time`; the server's version decides which to read.
"""

from __future__ import annotations

import pandas as pd
from psycopg import sql

from hopngo_ops.errors import NotFound
from hopngo_ops.postgres.connection import Postgres

EXEC_TIME_COLUMNS_SINCE = 130000
ORDER_BY = ("mean", "total")

# This database's statements only (the others are not the incident's), and not the tool's own
# (reading the statistics views is not the services' traffic).
_STATEMENTS = """
SELECT s.queryid, r.rolname AS "user", d.datname AS database, s.calls,
       round(s.{mean}::numeric, 2)::float AS mean_ms,
       round(s.{total}::numeric, 2)::float AS total_ms,
       s.rows, s.query
FROM pg_stat_statements AS s
LEFT JOIN pg_roles AS r ON r.oid = s.userid
LEFT JOIN pg_database AS d ON d.oid = s.dbid
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.userid <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
ORDER BY s.{order} DESC
LIMIT %s
"""

COLUMNS = ["queryid", "user", "database", "calls", "mean_ms", "total_ms", "rows", "query"]


def time_columns(server_version: int) -> tuple[str, str]:
    """(mean, total) execution time columns of pg_stat_statements on that server version."""
    if server_version >= EXEC_TIME_COLUMNS_SINCE:
        return "mean_exec_time", "total_exec_time"
    return "mean_time", "total_time"


def slowest_statements(pg: Postgres, *, limit: int = 10, order_by: str = "mean") -> pd.DataFrame:
    """The `limit` statements with the highest mean (or total) execution time, in ms."""
    if order_by not in ORDER_BY:
        raise ValueError(f"order_by must be one of {ORDER_BY}, got {order_by!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    _require_extension(pg)
    mean, total = time_columns(pg.server_version)
    query = sql.SQL(_STATEMENTS).format(
        mean=sql.Identifier(mean),
        total=sql.Identifier(total),
        order=sql.Identifier(mean if order_by == "mean" else total),
    )
    return pg.frame(query, (limit,), columns=COLUMNS)


def _require_extension(pg: Postgres) -> None:
    found = pg.rows("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if not found:
        raise NotFound(
            "pg_stat_statements is not installed in this database: add it to "
            "shared_preload_libraries and run CREATE EXTENSION pg_stat_statements"
        )
