"""The runbook's remediation steps for a notebook, shown as what would be done.

Each planned step names the action, why the runbook takes it, and the equivalent command an
engineer would type. Nothing here changes anything: it only plans.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

import pandas as pd

from hopngo_ops.step import Step

# The runbook's heap and memory values (sections 2, 3 and 6).
JAVA_OPTS_LATENCY = "-Xmx2g -Xms1g"
JAVA_OPTS_MEMORY = "-Xmx4g -Xms2g -XX:+UseG1GC"
MEMORY_LIMIT = "2Gi"


@dataclass(frozen=True)
class PlannedAction:
    action: str
    why: str
    command: str


def _kubectl(namespace: str, *args: str) -> str:
    return shlex.join(["kubectl", "-n", namespace, *args])


def _container_patch(service: str, container: dict) -> str:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": service, **container}]}}}}
    return json.dumps(patch, separators=(",", ":"))


def rollout_restart(service: str, namespace: str) -> PlannedAction:
    return PlannedAction(
        "rollout_restart",
        "replace every pod with a fresh one (clears a stuck pool or a wedged JVM)",
        _kubectl(namespace, "rollout", "restart", f"deployment/{service}"),
    )


def scale(service: str, namespace: str, replicas: int) -> PlannedAction:
    return PlannedAction(
        "scale",
        f"run {replicas} replicas to absorb load",
        _kubectl(namespace, "scale", f"deployment/{service}", f"--replicas={replicas}"),
    )


def rollout_undo(service: str, namespace: str) -> PlannedAction:
    return PlannedAction(
        "rollout_undo",
        "go back to the previous revision when a deployment preceded the incident",
        _kubectl(namespace, "rollout", "undo", f"deployment/{service}"),
    )


def patch_java_opts(service: str, namespace: str, java_opts: str) -> PlannedAction:
    env = {"env": [{"name": "JAVA_OPTS", "value": java_opts}]}
    return PlannedAction(
        "patch_java_opts",
        f"give the JVM more heap: JAVA_OPTS={java_opts}",
        _kubectl(namespace, "patch", f"deployment/{service}", "-p", _container_patch(service, env)),
    )


def patch_memory_limit(service: str, namespace: str, limit: str) -> PlannedAction:
    resources = {"resources": {"limits": {"memory": limit}}}
    return PlannedAction(
        "patch_memory_limit",
        f"raise the container's memory limit to {limit}",
        _kubectl(
            namespace, "patch", f"deployment/{service}", "-p", _container_patch(service, resources)
        ),
    )


def delete_pods(service: str, namespace: str) -> PlannedAction:
    return PlannedAction(
        "delete_pods",
        "restart the affected pods at once (their deployment recreates them)",
        _kubectl(namespace, "delete", "pod", "-l", f"app={service}"),
    )


def plan_for(notebook: str, service: str, namespace: str) -> list[PlannedAction]:
    """The runbook's remediation steps of `notebook`, in its order."""
    plans = {
        "service_down": [rollout_restart(service, namespace), scale(service, namespace, 5)],
        "high_latency": [
            scale(service, namespace, 10),
            patch_java_opts(service, namespace, JAVA_OPTS_LATENCY),
        ],
        "high_error_rate": [
            rollout_restart(service, namespace),
            patch_memory_limit(service, namespace, MEMORY_LIMIT),
        ],
        "jvm_memory": [
            delete_pods(service, namespace),
            patch_java_opts(service, namespace, JAVA_OPTS_MEMORY),
        ],
    }
    return plans[notebook]


def remediation_plan(rb) -> Step:
    """What the runbook would do for this notebook's service; nothing is applied."""
    planned = plan_for(rb.notebook, rb.service, rb.namespace)
    return Step(
        title="Remediation: what would be done (nothing is applied)",
        table=pd.DataFrame([vars(p) for p in planned]),
        note="Run the equivalent command only after the diagnosis above points to it.",
    )
