"""HopNGo's small schema for the sandbox's PostgreSQL: tables, deterministic rows, roles, grants.

One index is left out on purpose: `orders.listing_id`, which market-service's checkout filters
on. The runbook's `pg_stats` hint (high n_distinct, no index) should point at it.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from hopngo_ops.sandbox.scenarios import DATABASE, DB_ROLES

# The login role of the runbook tool: reads every statistics view, may terminate service
# sessions, is no superuser.
TOOL_ROLE = "hopngo_ops"
TOOL_GRANTS = ("pg_monitor", "pg_signal_backend")

# Rows are functions of their id, so every sandbox holds the same data.
TABLES = (
    """
    CREATE TABLE users (
        id integer PRIMARY KEY,
        email text NOT NULL UNIQUE,
        full_name text NOT NULL,
        country text NOT NULL,
        created_at timestamptz NOT NULL
    )
    """,
    """
    INSERT INTO users
    SELECT i, format('user%s@example.com', i), format('Guest %s', i),
           (ARRAY['PT', 'ES', 'FR', 'DE', 'IT', 'NL'])[1 + i % 6],
           timestamptz '2024-01-01 00:00+00' + i * interval '37 minutes'
    FROM generate_series(1, 2000) AS i
    """,
    """
    CREATE TABLE listings (
        id integer PRIMARY KEY,
        host_id integer NOT NULL REFERENCES users,
        title text NOT NULL,
        city text NOT NULL,
        price_cents integer NOT NULL,
        created_at timestamptz NOT NULL
    )
    """,
    """
    INSERT INTO listings
    SELECT i, 1 + (i * 13) % 2000, format('Listing %s', i),
           (ARRAY['Lisbon', 'Porto', 'Madrid', 'Paris', 'Berlin', 'Rome', 'Amsterdam',
                  'Seville'])[1 + i % 8],
           4000 + (i * 7919) % 20000,
           timestamptz '2024-01-01 00:00+00' + i * interval '5 hours'
    FROM generate_series(1, 400) AS i
    """,
    """
    CREATE TABLE bookings (
        id integer PRIMARY KEY,
        user_id integer NOT NULL REFERENCES users,
        listing_id integer NOT NULL REFERENCES listings,
        check_in date NOT NULL,
        nights integer NOT NULL,
        status text NOT NULL,
        total_cents integer NOT NULL,
        created_at timestamptz NOT NULL
    )
    """,
    """
    INSERT INTO bookings
    SELECT i, 1 + (i * 7919) % 2000, 1 + (i * 104729) % 400,
           date '2024-06-01' + i % 180, 1 + i % 7,
           (ARRAY['confirmed', 'pending', 'cancelled', 'completed'])[1 + i % 4],
           (1 + i % 7) * (5000 + (i * 31) % 15000),
           timestamptz '2024-03-01 00:00+00' + i * interval '11 minutes'
    FROM generate_series(1, 6000) AS i
    """,
    """
    CREATE TABLE orders (
        id integer PRIMARY KEY,
        booking_id integer NOT NULL REFERENCES bookings,
        user_id integer NOT NULL REFERENCES users,
        listing_id integer NOT NULL REFERENCES listings,
        amount_cents integer NOT NULL,
        status text NOT NULL,
        created_at timestamptz NOT NULL
    )
    """,
    """
    INSERT INTO orders
    SELECT b.id, b.id, b.user_id, b.listing_id, b.total_cents,
           CASE WHEN b.status = 'cancelled' THEN 'refunded' ELSE 'paid' END,
           b.created_at + interval '2 minutes'
    FROM bookings AS b
    WHERE b.id <= 4000
    """,
    "CREATE INDEX bookings_user_id_idx ON bookings (user_id)",
    "CREATE INDEX bookings_listing_id_idx ON bookings (listing_id)",
    "CREATE INDEX listings_host_id_idx ON listings (host_id)",
    "CREATE INDEX listings_city_idx ON listings (city)",
    "CREATE INDEX orders_booking_id_idx ON orders (booking_id)",
    "CREATE INDEX orders_user_id_idx ON orders (user_id)",
)


def seed(superuser_conninfo: str, passwords: dict[str, str]) -> None:
    """Create the database, its schema and rows, then the roles (with `passwords`).

    `superuser_conninfo` reaches the `postgres` database as a superuser. The roles come last,
    in one transaction with their grants: a service that can log in finds everything in place.
    """
    with psycopg.connect(superuser_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(superuser_conninfo, dbname=DATABASE, autocommit=True) as db:
        # Seeding is no service's traffic: keep it out of the statements' ranking.
        db.execute("SET pg_stat_statements.track = 'none'")
        db.execute("CREATE EXTENSION pg_stat_statements")
        with db.transaction():
            for statement in TABLES:
                db.execute(statement)
        db.execute("ANALYZE")
        with db.transaction():
            _create_roles(db, passwords)
            _grant(db)


def _create_roles(admin: psycopg.Connection, passwords: dict[str, str]) -> None:
    for role in (*DB_ROLES, TOOL_ROLE):
        # Send a SCRAM verifier, never the password: statements can reach logs and
        # pg_stat_statements.
        verifier = admin.pgconn.encrypt_password(
            passwords[role].encode(), role.encode(), b"scram-sha-256"
        ).decode()
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(verifier)
            )
        )
    admin.execute(
        sql.SQL("GRANT {} TO {}").format(
            sql.SQL(", ").join(map(sql.Identifier, TOOL_GRANTS)), sql.Identifier(TOOL_ROLE)
        )
    )


def _grant(db: psycopg.Connection) -> None:
    services = sql.SQL(", ").join(map(sql.Identifier, DB_ROLES))
    db.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            services
        )
    )
    # pg_stats shows a column only to roles that may read its table.
    db.execute(
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(
            sql.Identifier(TOOL_ROLE)
        )
    )
