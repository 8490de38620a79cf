"""Connection usage read from the server itself: backends against max_connections."""

from __future__ import annotations

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


def connection_usage(pg: Postgres) -> dict:
    """connections, max_connections, reserved_for_superusers, client_backends, usage_percent."""
    usage = pg.rows(_USAGE)[0]
    return {
        **usage,
        "usage_percent": round(100 * usage["connections"] / usage["max_connections"], 1),
    }
