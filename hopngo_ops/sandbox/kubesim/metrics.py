"""metrics.k8s.io: PodMetrics and NodeMetrics computed from the running pods.

Usage is stable per pod name; a service the scenario puts under heap pressure uses that share
of its memory limit, so the jvm_memory scenario's pods sit just under 1Gi.
"""

from __future__ import annotations

import re

from hopngo_ops.sandbox.kubesim.clock import iso
from hopngo_ops.sandbox.kubesim.workloads import number
from hopngo_ops.sandbox.scenarios import Scenario

_UNITS = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "": 1 / (1024 * 1024)}
# What the node's system daemons use beyond the pods.
NODE_OVERHEAD_MILLICORES = 180
NODE_OVERHEAD_MIB = 1400
WINDOW = "30s"


def mebibytes(quantity: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|)", quantity)
    if not match:
        raise ValueError(f"unsupported memory quantity {quantity!r}")
    return float(match[1]) * _UNITS[match[2]]


def container_usage(pod: dict, container: dict, scenario: Scenario) -> tuple[int, int]:
    """(millicores, MiB) a running container uses."""
    key = f"{pod['metadata']['name']}/{container['name']}"
    service = (pod["metadata"].get("labels") or {}).get("app", "")
    limit = mebibytes(container.get("resources", {}).get("limits", {}).get("memory", "1Gi"))
    if service in scenario.heap_ratio:
        memory = int(limit * scenario.heap_ratio[service]) - number(key, 12)
        cpu = 650 + number(key + "/cpu", 200)
    else:
        memory = int(limit * 0.35) + number(key, int(limit * 0.2))
        cpu = 40 + number(key + "/cpu", 220)
    return cpu, memory


def is_running(pod: dict) -> bool:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return bool(statuses) and all("running" in s["state"] for s in statuses)


def pod_metrics(pod: dict, scenario: Scenario, now: float) -> dict:
    meta = pod["metadata"]
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "creationTimestamp": iso(now),
            "labels": meta.get("labels") or {},
        },
        "timestamp": iso(now - 12),
        "window": WINDOW,
        "containers": [
            {"name": c["name"], "usage": _usage(*container_usage(pod, c, scenario))}
            for c in pod["spec"]["containers"]
        ],
    }


def node_metrics(node: dict, pods: list[dict], scenario: Scenario, now: float) -> dict:
    name = node["metadata"]["name"]
    cpu, memory = NODE_OVERHEAD_MILLICORES, NODE_OVERHEAD_MIB
    for pod in pods:
        if pod["spec"].get("nodeName") == name and is_running(pod):
            for container in pod["spec"]["containers"]:
                used = container_usage(pod, container, scenario)
                cpu, memory = cpu + used[0], memory + used[1]
    return {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": name,
            "creationTimestamp": iso(now),
            "labels": node["metadata"].get("labels") or {},
        },
        "timestamp": iso(now - 12),
        "window": WINDOW,
        "usage": _usage(cpu, memory),
    }


def _usage(millicores: int, mebibytes_used: int) -> dict:
    return {"cpu": f"{millicores * 1_000_000}n", "memory": f"{mebibytes_used * 1024}Ki"}
