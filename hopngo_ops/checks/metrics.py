"""The runbook's PromQL diagnostics (sections 1, 2, 3, 6 and Useful Queries) as steps.

Each check runs its queries concurrently, answers with a tidy table, grades what it found
against keyword thresholds (defaults an SRE would page on) and, where the runbook's question is
about a trend, plots the window with the threshold drawn and the span over it shaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hopngo_ops import names, plots
from hopngo_ops.findings import Finding
from hopngo_ops.prometheus import gather
from hopngo_ops.prometheus.queries import PARAMETERS
from hopngo_ops.prometheus.ranges import SCRAPE_SECONDS, promql_note, window_span
from hopngo_ops.runbook import Runbook, check
from hopngo_ops.step import Step

# Collectors of the old generation: their collections pause the application the longest.
_OLD_GEN = r"(?i)old|marksweep|major|full"
DEFAULT_SERVICES = PARAMETERS["services"].default


# --- 1. Service Down -------------------------------------------------------------------------


@check("Is the service up? (up)")
def target_up(rb: Runbook) -> Step:
    service = names.service_name(rb.service)
    start, end, step = window_span(rb.window)
    results = gather(
        now=lambda: rb.prometheus.instant("target_up", service=service),
        history=lambda: rb.prometheus.range(
            "target_up", service=service, start=start, end=end, step=step
        ),
    )
    table = results["now"].rename(columns={"value": "up"})
    down = table[table["up"] == 0]
    evidence = {"targets": len(table), "down": down["instance"].tolist()}
    if table.empty:
        finding = Finding(
            "target_up",
            "warning",
            f"Prometheus has no target for job {service!r}: a wrong name, or it is not scraped",
            evidence,
        )
    elif len(down) == len(table):
        finding = Finding(
            "target_up",
            "critical",
            f"{service} is down: 0 of {len(table)} targets up, "
            f"{_down_since(results['history'], rb.window)}",
            evidence,
        )
    elif len(down):
        finding = Finding(
            "target_up",
            "warning",
            f"{service}: {len(down)} of {len(table)} targets down ({', '.join(down['instance'])})",
            evidence,
        )
    else:
        finding = Finding("target_up", "info", f"{service}: all {len(table)} targets up", evidence)
    return Step(table=table, findings=[finding], note=promql_note(results["now"]))


@check("Recent deployments")
def recent_deployments(rb: Runbook, *, window: str | None = None) -> Step:
    service = names.service_name(rb.service)
    window = names.duration(window or rb.window)
    # Dated to the scrape interval: when each rollout happened matters, not a smooth line.
    start, end, _ = window_span(window or rb.window)
    results = gather(
        count=lambda: rb.prometheus.instant("deployment_events", service=service, window=window),
        history=lambda: rb.prometheus.range(
            "deployments_total", service=service, start=start, end=end, step=SCRAPE_SECONDS
        ),
    )
    table = results["count"].rename(columns={"value": "rollouts"}).round({"rollouts": 0})
    history = results["history"]
    rolled_out_at = history["timestamp"][history["value"].diff() > 0].tolist()
    rollouts = int(table["rollouts"].sum())
    if rollouts:
        when = ", ".join(f"{t:%H:%M} UTC" for t in rolled_out_at) or "in the window"
        finding = Finding(
            "recent_deployments",
            "warning",
            f"{service} was rolled out {rollouts} time(s) in the last {window} ({when}): "
            "a recent change is a likely cause; compare with `kubectl rollout history`",
            {"rollouts": rollouts, "at": [t.isoformat() for t in rolled_out_at]},
        )
    else:
        finding = Finding(
            "recent_deployments", "info", f"no rollout of {service} in the last {window}"
        )
    return Step(table=table, findings=[finding], note=promql_note(results["count"]))


@check("Container restarts")
def container_restarts(rb: Runbook, *, threshold: int = 3, window: str | None = None) -> Step:
    """`threshold` restarts of a container in the window are critical; any restart warns."""
    service = names.service_name(rb.service)
    window = names.duration(window or rb.window)
    restarts = rb.prometheus.instant(
        "container_restarts", service=service, namespace=rb.namespace, window=window
    )
    # increase() extrapolates to the window's edges: whole restarts are what happened.
    table = restarts.rename(columns={"value": "restarts"}).round({"restarts": 0})
    findings = _graded(
        "container_restarts",
        table.set_index("pod")["restarts"],
        warning=1,
        critical=threshold,
        measure=f"container restarts of {service} in the last {window}",
        fmt="{:.0f}",
        ok=f"no restarts of {service} in {window}",
    )
    return Step(table=table, findings=findings, note=promql_note(restarts))


@check("Resource usage per pod")
def resource_usage(
    rb: Runbook, *, memory_threshold_percent: float = 95.0, memory_warning_percent: float = 90.0
) -> Step:
    """Memory near the container limit risks an OOM kill; CPU is shown, not graded (no limit)."""
    service = names.service_name(rb.service)
    start, end, step = window_span(rb.window)
    query = {"service": service, "namespace": rb.namespace}
    results = gather(
        memory=lambda: rb.prometheus.instant("memory_by_pod", **query),
        of_limit=lambda: rb.prometheus.instant("memory_of_limit_by_pod", **query),
        cpu=lambda: rb.prometheus.instant("cpu_by_pod", **query),
        history=lambda: rb.prometheus.range(
            "memory_of_limit_by_pod", start=start, end=end, step=step, **query
        ),
    )
    table = _join(
        "pod",
        memory_mib=results["memory"].assign(value=results["memory"]["value"] / 2**20),
        memory_of_limit_percent=results["of_limit"],
        cpu_cores=results["cpu"],
    ).round(2)
    findings = _graded(
        "resource_usage",
        table.set_index("pod")["memory_of_limit_percent"],
        warning=memory_warning_percent,
        critical=memory_threshold_percent,
        measure=f"memory of {service}'s pods as % of their limit",
        fmt="{:.0f} %",
        ok=f"{service}: memory below {memory_warning_percent:g} % of the limit on every pod",
    )
    figure = plots.timeseries(
        results["history"],
        title=f"{service}: memory as % of the container limit",
        ylabel="% of limit",
        threshold=memory_threshold_percent,
        shade=_over(results["history"], memory_threshold_percent),
        shade_label="over threshold",
    )
    return Step(
        table=table,
        findings=findings,
        figure=figure,
        note=promql_note(results["memory"], results["of_limit"], results["cpu"]),
    )


# --- 2. High Latency -------------------------------------------------------------------------


@check("Latency by endpoint")
def latency_by_uri(
    rb: Runbook,
    *,
    slo_seconds: float = 0.5,
    warning_fraction: float = 0.8,
    quantile: float = 0.95,
    uri: str | None = None,
) -> Step:
    """Over the SLO is critical; over `warning_fraction` of it warns. `uri` narrows to one."""
    service = names.service_name(rb.service)
    start, end, step = window_span(rb.window)
    name, query = "p95_latency_by_uri", {"service": service, "quantile": quantile}
    if uri is not None:
        name, query = "p95_latency_of_uri", {**query, "uri": uri}
    results = gather(
        now=lambda: rb.prometheus.instant(name, **query),
        history=lambda: rb.prometheus.range(name, start=start, end=end, step=step, **query),
    )
    column = f"p{quantile * 100:g}_seconds"
    table = results["now"].rename(columns={"value": column}).round(3)
    label = f"p{quantile * 100:g} latency"
    findings = _graded(
        "latency_by_uri",
        table.set_index("uri")[column],
        warning=slo_seconds * warning_fraction,
        critical=slo_seconds,
        measure=f"{label} of {service} (SLO {slo_seconds:g} s)",
        fmt="{:.2f} s",
        ok=f"{label} of {service} within the SLO on every uri",
    )
    figure = plots.timeseries(
        results["history"],
        title=f"{service}: {label} by endpoint",
        ylabel="seconds",
        series=["uri"],
        threshold=slo_seconds,
        threshold_label=f"SLO {slo_seconds:g} s",
        shade=_over(results["history"], slo_seconds),
        shade_label="over SLO",
    )
    return Step(table=table, findings=findings, figure=figure, note=promql_note(results["now"]))


@check("Request rate by endpoint")
def request_rate_by_uri(rb: Runbook) -> Step:
    service = names.service_name(rb.service)
    start, end, step = window_span(rb.window)
    results = gather(
        now=lambda: rb.prometheus.instant("request_rate_by_uri", service=service),
        history=lambda: rb.prometheus.range(
            "request_rate_by_uri", service=service, start=start, end=end, step=step
        ),
    )
    table = results["now"].rename(columns={"value": "requests_per_second"}).round(2)
    total = table["requests_per_second"].sum()
    if total > 0:
        finding = Finding(
            "request_rate_by_uri",
            "info",
            f"{service} serves {total:.1f} requests/s over {len(table)} endpoints",
            {"requests_per_second": round(float(total), 2)},
        )
    else:
        finding = Finding(
            "request_rate_by_uri",
            "warning",
            f"{service} serves no requests: it is down or receives no traffic",
        )
    figure = plots.timeseries(
        results["history"],
        title=f"{service}: requests per second by endpoint",
        ylabel="requests/s",
        series=["uri"],
    )
    return Step(table=table, findings=[finding], figure=figure, note=promql_note(results["now"]))


@check("Database query performance")
def database_query_latency(
    rb: Runbook,
    *,
    threshold_seconds: float = 0.5,
    warning_seconds: float = 0.1,
    quantile: float = 0.95,
) -> Step:
    """pg_stat_statements' mean statement time, across the cluster (not one service's)."""
    start, end, step = window_span(rb.window)
    results = gather(
        now=lambda: rb.prometheus.instant("p95_db_query_latency", quantile=quantile),
        history=lambda: rb.prometheus.range(
            "p95_db_query_latency", quantile=quantile, start=start, end=end, step=step
        ),
    )
    column = f"p{quantile * 100:g}_seconds"
    table = results["now"].rename(columns={"value": column}).round(3)
    label = f"p{quantile * 100:g} of mean statement time"
    findings = _graded(
        "database_query_latency",
        pd.Series(table[column].to_numpy(), index=["all statements"] * len(table)),
        warning=warning_seconds,
        critical=threshold_seconds,
        measure=label,
        fmt="{:.3f} s",
        hint="find the statement with the database notebook's slow-query check",
        ok=f"{label} below {warning_seconds:g} s",
    )
    figure = plots.timeseries(
        results["history"],
        title=f"PostgreSQL: {label}",
        ylabel="seconds",
        threshold=threshold_seconds,
        shade=_over(results["history"], threshold_seconds),
        shade_label="over threshold",
    )
    return Step(table=table, findings=findings, figure=figure, note=promql_note(results["now"]))


def _gc_time(rb: Runbook, *, threshold_percent: float = 20.0, warning_percent: float = 5.0) -> Step:
    """Share of wall time each pod spends collecting garbage (all collectors summed)."""
    service = names.service_name(rb.service)
    start, end, step = window_span(rb.window)
    results = gather(
        now=lambda: rb.prometheus.instant("gc_time", service=service),
        history=lambda: rb.prometheus.range(
            "gc_time", service=service, start=start, end=end, step=step
        ),
    )
    now = results["now"]
    table = (
        now.assign(value=now["value"] * 100)
        .pivot_table(index="pod", columns="gc", values="value", aggfunc="sum")
        .rename(columns=lambda gc: f"{gc} %")
    )
    table["gc_time_percent"] = table.sum(axis=1)
    table = table.round(2).reset_index().rename_axis(columns=None)
    findings = _graded(
        "gc_time",
        table.set_index("pod")["gc_time_percent"],
        warning=warning_percent,
        critical=threshold_percent,
        measure=f"time {service}'s pods spend in GC",
        fmt="{:.1f} %",
        hint="the heap is too small or leaks: see the jvm_memory notebook",
        ok=f"{service} spends under {warning_percent:g} % in GC",
    )
    history = results["history"]
    per_pod = history.groupby(["timestamp", "pod"], as_index=False)["value"].sum()
    per_pod["value"] *= 100
    figure = plots.timeseries(
        per_pod,
        title=f"{service}: time in GC per pod",
        ylabel="% of time",
        series=["pod"],
        threshold=threshold_percent,
        shade=_over(per_pod, threshold_percent),
        shade_label="over threshold",
    )
    return Step(table=table, findings=findings, figure=figure, note=promql_note(now))


# The runbook asks the same question in two sections: "JVM GC impact" on latency, "GC time".
gc_impact = check("JVM GC impact")(_gc_time)
gc_time = check("GC time")(_gc_time)


# --- 3. High Error Rate ----------------------------------------------------------------------


@check("Errors by status code and endpoint")
def errors_by_code_and_uri(rb: Runbook, *, threshold: float = 0.05, warning: float = 0.01) -> Step:
    """5xx per code and uri; an endpoint answering `threshold` of its requests 5xx is critical."""
    service = names.service_name(rb.service)
    start, end, step = window_span(rb.window)
    results = gather(
        errors=lambda: rb.prometheus.instant("errors_by_code_and_uri", service=service),
        ratio=lambda: rb.prometheus.instant("error_ratio_by_uri", service=service),
        history=lambda: rb.prometheus.range(
            "error_ratio_by_uri", service=service, start=start, end=end, step=step
        ),
    )
    ratio = results["ratio"].rename(columns={"value": "uri_error_ratio"})
    table = (
        results["errors"]
        .rename(columns={"value": "errors_per_second"})
        .merge(ratio, on="uri", how="left")
        .round(4)
    )
    findings = _graded(
        "errors_by_code_and_uri",
        ratio.set_index("uri")["uri_error_ratio"],
        warning=warning,
        critical=threshold,
        measure=f"share of {service}'s requests answered 5xx",
        fmt="{:.1%}",
        ok=f"{service}: 5xx under {warning:.0%}",
    )
    history = results["history"]
    figure = plots.timeseries(
        history,
        title=f"{service}: share of requests answered 5xx by endpoint",
        ylabel="5xx ratio",
        series=["uri"],
        threshold=threshold,
        shade=_over(history, threshold),
        shade_label="over threshold",
    )
    return Step(
        table=table,
        findings=findings,
        figure=figure,
        note=promql_note(results["errors"], results["ratio"]),
    )


@check("Error rate by service")
def error_rate_by_service(rb: Runbook, *, threshold: float = 0.05, warning: float = 0.01) -> Step:
    """Every service's 5xx ratio: which one errs (the runbook's query is not per service)."""
    results = gather(
        errors=lambda: rb.prometheus.instant("errors_by_job"),
        ratio=lambda: rb.prometheus.instant("error_ratio_by_job"),
    )
    table = _join("job", errors_per_second=results["errors"], error_ratio=results["ratio"])
    table = table.round(4)
    findings = _graded(
        "error_rate_by_service",
        table.set_index("job")["error_ratio"],
        warning=warning,
        critical=threshold,
        measure="share of requests answered 5xx",
        fmt="{:.1%}",
        ok=f"every service under {warning:.0%} 5xx",
    )
    return Step(
        table=table, findings=findings, note=promql_note(results["errors"], results["ratio"])
    )


@check("Recent error logs")
def error_log_rate(
    rb: Runbook,
    *,
    window: str = "10m",
    threshold_per_minute: float = 10.0,
    warning_per_minute: float = 1.0,
) -> Step:
    """ERROR lines in the last `window` (the runbook's 10m), graded per minute."""
    service = names.service_name(rb.service)
    window = names.duration(window)
    lines = rb.prometheus.instant("error_log_lines", service=service, window=window)
    minutes = names.duration_seconds(window) / 60
    table = lines.rename(columns={"value": "error_lines"}).assign(
        per_minute=lambda t: t["error_lines"] / minutes
    )
    table = table.round(1)
    findings = _graded(
        "error_log_rate",
        table.set_index("job")["per_minute"],
        warning=warning_per_minute,
        critical=threshold_per_minute,
        measure=f"ERROR log lines per minute over the last {window}",
        fmt="{:.1f}",
        hint="read them with the log pattern step",
        ok=f"{service}: under {warning_per_minute:g} ERROR lines/min over {window}",
    )
    return Step(table=table, findings=findings, note=promql_note(lines))


# --- 6. JVM Memory Issues --------------------------------------------------------------------


@check("Heap utilisation")
def heap_utilisation(
    rb: Runbook, *, threshold_percent: float = 90.0, warning_percent: float = 80.0
) -> Step:
    service = names.service_name(rb.service)
    start, end, step = window_span(rb.window)
    results = gather(
        now=lambda: rb.prometheus.instant("heap_utilisation", service=service),
        history=lambda: rb.prometheus.range(
            "heap_utilisation", service=service, start=start, end=end, step=step
        ),
    )
    table = results["now"].rename(columns={"value": "heap_percent"}).round(1)
    findings = _graded(
        "heap_utilisation",
        table.set_index("pod")["heap_percent"],
        warning=warning_percent,
        critical=threshold_percent,
        measure=f"heap used of max on {service}'s pods",
        fmt="{:.0f} %",
        hint="expect OutOfMemoryError and GC thrashing; restart the pods, then resize the heap",
        ok=f"{service}: heap under {warning_percent:g} % of max",
    )
    history = results["history"]
    figure = plots.timeseries(
        history,
        title=f"{service}: heap used as % of max",
        ylabel="% of max heap",
        series=["pod"],
        threshold=threshold_percent,
        shade=_over(history, threshold_percent),
        shade_label="over threshold",
    )
    return Step(table=table, findings=findings, figure=figure, note=promql_note(results["now"]))


@check("GC frequency")
def gc_frequency(
    rb: Runbook, *, threshold_per_minute: float = 10.0, warning_per_minute: float = 1.0
) -> Step:
    """Collections per minute; only the old generation's (full, pausing) ones are graded."""
    service = names.service_name(rb.service)
    rate = rb.prometheus.instant("gc_frequency", service=service)
    table = rate.assign(per_minute=rate["value"] * 60).drop(columns="value").round(2)
    old = table[table["gc"].astype(str).str.contains(_OLD_GEN, regex=True)]
    findings = _graded(
        "gc_frequency",
        old.set_index("pod")["per_minute"],
        warning=warning_per_minute,
        critical=threshold_per_minute,
        measure=f"old-generation collections per minute on {service}'s pods",
        fmt="{:.1f}",
        hint="full collections this often mean the heap is nearly full",
        ok=f"{service}: under {warning_per_minute:g} old-generation collections/min",
    )
    return Step(table=table, findings=findings, note=promql_note(rate))


# --- Useful Queries --------------------------------------------------------------------------


@check("System overview")
def system_overview(
    rb: Runbook,
    *,
    services: Sequence[str] = DEFAULT_SERVICES,
    error_threshold: float = 0.05,
    slo_seconds: float = 0.5,
) -> Step:
    """Per service: share of targets up, requests/s, 5xx ratio, p95; a down one is critical."""
    results = gather(
        up=lambda: rb.prometheus.instant("up_by_job", services=services),
        rate=lambda: rb.prometheus.instant("request_rate_by_job"),
        errors=lambda: rb.prometheus.instant("error_ratio_by_job"),
        p95=lambda: rb.prometheus.instant("p95_latency_by_job"),
    )
    table = _join(
        "job",
        up=results["up"],
        requests_per_second=results["rate"],
        error_ratio=results["errors"],
        p95_seconds=results["p95"],
    )
    table = table[table["job"].isin(list(services))].round(3).reset_index(drop=True)
    by_job = table.set_index("job")
    findings = [
        *_graded(
            "system_overview",
            1 - by_job["up"],
            warning=0.01,
            critical=1,
            measure="share of targets down",
            fmt="{:.0%}",
            ok=None,
        ),
        *_graded(
            "system_overview",
            by_job["error_ratio"],
            warning=error_threshold / 5,
            critical=error_threshold,
            measure="share of requests answered 5xx",
            fmt="{:.1%}",
            ok=None,
        ),
        *_graded(
            "system_overview",
            by_job["p95_seconds"],
            warning=slo_seconds * 0.8,
            critical=slo_seconds,
            measure=f"p95 latency (SLO {slo_seconds:g} s)",
            fmt="{:.2f} s",
            ok=None,
        ),
    ] or [Finding("system_overview", "info", f"all {len(table)} services up and within SLO")]
    return Step(
        table=table,
        findings=findings,
        note=promql_note(*(results[k] for k in ("up", "rate", "errors", "p95"))),
    )


# --- helpers ---------------------------------------------------------------------------------


def _graded(
    check_name: str,
    values: pd.Series,
    *,
    warning: float,
    critical: float,
    measure: str,
    fmt: str,
    ok: str | None,
    hint: str = "",
) -> list[Finding]:
    """One finding per severity reached, naming each subject (the index) and its value.

    Nothing reached: an info finding saying `ok`, or that there was no data to grade.
    """
    values = values.dropna()
    if values.empty:
        return [Finding(check_name, "info", f"no data: Prometheus has no series for {measure}")]
    findings = []
    for severity, low, high in (
        ("critical", critical, float("inf")),
        ("warning", warning, critical),
    ):
        hit = values[(values >= low) & (values < high)].sort_values(ascending=False)
        if hit.empty:
            continue
        listed = ", ".join(f"{subject} {fmt.format(v)}" for subject, v in hit.items())
        findings.append(
            Finding(
                check_name,
                severity,
                f"{measure} at or over {fmt.format(low)}: {listed}"
                + (f" ({hint})" if hint else ""),
                {"threshold": low, "values": {str(k): float(v) for k, v in hit.items()}},
            )
        )
    if not findings and ok:
        findings.append(Finding(check_name, "info", ok))
    return findings


def _join(key: str, **frames: pd.DataFrame) -> pd.DataFrame:
    """Instant frames keyed by one label, their `value`s side by side, named by keyword."""
    columns = [f.set_index(key)["value"].rename(name) for name, f in frames.items()]
    return pd.concat(columns, axis=1).rename_axis(key).reset_index()


def _over(frame: pd.DataFrame, threshold: float) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """From the first to the last sample over `threshold`: the span a plot shades."""
    over = frame.loc[frame["value"] >= threshold, "timestamp"]
    return (over.min(), over.max()) if not over.empty else None


def _down_since(history: pd.DataFrame, window: str) -> str:
    last_up = history.loc[history["value"] > 0, "timestamp"]
    return f"down since {last_up.max():%H:%M} UTC" if not last_up.empty else f"for all of {window}"


__all__ = [
    "container_restarts",
    "database_query_latency",
    "error_log_rate",
    "error_rate_by_service",
    "errors_by_code_and_uri",
    "gc_frequency",
    "gc_impact",
    "gc_time",
    "heap_utilisation",
    "latency_by_uri",
    "recent_deployments",
    "request_rate_by_uri",
    "resource_usage",
    "system_overview",
    "target_up",
]
