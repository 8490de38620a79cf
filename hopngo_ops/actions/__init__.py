"""Guarded remediation actions: plan, guard, preview, apply when asked, verify, audit.

Notebook-facing functions take the notebook's Runbook, build their action and return
`perform(rb, action)`: a preview, unless the run names the action in its `apply` parameter.
"""

from hopngo_ops.actions.kube import (
    delete_pods,
    patch_java_opts,
    patch_memory_limit,
    rollout_restart,
    rollout_undo,
    scale,
)
from hopngo_ops.actions.postgres import (
    terminate_blocker,
    terminate_idle_connections,
    terminate_long_queries,
)
from hopngo_ops.actions.rabbitmq import move_to_dead_letter, purge_queue

__all__ = [
    "delete_pods",
    "move_to_dead_letter",
    "patch_java_opts",
    "patch_memory_limit",
    "purge_queue",
    "rollout_restart",
    "rollout_undo",
    "scale",
    "terminate_blocker",
    "terminate_idle_connections",
    "terminate_long_queries",
]
