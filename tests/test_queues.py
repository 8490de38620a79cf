"""Queue lag against the sandbox's real RabbitMQ: reads, checks, and the queue actions.

Tests that change the broker come last, on a fresh `queue_lag` sandbox, in the order they run.
"""

from __future__ import annotations

import json
import threading
import time

import pika
import pytest

from hopngo_ops import Runbook
from hopngo_ops.actions import move_to_dead_letter, purge_queue
from hopngo_ops.actions.rabbitmq import PurgeQueue
from hopngo_ops.checks import queues
from hopngo_ops.errors import InvalidName
from hopngo_ops.rabbitmq.management import vhost_name
from hopngo_ops.record.protocol import HEADLESS_ENV
from hopngo_ops.record.timeline import read_events
from hopngo_ops.sandbox.amqp_setup import connection_parameters
from hopngo_ops.sandbox.scenarios import get_scenario

LAGGING = "booking.events"
DLQ = "booking.events.dlq"
BACKLOG = get_scenario("queue_lag").queue_backlog[LAGGING]


@pytest.fixture(autouse=True)
def headless_records(tmp_path, monkeypatch):
    monkeypatch.setenv("HOPNGO_INCIDENTS_DIR", str(tmp_path / "incidents"))
    monkeypatch.setenv(HEADLESS_ENV, "1")


def _runbook(*, apply=()) -> Runbook:
    return Runbook.open("queue_lag", service="consumer-service", apply=list(apply))


def _depths(rb: Runbook) -> tuple[int, int]:
    return rb.rabbitmq.depth(LAGGING).ready, rb.rabbitmq.depth(DLQ).ready


@pytest.mark.parametrize("bad", ["", "../api/users", "q name", "q/../x", 7])
def test_queue_names_are_refused_before_any_call(bad):
    with pytest.raises(InvalidName):
        PurgeQueue(rmq=None, queue=bad)


def test_vhost_names_are_validated():
    assert vhost_name("/") == "/"
    with pytest.raises(InvalidName):
        vhost_name("/%2e%2e")


# --- queue_lag: reads and previews (nothing changes) ---------------------------------------


@pytest.fixture
def management_sampled(sandbox):
    """Wait (bounded) until the management API's statistics show the fresh sandbox's backlog
    and consumers: they lag the broker by a few seconds."""
    rmq = _runbook().rabbitmq
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stats = rmq.management.queue(rmq.vhost, LAGGING)
        if stats.get("messages_ready") == BACKLOG and rmq.management.consumers(rmq.vhost):
            return
        time.sleep(0.5)
    pytest.fail("the management API did not show the backlog within 20 s")


@pytest.mark.scenario("queue_lag")
def test_lagging_queue_found_with_its_consumer_count(sandbox):
    step = queues.lagging_queues(_runbook())
    critical = [f for f in step.findings if f.severity == "critical"]
    assert [f.evidence for f in critical] == [{"queue": LAGGING, "ready": BACKLOG, "consumers": 1}]
    row = step.table.set_index("queue").loc[LAGGING]
    assert row["lagging_since"] < row["lagging_since"] + row["lagging_for"]
    assert DLQ not in set(step.table["queue"])  # dead-letter queues are not graded


@pytest.mark.scenario("queue_lag")
def test_overview_puts_both_sources_side_by_side(management_sampled):
    step = queues.queue_overview(_runbook())
    table = step.table.set_index("queue")
    assert table.loc[LAGGING, "ready (management)"] == BACKLOG
    assert table.loc[LAGGING, "consumers (prometheus)"] == 1
    assert table.loc[LAGGING, "consumers (management)"] == 1
    assert "disagree on" in table.columns


@pytest.mark.scenario("queue_lag")
def test_stuck_consumer_shows_low_utilisation(management_sampled):
    step = queues.consumers(_runbook())
    assert [f.evidence["queue"] for f in step.findings if f.severity == "warning"] == [LAGGING]
    assert step.table.loc[step.table["queue"] == LAGGING, "prefetch"].tolist() == [1]


@pytest.mark.scenario("queue_lag")
def test_previews_change_nothing(sandbox):
    rb = _runbook()
    before = _depths(rb)
    moved = move_to_dead_letter(rb, LAGGING, limit=10)
    purged = purge_queue(rb, LAGGING, confirmation=LAGGING)
    assert (moved.result, purged.result) == ("previewed", "previewed")
    assert moved.preview.summary.startswith(f"would move 10 of {BACKLOG} ready message(s)")
    assert purged.preview.before["ready"] == BACKLOG
    assert _depths(rb) == before == (BACKLOG, 0)


@pytest.mark.scenario("queue_lag")
def test_purge_without_the_queue_name_typed_changes_nothing(sandbox):
    rb = _runbook(apply=["purge_queue"])
    for typed in (None, "", "booking", "BOOKING.EVENTS"):
        report = purge_queue(rb, LAGGING, confirmation=typed)
        assert report.result == "refused", report
    assert _depths(rb) == (BACKLOG, 0)
    events = read_events(rb.incident_folder())
    assert [e["result"] for e in events] == ["refused"] * 4
    assert {e["action"] for e in events} == {"purge_queue"}


# --- queue_lag: the actions applied, on a fresh sandbox --------------------------------------


@pytest.fixture(scope="module")
def changes_the_broker(sandbox_pool):
    """The tests below change the broker: later modules get a fresh sandbox."""
    yield
    sandbox_pool.stop()


def _publisher(sandbox: dict, count: int, published: list[int]) -> threading.Thread:
    """A thread publishing `count` confirmed messages to the lagging queue over loopback."""
    params = connection_parameters(
        sandbox["rabbitmq_amqp_url"], sandbox["rabbitmq_password_file"], name="test-publisher"
    )

    def publish():
        with pika.BlockingConnection(params) as connection:
            channel = connection.channel()
            channel.confirm_delivery()
            for n in range(count):
                channel.basic_publish("", LAGGING, json.dumps({"n": n}).encode())
                published.append(n)
                time.sleep(0.002)

    return threading.Thread(target=publish, daemon=True)


@pytest.mark.scenario("queue_lag")
@pytest.mark.mutates
def test_moving_n_leaves_exactly_n_in_the_dead_letter_queue(sandbox_pool, changes_the_broker):
    sandbox_pool.get("queue_lag", fresh=True)
    rb = _runbook(apply=["move_to_dead_letter"])
    report = move_to_dead_letter(rb, LAGGING, limit=200)
    assert report.result == "applied", report
    assert _depths(rb) == (BACKLOG - 200, 200)
    [event] = read_events(rb.incident_folder())
    assert (event["action"], event["result"], event["after"]["moved"]) == (
        "move_to_dead_letter",
        "applied",
        200,
    )
    assert "grew by exactly 200" in event["message"]
    # The head of the queue moved, unchanged and once each (the stuck consumer holds message 1).
    with rb.rabbitmq.channel() as ch:
        moved = [ch.basic_get(DLQ, auto_ack=False) for _ in range(200)]
    ids = [props.message_id for _, props, _ in moved]
    assert ids == [f"{LAGGING}-{n:06d}" for n in range(2, 202)]
    assert all(json.loads(body)["message_id"] == p.message_id for _, p, body in moved)
    assert {(p.content_type, p.delivery_mode) for _, p, _ in moved} == {("application/json", 2)}
    assert _depths(rb) == (BACKLOG - 200, 200)  # read without ack: back in the DLQ


@pytest.mark.scenario("queue_lag")
@pytest.mark.mutates
def test_moving_n_while_a_publisher_publishes_moves_exactly_n(sandbox, changes_the_broker):
    rb = _runbook(apply=["move_to_dead_letter"])
    source_before, dlq_before = _depths(rb)
    published: list[int] = []
    publisher = _publisher(sandbox, 600, published)
    publisher.start()
    deadline = time.monotonic() + 30
    while len(published) < 50:
        assert publisher.is_alive() and time.monotonic() < deadline, "the publisher stalled"
        time.sleep(0.01)
    report = move_to_dead_letter(rb, LAGGING, limit=300)
    still_publishing = len(published) < 600
    publisher.join(timeout=60)
    assert not publisher.is_alive()
    assert still_publishing, "the publisher finished before the move: no concurrency tested"
    assert report.result == "applied", report
    assert _depths(rb) == (source_before - 300 + 600, dlq_before + 300)


@pytest.mark.scenario("queue_lag")
@pytest.mark.mutates
def test_moving_everything_empties_the_source(sandbox, changes_the_broker):
    rb = _runbook(apply=["move_to_dead_letter"])
    source_before, dlq_before = _depths(rb)
    report = move_to_dead_letter(rb, LAGGING)
    assert report.result == "applied", report
    assert _depths(rb) == (0, dlq_before + source_before)
    # The stuck consumer still holds its one unacknowledged message: it is not ready, not moved.
    assert rb.rabbitmq.depth(LAGGING).consumers == 1


@pytest.mark.scenario("queue_lag")
@pytest.mark.mutates
def test_purge_with_the_queue_name_typed_empties_it(sandbox, changes_the_broker):
    published: list[int] = []
    publisher = _publisher(sandbox, 40, published)
    publisher.start()
    publisher.join(timeout=30)
    rb = _runbook(apply=["purge_queue"])
    dlq_before = _depths(rb)[1]
    report = purge_queue(rb, LAGGING, confirmation=LAGGING)
    assert report.result == "applied", report
    assert report.preview.before["ready"] == 40
    assert _depths(rb) == (0, dlq_before)
    [event] = read_events(rb.incident_folder())
    assert (event["result"], event["after"]) == ("applied", {"purged": 40})
