"""Field validation: what the apiserver answers 422 Invalid for."""

from __future__ import annotations

import json
import re

from hopngo_ops.sandbox.kubesim import resources as r
from hopngo_ops.sandbox.kubesim import status
from hopngo_ops.sandbox.kubesim.selectors import match_labels

_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    f"used for validation is '{_SUBDOMAIN}')"
)
MAX_NAME = 253
# The only pod spec fields an update may change (beyond metadata).
MUTABLE_POD_FIELDS = ("image",)

Causes = list[tuple[str, str]]


def _invalid_value(value: object, why: str) -> str:
    return f"Invalid value: {json.dumps(value)}: {why}"


def name_causes(name: str) -> Causes:
    if len(name) <= MAX_NAME and re.fullmatch(_SUBDOMAIN, name):
        return []
    return [("metadata.name", _invalid_value(name, _SUBDOMAIN_RULE))]


def replicas_causes(replicas: object, field: str = "spec.replicas") -> Causes:
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas >= 0:
        return []
    return [(field, _invalid_value(replicas, "must be greater than or equal to 0"))]


def _containers_causes(pod_spec: dict, field: str) -> Causes:
    containers = pod_spec.get("containers") or []
    if not containers:
        return [(f"{field}.containers", "Required value")]
    causes = []
    for index, container in enumerate(containers):
        for key in ("name", "image"):
            if not container.get(key):
                causes.append((f"{field}.containers[{index}].{key}", "Required value"))
    return causes


def _workload_causes(obj: dict, old: dict | None) -> Causes:
    spec = obj.get("spec") or {}
    causes = replicas_causes(spec.get("replicas", 1))
    template = spec.get("template") or {}
    causes += _containers_causes(template.get("spec") or {}, "spec.template.spec")
    selector = spec.get("selector")
    if not selector:
        causes.append(("spec.selector", "Required value"))
    elif not match_labels(selector)({"metadata": template.get("metadata") or {}}):
        labels = (template.get("metadata") or {}).get("labels") or {}
        causes.append(
            (
                "spec.template.metadata.labels",
                _invalid_value(labels, "`selector` does not match template `labels`"),
            )
        )
    if old is not None and selector != old["spec"].get("selector"):
        causes.append(("spec.selector", _invalid_value(selector, "field is immutable")))
    return causes


def _pod_causes(obj: dict, old: dict | None) -> Causes:
    spec = obj.get("spec") or {}
    if old is None:
        return _containers_causes(spec, "spec")
    if _without_mutable(spec) != _without_mutable(old["spec"]):
        return [
            (
                "spec",
                "Forbidden: pod updates may not change fields other than "
                "`spec.containers[*].image`, `spec.activeDeadlineSeconds`, "
                "`spec.tolerations` (only additions to existing tolerations)",
            )
        ]
    return []


def _without_mutable(spec: dict) -> dict:
    containers = [
        {k: v for k, v in c.items() if k not in MUTABLE_POD_FIELDS}
        for c in spec.get("containers", [])
    ]
    return {**spec, "containers": containers, "activeDeadlineSeconds": None, "tolerations": None}


def validate(rtype: r.ResourceType, obj: dict, old: dict | None = None) -> None:
    """Raise 422 Invalid listing every field error of `obj` (an update when `old` is given)."""
    name = obj["metadata"].get("name", "")
    causes = name_causes(name) if old is None else []
    if rtype.tracks_generation:
        causes += _workload_causes(obj, old)
    elif rtype is r.POD:
        causes += _pod_causes(obj, old)
    if causes:
        raise status.invalid(rtype, name, causes)
