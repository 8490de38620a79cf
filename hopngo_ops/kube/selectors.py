"""Label selectors from an object's spec, as the `labelSelector` query parameter spells them."""

from __future__ import annotations

from kubernetes.client import V1LabelSelector

_OPERATORS = {
    "In": lambda key, values: f"{key} in ({','.join(values)})",
    "NotIn": lambda key, values: f"{key} notin ({','.join(values)})",
    "Exists": lambda key, values: key,
    "DoesNotExist": lambda key, values: f"!{key}",
}


def selector_string(selector: V1LabelSelector) -> str:
    """The selector's matchLabels and matchExpressions joined, e.g. `app=x,tier in (web)`."""
    terms = [f"{key}={value}" for key, value in sorted((selector.match_labels or {}).items())]
    terms += [
        _OPERATORS[e.operator](e.key, e.values or []) for e in selector.match_expressions or []
    ]
    return ",".join(terms)
