"""Validation of the names parameters carry, before any PromQL, SQL or API path is built.

A name that fails here never reaches a backend: no label, SQL or path injection through a
notebook parameter.
"""

from __future__ import annotations

import re

from hopngo_ops.errors import InvalidName

# Kubernetes DNS-1123 label: services, deployments, namespaces, containers.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# DNS-1123 subdomain: pod and other object names.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# An HTTP path as the `uri` label holds it: no quotes, backslashes, braces or spaces.
_URI = re.compile(r"/[A-Za-z0-9._~/{}:@!$&'()*+,;=-]*")
# RabbitMQ allows almost anything in a queue name; the runbook's queues use this much.
_QUEUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
# Prometheus durations as the runbook uses them: 5m, 1h, 10m, 1h30m.
_DURATION = re.compile(r"([0-9]+(ms|s|m|h|d|w|y))+")
_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _check(kind: str, value: object, pattern: re.Pattern, rule: str, max_len: int) -> str:
    if not isinstance(value, str) or len(value) > max_len or not pattern.fullmatch(value):
        raise InvalidName(kind, value, rule)
    return value


def service_name(value: object) -> str:
    """A service / deployment / Prometheus job name (a DNS-1123 label)."""
    return _check(
        "service",
        value,
        _DNS_LABEL,
        "use lowercase letters, digits and '-', starting and ending alphanumeric, "
        "at most 63 characters (e.g. booking-service)",
        63,
    )


def namespace_name(value: object) -> str:
    return _check(
        "namespace",
        value,
        _DNS_LABEL,
        "a Kubernetes namespace is lowercase letters, digits and '-', at most 63 characters",
        63,
    )


def object_name(value: object, kind: str = "pod") -> str:
    """A Kubernetes object name such as a pod's (a DNS-1123 subdomain)."""
    return _check(
        kind,
        value,
        _DNS_SUBDOMAIN,
        "lowercase letters, digits, '-' and '.', at most 253 characters",
        253,
    )


def uri_path(value: object) -> str:
    return _check(
        "uri",
        value,
        _URI,
        "an absolute HTTP path such as /api/bookings/search, without quotes or spaces",
        512,
    )


def queue_name(value: object) -> str:
    return _check(
        "queue",
        value,
        _QUEUE,
        "letters, digits, '.', '_', ':' and '-', starting with a letter or digit",
        255,
    )


def duration(value: object) -> str:
    """A Prometheus duration such as 5m or 1h."""
    return _check("window", value, _DURATION, "a Prometheus duration such as 5m, 1h or 1h30m", 32)


def duration_seconds(value: str) -> float:
    """Seconds in a duration that `duration()` accepted."""
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(duration(value)))
