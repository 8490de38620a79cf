"""Start one of the sandbox's own Python processes (held sessions, AMQP consumers, the Kubernetes
simulator)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.procs import Proc, spawn

# The folder holding `hopngo_ops`: the driver imports this same code, installed or not.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def start_driver(ctx: SandboxContext, name: str, module: str, args: list[str], log: Path) -> int:
    """Run `python -m module args` detached, track it (stopped by SIGTERM), return its pid."""
    python_path = os.pathsep.join(filter(None, (PACKAGE_ROOT, os.environ.get("PYTHONPATH"))))
    pid = spawn([sys.executable, "-m", module, *args], log=log, env={"PYTHONPATH": python_path})
    ctx.track(Proc(name, pid, log=str(log)))
    return pid
