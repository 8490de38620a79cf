"""Process plumbing shared by the sandbox's servers: ports, spawning, readiness, stopping."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from hopngo_ops.errors import MissingBinary, SandboxError


@dataclass(frozen=True)
class Proc:
    """A process the sandbox started: stopped by pid with `stop_signal`, in reverse order."""

    name: str
    pid: int
    stop_signal: int = signal.SIGTERM
    log: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it, so two sandboxes differ)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, *, tls: ssl.SSLContext | None = None) -> bool:
    """Whether `url` answers 200 now (not listening yet, or 503 while loading, is not ready)."""
    try:
        with urllib.request.urlopen(url, timeout=1, context=tls) as answer:
            return answer.status == 200
    except OSError:  # URLError and HTTPError are OSErrors
        return False


def require_binary(binary: str, package: str, *, search: tuple[str, ...] = ()) -> str:
    """The path of `binary` (on PATH or in one of `search`); MissingBinary names the package."""
    for folder in search:
        candidate = Path(folder) / binary
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(binary)
    if not found:
        raise MissingBinary(binary, package)
    return found


def spawn(
    argv: list[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start `argv` detached from us (own session), output appended to `log`; return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0): reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done = 0
    return done == 0 and not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_until(
    ready: Callable[[], bool],
    *,
    component: str,
    what: str,
    timeout: float,
    log: Path | None = None,
    pid: int | None = None,
) -> None:
    """Poll `ready` until true; a dead `pid` or the timeout raises SandboxError naming the log."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if pid is not None and not pid_alive(pid):
            raise SandboxError(f"exited before {what}", component=component, log=_s(log))
        if time.monotonic() > deadline:
            raise SandboxError(f"not {what} after {timeout:.0f}s", component=component, log=_s(log))
        time.sleep(0.1)


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Send `sig`, wait for the process to end, SIGKILL it if it does not within `timeout`."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            try:
                # Spawned as a session leader: its group holds the children a script started
                # (RabbitMQ's beam.smp), which must not outlive it.
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 5
        time.sleep(0.05)


def _s(path: Path | None) -> str | None:
    return str(path) if path else None
