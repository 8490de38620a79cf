"""Kubernetes reads for the runbook's kubectl steps, over the official client.

Reads never mutate. Every name is validated before a request is built, and the client's
errors arrive as NotFound or BackendUnavailable.
"""

from hopngo_ops.kube.client import RequestRefused
from hopngo_ops.kube.connectivity import DatabaseConnectivity
from hopngo_ops.kube.kube import Kube
from hopngo_ops.kube.patterns import PATTERN_SETS, LogPattern, PatternSet
from hopngo_ops.kube.pods import PodDescription
from hopngo_ops.kube.rollout import RolloutStatus

__all__ = [
    "PATTERN_SETS",
    "DatabaseConnectivity",
    "Kube",
    "LogPattern",
    "PatternSet",
    "PodDescription",
    "RequestRefused",
    "RolloutStatus",
]
