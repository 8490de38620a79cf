"""Per-queue readings from the management API and from Prometheus, in one column layout.

Both sources answer with the same columns (METRICS), one row per queue, so they can be put
side by side. Rates are messages per second; utilisation is the share of time the queue could
deliver to its consumers at once (0..1; none without consumers).
"""

from __future__ import annotations

import pandas as pd

from hopngo_ops.prometheus import gather
from hopngo_ops.rabbitmq.dead_letters import dead_letter_queues
from hopngo_ops.rabbitmq.management import Management

METRICS = ("ready", "unacked", "consumers", "publish_rate", "deliver_rate", "utilisation")
# The runbook's section 4 queries, by the column they fill. Prometheus has no template for
# unacked messages or the publish rate yet: those columns stay empty on its side.
PROMETHEUS_TEMPLATES = {
    "ready": "queue_messages_ready",
    "unacked": "queue_messages_unacked",
    "consumers": "queue_consumers",
    "publish_rate": "queue_publish_rate",
    "deliver_rate": "queue_delivery_rate",
    "utilisation": "queue_consumer_utilisation",
}


def management_queues(management: Management, vhost: str) -> pd.DataFrame:
    """The vhost's queues as the management API sees them (its statistics lag a few seconds),
    each with its dead-letter queue when it has one."""
    queues = management.queues(vhost)
    dead_letters = dead_letter_queues(management, vhost, queues)
    rows = [
        {**_management_row(q), "dead_letter_queue": dead_letters.get(q["name"])} for q in queues
    ]
    columns = ["queue", *METRICS, "dead_letter_queue"]
    # A queue's statistics are missing until the API's first sample of it: NaN, not None.
    frame = pd.DataFrame(rows, columns=columns).astype(
        {"queue": object, **dict.fromkeys(METRICS, float)}
    )
    return frame.sort_values("queue").reset_index(drop=True)


def prometheus_queues(prometheus) -> pd.DataFrame:
    """The same columns from Prometheus' instant queries (the runbook's section 4)."""
    frames = gather(
        **{
            column: (lambda name=name: prometheus.instant(name))
            for column, name in PROMETHEUS_TEMPLATES.items()
        }
    )
    columns = [f.set_index("queue")["value"].rename(column) for column, f in frames.items()]
    joined = pd.concat(columns, axis=1) if columns else pd.DataFrame()
    frame = joined.reindex(columns=list(METRICS)).rename_axis("queue").reset_index()
    frame.attrs["promql"] = " ; ".join(f.attrs.get("promql", "") for f in frames.values())
    return frame.astype({"queue": object}).sort_values("queue").reset_index(drop=True)


def _management_row(queue: dict) -> dict:
    stats = queue.get("message_stats", {})
    return {
        "queue": queue["name"],
        "ready": queue.get("messages_ready"),
        "unacked": queue.get("messages_unacknowledged"),
        "consumers": queue.get("consumers"),
        "publish_rate": stats.get("publish_details", {}).get("rate", 0.0),
        "deliver_rate": stats.get("deliver_get_details", {}).get("rate", 0.0),
        # The API leaves it out (or null) for a queue without consumers.
        "utilisation": queue.get("consumer_utilisation"),
    }
