"""The sandbox's RabbitMQ, seen through pika, the management API and the prometheus plugin."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from urllib.parse import urlsplit

import pika
import pytest
import requests

from hopngo_ops.errors import MissingBinary
from hopngo_ops.sandbox import amqp_setup, rabbitmq
from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.procs import pid_alive, port_open, stop_pid
from hopngo_ops.sandbox.scenarios import get_scenario

SCENARIO = "queue_lag"
LAGGING = "booking.events"
BACKLOG = get_scenario(SCENARIO).queue_backlog[LAGGING]


def _with_descendants(pids: list[int]) -> set[int]:
    """`pids` and their children's children (rabbitmq-server's script runs the Erlang VM)."""
    parents = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        parents[int(stat_file.parent.name)] = int(fields[1])
    found = set(pids)
    while grown := {pid for pid, ppid in parents.items() if ppid in found} - found:
        found |= grown
    return found


def _listening_ports(pids: list[int]) -> set[int]:
    """The TCP ports these processes (and their descendants) listen on, read from /proc."""
    inodes = set()
    for pid in _with_descendants(pids):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory):
    """(ctx, fields) of one node for the module, stopped by pid afterwards, ports checked."""
    ctx = SandboxContext(
        state_dir=tmp_path_factory.mktemp("rabbitmq"),
        scenario=get_scenario(SCENARIO),
        started_at=time.time(),
    )
    try:
        fields = rabbitmq.start(ctx)
        ports = _listening_ports([p.pid for p in ctx.procs])
        yield ctx, fields
    finally:
        for proc in reversed(ctx.procs):
            stop_pid(proc.pid, proc.stop_signal)
    assert not [p.name for p in ctx.procs if pid_alive(p.pid)]
    assert "rabbitmq-epmd" in [p.name for p in ctx.procs]
    assert len(ports) == 5 and not [p for p in ports if port_open(p)]


def _password(fields: dict) -> str:
    return Path(fields["rabbitmq_password_file"]).read_text()


def _api(fields: dict, path: str):
    response = requests.get(
        fields["rabbitmq_management_url"] + path,
        auth=(fields["rabbitmq_user"], _password(fields)),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def _poll(read, check, timeout: float = 20.0):
    """read() until check(value); the management API's statistics lag a few seconds."""
    deadline = time.monotonic() + timeout
    while not check(value := read()):
        assert time.monotonic() < deadline, f"last seen: {value!r}"
        time.sleep(0.25)
    return value


@pytest.fixture
def channel(broker):
    _, fields = broker
    params = amqp_setup.connection_parameters(
        fields["rabbitmq_amqp_url"], Path(fields["rabbitmq_password_file"]), name="tests"
    )
    with pika.BlockingConnection(params) as connection:
        yield connection.channel()


def test_returns_urls_without_passwords(broker):
    _, fields = broker
    assert set(fields) == {
        "rabbitmq_management_url",
        "rabbitmq_amqp_url",
        "rabbitmq_user",
        "rabbitmq_password_file",
        "rabbitmq_node",
        "rabbitmq_prometheus_url",
    }
    password = _password(fields)
    for key in ("rabbitmq_management_url", "rabbitmq_amqp_url", "rabbitmq_prometheus_url"):
        assert urlsplit(fields[key]).password is None and password not in fields[key]
        assert urlsplit(fields[key]).hostname == "127.0.0.1"
    mode = Path(fields["rabbitmq_password_file"]).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert fields["rabbitmq_node"].startswith("hopngo-") and fields["rabbitmq_node"].endswith(
        "@localhost"
    )
    assert _api(fields, "/api/whoami")["tags"] == ["administrator"]


def test_backlog_and_stuck_consumer_via_amqp(channel):
    lagging = channel.queue_declare(LAGGING, passive=True).method
    assert (lagging.message_count, lagging.consumer_count) == (BACKLOG, 1)


def test_healthy_queues_have_two_consumers_and_nothing_waiting(channel):
    for queue in ("market.orders", "notifications"):
        state = channel.queue_declare(queue, passive=True).method
        assert (state.message_count, state.consumer_count) == (0, rabbitmq.HEALTHY_CONSUMERS)


def test_backlog_via_management_api(broker):
    _, fields = broker
    queue = _poll(
        lambda: _api(fields, "/api/queues/%2F/booking.events"),
        lambda q: q.get("messages_ready") == BACKLOG,
    )
    assert queue["consumers"] == 1
    assert queue["messages_unacknowledged"] == 1
    assert queue["durable"]
    consumer = queue["consumer_details"][0]
    assert consumer["prefetch_count"] == 1 and consumer["ack_required"]


def test_queues_dead_letter_into_their_dlq(broker, channel):
    _, fields = broker
    for queue in ("booking.events", "market.orders", "notifications"):
        dlq = f"{queue}.dlq"
        arguments = _api(fields, f"/api/queues/%2F/{queue}")["arguments"]
        assert arguments == {
            "x-dead-letter-exchange": amqp_setup.DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": dlq,
        }
        assert _api(fields, f"/api/queues/%2F/{dlq}")["durable"]
        assert channel.queue_declare(dlq, passive=True).method.message_count == 0
    bindings = _api(fields, f"/api/exchanges/%2F/{amqp_setup.DEAD_LETTER_EXCHANGE}/bindings/source")
    assert {(b["destination"], b["routing_key"]) for b in bindings} == {
        (f"{q}.dlq", f"{q}.dlq") for q in ("booking.events", "market.orders", "notifications")
    }


def test_messages_are_deterministic_and_persistent(broker):
    _, fields = broker
    response = requests.post(
        fields["rabbitmq_management_url"] + "/api/queues/%2F/booking.events/get",
        json={"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"},
        auth=(fields["rabbitmq_user"], _password(fields)),
        timeout=10,
    )
    response.raise_for_status()
    (message,) = response.json()
    # The first message is held by the stuck consumer; the backlog starts at the second.
    assert message["properties"]["message_id"] == "booking.events-000002"
    assert message["properties"]["delivery_mode"] == 2
    assert '"message_id": "booking.events-000002"' in message["payload"]


def test_prometheus_per_object_metrics_show_the_queue(broker):
    _, fields = broker
    line = f'rabbitmq_queue_messages_ready{{vhost="/",queue="{LAGGING}"}} {BACKLOG}'
    _poll(
        lambda: requests.get(
            fields["rabbitmq_prometheus_url"] + "/metrics/per-object", timeout=10
        ).text.splitlines(),
        lambda lines: line in lines,
    )


def test_missing_binary_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(rabbitmq, "BIN_DIRS", (str(tmp_path),))
    monkeypatch.setenv("PATH", str(tmp_path))
    ctx = SandboxContext(tmp_path, get_scenario(SCENARIO), time.time())
    with pytest.raises(MissingBinary) as err:
        rabbitmq.start(ctx)
    assert err.value.package == "rabbitmq-server"
    assert ctx.procs == []
