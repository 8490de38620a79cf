"""Bring the sandbox up and down, and say what is running: the four servers side by side."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hopngo_ops.errors import HopngoError, SandboxError
from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.procs import Proc, pid_alive, stop_pid
from hopngo_ops.sandbox.scenarios import NAMESPACE, get_scenario

# Each names a module of this package with `start(ctx) -> dict` that blocks until ready.
COMPONENTS = ("rabbitmq", "postgres", "prometheus", "kubernetes")
STATUS_FILE = "status.json"


def default_state_dir() -> Path:
    """HOPNGO_SANDBOX_DIR, else `.sandbox/` in the checkout (editable install), else ~/.local."""
    if env := os.environ.get("HOPNGO_SANDBOX_DIR"):
        return Path(env)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".sandbox"
    return Path.home() / ".local" / "state" / "hopngo-ops" / "sandbox"


def read_status(state_dir: Path) -> dict | None:
    """The saved status with each process' liveness, or None when no sandbox was started there."""
    try:
        saved = json.loads((state_dir / STATUS_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as err:
        raise SandboxError(f"cannot read {state_dir / STATUS_FILE}: {err}") from err
    if saved.get("state") == "starting":
        # Starting while the `up` that writes it lives; a start whose `up` died has failed.
        saved["state"] = "starting" if pid_alive(saved.get("owner_pid", -1)) else "failed"
    elif saved.get("state") == "up":
        alive = [pid_alive(p["pid"]) for p in saved.get("procs", [])]
        if not all(alive):
            saved["state"] = "degraded" if any(alive) else "down"
    return saved


def up(scenario_name: str, state_dir: Path | None = None) -> tuple[dict, bool]:
    """Start every server for the scenario; return (status, started). Already up: unchanged."""
    scenario = get_scenario(scenario_name)
    state_dir = (state_dir or default_state_dir()).resolve()
    current = read_status(state_dir)
    if current and current["state"] in ("up", "starting"):
        return current, False
    if current:
        # A previous sandbox died or was half started: stop what is left, start afresh.
        _stop_procs(current.get("procs", []))
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    base = {
        "scenario": scenario.name,
        "namespace": NAMESPACE,
        "state_dir": str(state_dir),
        "started_at": time.time(),
        "owner_pid": os.getpid(),
    }
    ctx = SandboxContext(state_dir=state_dir, scenario=scenario, started_at=base["started_at"])
    ctx.on_track = lambda procs: _write_status(state_dir, {**base, "state": "starting"}, procs)
    _write_status(state_dir, {**base, "state": "starting"}, [])
    try:
        fields = _start_components(ctx)
    except BaseException:
        started = [p.to_json() for p in ctx.procs]
        _stop_procs(started)
        # What was started and is now stopped: no live pid is left in the status.
        _write_status(state_dir, {**base, "state": "failed", "stopped": started}, [])
        raise
    status = {**base, **fields, "state": "up", "ready_seconds": time.time() - base["started_at"]}
    _write_status(state_dir, status, ctx.procs)
    return read_status(state_dir), True


def down(state_dir: Path | None = None) -> list[str]:
    """Stop every process the sandbox started, by pid, newest first; return their names."""
    state_dir = (state_dir or default_state_dir()).resolve()
    current = read_status(state_dir)
    if current is None:
        return []
    procs = current.get("procs", [])
    _stop_procs(procs)
    _write_status(state_dir, {**current, "state": "down"}, [])
    return [p["name"] for p in procs]


def _start_components(ctx: SandboxContext) -> dict:
    modules = {name: importlib.import_module(f"hopngo_ops.sandbox.{name}") for name in COMPONENTS}
    fields: dict = {}
    with ThreadPoolExecutor(max_workers=len(modules)) as pool:
        futures = {name: pool.submit(module.start, ctx) for name, module in modules.items()}
        errors = []
        for name, future in futures.items():
            try:
                fields.update(future.result())
            except HopngoError as err:
                errors.append(err)
            except Exception as err:  # noqa: BLE001 - any server's failure is reported by name
                # Each component's main process carries the component's name.
                logs = [p.log for p in ctx.procs if p.name == name and p.log]
                error = SandboxError(
                    f"failed to start: {type(err).__name__}: {err}",
                    component=name,
                    log=logs[0] if logs else None,
                )
                error.__cause__ = err
                errors.append(error)
    if errors:
        raise errors[0]
    return fields


def _stop_procs(procs: list[dict]) -> None:
    for proc in reversed(procs):
        stop_pid(proc["pid"], proc.get("stop_signal", 15))


def _write_status(state_dir: Path, status: dict, procs: list[Proc]) -> None:
    """Write status.json atomically, so a reader never sees half of it."""
    data = {**status, "procs": [p.to_json() if isinstance(p, Proc) else p for p in procs]}
    tmp = state_dir / f".{STATUS_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(state_dir / STATUS_FILE)
