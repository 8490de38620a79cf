"""Whether an alert's condition still holds, asked of Prometheus before a destructive action.

A run started from an alert may reach its remediation minutes later; if the alert resolved
meanwhile, a destructive action is skipped (and that is recorded). Each alert maps to one of
the runbook's query templates and the threshold its alert rule uses.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from hopngo_ops.errors import GuardRefused

# The p95 SLO (seconds) the latency alerts burn against; the 5xx share the error alerts use.
LATENCY_SLO_SECONDS = 0.5
ERROR_RATIO = 0.05


@dataclass(frozen=True)
class AlertCondition:
    template: str
    compare: object  # operator.gt / operator.lt / operator.eq
    threshold: float
    per_service: bool = True


_LATENCY = AlertCondition("p95_latency_by_uri", operator.gt, LATENCY_SLO_SECONDS)
_ERRORS = AlertCondition("error_ratio_by_uri", operator.gt, ERROR_RATIO)

ALERT_CONDITIONS = {
    "ServiceDown": AlertCondition("target_up", operator.eq, 0),
    "BookingSearchLatencySLOBurnRateHigh": _LATENCY,
    "MarketCheckoutLatencySLOBurnRateHigh": _LATENCY,
    "ServiceHighErrorRate": _ERRORS,
    "MarketCheckoutErrorRateSLOBurnRateHigh": _ERRORS,
    "AuthLoginErrorRateHigh": _ERRORS,
    "RabbitMQQueueLagHigh": AlertCondition(
        "queue_messages_ready", operator.gt, 1000, per_service=False
    ),
    "PostgreSQLConnectionSaturationHigh": AlertCondition(
        "pg_connection_usage", operator.gt, 80, per_service=False
    ),
    "JVMHeapUtilizationHigh": AlertCondition("heap_utilisation", operator.gt, 90),
}


def alert_firing(rb, alert: str) -> bool:
    """True while any series of the alert's query is past its threshold."""
    try:
        condition = ALERT_CONDITIONS[alert]
    except KeyError:
        raise GuardRefused(
            f"cannot re-check alert {alert!r} before a destructive action: no condition is "
            f"known for it (known: {', '.join(ALERT_CONDITIONS)})"
        ) from None
    params = {"service": rb.service} if condition.per_service else {}
    values = rb.prometheus.instant(condition.template, **params)["value"]
    return bool(condition.compare(values, condition.threshold).any())
