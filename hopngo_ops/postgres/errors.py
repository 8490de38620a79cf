"""Errors of the PostgreSQL layer that are not "the server is down" (that is BackendUnavailable)."""

from hopngo_ops.errors import HopngoError


class QueryFailed(HopngoError):
    """PostgreSQL answered but refused a statement: a missing grant or extension, a bug."""

    def __init__(self, what: str, reason: str):
        self.what, self.reason = what, reason
        super().__init__(f"PostgreSQL refused {what}: {reason}")
