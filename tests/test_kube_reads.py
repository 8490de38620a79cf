"""hopngo_ops.kube against the sandbox's Kubernetes API, cross-checked with kubectl."""

from __future__ import annotations

import json
import os
import subprocess

import pandas as pd
import pytest

from hopngo_ops.config import Targets, load_targets
from hopngo_ops.errors import BackendUnavailable, InvalidName, NotFound
from hopngo_ops.kube import Kube
from hopngo_ops.sandbox.procs import free_port
from hopngo_ops.sandbox.scenarios import OOM_ERROR, POOL_EXHAUSTED, REPLICAS

BAD_SERVICES = ["booking-service; rm -rf /", "Booking", "", "a" * 254, "../pods", "app=x,y"]


@pytest.fixture
def kube(sandbox) -> Kube:
    return Kube.from_targets(load_targets("sandbox"))


def write_unreachable_kubeconfig(folder) -> str:
    """A kubeconfig (context `gone`) whose API server is a port nothing listens on."""
    path = folder / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "gone", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
                "current-context": "gone",
            }
        )
    )
    return str(path)


@pytest.fixture
def unreachable_kube(tmp_path) -> Kube:
    kubeconfig = write_unreachable_kubeconfig(tmp_path)
    targets = Targets(profile="test", kubeconfig=kubeconfig, kube_context="gone")
    return Kube.from_targets(targets)


def kubectl_json(sandbox: dict, tmp_path, *args: str) -> dict:
    """`kubectl ... -o json` against the sandbox, with its own HOME and cache."""
    home = tmp_path / "kubectl-home"
    home.mkdir(exist_ok=True)
    argv = [
        "kubectl",
        f"--kubeconfig={sandbox['kubeconfig']}",
        f"--context={sandbox['kube_context']}",
        f"--cache-dir={home / 'cache'}",
        f"--namespace={sandbox['namespace']}",
        *args,
        "-o",
        "json",
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(home)}
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- names and errors: no sandbox needed -------------------------------------------------


@pytest.mark.parametrize("service", BAD_SERVICES)
@pytest.mark.parametrize(
    "read",
    [
        lambda k, s: k.pods(s),
        lambda k, s: k.logs(s, since="10m"),
        lambda k, s: k.log_matches(s, "errors"),
        lambda k, s: k.rollout_status(s),
        lambda k, s: k.service_events(s),
        lambda k, s: k.top_pods(s),
        lambda k, s: k.describe_pod(s),
        lambda k, s: k.events("Pod", s),
    ],
)
def test_invalid_names_are_refused_before_any_request(unreachable_kube, read, service):
    # Any request would fail with BackendUnavailable: InvalidName proves none was made.
    with pytest.raises(InvalidName):
        read(unreachable_kube, service)


def test_invalid_kind_and_options_are_refused(unreachable_kube):
    with pytest.raises(InvalidName):
        unreachable_kube.events("pod; drop", "x")
    with pytest.raises(InvalidName):
        unreachable_kube.logs("gateway", since="10 minutes")
    with pytest.raises(ValueError, match="tail"):
        unreachable_kube.logs("gateway", tail=-1)
    with pytest.raises(ValueError, match="pattern set"):
        unreachable_kube.log_matches("gateway", "rm -rf")


def test_unreachable_api_is_backend_unavailable(unreachable_kube):
    with pytest.raises(BackendUnavailable) as raised:
        unreachable_kube.pods("gateway")
    assert raised.value.backend == "kubernetes"
    assert raised.value.target == unreachable_kube.server
    assert "Connection refused" in raised.value.reason
    assert raised.value.__cause__ is not None


def test_unloadable_kubeconfig_is_backend_unavailable(tmp_path):
    targets = Targets(profile="test", kubeconfig=str(tmp_path / "missing"), kube_context="x")
    with pytest.raises(BackendUnavailable, match="cannot load kubeconfig"):
        Kube.from_targets(targets)


# --- healthy -----------------------------------------------------------------------------


def test_healthy_pods_are_ready_without_restarts(kube):
    pods = kube.pods("booking-service")
    assert len(pods) == REPLICAS["booking-service"]
    assert pods["ready"].all()
    assert (pods["status"] == "Running").all()
    assert (pods["containers_ready"] == "1/1").all()
    assert (pods["restarts"] == 0).all()
    assert pods["last_reason"].isna().all()


def test_logs_honour_tail_per_container(kube):
    logs = kube.logs("gateway", tail=5)
    assert logs.groupby("pod").size().to_dict() == {p: 5 for p in kube.pods("gateway")["pod"]}
    assert logs["time"].is_monotonic_increasing


def test_logs_honour_since(kube):
    recent, longer = kube.logs("gateway", since="1m"), kube.logs("gateway", since="30m")
    cutoff = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=75)
    assert len(recent) and (recent["time"] >= cutoff).all()
    assert len(longer) > len(recent)


def test_healthy_logs_match_no_error_pattern(kube):
    for pattern_set in ("errors", "errors_by_kind", "pool_exhausted", "heap"):
        matches = kube.log_matches("booking-service", pattern_set, since="10m")
        assert (matches["count"] == 0).all(), matches


def test_healthy_rollout_is_complete(kube):
    status = kube.rollout_status("gateway")
    assert status.complete and status.available == status.desired == REPLICAS["gateway"]
    assert status.revision == "1"
    assert status.message == "deployment 'gateway' successfully rolled out"


def test_missing_deployment_is_not_found_with_the_api_message(kube):
    with pytest.raises(NotFound, match='deployments.apps "no-such-service" not found'):
        kube.rollout_status("no-such-service")


def test_events_are_about_the_named_pod_only(kube):
    pod = kube.pods("gateway")["pod"][0]
    events = kube.events("Pod", pod)
    assert set(events["object"]) == {f"pod/{pod}"}
    assert "Scheduled" in set(events["reason"])
    assert events["last_seen"].is_monotonic_increasing


def test_top_pods_relate_usage_to_limits(kube):
    usage = kube.top_pods("market-service")
    assert len(usage) == REPLICAS["market-service"]
    assert (usage["memory_limit_mib"] == 1024).all()
    assert usage["memory_pct_limit"].between(0, 100).all()
    assert (usage["cpu_m"] > 0).all()


def test_top_nodes_and_conditions(kube):
    assert (kube.top_nodes()["cpu_pct"] > 0).all()
    conditions = kube.node_conditions()
    assert len(conditions) and not conditions["problem"].any()


def test_database_connectivity_reaches_the_sandbox_postgres(kube):
    result = kube.database_connectivity()
    assert result.service_found and result.service_port_open
    assert result.reachable, result.error


# --- service_down ------------------------------------------------------------------------


@pytest.mark.scenario("service_down")
def test_crash_looping_pods(kube):
    pods = kube.pods("booking-service")
    assert (pods["status"] == "CrashLoopBackOff").all()
    assert not pods["ready"].any()
    assert (pods["restarts"] > 0).all()
    assert (pods["last_reason"] == "Error").all()


@pytest.mark.scenario("service_down")
def test_kubectl_agrees_on_restarts_and_status(kube, sandbox, tmp_path):
    listing = kubectl_json(sandbox, tmp_path, "get", "pods", "-l", "app=booking-service")
    by_kubectl = {
        item["metadata"]["name"]: sum(
            c["restartCount"] for c in item["status"]["containerStatuses"]
        )
        for item in listing["items"]
    }
    pods = kube.pods("booking-service")
    assert dict(zip(pods["pod"], pods["restarts"], strict=True)) == by_kubectl
    waiting = {
        item["metadata"]["name"]: item["status"]["containerStatuses"][0]["state"]["waiting"][
            "reason"
        ]
        for item in listing["items"]
    }
    assert dict(zip(pods["pod"], pods["status"], strict=True)) == waiting


@pytest.mark.scenario("service_down")
def test_pool_exhausted_is_counted_with_samples(kube):
    matches = kube.log_matches("booking-service", "pool_exhausted", since="10m")
    row = matches.iloc[0]
    assert row["count"] >= len(kube.pods("booking-service"))
    # One sample: every match says the same after the application's own timestamp.
    [sample] = row["samples"]
    assert sample.endswith(POOL_EXHAUSTED)
    assert row["severity"] == "critical"


@pytest.mark.scenario("service_down")
def test_service_events_show_back_off(kube):
    events = kube.service_events("booking-service")
    warnings = events[events["type"] == "Warning"]
    assert {"BackOff", "Unhealthy"} <= set(warnings["reason"])


@pytest.mark.scenario("service_down")
def test_rollout_of_crash_looping_deployment_is_not_complete(kube):
    status = kube.rollout_status("booking-service")
    assert not status.complete and status.available == 0
    assert "0 of 3 updated replicas are available" in status.message


# --- jvm_memory --------------------------------------------------------------------------


@pytest.mark.scenario("jvm_memory")
def test_oom_killed_pods_and_their_description(kube):
    pods = kube.pods("market-service")
    assert (pods["last_reason"] == "OOMKilled").all()
    assert (pods["last_exit_code"] == 137).all()
    description = kube.describe_pod(pods["pod"][0])
    container = description.containers.iloc[0]
    assert (container["last_reason"], container["last_exit_code"]) == ("OOMKilled", 137)
    assert container["limits"]["memory"] == "1Gi"
    assert "OOMKilling" in set(description.events["reason"])
    assert "Ready" in set(description.conditions["condition"])


@pytest.mark.scenario("jvm_memory")
def test_heap_pattern_finds_out_of_memory(kube):
    matches = kube.log_matches("market-service", "heap", since="10m").set_index("match")
    assert matches.loc["outofmemory", "count"] > 0
    assert any(s.endswith(OOM_ERROR) for s in matches.loc["outofmemory", "samples"])


# --- high_error_rate ---------------------------------------------------------------------


@pytest.mark.scenario("high_error_rate")
def test_errors_by_kind_groups_timeout_and_connection(kube):
    counts = kube.log_matches("auth-service", "errors_by_kind", since="10m").set_index("match")
    assert counts.loc["Timeout", "count"] > 0
    assert counts.loc["Connection", "count"] > 0
    assert counts.loc["OutOfMemory", "count"] == 0
