"""Pods as controllers and the scenario make them: names, template hashes, placement and the
container states (healthy, crash-looping, OOM-killed) a pod's status reports.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass

from hopngo_ops.sandbox.kubesim.clock import iso

# Kubernetes' name-suffix alphabet: no vowels, no digits that look like letters.
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
HASH_LABEL = "pod-template-hash"
STS_REVISION_LABEL = "controller-revision-hash"
STS_POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
NODES = ("hopngo-node-1", "hopngo-node-2", "hopngo-node-3")
# A container takes this long from pod creation to running (image present, JVM starting).
START_DELAY = 4.0


def alphabet_hash(text: str, length: int) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:length])


def number(text: str, modulo: int) -> int:
    """A stable small number derived from `text` (placement, IPs, usage)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % modulo


def pruned(value: object) -> object:
    """`value` without nulls and empty maps or lists, as Go's omitempty encoding leaves it."""
    if isinstance(value, dict):
        kept = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def comparable_template(template: dict) -> dict:
    """A pod template as revisions compare it: no hash label, no empty fields.

    kubectl's `rollout undo` sends a template re-encoded by Go (`creationTimestamp: null`,
    empty structs), which must still match the replica set it came from.
    """
    template = copy.deepcopy(template)
    template.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return pruned(template)


def template_hash(template: dict) -> str:
    """A template's pod-template-hash: stable over its content, 10 name-safe characters."""
    return alphabet_hash(json.dumps(comparable_template(template), sort_keys=True), 10)


def node_of(pod_name: str) -> str:
    return NODES[number(pod_name, len(NODES))]


def node_ip(node: str) -> str:
    return f"10.0.0.{11 + NODES.index(node)}"


def pod_ip(pod_name: str, node: str) -> str:
    return f"10.244.{NODES.index(node) + 1}.{2 + number(pod_name + '/ip', 250)}"


def owner_reference(owner: dict) -> dict:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: dict) -> str | None:
    refs = obj["metadata"].get("ownerReferences") or []
    return next((r["uid"] for r in refs if r.get("controller")), None)


def is_ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@dataclass(frozen=True)
class ContainerHistory:
    """What a pod's containers went through. The default is a healthy, never-restarted one."""

    restarts: int = 0
    # Set while the container is not running (CrashLoopBackOff).
    waiting_reason: str | None = None
    waiting_message: str = ""
    # The last termination: reason (Error, OOMKilled), exit code and its run.
    last_reason: str | None = None
    last_exit_code: int = 0
    last_started: float = 0.0
    last_finished: float = 0.0
    # When the current container started (when running).
    running_since: float = 0.0

    @property
    def running(self) -> bool:
        return self.waiting_reason is None


def make_pod(
    template: dict,
    *,
    name: str,
    namespace: str,
    owner: dict,
    extra_labels: dict,
    created: float,
    history: ContainerHistory | None = None,
) -> dict:
    """A scheduled pod from `template`, its status as `history` says (healthy by default)."""
    history = history or ContainerHistory(running_since=created + START_DELAY)
    node = node_of(name)
    metadata = template.get("metadata", {})
    spec = copy.deepcopy(template["spec"])
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec["nodeName"] = node
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**(metadata.get("labels") or {}), **extra_labels},
            "annotations": copy.deepcopy(metadata.get("annotations") or {}),
            "ownerReferences": [owner_reference(owner)],
            "creationTimestamp": iso(created),
        },
        "spec": spec,
        "status": pod_status(spec, name, node, history, created),
    }


def pod_status(spec: dict, name: str, node: str, history: ContainerHistory, created: float) -> dict:
    ready = history.running
    ready_since = iso(history.running_since if ready else history.last_finished)
    reason = {} if ready else {"reason": "ContainersNotReady"}
    not_ready = {} if ready else {"message": f"containers with unready status: [{_names(spec)}]"}
    ip = pod_ip(name, node)
    return {
        "phase": "Running",
        "conditions": [
            _condition("Initialized", True, iso(created)),
            _condition("Ready", ready, ready_since, **reason, **not_ready),
            _condition("ContainersReady", ready, ready_since, **reason, **not_ready),
            _condition("PodScheduled", True, iso(created)),
        ],
        "hostIP": node_ip(node),
        "hostIPs": [{"ip": node_ip(node)}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": iso(created),
        "containerStatuses": [
            _container_status(c, name, history) for c in spec.get("containers", [])
        ],
        "qosClass": "Burstable",
    }


def _names(spec: dict) -> str:
    return " ".join(c["name"] for c in spec.get("containers", []))


def _condition(kind: str, ok: bool, since: str, **extra: str) -> dict:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": since,
        **extra,
    }


def _container_status(container: dict, pod_name: str, history: ContainerHistory) -> dict:
    if history.running:
        state = {"running": {"startedAt": iso(history.running_since)}}
    else:
        state = {"waiting": {"reason": history.waiting_reason, "message": history.waiting_message}}
    last_state = {}
    if history.last_reason:
        last_state = {
            "terminated": {
                "exitCode": history.last_exit_code,
                "reason": history.last_reason,
                "startedAt": iso(history.last_started),
                "finishedAt": iso(history.last_finished),
                "containerID": _container_id(pod_name, container["name"], history.restarts - 1),
            }
        }
    return {
        "name": container["name"],
        "state": state,
        "lastState": last_state,
        "ready": history.running,
        "started": history.running,
        "restartCount": history.restarts,
        "image": container.get("image", ""),
        "imageID": f"docker.io/{container.get('image', '')}@sha256:"
        + hashlib.sha256(container.get("image", "").encode()).hexdigest(),
        "containerID": _container_id(pod_name, container["name"], history.restarts),
    }


def _container_id(pod_name: str, container: str, attempt: int) -> str:
    return (
        "containerd://" + hashlib.sha256(f"{pod_name}/{container}/{attempt}".encode()).hexdigest()
    )
