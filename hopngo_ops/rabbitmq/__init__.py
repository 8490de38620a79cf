"""RabbitMQ: the management API and AMQP from the profile's targets, per-queue readings from
both it and Prometheus, their comparison, and the lag history."""

from hopngo_ops.rabbitmq.amqp import QueueDepth
from hopngo_ops.rabbitmq.client import RabbitMQ
from hopngo_ops.rabbitmq.compare import (
    TOLERANCES,
    Tolerance,
    compare,
    disagreements,
    side_by_side,
)
from hopngo_ops.rabbitmq.lag import lag_history
from hopngo_ops.rabbitmq.management import Management
from hopngo_ops.rabbitmq.reads import METRICS, management_queues, prometheus_queues

__all__ = [
    "METRICS",
    "TOLERANCES",
    "Management",
    "QueueDepth",
    "RabbitMQ",
    "Tolerance",
    "compare",
    "disagreements",
    "lag_history",
    "management_queues",
    "prometheus_queues",
    "side_by_side",
]
