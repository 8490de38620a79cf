"""The AMQP side of the sandbox's RabbitMQ: how to connect, the queues, the scenario's messages.

Each queue in QUEUES dead-letters through one direct exchange into its own `<queue>.dlq`.
Messages are persistent, published with confirms, and the same for every sandbox of a scenario:
bodies are JSON with a `message_id`, timestamps spread over the incident.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pika

from hopngo_ops.sandbox.scenarios import QUEUES, Scenario

DEAD_LETTER_EXCHANGE = "hopngo.dlx"
# Messages a healthy queue carries before the sandbox is ready: its consumers ack them at once.
HEALTHY_TRAFFIC = 10
EVENTS = {"booking.events": "booking.created", "market.orders": "order.placed"}
DEFAULT_EVENT = "notification.requested"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"


def connection_parameters(
    amqp_url: str, password_file: Path, *, name: str
) -> pika.ConnectionParameters:
    """Parameters for `amqp_url` (which holds no password) with the password read from its file.

    `name` is the connection's name in the management UI and API.
    """
    # pika.URLParameters refuses a URL without a password: take it apart ourselves.
    url = urlsplit(amqp_url)
    return pika.ConnectionParameters(
        host=url.hostname,
        port=url.port or 5672,
        virtual_host=unquote(url.path[1:]) or "/",
        credentials=pika.PlainCredentials(unquote(url.username), Path(password_file).read_text()),
        client_properties={"connection_name": name},
    )


def declare_queues(channel: pika.adapters.blocking_connection.BlockingChannel) -> None:
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)
    for queue in QUEUES:
        dlq = dead_letter_queue(queue)
        channel.queue_declare(dlq, durable=True)
        channel.queue_bind(dlq, DEAD_LETTER_EXCHANGE, routing_key=dlq)
        channel.queue_declare(
            queue,
            durable=True,
            arguments={
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": dlq,
            },
        )


def messages_to_publish(scenario: Scenario) -> dict[str, int]:
    """queue -> messages to publish: the backlog, plus one for each stuck consumer to hold
    (prefetch 1, never acked), so that exactly the backlog is left ready."""
    return {
        queue: scenario.queue_backlog.get(queue, 0) + scenario.queue_consumers[queue]
        if queue in scenario.queue_consumers
        else HEALTHY_TRAFFIC
        for queue in QUEUES
    }


def publish(
    channel: pika.adapters.blocking_connection.BlockingChannel,
    queue: str,
    count: int,
    *,
    since: float,
    until: float,
) -> None:
    """Publish `count` persistent messages to `queue`, each confirmed by the broker, their
    timestamps spread evenly from `since` to `until` (epoch seconds)."""
    channel.confirm_delivery()
    event = EVENTS.get(queue, DEFAULT_EVENT)
    for n in range(count):
        message_id = f"{queue}-{n + 1:06d}"
        body = {"message_id": message_id, "event": event, "entity_id": 1000 + n, "seq": n + 1}
        channel.basic_publish(
            exchange="",
            routing_key=queue,
            body=json.dumps(body, sort_keys=True).encode(),
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=message_id,
                timestamp=int(since + (until - since) * n / max(count, 1)),
            ),
            mandatory=True,
        )
