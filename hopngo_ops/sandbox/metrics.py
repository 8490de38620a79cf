"""The scenario's metric history, written as OpenMetrics text for promtool to backfill.

Every series the runbook's PromQL reads: the services' targets and HTTP traffic, their pods as
kube-state-metrics, cAdvisor and the JVM report them, PostgreSQL as postgres_exporter does and
RabbitMQ as its prometheus plugin does. Samples run every SCRAPE_STEP_SECONDS from
HISTORY_HOURS before the sandbox came up to HISTORY_AHEAD_MINUTES after it, so instant queries
and `rate(...[5m])` keep answering for a while. Values are closed-form functions of time plus
noise from generators seeded per series: the same (scenario, started_at) writes the same bytes.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import NamedTuple

from hopngo_ops.sandbox import scenarios
from hopngo_ops.sandbox.scenarios import (
    DATABASE,
    HISTORY_AHEAD_MINUTES,
    HISTORY_HOURS,
    MAX_CONNECTIONS,
    NAMESPACE,
    QUEUES,
    SCRAPE_STEP_SECONDS,
    SERVICES,
    URIS,
    VHOST,
    Scenario,
    initial_pods,
)

MiB = 1024 * 1024
CONTAINER_MEMORY_LIMIT = 1024 * MiB
HEAP_MAX = 768 * MiB
NONHEAP_MAX = 256 * MiB
HTTP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
STATEMENT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# The gateway forwards to the other services; it answers 5xx for routes to a down one.
GATEWAY = "gateway"

NORMAL_5XX_FRACTION = 0.001
NORMAL_4XX_FRACTION = 0.02
# How a 5xx fraction splits into codes.
SERVER_ERROR_CODES = {"500": 0.3, "503": 0.3, "504": 0.4}
POST_URIS = frozenset(
    {"/api/bookings", "/api/market/checkout", "/api/auth/login", "/api/auth/refresh"}
)
# Log lines per second by level when healthy, and the extra lines per second at a level for
# each reason a service logs during the incident.
LOG_RATES = {"info": 3.0, "warn": 0.05, "error": 0.004}
INCIDENT_LOG_RATE = 1.5

# Per garbage collector: collections/s relaxed, extra collections/s at full heap pressure,
# seconds per collection relaxed, extra seconds per collection at full pressure.
GARBAGE_COLLECTORS = {
    "G1 Young Generation": (0.4, 3.0, 0.01, 0.04),
    "G1 Old Generation": (0.002, 0.3, 0.2, 0.8),
}
# Heap used/max where the collector starts to struggle, and where it spends all it can.
RELAXED_HEAP_RATIO = 0.75
FULL_PRESSURE_HEAP_RATIO = 1.0

# postgres_exporter's pg_stat_activity_count and pg_locks_count when healthy, and what each of
# the scenario's PostgreSQL facts adds to them.
PG_ACTIVITY = {"active": 3, "idle": 9, "idle in transaction": 1}
PG_LOCKS = {
    "AccessShareLock": 6,
    "RowShareLock": 0,
    "RowExclusiveLock": 2,
    "ShareUpdateExclusiveLock": 0,
    "ShareLock": 0,
    "ShareRowExclusiveLock": 0,
    "ExclusiveLock": 4,
    "AccessExclusiveLock": 0,
}
PG_LONG_QUERY = {"active": 1, "AccessShareLock": 2, "ExclusiveLock": 1}
# A blocker idle in a transaction holding an AccessExclusiveLock, a waiter queued behind it.
PG_LOCK_WAIT = {
    "active": 1,
    "idle in transaction": 1,
    "AccessExclusiveLock": 1,
    "RowExclusiveLock": 2,
    "ExclusiveLock": 2,
}
# Statement p95 (seconds) when healthy, with a slow statement, and when statements wait on locks.
STATEMENT_P95 = {"normal": 0.02, "slow": 1.8, "lock_wait": 0.6}

CONSUMERS_PER_QUEUE = 2
DEAD_LETTERS_PER_SECOND = 0.0005
# A lagging queue delivers this fraction of what is published; the rest piles up.
LAGGING_DELIVERY_FRACTION = 0.3
# RabbitMQ's consumer utilisation is the share of time the queue could deliver to its consumers
# at once: near 1 when they keep up, low when a slow consumer holds its prefetch window full.
HEALTHY_UTILISATION = 0.96
LAGGING_UTILISATION = 0.18


class Timeline:
    """The sample times, and where the incident sits on them."""

    def __init__(self, scenario: Scenario, started_at: float):
        self.start = started_at - HISTORY_HOURS * 3600
        count = (HISTORY_HOURS * 3600 + HISTORY_AHEAD_MINUTES * 60) // SCRAPE_STEP_SECONDS + 1
        self.times = [self.start + i * SCRAPE_STEP_SECONDS for i in range(count)]
        self.started_at = started_at
        minutes = scenario.incident_minutes_ago
        self.incident_start = started_at - minutes * 60 if minutes else None

    def during(self, t: float) -> bool:
        return self.incident_start is not None and t >= self.incident_start

    @property
    def incident_seconds(self) -> float:
        """How long the incident had lasted when the sandbox came up."""
        return self.started_at - self.incident_start


Level = float | Callable[[float], float]


def level(
    tl: Timeline,
    rng: random.Random,
    normal: float,
    incident: Level | None = None,
    *,
    jitter: float = 0.03,
    wave: float = 0.05,
) -> list[float]:
    """`normal`, waving slowly, before the incident; `incident` (a value or f(t)) from its start.

    Both jittered. Without `incident` the series keeps its normal shape throughout.
    """
    period = rng.uniform(2400, 5400)
    phase = rng.uniform(0, math.tau)
    values = []
    for t in tl.times:
        if incident is not None and tl.during(t):
            base = incident(t) if callable(incident) else incident
        else:
            base = normal * (1 + wave * math.sin(math.tau * (t - tl.start) / period + phase))
        values.append(base * (1 + rng.gauss(0, jitter)))
    return values


def accumulate(rates: Iterable[float], *, whole: bool = True) -> list[float]:
    """A counter from per-second rates; `whole` counts events, so it never shows a fraction."""
    total, values = 0.0, []
    for rate in rates:
        total += rate * SCRAPE_STEP_SECONDS
        values.append(math.floor(total) if whole else total)
    return values


def constant(tl: Timeline, value: float) -> list[float]:
    return [value] * len(tl.times)


@cache
def lognormal(p95: float, bounds: tuple[float, ...]) -> tuple[tuple[float, ...], float]:
    """CDF at each bound and the mean of a log-normal latency whose 95th percentile is `p95`.

    With a spread of 0.5, histogram_quantile's linear interpolation inside the bucket lands
    within ~20% of `p95` for the buckets used here.
    """
    sigma = 0.5
    mu = math.log(p95) - 1.6449 * sigma
    cdf = tuple(0.5 * (1 + math.erf((math.log(b) - mu) / (sigma * math.sqrt(2)))) for b in bounds)
    return cdf, math.exp(mu + sigma**2 / 2)


def histogram(
    rates: list[float], p95s: Iterable[float], bounds: tuple[float, ...]
) -> tuple[dict[str, list[float]], list[float], list[float]]:
    """Cumulative bucket counts by `le`, `_sum` and `_count` of observations at `rates`."""
    count, total = 0.0, 0.0
    cumulative = [0.0] * len(bounds)
    buckets: list[list[float]] = [[] for _ in bounds]
    sums, counts = [], []
    for rate, p95 in zip(rates, p95s, strict=True):
        cdf, mean = lognormal(p95, bounds)
        observed = rate * SCRAPE_STEP_SECONDS
        count += observed
        total += observed * mean
        for i, fraction in enumerate(cdf):
            cumulative[i] += observed * fraction
            buckets[i].append(math.floor(cumulative[i]))
        counts.append(math.floor(count))
        sums.append(total)
    by_le = {_number(b): values for b, values in zip(bounds, buckets, strict=True)}
    by_le["+Inf"] = counts
    return by_le, sums, counts


def heap_pressure(ratio: float) -> float:
    """0 while the heap has room, rising to 1 as it fills: how hard the collector works."""
    span = FULL_PRESSURE_HEAP_RATIO - RELAXED_HEAP_RATIO
    return min(1.0, max(0.0, (ratio - RELAXED_HEAP_RATIO) / span))


class Series(NamedTuple):
    labels: dict[str, str]
    values: list[float]
    # The sample name's suffix; None means the family type's default ("_total" for counters).
    suffix: str | None = None


@dataclass
class Pod:
    service: str
    name: str
    up: list[float]
    restarts: list[float]
    memory: list[float]
    cpu_seconds: list[float]
    heap_used: list[float]
    nonheap_used: list[float]
    # gc -> (collections, seconds) counters
    gc: dict[str, tuple[list[float], list[float]]]

    @property
    def target(self) -> dict[str, str]:
        return {
            "namespace": NAMESPACE,
            "job": self.service,
            "instance": f"{self.name}:8080",
            "pod": self.name,
        }

    def container(self, exporter: str) -> dict[str, str]:
        return {
            "namespace": NAMESPACE,
            "job": exporter,
            "instance": f"{exporter}:8080",
            "pod": self.name,
            "container": self.service,
        }


@dataclass
class Endpoint:
    service: str
    uri: str
    method: str
    durations: tuple[dict[str, list[float]], list[float], list[float]]
    # status code -> requests counter
    requests: dict[str, list[float]]

    @property
    def labels(self) -> dict[str, str]:
        return {"namespace": NAMESPACE, "job": self.service, "uri": self.uri, "method": self.method}


@dataclass
class Service:
    name: str
    deployments: list[float]
    # level -> log lines counter
    log_entries: dict[str, list[float]]

    @property
    def labels(self) -> dict[str, str]:
        return {"namespace": NAMESPACE, "job": self.name}


@dataclass
class Queue:
    name: str
    ready: list[float]
    unacked: list[float]
    consumers: list[float]
    delivered: list[float]
    published: list[float]
    utilisation: list[float]

    @property
    def labels(self) -> dict[str, str]:
        return {
            "namespace": NAMESPACE,
            "job": "rabbitmq",
            "instance": "rabbitmq-0:15692",
            "vhost": VHOST,
            "queue": self.name,
        }


@dataclass
class Database:
    # state -> backends
    activity: dict[str, list[float]]
    # lock mode -> locks
    locks: dict[str, list[float]]
    size: list[float]
    statements: tuple[dict[str, list[float]], list[float], list[float]]

    @property
    def labels(self) -> dict[str, str]:
        return {
            "namespace": NAMESPACE,
            "job": "postgres-exporter",
            "instance": "postgres-0:9187",
            "datname": DATABASE,
        }

    @property
    def backends(self) -> list[float]:
        return [sum(states) for states in zip(*self.activity.values(), strict=True)]


# Scrape targets besides the services' pods; always up.
EXPORTERS = {
    "kube-state-metrics": "kube-state-metrics:8080",
    "cadvisor": "cadvisor:8080",
    "postgres-exporter": "postgres-0:9187",
    "rabbitmq": "rabbitmq-0:15692",
}


class World:
    """The scenario's subjects (pods, endpoints, services, queues, the database) as series."""

    def __init__(self, scenario: Scenario, started_at: float):
        self.scenario = scenario
        self.timeline = Timeline(scenario, started_at)

    def rng(self, *key: str) -> random.Random:
        """A generator per series: one series' noise never depends on another's."""
        return random.Random(f"{self.scenario.seed}/{'/'.join(key)}")

    @cached_property
    def pods(self) -> list[Pod]:
        return [
            self._pod(s, index, pod) for s in SERVICES for index, pod in enumerate(initial_pods(s))
        ]

    @cached_property
    def endpoints(self) -> list[Endpoint]:
        return [self._endpoint(s, uri) for s in SERVICES for uri in URIS[s]]

    @cached_property
    def services(self) -> list[Service]:
        return [self._service(s) for s in SERVICES]

    @cached_property
    def queues(self) -> list[Queue]:
        return [q for name in QUEUES for q in (self._queue(name), self._dead_letters(name))]

    @cached_property
    def database(self) -> Database:
        return self._database()

    def exporters_up(self) -> Iterator[Series]:
        for job, instance in EXPORTERS.items():
            labels = {"namespace": NAMESPACE, "job": job, "instance": instance}
            yield Series(labels, constant(self.timeline, 1))

    def _pod(self, service: str, index: int, pod: str) -> Pod:
        s, tl = self.scenario, self.timeline
        down = service in s.down_services
        restarted = self._restart_times(service, index)
        ratio = s.heap_ratio.get(service)
        pressure = heap_pressure(ratio) if ratio else 0.0
        under_pressure = [pressure if tl.during(t) else 0.0 for t in tl.times]

        heap_used = level(
            tl,
            self.rng(pod, "heap"),
            HEAP_MAX * self.rng(pod, "heap-ratio").uniform(0.42, 0.52),
            HEAP_MAX * ratio if ratio else None,
            jitter=0.005 if ratio else 0.03,
            wave=0.08,
        )
        heap_used = [min(v, HEAP_MAX * 0.995) for v in heap_used]
        nonheap_used = level(tl, self.rng(pod, "nonheap"), 150 * MiB, jitter=0.01)
        cpu_normal = self.rng(pod, "cpu-share").uniform(0.15, 0.35)
        cpu_rate = level(
            tl,
            self.rng(pod, "cpu"),
            cpu_normal,
            0.02 if down else cpu_normal + 0.8 * pressure,
            jitter=0.08,
        )
        return Pod(
            service=service,
            name=pod,
            up=[0.0 if down and tl.during(t) else 1.0 for t in tl.times],
            restarts=[bisect.bisect_right(restarted, t) for t in tl.times],
            memory=self._memory(pod, service, restarted, heap_used, nonheap_used),
            cpu_seconds=accumulate(cpu_rate, whole=False),
            heap_used=heap_used,
            nonheap_used=nonheap_used,
            gc={
                gc: self._collections(pod, gc, under_pressure, spec)
                for gc, spec in GARBAGE_COLLECTORS.items()
            },
        )

    def _restart_times(self, service: str, index: int) -> list[float]:
        """When the pod's container restarted (or will, within the history), in order."""
        s, tl = self.scenario, self.timeline
        if service in s.down_services:
            runs = scenarios.crash_runs(tl.incident_start, index, tl.times[-1])
            return [end for _, end in runs]
        if service in s.oom_services:
            return scenarios.oom_kills(tl.incident_start, tl.started_at, index)
        return []

    def _memory(
        self,
        pod: str,
        service: str,
        restarted: list[float],
        heap_used: list[float],
        nonheap_used: list[float],
    ) -> list[float]:
        s, tl = self.scenario, self.timeline
        # The JVM's heap and the rest of its memory, plus the container's own overhead.
        steady = [h + n + 96 * MiB for h, n in zip(heap_used, nonheap_used, strict=True)]
        if service in s.down_services:
            # Crash-looping: each attempt dies while the JVM is still starting.
            def incident(t: float) -> float:
                return 180 * MiB

        elif service in s.oom_services:
            # Saw-tooth: fills towards the limit until the kernel kills it, then starts over.
            spacing = tl.incident_seconds / (scenarios.OOM_RESTARTS + 1)

            def incident(t: float) -> float:
                since = max([tl.incident_start, *(r for r in restarted if r <= t)])
                return CONTAINER_MEMORY_LIMIT * (0.6 + 0.38 * min(1.0, (t - since) / spacing))

        else:
            return steady
        rng = self.rng(pod, "memory")
        return [
            incident(t) * (1 + rng.gauss(0, 0.005)) if tl.during(t) else m
            for t, m in zip(tl.times, steady, strict=True)
        ]

    def _collections(
        self,
        pod: str,
        gc: str,
        pressure: list[float],
        spec: tuple[float, float, float, float],
    ) -> tuple[list[float], list[float]]:
        per_second, extra_per_second, seconds, extra_seconds = spec
        rng = self.rng(pod, gc)
        rates = [(per_second + extra_per_second * p) * (1 + rng.gauss(0, 0.1)) for p in pressure]
        durations = [seconds + extra_seconds * p for p in pressure]
        spent = [r * d for r, d in zip(rates, durations, strict=True)]
        return accumulate(rates), accumulate(spent, whole=False)

    def _endpoint(self, service: str, uri: str) -> Endpoint:
        s, tl = self.scenario, self.timeline
        rng = self.rng("http", service, uri)
        per_second = rng.uniform(2, 20)
        normal_p95 = rng.uniform(0.08, 0.14)
        slow_p95 = s.slow_uris.get(service, {}).get(uri)
        failing = self._error_fraction(service, uri)
        rates = level(tl, rng, per_second, 0.0 if service in s.down_services else None)
        p95s = [slow_p95 if slow_p95 and tl.during(t) else normal_p95 for t in tl.times]
        server_errors = [
            failing if failing and tl.during(t) else NORMAL_5XX_FRACTION for t in tl.times
        ]
        method = "POST" if uri in POST_URIS else "GET"
        client_error = "400" if method == "POST" else "404"
        shares = {
            "200": [1 - NORMAL_4XX_FRACTION - e for e in server_errors],
            client_error: [NORMAL_4XX_FRACTION] * len(tl.times),
        } | {code: [share * e for e in server_errors] for code, share in SERVER_ERROR_CODES.items()}
        requests = {
            code: accumulate(r * f for r, f in zip(rates, fractions, strict=True))
            for code, fractions in shares.items()
        }
        return Endpoint(
            service=service,
            uri=uri,
            method=method,
            durations=histogram(rates, p95s, HTTP_BUCKETS),
            requests=requests,
        )

    def _error_fraction(self, service: str, uri: str) -> float | None:
        s = self.scenario
        if uri in s.error_uris.get(service, {}):
            return s.error_uris[service][uri]
        if service == GATEWAY and s.down_services and not uri.endswith("/health"):
            # The load balancer's 5xx: routes to a down backend answer 503 (the runbook's
            # "5xx errors from load balancer" symptom).
            return len(s.down_services) / (len(SERVICES) - 1)
        return None

    def _service(self, service: str) -> Service:
        s, tl = self.scenario, self.timeline
        rng = self.rng("deployments", service)
        # A routine rollout a few hours ago; a down service was rolled out just before it broke.
        rollouts = [tl.started_at - rng.uniform(1.5, 2.7) * 3600]
        if service in s.down_services:
            rollouts.append(tl.incident_start - 120)
        past = rng.randint(20, 60)
        deployments = [past + sum(t >= r for r in rollouts) for t in tl.times]
        extra = self._incident_log_levels(service)
        log_entries = {
            lvl: accumulate(
                level(
                    tl,
                    self.rng("logs", service, lvl),
                    per_second,
                    per_second + extra[lvl] if extra.get(lvl) else None,
                    jitter=0.1,
                )
            )
            for lvl, per_second in LOG_RATES.items()
        }
        return Service(name=service, deployments=deployments, log_entries=log_entries)

    def _incident_log_levels(self, service: str) -> dict[str, float]:
        """Extra log lines per second by level during the incident, from what the service logs.

        The level of a scenario's log line is its first word (ERROR, WARN), as in the pods' logs.
        """
        s = self.scenario
        levels = [line.split(maxsplit=1)[0].lower() for line in s.log_errors.get(service, ())]
        if service in s.down_services or service in s.oom_services or service in s.error_uris:
            levels.append("error")
        extra: dict[str, float] = {}
        for lvl in levels:
            extra[lvl] = extra.get(lvl, 0.0) + INCIDENT_LOG_RATE
        return extra

    def _queue(self, name: str) -> Queue:
        s, tl = self.scenario, self.timeline
        rng = self.rng("queue", name)
        backlog = s.queue_backlog.get(name)
        consumers = s.queue_consumers.get(name, CONSUMERS_PER_QUEUE)
        if backlog and tl.incident_start is not None:
            growth = backlog / tl.incident_seconds
            # Published so that what is not delivered piles up to the backlog by "up".
            published = growth / (1 - LAGGING_DELIVERY_FRACTION)
            delivering = published * LAGGING_DELIVERY_FRACTION
            start = tl.incident_start
            ready = level(tl, rng, 1.5, lambda t: growth * (t - start), jitter=0.002, wave=0.5)
            unacked = level(tl, rng, CONSUMERS_PER_QUEUE, consumers, jitter=0.0, wave=0.5)
            utilisation = level(tl, rng, HEALTHY_UTILISATION, LAGGING_UTILISATION, jitter=0.05)
        else:
            published = delivering = rng.uniform(0.6, 3.0)
            ready = level(tl, rng, 1.5, jitter=0.01, wave=0.5)
            unacked = level(tl, rng, CONSUMERS_PER_QUEUE, jitter=0.0, wave=0.5)
            utilisation = level(tl, rng, HEALTHY_UTILISATION, jitter=0.02)
        return Queue(
            name=name,
            ready=[round(v) for v in ready],
            unacked=[round(v) for v in unacked],
            consumers=[consumers if tl.during(t) else CONSUMERS_PER_QUEUE for t in tl.times],
            delivered=accumulate(level(tl, rng, published, delivering, jitter=0.1)),
            published=accumulate(level(tl, rng, published, jitter=0.1)),
            utilisation=[min(v, 1.0) for v in utilisation],
        )

    def _dead_letters(self, queue: str) -> Queue:
        """A dead-letter queue: nobody consumes it, so what is dead-lettered stays ready."""
        tl = self.timeline
        published = accumulate(constant(tl, DEAD_LETTERS_PER_SECOND))
        zeros = constant(tl, 0)
        return Queue(f"{queue}.dlq", published, zeros, zeros, zeros, published, zeros)

    def _database(self) -> Database:
        s, tl = self.scenario, self.timeline
        incident = dict.fromkeys([*PG_ACTIVITY, *PG_LOCKS], 0)
        for fact, adds in ((s.pg_long_query, PG_LONG_QUERY), (s.pg_lock_wait, PG_LOCK_WAIT)):
            for key, n in adds.items():
                incident[key] += n if fact else 0
        incident["idle"] += s.pg_idle_sessions

        def gauges(normal: dict[str, int]) -> dict[str, list[float]]:
            return {
                key: [
                    round(v)
                    for v in level(
                        tl,
                        self.rng("pg", key),
                        n,
                        n + incident[key] if incident[key] else None,
                        jitter=0.04,
                        wave=0.1,
                    )
                ]
                for key, n in normal.items()
            }

        p95 = STATEMENT_P95[
            "slow" if s.pg_slow_statement else "lock_wait" if s.pg_lock_wait else "normal"
        ]
        statements = level(tl, self.rng("pg", "statements"), 150.0, jitter=0.05)
        return Database(
            activity=gauges(PG_ACTIVITY),
            locks=gauges(PG_LOCKS),
            size=[round(1.3 * 1024 * MiB + 40_000 * (t - tl.start)) for t in tl.times],
            statements=histogram(
                statements,
                [p95 if tl.during(t) else STATEMENT_P95["normal"] for t in tl.times],
                STATEMENT_BUCKETS,
            ),
        )


def histogram_series(
    labels: dict[str, str], observed: tuple[dict[str, list[float]], list[float], list[float]]
) -> Iterator[Series]:
    by_le, sums, counts = observed
    for le, values in by_le.items():
        yield Series(labels | {"le": le}, values, "_bucket")
    yield Series(labels, sums, "_sum")
    yield Series(labels, counts, "_count")


@dataclass(frozen=True)
class Family:
    """A metric family: its OpenMetrics name (counters without `_total`), type, help, series."""

    name: str
    type: str
    help: str
    series: Callable[[World], Iterable[Series]]


FAMILIES = (
    Family(
        "up",
        "gauge",
        "1 if the target's last scrape succeeded, 0 if it failed.",
        lambda w: [*(Series(p.target, p.up) for p in w.pods), *w.exporters_up()],
    ),
    Family(
        "deployment_events",
        "counter",
        "Rollouts of the deployment.",
        lambda w: (Series(s.labels | {"deployment": s.name}, s.deployments) for s in w.services),
    ),
    Family(
        "kube_pod_container_restart",
        "counter",
        "Restarts of the container (kube-state-metrics).",
        lambda w: (Series(p.container("kube-state-metrics"), p.restarts) for p in w.pods),
    ),
    Family(
        "container_memory_usage_bytes",
        "gauge",
        "Container memory usage (cAdvisor).",
        lambda w: (Series(p.container("cadvisor"), p.memory) for p in w.pods),
    ),
    Family(
        "container_spec_memory_limit_bytes",
        "gauge",
        "Container memory limit (cAdvisor).",
        lambda w: (
            Series(p.container("cadvisor"), constant(w.timeline, CONTAINER_MEMORY_LIMIT))
            for p in w.pods
        ),
    ),
    Family(
        "container_cpu_usage_seconds",
        "counter",
        "CPU time the container used (cAdvisor).",
        lambda w: (Series(p.container("cadvisor"), p.cpu_seconds) for p in w.pods),
    ),
    Family(
        "http_request_duration_seconds",
        "histogram",
        "HTTP server request latency.",
        lambda w: (s for e in w.endpoints for s in histogram_series(e.labels, e.durations)),
    ),
    Family(
        "http_requests",
        "counter",
        "HTTP requests served, by status code.",
        lambda w: (
            Series(e.labels | {"code": code}, values)
            for e in w.endpoints
            for code, values in e.requests.items()
        ),
    ),
    Family(
        "jvm_memory_used_bytes",
        "gauge",
        "JVM memory in use.",
        lambda w: (
            s
            for p in w.pods
            for s in (
                Series(p.target | {"area": "heap"}, p.heap_used),
                Series(p.target | {"area": "nonheap"}, p.nonheap_used),
            )
        ),
    ),
    Family(
        "jvm_memory_max_bytes",
        "gauge",
        "JVM memory the pool may grow to.",
        lambda w: (
            Series(p.target | {"area": area}, constant(w.timeline, size))
            for p in w.pods
            for area, size in (("heap", HEAP_MAX), ("nonheap", NONHEAP_MAX))
        ),
    ),
    Family(
        "jvm_gc_collection_seconds",
        "summary",
        "Time spent in garbage collections.",
        lambda w: (
            s
            for p in w.pods
            for gc, (collections, seconds) in p.gc.items()
            for s in (
                Series(p.target | {"gc": gc}, collections, "_count"),
                Series(p.target | {"gc": gc}, seconds, "_sum"),
            )
        ),
    ),
    Family(
        "log_entries",
        "counter",
        "Log lines written, by level.",
        lambda w: (
            Series(s.labels | {"level": lvl}, values)
            for s in w.services
            for lvl, values in s.log_entries.items()
        ),
    ),
    Family(
        "pg_stat_database_numbackends",
        "gauge",
        "Backends connected to the database.",
        lambda w: [Series(w.database.labels, w.database.backends)],
    ),
    Family(
        "pg_settings_max_connections",
        "gauge",
        # postgres_exporter has no datname here; the runbook divides numbackends by it with
        # plain one-to-one matching, so it carries the database's labels to match.
        "PostgreSQL max_connections.",
        lambda w: [Series(w.database.labels, constant(w.timeline, MAX_CONNECTIONS))],
    ),
    Family(
        "pg_stat_activity_count",
        "gauge",
        "Backends by state.",
        lambda w: (
            Series(w.database.labels | {"state": state}, values)
            for state, values in w.database.activity.items()
        ),
    ),
    Family(
        "pg_locks_count",
        "gauge",
        "Locks held or awaited, by mode.",
        lambda w: (
            Series(w.database.labels | {"mode": mode}, values)
            for mode, values in w.database.locks.items()
        ),
    ),
    Family(
        "pg_database_size_bytes",
        "gauge",
        "Disk space the database uses.",
        lambda w: [Series(w.database.labels, w.database.size)],
    ),
    Family(
        "pg_stat_statements_mean_time_seconds",
        "histogram",
        "Statement execution time (pg_stat_statements).",
        lambda w: histogram_series(w.database.labels, w.database.statements),
    ),
    *(
        Family(
            f"rabbitmq_queue_{field}",
            kind,
            text,
            lambda w, attr=attr: (Series(q.labels, getattr(q, attr)) for q in w.queues),
        )
        for field, kind, text, attr in (
            ("messages_ready", "gauge", "Messages ready to be delivered.", "ready"),
            ("messages_unacked", "gauge", "Messages delivered, not yet acknowledged.", "unacked"),
            ("consumers", "gauge", "Consumers on the queue.", "consumers"),
            ("messages_delivered", "counter", "Messages delivered to consumers.", "delivered"),
            ("messages_published", "counter", "Messages published to the queue.", "published"),
            (
                "consumer_utilisation",
                "gauge",
                "Share of time the queue could deliver to its consumers at once.",
                "utilisation",
            ),
        )
    ),
)

DEFAULT_SUFFIX = {"counter": "_total"}


def write_history(path: Path, scenario: Scenario, started_at: float) -> int:
    """Write the scenario's history as OpenMetrics to `path`; return how many samples."""
    world = World(scenario, started_at)
    stamps = [f"{t:.3f}" for t in world.timeline.times]
    samples = 0
    with path.open("w") as out:
        for family in FAMILIES:
            out.write(f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.type}\n")
            for series in family.series(world):
                suffix = (
                    DEFAULT_SUFFIX.get(family.type, "") if series.suffix is None else series.suffix
                )
                prefix = f"{family.name}{suffix}{_labels(series.labels)} "
                out.writelines(
                    f"{prefix}{_number(v)} {ts}\n"
                    for v, ts in zip(series.values, stamps, strict=True)
                )
                samples += len(stamps)
        out.write("# EOF\n")
    return samples


_LABEL_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v.translate(_LABEL_ESCAPES)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    # Ten significant digits: bytes and counters stay exact enough, lines stay short.
    return f"{value:.10g}"
