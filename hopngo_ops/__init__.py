"""hopngo-ops: the HopNGo on-call runbook as executable, tested notebooks."""

from hopngo_ops.errors import (
    BackendUnavailable,
    GuardRefused,
    HopngoError,
    InvalidName,
    MissingBinary,
    NotFound,
    SandboxError,
)
from hopngo_ops.findings import Finding
from hopngo_ops.runbook import Runbook, check
from hopngo_ops.runner import RunResult, run_notebook
from hopngo_ops.step import Step

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "Finding",
    "GuardRefused",
    "HopngoError",
    "InvalidName",
    "MissingBinary",
    "NotFound",
    "RunResult",
    "Runbook",
    "SandboxError",
    "Step",
    "check",
    "run_notebook",
    "__version__",
]
