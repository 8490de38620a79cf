"""PostgreSQL reads for the database runbook: activity, locks, statements, usage, sizes.

Reads never change anything; the terminations are actions (hopngo_ops.actions.postgres).
SQL is built with psycopg.sql and `%s` placeholders only.
"""

from hopngo_ops.postgres.activity import session_counts
from hopngo_ops.postgres.connection import APPLICATION_NAME, Postgres
from hopngo_ops.postgres.errors import QueryFailed
from hopngo_ops.postgres.index_hints import index_hints
from hopngo_ops.postgres.locks import LockTree, lock_tree
from hopngo_ops.postgres.sessions import Selection, blockers, idle, long_running, select
from hopngo_ops.postgres.sizes import database_sizes
from hopngo_ops.postgres.statements import slowest_statements, time_columns
from hopngo_ops.postgres.usage import connection_usage

__all__ = [
    "APPLICATION_NAME",
    "LockTree",
    "Postgres",
    "QueryFailed",
    "Selection",
    "blockers",
    "connection_usage",
    "database_sizes",
    "idle",
    "index_hints",
    "lock_tree",
    "long_running",
    "select",
    "session_counts",
    "slowest_statements",
    "time_columns",
]
