"""core/v1 Events, as the kubelet, the scheduler and the controllers record them."""

from __future__ import annotations

import zlib

from hopngo_ops.sandbox.kubesim.clock import iso


def make_event(
    involved: dict,
    reason: str,
    message: str,
    *,
    first: float,
    last: float | None = None,
    count: int = 1,
    warning: bool = False,
    component: str = "kubelet",
    host: str | None = None,
    field_path: str | None = None,
) -> dict:
    meta = involved["metadata"]
    # Real names are "<object>.<hex nanoseconds>"; the reason keeps same-instant events apart.
    suffix = int(first * 1e9) + zlib.crc32(reason.encode())
    involved_object = {
        "kind": involved["kind"],
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": involved["apiVersion"],
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if field_path:
        involved_object["fieldPath"] = field_path
    source = {"component": component, **({"host": host} if host else {})}
    return {
        "metadata": {
            "name": f"{meta['name']}.{suffix:x}",
            "namespace": meta.get("namespace") or "default",
            "creationTimestamp": iso(first),
        },
        "involvedObject": involved_object,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": iso(first),
        "lastTimestamp": iso(last if last is not None else first),
        "count": count,
        "type": "Warning" if warning else "Normal",
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }


def start_events(pod: dict, created: float) -> list[dict]:
    """The scheduler's and the kubelet's record of a pod starting its containers."""
    node = pod["spec"]["nodeName"]
    name = pod["metadata"]["name"]
    events = [
        make_event(
            pod,
            "Scheduled",
            f"Successfully assigned {pod['metadata']['namespace']}/{name} to {node}",
            first=created,
            component="default-scheduler",
        )
    ]
    for container in pod["spec"]["containers"]:
        path = f"spec.containers{{{container['name']}}}"
        for offset, reason, message in (
            (1, "Pulled", f'Container image "{container["image"]}" already present on machine'),
            (2, "Created", f"Created container {container['name']}"),
            (3, "Started", f"Started container {container['name']}"),
        ):
            events.append(
                make_event(pod, reason, message, first=created + offset, host=node, field_path=path)
            )
    return events
