"""The runbook's kubectl remediations as guarded actions: rollout restart, scale, JAVA_OPTS,
memory limit, delete pods, rollout undo.

Each previews with the API's server-side dry run (dryRun=All) of the very request it would
send and shows what would change as a unified diff. Apply sends that previewed request, once
it has checked that the object is still the one previewed, so the applied change is the one
shown. Verify waits, bounded, for the post-condition: the new revision rolled out and its pods
ready, the replicas ready, the deleted pods replaced by ready ones.

The API's refusals say what to do about them: a 403 is a refusal (the profile's credentials
lack the permission), a 409 or a 422 a failure with the API's own message.
"""

from __future__ import annotations

import copy
import difflib
import json
import shlex
from abc import abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import yaml
from kubernetes.client import V1DeleteOptions, V1Deployment, V1Pod, V1Preconditions
from kubernetes.utils import parse_quantity

from hopngo_ops import names
from hopngo_ops.actions.base import Action, Plan, Preview
from hopngo_ops.actions.guards import Guardrails
from hopngo_ops.actions.perform import ActionReport, perform
from hopngo_ops.errors import (
    ActionFailed,
    GuardRefused,
    HopngoError,
    InvalidName,
    NotFound,
    PermissionDenied,
)
from hopngo_ops.kube.client import ApiRefused
from hopngo_ops.kube.rollout import REVISION_ANNOTATION, rollout_status
from hopngo_ops.kube.selectors import selector_string
from hopngo_ops.record.redact import Redactor

# The runbook's memory limit for pods erroring at their limit (section 3). Its two JAVA_OPTS
# values (sections 2 and 6) are the defaults of the notebooks' `java_opts` parameters.
MEMORY_LIMIT = "2Gi"

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
HASH_LABEL = "pod-template-hash"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
DRY_RUN = "All"
# Annotations `kubectl rollout undo` keeps from the deployment instead of copying them from
# the replica set it goes back to (kubectl's annotationsToSkip).
UNDO_KEEPS = frozenset(
    {
        REVISION_ANNOTATION,
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


class KubeAction(Action):
    """An action on one object of the connection's namespace."""

    kind: str = "deployment"

    def __init__(self, kube, name: str):
        self.kube = kube
        self.object_name = names.service_name(name)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.object_name}"

    @property
    def target(self) -> str:
        return f"{self.ref} in namespace {self.kube.namespace}"

    def kubectl(self, *args: str) -> str:
        return shlex.join(["kubectl", "-n", self.kube.namespace, *args])

    def request(self, call: Callable, *args, **kwargs) -> Any:
        """`call` on the connection; the API's refusals as what the user can do about them."""
        try:
            return self.kube.call(call, *args, **kwargs)
        except ApiRefused as err:
            raise refusal(self.name, err) from err

    def as_dict(self, model) -> dict:
        """An API object as the API spells it (camelCase keys, no unset fields)."""
        return self.kube.api_client.sanitize_for_serialization(model)


class DeploymentChange(KubeAction):
    """A change to a deployment, sent as one patch that a dry run of itself previews."""

    patch_type: ClassVar[str] = STRATEGIC_MERGE_PATCH

    def __init__(self, kube, deployment: str):
        super().__init__(kube, deployment)
        self._generation = 0

    @abstractmethod
    def patch(self, deployment: V1Deployment) -> dict | list:
        """The patch (as the API spells it) that makes this change to `deployment`."""

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def command(self) -> str: ...

    def parameters(self) -> dict:
        return {}

    def plan(self) -> Plan:
        return Plan(self.name, self.target, self.describe(), self.command(), self.parameters())

    def read(self) -> V1Deployment:
        return self.request(
            self.kube.apps.read_namespaced_deployment, self.object_name, self.kube.namespace
        )

    def send(self, patch: dict | list, **options) -> dict:
        patched = self.request(
            self.kube.apps.patch_namespaced_deployment,
            self.object_name,
            self.kube.namespace,
            patch,
            _content_type=self.patch_type,
            **options,
        )
        return self.as_dict(patched)

    def preview(self) -> Preview:
        current = self.read()
        patch = self.patch(current)
        before = deployment_view(self.as_dict(current))
        after = deployment_view(self.send(patch, dry_run=DRY_RUN))
        return Preview(
            summary=self.summary(before, after),
            before=before,
            diff=unified_diff(before, after, self.ref),
            payload={"patch": patch, "generation": current.metadata.generation, "after": after},
        )

    def summary(self, before: dict, after: dict) -> str:
        if before == after:
            return f"no change: {self.ref} already is as asked"
        if before["spec"]["template"] != after["spec"]["template"]:
            return f"would change the pod template of {self.ref}: a new revision replaces its pods"
        return f"would change {self.ref}"

    def apply(self, preview: Preview) -> dict:
        previewed = preview.payload["generation"]
        now = self.read().metadata.generation
        if now != previewed:
            # The diff shown no longer describes what the patch would do.
            raise ActionFailed(
                self.name,
                f"{self.ref} changed since the preview (generation {now}, previewed {previewed}); "
                "nothing was applied: preview again",
            )
        applied = self.send(preview.payload["patch"])
        self._generation = applied["metadata"]["generation"]
        return deployment_view(applied)

    def verify(self, preview: Preview, *, timeout: float) -> str:
        return self.wait_for(self._rolled_out, timeout=timeout)

    def _rolled_out(self) -> tuple[bool, str]:
        """kubectl rollout status says complete, and every pod of the new revision is ready."""
        deployment = self.read()
        status = rollout_status(deployment)
        observed = (deployment.status.observed_generation or 0) >= self._generation
        if not (observed and status.complete):
            return False, status.message
        current = self.current_replica_set(deployment)
        pods = self.kube.list_pods(
            f"{selector_string(deployment.spec.selector)},{HASH_LABEL}={pod_hash(current)}"
        )
        ready = [p.metadata.name for p in pods if is_ready(p)]
        state = (
            f"{status.message}: revision {status.revision}, {len(ready)}/{status.desired} pods of "
            f"replica set {current['metadata']['name']} ready"
        )
        return len(ready) >= status.desired, state

    def replica_sets(self, deployment: V1Deployment) -> list[dict]:
        """The deployment's replica sets (its revisions), oldest revision first."""
        listing = self.request(
            self.kube.apps.list_namespaced_replica_set,
            self.kube.namespace,
            label_selector=selector_string(deployment.spec.selector),
        )
        uid = deployment.metadata.uid
        owned = [
            self.as_dict(rs)
            for rs in listing.items
            if any(o.controller and o.uid == uid for o in rs.metadata.owner_references or [])
        ]
        return sorted(owned, key=revision)

    def current_replica_set(self, deployment: V1Deployment) -> dict:
        wanted = (deployment.metadata.annotations or {}).get(REVISION_ANNOTATION)
        for rs in self.replica_sets(deployment):
            if str(revision(rs)) == wanted:
                return rs
        raise ActionFailed(self.name, f"{self.ref} has no replica set of revision {wanted}")


class RolloutRestart(DeploymentChange):
    """`kubectl rollout restart`: a restartedAt annotation on the pod template, fixed at preview."""

    name = "rollout_restart"

    def describe(self) -> str:
        return (
            f"Restart every pod of {self.ref}: annotating its pod template with {RESTARTED_AT} "
            "rolls out a new revision that replaces the pods (clears a stuck pool or a wedged "
            "JVM)."
        )

    def command(self) -> str:
        return self.kubectl("rollout", "restart", self.ref)

    def patch(self, deployment: V1Deployment) -> dict:
        # kubectl's own format (RFC 3339, seconds); the preview's payload keeps this value.
        restarted_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}}


class ContainerPatch(DeploymentChange):
    """The runbook's `kubectl patch`: a strategic merge into the container named like the
    service (or `container`), so the other containers and env entries stay as they are."""

    def __init__(self, kube, deployment: str, *, container: str | None = None):
        super().__init__(kube, deployment)
        self.container = names.object_name(container or deployment, "container")

    @abstractmethod
    def container_change(self) -> dict:
        """The fields to merge into the container."""

    def patch(self, deployment: V1Deployment) -> dict:
        containers = [c.name for c in deployment.spec.template.spec.containers]
        if self.container not in containers:
            # A strategic merge would add a new, incomplete container instead.
            raise NotFound(
                f"{self.ref} has no container {self.container!r} (it has "
                f"{', '.join(containers)}): pass container=..."
            )
        return self._patch()

    def _patch(self) -> dict:
        container = {"name": self.container, **self.container_change()}
        return {"spec": {"template": {"spec": {"containers": [container]}}}}

    def command(self) -> str:
        return self.kubectl("patch", self.ref, "-p", json.dumps(self._patch()))

    def parameters(self) -> dict:
        return {"container": self.container}


class PatchJavaOpts(ContainerPatch):
    """Set the container's JAVA_OPTS (the runbook's heap sizes)."""

    name = "patch_java_opts"

    def __init__(self, kube, deployment: str, *, java_opts: str, container: str | None = None):
        super().__init__(kube, deployment, container=container)
        if not isinstance(java_opts, str) or not java_opts.strip():
            raise InvalidName("JAVA_OPTS", java_opts, "the JVM options to set, e.g. -Xmx2g -Xms1g")
        self.java_opts = java_opts

    def describe(self) -> str:
        return (
            f"Set JAVA_OPTS={self.java_opts} in container {self.container} of {self.ref} (more "
            "heap for the JVM); the changed pod template rolls out a new revision."
        )

    def container_change(self) -> dict:
        return {"env": [{"name": "JAVA_OPTS", "value": self.java_opts}]}

    def parameters(self) -> dict:
        return {**super().parameters(), "java_opts": self.java_opts}


class PatchMemoryLimit(ContainerPatch):
    """Set the container's memory limit."""

    name = "patch_memory_limit"

    def __init__(self, kube, deployment: str, *, limit: str, container: str | None = None):
        super().__init__(kube, deployment, container=container)
        self.limit = limit

    def guard(self, guardrails: Guardrails) -> None:
        try:
            parse_quantity(self.limit)
        except ValueError as err:
            raise GuardRefused(
                f"{self.name}: {self.limit!r} is not a Kubernetes quantity (e.g. 2Gi, 1536Mi)"
            ) from err

    def describe(self) -> str:
        return (
            f"Set the memory limit of container {self.container} of {self.ref} to {self.limit}; "
            "the changed pod template rolls out a new revision."
        )

    def container_change(self) -> dict:
        return {"resources": {"limits": {"memory": self.limit}}}

    def parameters(self) -> dict:
        return {**super().parameters(), "limit": self.limit}


class RolloutUndo(DeploymentChange):
    """`kubectl rollout undo`: the pod template (and annotations) of the previous revision's
    replica set, written back as kubectl writes it (one JSON patch)."""

    name = "rollout_undo"
    patch_type = JSON_PATCH

    def __init__(self, kube, deployment: str):
        super().__init__(kube, deployment)
        self._previous: dict | None = None

    def describe(self) -> str:
        return (
            f"Roll {self.ref} back to its previous revision (when a deployment preceded the "
            "incident): its pod template comes back and replaces the pods."
        )

    def command(self) -> str:
        return self.kubectl("rollout", "undo", self.ref)

    def patch(self, deployment: V1Deployment) -> list:
        if deployment.spec.paused:
            raise GuardRefused(
                f"{self.name}: {self.ref} is paused; resume it first (kubectl rollout resume)"
            )
        sets = self.replica_sets(deployment)
        if len(sets) < 2:
            raise GuardRefused(
                f"{self.name}: {self.ref} has no previous revision to go back to "
                f"(revisions: {', '.join(str(revision(rs)) for rs in sets) or 'none'})"
            )
        self._previous = previous = sets[-2]
        template = copy.deepcopy(previous["spec"]["template"])
        template["metadata"]["labels"].pop(HASH_LABEL, None)
        if template == self.as_dict(deployment.spec.template):
            raise GuardRefused(
                f"{self.name}: the template of {self.ref} already matches revision "
                f"{revision(previous)}; nothing to undo"
            )
        annotations = {
            **{k: v for k, v in (deployment.metadata.annotations or {}).items() if k in UNDO_KEEPS},
            **{
                k: v
                for k, v in (previous["metadata"].get("annotations") or {}).items()
                if k not in UNDO_KEEPS
            },
        }
        return [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ]

    def summary(self, before: dict, after: dict) -> str:
        previous = self._previous["metadata"]["name"]
        return (
            f"would roll {self.ref} back to revision {revision(self._previous)} (the template of "
            f"replica set {previous}): a new revision replaces its pods"
        )


class Scale(KubeAction):
    """`kubectl scale`: the replicas of a deployment or statefulset, through its scale
    subresource, within the guardrails' bounds."""

    name = "scale"
    # kind -> the client's name for it in AppsV1Api's methods.
    KINDS: ClassVar[dict[str, str]] = {"deployment": "deployment", "statefulset": "stateful_set"}

    def __init__(self, kube, name: str, replicas: int, *, kind: str = "deployment"):
        super().__init__(kube, name)
        if kind not in self.KINDS:
            raise InvalidName("kind", kind, f"one of {', '.join(self.KINDS)}")
        if isinstance(replicas, bool) or not isinstance(replicas, int):
            raise InvalidName("replicas", replicas, "a whole number of replicas")
        self.kind, self.replicas = kind, replicas
        self._generation = 0

    def _api(self, verb: str) -> Callable:
        return getattr(self.kube.apps, verb.format(self.KINDS[self.kind]))

    def plan(self) -> Plan:
        return Plan(
            self.name,
            self.target,
            f"Run {self.replicas} replicas of {self.ref} (absorb load, or bring it back).",
            self.kubectl("scale", self.ref, f"--replicas={self.replicas}"),
            {"kind": self.kind, "replicas": self.replicas},
        )

    def guard(self, guardrails: Guardrails) -> None:
        guardrails.check_replicas(self.name, self.replicas)

    def _on_object(self, verb: str, *args, **options) -> Any:
        return self.request(
            self._api(verb), self.object_name, self.kube.namespace, *args, **options
        )

    def _replicas(self) -> int:
        return self._on_object("read_namespaced_{}_scale").spec.replicas or 0

    def _scale_to_wanted(self, **options) -> int:
        """Patch the scale subresource to the wanted replicas; the replicas it then holds."""
        patch = {"spec": {"replicas": self.replicas}}
        scale = self._on_object(
            "patch_namespaced_{}_scale", patch, _content_type=MERGE_PATCH, **options
        )
        return scale.spec.replicas

    def preview(self) -> Preview:
        before = {"spec": {"replicas": self._replicas()}}
        after = {"spec": {"replicas": self._scale_to_wanted(dry_run=DRY_RUN)}}
        was, will = before["spec"]["replicas"], after["spec"]["replicas"]
        summary = (
            f"no change: {self.ref} already runs {was} replicas"
            if was == will
            else f"would scale {self.ref} from {was} to {will} replicas"
        )
        return Preview(
            summary=summary,
            before=before,
            diff=unified_diff(before, after, f"{self.ref}/scale"),
            payload={"from": was, "to": will},
        )

    def apply(self, preview: Preview) -> dict:
        now = self._replicas()
        if now != preview.payload["from"]:
            raise ActionFailed(
                self.name,
                f"{self.ref} was scaled since the preview ({now} replicas, previewed "
                f"{preview.payload['from']}); nothing was applied: preview again",
            )
        replicas = self._scale_to_wanted()
        self._generation = self._on_object("read_namespaced_{}").metadata.generation
        return {"spec": {"replicas": replicas}}

    def verify(self, preview: Preview, *, timeout: float) -> str:
        return self.wait_for(self._replicas_ready, timeout=timeout)

    def _replicas_ready(self) -> tuple[bool, str]:
        status = self._on_object("read_namespaced_{}").status
        ready, total = status.ready_replicas or 0, status.replicas or 0
        observed = (status.observed_generation or 0) >= self._generation
        state = f"{self.ref}: {ready}/{self.replicas} replicas ready ({total} running)"
        return observed and ready == total == self.replicas, state


class DeletePods(KubeAction):
    """`kubectl delete pod -l app=<service>`: their controllers replace them at once.

    The dry run of the delete-by-label names the pods; apply deletes exactly those (by name,
    with their uid as precondition), never a replacement that appeared meanwhile.
    """

    name = "delete_pods"
    destructive = True
    kind = "pod"

    def __init__(self, kube, service: str):
        super().__init__(kube, service)
        self.selector = f"app={self.object_name}"
        self._deleted: list[tuple[str, str]] = []

    @property
    def target(self) -> str:
        return f"pods labelled {self.selector} in namespace {self.kube.namespace}"

    def plan(self) -> Plan:
        return Plan(
            self.name,
            self.target,
            f"Delete every pod labelled {self.selector} at once (all restart together, unlike "
            "a rollout restart); their replica set or statefulset recreates them.",
            self.kubectl("delete", "pod", "-l", self.selector),
            {"selector": self.selector},
        )

    def preview(self) -> Preview:
        # The collection's answer is a PodList, which the client's Status model cannot read.
        answer = self.request(
            self.kube.core.delete_collection_namespaced_pod,
            self.kube.namespace,
            label_selector=self.selector,
            dry_run=DRY_RUN,
            _preload_content=False,
        )
        pods = json.loads(answer.data)["items"]
        if bare := [p["metadata"]["name"] for p in pods if controller_of(p) is None]:
            raise GuardRefused(
                f"{self.name}: pods {', '.join(bare)} have no controller: deleted, they would "
                "not come back"
            )
        before = [
            {"pod": p["metadata"]["name"], "uid": p["metadata"]["uid"], "owner": controller_of(p)}
            for p in pods
        ]
        listing = "\n".join(f"pod/{p['pod']} (owned by {p['owner']})" for p in before)
        table = self.kube.pods(self.object_name)
        return Preview(
            summary=f"would delete {len(pods)} pod(s) labelled {self.selector}; their "
            "controllers replace them",
            before=before,
            diff=unified_diff(listing, "", f"pods -l {self.selector}"),
            rows=table[table["pod"].isin([p["pod"] for p in before])].reset_index(drop=True),
            payload=[(p["pod"], p["uid"]) for p in before],
        )

    def apply(self, preview: Preview) -> dict:
        deleted, gone = [], []
        for pod, uid in preview.payload:
            options = V1DeleteOptions(preconditions=V1Preconditions(uid=uid))
            try:
                self.kube.call(
                    self.kube.core.delete_namespaced_pod, pod, self.kube.namespace, body=options
                )
            except NotFound:
                gone.append(pod)
                continue
            except ApiRefused as err:
                # 409: the name is now another pod (a statefulset's replacement): leave it.
                if err.status != 409:
                    raise refusal(self.name, err) from err
                gone.append(pod)
                continue
            deleted.append((pod, uid))
        self._deleted = deleted
        return {"deleted": [pod for pod, _ in deleted], "already_gone": gone}

    def verify(self, preview: Preview, *, timeout: float) -> str:
        if not self._deleted:
            return "nothing was deleted: every previewed pod was already gone"
        return self.wait_for(self._replaced, timeout=timeout)

    def _replaced(self) -> tuple[bool, str]:
        """None of the deleted pods is left, and as many ready pods run in their place."""
        deleted = {uid for _, uid in self._deleted}
        pods = self.kube.list_pods(self.selector)
        left = [p.metadata.name for p in pods if p.metadata.uid in deleted]
        ready = [
            p.metadata.name
            for p in pods
            if p.metadata.uid not in deleted and not p.metadata.deletion_timestamp and is_ready(p)
        ]
        state = (
            f"deleted {len(deleted)} pod(s); {len(left)} still there; "
            f"{len(ready)} ready in their place: {', '.join(ready) or 'none'}"
        )
        return not left and len(ready) >= len(deleted), state


def refusal(action: str, err: ApiRefused) -> HopngoError:
    """What the user can do about a 403, 409 or 422, with the API's own message."""
    if err.status == 403:
        return PermissionDenied(
            f"{action}: {err.status_message}; the profile's credentials lack this permission: "
            "use the remediation role (deploy/rbac/remediation.yaml)"
        )
    if err.status == 409:
        return ActionFailed(
            action, f"conflict: {err.status_message}; the object changed meanwhile: preview again"
        )
    return ActionFailed(action, f"invalid: {err.status_message}; the API rejected the change")


def deployment_view(deployment: dict) -> dict:
    """What a deployment change can change: its annotations and its spec, with the values of
    secret-named env entries masked (a preview is shown, diffed and audited)."""
    view = {
        "metadata": {"annotations": deployment["metadata"].get("annotations") or {}},
        "spec": deployment["spec"],
    }
    return Redactor().data(view)


def unified_diff(before: dict | list | str, after: dict | list | str, name: str) -> str:
    """`before` and `after` (as YAML unless text) as a unified diff, like `kubectl diff`."""

    def lines(value: dict | list | str) -> list[str]:
        text = value if isinstance(value, str) else yaml.safe_dump(value, sort_keys=True)
        return text.splitlines()

    diff = difflib.unified_diff(
        lines(before), lines(after), f"{name} (now)", f"{name} (dry run)", lineterm=""
    )
    return "\n".join(diff)


def revision(replica_set: dict) -> int:
    return int((replica_set["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, 0))


def pod_hash(replica_set: dict) -> str:
    return replica_set["metadata"]["labels"][HASH_LABEL]


def controller_of(obj: dict) -> str | None:
    """`Kind/name` of the object's controlling owner, if it has one."""
    owners = obj["metadata"].get("ownerReferences") or []
    return next((f"{o['kind']}/{o['name']}" for o in owners if o.get("controller")), None)


def is_ready(pod: V1Pod) -> bool:
    conditions = pod.status.conditions if pod.status else None
    return any(c.type == "Ready" and c.status == "True" for c in conditions or [])


# --- notebook-facing: each previews, and applies only when the run names it in `apply` -------


def rollout_restart(rb, *, deployment: str | None = None) -> ActionReport:
    """Restart the service's deployment (the runbook's `kubectl rollout restart`)."""
    return perform(rb, RolloutRestart(rb.kube, _named(rb, deployment)))


def scale(rb, replicas: int, kind: str = "deployment", name: str | None = None) -> ActionReport:
    """Scale the service's deployment (or `kind` "statefulset" `name`) to `replicas`."""
    return perform(rb, Scale(rb.kube, _named(rb, name), replicas, kind=kind))


def patch_java_opts(
    rb, *, java_opts: str, deployment: str | None = None, container: str | None = None
) -> ActionReport:
    """Set JAVA_OPTS in the container named like the service."""
    action = PatchJavaOpts(
        rb.kube, _named(rb, deployment), java_opts=java_opts, container=container
    )
    return perform(rb, action)


def patch_memory_limit(
    rb,
    *,
    limit: str = MEMORY_LIMIT,
    deployment: str | None = None,
    container: str | None = None,
) -> ActionReport:
    """Set the memory limit of the container named like the service (the runbook's 2Gi)."""
    action = PatchMemoryLimit(rb.kube, _named(rb, deployment), limit=limit, container=container)
    return perform(rb, action)


def delete_pods(rb, *, service: str | None = None) -> ActionReport:
    """Delete the service's pods (label app=<service>) so their controller recreates them."""
    return perform(rb, DeletePods(rb.kube, _named(rb, service)))


def rollout_undo(rb, *, deployment: str | None = None) -> ActionReport:
    """Roll the service's deployment back to its previous revision (`kubectl rollout undo`)."""
    return perform(rb, RolloutUndo(rb.kube, _named(rb, deployment)))


def _named(rb, name: str | None) -> str:
    """The object the call names, else the notebook's service."""
    chosen = name if name is not None else rb.service
    if chosen is None:
        raise ValueError("this action needs a name: pass one or open the runbook with a service")
    return chosen
