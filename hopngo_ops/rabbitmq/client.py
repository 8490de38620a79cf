"""The notebook's RabbitMQ: the management API for reads, AMQP for exact counts and actions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from hopngo_ops.config import Targets
from hopngo_ops.rabbitmq import amqp
from hopngo_ops.rabbitmq.management import Management, vhost_name


class RabbitMQ:
    def __init__(self, targets: Targets):
        self.targets = targets
        self.management_url = targets.require("rabbitmq_management_url")
        self.amqp_url = targets.require("rabbitmq_amqp_url")
        self.vhost = vhost_name(amqp.vhost_of(self.amqp_url))

    def __repr__(self) -> str:
        return f"RabbitMQ({self.management_url!r}, vhost={self.vhost!r})"

    @cached_property
    def management(self) -> Management:
        # Credentials are resolved at first use, never kept in the targets or a notebook.
        return Management(self.management_url, self.targets.rabbitmq_credentials())

    @contextmanager
    def channel(self) -> Iterator:
        """An AMQP channel on a connection of its own, closed on exit."""
        params = amqp.connection_parameters(self.amqp_url, self.targets.rabbitmq_credentials())
        # The URL holds no password (profiles refuse secrets), so errors may show it.
        with amqp.channel(params, self.amqp_url) as ch:
            yield ch

    def depth(self, queue: str) -> amqp.QueueDepth:
        """Exact ready count and consumers of `queue` now."""
        return self.depths([queue])[0]

    def depths(self, queues: list[str]) -> list[amqp.QueueDepth]:
        """Exact ready counts and consumers of `queues` now, over one channel."""
        with self.channel() as ch:
            return [amqp.depth(ch, queue) for queue in queues]
