"""Each runbook notebook, run headlessly against its scenario, finds what the scenario planted;
on a healthy platform none raises a critical finding. nbval runs every notebook as well."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest

from hopngo_ops.notebooks import list_notebooks
from hopngo_ops.runner import run_notebook

# notebook, scenario, service, findings that must be there: (check, severity, message pattern)
PLANTED = [
    (
        "service_down",
        "service_down",
        "booking-service",
        [
            ("target_up", "critical", r"booking-service is down: 0 of 3"),
            ("container_restarts", "critical", r"booking-service-\w+-\w+ \d+"),
            ("pod_status", "critical", r"CrashLoopBackOff"),
            ("log_patterns", "critical", r"connection pool exhausted"),
        ],
    ),
    (
        "high_latency",
        "high_latency",
        "market-service",
        [("latency_by_uri", "critical", r"/api/market/checkout")],
    ),
    (
        "high_error_rate",
        "high_error_rate",
        "auth-service",
        [
            ("errors_by_code_and_uri", "critical", r"/api/auth/login"),
            ("log_patterns", "warning", r"Timeout"),
        ],
    ),
    (
        "jvm_memory",
        "jvm_memory",
        "market-service",
        [
            ("heap_utilisation", "critical", r"market-service"),
            ("pod_status", "critical", r"OOMKilled"),
            ("log_patterns", "critical", r"OutOfMemory"),
        ],
    ),
]


def record_of(result) -> dict:
    assert result.error is None, result.error
    return nbformat.read(result.path, as_version=4).metadata["hopngo"]


def run_case(notebook: str, scenario: str, service: str, expected: list, tmp_path):
    meta = record_of(run_notebook(notebook, {"service": service}, output_root=tmp_path))
    assert meta["status"] == "ok"
    assert meta["parameters"]["service"] == service
    for check, severity, pattern in expected:
        matching = [
            f
            for f in meta["findings"]
            if f["check"] == check
            and f["severity"] == severity
            and re.search(pattern, f["message"])
        ]
        assert matching, f"{notebook} on {scenario}: no {severity} {check} ~ {pattern!r}"


@pytest.mark.parametrize(
    ("notebook", "scenario", "service", "expected"),
    [pytest.param(*case, marks=pytest.mark.scenario(case[1]), id=case[0]) for case in PLANTED],
)
def test_notebook_finds_what_the_scenario_planted(
    sandbox, tmp_path, notebook, scenario, service, expected
):
    assert sandbox["scenario"] == scenario
    run_case(notebook, scenario, service, expected, tmp_path)


@pytest.mark.scenario("healthy")
@pytest.mark.parametrize(("notebook", "service"), [(case[0], case[2]) for case in PLANTED])
def test_no_false_alarm_on_a_healthy_platform(sandbox, tmp_path, notebook, service):
    meta = record_of(run_notebook(notebook, {"service": service}, output_root=tmp_path))
    critical = [f for f in meta["findings"] if f["severity"] == "critical"]
    assert meta["status"] == "ok"
    assert not critical, critical
    assert meta["findings"], "a healthy run still reports what it checked"


@pytest.mark.scenario("healthy")
def test_every_notebook_passes_nbval(sandbox, tmp_path, monkeypatch):
    # post_incident reports on the latest incident: give it one.
    monkeypatch.setenv("HOPNGO_INCIDENTS_DIR", str(tmp_path / "incidents"))
    assert run_notebook("service_down", output_root=tmp_path / "incidents").ok
    notebooks = [str(path) for path in list_notebooks().values()]
    # nbval makes each code cell a test item.
    cells = sum(
        c.cell_type == "code" for p in notebooks for c in nbformat.read(p, as_version=4).cells
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            *notebooks,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert f"{cells} passed" in out.stdout, out.stdout[-3000:]


@pytest.mark.scenario("service_down")
def test_a_failing_cell_leaves_a_failed_record_naming_it(sandbox, tmp_path):
    result = run_notebook("service_down", {"window": "forever"}, output_root=tmp_path)
    assert result.status == "failed"
    assert "InvalidName" in result.error and "window" in result.error
    meta = nbformat.read(result.path, as_version=4).metadata["hopngo"]
    assert meta["status"] == "failed" and "invalid window" in meta["error"]
