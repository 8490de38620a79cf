"""Targets: where Prometheus, the Kubernetes API, PostgreSQL and RabbitMQ are.

A named profile says where: `sandbox` reads the running sandbox's status; any other name is
`parameters/profiles/<name>.yaml`. `HOPNGO_<FIELD>` environment variables override a profile's
fields. Profiles reference secrets (an environment variable's or a file's name); a profile
that holds a secret value is refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

import yaml
from psycopg.conninfo import make_conninfo

from hopngo_ops import names
from hopngo_ops.errors import HopngoError, NotFound

SANDBOX_PROFILE = "sandbox"
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


class ProfileError(HopngoError):
    """A profile that cannot be used as written."""


@dataclass(frozen=True)
class Targets:
    profile: str
    namespace: str = "hopngo"
    production: bool = False
    prometheus_url: str | None = None
    kubeconfig: str | None = None
    kube_context: str | None = None
    postgres_dsn: str | None = None
    postgres_passfile: str | None = None
    postgres_password_env: str | None = None
    rabbitmq_management_url: str | None = None
    rabbitmq_amqp_url: str | None = None
    rabbitmq_user: str | None = None
    rabbitmq_password_file: str | None = None
    rabbitmq_password_env: str | None = None

    def require(self, field: str) -> str:
        """The field's value; a clear error naming the profile and the override if unset."""
        value = getattr(self, field)
        if not value:
            raise ProfileError(
                f"profile {self.profile!r} does not set {field}: add it to the profile or set "
                f"HOPNGO_{field.upper()}"
            )
        return value

    def postgres_conninfo(self) -> str:
        """The DSN with its password reference resolved only now, for the connection."""
        dsn = self.require("postgres_dsn")
        # make_conninfo quotes values and accepts URL-form DSNs as well as key=value ones.
        if self.postgres_passfile:
            return make_conninfo(dsn, passfile=self.postgres_passfile)
        if self.postgres_password_env:
            return make_conninfo(dsn, password=_secret_from_env(self.postgres_password_env))
        return dsn

    def rabbitmq_credentials(self) -> tuple[str, str]:
        user = self.require("rabbitmq_user")
        if self.rabbitmq_password_file:
            try:
                return user, Path(self.rabbitmq_password_file).read_text().strip()
            except OSError as err:
                raise ProfileError(
                    f"cannot read the RabbitMQ password file {self.rabbitmq_password_file}: {err}"
                ) from err
        if self.rabbitmq_password_env:
            return user, _secret_from_env(self.rabbitmq_password_env)
        raise ProfileError(
            f"profile {self.profile!r} names no RabbitMQ password: set rabbitmq_password_file "
            "or rabbitmq_password_env"
        )


_FIELDS = {f.name for f in fields(Targets)} - {"profile"}
_PATH_FIELDS = {"kubeconfig", "postgres_passfile", "rabbitmq_password_file"}
# Keys that would put a secret value into a profile.
_SECRET_KEYS = re.compile(r"(password|token|secret)$")


def profiles_dir() -> Path:
    return Path(os.environ.get("HOPNGO_PROFILES_DIR", _checkout() / "parameters" / "profiles"))


def load_targets(profile: str = SANDBOX_PROFILE) -> Targets:
    """The targets of `profile`, with HOPNGO_* environment overrides applied."""
    if not isinstance(profile, str) or not _PROFILE_NAME.fullmatch(profile):
        raise ProfileError(f"invalid profile name {profile!r}")
    values = _sandbox_values() if profile == SANDBOX_PROFILE else _profile_values(profile)
    for field in _FIELDS:
        if (override := os.environ.get(f"HOPNGO_{field.upper()}")) is not None:
            values[field] = override
    values["production"] = _flag(profile, "production", values.get("production", False))
    for field in _PATH_FIELDS & set(values):
        values[field] = os.path.expanduser(values[field])
    names.namespace_name(values.get("namespace", "hopngo"))
    return Targets(profile=profile, **values)


def _sandbox_values() -> dict:
    from hopngo_ops.sandbox import default_state_dir, read_status

    status = read_status(default_state_dir())
    if not status or status["state"] != "up":
        state = status["state"] if status else "not started"
        raise ProfileError(
            f"the sandbox is {state} (state dir {default_state_dir()}): start it with "
            "`hopngo-ops sandbox up --scenario NAME`, or choose another profile"
        )
    return {k: v for k, v in status.items() if k in _FIELDS}


def _profile_values(profile: str) -> dict:
    path = profiles_dir() / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in profiles_dir().glob("*.yaml"))
        raise NotFound(
            f"no profile {profile!r}: known profiles are {', '.join([SANDBOX_PROFILE, *known])}"
        )
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ProfileError(f"profile {path} is not valid YAML: {err}") from err
    if secret_keys := sorted(k for k in values if _SECRET_KEYS.search(str(k))):
        raise ProfileError(
            f"profile {path} holds secret values ({', '.join(secret_keys)}): reference them "
            "with *_password_env or *_password_file instead"
        )
    if unknown := sorted(set(values) - _FIELDS):
        raise ProfileError(
            f"profile {path} has unknown keys {', '.join(unknown)}; "
            f"known keys: {', '.join(sorted(_FIELDS))}"
        )
    return values


def _flag(profile: str, field: str, value: object) -> bool:
    """A yes/no field; anything unclear is an error (an unclear `production` must not pass)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ProfileError(f"profile {profile!r}: {field} must be true or false, got {value!r}")


def _secret_from_env(variable: str) -> str:
    try:
        return os.environ[variable]
    except KeyError:
        raise ProfileError(f"environment variable {variable} (a password) is not set") from None


def _checkout() -> Path:
    return Path(__file__).resolve().parents[1]
