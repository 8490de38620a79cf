"""`kubectl rollout status deployment/x`, decided the way kubectl decides it."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes.client import V1Deployment

from hopngo_ops import names
from hopngo_ops.kube.client import KubeConnection

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
# The Progressing condition's reason once progressDeadlineSeconds has passed.
DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


@dataclass(frozen=True)
class RolloutStatus:
    deployment: str
    desired: int
    updated: int
    ready: int
    available: int
    # Pods of older revisions still counted in status.replicas.
    old: int
    revision: str | None
    complete: bool
    deadline_exceeded: bool
    # kubectl's own words for the state.
    message: str


class RolloutReads(KubeConnection):
    def rollout_status(self, deployment: str) -> RolloutStatus:
        found = self.call(
            self.apps.read_namespaced_deployment, names.service_name(deployment), self.namespace
        )
        return rollout_status(found)


def rollout_status(deployment: V1Deployment) -> RolloutStatus:
    """kubectl's DeploymentStatusViewer, checks in its order, without waiting."""
    name = deployment.metadata.name
    spec, status = deployment.spec, deployment.status
    desired = spec.replicas if spec.replicas is not None else 1
    replicas = status.replicas or 0
    updated = status.updated_replicas or 0
    available = status.available_replicas or 0
    progressing = next((c for c in status.conditions or [] if c.type == "Progressing"), None)
    deadline_exceeded = progressing is not None and progressing.reason == DEADLINE_EXCEEDED
    message, complete = _verdict(
        name,
        observed=(deployment.metadata.generation or 0) <= (status.observed_generation or 0),
        deadline_exceeded=deadline_exceeded,
        desired=desired,
        replicas=replicas,
        updated=updated,
        available=available,
    )
    return RolloutStatus(
        deployment=name,
        desired=desired,
        updated=updated,
        ready=status.ready_replicas or 0,
        available=available,
        old=max(0, replicas - updated),
        revision=(deployment.metadata.annotations or {}).get(REVISION_ANNOTATION),
        complete=complete,
        deadline_exceeded=deadline_exceeded,
        message=message,
    )


def _verdict(
    name: str,
    *,
    observed: bool,
    deadline_exceeded: bool,
    desired: int,
    replicas: int,
    updated: int,
    available: int,
) -> tuple[str, bool]:
    """kubectl's message and whether the rollout is complete."""
    waiting = f"Waiting for deployment {name!r} rollout to finish: "
    if not observed:
        return "Waiting for deployment spec update to be observed...", False
    if deadline_exceeded:
        return f"deployment {name!r} exceeded its progress deadline", False
    if updated < desired:
        return waiting + f"{updated} out of {desired} new replicas have been updated...", False
    if replicas > updated:
        return waiting + f"{replicas - updated} old replicas are pending termination...", False
    if available < updated:
        return waiting + f"{available} of {updated} updated replicas are available...", False
    return f"deployment {name!r} successfully rolled out", True
