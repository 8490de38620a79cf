"""Pod logs: Spring-Boot style lines that follow the pod's container history and the scenario.

A running container logs a request line every few seconds and, when the scenario names the
service in `log_errors`, those error lines regularly since the incident started. A container
that crashed logs its startup, the error and its shutdown. Lines are placed on grids anchored
at the sandbox's start, so the same moment always shows the same line, and the log grows as
real time passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hopngo_ops.sandbox.kubesim import status
from hopngo_ops.sandbox.kubesim.clock import iso_millis, iso_nano, parse_iso
from hopngo_ops.sandbox.kubesim.workloads import number
from hopngo_ops.sandbox.scenarios import HISTORY_HOURS, URIS, Scenario

# Seconds between routine request lines, and between repetitions of the scenario's errors.
LINE_INTERVAL = 12
ERROR_INTERVAL = 30
# How much of a container's past the log still holds (older lines were rotated away).
RETENTION_SECONDS = HISTORY_HOURS * 3600
# A crash-looping container's previous run ended this long before its last one started.
CRASH_BACKOFF_SECONDS = 300
STARTUP = (
    "INFO c.h.Application - Starting {app} v1.4.2 using Java 17.0.9 with PID 1",
    'INFO c.h.Application - The following 1 profile is active: "prod"',
    "INFO o.s.b.w.e.tomcat.TomcatWebServer - Tomcat initialized with port 8080 (http)",
    "INFO com.zaxxer.hikari.HikariDataSource - HikariPool-1 - Starting...",
    "INFO o.s.b.a.e.web.EndpointLinksResolver - Exposing 3 endpoints beneath base path '/actuator'",
    "INFO c.h.Application - Started {app} in 6.412 seconds (process running for 7.1)",
)
CRASH_TAIL = (
    "ERROR o.s.boot.SpringApplication - Application run failed",
    "INFO com.zaxxer.hikari.HikariDataSource - HikariPool-1 - Shutdown initiated...",
    "INFO com.zaxxer.hikari.HikariDataSource - HikariPool-1 - Shutdown completed.",
)


@dataclass(frozen=True)
class Run:
    """One run of a container: when it started and ended, and how it ended."""

    start: float
    end: float
    # "running", or the termination reason ("Error", "OOMKilled", "Completed").
    outcome: str


def container_runs(pod: dict, container: str, now: float) -> tuple[Run | None, Run]:
    """The (previous, current) runs of `container`; a 400 when the pod has no such container."""
    statuses = {s["name"]: s for s in pod.get("status", {}).get("containerStatuses") or []}
    if container not in statuses:
        raise status.bad_request(
            f"container {container} is not valid for pod {pod['metadata']['name']}"
        )
    state, last = statuses[container]["state"], statuses[container].get("lastState") or {}
    ended = _run(last["terminated"]) if "terminated" in last else None
    if "running" in state:
        return ended, Run(parse_iso(state["running"]["startedAt"]), now, "running")
    if ended is None:
        raise status.bad_request(
            f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start'
        )
    # A crash-looping container shows its last run; the one before ended a back-off earlier.
    length = ended.end - ended.start
    before = ended.start - CRASH_BACKOFF_SECONDS
    return Run(before - length, before, ended.outcome), ended


def _run(terminated: dict) -> Run:
    return Run(
        parse_iso(terminated["startedAt"]),
        parse_iso(terminated["finishedAt"]),
        terminated.get("reason", "Error"),
    )


def log_lines(
    pod: dict,
    container: str,
    *,
    previous: bool,
    scenario: Scenario,
    started_at: float,
    now: float,
) -> list[tuple[float, str]]:
    """The (time, text) lines of the container's current or previous run."""
    before, current = container_runs(pod, container, now)
    run = before if previous else current
    if run is None:
        raise status.bad_request(
            f'previous terminated container "{container}" in pod '
            f'"{pod["metadata"]["name"]}" not found'
        )
    service = (pod["metadata"].get("labels") or {}).get("app", container)
    errors = scenario.log_errors.get(service, ())
    incident = (
        started_at - scenario.incident_minutes_ago * 60 if scenario.incident_minutes_ago else None
    )
    # A run that fails at startup never gets to the "Started" line.
    startup = STARTUP[:-1] if run.outcome == "Error" else STARTUP
    lines = [(run.start + i, text.format(app=service)) for i, text in enumerate(startup)]
    body_start = run.start + len(startup)
    if run.outcome == "Error":
        lines += [(body_start + i, text) for i, text in enumerate(errors)]
        lines += [(run.end - len(CRASH_TAIL) + i, text) for i, text in enumerate(CRASH_TAIL)]
        return lines
    window_start = max(body_start, started_at - RETENTION_SECONDS)
    lines += _routine(pod["metadata"]["name"], service, window_start, run.end, started_at)
    if incident is not None and errors:
        lines += _repeated_errors(
            pod["metadata"]["name"], errors, max(window_start, incident), run.end, incident
        )
    if run.outcome == "OOMKilled":
        lines.append(
            (run.end, "ERROR c.h.Application - java.lang.OutOfMemoryError: Java heap space")
        )
    return sorted(lines)


def _grid(start: float, end: float, anchor: float, interval: float) -> range:
    first = math.ceil((start - anchor) / interval)
    last = math.floor((end - anchor) / interval)
    return range(first, last + 1)


def _routine(pod: str, service: str, start: float, end: float, anchor: float) -> list:
    uris = URIS.get(service, ("/actuator/health",))
    lines = []
    for k in _grid(start, end, anchor, LINE_INTERVAL):
        key = f"{pod}/{k}"
        uri = uris[number(key, len(uris))]
        method = "POST" if "checkout" in uri or "login" in uri else "GET"
        millis = 8 + number(key + "/ms", 140)
        thread = 1 + number(key + "/thread", 10)
        text = (
            f"INFO c.h.web.RequestLogger - [nio-8080-exec-{thread}] {method} {uri} 200 "
            f"in {millis}ms"
        )
        lines.append((anchor + k * LINE_INTERVAL, text))
    return lines


def _repeated_errors(pod: str, errors: tuple, start: float, end: float, anchor: float) -> list:
    lines = []
    for k in _grid(start, end, anchor, ERROR_INTERVAL):
        # Jitter of up to 10 s keeps the repetitions 20-40 s apart, like a real retry loop.
        at = anchor + k * ERROR_INTERVAL + number(f"{pod}/err/{k}", 10)
        lines += [(at + i * 0.25, text) for i, text in enumerate(errors) if at <= end]
    return lines


def render(
    lines: list[tuple[float, str]],
    *,
    now: float,
    timestamps: bool,
    since_seconds: int | None,
    since_time: str | None,
    tail_lines: int | None,
    limit_bytes: int | None,
) -> bytes:
    """The log as the kubelet returns it, after the request's filters."""
    if since_seconds is not None:
        lines = [line for line in lines if line[0] >= now - since_seconds]
    if since_time:
        cutoff = parse_iso(since_time)
        lines = [line for line in lines if line[0] >= cutoff]
    if tail_lines is not None:
        lines = lines[-tail_lines:] if tail_lines > 0 else []
    text = "".join(
        (f"{iso_nano(ts)} " if timestamps else "") + f"{iso_millis(ts)} {message}\n"
        for ts, message in lines
    )
    data = text.encode()
    return data[:limit_bytes] if limit_bytes is not None else data
