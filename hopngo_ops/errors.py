"""The few domain errors hopngo-ops raises. Each carries what the user needs to act on."""


class HopngoError(Exception):
    """Base of every hopngo-ops error."""


class InvalidName(HopngoError, ValueError):
    """A service, namespace, queue or uri parameter that is not a valid name."""

    def __init__(self, kind: str, value: object, rule: str):
        self.kind, self.value, self.rule = kind, value, rule
        super().__init__(f"invalid {kind} {value!r}: {rule}")


class BackendUnavailable(HopngoError):
    """A backend (Prometheus, Kubernetes API, PostgreSQL, RabbitMQ) did not answer."""

    def __init__(self, backend: str, target: str, reason: str):
        self.backend, self.target, self.reason = backend, target, reason
        super().__init__(f"{backend} at {target} is unavailable: {reason}")


class NotFound(HopngoError, LookupError):
    """An object the user named does not exist."""


class GuardRefused(HopngoError):
    """A guardrail refused an action; nothing was changed."""


class PermissionDenied(GuardRefused):
    """The backend's access control refused an action (HTTP 403): the credentials lack the
    permission. Nothing was changed, so it is reported as a refusal, like a guardrail's."""


class SandboxError(HopngoError):
    """The sandbox could not be started, stopped or read."""

    def __init__(self, message: str, *, component: str | None = None, log: str | None = None):
        self.component, self.log = component, log
        where = f" (log: {log})" if log else ""
        super().__init__(f"{component + ': ' if component else ''}{message}{where}")


class MissingBinary(SandboxError):
    """A server binary the sandbox needs is not installed."""

    def __init__(self, binary: str, package: str):
        self.binary, self.package = binary, package
        super().__init__(
            f"{binary} not found; install the Debian package {package!r} "
            f"(apt-get install -y {package}) or run `make setup`"
        )


class ActionFailed(HopngoError):
    """An action the server refused (403, 409, 422) or whose post-condition did not hold."""

    def __init__(self, action: str, reason: str):
        self.action, self.reason = action, reason
        super().__init__(f"{action} failed: {reason}")
