"""The sandbox's Prometheus: the real server, serving the scenario's backfilled metric history.

It scrapes nothing: the history (see `metrics`) already runs past "now", and the TSDB refuses
head samples older than its newest block anyway.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from hopngo_ops.errors import SandboxError
from hopngo_ops.sandbox import metrics, procs
from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.procs import Proc

COMPONENT = "prometheus"
READY_TIMEOUT_SECONDS = 30
# Retention counts back from the newest block; generous, so a state dir kept for weeks still
# holds the whole history.
RETENTION = "365d"
# A port free when we asked may be taken by the time Prometheus binds it.
PORT_ATTEMPTS = 3


def start(ctx: SandboxContext) -> dict:
    """Backfill the scenario's history, start Prometheus on it, return its URL once ready."""
    prometheus = procs.require_binary("prometheus", "prometheus")
    promtool = procs.require_binary("promtool", "prometheus")
    home = ctx.dir(COMPONENT)
    data = home / "data"
    log = ctx.dir("logs") / "prometheus.log"
    backfill(ctx, promtool, data, log=ctx.dir("logs") / "promtool.log")
    config = write_config(home)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return {"prometheus_url": serve(ctx, prometheus, config, data, log=log)}
        except PortTaken:
            if attempt == PORT_ATTEMPTS:
                raise


class PortTaken(SandboxError):
    """Another process bound the port between our asking for it and Prometheus binding it."""


def serve(ctx: SandboxContext, prometheus: str, config: Path, data: Path, *, log: Path) -> str:
    """Spawn Prometheus on a free port, tracked at once; its URL when ready."""
    port = procs.free_port()
    log_offset = log.stat().st_size if log.exists() else 0
    argv = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--storage.tsdb.retention.time={RETENTION}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    pid = procs.spawn(argv, log=log)
    proc = Proc(COMPONENT, pid, log=str(log))
    ctx.track(proc)
    url = f"http://127.0.0.1:{port}"
    try:
        procs.wait_until(
            lambda: procs.http_ok(f"{url}/-/ready"),
            component=COMPONENT,
            what="ready",
            timeout=READY_TIMEOUT_SECONDS,
            log=log,
            pid=pid,
        )
    except SandboxError as err:
        if _port_was_taken(log, log_offset):
            # It exited: the next attempt's process is the one to stop later.
            ctx.untrack(proc)
            raise PortTaken(f"port {port} was taken", component=COMPONENT, log=str(log)) from err
        raise
    return url


def backfill(ctx: SandboxContext, promtool: str, data: Path, *, log: Path) -> None:
    """Write the scenario's history and turn it into TSDB blocks in `data` (emptied first)."""
    history = ctx.state_dir / COMPONENT / "history.om"
    metrics.write_history(history, ctx.scenario, ctx.started_at)
    if data.exists():
        shutil.rmtree(data)
    with log.open("ab") as out:
        try:
            subprocess.run(
                [promtool, "tsdb", "create-blocks-from", "openmetrics", str(history), str(data)],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
            )
        except (OSError, subprocess.CalledProcessError) as err:
            raise SandboxError(
                f"promtool could not backfill {history}: {err}", component=COMPONENT, log=str(log)
            ) from err
    # The blocks hold it all now; the text is ~25 MB.
    history.unlink()


def write_config(home: Path) -> Path:
    """A config that scrapes nothing and logs every query (tests read what notebooks asked)."""
    config = home / "prometheus.yml"
    settings = {
        "global": {
            "scrape_interval": "30s",
            "evaluation_interval": "30s",
            "query_log_file": str(home / "query.log"),
        },
        "scrape_configs": [],
    }
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    return config


def _port_was_taken(log: Path, offset: int) -> bool:
    with log.open("rb") as lines:
        lines.seek(offset)
        return b"address already in use" in lines.read()
