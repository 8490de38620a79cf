"""The sandbox's Prometheus: the real server answering the runbook's PromQL on each scenario.

Each scenario's Prometheus starts once for this module (history generation, promtool backfill
and start take about a second) without the rest of the sandbox.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_api_client import PrometheusConnect

from hopngo_ops.errors import MissingBinary, SandboxError
from hopngo_ops.sandbox import metrics, procs, prometheus, scenarios
from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.scenarios import (
    HISTORY_AHEAD_MINUTES,
    HISTORY_HOURS,
    LATENCY_SLO_SECONDS,
    QUEUES,
    SCENARIOS,
    SERVICES,
    initial_pods,
)

# The runbook's PromQL, verbatim; `service-name` stands for the scenario's affected service.
RUNBOOK_QUERIES = (
    'up{job="service-name"}',
    "rate(deployment_events_total[1h])",
    "increase(kube_pod_container_restart_total[1h])",
    'container_memory_usage_bytes{pod=~"service-name.*"}',
    'rate(container_cpu_usage_seconds_total{pod=~"service-name.*"}[5m])',
    "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (uri, le))",
    "sum(rate(http_requests_total[5m])) by (uri)",
    "histogram_quantile(0.95, sum(rate(pg_stat_statements_mean_time_seconds_bucket[5m])) by (le))",
    "rate(jvm_gc_collection_seconds_sum[5m])",
    'sum(rate(http_requests_total{code=~"5.."}[5m])) by (code, uri)',
    'sum(rate(http_requests_total{code=~"5.."}[5m])) by (job)',
    'increase(log_entries_total{level="error"}[10m])',
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_consumers",
    "rate(rabbitmq_queue_messages_delivered_total[5m])",
    "rabbitmq_queue_consumer_utilisation",
    "pg_stat_database_numbackends / pg_settings_max_connections * 100",
    'pg_stat_activity_count{state="active"}',
    'pg_locks_count{mode="AccessExclusiveLock"}',
    "pg_database_size_bytes",
    'jvm_memory_used_bytes{area="heap"} / jvm_memory_max_bytes{area="heap"} * 100',
    "rate(jvm_gc_collection_seconds_count[5m])",
    'up{job=~"gateway|booking-service|market-service|auth-service"}',
    "sum(rate(http_requests_total[5m])) by (job)",
    'sum(rate(http_requests_total{code=~"5.."}[5m])) by (job)'
    " / sum(rate(http_requests_total[5m])) by (job)",
    "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (job, le))",
    "sum(rate(container_cpu_usage_seconds_total[5m])) by (pod)",
    "sum(container_memory_usage_bytes) by (pod)",
)
ERROR_RATIO_BY_URI = (
    'sum(rate(http_requests_total{code=~"5.."}[5m])) by (uri)'
    " / sum(rate(http_requests_total[5m])) by (uri)"
)
P95_BY_URI = (
    "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{job=%r}[5m]))"
    " by (uri, le))"
)
LOWEST_MEMORY = f"min_over_time(container_memory_usage_bytes[{HISTORY_HOURS}h])"
HEAP_PERCENT = 'jvm_memory_used_bytes{area="heap"} / jvm_memory_max_bytes{area="heap"} * 100'


@dataclass
class Running:
    ctx: SandboxContext
    client: PrometheusConnect

    def by(self, query: str, label: str) -> dict[str, float]:
        """The query's value at now, keyed by `label` (one series per value expected)."""
        result = self.client.custom_query(query)
        values = {r["metric"].get(label, ""): float(r["value"][1]) for r in result}
        assert len(values) == len(result), f"{query} has several series per {label}"
        return values

    def one(self, query: str) -> float:
        (value,) = self.by(query, "__none__").values()
        return value


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory):
    """prom(scenario) -> its running Prometheus, started on first use, stopped at the end."""
    running: dict[str, Running] = {}
    contexts: list[SandboxContext] = []

    def get(name: str) -> Running:
        if name not in running:
            ctx = SandboxContext(tmp_path_factory.mktemp(name), SCENARIOS[name], time.time())
            contexts.append(ctx)
            url = prometheus.start(ctx)["prometheus_url"]
            running[name] = Running(ctx, PrometheusConnect(url, disable_ssl=True))
        return running[name]

    yield get
    for ctx in contexts:
        for proc in ctx.procs:
            procs.stop_pid(proc.pid)


def test_healthy_nothing_is_off(prom):
    p = prom("healthy")
    assert set(p.by("min by (job) (up)", "job").values()) == {1.0}
    ratios = p.by(
        'sum(rate(http_requests_total{code=~"5.."}[5m])) by (job)'
        " / sum(rate(http_requests_total[5m])) by (job)",
        "job",
    )
    assert set(ratios) == set(SERVICES) and max(ratios.values()) < 0.005
    p95s = p.by(
        "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m]))"
        " by (job, le))",
        "job",
    )
    assert max(p95s.values()) < LATENCY_SLO_SECONDS
    assert max(p.by(f"max by (job) ({HEAP_PERCENT})", "job").values()) < 65
    assert p.one("pg_stat_database_numbackends / pg_settings_max_connections * 100") < 40
    assert p.one('pg_locks_count{mode="AccessExclusiveLock"}') == 0
    assert max(p.by("rabbitmq_queue_messages_ready", "queue").values()) < 20
    assert {p.by("rabbitmq_queue_consumers", "queue")[q] for q in QUEUES} == {2}
    assert min(p.by("rabbitmq_queue_consumer_utilisation", "queue")[q] for q in QUEUES) > 0.8
    assert max(p.by("increase(kube_pod_container_restart_total[1h])", "pod").values()) == 0
    assert max(p.by("rate(deployment_events_total[1h])", "job").values()) == 0


def test_service_down_shows_the_target_down_and_crash_loop(prom):
    p = prom("service_down")
    up = p.by('up{job="booking-service"}', "pod")
    assert up == dict.fromkeys(initial_pods("booking-service"), 0.0)
    assert p.by("min by (job) (up)", "job") | {"booking-service": 1.0} == dict.fromkeys(
        [*SERVICES, "kube-state-metrics", "cadvisor", "postgres-exporter", "rabbitmq"], 1.0
    )
    deployments = p.by("rate(deployment_events_total[1h])", "job")
    assert {job for job, rate in deployments.items() if rate > 0} == {"booking-service"}
    restarts = p.by("increase(kube_pod_container_restart_total[1h])", "pod")
    assert {pod for pod, n in restarts.items() if n > 0} == set(initial_pods("booking-service"))
    assert p.one('sum(rate(http_requests_total{job="booking-service"}[5m]))') == 0
    assert min(p.by(LOWEST_MEMORY, "pod").values()) > 128 * metrics.MiB
    errors = p.by('increase(log_entries_total{level="error"}[10m])', "job")
    assert max(errors, key=errors.get) == "booking-service"


def test_high_latency_checkout_p95_is_the_scenarios(prom):
    p = prom("high_latency")
    p95s = p.by(P95_BY_URI % "market-service", "uri")
    assert p95s["/api/market/checkout"] == pytest.approx(2.4, rel=0.25)
    assert p95s["/api/market/listings"] < LATENCY_SLO_SECONDS
    statements = p.one(
        "histogram_quantile(0.95,"
        " sum(rate(pg_stat_statements_mean_time_seconds_bucket[5m])) by (le))"
    )
    assert statements > 1
    gc = p.by("sum by (job) (rate(jvm_gc_collection_seconds_sum[5m]))", "job")
    assert gc["market-service"] > 5 * max(v for job, v in gc.items() if job != "market-service")


def test_high_error_rate_login_answers_5xx_for_a_quarter(prom):
    p = prom("high_error_rate")
    ratios = p.by(ERROR_RATIO_BY_URI, "uri")
    assert ratios["/api/auth/login"] == pytest.approx(0.25, abs=0.04)
    assert max(v for uri, v in ratios.items() if uri != "/api/auth/login") < 0.01
    errors = p.by('increase(log_entries_total{level="error"}[10m])', "job")
    assert max(errors, key=errors.get) == "auth-service"


def test_jvm_memory_heap_is_full_and_pods_were_oom_killed(prom):
    p = prom("jvm_memory")
    heap = p.by(HEAP_PERCENT, "pod")
    market = initial_pods("market-service")
    assert [round(heap[pod]) for pod in market] == [97] * len(market)
    assert max(v for pod, v in heap.items() if pod not in market) < 65
    restarts = p.by("kube_pod_container_restart_total", "pod")
    assert {pod: restarts[pod] for pod in market} == dict.fromkeys(market, scenarios.OOM_RESTARTS)
    memory = p.by('container_memory_usage_bytes{pod=~"market-service.*"}', "pod")
    assert min(memory.values()) > 0.8 * metrics.CONTAINER_MEMORY_LIMIT
    # A saw-tooth: each pod touched the limit before a kill, and started over after it.
    peaks = p.by('max_over_time(container_memory_usage_bytes{pod=~"market-service.*"}[1h])', "pod")
    troughs = p.by(
        'min_over_time(container_memory_usage_bytes{pod=~"market-service.*"}[30m])', "pod"
    )
    assert min(peaks.values()) > 0.95 * metrics.CONTAINER_MEMORY_LIMIT
    assert max(troughs.values()) < 0.7 * metrics.CONTAINER_MEMORY_LIMIT
    assert min(p.by(LOWEST_MEMORY, "pod").values()) > 128 * metrics.MiB
    gc = p.by("sum by (job) (rate(jvm_gc_collection_seconds_count[5m]))", "job")
    assert gc["market-service"] > 5 * gc["booking-service"]


def test_database_issues_near_connection_saturation_with_a_lock_wait(prom):
    p = prom("database_issues")
    assert p.one("pg_stat_database_numbackends / pg_settings_max_connections * 100") > 85
    assert p.one('pg_locks_count{mode="AccessExclusiveLock"}') >= 1
    states = p.by("pg_stat_activity_count", "state")
    assert states["active"] > 3 and states["idle in transaction"] >= 2
    assert sum(states.values()) == p.one("pg_stat_database_numbackends")


def test_queue_lag_backlog_and_a_single_slow_consumer(prom):
    p = prom("queue_lag")
    ready = p.by("rabbitmq_queue_messages_ready", "queue")
    assert ready["booking.events"] == pytest.approx(1500, rel=0.05)
    assert max(v for q, v in ready.items() if q != "booking.events") < 20
    assert p.by("rabbitmq_queue_consumers", "queue")["booking.events"] == 1
    delivered = p.by("rate(rabbitmq_queue_messages_delivered_total[5m])", "queue")
    published = p.by("rate(rabbitmq_queue_messages_published_total[5m])", "queue")
    assert delivered["booking.events"] < 0.5 * published["booking.events"]
    utilisation = p.by("rabbitmq_queue_consumer_utilisation", "queue")
    assert utilisation["booking.events"] < 0.5 < utilisation["market.orders"]


def test_range_query_shows_the_incident_start(prom):
    p = prom("service_down")
    started_at = p.ctx.started_at
    incident = p.ctx.incident_start
    series = p.client.custom_query_range(
        'min(up{job="booking-service"})',
        start_time=_datetime(started_at - 2 * 3600),
        end_time=_datetime(started_at),
        step="60",
    )
    (points,) = [s["values"] for s in series]
    assert len(points) == 121
    before = {float(v) for t, v in points if t < incident - 60}
    after = {float(v) for t, v in points if t >= incident + 60}
    assert before == {1.0} and after == {0.0}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_runbook_query_answers(prom, scenario):
    p = prom(scenario)
    planted = SCENARIOS[scenario]
    affected = [*planted.down_services, *planted.oom_services, *planted.slow_uris]
    affected += [*planted.error_uris, *planted.heap_ratio, *planted.log_errors]
    service = (affected or ["booking-service"])[0]
    for query in RUNBOOK_QUERIES:
        values = [
            float(r["value"][1])
            for r in p.client.custom_query(query.replace("service-name", service))
        ]
        assert any(math.isfinite(v) for v in values), f"{scenario}: {query} gave {values}"


def test_the_query_log_records_what_was_asked(prom):
    p = prom("healthy")
    p.client.custom_query('pg_database_size_bytes{datname="hopngo"}')
    log = p.ctx.state_dir / "prometheus" / "query.log"
    assert 'pg_database_size_bytes{datname=\\"hopngo\\"}' in log.read_text()


def test_history_is_deterministic_and_runs_past_now(tmp_path):
    scenario = SCENARIOS["jvm_memory"]
    started_at = 1_800_000_000.0
    first, second = tmp_path / "a.om", tmp_path / "b.om"
    samples = metrics.write_history(first, scenario, started_at)
    metrics.write_history(second, scenario, started_at)
    assert _sha256(first) == _sha256(second)
    lines = first.read_text().splitlines()
    assert lines[-1] == "# EOF"
    assert samples == sum(1 for line in lines if not line.startswith("#"))
    # Every series shares the sample times: the first series shows them all.
    (first_sample, last_sample) = (lines[2], lines[-2])
    assert float(first_sample.rsplit(" ", 1)[1]) == started_at - HISTORY_HOURS * 3600
    assert float(last_sample.rsplit(" ", 1)[1]) == started_at + HISTORY_AHEAD_MINUTES * 60


def test_missing_binary_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    ctx = SandboxContext(tmp_path, SCENARIOS["healthy"], time.time())
    with pytest.raises(MissingBinary) as raised:
        prometheus.start(ctx)
    assert raised.value.package == "prometheus"
    assert ctx.procs == []


def test_promtool_failure_raises_with_its_log(tmp_path, monkeypatch):
    def broken_history(path: Path, scenario, started_at: float) -> int:
        path.write_text("not openmetrics\n")
        return 0

    monkeypatch.setattr(metrics, "write_history", broken_history)
    ctx = SandboxContext(tmp_path, SCENARIOS["healthy"], time.time())
    with pytest.raises(SandboxError) as raised:
        prometheus.start(ctx)
    assert raised.value.component == "prometheus"
    assert Path(raised.value.log).read_text()
    assert ctx.procs == []


def _datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
