"""Logs of a deployment's pods (`kubectl logs deployment/x --since --tail`) and pattern counts."""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from kubernetes.client import V1Pod

from hopngo_ops import names
from hopngo_ops.kube.client import RequestRefused
from hopngo_ops.kube.patterns import pattern_set
from hopngo_ops.kube.pods import PodReads
from hopngo_ops.kube.selectors import selector_string

LOG_COLUMNS = ["time", "pod", "container", "line"]
MATCH_COLUMNS = ["match", "severity", "count", "pods", "first_seen", "last_seen", "samples"]
SAMPLES_PER_MATCH = 3
# Most applications start a line with their own timestamp: samples differ by what follows.
_LEADING_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\S+\s+")
# Pods' logs are read side by side: a deployment's pods answer in the time of one.
_PARALLEL_READS = 8


class LogReads(PodReads):
    def logs(
        self,
        service: str,
        *,
        since: str | None = None,
        tail: int | None = None,
        previous: bool = False,
    ) -> pd.DataFrame:
        """Log lines of every container of the deployment's pods, oldest first.

        `since` is a duration (10m) and `tail` a line count, both per container as with
        kubectl; `previous` reads the container instance before the last restart. Unlike
        `kubectl logs deployment/x`, which reads one pod, every pod is read. Pods whose logs
        the API refuses (a container not started yet) are listed in `attrs["unavailable"]`.
        """
        options = {"timestamps": True, "previous": previous}
        if since is not None:
            options["since_seconds"] = max(1, math.ceil(names.duration_seconds(since)))
        if tail is not None:
            options["tail_lines"] = _line_count(tail)
        pods = self.deployment_pods(service)
        reads = [(pod.metadata.name, c.name) for pod in pods for c in pod.spec.containers]
        with ThreadPoolExecutor(max_workers=_PARALLEL_READS) as pool:
            results = list(pool.map(lambda read: self._read_log(*read, options), reads))
        rows = [row for lines, _ in results for row in lines]
        table = pd.DataFrame(rows, columns=LOG_COLUMNS)
        table = table.sort_values("time", kind="stable", ignore_index=True)
        table.attrs["unavailable"] = {
            f"{pod}/{container}": refused
            for (pod, container), (_, refused) in zip(reads, results, strict=True)
            if refused
        }
        return table

    def log_matches(
        self,
        service: str,
        patterns: str = "errors",
        *,
        since: str | None = None,
        tail: int | None = None,
    ) -> pd.DataFrame:
        """Each pattern of the named set with how many lines match, where, when, and samples."""
        chosen = pattern_set(patterns)
        lines = self.logs(service, since=since, tail=tail)
        rows = []
        for pattern in chosen.patterns:
            matched = lines[lines["line"].str.contains(pattern.regex, regex=True)]
            rows.append(
                {
                    "match": pattern.label,
                    "severity": pattern.severity,
                    "count": len(matched),
                    "pods": sorted(matched["pod"].unique()),
                    "first_seen": matched["time"].min() if len(matched) else None,
                    "last_seen": matched["time"].max() if len(matched) else None,
                    "samples": _samples(matched["line"]),
                }
            )
        table = pd.DataFrame(rows, columns=MATCH_COLUMNS)
        table.attrs = {**lines.attrs, "lines_read": len(lines), "pattern_set": chosen}
        return table

    def deployment_pods(self, deployment: str) -> list[V1Pod]:
        """The pods the deployment's selector picks, as `kubectl logs deployment/x` finds them."""
        found = self.call(
            self.apps.read_namespaced_deployment, names.service_name(deployment), self.namespace
        )
        return self.list_pods(selector_string(found.spec.selector))

    def _read_log(self, pod: str, container: str, options: dict) -> tuple[list[dict], str | None]:
        """The container's lines as rows, or no rows and why the API refused them."""
        try:
            text = self.call(
                self.core.read_namespaced_pod_log,
                pod,
                self.namespace,
                container=container,
                **options,
            )
        except RequestRefused as refused:
            return [], refused.reason
        return [_log_row(pod, container, line) for line in text.splitlines() if line], None


def _samples(lines: pd.Series) -> list[str]:
    """A few matched lines, verbatim, that say different things."""
    distinct = lines[~lines.str.replace(_LEADING_TIME, "", regex=True).duplicated()]
    return list(distinct.head(SAMPLES_PER_MATCH))


def _log_row(pod: str, container: str, line: str) -> dict:
    # With timestamps=true the API prefixes each line with its RFC 3339 time and a space.
    stamp, _, message = line.partition(" ")
    return {"time": pd.Timestamp(stamp), "pod": pod, "container": container, "line": message}


def _line_count(tail: object) -> int:
    if isinstance(tail, bool) or not isinstance(tail, int) or tail < 0:
        raise ValueError(f"tail must be a number of lines (0 or more), not {tail!r}")
    return tail
