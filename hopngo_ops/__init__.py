"""hopngo-ops: the HopNGo on-call runbook as executable, tested notebooks.

The public API is re-exported here lazily: `import hopngo_ops.sandbox` (the CLI, the sandbox's
own processes) must not pay for pandas, matplotlib and nbformat.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "ActionFailed": "hopngo_ops.errors",
    "BackendUnavailable": "hopngo_ops.errors",
    "GuardRefused": "hopngo_ops.errors",
    "HopngoError": "hopngo_ops.errors",
    "InvalidName": "hopngo_ops.errors",
    "MissingBinary": "hopngo_ops.errors",
    "NotFound": "hopngo_ops.errors",
    "SandboxError": "hopngo_ops.errors",
    "Finding": "hopngo_ops.findings",
    "Runbook": "hopngo_ops.runbook",
    "check": "hopngo_ops.runbook",
    "RunResult": "hopngo_ops.runner",
    "run_notebook": "hopngo_ops.runner",
    "Step": "hopngo_ops.step",
    "Targets": "hopngo_ops.config",
    "load_targets": "hopngo_ops.config",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hopngo_ops' has no attribute {name!r}")
