"""Database sizes (the runbook's pg_database_size_bytes, read from the server)."""

from __future__ import annotations

import pandas as pd

from hopngo_ops.postgres.connection import Postgres

# pg_database_size needs CONNECT on the database or pg_read_all_stats (part of pg_monitor).
_SIZES = """
SELECT datname AS database, pg_database_size(datname) AS bytes,
       pg_size_pretty(pg_database_size(datname)) AS size
FROM pg_database
WHERE datallowconn
ORDER BY bytes DESC, datname
"""


def database_sizes(pg: Postgres) -> pd.DataFrame:
    return pg.frame(_SIZES, columns=["database", "bytes", "size"])
