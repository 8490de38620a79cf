"""The database runbook against the sandbox's real PostgreSQL: reads, previews, terminations.

Tests of `database_issues` share one sandbox: the reads and previews come first, the
terminations last (each ends sessions the scenario does not bring back), in the order
blocker, long query, idle sessions.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import psycopg
import pytest

from hopngo_ops import Runbook
from hopngo_ops.actions.perform import perform
from hopngo_ops.actions.postgres import (
    TerminateBlocker,
    TerminateIdleConnections,
    TerminateLongQueries,
)
from hopngo_ops.checks import database
from hopngo_ops.config import Targets
from hopngo_ops.postgres import APPLICATION_NAME, lock_tree, time_columns
from hopngo_ops.prometheus import Prometheus
from hopngo_ops.record.timeline import read_events
from hopngo_ops.runner import run_notebook
from hopngo_ops.sandbox.pg_sessions import BLOCKER_ROLE, LONG_QUERY, WAITER_ROLE
from hopngo_ops.sandbox.pg_traffic import service_of

GRANTS = Path(__file__).resolve().parents[1] / "deploy" / "rbac" / "postgres-grants.sql"
INCIDENT = "INC-2026-0101-001"


@pytest.fixture
def rb(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("HOPNGO_INCIDENTS_DIR", str(tmp_path))
    monkeypatch.setenv("HOPNGO_HEADLESS", "1")
    runbook = Runbook.open("database_issues", profile="sandbox", incident_id=INCIDENT)
    yield runbook
    runbook.postgres.close()


@pytest.fixture
def superuser(sandbox):
    with psycopg.connect(sandbox["postgres_superuser_dsn"], autocommit=True) as conn:
        yield conn


def client_sessions(superuser) -> set[tuple[int, object]]:
    """Every other client session, identified by (pid, backend_start)."""
    return set(
        superuser.execute(
            "SELECT pid, backend_start FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            " AND application_name <> %s",
            (APPLICATION_NAME,),
        ).fetchall()
    )


def own_pid(rb) -> int:
    return rb.postgres.rows("SELECT pg_backend_pid() AS pid")[0]["pid"]


def timeline(rb) -> list[dict]:
    return read_events(rb.incident_folder())


def test_statement_time_columns_follow_the_server_version():
    assert time_columns(150004) == ("mean_exec_time", "total_exec_time")
    assert time_columns(130000) == ("mean_exec_time", "total_exec_time")
    assert time_columns(120015) == ("mean_time", "total_time")


@pytest.mark.parametrize("minutes", [-1, True, "5"])
def test_nonsense_thresholds_are_refused_before_any_sql(minutes):
    with pytest.raises(ValueError):
        TerminateLongQueries(pg=None, minutes=minutes)


def test_unreachable_postgres_degrades_the_step_and_names_the_target():
    # Port 1 on the loopback: refused at once, nothing listens there.
    dsn = "host=127.0.0.1 port=1 dbname=hopngo user=hopngo_ops"
    rb = Runbook(notebook="database_issues", targets=Targets(profile="offline", postgres_dsn=dsn))
    step = database.lock_waits(rb)
    assert step.error and "postgresql" in step.error and dsn in step.error
    assert rb.status == "degraded"


# --- healthy ---------------------------------------------------------------------------------


def test_healthy_notebook_finds_nothing_critical(sandbox, tmp_path):
    result = run_notebook("database_issues", {}, output_root=tmp_path)
    assert result.ok, result.error
    record = nbformat.read(result.path, as_version=4).metadata["hopngo"]
    severities = {f["check"]: f["severity"] for f in record["findings"]}
    assert "critical" not in severities.values(), record["findings"]
    assert severities["lock_waits"] == "info"


# --- database_issues: reads and previews -----------------------------------------------------


@pytest.mark.scenario("database_issues")
def test_grants_file_applies_and_grants_what_the_actions_need(superuser):
    superuser.execute(GRANTS.read_text())
    granted = superuser.execute(
        "SELECT pg_has_role('hopngo_ops', 'pg_monitor', 'USAGE'),"
        " pg_has_role('hopngo_ops', 'pg_signal_backend', 'USAGE'),"
        " (SELECT rolsuper FROM pg_roles WHERE rolname = 'hopngo_ops')"
    ).fetchone()
    assert granted == (True, True, False)
    superuser.execute(GRANTS.read_text())  # a second run changes nothing and does not fail


@pytest.mark.scenario("database_issues")
def test_lock_wait_is_found_with_its_blocker(rb):
    step = database.lock_waits(rb)
    (finding,) = step.findings
    assert finding.severity == "critical"
    table = step.table.set_index("pid")
    (root,) = finding.evidence["root_blockers"]
    (waiter,) = finding.evidence["waiting"]
    assert table.loc[root, "application"] == service_of(BLOCKER_ROLE)
    assert table.loc[root, "state"] == "idle in transaction"
    assert table.loc[waiter, "application"] == service_of(WAITER_ROLE)
    assert table.loc[waiter, "blocked_by"] == [root]
    assert table.loc[waiter, "query"].startswith("UPDATE bookings")


@pytest.mark.scenario("database_issues")
def test_long_running_query_is_found(rb):
    step = database.long_running_queries(rb, minutes=0, application=service_of(BLOCKER_ROLE))
    assert step.findings[0].severity == "warning"
    assert step.table["query"].str.startswith(LONG_QUERY[:40]).any()


@pytest.mark.scenario("database_issues")
def test_idle_sessions_are_found(rb):
    step = database.idle_sessions(rb)
    counts = step.table["state"].value_counts()
    # 30 idle sessions, every fifth in a transaction, and the lock's blocker.
    assert counts["idle"] == 24
    assert counts["idle in transaction"] == 7
    assert any(f.severity == "warning" for f in step.findings)


@pytest.mark.scenario("database_issues")
def test_connection_usage_reads_both_sources(rb):
    step = database.connection_usage(rb)
    assert set(step.table["source"]) == {"pg_stat_database (now)", "Prometheus"}
    direct = step.table.set_index("source").loc["pg_stat_database (now)"]
    assert direct["max_connections"] == 50
    assert direct["connections"] >= 34


@pytest.mark.scenario("database_issues")
def test_connection_usage_without_prometheus_still_reads_the_server(rb):
    rb.__dict__["prometheus"] = Prometheus("http://127.0.0.1:1", timeout=2)
    step = database.connection_usage(rb)
    assert step.error is None
    assert step.table["source"].tolist() == ["pg_stat_database (now)"]
    assert "Prometheus not read" in step.note


@pytest.mark.scenario("database_issues")
def test_index_hint_points_at_the_missing_index(rb):
    step = database.index_hints(rb)
    hinted = step.table[step.table["hint"] != ""]
    assert list(zip(hinted["table"], hinted["column"], strict=True)) == [("orders", "listing_id")]


@pytest.mark.scenario("database_issues")
def test_previews_change_nothing_and_never_list_the_callers_session(rb, superuser):
    before = client_sessions(superuser)
    actions = [
        TerminateLongQueries(rb.postgres, minutes=0),
        TerminateIdleConnections(rb.postgres, older_than_minutes=0),
        TerminateIdleConnections(rb.postgres, older_than_minutes=0, in_transaction=True),
        TerminateBlocker(rb.postgres),
    ]
    reports = [perform(rb, action) for action in actions]
    assert [r.result for r in reports] == ["previewed"] * 4
    assert all(len(r.preview.rows) for r in reports)
    assert not any(own_pid(rb) in r.preview.rows["pid"].tolist() for r in reports)
    assert client_sessions(superuser) == before
    assert [e["result"] for e in timeline(rb)] == ["previewed"] * 4


@pytest.mark.scenario("database_issues")
def test_superuser_sessions_are_left_alone_unless_asked(rb, superuser):
    superuser_pid = superuser.execute("SELECT pg_backend_pid()").fetchone()[0]
    # Idle as the previews look at it: the superuser session's last statement has finished.
    default = TerminateIdleConnections(rb.postgres, older_than_minutes=0).preview()
    assert superuser_pid not in default.rows["pid"].tolist()
    assert "superuser: 1" in default.summary
    asked = TerminateIdleConnections(
        rb.postgres, older_than_minutes=0, include_superusers=True
    ).preview()
    assert superuser_pid in asked.rows["pid"].tolist()


@pytest.mark.mutates
@pytest.mark.scenario("database_issues")
def test_a_session_that_moved_on_since_the_preview_is_not_terminated(rb, sandbox):
    conninfo = f"{sandbox['postgres_dsn']} passfile={sandbox['postgres_passfile']}"
    with psycopg.connect(conninfo, autocommit=True, application_name="moves-on") as other:
        other.execute("SELECT 1")
        action = TerminateIdleConnections(rb.postgres, older_than_minutes=0)
        preview = action.preview()
        pid = other.info.backend_pid
        assert pid in preview.rows["pid"].tolist()
        other.execute("SELECT 2")  # a new state change: no longer the session previewed
        # Apply only to the one session this test owns: the scenario's stay for later tests.
        preview.payload = [p for p in preview.payload if p[0] == pid]
        after = action.apply(preview)
        assert after == {"terminated": [], "no_longer_matching": [pid]}
        assert other.execute("SELECT 3").fetchone() == (3,)


@pytest.mark.scenario("database_issues")
def test_headless_run_without_apply_terminates_nothing_and_records_the_lock_wait(
    sandbox, superuser, tmp_path
):
    before = client_sessions(superuser)
    result = run_notebook("database_issues", {}, output_root=tmp_path)
    assert result.ok, result.error
    record = nbformat.read(result.path, as_version=4).metadata["hopngo"]
    lock_findings = [f for f in record["findings"] if f["check"] == "lock_waits"]
    assert [f["severity"] for f in lock_findings] == ["critical"]
    assert {a["result"] for a in record["actions"]} == {"previewed"}
    assert client_sessions(superuser) == before


# --- database_issues: terminations (they change the scenario: keep them last) --------------


@pytest.mark.mutates
@pytest.mark.scenario("database_issues")
def test_terminating_the_blocker_unblocks_the_waiter(rb, superuser):
    tree = lock_tree(rb.postgres)
    (blocker,), (waiter,) = tree.roots, tree.waiting
    rb.apply = ("terminate_blocker",)
    report = perform(rb, TerminateBlocker(rb.postgres, blocker))
    assert report.result == "applied", report.message
    assert report.preview.rows["pid"].tolist() == [blocker]
    # Its UPDATE goes through once the blocker's backend is gone: it no longer waits for a lock.
    deadline = time.monotonic() + 10
    while True:
        waiter_now = superuser.execute(
            "SELECT state, wait_event_type FROM pg_stat_activity WHERE pid = %s", (waiter,)
        ).fetchone()
        if waiter_now is None or waiter_now[1] != "Lock" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert waiter_now is not None and waiter_now[1] != "Lock"
    assert lock_tree(rb.postgres).waiting == []
    (event,) = timeline(rb)
    assert (event["action"], event["result"]) == ("terminate_blocker", "applied")
    assert event["after"]["terminated"] == [blocker]


@pytest.mark.mutates
@pytest.mark.scenario("database_issues")
def test_terminating_long_queries_ends_the_long_query(rb, superuser):
    rb.apply = ("terminate_long_queries",)
    action = TerminateLongQueries(rb.postgres, minutes=0, application=service_of(BLOCKER_ROLE))
    report = perform(rb, action)
    assert report.result == "applied", report.message
    (pid,) = report.preview.rows["pid"].tolist()
    gone = superuser.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
    assert gone.fetchone() == (0,)
    (event,) = timeline(rb)
    assert event["before"][0]["query"].startswith(LONG_QUERY[:40])


@pytest.mark.mutates
@pytest.mark.scenario("database_issues")
def test_terminating_idle_connections_ends_exactly_the_previewed(rb, superuser):
    rb.apply = ("terminate_idle_connections",)
    count_in_transaction = (
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
    )
    in_transaction_before = superuser.execute(count_in_transaction).fetchone()[0]
    report = perform(rb, TerminateIdleConnections(rb.postgres, older_than_minutes=0))
    assert report.result == "applied", report.message
    previewed = set(report.preview.rows["pid"])
    left = {pid for pid, _ in client_sessions(superuser)}
    assert previewed and not previewed & left
    # Sessions idle in a transaction were not asked for: they are still there.
    assert in_transaction_before > 0
    assert superuser.execute(count_in_transaction).fetchone()[0] == in_transaction_before
    assert own_pid(rb) not in previewed
