"""The runbook's PromQL as named templates whose parameters are validated before they are built.

A template is PromQL with `$placeholders` (string.Template: PromQL's own braces stay as they
are). Each placeholder name has one validator (PARAMETERS), so `$service` is a DNS-1123 label in
every template: a value that could close a label matcher or a string never reaches PromQL.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hopngo_ops import names
from hopngo_ops.errors import InvalidName
from hopngo_ops.prometheus.errors import TemplateError


def _quantile(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidName("quantile", value, "a number between 0 and 1, such as 0.95")
    return f"{value:g}"


def _services(value: object) -> str:
    """Several service names for a `job=~"..."` matcher: each one a valid name."""
    items = value.split("|") if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, bytes):
        raise InvalidName("services", value, "a list of service names or 'a|b|c'")
    validated = [names.service_name(item) for item in items]
    if not validated:
        raise InvalidName("services", value, "name at least one service")
    return "|".join(validated)


@dataclass(frozen=True)
class Parameter:
    validate: Callable[[object], str]
    description: str
    default: object = None


PARAMETERS: Mapping[str, Parameter] = MappingProxyType(
    {
        "service": Parameter(names.service_name, "the service, as its Prometheus job"),
        "services": Parameter(
            _services,
            "services compared side by side",
            # The runbook's four, and consumer-service: it serves HTTP and is scraped too.
            default=(
                "gateway",
                "booking-service",
                "market-service",
                "auth-service",
                "consumer-service",
            ),
        ),
        "uri": Parameter(names.uri_path, "an endpoint's path, as the uri label holds it"),
        "namespace": Parameter(names.namespace_name, "the Kubernetes namespace"),
        "window": Parameter(names.duration, "how far back to count (increase)"),
        "rate_window": Parameter(names.duration, "the rate() window", default="5m"),
        "quantile": Parameter(_quantile, "the latency quantile", default=0.95),
    }
)


@dataclass(frozen=True)
class QueryTemplate:
    name: str
    section: str
    description: str
    promql: str
    # Label columns the result always has, even when Prometheus returns no series.
    labels: tuple[str, ...] = ()
    # Defaults for this template only (the runbook counts error logs over 10m, restarts over 1h).
    defaults: Mapping[str, object] = field(default_factory=dict)

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(string.Template(self.promql).get_identifiers())

    def build(self, **params: object) -> str:
        if unknown := sorted(set(params) - set(self.parameters)):
            raise TemplateError(
                f"template {self.name!r} takes no parameter {', '.join(unknown)}; "
                f"it takes: {', '.join(self.parameters) or 'none'}"
            )
        values = {}
        for name in self.parameters:
            value = params.get(name, self.defaults.get(name, PARAMETERS[name].default))
            if value is None:
                raise TemplateError(
                    f"template {self.name!r} needs {name} ({PARAMETERS[name].description}); "
                    f"it takes: {', '.join(self.parameters)}"
                )
            values[name] = PARAMETERS[name].validate(value)
        return string.Template(self.promql).substitute(values)


# Every pod of a deployment is named "<service>-<replicaset hash>-<suffix>". The runbook's
# `pod=~"service-name.*"` would also match another service sharing the prefix ("booking" and
# "booking-service"): the two dash-free parts after the name rule that out.
_POD = 'pod=~"$service-[a-z0-9]+-[a-z0-9]+"'


def _error_ratio(by: str, matcher: str = "") -> str:
    """Share of requests answered 5xx, by `by`; groups without any 5xx count as 0, not absent."""
    errors_selector = "{" + ", ".join(m for m in (matcher, 'code=~"5.."') if m) + "}"
    all_selector = "{" + matcher + "}" if matcher else ""
    errors = f"sum by ({by}) (rate(http_requests_total{errors_selector}[$rate_window]))"
    total = f"sum by ({by}) (rate(http_requests_total{all_selector}[$rate_window]))"
    return f"({errors} or {total} * 0) / {total}"


_TEMPLATES = (
    # 1. Service Down
    QueryTemplate(
        "target_up",
        "1. Service Down",
        "Whether Prometheus scrapes the service's targets (1 up, 0 down).",
        'up{job="$service"}',
        labels=("instance",),
    ),
    QueryTemplate(
        "deployment_events",
        "1. Service Down",
        "Deployment events in the window (the runbook's rate over 1h, as a count).",
        'sum by (deployment) (increase(deployment_events_total{deployment="$service"}[$window]))',
        labels=("deployment",),
        defaults={"window": "1h"},
    ),
    QueryTemplate(
        "deployments_total",
        "1. Service Down",
        "The deployment's rollout counter: a step in it over time dates a rollout.",
        'sum by (deployment) (deployment_events_total{deployment="$service"})',
        labels=("deployment",),
    ),
    QueryTemplate(
        "container_restarts",
        "1. Service Down",
        "Container restarts per pod in the window.",
        "sum by (pod, container) (increase(kube_pod_container_restart_total"
        f'{{namespace="$namespace", {_POD}}}[$window]))',
        labels=("pod", "container"),
        defaults={"window": "1h"},
    ),
    QueryTemplate(
        "memory_by_pod",
        "1. Service Down",
        "Memory in use per pod of the service (bytes).",
        f'sum by (pod) (container_memory_usage_bytes{{namespace="$namespace", {_POD}}})',
        labels=("pod",),
    ),
    QueryTemplate(
        "memory_of_limit_by_pod",
        "1. Service Down",
        "Memory in use per pod as a percentage of its containers' limits.",
        f'100 * sum by (pod) (container_memory_usage_bytes{{namespace="$namespace", {_POD}}})'
        " / sum by (pod) (container_spec_memory_limit_bytes"
        f'{{namespace="$namespace", {_POD}}})',
        labels=("pod",),
    ),
    QueryTemplate(
        "cpu_by_pod",
        "1. Service Down",
        "CPU per pod of the service (cores).",
        "sum by (pod) (rate(container_cpu_usage_seconds_total"
        f'{{namespace="$namespace", {_POD}}}[$rate_window]))',
        labels=("pod",),
    ),
    # 2. High Latency
    QueryTemplate(
        "p95_latency_by_uri",
        "2. High Latency",
        "Latency quantile (seconds) per endpoint of the service.",
        "histogram_quantile($quantile, sum by (uri, le) "
        '(rate(http_request_duration_seconds_bucket{job="$service"}[$rate_window])))',
        labels=("uri",),
    ),
    QueryTemplate(
        "p95_latency_of_uri",
        "2. High Latency",
        "Latency quantile (seconds) of one endpoint of the service.",
        "histogram_quantile($quantile, sum by (uri, le) (rate("
        'http_request_duration_seconds_bucket{job="$service", uri="$uri"}[$rate_window])))',
        labels=("uri",),
    ),
    QueryTemplate(
        "request_rate_by_uri",
        "2. High Latency",
        "Requests per second per endpoint of the service.",
        'sum by (uri) (rate(http_requests_total{job="$service"}[$rate_window]))',
        labels=("uri",),
    ),
    QueryTemplate(
        "p95_db_query_latency",
        "2. High Latency",
        "Quantile of pg_stat_statements' mean statement time (seconds).",
        "histogram_quantile($quantile, sum by (le) "
        "(rate(pg_stat_statements_mean_time_seconds_bucket[$rate_window])))",
    ),
    QueryTemplate(
        "gc_time",
        "2. High Latency / 6. JVM Memory",
        "Seconds per second spent in GC, per pod and collector (the share of time in GC).",
        'sum by (pod, gc) (rate(jvm_gc_collection_seconds_sum{job="$service"}[$rate_window]))',
        labels=("pod", "gc"),
    ),
    # 3. High Error Rate
    QueryTemplate(
        "errors_by_code_and_uri",
        "3. High Error Rate",
        "5xx responses per second by status code and endpoint of the service.",
        'sum by (code, uri) (rate(http_requests_total{job="$service", code=~"5.."}[$rate_window]))',
        labels=("code", "uri"),
    ),
    QueryTemplate(
        "error_ratio_by_uri",
        "3. High Error Rate",
        "Share of the service's requests answered 5xx, per endpoint.",
        _error_ratio("uri", 'job="$service"'),
        labels=("uri",),
    ),
    QueryTemplate(
        "errors_by_job",
        "3. High Error Rate",
        "5xx responses per second per service.",
        'sum by (job) (rate(http_requests_total{code=~"5.."}[$rate_window]))',
        labels=("job",),
    ),
    QueryTemplate(
        "error_log_lines",
        "3. High Error Rate",
        "ERROR log lines the service wrote in the window.",
        'sum by (job) (increase(log_entries_total{job="$service", level="error"}[$window]))',
        labels=("job",),
        defaults={"window": "10m"},
    ),
    # 4. Queue Lag (RabbitMQ)
    QueryTemplate(
        "queue_messages_ready",
        "4. Queue Lag",
        "Messages ready for delivery per queue.",
        "sum by (queue) (rabbitmq_queue_messages_ready)",
        labels=("queue",),
    ),
    QueryTemplate(
        "queue_messages_unacked",
        "4. Queue Lag",
        "Messages delivered but not yet acknowledged per queue.",
        "sum by (queue) (rabbitmq_queue_messages_unacked)",
        labels=("queue",),
    ),
    QueryTemplate(
        "queue_publish_rate",
        "4. Queue Lag",
        "Messages published per second per queue.",
        "sum by (queue) (rate(rabbitmq_queue_messages_published_total[$rate_window]))",
        labels=("queue",),
    ),
    QueryTemplate(
        "queue_consumers",
        "4. Queue Lag",
        "Consumers per queue.",
        "sum by (queue) (rabbitmq_queue_consumers)",
        labels=("queue",),
    ),
    QueryTemplate(
        "queue_delivery_rate",
        "4. Queue Lag",
        "Messages delivered per second per queue.",
        "sum by (queue) (rate(rabbitmq_queue_messages_delivered_total[$rate_window]))",
        labels=("queue",),
    ),
    QueryTemplate(
        "queue_consumer_utilisation",
        "4. Queue Lag",
        "Share of time each queue's consumers can take deliveries (0..1).",
        "avg by (queue) (rabbitmq_queue_consumer_utilisation)",
        labels=("queue",),
    ),
    # 5. Database Issues
    QueryTemplate(
        "pg_connection_usage",
        "5. Database Issues",
        "Connections in use as a percentage of max_connections.",
        # numbackends is per database, max_connections per server: sum, then match on instance
        # (the runbook's plain division matches no series, their label sets differ).
        "100 * sum by (instance) (pg_stat_database_numbackends)"
        " / on (instance) max by (instance) (pg_settings_max_connections)",
        labels=("instance",),
    ),
    QueryTemplate(
        "pg_active_connections",
        "5. Database Issues",
        "Backends running a statement, per database.",
        'sum by (datname) (pg_stat_activity_count{state="active"})',
        labels=("datname",),
    ),
    QueryTemplate(
        "pg_lock_waits",
        "5. Database Issues",
        "AccessExclusiveLock locks held or awaited, per database.",
        # postgres_exporter reports lock modes in lower case.
        'sum by (datname) (pg_locks_count{mode=~"(?i)accessexclusivelock"})',
        labels=("datname",),
    ),
    QueryTemplate(
        "pg_database_size",
        "5. Database Issues",
        "Size of each database (bytes).",
        "sum by (datname) (pg_database_size_bytes)",
        labels=("datname",),
    ),
    # Useful Queries
    QueryTemplate(
        "up_by_job",
        "Useful Queries",
        "Share of each service's targets up (1 all up, 0 all down).",
        'avg by (job) (up{job=~"$services"})',
        labels=("job",),
    ),
    QueryTemplate(
        "request_rate_by_job",
        "Useful Queries",
        "Requests per second per service.",
        "sum by (job) (rate(http_requests_total[$rate_window]))",
        labels=("job",),
    ),
    QueryTemplate(
        "error_ratio_by_job",
        "Useful Queries",
        "Share of each service's requests answered 5xx.",
        _error_ratio("job"),
        labels=("job",),
    ),
    QueryTemplate(
        "p95_latency_by_job",
        "Useful Queries",
        "Latency quantile (seconds) per service.",
        "histogram_quantile($quantile, sum by (job, le) "
        "(rate(http_request_duration_seconds_bucket[$rate_window])))",
        labels=("job",),
    ),
    QueryTemplate(
        "cpu_by_any_pod",
        "Useful Queries",
        "CPU per pod, every pod (cores).",
        "sum by (pod) (rate(container_cpu_usage_seconds_total[$rate_window]))",
        labels=("pod",),
    ),
    QueryTemplate(
        "memory_by_any_pod",
        "Useful Queries",
        "Memory in use per pod, every pod (bytes).",
        "sum by (pod) (container_memory_usage_bytes)",
        labels=("pod",),
    ),
    # 6. JVM Memory Issues
    QueryTemplate(
        "heap_utilisation",
        "6. JVM Memory",
        "Heap used as a percentage of the maximum, per pod.",
        '100 * sum by (pod) (jvm_memory_used_bytes{job="$service", area="heap"})'
        ' / sum by (pod) (jvm_memory_max_bytes{job="$service", area="heap"})',
        labels=("pod",),
    ),
    QueryTemplate(
        "gc_frequency",
        "6. JVM Memory",
        "Collections per second, per pod and collector.",
        'sum by (pod, gc) (rate(jvm_gc_collection_seconds_count{job="$service"}[$rate_window]))',
        labels=("pod", "gc"),
    ),
)

TEMPLATES: Mapping[str, QueryTemplate] = MappingProxyType({t.name: t for t in _TEMPLATES})


def template(name: str) -> QueryTemplate:
    """The template called `name`; an unknown name lists the known ones."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise TemplateError(
            f"unknown query template {name!r}; known templates: {', '.join(TEMPLATES)}"
        ) from None


def build_query(name: str, **params: object) -> str:
    """The PromQL of template `name` with `params` validated and filled in."""
    return template(name).build(**params)
