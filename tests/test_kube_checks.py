"""The Kubernetes checks on each scenario: the findings it planted, and no false alarm."""

from __future__ import annotations

import pytest
from test_kube_reads import write_unreachable_kubeconfig

from hopngo_ops.checks import kubernetes as checks
from hopngo_ops.runbook import Runbook
from hopngo_ops.sandbox.scenarios import OOM_ERROR, SERVICES

ALL_CHECKS = (
    checks.pod_status,
    checks.pod_events,
    checks.log_patterns,
    checks.rollout_status,
    checks.top_pods,
    checks.top_nodes,
    checks.node_conditions,
    checks.database_connectivity,
)


def open_runbook(service: str) -> Runbook:
    return Runbook.open("kube-checks", profile="sandbox", service=service)


def severities(step) -> list[str]:
    return [f.severity for f in step.findings]


@pytest.mark.parametrize("service", SERVICES)
def test_healthy_has_no_critical_finding(sandbox, service):
    rb = open_runbook(service)
    for run in ALL_CHECKS:
        step = run(rb)
        assert step.error is None, (step.title, step.error)
    for pattern_set in ("errors_by_kind", "pool_exhausted", "heap"):
        checks.log_patterns(rb, pattern_set=pattern_set)
    assert rb.status == "ok"
    assert [f for f in rb.findings if f.severity == "critical"] == []


def test_checks_say_what_they_stand_for(sandbox):
    rb = open_runbook("booking-service")
    assert "kubectl get pods -l app=booking-service" in checks.pod_status(rb).note
    note = checks.database_connectivity(rb).note
    assert "nc -zv postgres-service 5432" in note and "TCP connection" in note


@pytest.mark.scenario("service_down")
def test_service_down_crash_loop_and_pool_exhausted(sandbox):
    rb = open_runbook("booking-service")
    status = checks.pod_status(rb)
    crash = [f for f in status.findings if "CrashLoopBackOff" in f.message]
    assert crash and crash[0].severity == "critical" and "restarts" in crash[0].message
    assert any("no pod ready" in f.message for f in status.findings)
    logs = checks.log_patterns(rb, pattern_set="pool_exhausted", since="10m")
    [finding] = logs.findings
    assert finding.severity == "critical"
    assert "'connection pool exhausted'" in finding.message and "in the last 10m" in finding.message
    assert "HikariPool-1" in finding.evidence["samples"][0]
    assert "critical" in severities(checks.rollout_status(rb))
    assert "warning" in severities(checks.pod_events(rb))


@pytest.mark.scenario("jvm_memory")
def test_jvm_memory_oom_killed_and_heap_errors(sandbox):
    rb = open_runbook("market-service")
    oom = [f for f in checks.pod_status(rb).findings if "OOMKilled" in f.message]
    assert oom and oom[0].severity == "critical"
    heap = checks.log_patterns(rb, pattern_set="heap")
    assert any(OOM_ERROR in s for f in heap.findings for s in f.evidence["samples"])
    assert "critical" in severities(heap)
    assert any(
        "memory limit" in f.message for f in checks.top_pods(rb, service="market-service").findings
    )


@pytest.mark.scenario("high_error_rate")
def test_high_error_rate_timeout_and_connection(sandbox):
    rb = open_runbook("auth-service")
    step = checks.log_patterns(rb, pattern_set="errors_by_kind", since="10m")
    matched = {row.match for row in step.table.itertuples() if row.count}
    assert matched == {"Timeout", "Connection"}
    assert any("'Timeout'" in f.message for f in step.findings)
    assert any("'Connection'" in f.message for f in step.findings)


def test_unreachable_api_degrades_the_step(unreachable_profile):
    rb = Runbook.open("kube-checks", profile=unreachable_profile, service="gateway")
    step = checks.pod_status(rb)
    assert step.title == "Pod status"
    assert step.error.startswith("kubernetes at http://127.0.0.1:")
    assert "is unavailable" in step.error and "Connection refused" in step.error
    assert rb.status == "degraded"
    assert rb.summary().record()["failed_steps"] == ["Pod status"]


@pytest.fixture
def unreachable_profile(tmp_path, monkeypatch) -> str:
    """A profile whose kubeconfig (set through HOPNGO_KUBECONFIG) names a closed port."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "unreachable.yaml").write_text("namespace: hopngo\nkube_context: gone\n")
    monkeypatch.setenv("HOPNGO_PROFILES_DIR", str(profiles))
    monkeypatch.setenv("HOPNGO_KUBECONFIG", write_unreachable_kubeconfig(tmp_path))
    return "unreachable"
