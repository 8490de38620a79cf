"""Where a queue's rejected messages go: its dead-letter exchange, routing key and queue.

RabbitMQ dead-letters to the exchange named by the queue's `x-dead-letter-exchange` with the
routing key `x-dead-letter-routing-key` (when unset, the message's own routing key, which for
messages published to the queue through the default exchange is the queue's name). The
dead-letter queue is the one queue the exchange's bindings route that key to.
"""

from __future__ import annotations

from hopngo_ops.errors import NotFound
from hopngo_ops.rabbitmq.management import Management

DLX_ARGUMENT = "x-dead-letter-exchange"
DLX_ROUTING_KEY_ARGUMENT = "x-dead-letter-routing-key"


def dead_letter_queue(management: Management, vhost: str, queue: str) -> str:
    """The name of `queue`'s dead-letter queue; NotFound, saying why, when there is not one."""
    return resolve_dead_letter_queue(management, vhost, management.queue(vhost, queue))


def dead_letter_queues(management: Management, vhost: str, queues: list[dict]) -> dict[str, str]:
    """queue -> its dead-letter queue, for those of `queues` (management API objects) that
    have one."""
    resolved = {}
    for queue in queues:
        try:
            resolved[queue["name"]] = resolve_dead_letter_queue(management, vhost, queue)
        except NotFound:
            continue  # no dead-letter exchange, or it routes nowhere: not a DLQ's source
    return resolved


def resolve_dead_letter_queue(management: Management, vhost: str, queue: dict) -> str:
    arguments = queue.get("arguments") or {}
    name = queue["name"]
    exchange = arguments.get(DLX_ARGUMENT)
    if not exchange:
        raise NotFound(f"queue {name!r} has no dead-letter exchange ({DLX_ARGUMENT})")
    routing_key = arguments.get(DLX_ROUTING_KEY_ARGUMENT, name)
    destinations = sorted(
        {
            b["destination"]
            for b in management.bindings_from(vhost, exchange)
            if b["destination_type"] == "queue" and b["routing_key"] == routing_key
        }
    )
    if len(destinations) != 1:
        raise NotFound(
            f"queue {name!r} dead-letters to exchange {exchange!r} with routing key "
            f"{routing_key!r}, which is bound to {len(destinations)} queues "
            f"({', '.join(destinations) or 'none'}): expected exactly one dead-letter queue"
        )
    return destinations[0]
