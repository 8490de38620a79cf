"""Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and field selectors."""

from __future__ import annotations

import re
from collections.abc import Callable

from hopngo_ops.sandbox.kubesim import status

Predicate = Callable[[dict], bool]

# A set-based requirement: `key in (a,b)` / `key notin (a)`; the value list may hold spaces.
_SET_TERM = re.compile(r"^\s*(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_EQUALITY_TERM = re.compile(
    r"^\s*(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)\s*$"
)
_EXISTS_TERM = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)\s*$")

# Fields a field selector may name, beyond metadata.name / metadata.namespace.
_SELECTABLE_FIELDS = {
    "pods": ("spec.nodeName", "status.phase", "spec.restartPolicy", "status.podIP"),
    "events": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "type",
    ),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
    "nodes": ("spec.unschedulable",),
    "replicasets": ("status.replicas",),
}


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses: `a in (x,y),b=c` is two terms."""
    terms, depth, current = [], 0, []
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Predicate:
    if match := _SET_TERM.match(term):
        key = match["key"]
        values = {v.strip() for v in match["values"].split(",") if v.strip()}
        if match["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY_TERM.match(term):
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS_TERM.match(term):
        key = match["key"]
        if match["neg"]:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise status.bad_request(f"unable to parse requirement: invalid label selector term {term!r}")


def label_selector(text: str | None) -> Predicate:
    """A predicate on an object from a `labelSelector` query parameter."""
    terms = [_label_term(t) for t in _split_terms(text or "")]
    return lambda obj: all(term(obj.get("metadata", {}).get("labels") or {}) for term in terms)


def match_labels(selector: dict) -> Predicate:
    """A predicate from a LabelSelector object (matchLabels and matchExpressions)."""
    wanted = selector.get("matchLabels") or {}
    expressions = [_expression(e) for e in selector.get("matchExpressions") or []]

    def matches(obj: dict) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(labels.get(k) == v for k, v in wanted.items()) and all(
            e(labels) for e in expressions
        )

    return matches


def _expression(expression: dict) -> Callable[[dict], bool]:
    key, op, values = expression["key"], expression["operator"], set(expression.get("values", []))
    return {
        "In": lambda labels: labels.get(key) in values,
        "NotIn": lambda labels: labels.get(key) not in values,
        "Exists": lambda labels: key in labels,
        "DoesNotExist": lambda labels: key not in labels,
    }[op]


def selector_string(selector: dict) -> str:
    """A LabelSelector object as the text form kubectl and Scale.status.selector use."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        op, key = e["operator"], e["key"]
        if op in ("In", "NotIn"):
            parts.append(f"{key} {op.lower()} ({','.join(sorted(e.get('values', [])))})")
        else:
            parts.append(key if op == "Exists" else f"!{key}")
    return ",".join(parts)


def field_selector(text: str | None, plural: str) -> Predicate:
    """A predicate from a `fieldSelector` query parameter; unknown fields are a 400."""
    allowed = ("metadata.name", "metadata.namespace", *_SELECTABLE_FIELDS.get(plural, ()))
    terms = []
    for term in _split_terms(text or ""):
        match = _EQUALITY_TERM.match(term)
        if not match:
            raise status.bad_request(f"invalid field selector term {term!r}")
        if match["key"] not in allowed:
            raise status.bad_request(
                f'"{match["key"]}" is not a known field selector: only "{", ".join(allowed)}"'
            )
        terms.append((match["key"].split("."), match["op"] == "!=", match["value"]))
    return lambda obj: all((_field(obj, path) == value) != negate for path, negate, value in terms)


def _field(obj: dict, path: list[str]) -> str:
    value: object = obj
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)
