"""The runbook's `kubectl exec deployment/x -- nc -zv postgres-service 5432`, without exec.

A read may not exec into a pod, so the check is split in two: the Service the pods would
dial exists and exposes the port, and the PostgreSQL the profile names accepts a TCP
connection (opened and closed at once, as `nc -z` does).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from psycopg.conninfo import conninfo_to_dict

from hopngo_ops import names
from hopngo_ops.errors import NotFound
from hopngo_ops.kube.client import KubeConnection

POSTGRES_SERVICE = "postgres-service"
POSTGRES_PORT = 5432
CONNECT_TIMEOUT = 2.0


@dataclass(frozen=True)
class DatabaseConnectivity:
    service: str
    service_found: bool
    # The Service's ports as "5432/TCP"; empty when it is missing.
    service_ports: tuple[str, ...]
    service_port_open: bool
    # host:port (or the socket path) of the profile's PostgreSQL; None when the profile has none.
    target: str | None
    reachable: bool | None
    connect_ms: float | None
    error: str | None


class DatabaseReads(KubeConnection):
    def database_connectivity(
        self,
        *,
        service: str = POSTGRES_SERVICE,
        port: int = POSTGRES_PORT,
        timeout: float = CONNECT_TIMEOUT,
    ) -> DatabaseConnectivity:
        try:
            found = self.call(
                self.core.read_namespaced_service, names.service_name(service), self.namespace
            )
            ports = tuple(f"{p.port}/{p.protocol or 'TCP'}" for p in found.spec.ports or [])
        except NotFound:
            ports = None
        target, reachable, connect_ms, error = None, None, None, None
        if self.database_dsn:
            target, address, family = _address(self.database_dsn)
            reachable, connect_ms, error = _connect(address, family, timeout)
        return DatabaseConnectivity(
            service=service,
            service_found=ports is not None,
            service_ports=ports or (),
            service_port_open=f"{port}/TCP" in (ports or ()),
            target=target,
            reachable=reachable,
            connect_ms=connect_ms,
            error=error,
        )


def _address(dsn: str) -> tuple[str, object, int]:
    """Where libpq would connect for `dsn`: its first host, or its Unix socket."""
    params = conninfo_to_dict(dsn)
    host = (params.get("host") or "localhost").split(",")[0]
    port = int(str(params.get("port") or POSTGRES_PORT).split(",")[0])
    if host.startswith("/"):
        path = f"{host}/.s.PGSQL.{port}"
        return path, path, socket.AF_UNIX
    return f"{host}:{port}", (host, port), socket.AF_INET


def _connect(address: object, family: int, timeout: float) -> tuple[bool, float | None, str | None]:
    """Open and close a connection; (reachable, milliseconds, why not)."""
    started = time.monotonic()
    try:
        if family == socket.AF_UNIX:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
        else:
            socket.create_connection(address, timeout=timeout).close()
    except OSError as err:
        return False, None, f"{type(err).__name__}: {err}"
    return True, round((time.monotonic() - started) * 1000, 1), None
