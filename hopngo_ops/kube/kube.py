"""`Kube`: every read of this package on one connection (each module adds its verbs)."""

from hopngo_ops.kube.connectivity import DatabaseReads
from hopngo_ops.kube.logs import LogReads
from hopngo_ops.kube.nodes import NodeReads
from hopngo_ops.kube.rollout import RolloutReads
from hopngo_ops.kube.top import TopReads


class Kube(LogReads, TopReads, RolloutReads, NodeReads, DatabaseReads):
    """One namespace of one cluster: `Kube.from_targets(targets, namespace=...)`."""
