"""`kubectl top pods` / `kubectl top nodes` from metrics.k8s.io, with usage against limits."""

from __future__ import annotations

import pandas as pd
from kubernetes.client import V1Pod

from hopngo_ops import names
from hopngo_ops.kube.pods import PodReads
from hopngo_ops.kube.quantities import mebibytes, millicores, percent

METRICS = ("metrics.k8s.io", "v1beta1")
POD_TOP_COLUMNS = [
    "pod",
    "cpu_m",
    "cpu_limit_m",
    "cpu_pct_limit",
    "memory_mib",
    "memory_limit_mib",
    "memory_pct_limit",
]
NODE_TOP_COLUMNS = ["node", "cpu_m", "cpu_pct", "memory_mib", "memory_pct"]


class TopReads(PodReads):
    def top_pods(self, service: str | None = None) -> pd.DataFrame:
        """Each pod's CPU (millicores) and memory (MiB), and % of its limits where all are set."""
        selector = f"app={names.service_name(service)}" if service is not None else ""
        usage = self.call(
            self.custom.list_namespaced_custom_object,
            *METRICS,
            self.namespace,
            "pods",
            label_selector=selector,
        )
        limits = {pod.metadata.name: _limits(pod) for pod in self.list_pods(selector)}
        rows = []
        for item in usage["items"]:
            name = item["metadata"]["name"]
            cpu_limit, memory_limit = limits.get(name, (None, None))
            cpu = sum(millicores(c["usage"]["cpu"]) for c in item["containers"])
            memory = sum(mebibytes(c["usage"]["memory"]) for c in item["containers"])
            rows.append(
                {
                    "pod": name,
                    "cpu_m": round(cpu),
                    "cpu_limit_m": cpu_limit,
                    "cpu_pct_limit": percent(cpu, cpu_limit),
                    "memory_mib": round(memory, 1),
                    "memory_limit_mib": memory_limit,
                    "memory_pct_limit": percent(memory, memory_limit),
                }
            )
        return pd.DataFrame(rows, columns=POD_TOP_COLUMNS).sort_values("pod", ignore_index=True)

    def top_nodes(self) -> pd.DataFrame:
        """Each node's CPU and memory use, and % of what it can allocate (kubectl's CPU%)."""
        usage = self.call(self.custom.list_cluster_custom_object, *METRICS, "nodes")
        nodes = self.call(self.core.list_node).items
        allocatable = {n.metadata.name: n.status.allocatable or {} for n in nodes}
        rows = []
        for item in usage["items"]:
            name = item["metadata"]["name"]
            cpu = millicores(item["usage"]["cpu"])
            memory = mebibytes(item["usage"]["memory"])
            can = allocatable.get(name, {})
            rows.append(
                {
                    "node": name,
                    "cpu_m": round(cpu),
                    "cpu_pct": percent(cpu, millicores(can.get("cpu"))),
                    "memory_mib": round(memory, 1),
                    "memory_pct": percent(memory, mebibytes(can.get("memory"))),
                }
            )
        return pd.DataFrame(rows, columns=NODE_TOP_COLUMNS).sort_values("node", ignore_index=True)


def _limits(pod: V1Pod) -> tuple[float | None, float | None]:
    """The pod's CPU and memory limits summed over containers; None unless every one sets it."""
    limits = [(c.resources.limits or {}) if c.resources else {} for c in pod.spec.containers]
    cpu = [millicores(lim.get("cpu")) for lim in limits]
    memory = [mebibytes(lim.get("memory")) for lim in limits]
    return (
        sum(cpu) if None not in cpu else None,
        sum(memory) if None not in memory else None,
    )
