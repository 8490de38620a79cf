"""The whole sandbox through its command line: up, status, already up, down, and faults."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
import requests

from hopngo_ops import sandbox
from hopngo_ops.errors import MissingBinary
from hopngo_ops.sandbox import procs
from hopngo_ops.sandbox.procs import pid_alive, port_open

CLI = [sys.executable, "-m", "hopngo_ops.cli", "sandbox"]
REQUIRED = (
    "scenario",
    "namespace",
    "prometheus_url",
    "kubeconfig",
    "kube_context",
    "postgres_dsn",
    "rabbitmq_management_url",
    "rabbitmq_amqp_url",
)


@pytest.fixture
def state_dir():
    # Reachable by the postgres user (pytest's own tmp root is 0700).
    root = Path(tempfile.mkdtemp(prefix="hopngo-manager-"))
    root.chmod(0o711)
    yield root / "sandbox"
    if (root / "sandbox").exists():
        sandbox.down(root / "sandbox")
    shutil.rmtree(root, ignore_errors=True)


def cli(*args: str, state_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args, "--state-dir", str(state_dir)], capture_output=True, text=True
    )


def ports_of(status: dict) -> set[int]:
    urls = [status[k] for k in status if k.endswith("_url")]
    ports = {urlparse(u).port for u in urls}
    ports.add(int(dict(p.split("=") for p in status["postgres_dsn"].split())["port"]))
    return ports


def test_up_status_answers_already_up_and_down_leaves_nothing(state_dir):
    up = cli("up", "--scenario", "service_down", state_dir=state_dir)
    assert up.returncode == 0, up.stderr
    status = json.loads(cli("status", "--json", state_dir=state_dir).stdout)
    assert set(REQUIRED) <= set(status)
    assert status["scenario"] == "service_down" and status["state"] == "up"
    assert all(urlparse(status[k]).hostname == "127.0.0.1" for k in status if k.endswith("_url"))
    pg_password = Path(status["postgres_passfile"]).read_text().strip().rsplit(":", 1)[1]
    rabbit_password = Path(status["rabbitmq_password_file"]).read_text().strip()
    assert pg_password not in json.dumps(status) and rabbit_password not in json.dumps(status)

    # Every endpoint answers.
    assert urllib.request.urlopen(f"{status['prometheus_url']}/-/ready").status == 200
    with psycopg.connect(status["postgres_dsn"], passfile=status["postgres_passfile"]) as conn:
        assert conn.execute("select current_database()").fetchone() == ("hopngo",)
    overview = requests.get(
        f"{status['rabbitmq_management_url']}/api/overview",
        auth=(status["rabbitmq_user"], rabbit_password),
        timeout=10,
    )
    assert overview.status_code == 200
    kubectl = subprocess.run(
        ["kubectl", "--kubeconfig", status["kubeconfig"], "get", "deploy", "-o", "name"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(state_dir)},
    )
    assert "deployment.apps/booking-service" in kubectl.stdout, kubectl.stderr

    again = cli("up", "--scenario", "healthy", state_dir=state_dir)
    assert again.returncode == 0 and "already up" in again.stdout
    assert (
        json.loads(cli("status", "--json", state_dir=state_dir).stdout)["procs"]
        == (status["procs"])
    )

    down = cli("down", state_dir=state_dir)
    assert down.returncode == 0
    assert not [p for p in status["procs"] if pid_alive(p["pid"])]
    assert not [port for port in ports_of(status) if port_open(port)]
    after = cli("status", "--json", state_dir=state_dir)
    assert after.returncode == 3 and json.loads(after.stdout)["state"] == "down"


def test_missing_binary_names_the_package_and_stops_the_others(state_dir, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(
        procs.shutil, "which", lambda name: None if name == "prometheus" else real_which(name)
    )
    with pytest.raises(MissingBinary, match="apt-get install -y prometheus"):
        sandbox.up("healthy", state_dir)
    status = sandbox.read_status(state_dir)
    assert status["state"] == "failed" and status["procs"] == []
    # The servers that did start (RabbitMQ and its epmd at least) were all stopped by pid.
    stopped = {p["name"]: p["pid"] for p in status["stopped"]}
    assert {"rabbitmq", "rabbitmq-epmd"} <= set(stopped)
    assert not [name for name, pid in stopped.items() if pid_alive(pid)]
