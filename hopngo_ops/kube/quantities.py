"""Kubernetes resource quantities ("250m", "512Mi") in the units `kubectl top` shows."""

from __future__ import annotations

from kubernetes.utils import parse_quantity

_MIB = 1024 * 1024


def millicores(quantity: str | None) -> float | None:
    return float(parse_quantity(quantity) * 1000) if quantity is not None else None


def mebibytes(quantity: str | None) -> float | None:
    return float(parse_quantity(quantity) / _MIB) if quantity is not None else None


def percent(used: float | None, of: float | None) -> float | None:
    """`used` as a percentage of `of`, None when either is unknown (no limit set)."""
    if used is None or not of:
        return None
    return round(100 * used / of, 1)
