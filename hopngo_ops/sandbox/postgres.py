"""The sandbox's PostgreSQL: a private cluster in the state dir, seeded, with a scenario's sessions.

Authentication: scram-sha-256 over TCP on 127.0.0.1 for every role; the superuser only over
the cluster's own unix socket (peer, mapped from the OS user that runs the sandbox). No trust.
"""

from __future__ import annotations

import os
import pwd
import signal
import stat
import subprocess
from pathlib import Path

import psycopg

from hopngo_ops.errors import SandboxError
from hopngo_ops.sandbox import pg_schema, pg_traffic
from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.drivers import start_driver
from hopngo_ops.sandbox.pg_sessions import SessionPlan
from hopngo_ops.sandbox.procs import Proc, free_port, require_binary, spawn, wait_until
from hopngo_ops.sandbox.scenarios import DATABASE, DB_ROLES, MAX_CONNECTIONS, Scenario
from hopngo_ops.sandbox.secret_files import new_password, write_secret

COMPONENT = "postgres"
PACKAGE = "postgresql-15"
BIN_DIRS = ("/usr/lib/postgresql/15/bin",)
# initdb and the server refuse to run as root: as root, they run as this OS user.
OS_USER = "postgres"
SUPERUSER = "postgres"
PRELOAD = "pg_stat_statements"
HOST = "127.0.0.1"
START_TIMEOUT = 30
SESSIONS_TIMEOUT = 30


def start(ctx: SandboxContext) -> dict:
    initdb = require_binary("initdb", PACKAGE, search=BIN_DIRS)
    postgres = require_binary("postgres", PACKAGE, search=BIN_DIRS)
    home = ctx.dir("postgres")
    owner = pwd.getpwnam(OS_USER) if os.geteuid() == 0 else None
    data, sockets = _cluster_dirs(home, owner)
    port = free_port()
    passwords = {role: new_password() for role in (*DB_ROLES, pg_schema.TOOL_ROLE)}
    tool_passfile = write_secret(
        ctx, "postgres-hopngo_ops.pgpass", _pgpass(port, {pg_schema.TOOL_ROLE: passwords})
    )
    services_passfile = write_secret(
        ctx, "postgres-services.pgpass", _pgpass(port, {r: passwords for r in DB_ROLES})
    )
    sessions = _start_sessions_driver(ctx, port, services_passfile, home / "sessions.log")
    _initdb(initdb, data, home / "initdb.log", owner)

    log = home / "postgres.log"
    pid = spawn(
        _as_owner([postgres, "-D", str(data), "-p", str(port), "-k", str(sockets)], owner)
        + _settings(),
        log=log,
        cwd=home,
    )
    # SIGINT is PostgreSQL's fast shutdown: sessions are ended, nothing waits for clients.
    ctx.track(Proc(COMPONENT, pid, stop_signal=signal.SIGINT, log=str(log)))
    superuser = psycopg.conninfo.make_conninfo(
        host=str(sockets), port=port, dbname="postgres", user=SUPERUSER
    )
    wait_until(
        lambda: _accepts(superuser),
        component=COMPONENT,
        what="accepting connections",
        timeout=START_TIMEOUT,
        log=log,
        pid=pid,
    )
    pg_schema.seed(superuser, passwords)
    services = psycopg.conninfo.make_conninfo(
        host=HOST, port=port, dbname=DATABASE, passfile=str(services_passfile)
    )
    pg_traffic.run(services, ctx.scenario)
    if sessions:
        _wait_for_sessions(superuser, ctx.scenario, *sessions)

    return {
        "postgres_dsn": f"host={HOST} port={port} dbname={DATABASE} user={pg_schema.TOOL_ROLE}",
        "postgres_passfile": str(tool_passfile),
        "postgres_superuser_dsn": f"host={sockets} port={port} dbname={DATABASE} user={SUPERUSER}",
    }


def _settings() -> list[str]:
    settings = {
        "listen_addresses": HOST,
        "max_connections": MAX_CONNECTIONS,
        "shared_preload_libraries": PRELOAD,
        # Only the cluster's owner (and root) may reach the peer-authenticated socket.
        "unix_socket_permissions": "0700",
        # A throwaway cluster: durability only costs start-up time.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    return [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]


def _cluster_dirs(home: Path, owner: pwd.struct_passwd | None) -> tuple[Path, Path]:
    """The data and socket dirs, owned by the cluster's OS user and reachable by it."""
    if owner:
        _check_reachable(home, owner)
    data, sockets = home / "data", home / "run"
    for folder in (data, sockets):
        folder.mkdir(mode=0o700)
        if owner:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
    return data, sockets


def _check_reachable(folder: Path, owner: pwd.struct_passwd) -> None:
    """Refuse a state dir that the server's OS user cannot reach: it opens its files by path.

    Its parents are not ours to change: pytest's /tmp/pytest-of-root, for one, is 0700 and
    pytest resets it at every session start, which would cut a running server off its files.
    """
    groups = os.getgrouplist(owner.pw_name, owner.pw_gid)
    for path in (folder, *folder.parents):
        info = path.stat()
        if info.st_uid == owner.pw_uid:
            can_search = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            can_search = info.st_mode & stat.S_IXGRP
        else:
            can_search = info.st_mode & stat.S_IXOTH
        if not can_search:
            raise SandboxError(
                f"the {owner.pw_name!r} user cannot reach {folder}: {path} is not searchable"
                f" by it; choose a state dir it can reach (or chmod o+x {path})",
                component=COMPONENT,
            )


def _initdb(initdb: str, data: Path, log: Path, owner: pwd.struct_passwd | None) -> None:
    argv = [
        initdb,
        "--pgdata",
        str(data),
        "--username",
        SUPERUSER,
        "--encoding",
        "UTF8",
        "--locale",
        "C",
        "--auth-local",
        "peer",
        "--auth-host",
        "scram-sha-256",
        "--no-sync",
        "--no-instructions",
    ]
    with open(log, "wb") as out:
        done = subprocess.run(
            _as_owner(argv, owner), stdout=out, stderr=subprocess.STDOUT, cwd=data.parent
        )
    if done.returncode != 0:
        raise SandboxError(
            f"initdb failed (exit {done.returncode})", component=COMPONENT, log=str(log)
        )
    _write_auth(data, owner)


def _as_owner(argv: list[str], owner: pwd.struct_passwd | None) -> list[str]:
    """`argv` run as `owner`. setpriv execs in place (runuser forks and does not pass SIGINT
    on), so the pid we track and signal is the server's own."""
    if owner is None:
        return argv
    setpriv = require_binary("setpriv", "util-linux")
    ids = [f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--init-groups"]
    return [setpriv, *ids, "--", *argv]


def _write_auth(data: Path, owner: pwd.struct_passwd | None) -> None:
    """Passwords over TCP for everyone; the superuser alone over the socket, as its OS users."""
    os_users = {pwd.getpwuid(os.geteuid()).pw_name, *([owner.pw_name] if owner else [])}
    (data / "pg_ident.conf").write_text(
        "".join(f"sandbox {name} {SUPERUSER}\n" for name in sorted(os_users))
    )
    (data / "pg_hba.conf").write_text(
        f"local all {SUPERUSER} peer map=sandbox\nhost all all {HOST}/32 scram-sha-256\n"
    )


def _accepts(conninfo: str) -> bool:
    try:
        psycopg.connect(conninfo, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def _pgpass(port: int, passwords_by_role: dict[str, dict[str, str]]) -> str:
    """A libpq password file: one `host:port:db:user:password` line per role."""
    return "".join(
        f"{HOST}:{port}:{DATABASE}:{_escape(role)}:{_escape(passwords[role])}\n"
        for role, passwords in passwords_by_role.items()
    )


def _escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace(":", "\\:")


def _start_sessions_driver(
    ctx: SandboxContext, port: int, passfile: Path, log: Path
) -> tuple[int, Path] | None:
    """Start the driver holding the scenario's sessions, if it has any: (pid, log).

    Started before initdb: its interpreter boots while the cluster is made; it waits for the
    services' roles to exist."""
    if SessionPlan.of(ctx.scenario).empty:
        return None
    args = ["--host", HOST, "--port", str(port), "--passfile", str(passfile)]
    args += ["--scenario", ctx.scenario.name]
    return start_driver(ctx, "postgres-sessions", "hopngo_ops.sandbox.pg_sessions", args, log), log


def _wait_for_sessions(superuser: str, scenario: Scenario, pid: int, log: Path) -> None:
    plan = SessionPlan.of(scenario)
    with psycopg.connect(superuser, dbname=DATABASE, autocommit=True) as admin:
        # Our polling is no service's traffic: keep it out of the statements' ranking.
        admin.execute("SET pg_stat_statements.track = 'none'")
        wait_until(
            lambda: _sessions_in_place(admin, plan),
            component=COMPONENT,
            what="holding the scenario's sessions",
            timeout=SESSIONS_TIMEOUT,
            log=log,
            pid=pid,
        )


def _sessions_in_place(admin: psycopg.Connection, plan: SessionPlan) -> bool:
    held, sleeping, waiting = admin.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE wait_event = 'PgSleep'),
               count(*) FILTER (WHERE wait_event_type = 'Lock')
        FROM pg_stat_activity
        WHERE datname = %s AND usename = ANY(%s)
        """,
        (DATABASE, list(DB_ROLES)),
    ).fetchone()
    return (held, sleeping, waiting) == (
        plan.sessions,
        int(plan.long_query),
        int(plan.lock_wait),
    )
