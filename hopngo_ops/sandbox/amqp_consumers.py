"""Holds the scenario's RabbitMQ consumers until SIGTERM: consumer-service, stuck or healthy.

Run by the sandbox as `python -m hopngo_ops.sandbox.amqp_consumers`. A stuck consumer takes one
message (prefetch 1) and never acks it: the queue behind it only grows. A healthy consumer acks
every message at once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import time
from pathlib import Path

import pika

from hopngo_ops.sandbox.amqp_setup import connection_parameters, declare_queues

log = logging.getLogger("amqp_consumers")

SERVICE = "consumer-service"
HEALTHY_PREFETCH = 10
CONNECT_TIMEOUT = 60


def _queue_count(text: str) -> tuple[str, int]:
    queue, _, count = text.rpartition("=")
    return queue, int(count)


def hold_consumers(
    connection: pika.BlockingConnection,
    stuck: list[tuple[str, int]],
    healthy: list[tuple[str, int]],
) -> None:
    """Start the consumers, each on its own channel so that its prefetch is its own."""
    for queue, count in stuck:
        for n in range(count):
            _consume(connection, queue, 1, _hold_forever, f"{SERVICE}-{queue}-stuck-{n + 1}")
    for queue, count in healthy:
        for n in range(count):
            _consume(connection, queue, HEALTHY_PREFETCH, _ack, f"{SERVICE}-{queue}-{n + 1}")


def _consume(connection, queue: str, prefetch: int, on_message, tag: str) -> None:
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    channel.basic_consume(queue, on_message, consumer_tag=tag)


def _hold_forever(channel, method, properties, body) -> None:
    log.info("stuck on %s (delivery %d), never acking", properties.message_id, method.delivery_tag)


def _ack(channel, method, properties, body) -> None:
    channel.basic_ack(method.delivery_tag)


def _connect_when_up(params: pika.ConnectionParameters) -> pika.BlockingConnection:
    """Connect, retrying until the broker is up and knows our user: the sandbox starts us
    together with the node, so that our start-up overlaps the node's boot."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        try:
            return pika.BlockingConnection(params)
        except pika.exceptions.AMQPConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="AMQP URL, without password")
    parser.add_argument("--password-file", type=Path, required=True)
    parser.add_argument("--stuck", type=_queue_count, action="append", default=[], help="Q=N")
    parser.add_argument("--healthy", type=_queue_count, action="append", default=[], help="Q=N")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # pika logs every refused attempt of the retry loop as an error: its failures reach us as
    # exceptions anyway.
    logging.getLogger("pika").setLevel(logging.CRITICAL)

    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda received, _frame: stopping.append(received))

    connection = _connect_when_up(connection_parameters(args.url, args.password_file, name=SERVICE))

    # Declared here too (idempotent, same arguments) so the sandbox can start us first.
    declare_queues(connection.channel())
    hold_consumers(connection, args.stuck, args.healthy)
    log.info("consuming: stuck %s, healthy %s", args.stuck, args.healthy)
    while not stopping:
        connection.process_data_events(time_limit=0.5)
    log.info("stopping on %s", signal.Signals(stopping[0]).name)
    connection.close()


if __name__ == "__main__":
    main()
