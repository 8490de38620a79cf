"""AMQP connections from the profile's targets, and exact queue counts.

The management API's statistics lag the broker by a few seconds; a passive queue declare is
answered by the queue itself, so counts that must be exact (previews, verifications) come
from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import pika
import pika.exceptions

from hopngo_ops import names
from hopngo_ops.errors import BackendUnavailable, NotFound

BACKEND = "rabbitmq (AMQP)"
CONNECTION_NAME = "hopngo-ops"
_NOT_FOUND = 404


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    ready: int
    consumers: int


def connection_parameters(amqp_url: str, credentials: tuple[str, str]) -> pika.ConnectionParameters:
    """Parameters for `amqp_url` (without a password) and the credentials resolved at use."""
    # pika.URLParameters wants the password inside the URL: take the URL apart instead.
    url = urlsplit(amqp_url)
    user, password = credentials
    return pika.ConnectionParameters(
        host=url.hostname,
        port=url.port or 5672,
        virtual_host=vhost_of(amqp_url),
        credentials=pika.PlainCredentials(user, password),
        client_properties={"connection_name": CONNECTION_NAME},
        blocked_connection_timeout=30,
        socket_timeout=10,
    )


def vhost_of(amqp_url: str) -> str:
    """The URL's vhost: its path without the leading "/", unquoted; "/" when empty."""
    return unquote(urlsplit(amqp_url).path[1:]) or "/"


@contextmanager
def channel(params: pika.ConnectionParameters, target: str) -> Iterator:
    """A channel on a new connection, closed afterwards; AMQP errors as domain errors."""
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as err:
        raise BackendUnavailable(BACKEND, target, _reason(err)) from err
    try:
        yield connection.channel()
    except pika.exceptions.ChannelClosedByBroker as err:
        if err.reply_code == _NOT_FOUND:
            raise NotFound(f"RabbitMQ at {target}: {err.reply_text}") from err
        raise BackendUnavailable(BACKEND, target, _reason(err)) from err
    except pika.exceptions.AMQPConnectionError as err:
        raise BackendUnavailable(BACKEND, target, _reason(err)) from err
    finally:
        if connection.is_open:
            connection.close()


def depth(ch, queue: str) -> QueueDepth:
    """Ready messages and consumers of `queue` now (a passive declare: exact, immediate)."""
    state = ch.queue_declare(names.queue_name(queue), passive=True).method
    return QueueDepth(queue, state.message_count, state.consumer_count)


def _reason(err: Exception) -> str:
    detail = str(err) or repr(err)
    return f"{err.__class__.__name__}: {detail}"
