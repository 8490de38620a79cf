"""The runbook's kubectl steps (sections 1, 2, 3 and 6) as diagnostic checks.

Each takes the notebook's Runbook and keyword options, reads through `rb.kube`, and returns a
Step whose note names the kubectl command it stands for.
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from hopngo_ops.findings import Finding
from hopngo_ops.kube.connectivity import POSTGRES_PORT, POSTGRES_SERVICE
from hopngo_ops.kube.patterns import pattern_set as named_pattern_set
from hopngo_ops.runbook import Runbook, check
from hopngo_ops.step import Step

# Usage at or above this share of a limit (or of a node's allocatable) is worth a look.
USAGE_WARNING_PCT = 90.0


@check("Pod status")
def pod_status(rb: Runbook, *, service: str | None = None) -> Step:
    """Critical: no pod ready, CrashLoopBackOff, OOMKilled; warning: some not ready, restarts."""
    service = _service(rb, service)
    pods = rb.kube.pods(service)
    note = (
        f"kubectl get pods -l app={service} -n {rb.kube.namespace}, with the last termination "
        "that kubectl describe pod shows."
    )
    if pods.empty:
        message = f"no pods labelled app={service} in namespace {rb.kube.namespace}"
        return Step(table=pods, findings=[_finding("pod_status", "critical", message)], note=note)
    findings = []
    total, ready = len(pods), int(pods["ready"].sum())
    if ready == 0:
        findings.append(_finding("pod_status", "critical", f"{service}: no pod ready (0/{total})"))
    elif ready < total:
        findings.append(_finding("pod_status", "warning", f"{service}: {ready}/{total} pods ready"))
    crashing = pods[pods["status"] == "CrashLoopBackOff"]
    if len(crashing):
        findings.append(
            _finding(
                "pod_status",
                "critical",
                f"{service}: {len(crashing)}/{total} pods in CrashLoopBackOff, "
                f"{int(crashing['restarts'].sum())} restarts",
                pods=list(crashing["pod"]),
            )
        )
    oom = pods[(pods["last_reason"] == "OOMKilled") | (pods["reason"] == "OOMKilled")]
    if len(oom):
        findings.append(
            _finding(
                "pod_status",
                "critical",
                f"{service}: {len(oom)}/{total} pods OOMKilled (exit code 137), "
                f"last at {oom['last_finished'].max():%H:%M:%S} UTC",
                pods=list(oom["pod"]),
            )
        )
    restarted = pods[(pods["restarts"] > 0) & (pods["status"] != "CrashLoopBackOff")]
    if len(restarted):
        findings.append(
            _finding(
                "pod_status",
                "warning",
                f"{service}: {int(restarted['restarts'].sum())} restarts on "
                f"{len(restarted)}/{total} pods",
                pods=list(restarted["pod"]),
            )
        )
    return Step(table=pods, findings=findings, note=note)


@check("Pod events")
def pod_events(rb: Runbook, *, service: str | None = None) -> Step:
    """A warning per reason of the Warning events about the service's pods."""
    service = _service(rb, service)
    events = rb.kube.service_events(service)
    warnings = events[events["type"] == "Warning"]
    findings = [
        _finding(
            "pod_events",
            "warning",
            f"{service}: {reason} {int(group['count'].sum())} times on {group['object'].nunique()} "
            f"pods, last: {group['message'].iloc[-1]}",
        )
        for reason, group in warnings.groupby("reason", sort=True)
    ]
    note = f"the Events of kubectl describe pod for every pod labelled app={service}."
    return Step(table=events, findings=findings, note=note)


@check("Log patterns")
def log_patterns(
    rb: Runbook,
    *,
    pattern_set: str = "errors",
    since: str | None = "10m",
    tail: int | None = None,
    service: str | None = None,
) -> Step:
    """A finding per pattern of the set that matched, at the pattern's severity, with a sample."""
    service = _service(rb, service)
    chosen = named_pattern_set(pattern_set)
    matches = rb.kube.log_matches(service, pattern_set, since=since, tail=tail)
    scope = _log_scope(since, tail)
    findings = [
        _finding(
            "log_patterns",
            row.severity,
            f"{service}: {row.match!r} {row.count} times in {scope} on {len(row.pods)} pods, "
            f"e.g. {row.samples[0]!r}",
            pods=row.pods,
            samples=row.samples,
        )
        for row in matches.itertuples()
        if row.count
    ]
    options = "".join(
        f" --{flag}={value}" for flag, value in (("since", since), ("tail", tail)) if value
    )
    note = (
        f"kubectl logs deployment/{service}{options} | {chosen.grep}, over every pod of the "
        f"deployment (kubectl reads one); {matches.attrs['lines_read']} lines read."
    )
    if unavailable := matches.attrs["unavailable"]:
        note += " No logs from " + "; ".join(f"{c}: {why}" for c, why in unavailable.items())
    return Step(table=matches, findings=findings, note=note)


@check("Rollout status")
def rollout_status(rb: Runbook, *, deployment: str | None = None) -> Step:
    """Critical: progress deadline exceeded or nothing available; warning: still rolling out."""
    deployment = _service(rb, deployment)
    status = rb.kube.rollout_status(deployment)
    findings = []
    if status.deadline_exceeded or (status.desired and not status.available):
        findings.append(_finding("rollout_status", "critical", status.message))
    elif not status.complete:
        findings.append(_finding("rollout_status", "warning", status.message))
    note = f"kubectl rollout status deployment/{deployment} (checked once, not watched)."
    return Step(table=pd.DataFrame([asdict(status)]), findings=findings, note=note)


@check("Resource usage of pods")
def top_pods(
    rb: Runbook, *, service: str | None = None, warning_pct: float = USAGE_WARNING_PCT
) -> Step:
    """Warning: a pod of the service using `warning_pct`% or more of its CPU or memory limit."""
    usage = rb.kube.top_pods(service or rb.service)
    findings = []
    for column, resource in (("cpu_pct_limit", "CPU"), ("memory_pct_limit", "memory")):
        high = usage[usage[column] >= warning_pct]
        if len(high):
            worst = high.loc[high[column].idxmax()]
            findings.append(
                _finding(
                    "top_pods",
                    "warning",
                    f"{len(high)} pods use {warning_pct:.0f}% or more of their {resource} limit "
                    f"(highest: {worst['pod']} at {worst[column]:.0f}%)",
                    pods=list(high["pod"]),
                )
            )
    selector = f" -l app={service}" if service else ""
    note = f"kubectl top pods{selector} (metrics.k8s.io), with each pod's limits from its spec."
    return Step(table=usage, findings=findings, note=note)


@check("Resource usage of nodes")
def top_nodes(rb: Runbook, *, warning_pct: float = USAGE_WARNING_PCT) -> Step:
    """Warning: a node using `warning_pct`% or more of its allocatable CPU or memory."""
    usage = rb.kube.top_nodes()
    findings = [
        _finding("top_nodes", "warning", f"node {row.node} uses {pct:.0f}% of its {resource}")
        for row in usage.itertuples()
        for pct, resource in ((row.cpu_pct, "CPU"), (row.memory_pct, "memory"))
        if pd.notna(pct) and pct >= warning_pct
    ]
    note = "kubectl top nodes (metrics.k8s.io): % of each node's allocatable."
    return Step(table=usage, findings=findings, note=note)


@check("Node conditions")
def node_conditions(rb: Runbook) -> Step:
    """Critical: a node not Ready; warning: memory, disk or PID pressure."""
    conditions = rb.kube.node_conditions()
    findings = [
        _finding(
            "node_conditions",
            "critical" if row.condition == "Ready" else "warning",
            f"node {row.node}: {row.condition}={row.status} ({row.reason}: {row.message})",
        )
        for row in conditions[conditions["problem"]].itertuples()
    ]
    note = "The Conditions of kubectl describe nodes."
    return Step(table=conditions, findings=findings, note=note)


@check("Database connectivity")
def database_connectivity(
    rb: Runbook, *, service: str = POSTGRES_SERVICE, port: int = POSTGRES_PORT
) -> Step:
    """Critical: the profile's PostgreSQL refuses a connection; warning: its Service is wrong."""
    result = rb.kube.database_connectivity(service=service, port=port)
    findings = []
    if not result.service_found:
        findings.append(
            _finding(
                "database_connectivity",
                "warning",
                f"Service {service} not found in namespace {rb.kube.namespace}",
            )
        )
    elif not result.service_port_open:
        findings.append(
            _finding(
                "database_connectivity",
                "warning",
                f"Service {service} does not expose {port}/TCP "
                f"(it has {', '.join(result.service_ports) or 'no ports'})",
            )
        )
    if result.target is None:
        findings.append(
            _finding(
                "database_connectivity",
                "warning",
                f"profile {rb.targets.profile!r} names no PostgreSQL (postgres_dsn): "
                "only the Service was checked",
            )
        )
    elif not result.reachable:
        findings.append(
            _finding(
                "database_connectivity",
                "critical",
                f"cannot connect to PostgreSQL at {result.target}: {result.error}",
            )
        )
    note = (
        f"Stands for `kubectl exec deployment/<service> -- nc -zv {service} {port}`: a read "
        f"may not exec into a pod, so this checks that Service {service} exists with port "
        f"{port}/TCP and opens (then closes) a TCP connection to the PostgreSQL the profile "
        "names. It does not prove the pods' own network path."
    )
    return Step(table=pd.DataFrame([asdict(result)]), findings=findings, note=note)


def _service(rb: Runbook, service: str | None) -> str:
    """The option's service, else the notebook's; the Kube reads validate it."""
    chosen = service if service is not None else rb.service
    if chosen is None:
        raise ValueError(
            "this check needs a service: pass service=... or open the runbook with one"
        )
    return chosen


def _log_scope(since: str | None, tail: int | None) -> str:
    if since and tail is not None:
        return f"the last {since} (at most {tail} lines per container)"
    if since:
        return f"the last {since}"
    if tail is not None:
        return f"the last {tail} lines per container"
    return "the whole logs"


def _finding(check_name: str, severity: str, message: str, **evidence) -> Finding:
    return Finding(check=check_name, severity=severity, message=message, evidence=evidence)
