"""Records of runs against the sandbox never hold its passwords."""

from __future__ import annotations

from pathlib import Path

import pytest

from hopngo_ops.record import REDACTED, verify_incident
from hopngo_ops.runner import run_notebook


def _sandbox_passwords(status: dict) -> list[str]:
    secrets = Path(status["rabbitmq_password_file"]).parent
    values = [Path(status["rabbitmq_password_file"]).read_text().strip()]
    for pgpass in secrets.glob("*.pgpass"):
        values += [line.rsplit(":", 1)[1] for line in pgpass.read_text().splitlines() if line]
    return values


@pytest.mark.scenario("service_down")
def test_a_sandbox_password_given_as_a_parameter_is_never_recorded(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("HOPNGO_INCIDENTS_DIR", str(tmp_path))
    passwords = _sandbox_passwords(sandbox)
    result = run_notebook("service_down", {"alert": passwords[0]})
    assert result.error is None
    folder = result.path.parent
    everything = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert len(everything) > 10_000
    for password in passwords:
        assert password.encode() not in everything
    assert f'alert = "{REDACTED}"' in result.path.read_text().replace('\\"', '"')
    assert verify_incident(folder) == []
