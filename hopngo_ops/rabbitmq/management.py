"""The RabbitMQ management HTTP API: GETs of queues and consumers, with validated names.

Every path segment is a validated name, URL-quoted (the default vhost "/" is "%2F"), so a
parameter can never reach another endpoint. An unreachable API, refused credentials or an
answer that is not JSON is BackendUnavailable; a queue the broker does not know is NotFound.
"""

from __future__ import annotations

from urllib.parse import quote

import requests

from hopngo_ops import names
from hopngo_ops.errors import BackendUnavailable, InvalidName, NotFound

BACKEND = "rabbitmq management API"
# vhosts are free text in RabbitMQ; these are the characters the platform's use.
_VHOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-")


def vhost_name(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 255 or not set(value) <= _VHOST_CHARS:
        raise InvalidName("vhost", value, "letters, digits, '/', '.', '_' and '-' (e.g. /)")
    return value


class Management:
    def __init__(self, url: str, credentials: tuple[str, str], *, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.auth = credentials

    def __repr__(self) -> str:
        return f"Management({self.url!r})"

    def queues(self, vhost: str) -> list[dict]:
        return self._get("queues", vhost_name(vhost))

    def queue(self, vhost: str, queue: str) -> dict:
        return self._get("queues", vhost_name(vhost), names.queue_name(queue))

    def consumers(self, vhost: str) -> list[dict]:
        return self._get("consumers", vhost_name(vhost))

    def bindings_from(self, vhost: str, exchange: str) -> list[dict]:
        """The bindings whose source is `exchange` (where it routes to)."""
        exchange = names.queue_name(exchange)  # exchange names follow the same rule here
        return self._get("exchanges", vhost_name(vhost), exchange, "bindings", "source")

    def _get(self, *segments: str) -> list | dict:
        path = "/".join(quote(s, safe="") for s in segments)
        url = f"{self.url}/api/{path}"
        try:
            response = self._session.get(url, timeout=self.timeout)
        except requests.RequestException as err:
            raise BackendUnavailable(BACKEND, self.url, f"{err.__class__.__name__}") from err
        if response.status_code == 404:
            raise NotFound(f"RabbitMQ has no /api/{path} (vhost, queue or exchange unknown)")
        if response.status_code in (401, 403):
            raise BackendUnavailable(
                BACKEND,
                self.url,
                f"HTTP {response.status_code}: the profile's RabbitMQ user was refused "
                "(needs the monitoring tag)",
            )
        try:
            response.raise_for_status()
            return response.json()
        except (requests.HTTPError, ValueError) as err:
            raise BackendUnavailable(
                BACKEND, self.url, f"HTTP {response.status_code} {response.reason}"
            ) from err
