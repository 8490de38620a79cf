"""API errors as the apiserver reports them: `Status` objects with a reason and an HTTP code."""

from __future__ import annotations

from hopngo_ops.sandbox.kubesim.resources import ResourceType

PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


class ApiError(Exception):
    """Raised anywhere in the simulator; the server answers with its Status body."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def to_status(self) -> dict:
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status


def _details(rtype: ResourceType, name: str | None) -> dict:
    details = {"group": rtype.group, "kind": rtype.plural}
    if name:
        details["name"] = name
    return details


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rtype.qualified} "{name}" not found', _details(rtype, name))


def already_exists(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(
        409, "AlreadyExists", f'{rtype.qualified} "{name}" already exists', _details(rtype, name)
    )


def conflict(rtype: ResourceType, name: str, why: str) -> ApiError:
    message = f'Operation cannot be fulfilled on {rtype.qualified} "{name}": {why}'
    return ApiError(409, "Conflict", message, _details(rtype, name))


def modified_conflict(rtype: ResourceType, name: str) -> ApiError:
    return conflict(
        rtype,
        name,
        "the object has been modified; please apply your changes to the latest version "
        "and try again",
    )


def invalid(rtype: ResourceType, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 for field errors; `causes` holds (field, message) pairs."""
    listed = ", ".join(f"{field}: {message}" for field, message in causes)
    details = {
        "name": name,
        "group": rtype.group,
        "kind": rtype.kind,
        "causes": [
            {"reason": "FieldValueInvalid", "message": message, "field": field}
            for field, message in causes
        ],
    }
    return ApiError(
        422, "Invalid", f'{rtype.qualified_kind} "{name}" is invalid: {listed}', details
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str, details: dict) -> ApiError:
    return ApiError(403, "Forbidden", message, details)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    accepted = ", ".join(PATCH_TYPES)
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{accepted} (got {content_type!r})",
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
