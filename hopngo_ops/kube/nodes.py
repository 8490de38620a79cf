"""Node conditions, as `kubectl describe nodes` lists them, with the ones that need attention."""

from __future__ import annotations

import pandas as pd

from hopngo_ops.kube.client import KubeConnection
from hopngo_ops.kube.times import timestamp

NODE_CONDITION_COLUMNS = [
    "node",
    "condition",
    "status",
    "problem",
    "reason",
    "message",
    "last_transition",
]
# A node is healthy when Ready is True and every other condition (the pressures) is False.
HEALTHY_WHEN_TRUE = {"Ready"}


class NodeReads(KubeConnection):
    def node_conditions(self) -> pd.DataFrame:
        nodes = self.call(self.core.list_node).items
        rows = [
            {
                "node": node.metadata.name,
                "condition": c.type,
                "status": c.status,
                "problem": (c.status == "True") != (c.type in HEALTHY_WHEN_TRUE),
                "reason": c.reason,
                "message": c.message,
                "last_transition": timestamp(c.last_transition_time),
            }
            for node in nodes
            for c in node.status.conditions or []
        ]
        return pd.DataFrame(rows, columns=NODE_CONDITION_COLUMNS)
