"""The sandbox's RabbitMQ: a private node with the management and prometheus plugins.

Everything the node writes stays in the state dir (HOME with its Erlang cookie, mnesia, logs),
every port is its own on 127.0.0.1, and so is its epmd: we start that epmd ourselves, before the
node, so we know its pid and it stops after the node. The scenario's queues, backlog and
consumers are set up over AMQP and the management API (no rabbitmqctl: each call boots an Erlang
VM, about a second).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pika
import requests

from hopngo_ops.sandbox import amqp_setup
from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.drivers import start_driver
from hopngo_ops.sandbox.procs import Proc, free_port, port_open, require_binary, spawn, wait_until
from hopngo_ops.sandbox.scenarios import QUEUES, Scenario
from hopngo_ops.sandbox.secret_files import new_password, write_secret

COMPONENT = "rabbitmq"
PACKAGE = "rabbitmq-server"
# The /usr/sbin wrapper switches user and logs to /var/log: run the script behind it.
BIN_DIRS = ("/usr/lib/rabbitmq/bin",)
HOST = "127.0.0.1"
USER = "hopngo-ops"
PLUGINS = ("rabbitmq_management", "rabbitmq_prometheus")
# The management API's statistics refresh this often (default 5000): notebooks lag less.
STATS_INTERVAL_MS = 1000
# Healthy queues have this many consumers, acking at once.
HEALTHY_CONSUMERS = 2
START_TIMEOUT = 60
SETTLE_TIMEOUT = 30


def start(ctx: SandboxContext) -> dict:
    server = require_binary("rabbitmq-server", PACKAGE, search=BIN_DIRS)
    epmd = require_binary("epmd", PACKAGE)
    home = ctx.dir("rabbitmq")
    ports = {name: free_port() for name in ("amqp", "dist", "epmd", "management", "prometheus")}
    node = f"hopngo-{secrets.token_hex(3)}@localhost"
    env = _node_env(home, node, ports)
    management_url = f"http://{HOST}:{ports['management']}"

    epmd_log = home / "log" / "epmd.log"
    epmd_pid = spawn([epmd, "-port", str(ports["epmd"]), "-address", HOST], log=epmd_log)
    ctx.track(Proc("rabbitmq-epmd", epmd_pid, log=str(epmd_log)))
    # The node registers with our epmd as it boots (it starts none of its own).
    wait_until(
        lambda: port_open(ports["epmd"]),
        component=COMPONENT,
        what="epmd listening",
        timeout=START_TIMEOUT,
        log=epmd_log,
        pid=epmd_pid,
    )
    log = home / "log" / "server.log"
    # The script traps SIGTERM and stops the node gracefully (rabbit's own SIGTERM handler).
    pid = spawn([server], log=log, env=env, cwd=home)
    ctx.track(Proc(COMPONENT, pid, log=str(log)))

    amqp_url = f"amqp://{USER}@{HOST}:{ports['amqp']}/%2F"
    password = new_password()
    password_file = write_secret(ctx, f"rabbitmq-{USER}.password", password)
    consumers_log = home / "log" / "consumers.log"
    consumers_pid = _start_consumers(ctx, amqp_url, password_file, consumers_log)
    # The node starts its plugins (management) before its AMQP listener: wait for both.
    wait_until(
        lambda: _management_answers(management_url) and port_open(ports["amqp"]),
        component=COMPONENT,
        what="answering on its management API and AMQP port",
        timeout=START_TIMEOUT,
        log=log,
        pid=pid,
    )
    _create_user(management_url, password)
    _plant_scenario(ctx, amqp_url, password_file, consumers_pid, consumers_log)
    return {
        "rabbitmq_management_url": management_url,
        "rabbitmq_amqp_url": amqp_url,
        "rabbitmq_user": USER,
        "rabbitmq_password_file": str(password_file),
        "rabbitmq_node": node,
        "rabbitmq_prometheus_url": f"http://{HOST}:{ports['prometheus']}",
    }


def _node_env(home: Path, node: str, ports: dict[str, int]) -> dict[str, str]:
    """The node's environment: every path under `home`, every port ours, nothing from /etc."""
    config = home / "rabbitmq.conf"
    config.write_text(
        f"listeners.tcp.default = {HOST}:{ports['amqp']}\n"
        f"management.tcp.ip = {HOST}\n"
        f"management.tcp.port = {ports['management']}\n"
        f"prometheus.tcp.ip = {HOST}\n"
        f"prometheus.tcp.port = {ports['prometheus']}\n"
        f"collect_statistics_interval = {STATS_INTERVAL_MS}\n"
        "log.console = false\n"
    )
    plugins = home / "enabled_plugins"
    plugins.write_text(f"[{','.join(PLUGINS)}].\n")
    conf_env = home / "rabbitmq-env.conf"
    conf_env.write_text("")
    erl_args = "-kernel inet_dist_use_interface {127,0,0,1}"
    return {
        "HOME": str(_mkdir(home / "home")),
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(ports["amqp"]),
        "RABBITMQ_DIST_PORT": str(ports["dist"]),
        "RABBITMQ_CONFIG_FILE": str(config),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(home / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
        "RABBITMQ_CONF_ENV_FILE": str(conf_env),
        "RABBITMQ_MNESIA_BASE": str(_mkdir(home / "mnesia")),
        "RABBITMQ_LOG_BASE": str(_mkdir(home / "log")),
        "ERL_EPMD_ADDRESS": HOST,
        "ERL_EPMD_PORT": str(ports["epmd"]),
        # The node must not start an epmd of its own: ours already serves its port.
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": f"{erl_args} -start_epmd false",
        "RABBITMQ_CTL_ERL_ARGS": erl_args,
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _management_answers(url: str) -> bool:
    # guest may log in from loopback only, which is where we are.
    try:
        return requests.get(f"{url}/api/overview", auth=("guest", "guest"), timeout=2).ok
    except requests.RequestException:
        # Refused, or accepted but too slow while the node boots: not ready yet.
        return False


def _create_user(management_url: str, password: str) -> None:
    guest = ("guest", "guest")
    user = requests.utils.quote(USER, safe="")
    response = requests.put(
        f"{management_url}/api/users/{user}",
        json={"password": password, "tags": "administrator"},
        auth=guest,
        timeout=10,
    )
    response.raise_for_status()
    response = requests.put(
        f"{management_url}/api/permissions/%2F/{user}",
        json={"configure": ".*", "write": ".*", "read": ".*"},
        auth=guest,
        timeout=10,
    )
    response.raise_for_status()


def _start_consumers(
    ctx: SandboxContext, amqp_url: str, password_file: Path, log: Path
) -> int | None:
    """Start the consumer driver now: it connects once the node is up and our user exists, and
    its interpreter's start-up overlaps the node's boot."""
    consumers = _consumers(ctx.scenario)
    if not consumers:
        return None
    return start_driver(
        ctx,
        "rabbitmq-consumers",
        "hopngo_ops.sandbox.amqp_consumers",
        ["--url", amqp_url, "--password-file", str(password_file), *consumers],
        log,
    )


def _plant_scenario(
    ctx: SandboxContext,
    amqp_url: str,
    password_file: Path,
    consumers_pid: int | None,
    consumers_log: Path,
) -> None:
    """Declare the queues, publish; return once the queues hold the backlog and consumers."""
    scenario = ctx.scenario
    params = amqp_setup.connection_parameters(amqp_url, password_file, name="hopngo-sandbox")
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        amqp_setup.declare_queues(channel)
        for queue, count in amqp_setup.messages_to_publish(scenario).items():
            amqp_setup.publish(
                channel, queue, count, since=ctx.incident_start, until=ctx.started_at
            )
        wait_until(
            lambda: _settled(channel, scenario),
            component=COMPONENT,
            what="holding the scenario's backlog and consumers",
            timeout=SETTLE_TIMEOUT,
            log=consumers_log,
            pid=consumers_pid,
        )


def _consumers(scenario: Scenario) -> list[str]:
    """The consumer driver's options: stuck consumers where the scenario says, healthy elsewhere."""
    options = []
    for queue in QUEUES:
        if queue not in scenario.queue_consumers:
            options += ["--healthy", f"{queue}={HEALTHY_CONSUMERS}"]
        elif scenario.queue_consumers[queue]:
            options += ["--stuck", f"{queue}={scenario.queue_consumers[queue]}"]
    return options


def _settled(channel, scenario: Scenario) -> bool:
    for queue in QUEUES:
        expected_consumers = scenario.queue_consumers.get(queue, HEALTHY_CONSUMERS)
        state = channel.queue_declare(queue, passive=True).method
        ready = scenario.queue_backlog.get(queue, 0)
        if (state.message_count, state.consumer_count) != (ready, expected_consumers):
            return False
    return True
