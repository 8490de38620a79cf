"""Client sessions counted by state, application, user and client address."""

from __future__ import annotations

import pandas as pd

from hopngo_ops.postgres.connection import Postgres

# Background workers and replication have no application: only client backends count here.
_COUNTS = """
SELECT coalesce(state, 'unknown') AS state, application_name AS application,
       usename AS "user", coalesce(host(client_addr), 'local') AS client,
       datname AS database, count(*)::int AS sessions,
       date_trunc('second', max(now() - state_change)) AS longest_in_state
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
GROUP BY 1, 2, 3, 4, 5
ORDER BY sessions DESC, state, application
"""

COLUMNS = ["state", "application", "user", "client", "database", "sessions", "longest_in_state"]


def session_counts(pg: Postgres) -> pd.DataFrame:
    """One row per (state, application, user, client, database) with its session count."""
    return pg.frame(_COUNTS, columns=COLUMNS)
