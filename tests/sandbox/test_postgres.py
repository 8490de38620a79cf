"""The sandbox's PostgreSQL, seen through psycopg as the runbook tool and the services see it."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from hopngo_ops.errors import MissingBinary, SandboxError
from hopngo_ops.sandbox import postgres
from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.procs import pid_alive, port_open, stop_pid
from hopngo_ops.sandbox.scenarios import DB_ROLES, MAX_CONNECTIONS, get_scenario

SERVICES = [role.replace("_", "-") for role in DB_ROLES]


@pytest.fixture(scope="module")
def state_root():
    """Where this module's clusters live: a folder the `postgres` OS user can search (pytest's
    own tmp root is 0700 to everyone but root)."""
    root = Path(tempfile.mkdtemp(prefix="hopngo-pg-test-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root)


def _context(root: Path, scenario: str) -> SandboxContext:
    state_dir = Path(tempfile.mkdtemp(prefix=f"{scenario}-", dir=root))
    state_dir.chmod(0o711)
    return SandboxContext(
        state_dir=state_dir,
        scenario=get_scenario(scenario),
        started_at=time.time(),
    )


def _stop(ctx: SandboxContext) -> None:
    for proc in reversed(ctx.procs):
        stop_pid(proc.pid, proc.stop_signal)


@pytest.fixture(scope="module")
def started(state_root: Path):
    """started(scenario) -> (ctx, fields): one cluster per scenario for the whole module."""
    clusters: dict[str, tuple[SandboxContext, dict]] = {}
    contexts: list[SandboxContext] = []

    def start(scenario: str) -> tuple[SandboxContext, dict]:
        if scenario not in clusters:
            ctx = _context(state_root, scenario)
            contexts.append(ctx)
            clusters[scenario] = (ctx, postgres.start(ctx))
        return clusters[scenario]

    yield start
    for ctx in reversed(contexts):
        _stop(ctx)
    for ctx, fields in clusters.values():
        assert not any(pid_alive(p.pid) for p in ctx.procs)
        assert not port_open(_port(fields))
        assert not list((ctx.state_dir / "postgres" / "run").glob(".s.PGSQL.*"))


def _port(fields: dict) -> int:
    return int(psycopg.conninfo.conninfo_to_dict(fields["postgres_dsn"])["port"])


def _tool(fields: dict) -> psycopg.Connection:
    """Connected as the runbook tool would be: the DSN plus its password file."""
    return psycopg.connect(
        fields["postgres_dsn"], passfile=fields["postgres_passfile"], autocommit=True
    )


def _sessions(conn: psycopg.Connection) -> list[dict]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(
        """
        SELECT pid, usename, application_name, state, wait_event_type, wait_event,
               pg_blocking_pids(pid) AS blocked_by, query
        FROM pg_stat_activity
        WHERE datname = 'hopngo' AND pid <> pg_backend_pid()
        ORDER BY pid
        """
    ).fetchall()


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return result


def test_returns_dsns_without_passwords(started):
    ctx, fields = started("database_issues")
    assert set(fields) == {"postgres_dsn", "postgres_passfile", "postgres_superuser_dsn"}
    dsn = psycopg.conninfo.conninfo_to_dict(fields["postgres_dsn"])
    assert dsn == {**dsn, "host": "127.0.0.1", "dbname": "hopngo", "user": "hopngo_ops"}
    assert "password" not in dsn
    passfile = Path(fields["postgres_passfile"])
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
    password = passfile.read_text().strip().rsplit(":", 1)[1]
    written = [p for p in ctx.state_dir.rglob("*") if p.is_file() and "secrets" not in p.parts]
    assert not [p for p in written if password.encode() in p.read_bytes()]


def test_tcp_needs_a_password_and_nothing_is_trusted(started):
    _, fields = started("database_issues")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(fields["postgres_dsn"], passfile="/dev/null")
    with psycopg.connect(fields["postgres_superuser_dsn"]) as superuser:
        methods = {row[0] for row in superuser.execute("SELECT auth_method FROM pg_hba_file_rules")}
        assert methods == {"peer", "scram-sha-256"}
        settings = dict(
            superuser.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (["max_connections", "shared_preload_libraries", "fsync"],),
            ).fetchall()
        )
    assert settings == {
        "max_connections": str(MAX_CONNECTIONS),
        "shared_preload_libraries": "pg_stat_statements",
        "fsync": "off",
    }


def test_lock_wait_is_seen_with_its_blocker(started):
    _, fields = started("database_issues")
    with _tool(fields) as conn:
        sessions = {s["pid"]: s for s in _sessions(conn)}
    waiters = [s for s in sessions.values() if s["wait_event_type"] == "Lock"]
    assert len(waiters) == 1
    (waiter,) = waiters
    assert waiter["state"] == "active" and waiter["query"].startswith("UPDATE bookings")
    (blocker_pid,) = waiter["blocked_by"]
    blocker = sessions[blocker_pid]
    assert blocker["state"] == "idle in transaction"
    assert blocker["application_name"] == "booking-service"
    assert blocker["query"].startswith("UPDATE bookings")


def test_long_running_query_is_active(started):
    _, fields = started("database_issues")
    with _tool(fields) as conn:
        sleeping = [s for s in _sessions(conn) if s["wait_event"] == "PgSleep"]
    assert len(sleeping) == 1
    assert sleeping[0]["state"] == "active"
    assert sleeping[0]["application_name"] == "booking-service"
    assert "pg_sleep(3600)" in sleeping[0]["query"]


def test_idle_sessions_near_saturation(started):
    ctx, fields = started("database_issues")
    with _tool(fields) as conn:
        sessions = _sessions(conn)
    idle = [s for s in sessions if s["query"].startswith("SELECT id, status FROM bookings")]
    assert len(idle) == ctx.scenario.pg_idle_sessions
    assert {s["application_name"] for s in idle} == set(SERVICES)
    in_transaction = [s for s in idle if s["state"] == "idle in transaction"]
    assert len(in_transaction) == ctx.scenario.pg_idle_sessions // 5
    assert len(sessions) >= MAX_CONNECTIONS * 0.6


def test_statements_are_recorded(started):
    _, fields = started("database_issues")
    with _tool(fields) as conn:
        ranked = conn.execute(
            "SELECT query, calls FROM pg_stat_statements ORDER BY mean_exec_time DESC"
        ).fetchall()
    assert any("FROM bookings WHERE user_id" in query for query, _ in ranked)
    assert not any("PASSWORD" in query.upper() for query, _ in ranked)


def test_tool_role_may_terminate_service_sessions_but_is_no_superuser(started):
    _, fields = started("database_issues")
    with _tool(fields) as conn:
        is_superuser, members_of = conn.execute(
            """
            SELECT rolsuper, ARRAY(SELECT b.rolname FROM pg_auth_members AS m
                                   JOIN pg_roles AS b ON b.oid = m.roleid
                                   WHERE m.member = r.oid ORDER BY 1)
            FROM pg_roles AS r WHERE rolname = current_user
            """
        ).fetchone()
        assert not is_superuser
        assert members_of == ["pg_monitor", "pg_signal_backend"]
        victim = next(s for s in _sessions(conn) if s["state"] == "idle")
        assert conn.execute("SELECT pg_terminate_backend(%s)", (victim["pid"],)).fetchone()[0]
        superuser_pid = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"
        ).fetchone()
        assert superuser_pid is not None


def test_terminating_blocker_and_long_query_leaves_the_driver_running(started):
    ctx, fields = started("database_issues")
    driver = next(p for p in ctx.procs if p.name == "postgres-sessions")
    with _tool(fields) as conn:
        sessions = _sessions(conn)
        waiter = next(s for s in sessions if s["wait_event_type"] == "Lock")
        long_query = next(s for s in sessions if s["wait_event"] == "PgSleep")
        for pid in (*waiter["blocked_by"], long_query["pid"]):
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))

        def unblocked() -> bool:
            now = {s["pid"]: s for s in _sessions(conn)}
            return now[waiter["pid"]]["state"] == "idle" and long_query["pid"] not in now

        _wait_for(unblocked)
        time.sleep(0.5)
        assert pid_alive(driver.pid)
        remaining = _sessions(conn)
    assert not [s for s in remaining if s["wait_event_type"] == "Lock"]
    assert len(remaining) >= ctx.scenario.pg_idle_sessions - 1


def test_slow_statement_ranks_first(started):
    ctx, fields = started("high_latency")
    assert not [p for p in ctx.procs if p.name == "postgres-sessions"]
    with _tool(fields) as conn:
        query, calls, mean_ms = conn.execute(
            "SELECT query, calls, mean_exec_time FROM pg_stat_statements"
            " ORDER BY mean_exec_time DESC LIMIT 1"
        ).fetchone()
    assert "FROM orders" in query and "listing_id" in query
    assert calls == 3 and mean_ms >= 300


def test_missing_index_hint(started):
    _, fields = started("high_latency")
    with _tool(fields) as conn:
        indexed = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'orders'"
        ).fetchall()
        stats = conn.execute(
            "SELECT n_distinct FROM pg_stats WHERE tablename = 'orders' AND attname = 'listing_id'"
        ).fetchall()
    assert not [d for (d,) in indexed if "(listing_id)" in d]
    assert stats and stats[0][0] > 100


def test_healthy_has_statements_and_no_held_sessions(started):
    ctx, fields = started("healthy")
    assert [p.name for p in ctx.procs] == ["postgres"]
    with _tool(fields) as conn:
        assert _sessions(conn) == []
        (recorded,) = conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()
    assert recorded > 0


def test_missing_binary_names_the_package(state_root, monkeypatch, tmp_path):
    monkeypatch.setattr(postgres, "BIN_DIRS", (str(tmp_path),))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingBinary) as err:
        postgres.start(_context(state_root, "healthy"))
    assert err.value.package == "postgresql-15"


def test_state_dir_out_of_the_servers_reach_is_refused(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("only root runs the server as another user")
    with pytest.raises(SandboxError, match="cannot reach"):
        postgres.start(_context(tmp_path_factory.mktemp("private"), "healthy"))


def test_server_that_fails_to_start_names_its_log(state_root, monkeypatch):
    monkeypatch.setattr(postgres, "PRELOAD", "no_such_library")
    ctx = _context(state_root, "healthy")
    try:
        with pytest.raises(SandboxError) as err:
            postgres.start(ctx)
    finally:
        _stop(ctx)
    assert err.value.component == "postgres"
    assert "no_such_library" in Path(err.value.log).read_text()
