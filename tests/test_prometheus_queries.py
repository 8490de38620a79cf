"""Query templates: they build, and a name that could inject PromQL is refused first."""

from __future__ import annotations

import pytest

from hopngo_ops.errors import InvalidName
from hopngo_ops.prometheus import TEMPLATES, TemplateError, build_query

VALID = {
    "service": "booking-service",
    "services": ["booking-service", "auth-service"],
    "uri": "/api/market/checkout",
    "namespace": "hopngo",
    "window": "1h",
    "rate_window": "5m",
    "quantile": 0.95,
}

INJECTIONS = [
    'booking"} or vector(1) #',
    'booking-service"}',
    "booking-service|.*",
    "Booking-Service",
    "booking service",
    "",
    "-booking",
    "a" * 64,
    42,
]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_builds_with_valid_parameters(name):
    template = TEMPLATES[name]
    promql = build_query(name, **{p: VALID[p] for p in template.parameters})
    assert "$" not in promql
    assert promql.count("(") == promql.count(")")
    assert promql.count("{") == promql.count("}")
    assert template.description and template.section


def test_runbook_query_with_service_and_quantile():
    promql = build_query("p95_latency_by_uri", service="booking-service", quantile=0.99)
    assert promql == (
        "histogram_quantile(0.99, sum by (uri, le) "
        '(rate(http_request_duration_seconds_bucket{job="booking-service"}[5m])))'
    )


def test_defaults_follow_the_runbook():
    assert "[5m]" in build_query("request_rate_by_uri", service="auth-service")
    assert "[10m]" in build_query("error_log_lines", service="auth-service")
    assert "[1h]" in build_query("container_restarts", service="auth-service", namespace="hopngo")
    assert build_query("p95_latency_by_job").startswith("histogram_quantile(0.95,")


@pytest.mark.parametrize("value", INJECTIONS)
def test_an_invalid_service_is_refused(value):
    with pytest.raises(InvalidName) as refused:
        build_query("target_up", service=value)
    assert refused.value.kind == "service"
    assert "lowercase" in str(refused.value)


@pytest.mark.parametrize(
    "params, kind",
    [
        ({"service": "auth-service", "uri": '/api"} or vector(1)'}, "uri"),
        ({"service": "auth-service", "uri": "api/no-leading-slash"}, "uri"),
        ({"service": "auth-service", "uri": "/api/a b"}, "uri"),
        ({"service": "auth-service", "uri": "/api/\\x"}, "uri"),
        ({"service": "auth-service", "uri": "/api", "rate_window": "5m]) or vector(1)"}, "window"),
        ({"service": "auth-service", "uri": "/api", "quantile": 1.5}, "quantile"),
        ({"service": "auth-service", "uri": "/api", "quantile": "0.9) or vector(1"}, "quantile"),
    ],
)
def test_other_invalid_parameters_are_refused(params, kind):
    with pytest.raises(InvalidName) as refused:
        build_query("p95_latency_of_uri", **params)
    assert refused.value.kind == kind


def test_an_invalid_namespace_or_one_bad_service_in_a_list_is_refused():
    with pytest.raises(InvalidName):
        build_query("memory_by_pod", service="auth-service", namespace='hopngo",x="')
    with pytest.raises(InvalidName):
        build_query("up_by_job", services=["gateway", 'x"} or up{job=~".*'])
    with pytest.raises(InvalidName):
        build_query("up_by_job", services=[])


def test_an_unknown_template_lists_the_known_ones():
    with pytest.raises(TemplateError) as unknown:
        build_query("p99_everything")
    assert "p99_everything" in str(unknown.value)
    assert "p95_latency_by_uri" in str(unknown.value) and "target_up" in str(unknown.value)


def test_a_missing_parameter_says_what_is_needed():
    with pytest.raises(TemplateError) as missing:
        build_query("target_up")
    assert "needs service" in str(missing.value)


def test_an_unexpected_parameter_is_an_error_not_ignored():
    with pytest.raises(TemplateError) as unexpected:
        build_query("target_up", service="gateway", servcie="gateway")
    assert "servcie" in str(unexpected.value) and "takes: service" in str(unexpected.value)
