"""The queue_lag notebook run headlessly through papermill against the sandbox."""

from __future__ import annotations

import nbformat
import pytest

from hopngo_ops import Runbook
from hopngo_ops.rabbitmq.amqp import depth
from hopngo_ops.runner import run_notebook
from hopngo_ops.sandbox.amqp_setup import dead_letter_queue
from hopngo_ops.sandbox.scenarios import QUEUES


def _record(result) -> dict:
    assert result.ok, result.error
    return nbformat.read(result.path, as_version=4).metadata["hopngo"]


def _depths() -> dict[str, tuple[int, int]]:
    """Exact ready messages and consumers of every queue and dead-letter queue."""
    rmq = Runbook.open("queue_lag").rabbitmq
    with rmq.channel() as ch:
        return {
            q: (d.ready, d.consumers)
            for q in (*QUEUES, *map(dead_letter_queue, QUEUES))
            for d in [depth(ch, q)]
        }


@pytest.mark.scenario("queue_lag")
def test_finds_the_lagging_queue_and_without_apply_changes_nothing(sandbox, tmp_path):
    before = _depths()
    record = _record(run_notebook("queue_lag", {}, output_root=tmp_path))
    critical = [f for f in record["findings"] if f["severity"] == "critical"]
    assert [f["check"] for f in critical] == ["lagging_queues"]
    assert "booking.events: 1500 messages ready" in critical[0]["message"]
    assert "1 consumer(s)" in critical[0]["message"]
    slow = [f for f in record["findings"] if "processing took seconds" in f["message"]]
    assert slow and slow[0]["severity"] == "warning"
    assert {a["action"]: a["result"] for a in record["actions"]} == {
        "move_to_dead_letter": "previewed",
        "purge_queue": "previewed",
        "scale": "previewed",
    }
    assert _depths() == before


@pytest.mark.scenario("healthy")
def test_nothing_critical_when_healthy(sandbox, tmp_path):
    record = _record(run_notebook("queue_lag", {}, output_root=tmp_path))
    assert record["status"] == "ok"
    assert record["worst_severity"] != "critical", record["findings"]
