"""The connection to one Kubernetes API: its own client, and its errors as domain errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import pydantic
import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from hopngo_ops import names
from hopngo_ops.config import Targets
from hopngo_ops.errors import BackendUnavailable, NotFound

BACKEND = "kubernetes"
# (connect, read) seconds: a diagnosis must not hang on a dead API server.
REQUEST_TIMEOUT = (3.0, 20.0)
# One retry rides over a dropped keep-alive connection; more only delays "unavailable".
RETRIES = 1
# Answers that refuse a request the API understood: forbidden, conflict, invalid.
REFUSALS = (403, 409, 422)

T = TypeVar("T")


class RequestRefused(BackendUnavailable):
    """The API answered 400: the object cannot serve this read now (a container not started)."""


class ApiRefused(BackendUnavailable):
    """The API answered 403 (forbidden), 409 (conflict) or 422 (invalid) with a Status message.

    A read that gets one degrades like any unavailable backend; an action says what to do
    about it from `status` and `status_message`.
    """

    def __init__(self, target: str, status: int, status_message: str):
        self.status, self.status_message = status, status_message
        super().__init__(BACKEND, target, f"{status} {status_message}")


class KubeConnection:
    """An ApiClient for one kubeconfig context (never the process-global config) and a namespace.

    Every request goes through `call`, which bounds it in time and turns the client's errors
    into NotFound (404, with the API's Status message), RequestRefused (400), ApiRefused (403,
    409, 422) or BackendUnavailable (anything else).
    """

    def __init__(
        self, api_client: client.ApiClient, namespace: str, *, database_dsn: str | None = None
    ):
        self.api_client = api_client
        # The profile's PostgreSQL, which the connectivity check dials in place of `nc -z`.
        self.database_dsn = database_dsn
        self.namespace = names.namespace_name(namespace)
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    @classmethod
    def from_targets(cls, targets: Targets, namespace: str | None = None):
        """A connection to the profile's kubeconfig and context; `namespace` overrides its own."""
        kubeconfig = targets.require("kubeconfig")
        configuration = client.Configuration()
        configuration.retries = RETRIES
        try:
            # persist_config=False: a read must not rewrite the user's kubeconfig (token refresh).
            api_client = config.new_client_from_config(
                config_file=kubeconfig,
                context=targets.kube_context,
                persist_config=False,
                client_configuration=configuration,
            )
        except (ConfigException, OSError) as err:
            raise BackendUnavailable(
                BACKEND,
                kubeconfig,
                f"cannot load kubeconfig context {targets.kube_context!r}: {err}",
            ) from err
        return cls(api_client, namespace or targets.namespace, database_dsn=targets.postgres_dsn)

    @property
    def server(self) -> str:
        return self.api_client.configuration.host

    def call(self, request: Callable[..., T], *args, **kwargs) -> T:
        """`request(*args, **kwargs)` with a timeout, its failures as domain errors."""
        try:
            return request(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except ApiException as err:
            message = _status_message(err)
            if err.status == 404:
                raise NotFound(message) from err
            if err.status == 400:
                raise RequestRefused(BACKEND, self.server, message) from err
            if err.status in REFUSALS:
                raise ApiRefused(self.server, err.status, message) from err
            raise BackendUnavailable(BACKEND, self.server, f"{err.status} {message}") from err
        except urllib3.exceptions.HTTPError as err:
            raise BackendUnavailable(BACKEND, self.server, _network_reason(err)) from err
        except pydantic.ValidationError as err:
            # The client's models are strict: an answer missing a required field is unusable.
            raise BackendUnavailable(
                BACKEND,
                self.server,
                f"answered a {err.title} the client cannot read: {_fields(err)}",
            ) from err


def _status_message(err: ApiException) -> str:
    """The message of the Status object the API answered with, else the HTTP reason."""
    try:
        status = json.loads(err.body or "")
    except ValueError:
        return str(err.reason)
    if isinstance(status, dict) and status.get("message"):
        return status["message"]
    return str(err.reason)


def _network_reason(err: urllib3.exceptions.HTTPError) -> str:
    # MaxRetryError wraps the error that made the last attempt fail: that is the reason.
    cause = getattr(err, "reason", None) or err
    return f"{type(cause).__name__}: {cause}"


def _fields(err: pydantic.ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
