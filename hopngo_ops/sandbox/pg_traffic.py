"""The statements the services ran before the sandbox came up: what pg_stat_statements ranks.

Every scenario gets the ordinary reads; `pg_slow_statement` adds market-service's checkout
query, made slow so it ranks first by mean time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg

from hopngo_ops.sandbox.scenarios import Scenario

# role -> the statements (with parameters) its service runs routinely.
ORDINARY = {
    "booking_service": (
        (
            "SELECT id, listing_id, check_in, nights, status FROM bookings"
            " WHERE user_id = %s ORDER BY check_in DESC LIMIT 20",
            [(user,) for user in range(1, 6)],
        ),
        (
            "SELECT id, title, price_cents FROM listings WHERE city = %s"
            " ORDER BY price_cents LIMIT 20",
            [("Lisbon",), ("Porto",), ("Paris",)],
        ),
    ),
    "market_service": (
        ("SELECT id, title, price_cents FROM listings WHERE id = %s", [(1,), (2,), (3,)]),
        ("SELECT count(*) FROM orders WHERE user_id = %s", [(10,), (11,)]),
    ),
    "auth_service": (
        ("SELECT id, full_name FROM users WHERE email = %s", [("user7@example.com",)] * 4),
    ),
    "consumer_service": (
        ("SELECT id, status FROM bookings WHERE id = %s", [(100,), (101,), (102,)]),
    ),
}

# The checkout's order lookup filters on orders.listing_id, which has no index. On the real
# platform that scan is what takes seconds; here the sleep stands in for it, so the ranking is
# the same on any machine.
SLOW_STATEMENT = (
    "WITH slow_scan AS MATERIALIZED (SELECT pg_sleep(%s))"
    " SELECT o.id, o.amount_cents FROM orders AS o, slow_scan"
    " WHERE o.listing_id = %s AND o.status = 'paid'"
)
SLOW_ROLE = "market_service"
SLOW_SECONDS = 0.4
SLOW_CALLS = 3


def service_of(role: str) -> str:
    """The application_name a role's service connects with: booking_service -> booking-service."""
    return role.replace("_", "-")


def run(conninfo: str, scenario: Scenario) -> None:
    """Run every service's ordinary statements, and the scenario's slow one (calls in parallel)."""
    for role, statements in ORDINARY.items():
        with _connect(conninfo, role) as conn, conn.cursor() as cur:
            for query, params in statements:
                cur.executemany(query, params)
    if scenario.pg_slow_statement:
        with ThreadPoolExecutor(SLOW_CALLS) as pool:
            for done in [pool.submit(_run_slow, conninfo, n) for n in range(SLOW_CALLS)]:
                done.result()


def _run_slow(conninfo: str, call: int) -> None:
    with _connect(conninfo, SLOW_ROLE) as conn:
        conn.execute(SLOW_STATEMENT, (SLOW_SECONDS, 7 + call))


def _connect(conninfo: str, role: str) -> psycopg.Connection:
    return psycopg.connect(conninfo, user=role, application_name=service_of(role), autocommit=True)
