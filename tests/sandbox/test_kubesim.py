"""The Kubernetes simulator through both real clients: the official `kubernetes` Python
client and kubectl, unchanged, against the kubeconfig the sandbox writes."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from hopngo_ops.sandbox.kubesim import rbac
from hopngo_ops.sandbox.kubesim.status import ApiError
from hopngo_ops.sandbox.scenarios import NAMESPACE as NS
from hopngo_ops.sandbox.scenarios import (
    OOM_ERROR,
    POOL_EXHAUSTED,
    REPLICAS,
    initial_pods,
)

DOWN, OOM, WRITABLE = "service_down", "jvm_memory", "service_down/writable"


def api(info: dict, context: str | None = None) -> client.ApiClient:
    return config.new_client_from_config(config_file=info["kubeconfig"], context=context)


def core(info: dict, context: str | None = None) -> client.CoreV1Api:
    return client.CoreV1Api(api(info, context))


def apps(info: dict, context: str | None = None) -> client.AppsV1Api:
    return client.AppsV1Api(api(info, context))


def status_of(error: ApiException) -> dict:
    return json.loads(error.body)


def pods_of(info: dict, service: str) -> list:
    return core(info).list_namespaced_pod(NS, label_selector=f"app={service}").items


def wait_for(check, timeout: float = 5.0):
    """The controllers act synchronously; this only absorbs scheduling noise."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return result


# The Python client: reads.


def test_service_down_pods_crash_loop(kubesim):
    info = kubesim(DOWN)
    pods = pods_of(info, "booking-service")
    assert sorted(p.metadata.name for p in pods) == sorted(initial_pods("booking-service"))
    for pod in pods:
        container = pod.status.container_statuses[0]
        assert container.state.waiting.reason == "CrashLoopBackOff"
        assert container.restart_count > 0 and not container.ready
        assert container.last_state.terminated.reason == "Error"
        assert container.last_state.terminated.exit_code == 1
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"
        assert pod.spec.node_name and pod.status.pod_ip
    deployment = apps(info).read_namespaced_deployment("booking-service", NS)
    assert deployment.status.available_replicas == 0
    assert deployment.status.unavailable_replicas == REPLICAS["booking-service"]
    healthy = pods_of(info, "gateway")[0].status.container_statuses[0]
    assert healthy.ready and healthy.restart_count == 0 and healthy.state.running


def test_jvm_memory_pods_were_oom_killed(kubesim):
    info = kubesim(OOM)
    for pod in pods_of(info, "market-service"):
        container = pod.status.container_statuses[0]
        assert container.last_state.terminated.reason == "OOMKilled"
        assert container.last_state.terminated.exit_code == 137
        assert container.restart_count == 3 and container.state.running


def test_deployment_shape(kubesim):
    deployment = apps(kubesim(DOWN)).read_namespaced_deployment("market-service", NS)
    container = deployment.spec.template.spec.containers[0]
    assert container.image == "hopngo/market-service:1.4.2"
    assert {e.name: e.value for e in container.env}["JAVA_OPTS"] == "-Xmx1g -Xms512m"
    assert container.resources.limits == {"memory": "1Gi", "cpu": "1"}
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert deployment.status.observed_generation == deployment.metadata.generation


def test_logs_tail_and_since(kubesim):
    info = kubesim(DOWN)
    pod = initial_pods("booking-service")[0]
    v1 = core(info)
    tail = v1.read_namespaced_pod_log(pod, NS, container="booking-service", tail_lines=3)
    assert len(tail.splitlines()) == 3
    recent = v1.read_namespaced_pod_log(pod, NS, since_seconds=600, timestamps=True)
    assert POOL_EXHAUSTED in recent
    previous = v1.read_namespaced_pod_log(pod, NS, previous=True)
    assert POOL_EXHAUSTED in previous
    healthy = v1.read_namespaced_pod_log(initial_pods("gateway")[0], NS, since_seconds=60)
    assert 3 <= len(healthy.splitlines()) <= 6  # a request line every 12 s
    with pytest.raises(ApiException) as error:
        v1.read_namespaced_pod_log(initial_pods("gateway")[0], NS, previous=True)
    assert error.value.status == 400
    oom_log = core(kubesim(OOM)).read_namespaced_pod_log(
        initial_pods("market-service")[0], NS, since_seconds=120
    )
    assert OOM_ERROR in oom_log


def test_events_of_a_pod(kubesim):
    pod = initial_pods("booking-service")[1]
    events = core(kubesim(DOWN)).list_namespaced_event(
        NS, field_selector=f"involvedObject.name={pod},involvedObject.kind=Pod"
    )
    by_reason = {e.reason: e for e in events.items}
    assert {"Scheduled", "Started", "BackOff", "Unhealthy"} <= set(by_reason)
    assert by_reason["BackOff"].type == "Warning" and by_reason["BackOff"].count > 1
    assert "Back-off restarting failed container" in by_reason["BackOff"].message


def test_label_selectors(kubesim):
    v1 = core(kubesim(DOWN))

    def names(selector: str) -> set[str]:
        pods = v1.list_namespaced_pod(NS, label_selector=selector).items
        return {p.metadata.labels["app"] for p in pods}

    assert names("app in (gateway, auth-service)") == {"gateway", "auth-service"}
    assert "gateway" not in names("app notin (gateway),pod-template-hash")
    assert names("app!=gateway,app!=booking-service,!statefulset.kubernetes.io/pod-name") == {
        "market-service",
        "auth-service",
        "consumer-service",
    }
    page = v1.list_namespaced_pod(NS, limit=5)
    assert len(page.items) == 5 and page.metadata._continue
    rest = v1.list_namespaced_pod(NS, limit=100, _continue=page.metadata._continue)
    assert len(page.items) + len(rest.items) == len(v1.list_namespaced_pod(NS).items)


def test_metrics_through_custom_objects(kubesim):
    custom = client.CustomObjectsApi(api(kubesim(OOM)))
    pods = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods")
    usage = {
        i["metadata"]["name"]: int(i["containers"][0]["usage"]["memory"].removesuffix("Ki"))
        for i in pods["items"]
    }
    for pod in initial_pods("market-service"):
        assert usage[pod] > 0.9 * 1024 * 1024  # within 10% of the 1Gi limit
    nodes = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert len(nodes["items"]) == 3


# The Python client: errors and RBAC.


def test_errors_are_status_objects(kubesim):
    info = kubesim(DOWN)
    with pytest.raises(ApiException) as missing:
        apps(info).read_namespaced_deployment("nope", NS)
    body = status_of(missing.value)
    assert missing.value.status == 404
    assert (body["kind"], body["reason"]) == ("Status", "NotFound")
    assert body["message"] == 'deployments.apps "nope" not found'

    secret = client.V1Secret(metadata=client.V1ObjectMeta(name="jwt-secret"))
    with pytest.raises(ApiException) as exists:
        core(info).create_namespaced_secret(NS, secret)
    assert exists.value.status == 409 and status_of(exists.value)["reason"] == "AlreadyExists"

    stale = apps(info).read_namespaced_deployment("gateway", NS)
    stale.metadata.resource_version = "1"
    with pytest.raises(ApiException) as conflict:
        apps(info).replace_namespaced_deployment("gateway", NS, stale)
    assert conflict.value.status == 409 and status_of(conflict.value)["reason"] == "Conflict"

    with pytest.raises(ApiException) as invalid:
        apps(info).patch_namespaced_deployment("gateway", NS, {"spec": {"replicas": -1}})
    body = status_of(invalid.value)
    assert invalid.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "spec.replicas"

    bad_name = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="Bad_Name"))
    with pytest.raises(ApiException) as named:
        core(info).create_namespaced_config_map(NS, bad_name)
    assert named.value.status == 422


def test_bad_patch_body_is_400(kubesim):
    info = kubesim(DOWN)
    request = urllib.request.Request(
        f"{info['kube_api_url']}/apis/apps/v1/namespaces/{NS}/deployments/gateway",
        data=b"{not json",
        method="PATCH",
        headers={
            "Content-Type": "application/merge-patch+json",
            "Authorization": f"Bearer {admin_token(info)}",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, context=_tls(info))
    assert error.value.code == 400
    assert json.loads(error.value.read())["reason"] == "BadRequest"


def admin_token(info: dict) -> str:
    tokens = Path(info["kubeconfig"]).with_name("kube-tokens.json")
    return json.loads(tokens.read_text())["admin"]


def _tls(info: dict) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=api(info).configuration.ssl_ca_cert)


def test_unknown_or_missing_token_is_401(kubesim):
    info = kubesim(DOWN)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        request = urllib.request.Request(f"{info['kube_api_url']}/api/v1/pods", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, context=_tls(info))
        assert error.value.code == 401


def test_readonly_may_read_not_write(kubesim):
    info = kubesim(DOWN)
    readonly = "hopngo-sandbox-readonly"
    assert core(info, readonly).list_namespaced_pod(NS).items
    with pytest.raises(ApiException) as error:
        apps(info, readonly).patch_namespaced_deployment("gateway", NS, {"spec": {"replicas": 3}})
    assert error.value.status == 403
    assert status_of(error.value)["message"] == (
        'deployments.apps "gateway" is forbidden: User "readonly" cannot patch resource '
        '"deployments" in API group "apps" in the namespace "hopngo"'
    )
    with pytest.raises(ApiException) as secrets:
        core(info, readonly).list_namespaced_secret(NS)
    assert secrets.value.status == 403
    remediation = apps(info, "hopngo-sandbox-remediation")
    scale = remediation.read_namespaced_deployment_scale("gateway", NS)
    assert remediation.patch_namespaced_deployment_scale(
        "gateway", NS, {"spec": {"replicas": scale.spec.replicas}}, dry_run="All"
    )


# The Python client: writes (on their own simulator).


def test_strategic_patch_dry_run_then_apply(kubesim):
    info = kubesim(WRITABLE)
    body = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "auth-service",
                            "env": [{"name": "JAVA_OPTS", "value": "-Xmx2g -Xms1g"}],
                        }
                    ]
                }
            }
        }
    }
    before = apps(info).read_namespaced_deployment("auth-service", NS)
    preview = apps(info).patch_namespaced_deployment("auth-service", NS, body, dry_run="All")
    env = {e.name: e.value for e in preview.spec.template.spec.containers[0].env}
    assert env["JAVA_OPTS"] == "-Xmx2g -Xms1g" and "SPRING_PROFILES_ACTIVE" in env
    after_preview = apps(info).read_namespaced_deployment("auth-service", NS)
    assert after_preview.metadata.resource_version == before.metadata.resource_version
    assert after_preview.spec == before.spec

    applied = apps(info).patch_namespaced_deployment("auth-service", NS, body)
    assert applied.metadata.generation == before.metadata.generation + 1
    deployment = wait_for(
        lambda: (
            (d := apps(info).read_namespaced_deployment("auth-service", NS)).status.updated_replicas
            == 2
            and d
        )
    )
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert deployment.status.observed_generation == deployment.metadata.generation
    assert {c.type: c.reason for c in deployment.status.conditions}["Progressing"] == (
        "NewReplicaSetAvailable"
    )
    for pod in pods_of(info, "auth-service"):
        env = {e.name: e.value for e in pod.spec.containers[0].env}
        assert env["JAVA_OPTS"] == "-Xmx2g -Xms1g"


def test_scale_subresource(kubesim):
    info = kubesim(WRITABLE)
    scale = apps(info).read_namespaced_deployment_scale("gateway", NS)
    assert scale.spec.replicas == 2 and scale.status.selector == "app=gateway"
    apps(info).patch_namespaced_deployment_scale("gateway", NS, {"spec": {"replicas": 4}})
    assert apps(info).read_namespaced_deployment("gateway", NS).spec.replicas == 4
    assert len(wait_for(lambda: len(pods_of(info, "gateway")) == 4 and pods_of(info, "gateway")))
    with pytest.raises(ApiException) as invalid:
        apps(info).replace_namespaced_deployment_scale(
            "gateway", NS, {"metadata": {"name": "gateway"}, "spec": {"replicas": -2}}
        )
    assert invalid.value.status == 422


def test_deleted_pods_are_recreated(kubesim):
    info = kubesim(WRITABLE)
    victim = pods_of(info, "consumer-service")[0].metadata.name
    core(info).delete_namespaced_pod(victim, NS)
    pods = wait_for(lambda: len(p := pods_of(info, "consumer-service")) == 2 and p)
    assert victim not in {p.metadata.name for p in pods}

    old_uid = core(info).read_namespaced_pod("rabbitmq-0", NS).metadata.uid
    core(info).delete_namespaced_pod("rabbitmq-0", NS)
    again = wait_for(lambda: _read_or_none(info, "rabbitmq-0"))
    assert again.metadata.uid != old_uid and again.status.phase == "Running"


def _read_or_none(info: dict, name: str):
    try:
        return core(info).read_namespaced_pod(name, NS)
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def test_deletecollection_by_label(kubesim):
    info = kubesim(WRITABLE)
    before = {p.metadata.name for p in pods_of(info, "market-service")}
    core(info).delete_collection_namespaced_pod(NS, label_selector="app=market-service")
    after = {p.metadata.name for p in wait_for(lambda: pods_of(info, "market-service"))}
    assert len(after) == 2 and not after & before


# kubectl, unchanged.

pytestmark_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl")


def kubectl(info: dict, *args: str, context: str | None = None, check: bool = True):
    argv = ["kubectl", "--kubeconfig", info["kubeconfig"], "--cache-dir", info["home"], *args]
    if context:
        argv[1:1] = ["--context", context]
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": info["home"], "PATH": "/usr/bin:/bin"},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytestmark_kubectl
def test_kubectl_reads(kubesim):
    info = kubesim(DOWN)
    pods = kubectl(info, "get", "pods").stdout
    assert pods.split("\n")[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    booking = [line for line in pods.splitlines() if line.startswith("booking-service")]
    assert len(booking) == 3 and all("CrashLoopBackOff" in line for line in booking)
    deploy = kubectl(info, "get", "deploy").stdout
    assert deploy.split("\n")[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert any(line.split()[:2] == ["booking-service", "0/3"] for line in deploy.splitlines())
    describe = kubectl(info, "describe", "pod", initial_pods("booking-service")[0]).stdout
    assert "CrashLoopBackOff" in describe and "Back-off restarting failed container" in describe
    logs = kubectl(info, "logs", "deployment/booking-service", "--tail=5").stdout
    assert len(logs.splitlines()) == 5
    assert POOL_EXHAUSTED in kubectl(info, "logs", "deployment/booking-service").stdout
    top = kubectl(info, "top", "pods").stdout
    assert "MEMORY(bytes)" in top and "gateway" in top
    assert "hopngo-node-1" in kubectl(info, "get", "nodes").stdout


@pytestmark_kubectl
def test_kubectl_jvm_memory_shows_restarts(kubesim):
    pods = kubectl(kubesim(OOM), "get", "pods", "-l", "app=market-service").stdout
    assert all(" 3 (" in line for line in pods.splitlines()[1:])


@pytestmark_kubectl
def test_kubectl_readonly_context_is_forbidden_to_scale(kubesim):
    info = kubesim(DOWN)
    context = "hopngo-sandbox-readonly"
    assert "gateway" in kubectl(info, "get", "deploy", context=context).stdout
    result = kubectl(info, "scale", "deploy/gateway", "--replicas=3", context=context, check=False)
    assert result.returncode != 0 and "forbidden" in result.stderr


@pytestmark_kubectl
def test_kubectl_patch_dry_run_changes_nothing(kubesim):
    info = kubesim(WRITABLE)
    patch = '{"spec":{"template":{"spec":{"containers":[{"name":"gateway","image":"x:2"}]}}}}'
    before = kubectl(info, "get", "deploy/gateway", "-o", "json").stdout
    kubectl(info, "patch", "deploy/gateway", "--dry-run=server", "-p", patch)
    after = kubectl(info, "get", "deploy/gateway", "-o", "json").stdout
    assert json.loads(before)["metadata"] == json.loads(after)["metadata"]


@pytestmark_kubectl
def test_kubectl_restart_scale_undo_delete(kubesim):
    info = kubesim(WRITABLE)
    kubectl(info, "rollout", "restart", "deployment/booking-service")
    status = kubectl(info, "rollout", "status", "deployment/booking-service", "--timeout=30s")
    assert "successfully rolled out" in status.stdout
    for pod in pods_of(info, "booking-service"):
        container = pod.status.container_statuses[0]
        assert pod.status.phase == "Running" and container.ready and container.state.running
        assert pod.metadata.name not in initial_pods("booking-service")

    kubectl(info, "scale", "deployment/booking-service", "--replicas=5")
    assert len(wait_for(lambda: len(p := pods_of(info, "booking-service")) == 5 and p)) == 5

    kubectl(info, "rollout", "undo", "deployment/booking-service")
    kubectl(info, "rollout", "status", "deployment/booking-service", "--timeout=30s")
    sets = apps(info).list_namespaced_replica_set(NS, label_selector="app=booking-service")
    active = [s for s in sets.items if s.spec.replicas]
    # Undo reuses revision 1's replica set (as revision 3), with the scaled replica count.
    assert len(sets.items) == 2 and len(active) == 1
    assert active[0].metadata.name == initial_pods("booking-service")[0].rsplit("-", 1)[0]
    assert active[0].metadata.annotations["deployment.kubernetes.io/revision"] == "3"

    old = {p.metadata.name for p in pods_of(info, "gateway")}
    kubectl(info, "delete", "pod", "-l", "app=gateway")
    new = {p.metadata.name for p in wait_for(lambda: pods_of(info, "gateway"))}
    assert new and not new & old


# The rule evaluator and the Role loader, without a server.

ROLES = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: hopngo-ops-readonly, namespace: hopngo}
rules:
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: restarter, namespace: hopngo}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [patch]
  resourceNames: [gateway]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: remediation, namespace: hopngo}
subjects: [{kind: User, name: remediation}]
roleRef: {kind: Role, name: restarter, apiGroup: rbac.authorization.k8s.io}
"""


def test_rbac_rules_from_role_documents(tmp_path):
    (tmp_path / "roles.yaml").write_text(ROLES)
    authorizer = rbac.Authorizer({}, rbac.load_rules(tmp_path))

    def allowed(user: str, verb: str, group: str, resource: str, sub: str = "", name: str = ""):
        try:
            authorizer.authorize(rbac.Attributes(user, verb, group, resource, sub, name, NS))
        except ApiError as e:
            assert e.code == 403
            return False
        return True

    assert allowed("readonly", "get", "", "pods", "log", "p")
    assert not allowed("readonly", "list", "apps", "deployments")
    assert allowed("remediation", "patch", "apps", "deployments", name="gateway")
    assert not allowed("remediation", "patch", "apps", "deployments", name="booking-service")
    assert allowed("admin", "delete", "", "secrets", name="jwt-secret")
    # Without a folder: the built-in defaults, where readonly reads everything but secrets.
    defaults = rbac.Authorizer({}, rbac.load_rules(tmp_path / "missing"))
    defaults.authorize(rbac.Attributes("readonly", "list", "apps", "statefulsets", namespace=NS))
    with pytest.raises(ApiError, match='cannot list resource "secrets"'):
        defaults.authorize(rbac.Attributes("readonly", "list", "", "secrets", namespace=NS))
