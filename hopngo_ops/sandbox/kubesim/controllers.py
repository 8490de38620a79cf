"""The controllers' work, done synchronously after every write: deployments roll out replica
sets, replica sets and statefulsets keep their pods, owners' deletion collects their dependents,
and every workload's status converges.

New pods start Running and ready: the scenario's fault lives in the pods it planted, so a
restart, a rollout or a deleted pod's replacement is the healthy outcome remediation expects.
"""

from __future__ import annotations

import copy
import math

from hopngo_ops.sandbox.kubesim import resources as r
from hopngo_ops.sandbox.kubesim.clock import iso
from hopngo_ops.sandbox.kubesim.events import make_event, start_events
from hopngo_ops.sandbox.kubesim.store import Store
from hopngo_ops.sandbox.kubesim.workloads import (
    HASH_LABEL,
    REVISION_ANNOTATION,
    STS_POD_NAME_LABEL,
    STS_REVISION_LABEL,
    alphabet_hash,
    comparable_template,
    controller_uid,
    is_ready,
    make_pod,
    owner_reference,
    template_hash,
)

# Enough passes for deployment -> replica set -> pods -> statuses to settle.
MAX_PASSES = 8


def reconcile(store: Store) -> None:
    with store.lock:
        for _ in range(MAX_PASSES):
            before = store.resource_version
            collect_garbage(store)
            for deployment in store.list(r.DEPLOYMENT):
                roll_out(store, deployment)
            for replicaset in store.list(r.REPLICASET):
                replicate(store, replicaset)
            for statefulset in store.list(r.STATEFULSET):
                run_statefulset(store, statefulset)
            report_status(store)
            if store.resource_version == before:
                return


def owned(store: Store, rtype: r.ResourceType, owner: dict) -> list[dict]:
    uid = owner["metadata"]["uid"]
    namespace = owner["metadata"].get("namespace")
    return [o for o in store.list(rtype, namespace) if controller_uid(o) == uid]


def revision(obj: dict) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, "0"))


def collect_garbage(store: Store) -> None:
    """Delete replica sets and pods whose controlling owner is gone (background cascade)."""
    owners = {
        o["metadata"]["uid"]
        for rtype in (r.DEPLOYMENT, r.REPLICASET, r.STATEFULSET)
        for o in store.list(rtype)
    }
    for rtype in (r.REPLICASET, r.POD):
        for obj in store.list(rtype):
            uid = controller_uid(obj)
            if uid and uid not in owners:
                store.delete(rtype, obj["metadata"]["namespace"], obj["metadata"]["name"])


def roll_out(store: Store, deployment: dict) -> None:
    """Give the current template a replica set (new revision) and scale the others to 0."""
    meta, spec = deployment["metadata"], deployment["spec"]
    sets = owned(store, r.REPLICASET, deployment)
    wanted = comparable_template(spec["template"])
    current = next((s for s in sets if comparable_template(s["spec"]["template"]) == wanted), None)
    newest = max((revision(s) for s in sets), default=0)
    if current is None:
        current = _new_replicaset(store, deployment, newest + 1)
    elif revision(current) < newest:
        # A rollback to an older template reuses its replica set as the newest revision.
        current["metadata"]["annotations"][REVISION_ANNOTATION] = str(newest + 1)
    if spec.get("paused"):
        return
    for replicaset in sets:
        if replicaset["metadata"]["uid"] != current["metadata"].get("uid"):
            _scale_replicaset(store, deployment, replicaset, 0)
    _scale_replicaset(store, deployment, current, spec.get("replicas", 1))
    annotations = meta.setdefault("annotations", {})
    if annotations.get(REVISION_ANNOTATION) != str(revision(current)):
        annotations[REVISION_ANNOTATION] = str(revision(current))
        store.put(r.DEPLOYMENT, deployment)


def _new_replicaset(store: Store, deployment: dict, number: int) -> dict:
    meta, spec = deployment["metadata"], deployment["spec"]
    pod_hash = template_hash(spec["template"])
    template = copy.deepcopy(spec["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    selector = copy.deepcopy(spec["selector"])
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    return {
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": template["metadata"]["labels"],
            "annotations": {REVISION_ANNOTATION: str(number)},
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
    }


def _scale_replicaset(store: Store, deployment: dict, replicaset: dict, replicas: int) -> None:
    had = replicaset["spec"]["replicas"]
    replicaset["spec"]["replicas"] = replicas
    annotations = replicaset["metadata"].setdefault("annotations", {})
    if replicas:
        annotations["deployment.kubernetes.io/desired-replicas"] = str(replicas)
        annotations["deployment.kubernetes.io/max-replicas"] = str(replicas + 1)
    store.put(r.REPLICASET, replicaset)
    if had != replicas:
        direction = "up" if replicas > had else "down"
        _record(
            store,
            deployment,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {replicaset['metadata']['name']} to {replicas} "
            f"from {had}",
            "deployment-controller",
        )


def replicate(store: Store, replicaset: dict) -> None:
    """Create or delete pods until the replica set has `spec.replicas` of them."""
    pods = owned(store, r.POD, replicaset)
    missing = replicaset["spec"]["replicas"] - len(pods)
    for _ in range(missing):
        pod = _create_pod(store, replicaset, _free_pod_name(store, replicaset), {})
        _record(
            store,
            replicaset,
            "SuccessfulCreate",
            f"Created pod: {pod['metadata']['name']}",
            "replicaset-controller",
        )
    # Like the replica set controller: unready pods go first, then the youngest.
    surplus = sorted(
        pods, key=lambda p: (is_ready(p), p["metadata"]["creationTimestamp"]), reverse=False
    )[: max(-missing, 0)]
    for pod in surplus:
        store.delete(r.POD, pod["metadata"]["namespace"], pod["metadata"]["name"])
        _record(
            store,
            replicaset,
            "SuccessfulDelete",
            f"Deleted pod: {pod['metadata']['name']}",
            "replicaset-controller",
        )


def _free_pod_name(store: Store, replicaset: dict) -> str:
    prefix = replicaset["metadata"]["name"]
    attempt = 0
    while True:
        name = f"{prefix}-{alphabet_hash(f'{prefix}/{store.resource_version}/{attempt}', 5)}"
        if store.get(r.POD, replicaset["metadata"]["namespace"], name) is None:
            return name
        attempt += 1


def _create_pod(store: Store, owner: dict, name: str, extra_labels: dict) -> dict:
    pod = store.put(
        r.POD,
        make_pod(
            owner["spec"]["template"],
            name=name,
            namespace=owner["metadata"]["namespace"],
            owner=owner,
            extra_labels=extra_labels,
            created=store.clock(),
        ),
    )
    for event in start_events(pod, store.clock()):
        store.put(r.EVENT, event)
    return pod


def run_statefulset(store: Store, statefulset: dict) -> None:
    """Keep pods <name>-0..N-1 at the current template's revision, recreating by name."""
    name, namespace = statefulset["metadata"]["name"], statefulset["metadata"]["namespace"]
    revision_hash = f"{name}-{template_hash(statefulset['spec']['template'])}"
    pods = {p["metadata"]["name"]: p for p in owned(store, r.POD, statefulset)}
    wanted = [f"{name}-{ordinal}" for ordinal in range(statefulset["spec"].get("replicas", 1))]
    for pod_name, pod in pods.items():
        outdated = pod["metadata"]["labels"].get(STS_REVISION_LABEL) != revision_hash
        if pod_name not in wanted or outdated:
            store.delete(r.POD, namespace, pod_name)
            _record(
                store,
                statefulset,
                "SuccessfulDelete",
                f"delete Pod {pod_name} in StatefulSet {name} successful",
                "statefulset-controller",
            )
    for pod_name in wanted:
        if store.get(r.POD, namespace, pod_name) is None:
            labels = {STS_REVISION_LABEL: revision_hash, STS_POD_NAME_LABEL: pod_name}
            _create_pod(store, statefulset, pod_name, labels)
            _record(
                store,
                statefulset,
                "SuccessfulCreate",
                f"create Pod {pod_name} in StatefulSet {name} successful",
                "statefulset-controller",
            )


def _record(store: Store, involved: dict, reason: str, message: str, component: str) -> None:
    store.put(
        r.EVENT, make_event(involved, reason, message, first=store.clock(), component=component)
    )


def report_status(store: Store) -> None:
    for replicaset in store.list(r.REPLICASET):
        pods = owned(store, r.POD, replicaset)
        ready = sum(is_ready(p) for p in pods)
        replicaset["status"] = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": replicaset["metadata"]["generation"],
        }
        store.put(r.REPLICASET, replicaset)
    for deployment in store.list(r.DEPLOYMENT):
        deployment["status"] = _deployment_status(store, deployment)
        store.put(r.DEPLOYMENT, deployment)
    for statefulset in store.list(r.STATEFULSET):
        statefulset["status"] = _statefulset_status(store, statefulset)
        store.put(r.STATEFULSET, statefulset)


def _deployment_status(store: Store, deployment: dict) -> dict:
    spec, old = deployment["spec"], deployment.get("status") or {}
    sets = owned(store, r.REPLICASET, deployment)
    wanted = comparable_template(spec["template"])
    current = next((s for s in sets if comparable_template(s["spec"]["template"]) == wanted), None)
    pods = [p for s in sets for p in owned(store, r.POD, s)]
    updated = [p for p in pods if current and controller_uid(p) == current["metadata"]["uid"]]
    desired = spec.get("replicas", 1)
    available = sum(is_ready(p) for p in pods)
    max_unavailable = _max_unavailable(spec, desired)
    current_name = current["metadata"]["name"] if current else deployment["metadata"]["name"]
    complete = len(updated) == len(pods) == desired
    conditions = [
        (
            "Available",
            available >= desired - max_unavailable,
            ("MinimumReplicasAvailable", "Deployment has minimum availability.")
            if available >= desired - max_unavailable
            else ("MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
        ),
        (
            "Progressing",
            True,
            ("NewReplicaSetAvailable", f'ReplicaSet "{current_name}" has successfully progressed.')
            if complete
            else ("ReplicaSetUpdated", f'ReplicaSet "{current_name}" is progressing.'),
        ),
    ]
    status = {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": len(pods),
        "updatedReplicas": len(updated),
        "readyReplicas": available,
        "availableReplicas": available,
        "conditions": _conditions(old.get("conditions") or [], conditions, store.clock()),
    }
    if desired > available:
        status["unavailableReplicas"] = desired - available
    return status


def _max_unavailable(spec: dict, desired: int) -> int:
    value = (spec.get("strategy", {}).get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return math.floor(desired * int(value[:-1]) / 100)
    return int(value)


def _conditions(old: list[dict], new: list[tuple], now: float) -> list[dict]:
    """Conditions keep their transition time while status and reason stay the same."""
    previous = {c["type"]: c for c in old}
    result = []
    for kind, ok, (reason, message) in new:
        value = "True" if ok else "False"
        before = previous.get(kind)
        same = before and before["status"] == value and before["reason"] == reason
        since = before["lastTransitionTime"] if same else iso(now)
        updated = before["lastUpdateTime"] if same else iso(now)
        result.append(
            {
                "type": kind,
                "status": value,
                "lastUpdateTime": updated,
                "lastTransitionTime": since,
                "reason": reason,
                "message": message,
            }
        )
    return result


def _statefulset_status(store: Store, statefulset: dict) -> dict:
    name = statefulset["metadata"]["name"]
    revision_hash = f"{name}-{template_hash(statefulset['spec']['template'])}"
    pods = owned(store, r.POD, statefulset)
    ready = sum(is_ready(p) for p in pods)
    updated = sum(p["metadata"]["labels"].get(STS_REVISION_LABEL) == revision_hash for p in pods)
    return {
        "observedGeneration": statefulset["metadata"]["generation"],
        "replicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": updated,
        "updatedReplicas": updated,
        "currentRevision": revision_hash,
        "updateRevision": revision_hash,
        "collisionCount": 0,
    }
