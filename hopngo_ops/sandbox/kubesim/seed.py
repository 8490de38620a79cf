"""The scenario's cluster as the sandbox comes up: namespace `hopngo` with its workloads, their
pods in the states the scenario describes, services, secrets, nodes and events.

Every time is an offset from `started_at`, every value derives from names: the same scenario
always plants the same facts.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from hopngo_ops.sandbox import scenarios
from hopngo_ops.sandbox.kubesim import resources as r
from hopngo_ops.sandbox.kubesim.clock import iso
from hopngo_ops.sandbox.kubesim.events import make_event, start_events
from hopngo_ops.sandbox.kubesim.store import Store
from hopngo_ops.sandbox.kubesim.workloads import (
    HASH_LABEL,
    NODES,
    REVISION_ANNOTATION,
    START_DELAY,
    STS_POD_NAME_LABEL,
    STS_REVISION_LABEL,
    ContainerHistory,
    make_pod,
    node_ip,
    number,
    owner_reference,
    template_hash,
)

NS = scenarios.NAMESPACE
IMAGE_TAG = "1.4.2"
JAVA_OPTS = "-Xmx1g -Xms512m"
HTTP_PORT = 8080
HOUR, DAY = 3600, 86400
DB_SERVICES = ("booking-service", "market-service", "auth-service", "consumer-service")
STATEFULSET_SPECS = {
    "postgres": ("postgres:15.6", (("postgresql", 5432),), "2Gi"),
    "postgres-replica": ("postgres:15.6", (("postgresql", 5432),), "2Gi"),
    "rabbitmq": ("rabbitmq:3.10-management", (("amqp", 5672), ("management", 15672)), "1Gi"),
}
SERVICE_PORTS = {
    **{s: (("http", HTTP_PORT),) for s in scenarios.SERVICES},
    "postgres-service": (("postgresql", 5432),),
    "postgres-replica-service": (("postgresql", 5432),),
    "rabbitmq": (("amqp", 5672), ("management", 15672)),
}
SERVICE_SELECTORS = {
    "postgres-service": "postgres",
    "postgres-replica-service": "postgres-replica",
}
SECRET_KEYS = {
    "postgres-credentials": ("username", "password"),
    "jwt-secret": ("signing-key",),
    "external-api-keys": ("payments-api-key", "maps-api-key"),
}


def container_template(name: str, image: str, ports: tuple, memory: str, env: list[dict]) -> dict:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": p, "containerPort": n, "protocol": "TCP"} for p, n in ports],
        "env": env,
        "resources": {
            "limits": {"memory": memory, "cpu": "1"},
            "requests": {"memory": "512Mi", "cpu": "250m"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def service_template(service: str) -> dict:
    env = [
        {"name": "JAVA_OPTS", "value": JAVA_OPTS},
        {"name": "SPRING_PROFILES_ACTIVE", "value": "prod"},
    ]
    if service in DB_SERVICES:
        env.append(_secret_env("DB_PASSWORD", "postgres-credentials", "password"))
    container = container_template(
        service, f"hopngo/{service}:{IMAGE_TAG}", (("http", HTTP_PORT),), "1Gi", env
    )
    probe = {"httpGet": {"path": "/actuator/health/readiness", "port": HTTP_PORT}}
    container["readinessProbe"] = {**probe, "periodSeconds": 10, "failureThreshold": 3}
    return {"metadata": {"labels": {"app": service}}, "spec": {"containers": [container]}}


def _secret_env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def seed(store: Store, scenario: scenarios.Scenario, started_at: float) -> None:
    """Write the scenario's objects into `store` (statuses are left to the controllers)."""
    for name in ("default", "kube-system", NS):
        store.put(r.NAMESPACE, _namespace(name, started_at - 30 * DAY))
    for index, node in enumerate(NODES):
        store.put(r.NODE, _node(node, index, started_at - 30 * DAY))
    for name, keys in SECRET_KEYS.items():
        store.put(r.SECRET, _secret(name, keys, scenario, started_at - 14 * DAY))
    for name, ports in SERVICE_PORTS.items():
        store.put(r.SERVICE, _service(name, ports, started_at - 14 * DAY))
    for service in scenarios.SERVICES:
        _seed_deployment(store, scenario, service, started_at)
    for name in scenarios.STATEFULSETS:
        _seed_statefulset(store, name, started_at)


def _meta(name: str, created: float, **extra: object) -> dict:
    return {"name": name, "namespace": NS, "creationTimestamp": iso(created), **extra}


def _namespace(name: str, created: float) -> dict:
    meta = {"name": name, "creationTimestamp": iso(created)}
    meta["labels"] = {"kubernetes.io/metadata.name": name}
    return {"metadata": meta, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def _node(name: str, index: int, created: float) -> dict:
    capacity = {"cpu": "4", "memory": "16384Mi", "pods": "110", "ephemeral-storage": "100Gi"}
    allocatable = {**capacity, "cpu": "3800m", "memory": "15360Mi"}
    since = iso(created)
    conditions = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": since,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": f"zone-{'abc'[index]}",
            },
        },
        "spec": {"podCIDR": f"10.244.{index + 1}.0/24"},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                {
                    "type": kind,
                    "status": value,
                    "reason": reason,
                    "message": f"kubelet has {message}" if kind != "Ready" else message,
                    "lastHeartbeatTime": since,
                    "lastTransitionTime": since,
                }
                for kind, value, reason, message in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": node_ip(name)},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                # Required by the official client's models: a kubelet always reports them.
                "machineID": hashlib.md5(f"machine/{name}".encode()).hexdigest(),
                "systemUUID": str(uuid.UUID(hashlib.md5(f"system/{name}".encode()).hexdigest())),
                "bootID": str(uuid.UUID(hashlib.md5(f"boot/{name}".encode()).hexdigest())),
                "kubeletVersion": "v1.30.4",
                "kubeProxyVersion": "v1.30.4",
                "osImage": "Ubuntu 22.04.4 LTS",
                "kernelVersion": "5.15.0-107-generic",
                "containerRuntimeVersion": "containerd://1.7.13",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def _secret(name: str, keys: tuple[str, ...], scenario: scenarios.Scenario, created: float) -> dict:
    def value(key: str) -> str:
        # Sandbox-only stand-ins: stable per scenario, never a real credential.
        plain = (
            "hopngo"
            if key == "username"
            else hashlib.sha256(f"{scenario.name}/{name}/{key}".encode()).hexdigest()[:24]
        )
        return base64.b64encode(plain.encode()).decode()

    return {"metadata": _meta(name, created), "type": "Opaque", "data": {k: value(k) for k in keys}}


def _service(name: str, ports: tuple, created: float) -> dict:
    ip = f"10.96.{number(name, 200) + 1}.{number(name + '/ip', 250) + 2}"
    return {
        "metadata": _meta(name, created, labels={"app": SERVICE_SELECTORS.get(name, name)}),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "selector": {"app": SERVICE_SELECTORS.get(name, name)},
            "ports": [{"name": p, "port": n, "targetPort": n, "protocol": "TCP"} for p, n in ports],
            "sessionAffinity": "None",
        },
        "status": {"loadBalancer": {}},
    }


def _seed_deployment(
    store: Store, scenario: scenarios.Scenario, service: str, started_at: float
) -> None:
    created = started_at - 14 * DAY
    replicas = scenarios.REPLICAS[service]
    template = service_template(service)
    revision = {REVISION_ANNOTATION: "1"}
    deployment = store.put(
        r.DEPLOYMENT,
        {
            "metadata": _meta(service, created, labels={"app": service}, annotations=revision),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": service}},
                "template": template,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
        },
    )
    pod_hash = scenarios.template_hash(service)
    rs_template = {
        **template,
        "metadata": {"labels": {**template["metadata"]["labels"], HASH_LABEL: pod_hash}},
    }
    replicaset = store.put(
        r.REPLICASET,
        {
            "metadata": _meta(
                f"{service}-{pod_hash}",
                created,
                labels=rs_template["metadata"]["labels"],
                annotations={
                    **revision,
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                },
                ownerReferences=[owner_reference(deployment)],
            ),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": rs_template["metadata"]["labels"]},
                "template": rs_template,
            },
        },
    )
    for index, name in enumerate(scenarios.initial_pods(service)):
        pod_created = started_at - 6 * HOUR - index * 7 * 60
        history = _history(scenario, service, name, index, pod_created, started_at)
        pod = store.put(
            r.POD,
            make_pod(
                rs_template,
                name=name,
                namespace=NS,
                owner=replicaset,
                extra_labels={},
                created=pod_created,
                history=history,
            ),
        )
        for event in _pod_events(pod, service, history, pod_created, scenario, started_at):
            store.put(r.EVENT, event)


def _history(
    scenario: scenarios.Scenario,
    service: str,
    pod: str,
    index: int,
    created: float,
    started_at: float,
) -> ContainerHistory:
    incident = started_at - scenario.incident_minutes_ago * 60
    if service in scenario.down_services:
        runs = scenarios.crash_runs(incident, index, started_at)
        last_start, last_end = runs[-1]
        return ContainerHistory(
            restarts=len(runs),
            waiting_reason="CrashLoopBackOff",
            waiting_message=f"back-off 5m0s restarting failed container={service} pod={pod}_{NS}",
            last_reason="Error",
            last_exit_code=1,
            last_started=last_start,
            last_finished=last_end,
        )
    if service in scenario.oom_services:
        kills = scenarios.oom_kills(incident, started_at, index)
        return ContainerHistory(
            restarts=len(kills),
            last_reason="OOMKilled",
            last_exit_code=137,
            last_started=kills[-2] + 10,
            last_finished=kills[-1],
            running_since=kills[-1] + 10,
        )
    return ContainerHistory(running_since=created + START_DELAY)


def _pod_events(
    pod: dict,
    service: str,
    history: ContainerHistory,
    created: float,
    scenario: scenarios.Scenario,
    started_at: float,
) -> list[dict]:
    """The events `kubectl describe pod` shows: the start, then the scenario's trouble."""
    node = pod["spec"]["nodeName"]
    name = pod["metadata"]["name"]
    path = f"spec.containers{{{service}}}"
    incident = started_at - scenario.incident_minutes_ago * 60
    events = start_events(pod, created)
    if not history.running:
        ip = pod["status"]["podIP"]
        events += [
            make_event(
                pod,
                "Unhealthy",
                f'Readiness probe failed: Get "http://{ip}:{HTTP_PORT}/actuator/health/readiness"'
                f": dial tcp {ip}:{HTTP_PORT}: connect: connection refused",
                first=incident + 5,
                last=history.last_finished - 2,
                count=history.restarts * 2,
                warning=True,
                host=node,
                field_path=path,
            ),
            make_event(
                pod,
                "BackOff",
                "Back-off restarting failed container "
                f"{service} in pod {name}_{NS}({pod['metadata']['uid']})",
                first=incident + 20,
                last=started_at - 5,
                count=history.restarts * 4,
                warning=True,
                host=node,
                field_path=path,
            ),
        ]
    elif history.last_reason == "OOMKilled":
        events += [
            make_event(
                pod,
                "OOMKilling",
                "Memory cgroup out of memory: Killed process "
                f"{1000 + number(name, 8000)} (java) total-vm:3921044kB, anon-rss:1048576kB, "
                "file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:2520kB oom_score_adj:969",
                first=incident + 60,
                last=history.last_finished,
                count=history.restarts,
                warning=True,
                component="kernel-monitor",
                host=node,
            ),
            make_event(
                pod,
                "BackOff",
                f"Back-off restarting failed container {service} in pod {name}_{NS}"
                f"({pod['metadata']['uid']})",
                first=incident + 61,
                last=history.last_finished + 5,
                count=history.restarts,
                warning=True,
                host=node,
                field_path=path,
            ),
        ]
    return events


def _seed_statefulset(store: Store, name: str, started_at: float) -> None:
    created = started_at - 14 * DAY
    image, ports, memory = STATEFULSET_SPECS[name]
    env = [_secret_env("POSTGRES_PASSWORD", "postgres-credentials", "password")]
    container = container_template(name, image, ports, memory, env if "postgres" in name else [])
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}
    revision = f"{name}-{template_hash(template)}"
    statefulset = store.put(
        r.STATEFULSET,
        {
            "metadata": _meta(name, created, labels={"app": name}),
            "spec": {
                "replicas": 1,
                "serviceName": name,
                "selector": {"matchLabels": {"app": name}},
                "template": template,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate"},
            },
        },
    )
    pod_name = f"{name}-0"
    pod_created = started_at - 2 * DAY
    pod = store.put(
        r.POD,
        make_pod(
            template,
            name=pod_name,
            namespace=NS,
            owner=statefulset,
            extra_labels={STS_REVISION_LABEL: revision, STS_POD_NAME_LABEL: pod_name},
            created=pod_created,
        ),
    )
    for event in start_events(pod, pod_created):
        store.put(r.EVENT, event)
