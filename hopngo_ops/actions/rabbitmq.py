"""The runbook's queue remediations: purge a queue, move its messages to its dead-letter queue.

Counts come from passive queue declares (exact, immediate), not the management API's lagging
statistics. Moving is a fixed count captured when the action starts, taken from the head of
the queue one message at a time: each is published to the dead-letter queue with publisher
confirms and acked on the source only once the broker confirmed it, so a message is never
lost; a synchronous call after the acks proves the broker processed them, so none is
delivered twice. A publisher that keeps publishing meanwhile does not change how many move.
"""

from __future__ import annotations

import json
import shlex
from urllib.parse import quote

import pika.exceptions

from hopngo_ops import names
from hopngo_ops.actions.base import Action, Plan, Preview
from hopngo_ops.actions.perform import ActionReport, perform
from hopngo_ops.errors import ActionFailed
from hopngo_ops.rabbitmq import RabbitMQ, amqp
from hopngo_ops.rabbitmq.dead_letters import dead_letter_queue


def _rabbitmqctl(*args: str) -> str:
    return shlex.join(["kubectl", "exec", "rabbitmq-0", "--", "rabbitmqctl", *args])


class PurgeQueue(Action):
    """Delete every ready message of a queue. The messages are lost: typing the queue's name
    confirms it. Unacknowledged messages (held by consumers) are not purged."""

    name = "purge_queue"
    destructive = True

    def __init__(self, rmq: RabbitMQ, queue: str):
        self.rmq = rmq
        self.queue = names.queue_name(queue)

    def plan(self) -> Plan:
        path = f"/api/queues/{quote(self.rmq.vhost, safe='')}/{quote(self.queue, safe='')}"
        return Plan(
            action=self.name,
            target=f"queue {self.queue} (vhost {self.rmq.vhost})",
            description=(
                f"Delete every ready message of {self.queue}: they are lost for good. "
                "Messages consumers hold unacknowledged stay. Type the queue's name to confirm."
            ),
            command=f"{_rabbitmqctl('purge_queue', '-p', self.rmq.vhost, self.queue)}\n"
            f"# management API: DELETE {path}/contents",
            parameters={"queue": self.queue, "vhost": self.rmq.vhost},
        )

    def expected_confirmation(self) -> str:
        return self.queue

    def preview(self) -> Preview:
        depth = self.rmq.depth(self.queue)
        return Preview(
            summary=f"would delete {depth.ready} ready message(s) of {self.queue} "
            f"({depth.consumers} consumer(s) keep what they hold unacknowledged)",
            before={"ready": depth.ready, "consumers": depth.consumers},
        )

    def apply(self, preview: Preview) -> dict:
        with self.rmq.channel() as ch:
            purged = ch.queue_purge(self.queue).method.message_count
        return {"purged": purged}

    def verify(self, preview: Preview, *, timeout: float) -> str:
        def emptied() -> tuple[bool, str]:
            ready = self.rmq.depth(self.queue).ready
            return (
                not ready,
                f"{self.queue} still has {ready} ready message(s): a publisher keeps "
                "publishing to it",
            )

        self.wait_for(emptied, timeout=timeout)
        return f"{self.queue} purged: 0 ready"


class MoveToDeadLetter(Action):
    """Move ready messages of a queue to its dead-letter queue, unchanged (body, properties,
    headers), exactly once each: `limit` of them, or as many as are ready when it starts."""

    name = "move_to_dead_letter"
    # The messages leave the queue their consumers read: an alert that resolved skips it.
    destructive = True

    def __init__(self, rmq: RabbitMQ, queue: str, *, limit: int | None = None):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ValueError(f"limit must be a whole number of messages or None, got {limit!r}")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        self.rmq = rmq
        self.queue = names.queue_name(queue)
        self.limit = limit
        self._moved: dict | None = None

    def plan(self) -> Plan:
        count = "every ready message" if self.limit is None else f"{self.limit} message(s)"
        return Plan(
            action=self.name,
            target=f"queue {self.queue} (vhost {self.rmq.vhost})",
            description=(
                f"Move {count} from the head of {self.queue} to its dead-letter queue, "
                "unchanged: each is published with publisher confirms and acknowledged on "
                f"{self.queue} only after the broker confirmed it. Nothing is lost or "
                "duplicated; the count is fixed when the move starts."
            ),
            # rabbitmqctl has no "move"; the shovel plugin's is the closest equivalent.
            command=_rabbitmqctl(
                "set_parameter",
                "-p",
                self.rmq.vhost,
                "shovel",
                f"move-{self.queue}",
                json.dumps(
                    {
                        "src-protocol": "amqp091",
                        "src-queue": self.queue,
                        "src-delete-after": "queue-length" if self.limit is None else self.limit,
                        "dest-protocol": "amqp091",
                        "dest-queue": "<its dead-letter queue, as the preview names it>",
                        "ack-mode": "on-confirm",
                    }
                ),
            ),
            parameters={"queue": self.queue, "vhost": self.rmq.vhost, "limit": self.limit},
        )

    def preview(self) -> Preview:
        dlq = dead_letter_queue(self.rmq.management, self.rmq.vhost, self.queue)
        with self.rmq.channel() as ch:
            source, target = amqp.depth(ch, self.queue), amqp.depth(ch, dlq)
        count = _count(source.ready, self.limit)
        return Preview(
            summary=f"would move {count} of {source.ready} ready message(s) from {self.queue} "
            f"to {dlq} ({target.ready} there now)",
            before={"source_ready": source.ready, "dead_letter_ready": target.ready},
            # What was shown is the most that moves, however the queue grew since.
            payload={"dead_letter_queue": dlq, "count": count},
        )

    def apply(self, preview: Preview) -> dict:
        dlq = preview.payload["dead_letter_queue"]
        with self.rmq.channel() as ch:
            source_before = amqp.depth(ch, self.queue).ready
            dlq_before = amqp.depth(ch, dlq).ready
            count = min(preview.payload["count"], source_before)
            moved = _move(ch, self.queue, dlq, count)
            # A synchronous round trip on the channel: the broker has processed every ack
            # sent before it, so no moved message can be delivered again.
            source_after = amqp.depth(ch, self.queue).ready
        self._moved = {
            "dead_letter_queue": dlq,
            "planned": count,
            "moved": moved,
            "source_before": source_before,
            "dead_letter_before": dlq_before,
        }
        return {"moved": moved, "source_ready": source_after}

    def verify(self, preview: Preview, *, timeout: float) -> str:
        moved, dlq = self._moved["moved"], self._moved["dead_letter_queue"]
        expected = self._moved["dead_letter_before"] + moved

        def grown() -> tuple[bool, str]:
            dlq_ready = self.rmq.depth(dlq).ready
            return dlq_ready == expected, (
                f"{dlq} holds {dlq_ready} ready message(s), expected {expected} "
                f"({self._moved['dead_letter_before']} before + {moved} moved): something else "
                "consumes from or dead-letters into it"
            )

        self.wait_for(grown, timeout=timeout)
        source_after = self.rmq.depth(self.queue).ready
        change = source_after - (self._moved["source_before"] - moved)
        source = (
            f"{self.queue} lost exactly {moved}"
            if change == 0
            else f"{self.queue} changed by {source_after - self._moved['source_before']:+d}: "
            f"{moved} moved, {change:+d} published or consumed by others meanwhile"
        )
        short = self._moved["planned"] - moved
        shortfall = (
            f"; {short} fewer than planned: other consumers took them first" if short else ""
        )
        return f"moved {moved} to {dlq}, which grew by exactly {moved}; {source}{shortfall}"


def _count(ready: int, limit: int | None) -> int:
    return ready if limit is None else min(ready, limit)


def _move(ch, source: str, target: str, count: int) -> int:
    """Move up to `count` messages from the head of `source` to `target`; return how many.

    Fewer than `count` when the queue runs dry first (other consumers took some).
    """
    ch.confirm_delivery()
    moved = 0
    while moved < count:
        method, properties, body = ch.basic_get(source, auto_ack=False)
        if method is None:
            break
        try:
            # Default exchange straight to the queue: one copy, whatever the DLX's bindings.
            ch.basic_publish("", target, body, properties, mandatory=True)
        except (pika.exceptions.NackError, pika.exceptions.UnroutableError) as err:
            ch.basic_nack(method.delivery_tag, requeue=True)
            raise ActionFailed(
                MoveToDeadLetter.name,
                f"{target} refused a message after {moved} moved ({err.__class__.__name__}); "
                f"it stays in {source}",
            ) from err
        ch.basic_ack(method.delivery_tag)
        moved += 1
    return moved


# --- notebook-facing: each previews, and applies only when the run names it in `apply` -------


def purge_queue(rb, queue: str, *, confirmation: str | None = None) -> ActionReport:
    """Purge `queue`; applying needs `confirmation` to be the queue's name, typed."""
    return perform(rb, PurgeQueue(rb.rabbitmq, queue), confirmation=confirmation)


def move_to_dead_letter(rb, queue: str, *, limit: int | None = None) -> ActionReport:
    """Move `limit` ready messages of `queue` (all that are ready, by default) to its DLQ."""
    return perform(rb, MoveToDeadLetter(rb.rabbitmq, queue, limit=limit))
