"""Connection usage read from the server itself: backends against max_connections."""

from __future__ import annotations

import pandas as pd

from hopngo_ops.postgres.connection import Postgres

# numbackends counts client sessions per database; the settings bound them server-wide.
# superuser_reserved_connections are out of the services' reach: they see "too many clients"
# at max_connections minus those.
_USAGE = """
SELECT sum(d.numbackends)::int AS connections,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved_for_superusers,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int
           AS client_backends
FROM pg_stat_database AS d
"""

_BY_DATABASE = """
SELECT datname AS database, numbackends AS connections
FROM pg_stat_database
WHERE datname IS NOT NULL
ORDER BY numbackends DESC, datname
"""


def connection_usage(pg: Postgres) -> dict:
    """connections, max_connections, reserved_for_superusers, client_backends, usage_percent."""
    usage = pg.rows(_USAGE)[0]
    return {
        **usage,
        "usage_percent": round(100 * usage["connections"] / usage["max_connections"], 1),
    }


def connections_by_database(pg: Postgres) -> pd.DataFrame:
    return pg.frame(_BY_DATABASE, columns=["database", "connections"])
