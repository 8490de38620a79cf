"""`meta.k8s.io/v1` Tables: the server-side printing `kubectl get` asks for, with the columns
the real apiserver prints for each kind.
"""

from __future__ import annotations

from collections.abc import Callable

from hopngo_ops.sandbox.kubesim.clock import human_duration, parse_iso
from hopngo_ops.sandbox.kubesim.selectors import selector_string

Column = tuple[str, str, int]  # name, type, priority (1 = only with -o wide)
NAME: Column = ("Name", "string", 0)
AGE: Column = ("Age", "string", 0)


def _age(obj: dict, now: float) -> str:
    created = obj["metadata"].get("creationTimestamp")
    return human_duration(now - parse_iso(created)) if created else "<unknown>"


def _since(timestamp: str | None, now: float) -> str:
    return human_duration(now - parse_iso(timestamp)) if timestamp else "<unknown>"


def _containers(template_spec: dict) -> tuple[str, str]:
    containers = template_spec.get("containers", [])
    return ",".join(c["name"] for c in containers), ",".join(c.get("image", "") for c in containers)


def pod_status_reason(pod: dict) -> str:
    """The STATUS kubectl shows: a waiting or terminated container's reason beats the phase."""
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase", "Unknown")
    running = False
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state", {})
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            terminated = state["terminated"]
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
        elif container.get("ready") and "running" in state:
            running = True
    if reason == "Completed" and running:
        reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod(pod: dict, now: float) -> list:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    restarts = sum(s.get("restartCount", 0) for s in statuses)
    last_finished = [
        parse_iso(s["lastState"]["terminated"]["finishedAt"])
        for s in statuses
        if "terminated" in (s.get("lastState") or {})
    ]
    shown = str(restarts)
    if last_finished:
        shown += f" ({human_duration(now - max(last_finished))} ago)"
    ready = sum(bool(s.get("ready")) for s in statuses)
    total = len(pod["spec"].get("containers", []))
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        pod_status_reason(pod),
        shown,
        _age(pod, now),
        pod.get("status", {}).get("podIP") or "<none>",
        pod["spec"].get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def _deployment(obj: dict, now: float) -> list:
    status, spec = obj.get("status", {}), obj["spec"]
    names, images = _containers(spec["template"]["spec"])
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
        names,
        images,
        selector_string(spec.get("selector") or {}),
    ]


def _replicaset(obj: dict, now: float) -> list:
    status, spec = obj.get("status", {}), obj["spec"]
    names, images = _containers(spec["template"]["spec"])
    return [
        obj["metadata"]["name"],
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(obj, now),
        names,
        images,
        selector_string(spec.get("selector") or {}),
    ]


def _statefulset(obj: dict, now: float) -> list:
    status, spec = obj.get("status", {}), obj["spec"]
    names, images = _containers(spec["template"]["spec"])
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
    return [obj["metadata"]["name"], ready, _age(obj, now), names, images]


def _service(obj: dict, now: float) -> list:
    spec = obj["spec"]
    ports = ",".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", []))
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        obj["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        "<none>",
        ports or "<none>",
        _age(obj, now),
        selector or "<none>",
    ]


def _secret(obj: dict, now: float) -> list:
    data = len(obj.get("data") or {})
    return [obj["metadata"]["name"], obj.get("type", "Opaque"), data, _age(obj, now)]


def _configmap(obj: dict, now: float) -> list:
    return [obj["metadata"]["name"], len(obj.get("data") or {}), _age(obj, now)]


def _node(obj: dict, now: float) -> list:
    status = obj.get("status", {})
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
    state = "Ready" if ready and ready["status"] == "True" else "NotReady"
    if obj["spec"].get("unschedulable"):
        state += ",SchedulingDisabled"
    info = status.get("nodeInfo", {})
    addresses = {a["type"]: a["address"] for a in status.get("addresses", [])}
    return [
        obj["metadata"]["name"],
        state,
        "<none>",
        _age(obj, now),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP", "<none>"),
        addresses.get("ExternalIP", "<none>"),
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _namespace(obj: dict, now: float) -> list:
    return [obj["metadata"]["name"], obj.get("status", {}).get("phase", ""), _age(obj, now)]


def _event(obj: dict, now: float) -> list:
    involved = obj.get("involvedObject", {})
    source = obj.get("source", {})
    return [
        _since(obj.get("lastTimestamp"), now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        ", ".join(v for v in (source.get("component"), source.get("host")) if v),
        obj.get("message", ""),
        _since(obj.get("firstTimestamp"), now),
        obj.get("count", 1),
        obj["metadata"]["name"],
    ]


def _generic(obj: dict, now: float) -> list:
    return [obj["metadata"]["name"], _age(obj, now)]


PRINTERS: dict[str, tuple[list[Column], Callable[[dict, float], list]]] = {
    "Pod": (
        [
            NAME,
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            AGE,
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        _pod,
    ),
    "Deployment": (
        [
            NAME,
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            AGE,
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _deployment,
    ),
    "ReplicaSet": (
        [
            NAME,
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            AGE,
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _replicaset,
    ),
    "StatefulSet": (
        [NAME, ("Ready", "string", 0), AGE, ("Containers", "string", 1), ("Images", "string", 1)],
        _statefulset,
    ),
    "Service": (
        [
            NAME,
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            AGE,
            ("Selector", "string", 1),
        ],
        _service,
    ),
    "Secret": ([NAME, ("Type", "string", 0), ("Data", "string", 0), AGE], _secret),
    "ConfigMap": ([NAME, ("Data", "string", 0), AGE], _configmap),
    "Node": (
        [
            NAME,
            ("Status", "string", 0),
            ("Roles", "string", 0),
            AGE,
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        _node,
    ),
    "Namespace": ([NAME, ("Status", "string", 0), AGE], _namespace),
    "Event": (
        [
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        _event,
    ),
}


def table(kind: str, objects: list[dict], *, now: float, include: str, metadata: dict) -> dict:
    """A Table of `objects`; `include` is the includeObject policy (None, Metadata, Object)."""
    columns, printer = PRINTERS.get(kind, ([NAME, AGE], _generic))
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [
            {
                "name": name,
                "type": kind_,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": priority,
            }
            for name, kind_, priority in columns
        ],
        "rows": [_row(obj, printer(obj, now), include) for obj in objects],
    }


def _row(obj: dict, cells: list, include: str) -> dict:
    row: dict = {"cells": cells}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        }
    return row
