"""The sandbox's scenarios: the facts each one plants, shared by every sandbox server.

One scenario drives Prometheus' metric history, the Kubernetes simulator's objects and logs,
PostgreSQL's sessions and RabbitMQ's backlog, so all four tell the same story. Everything is
deterministic: times are offsets from the moment the sandbox comes up, random values come from
a generator seeded with the scenario's name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from hopngo_ops.errors import NotFound

NAMESPACE = "hopngo"
SERVICES = ("gateway", "booking-service", "market-service", "auth-service", "consumer-service")
STATEFULSETS = ("postgres", "postgres-replica", "rabbitmq")

# Replicas each deployment runs when healthy.
REPLICAS = {
    "gateway": 2,
    "booking-service": 3,
    "market-service": 2,
    "auth-service": 2,
    "consumer-service": 2,
}

# Endpoints each service serves (the `uri` label of its HTTP metrics).
URIS = {
    "gateway": ("/api/health", "/api/route"),
    "booking-service": ("/api/bookings", "/api/bookings/search"),
    "market-service": ("/api/market/listings", "/api/market/checkout"),
    "auth-service": ("/api/auth/login", "/api/auth/refresh"),
    "consumer-service": ("/api/consumer/health",),
}

# Queues declared in RabbitMQ; each has a dead-letter queue named "<queue>.dlq".
QUEUES = ("booking.events", "market.orders", "notifications")
VHOST = "/"

# PostgreSQL: the application database and the services' login roles.
DATABASE = "hopngo"
DB_ROLES = ("booking_service", "market_service", "auth_service", "consumer_service")
MAX_CONNECTIONS = 50

# Latency SLO (p95, seconds) the notebooks draw; the runbook's alerts burn against it.
LATENCY_SLO_SECONDS = 0.5
HISTORY_HOURS = 3
# The metric history runs this far past "up" so instant queries keep answering for a while.
HISTORY_AHEAD_MINUTES = 55
SCRAPE_STEP_SECONDS = 30


@dataclass(frozen=True)
class Scenario:
    """What one scenario plants. Fields left empty mean "healthy" for that part."""

    name: str
    description: str
    # The incident started this many minutes before the sandbox came up (0 = no incident).
    incident_minutes_ago: int = 0
    # Services whose `up` is 0 since the incident and whose pods crash-loop.
    down_services: tuple[str, ...] = ()
    # Services whose pods were OOM-killed (container limit) since the incident.
    oom_services: tuple[str, ...] = ()
    # service -> {uri: p95 seconds} during the incident.
    slow_uris: dict[str, dict[str, float]] = field(default_factory=dict)
    # service -> {uri: fraction of requests answered 5xx} during the incident.
    error_uris: dict[str, dict[str, float]] = field(default_factory=dict)
    # service -> heap used / max during the incident.
    heap_ratio: dict[str, float] = field(default_factory=dict)
    # service -> the log lines repeated in its pods' logs since the incident.
    log_errors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # queue -> messages left ready; consumers on it during the incident.
    queue_backlog: dict[str, int] = field(default_factory=dict)
    queue_consumers: dict[str, int] = field(default_factory=dict)
    # PostgreSQL sessions the scenario holds open.
    pg_idle_sessions: int = 0
    pg_long_query: bool = False
    pg_lock_wait: bool = False
    pg_slow_statement: bool = False

    @property
    def seed(self) -> int:
        return int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:4], "big")


POOL_EXHAUSTED = (
    "ERROR o.h.e.j.s.SqlExceptionHelper - HikariPool-1 - connection pool exhausted: "
    "Connection is not available, request timed out after 30000ms"
)
OOM_ERROR = "ERROR c.h.m.CheckoutController - java.lang.OutOfMemoryError: Java heap space"
UPSTREAM_TIMEOUT = "ERROR c.h.a.LoginController - Timeout waiting for token store after 5000ms"
CONNECTION_REFUSED = "ERROR c.h.a.TokenStore - Connection refused: redis-auth:6379"
CONSUMER_SLOW = "WARN c.h.c.BookingEventsListener - processing took 4812ms, prefetch=1"

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("healthy", "Every service up, no backlog, no locks: nothing should alarm."),
        Scenario(
            "service_down",
            "booking-service crash-loops on an exhausted connection pool; its target is down.",
            incident_minutes_ago=40,
            down_services=("booking-service",),
            log_errors={"booking-service": (POOL_EXHAUSTED,)},
        ),
        Scenario(
            "high_latency",
            "market-service checkout p95 is far over the SLO; a slow statement and GC pressure.",
            incident_minutes_ago=35,
            slow_uris={"market-service": {"/api/market/checkout": 2.4}},
            heap_ratio={"market-service": 0.82},
            pg_slow_statement=True,
        ),
        Scenario(
            "high_error_rate",
            "auth-service login answers 5xx for a quarter of requests: token store timeouts.",
            incident_minutes_ago=30,
            error_uris={"auth-service": {"/api/auth/login": 0.25}},
            log_errors={"auth-service": (UPSTREAM_TIMEOUT, CONNECTION_REFUSED)},
        ),
        Scenario(
            "queue_lag",
            "booking.events piles up behind a single slow consumer.",
            incident_minutes_ago=50,
            queue_backlog={"booking.events": 1500},
            queue_consumers={"booking.events": 1},
            log_errors={"consumer-service": (CONSUMER_SLOW,)},
        ),
        Scenario(
            "database_issues",
            "PostgreSQL near connection saturation, a long-running query and a lock wait.",
            incident_minutes_ago=25,
            log_errors={"booking-service": (POOL_EXHAUSTED,)},
            pg_idle_sessions=30,
            pg_long_query=True,
            pg_lock_wait=True,
        ),
        Scenario(
            "jvm_memory",
            "market-service heap is full, GC thrashes, pods are OOM-killed.",
            incident_minutes_ago=45,
            oom_services=("market-service",),
            heap_ratio={"market-service": 0.97},
            log_errors={"market-service": (OOM_ERROR,)},
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    """The scenario called `name`; an unknown name lists the known ones."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise NotFound(
            f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}"
        ) from None


def template_hash(service: str, revision: int = 1) -> str:
    """The pod-template-hash of a deployment's revision, as Kubernetes spells it (10 chars)."""
    digest = hashlib.sha256(f"{service}/{revision}".encode()).hexdigest()
    return "".join(_POD_ALPHABET[int(c, 16) % len(_POD_ALPHABET)] for c in digest[:10])


def initial_pods(service: str) -> tuple[str, ...]:
    """The names of a deployment's pods when the sandbox comes up (revision 1)."""
    rs = f"{service}-{template_hash(service)}"
    return tuple(f"{rs}-{_suffix(f'{service}/{i}')}" for i in range(REPLICAS[service]))


# Kubernetes' name-suffix alphabet: no vowels, no digits that look like letters.
_POD_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _suffix(key: str) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return "".join(_POD_ALPHABET[b % len(_POD_ALPHABET)] for b in digest[:5])


# Restart schedules, shared by the Kubernetes simulator and the metric history so that
# Prometheus' restart counts match what kubectl shows. A crash-looping JVM dies this long
# after starting; the kubelet waits before the next start, doubling from 10 s to 5 min.
CRASH_RUN_SECONDS = 15
RESTART_BACKOFF_SECONDS = (10, 20, 40, 80, 160, 300)
# A deployment's pods do not crash in lockstep: each starts this much after the previous.
CRASH_STAGGER_SECONDS = 7
OOM_RESTARTS = 3
OOM_STAGGER_SECONDS = 20


def crash_runs(incident_start: float, pod_index: int, until: float) -> list[tuple[float, float]]:
    """The (start, end) of each run of a crash-looping pod's container until `until`."""
    runs, start = [], incident_start + CRASH_STAGGER_SECONDS * pod_index
    while start + CRASH_RUN_SECONDS <= until:
        runs.append((start, start + CRASH_RUN_SECONDS))
        backoff = RESTART_BACKOFF_SECONDS[min(len(runs), len(RESTART_BACKOFF_SECONDS)) - 1]
        start += CRASH_RUN_SECONDS + backoff
    return runs


def oom_kills(incident_start: float, started_at: float, pod_index: int) -> list[float]:
    """When an OOM-killed pod's container was killed: spread over the incident so far."""
    spacing = (started_at - incident_start) / (OOM_RESTARTS + 1)
    return [
        incident_start + spacing * (k + 1) + OOM_STAGGER_SECONDS * pod_index
        for k in range(OOM_RESTARTS)
    ]
