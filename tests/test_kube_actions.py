"""The Kubernetes actions against the sandbox: previews change nothing, the applied change is
the previewed one, post-conditions hold, every outcome is in the timeline, refusals say why;
RBAC: the read-only role diagnoses everything and may change nothing, the remediation role
may apply every action; headless runs without `apply` change nothing.

Tests that change the cluster share one fresh healthy sandbox (`writable`), each on its own
deployment, and stop it afterwards so no later test sees their changes.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from kubernetes import client, config

from hopngo_ops import actions
from hopngo_ops.actions.kube import deployment_view
from hopngo_ops.checks import kubernetes as checks
from hopngo_ops.record.protocol import HEADLESS_ENV
from hopngo_ops.record.timeline import read_events
from hopngo_ops.runbook import Runbook
from hopngo_ops.runner import run_notebook
from hopngo_ops.sandbox.kubernetes import CONTEXTS

NS = "hopngo"
INCIDENT = "INC-2026-0101-001"
KUBECTL = "/usr/bin/kubectl"
READONLY, REMEDIATION = CONTEXTS["readonly"], CONTEXTS["remediation"]

# name -> (the notebook-facing call, the deployment it changes in the writable sandbox)
ACTIONS = {
    "rollout_restart": (lambda rb: actions.rollout_restart(rb), "gateway"),
    "scale": (lambda rb: actions.scale(rb, replicas=4), "booking-service"),
    "patch_java_opts": (
        lambda rb: actions.patch_java_opts(rb, java_opts="-Xmx2g -Xms1g"),
        "auth-service",
    ),
    "patch_memory_limit": (lambda rb: actions.patch_memory_limit(rb), "consumer-service"),
    "delete_pods": (lambda rb: actions.delete_pods(rb), "market-service"),
}
DEPLOYMENT_CHANGES = ("rollout_restart", "patch_java_opts", "patch_memory_limit")
# Every action, for the RBAC refusals.
ALL_ACTIONS = {**ACTIONS, "rollout_undo": (lambda rb: actions.rollout_undo(rb), "gateway")}


@pytest.fixture(scope="module")
def writable(sandbox_pool):
    """A fresh healthy sandbox these tests may change; stopped after them."""
    status = sandbox_pool.get("healthy", fresh=True)
    yield status
    sandbox_pool.stop()


@pytest.fixture
def incidents(tmp_path, monkeypatch):
    """Records go to tmp_path; the run is headless, so only `apply` applies."""
    monkeypatch.setenv("HOPNGO_INCIDENTS_DIR", str(tmp_path))
    monkeypatch.setenv(HEADLESS_ENV, "1")
    return tmp_path


@pytest.fixture
def as_remediation(monkeypatch):
    monkeypatch.setenv("HOPNGO_KUBE_CONTEXT", REMEDIATION)


def open_runbook(service: str, apply=(), **options) -> Runbook:
    options.setdefault("incident_id", INCIDENT)
    return Runbook.open("service_down", profile="sandbox", service=service, apply=apply, **options)


def admin(status: dict) -> client.ApiClient:
    return config.new_client_from_config(
        config_file=status["kubeconfig"], context=CONTEXTS["admin"], persist_config=False
    )


def cluster_state(status: dict) -> dict:
    """Everything an action could change, as the admin sees it (the store's revision too)."""
    api = admin(status)
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    deployments = apps.list_namespaced_deployment(NS)
    return {
        "revision": deployments.metadata.resource_version,
        "deployments": {
            d.metadata.name: (d.metadata.generation, d.metadata.resource_version)
            for d in deployments.items
        },
        "statefulsets": {
            s.metadata.name: (s.metadata.generation, s.metadata.resource_version)
            for s in apps.list_namespaced_stateful_set(NS).items
        },
        "pods": sorted(p.metadata.name for p in core.list_namespaced_pod(NS).items),
    }


def action_events(rb: Runbook, action: str) -> list[dict]:
    return [e for e in read_events(rb.incident_folder()) if e.get("action") == action]


def read_deployment(status: dict, name: str) -> dict:
    api = admin(status)
    return api.sanitize_for_serialization(
        client.AppsV1Api(api).read_namespaced_deployment(name, NS)
    )


def ready_pods(status: dict, service: str) -> list[str]:
    pods = client.CoreV1Api(admin(status)).list_namespaced_pod(NS, label_selector=f"app={service}")
    return [
        p.metadata.name
        for p in pods.items
        if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    ]


# Every action: preview changes nothing; apply makes the previewed change; verified; audited.


@pytest.mark.parametrize("name", ACTIONS)
def test_preview_changes_nothing_then_apply_makes_the_previewed_change(
    name, writable, incidents, as_remediation
):
    call, service = ACTIONS[name]
    before = cluster_state(writable)

    previewed = call(open_runbook(service))
    assert previewed.result == "previewed", previewed
    assert previewed.preview.diff.startswith("---"), previewed.preview.diff
    assert cluster_state(writable) == before

    rb = open_runbook(service, apply=[name])
    applied = call(rb)
    assert applied.result == "applied", applied
    preview = applied.preview

    if name in DEPLOYMENT_CHANGES:
        live = deployment_view(read_deployment(writable, service))
        assert live["spec"] == preview.payload["after"]["spec"]
        assert live["spec"] != preview.before["spec"]
        assert "successfully rolled out" in applied.message
    elif name == "scale":
        assert preview.payload == {"from": 3, "to": 4}
        assert read_deployment(writable, service)["spec"]["replicas"] == 4
        assert len(ready_pods(writable, service)) == 4
    else:
        previewed_pods = [pod for pod, _ in preview.payload]
        assert applied.events[-1]["after"]["deleted"] == previewed_pods
        now = ready_pods(writable, service)
        assert len(now) == len(previewed_pods) and not set(now) & set(previewed_pods)

    results = [(e["result"], e["diff"]) for e in action_events(rb, name)]
    assert results == [("previewed", previewed.preview.diff), ("applied", preview.diff)]


def test_java_opts_diff_shows_the_env_change(writable, incidents):
    report = actions.patch_java_opts(open_runbook("gateway"), java_opts="-Xmx4g -Xms2g")
    assert "-          value: -Xmx1g -Xms512m" in report.preview.diff
    assert "+          value: -Xmx4g -Xms2g" in report.preview.diff
    assert report.plan.command.startswith("kubectl -n hopngo patch deployment/gateway -p ")


def test_scale_a_statefulset(writable, incidents, as_remediation):
    rb = open_runbook("rabbitmq", apply=["scale"])
    report = actions.scale(rb, replicas=2, kind="statefulset")
    assert report.result == "applied", report
    assert report.message == "statefulset/rabbitmq: 2/2 replicas ready (2 running)"
    assert action_events(rb, "scale")[-1]["after"] == {"spec": {"replicas": 2}}


def test_rollout_undo_goes_back_to_the_previous_template(writable, incidents, as_remediation):
    rb = open_runbook("gateway", apply=["rollout_restart", "rollout_undo"])
    first = read_deployment(writable, "gateway")["spec"]["template"]
    assert actions.rollout_restart(rb).result == "applied"
    restarted = read_deployment(writable, "gateway")
    assert restarted["spec"]["template"] != first

    report = actions.rollout_undo(rb)
    assert report.result == "applied", report
    assert "would roll deployment/gateway back to revision" in report.preview.summary
    undone = read_deployment(writable, "gateway")
    previous_revision = int(report.preview.summary.split("revision ")[1].split(" ")[0])
    assert undone["spec"] == report.preview.payload["after"]["spec"]
    assert int(undone["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) > int(
        restarted["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    )
    assert previous_revision < int(
        restarted["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    )
    assert [e["result"] for e in action_events(rb, "rollout_undo")] == ["applied"]


def test_a_library_restart_shows_in_kubectl(writable, incidents, as_remediation):
    def kubectl(*args: str) -> str:
        argv = [KUBECTL, "--kubeconfig", writable["kubeconfig"], "--context", REMEDIATION]
        done = subprocess.run([*argv, "-n", NS, *args], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    revisions = kubectl("rollout", "history", "deployment/booking-service").split()
    report = actions.rollout_restart(open_runbook("booking-service", apply=["rollout_restart"]))
    assert report.result == "applied", report
    after = kubectl("rollout", "history", "deployment/booking-service").split()
    new_revision = report.message.split("revision ")[1].split(",")[0]
    assert new_revision in after and new_revision not in revisions
    replica_sets = kubectl("get", "rs", "-l", "app=booking-service", "-o", "json")
    current = [
        rs
        for rs in json.loads(replica_sets)["items"]
        if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == new_revision
    ]
    restarted_at = report.preview.payload["patch"]["spec"]["template"]["metadata"]["annotations"]
    assert current[0]["spec"]["template"]["metadata"]["annotations"] == restarted_at
    assert current[0]["status"]["readyReplicas"] == current[0]["spec"]["replicas"]


def test_a_preview_the_object_outgrew_is_not_applied(writable, incidents, monkeypatch):
    monkeypatch.delenv(HEADLESS_ENV)
    shown = actions.patch_java_opts(open_runbook("consumer-service"), java_opts="-Xmx3g")
    assert shown.result == "previewed" and shown.apply_later
    client.AppsV1Api(admin(writable)).patch_namespaced_deployment(
        "consumer-service", NS, {"spec": {"template": {"metadata": {"labels": {"tier": "x"}}}}}
    )
    before = cluster_state(writable)
    late = shown.apply_later(None)  # the button, clicked after the change
    assert late.result == "failed"
    assert "deployment/consumer-service changed since the preview" in late.message
    assert cluster_state(writable) == before


# Refusals: nothing changes and the report (and timeline) says why.


@pytest.mark.parametrize(
    ("call", "why"),
    [
        (lambda rb: actions.scale(rb, replicas=0), "0 replicas is outside the allowed 1..20"),
        (lambda rb: actions.scale(rb, replicas=21), "21 replicas is outside the allowed 1..20"),
        (
            lambda rb: actions.patch_memory_limit(rb, limit="2 gigs"),
            "'2 gigs' is not a Kubernetes quantity",
        ),
        (
            lambda rb: actions.patch_java_opts(rb, java_opts="-Xmx1g", container="sidecar"),
            "has no container 'sidecar'",
        ),
    ],
    ids=["below-bounds", "above-bounds", "bad-quantity", "no-such-container"],
)
def test_refused_or_failed_before_any_change(call, why, writable, incidents, as_remediation):
    before = cluster_state(writable)
    rb = open_runbook("gateway", apply=["scale", "patch_memory_limit", "patch_java_opts"])
    report = call(rb)
    assert report.result in ("refused", "failed") and why in report.message, report
    assert cluster_state(writable) == before
    assert action_events(rb, report.plan.action)[-1]["message"] == report.message


def test_protected_namespace_is_refused(writable, incidents, as_remediation):
    before = cluster_state(writable)
    rb = open_runbook("coredns", apply=["delete_pods"], namespace="kube-system")
    report = actions.delete_pods(rb)
    assert report.result == "refused"
    assert "namespace 'kube-system' is protected" in report.message
    assert cluster_state(writable) == before


def test_production_without_incident_id_is_refused(writable, incidents, monkeypatch):
    monkeypatch.setenv("HOPNGO_PRODUCTION", "true")
    before = cluster_state(writable)
    report = actions.rollout_restart(
        open_runbook("gateway", apply=["rollout_restart"], incident_id="")
    )
    assert report.result == "refused"
    assert "the profile is production, so an incident id is required" in report.message
    assert cluster_state(writable) == before


@pytest.mark.scenario("service_down")
def test_undo_without_a_previous_revision_is_refused(sandbox, incidents):
    report = actions.rollout_undo(open_runbook("booking-service", apply=["rollout_undo"]))
    assert report.result == "refused"
    assert "has no previous revision to go back to (revisions: 1)" in report.message


# RBAC: read-only diagnoses everything and may change nothing.


@pytest.mark.parametrize("name", ALL_ACTIONS)
def test_readonly_refuses_every_action_with_a_clear_403(name, writable, incidents, monkeypatch):
    call, service = ALL_ACTIONS[name]
    if name == "rollout_undo":
        # A second revision, so that the undo gets as far as asking the API.
        client.AppsV1Api(admin(writable)).patch_namespaced_deployment(
            service, NS, {"spec": {"template": {"metadata": {"annotations": {"note": name}}}}}
        )
    monkeypatch.setenv("HOPNGO_KUBE_CONTEXT", READONLY)
    before = cluster_state(writable)
    rb = open_runbook(service, apply=[name])
    report = call(rb)
    assert report.result == "refused", report
    assert 'is forbidden: User "readonly" cannot' in report.message
    assert "the profile's credentials lack this permission: use the remediation role" in (
        report.message
    )
    assert cluster_state(writable) == before
    assert action_events(rb, name)[-1]["result"] == "refused"


DIAGNOSTIC_CHECKS = {
    "pod_status": lambda rb: checks.pod_status(rb),
    "pod_events": lambda rb: checks.pod_events(rb),
    "log_patterns": lambda rb: checks.log_patterns(rb, pattern_set="errors", tail=100),
    "rollout_status": lambda rb: checks.rollout_status(rb),
    "top_pods": lambda rb: checks.top_pods(rb),
    "top_nodes": lambda rb: checks.top_nodes(rb),
    "node_conditions": lambda rb: checks.node_conditions(rb),
    "database_connectivity": lambda rb: checks.database_connectivity(rb),
}


@pytest.mark.scenario("service_down")
def test_readonly_runs_every_diagnostic_check(sandbox, monkeypatch):
    monkeypatch.setenv("HOPNGO_KUBE_CONTEXT", READONLY)
    rb = open_runbook("booking-service")
    steps = {name: check(rb) for name, check in DIAGNOSTIC_CHECKS.items()}
    assert {name: step.error for name, step in steps.items() if step.error} == {}
    assert steps["pod_status"].findings  # it did read: the crash loop is found
    public = {n for n in dir(checks) if not n.startswith("_") and callable(getattr(checks, n))}
    assert set(DIAGNOSTIC_CHECKS) == {
        n for n in public if hasattr(getattr(checks, n), "__wrapped__")
    }


# Headless runs without `apply` change nothing.


@pytest.mark.parametrize(
    ("notebook", "service"),
    [
        pytest.param("service_down", "booking-service", marks=pytest.mark.scenario("service_down")),
        pytest.param("high_latency", "market-service", marks=pytest.mark.scenario("high_latency")),
        pytest.param(
            "high_error_rate", "auth-service", marks=pytest.mark.scenario("high_error_rate")
        ),
        pytest.param("jvm_memory", "market-service", marks=pytest.mark.scenario("jvm_memory")),
    ],
)
def test_headless_run_without_apply_changes_nothing(notebook, service, sandbox, tmp_path):
    before = cluster_state(sandbox)
    result = run_notebook(notebook, {"service": service}, output_root=tmp_path)
    assert result.ok, result.error
    assert cluster_state(sandbox) == before
    folder = result.path.parent
    outcomes = {e["action"]: e["result"] for e in read_events(folder) if e.get("type") == "action"}
    expected = {
        "service_down": {"rollout_restart", "scale", "rollout_undo"},
        "high_latency": {"scale", "patch_java_opts"},
        "high_error_rate": {"rollout_restart", "patch_memory_limit"},
        "jvm_memory": {"delete_pods", "patch_java_opts"},
    }[notebook]
    assert set(outcomes) == expected
    # service_down's deployment has one revision: the undo is refused, the rest previewed.
    assert set(outcomes.values()) <= {"previewed", "refused"}
    assert [a for a, r in outcomes.items() if r == "refused"] == (
        ["rollout_undo"] if notebook == "service_down" else []
    )
