"""Prometheus: the runbook's PromQL as validated templates, answered as tidy DataFrames."""

from hopngo_ops.prometheus.client import Prometheus, gather
from hopngo_ops.prometheus.errors import QueryError, TemplateError
from hopngo_ops.prometheus.queries import TEMPLATES, QueryTemplate, build_query, template

__all__ = [
    "TEMPLATES",
    "Prometheus",
    "QueryError",
    "QueryTemplate",
    "TemplateError",
    "build_query",
    "gather",
    "template",
]
