"""Pods: `kubectl get pods -l app=<service>` and `kubectl describe pod <name>` as tables."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd
from kubernetes.client import V1ContainerStatus, V1Pod

from hopngo_ops import names
from hopngo_ops.kube.events import EventReads
from hopngo_ops.kube.times import age, now, timestamp

POD_COLUMNS = [
    "pod",
    "ready",  # the pod's Ready condition
    "containers_ready",  # kubectl's READY column, e.g. 0/1
    "status",  # kubectl's STATUS column, e.g. CrashLoopBackOff
    "restarts",
    "phase",
    "state",  # running / waiting / terminated, of the container that explains the status
    "reason",
    "last_reason",  # the last termination, as `describe pod` shows under "Last State"
    "last_exit_code",
    "last_finished",
    "node",
    "age",
]


@dataclass(frozen=True)
class PodDescription:
    """What `kubectl describe pod` shows, as a few tables."""

    name: str
    namespace: str
    node: str | None
    status: str
    started: pd.Timestamp | None
    labels: dict
    conditions: pd.DataFrame
    containers: pd.DataFrame
    events: pd.DataFrame

    def _repr_html_(self) -> str:
        head = f"<h4>Pod {html.escape(self.namespace)}/{html.escape(self.name)}</h4>"
        facts = f"<p>status {html.escape(self.status)} on node {html.escape(str(self.node))}</p>"
        tables = (
            f"<h5>{title}</h5>{table.to_html()}"
            for title, table in (
                ("Conditions", self.conditions),
                ("Containers", self.containers),
                ("Events", self.events),
            )
        )
        return head + facts + "".join(tables)


class PodReads(EventReads):
    def pods(self, service: str) -> pd.DataFrame:
        """The service's pods (label app=<service>), one row each, by name."""
        selector = f"app={names.service_name(service)}"
        at = now()
        rows = [_pod_row(pod, at) for pod in self.list_pods(selector)]
        return pd.DataFrame(rows, columns=POD_COLUMNS).sort_values("pod", ignore_index=True)

    def describe_pod(self, name: str) -> PodDescription:
        pod = self.call(self.core.read_namespaced_pod, names.object_name(name), self.namespace)
        return PodDescription(
            name=pod.metadata.name,
            namespace=pod.metadata.namespace or self.namespace,
            node=pod.spec.node_name,
            status=pod_status(pod),
            started=timestamp(pod.status.start_time),
            labels=dict(pod.metadata.labels or {}),
            conditions=_conditions(pod),
            containers=_containers(pod),
            events=self.events("Pod", pod.metadata.name),
        )

    def service_events(self, service: str) -> pd.DataFrame:
        """Events about the service's pods (label app=<service>), oldest first."""
        selector = f"app={names.service_name(service)}"
        return self.pod_events({pod.metadata.name for pod in self.list_pods(selector)})

    def list_pods(self, label_selector: str) -> list[V1Pod]:
        """The namespace's pods matching a selector built from validated names."""
        listing = self.call(
            self.core.list_namespaced_pod, self.namespace, label_selector=label_selector
        )
        return listing.items


def pod_status(pod: V1Pod) -> str:
    """kubectl's STATUS column: the reason of a container that is not running, else the phase."""
    reason = pod.status.reason or pod.status.phase or "Unknown"
    running_and_ready = False
    for status in reversed(pod.status.container_statuses or []):
        state = status.state
        if state and state.waiting and state.waiting.reason:
            reason = state.waiting.reason
        elif state and state.terminated and state.terminated.reason:
            reason = state.terminated.reason
        elif state and state.terminated:
            reason = f"ExitCode:{state.terminated.exit_code}"
        elif status.ready and state and state.running:
            running_and_ready = True
    if reason == "Completed" and running_and_ready:
        reason = "Running"
    if pod.metadata.deletion_timestamp is not None:
        reason = "Terminating"
    return reason


def _pod_row(pod: V1Pod, at: pd.Timestamp) -> dict:
    statuses = pod.status.container_statuses or []
    # The container that explains the pod's state: the first one not ready, else the first.
    shown = next((s for s in statuses if not s.ready), statuses[0] if statuses else None)
    last = _last_termination(statuses)
    state, reason = _state(shown) if shown else (None, None)
    return {
        "pod": pod.metadata.name,
        "ready": _condition_true(pod, "Ready"),
        "containers_ready": f"{sum(s.ready for s in statuses)}/{len(pod.spec.containers)}",
        "status": pod_status(pod),
        "restarts": sum(s.restart_count for s in statuses),
        "phase": pod.status.phase,
        "state": state,
        "reason": reason,
        "last_reason": last.reason if last else None,
        "last_exit_code": last.exit_code if last else None,
        "last_finished": timestamp(last.finished_at) if last else None,
        "node": pod.spec.node_name,
        "age": age(pod.metadata.creation_timestamp, at),
    }


def _state(status: V1ContainerStatus) -> tuple[str | None, str | None]:
    state = status.state
    if state is None:
        return None, None
    if state.waiting:
        return "waiting", state.waiting.reason
    if state.terminated:
        return "terminated", state.terminated.reason
    return ("running", None) if state.running else (None, None)


def _last_termination(statuses: list[V1ContainerStatus]):
    """The most recent previous termination among the containers (OOMKilled, Error...)."""
    terminations = [
        s.last_state.terminated for s in statuses if s.last_state and s.last_state.terminated
    ]
    if not terminations:
        return None
    return max(
        terminations, key=lambda t: timestamp(t.finished_at) or pd.Timestamp.min.tz_localize("UTC")
    )


def _condition_true(pod: V1Pod, kind: str) -> bool:
    return any(c.type == kind and c.status == "True" for c in pod.status.conditions or [])


def _conditions(pod: V1Pod) -> pd.DataFrame:
    rows = [
        {
            "condition": c.type,
            "status": c.status,
            "reason": c.reason,
            "message": c.message,
            "last_transition": timestamp(c.last_transition_time),
        }
        for c in pod.status.conditions or []
    ]
    return pd.DataFrame(
        rows, columns=["condition", "status", "reason", "message", "last_transition"]
    )


def _containers(pod: V1Pod) -> pd.DataFrame:
    statuses = {s.name: s for s in pod.status.container_statuses or []}
    rows = []
    for container in pod.spec.containers:
        status = statuses.get(container.name)
        state, reason = _state(status) if status else (None, None)
        last = status.last_state.terminated if status and status.last_state else None
        resources = container.resources
        rows.append(
            {
                "container": container.name,
                "image": container.image,
                "ready": bool(status and status.ready),
                "restarts": status.restart_count if status else 0,
                "state": state,
                "reason": reason,
                "last_reason": last.reason if last else None,
                "last_exit_code": last.exit_code if last else None,
                "last_finished": timestamp(last.finished_at) if last else None,
                "requests": dict(resources.requests or {}) if resources else {},
                "limits": dict(resources.limits or {}) if resources else {},
            }
        )
    return pd.DataFrame(rows)
