"""Holds the scenario's PostgreSQL sessions open until SIGTERM: the sandbox's busy services.

Run by the sandbox as `python -m hopngo_ops.sandbox.pg_sessions`. It opens, as the services'
roles: idle sessions (every fifth one idle in transaction), a long-running query, and a lock
wait (a blocker idle in transaction holding a bookings row, a waiter updating the same row).
Sessions that the server ends (pg_terminate_backend, as the runbook's remediations do) are
logged and left ended: nothing reconnects, the others stay.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from dataclasses import dataclass

import psycopg

from hopngo_ops.sandbox.pg_traffic import service_of
from hopngo_ops.sandbox.scenarios import DATABASE, DB_ROLES, Scenario, get_scenario

log = logging.getLogger("pg_sessions")

LOCKED_BOOKING = 42
BLOCKER_ROLE = "booking_service"
WAITER_ROLE = "consumer_service"
LONG_QUERY_ROLE = "booking_service"
# An occupancy report stuck for an hour; the materialized CTE makes pg_sleep run exactly once.
LONG_QUERY = (
    "WITH stalled AS MATERIALIZED (SELECT pg_sleep(3600))"
    " SELECT b.listing_id, count(*) AS bookings FROM bookings AS b, stalled"
    " GROUP BY b.listing_id"
)
IDLE_IN_TRANSACTION_EVERY = 5
SERVER_TIMEOUT = 60


@dataclass(frozen=True)
class SessionPlan:
    """The sessions a scenario holds, as counted in pg_stat_activity."""

    idle: int
    long_query: bool
    lock_wait: bool

    @classmethod
    def of(cls, scenario: Scenario) -> SessionPlan:
        return cls(scenario.pg_idle_sessions, scenario.pg_long_query, scenario.pg_lock_wait)

    @property
    def sessions(self) -> int:
        return self.idle + int(self.long_query) + 2 * int(self.lock_wait)

    @property
    def empty(self) -> bool:
        return self.sessions == 0


class HeldSessions:
    """Connections kept open, and the statements left running in background threads."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self.connections: list[psycopg.Connection] = []
        self.running: list[tuple[psycopg.Connection, threading.Thread]] = []

    def open(self, plan: SessionPlan) -> None:
        if plan.lock_wait:
            blocker = self._connect(BLOCKER_ROLE, autocommit=False)
            blocker.execute(
                "UPDATE bookings SET status = 'confirmed' WHERE id = %s", (LOCKED_BOOKING,)
            )
            waiter = self._connect(WAITER_ROLE)
            self._run_in_background(
                waiter,
                "lock waiter",
                "UPDATE bookings SET status = 'cancelled' WHERE id = %s",
                (LOCKED_BOOKING,),
            )
        if plan.long_query:
            self._run_in_background(self._connect(LONG_QUERY_ROLE), "long query", LONG_QUERY)
        for n in range(plan.idle):
            in_transaction = n % IDLE_IN_TRANSACTION_EVERY == IDLE_IN_TRANSACTION_EVERY - 1
            conn = self._connect(DB_ROLES[n % len(DB_ROLES)], autocommit=not in_transaction)
            conn.execute("SELECT id, status FROM bookings WHERE id = %s", (n + 1,))

    def close(self) -> None:
        for conn, thread in self.running:
            if thread.is_alive():
                try:
                    conn.cancel()
                except psycopg.Error as err:
                    log.warning("could not cancel %s: %s", thread.name, err)
        for _, thread in self.running:
            thread.join(timeout=5)
        for conn in self.connections:
            conn.close()

    def _connect(self, role: str, *, autocommit: bool = True) -> psycopg.Connection:
        conn = psycopg.connect(
            self.conninfo, user=role, application_name=service_of(role), autocommit=autocommit
        )
        self.connections.append(conn)
        return conn

    def _run_in_background(
        self, conn: psycopg.Connection, name: str, query: str, params: tuple = ()
    ) -> None:
        thread = threading.Thread(
            target=_run_until_ended, args=(conn, name, query, params), name=name, daemon=True
        )
        thread.start()
        self.running.append((conn, thread))


def _run_until_ended(conn: psycopg.Connection, name: str, query: str, params: tuple) -> None:
    try:
        conn.execute(query, params)
    except psycopg.errors.QueryCanceled:
        log.info("%s: cancelled", name)
    except psycopg.OperationalError as err:
        # pg_terminate_backend ends it with AdminShutdown: expected, not to be retried.
        log.info("%s: ended by the server (%s), not reconnecting", name, type(err).__name__)
    else:
        log.info("%s: finished", name)


def _wait_for_roles(conninfo: str) -> None:
    """The sandbox starts us before its cluster is seeded, so that our start-up overlaps
    initdb: wait until a service role can log in (the roles are created last, all at once)."""
    deadline = time.monotonic() + SERVER_TIMEOUT
    while True:
        try:
            psycopg.connect(conninfo, user=DB_ROLES[0], connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--passfile", required=True, help="a .pgpass with the services' roles")
    parser.add_argument("--scenario", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Only the main thread takes the stop signals: it waits for them below.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    conninfo = psycopg.conninfo.make_conninfo(
        host=args.host, port=args.port, dbname=DATABASE, passfile=args.passfile
    )
    _wait_for_roles(conninfo)
    sessions = HeldSessions(conninfo)
    try:
        sessions.open(SessionPlan.of(get_scenario(args.scenario)))
        log.info("holding %d sessions", len(sessions.connections))
        received = signal.sigwait(stop_signals)
        log.info("stopping on %s", signal.Signals(received).name)
    finally:
        sessions.close()


if __name__ == "__main__":
    main()
