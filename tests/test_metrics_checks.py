"""The PromQL checks against the sandbox's real Prometheus: each scenario's planted symptom is
found, the healthy platform raises no critical finding, failures are told apart and reported."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from hopngo_ops.checks import metrics
from hopngo_ops.errors import BackendUnavailable, InvalidName
from hopngo_ops.prometheus import Prometheus, QueryError
from hopngo_ops.runbook import Runbook
from hopngo_ops.sandbox.scenarios import LATENCY_SLO_SECONDS, SERVICES

SERVICE_CHECKS = (
    metrics.target_up,
    metrics.recent_deployments,
    metrics.container_restarts,
    metrics.resource_usage,
    metrics.latency_by_uri,
    metrics.request_rate_by_uri,
    metrics.database_query_latency,
    metrics.gc_impact,
    metrics.errors_by_code_and_uri,
    metrics.error_rate_by_service,
    metrics.error_log_rate,
    metrics.heap_utilisation,
    metrics.gc_frequency,
    metrics.gc_time,
    metrics.system_overview,
)


def open_runbook(service: str, notebook: str = "test") -> Runbook:
    return Runbook.open(notebook, profile="sandbox", service=service)


def findings_of(step, severity: str) -> list:
    assert step.error is None, step.error
    return [f for f in step.findings if f.severity == severity]


@pytest.mark.scenario("healthy")
@pytest.mark.parametrize("service", SERVICES)
def test_healthy_raises_no_critical_finding(sandbox, service):
    rb = open_runbook(service)
    for run in SERVICE_CHECKS:
        step = run(rb)
        assert step.error is None, f"{step.title}: {step.error}"
        assert step.table is not None and not step.table.empty, step.title
    assert [f for f in rb.findings if f.severity == "critical"] == []
    assert rb.status == "ok"


@pytest.mark.scenario("healthy")
def test_frames_are_tidy(sandbox):
    prometheus = Prometheus(sandbox["prometheus_url"])
    now = prometheus.instant("p95_latency_by_uri", service="market-service")
    assert list(now.columns) == ["uri", "value"]
    assert sorted(now["uri"]) == ["/api/market/checkout", "/api/market/listings"]
    end = pd.Timestamp.now(tz="UTC")
    history = prometheus.range(
        "heap_utilisation",
        service="auth-service",
        start=end - pd.Timedelta("10m"),
        end=end,
        step=60,
    )
    assert list(history.columns) == ["timestamp", "pod", "value"]
    assert str(history["timestamp"].dt.tz) == "UTC"
    assert history.groupby("pod").size().tolist() == [11, 11]
    assert history["value"].between(0, 100).all()


@pytest.mark.scenario("service_down")
def test_service_down_finds_the_target_down_and_restarts(sandbox):
    rb = open_runbook("booking-service", "service_down")
    (down,) = findings_of(metrics.target_up(rb), "critical")
    assert "booking-service is down: 0 of 3 targets up" in down.message

    restarts = metrics.container_restarts(rb, threshold=3)
    (crash_loop,) = findings_of(restarts, "critical")
    assert len(crash_loop.evidence["values"]) == 3
    assert all(pod.startswith("booking-service-") for pod in crash_loop.evidence["values"])

    assert findings_of(metrics.recent_deployments(rb), "warning")
    assert findings_of(metrics.request_rate_by_uri(rb), "warning")
    overview = metrics.system_overview(rb)
    assert any("booking-service 100%" in f.message for f in findings_of(overview, "critical"))


@pytest.mark.scenario("high_latency")
def test_high_latency_finds_checkout_over_the_slo(sandbox):
    rb = open_runbook("market-service", "high_latency")
    step = metrics.latency_by_uri(rb, slo_seconds=LATENCY_SLO_SECONDS)
    (over_slo,) = findings_of(step, "critical")
    assert list(over_slo.evidence["values"]) == ["/api/market/checkout"]
    assert over_slo.evidence["values"]["/api/market/checkout"] > 4 * LATENCY_SLO_SECONDS
    assert step.figure is not None
    one_uri = metrics.latency_by_uri(rb, uri="/api/market/checkout")
    assert list(one_uri.table["uri"]) == ["/api/market/checkout"]
    assert findings_of(metrics.database_query_latency(rb), "critical")
    assert findings_of(metrics.gc_impact(rb), "warning")


@pytest.mark.scenario("high_error_rate")
def test_high_error_rate_finds_login_failing(sandbox):
    rb = open_runbook("auth-service", "high_error_rate")
    (failing,) = findings_of(metrics.errors_by_code_and_uri(rb), "critical")
    assert list(failing.evidence["values"]) == ["/api/auth/login"]
    assert failing.evidence["values"]["/api/auth/login"] == pytest.approx(0.25, abs=0.03)
    by_service = findings_of(metrics.error_rate_by_service(rb, threshold=0.05), "critical")
    assert [list(f.evidence["values"]) for f in by_service] == [["auth-service"]]
    assert findings_of(metrics.error_log_rate(rb), "critical")


@pytest.mark.scenario("jvm_memory")
def test_jvm_memory_finds_the_heap_full(sandbox):
    rb = open_runbook("market-service", "jvm_memory")
    step = metrics.heap_utilisation(rb, threshold_percent=90)
    (full,) = findings_of(step, "critical")
    assert len(full.evidence["values"]) == 2
    assert all(95 <= percent <= 100 for percent in full.evidence["values"].values())
    assert step.figure is not None
    assert findings_of(metrics.gc_time(rb), "critical")
    assert findings_of(metrics.gc_frequency(rb), "critical")


@pytest.mark.scenario("healthy")
def test_unreachable_prometheus_degrades_the_step_quickly(sandbox, monkeypatch):
    monkeypatch.setenv("HOPNGO_PROMETHEUS_URL", "http://127.0.0.1:1")
    rb = open_runbook("booking-service")
    started = time.monotonic()
    step = metrics.target_up(rb)
    assert time.monotonic() - started < 5, "a refused connection must not be retried for long"
    assert step.title == "Is the service up? (up)"
    assert "prometheus at http://127.0.0.1:1 is unavailable: cannot connect" in step.error
    assert step.findings == [] and rb.status == "degraded"


@pytest.mark.scenario("healthy")
def test_a_bad_query_is_not_an_outage(sandbox):
    prometheus = Prometheus(sandbox["prometheus_url"])
    with pytest.raises(QueryError) as refused:
        prometheus.raw("query", query="sum(up")
    assert not isinstance(refused.value, BackendUnavailable)
    assert "sum(up" in str(refused.value)


@pytest.mark.scenario("healthy")
def test_a_refused_name_sends_no_query(sandbox):
    query_log = Path(sandbox["state_dir"]) / "prometheus" / "query.log"
    prometheus = Prometheus(sandbox["prometheus_url"])
    # A valid query first, so the log is shown to record what is sent.
    prometheus.instant("target_up", service="gateway")
    injection = 'booking"} or vector(1) #'
    with pytest.raises(InvalidName):
        prometheus.instant("target_up", service=injection)
    with pytest.raises(InvalidName):
        open_runbook(injection)
    sent = [json.loads(line)["params"]["query"] for line in query_log.read_text().splitlines()]
    assert 'up{job="gateway"}' in sent
    assert not [q for q in sent if "vector(1)" in q or 'booking"' in q]
