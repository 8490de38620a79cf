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

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "GuardRefused",
    "HopngoError",
    "InvalidName",
    "MissingBinary",
    "NotFound",
    "SandboxError",
    "__version__",
]
