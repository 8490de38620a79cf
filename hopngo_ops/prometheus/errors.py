"""Errors of the Prometheus layer that are not "the server is down" (that is BackendUnavailable)."""

from hopngo_ops.errors import HopngoError


class TemplateError(HopngoError, ValueError):
    """A query template that does not exist, or parameters it does not take or lacks."""


class QueryError(HopngoError):
    """Prometheus answered but refused the query (bad_data): a bug in a template, not an outage."""

    def __init__(self, promql: str, reason: str):
        self.promql, self.reason = promql, reason
        super().__init__(f"Prometheus refused the query {promql!r}: {reason}")
