"""The secret values a run could leak: what its profile's references resolve to, and more.

Profiles only reference secrets (a file's or an environment variable's name); the runner
resolves those references here, never for a connection, only to know what to redact.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from hopngo_ops.config import SANDBOX_PROFILE, Targets, load_targets
from hopngo_ops.errors import HopngoError
from hopngo_ops.record.redact import SECRET_NAME, Redactor

# Set by the runner for the kernels it starts: the profile whose secrets their records hide.
RECORD_PROFILE_ENV = "HOPNGO_RECORD_PROFILE"

# Shorter values are too common to redact by value (they would mangle ordinary text); the
# shape patterns in `redact` still catch them where they appear as `password=...`.
MIN_SECRET_LENGTH = 6
# A `.pgpass` line is host:port:database:user:password, `:` and `\` escaped with `\`.
_PGPASS_FIELD = re.compile(r"(?<!\\):")


def known_secret_values(
    profile: str | None, parameters: Mapping[str, object], environ: Mapping[str, str] = os.environ
) -> set[str]:
    """Every secret value this run's records must never contain."""
    values = set(_from_profile(profile, environ))
    values |= {v for k, v in environ.items() if SECRET_NAME.search(k)}
    values |= {str(v) for k, v in parameters.items() if SECRET_NAME.search(k) and v}
    return {v for v in values if len(v) >= MIN_SECRET_LENGTH}


def run_redactor(profile: str | None, parameters: Mapping[str, object]) -> Redactor:
    return Redactor(known_secret_values(profile, parameters))


def _from_profile(profile: str | None, environ: Mapping[str, str]) -> Iterable[str]:
    try:
        targets = load_targets(profile or SANDBOX_PROFILE)
    except HopngoError:
        # A profile that does not load gives the run nothing to connect with, so nothing of
        # its to leak; the run itself reports why it could not load.
        return []
    files = [targets.postgres_passfile, targets.rabbitmq_password_file]
    if targets.profile == SANDBOX_PROFILE:
        files += _sandbox_secret_files()
    envs = [targets.postgres_password_env, targets.rabbitmq_password_env]
    return [
        *(v for path in files if path for v in _file_secrets(Path(path))),
        *(environ[name] for name in envs if name and environ.get(name)),
        *_dsn_password(targets),
    ]


def _sandbox_secret_files() -> list[Path]:
    """The sandbox keeps every generated password (the services' too) in one folder."""
    from hopngo_ops.sandbox import default_state_dir

    folder = default_state_dir() / "secrets"
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def _file_secrets(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError:
        # Unreadable to this user means unreadable to the kernel it starts: nothing to leak.
        return []
    if path.suffix == ".pgpass" or path.name == ".pgpass":
        return [
            _PGPASS_FIELD.split(line)[-1].replace("\\:", ":").replace("\\\\", "\\")
            for line in text.splitlines()
            if line.strip() and not line.startswith("#")
        ]
    return [text.strip()]


def _dsn_password(targets: Targets) -> list[str]:
    """A password written into the DSN itself (key=value or URL form)."""
    dsn = targets.postgres_dsn or ""
    found = re.search(r"\bpassword=(\S+)", dsn) or re.search(r"://[^:/@\s]+:([^@\s]+)@", dsn)
    return [found.group(1)] if found else []
