"""The sandbox's generated credentials: random per sandbox, kept in files only their owner reads.

Passwords never go into the status, a log, a URL or a DSN: callers pass these files' paths.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hopngo_ops.sandbox.context import SandboxContext


def new_password() -> str:
    # URL-safe alphabet: no ':' or '\' to escape in .pgpass, nothing to quote in a config.
    return secrets.token_urlsafe(24)


def write_secret(ctx: SandboxContext, name: str, text: str) -> Path:
    """Write `text` to `<state_dir>/secrets/<name>`, readable by its owner only."""
    folder = ctx.dir("secrets")
    folder.chmod(0o700)
    return write_private(folder / name, text)


def write_private(path: Path, text: str) -> Path:
    """Write `text` to `path` with mode 0600, created so (never readable by others meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    # An existing file keeps its mode through O_TRUNC: narrow it.
    os.chmod(path, 0o600)
    return path
