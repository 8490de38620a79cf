"""The `hopngo-ops` command's answers to bad input: clear errors, and a record all the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

CLI = [sys.executable, "-m", "hopngo_ops.cli"]


def run_cli(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "HOPNGO_INCIDENTS_DIR": str(tmp_path / "incidents"),
        "HOPNGO_SANDBOX_DIR": str(tmp_path / "no-sandbox"),
        **env,
    }
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=environment)


def test_notebooks_lists_parameters_with_types_defaults_and_help(tmp_path):
    out = run_cli("notebooks", tmp_path=tmp_path)
    assert out.returncode == 0
    assert "service_down\n" in out.stdout
    assert '  service: str = "booking-service"  # the deployment and Prometheus job' in out.stdout
    assert "  restart_threshold: int = 3  #" in out.stdout


def test_unknown_notebook_lists_the_notebooks(tmp_path):
    out = run_cli("run", "nope", tmp_path=tmp_path)
    assert out.returncode == 2
    assert "no notebook 'nope'" in out.stderr
    assert "service_down" in out.stderr


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("colour", "red", "service_down has no parameter colour"),
        ("restart_threshold", "many", "parameter restart_threshold must be int"),
        ("restart_threshold", "true", "parameter restart_threshold must be int"),
    ],
)
def test_bad_parameters_fail_and_still_leave_a_record(tmp_path, parameter, value, message):
    out = run_cli("run", "service_down", "-p", parameter, value, tmp_path=tmp_path)
    assert out.returncode == 1
    assert message in out.stderr
    record = Path(out.stdout.strip().splitlines()[-1])
    assert record.is_file() and record.name == "01-service_down.ipynb"
    meta = nbformat.read(record, as_version=4).metadata["hopngo"]
    assert meta["status"] == "failed"
    assert message in meta["error"]
    assert meta["incident_id"] == record.parent.name


def test_parameters_file_and_overrides(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("restart_threshold: [1, 2]\n")
    out = run_cli("run", "service_down", "-f", str(params), tmp_path=tmp_path)
    assert out.returncode == 1
    assert "must be int" in out.stderr


def test_sandbox_unknown_scenario_lists_scenarios(tmp_path):
    out = run_cli("sandbox", "up", "--scenario", "meteor", tmp_path=tmp_path)
    assert out.returncode == 2
    assert "invalid choice: 'meteor'" in out.stderr
    assert "service_down" in out.stderr and "jvm_memory" in out.stderr


def test_status_when_no_sandbox_runs(tmp_path):
    out = run_cli("sandbox", "status", "--json", tmp_path=tmp_path)
    assert out.returncode == 3
    assert json.loads(out.stdout) == {"state": "down"}


def test_run_without_a_sandbox_tells_how_to_start_one(tmp_path):
    out = run_cli("run", "service_down", tmp_path=tmp_path)
    assert out.returncode == 1
    assert "sandbox up" in out.stderr
    meta = nbformat.read(out.stdout.strip().splitlines()[-1], as_version=4).metadata["hopngo"]
    assert meta["status"] == "failed" and "sandbox up" in meta["error"]
