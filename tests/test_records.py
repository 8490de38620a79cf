"""Incident records: ids, manifests, tamper detection, secrets, failed runs (no sandbox needed).

The notebooks here are tiny ones written into a temporary HOPNGO_NOTEBOOKS_DIR; their profile
is one in a temporary HOPNGO_PROFILES_DIR, so no sandbox has to run.
"""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from hopngo_ops.cli import main
from hopngo_ops.record import (
    REDACTED,
    Redactor,
    allocate_incident,
    incident_dir,
    read_manifest,
    verify_incident,
)
from hopngo_ops.runner import run_notebook

PROFILE_SECRET = "pr0file-Secret-from-env-7f3a"
PARAMETER_SECRET = "param-Token-9b2c-e81d"
PARAMETERS = (
    'profile: str = "records"  # targets profile\n'
    'incident_id: str = ""  # the incident\n'
    'api_token: str = ""  # a secret the run is given'
)
# The notebook's last cells display what a Runbook summary displays: the run's record.
SUMMARY = (
    "from IPython.display import display\n"
    "display({'text/plain': 'summary', 'application/vnd.hopngo.record+json': {"
    "'status': 'ok', 'worst_severity': 'warning', 'actions': [], 'findings': "
    "[{'check': 'probe', 'severity': 'warning', 'message': 'something to look at'}]}}, raw=True)"
)
NOTEBOOKS = {
    "healthy": ["print('all good')", SUMMARY],
    "dies": ["print('about to die')", "import os\nos.kill(os.getpid(), 9)", SUMMARY],
    "raises": ["raise RuntimeError('the check broke')", SUMMARY],
    # Everything a careless notebook could do with a secret it can reach.
    "leaky": [
        "import os\n"
        "from hopngo_ops.record.timeline import append_event\n"
        "from hopngo_ops.record import incident_dir, records_root\n"
        "secret = os.environ['RECORDS_TEST_PG']",
        "print('env secret:', secret, 'parameter:', api_token)",
        "print(f'postgres://ops:{secret}@db:5432/hopngo')",
        "display({'text/html': f'<b>{secret}</b> {api_token}', 'text/plain': secret}, raw=True)",
        "append_event(incident_dir(records_root(), incident_id), "
        "{'type': 'note', 'text': f'used {secret} and {api_token}'})",
        SUMMARY,
        "raise ValueError(f'failed with {secret} and {api_token}')",
    ],
}


def _notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Test notebook"),
            new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
            *(new_code_cell(source) for source in cells),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A records root, the test notebooks, and a profile referencing an env var's secret."""
    notebooks, profiles, root = tmp_path / "notebooks", tmp_path / "profiles", tmp_path / "inc"
    notebooks.mkdir()
    profiles.mkdir()
    for name, cells in NOTEBOOKS.items():
        nbformat.write(_notebook(cells), notebooks / f"{name}.ipynb")
    (profiles / "records.yaml").write_text(
        "prometheus_url: http://127.0.0.1:9\npostgres_dsn: host=db dbname=hopngo user=ops\n"
        "postgres_password_env: RECORDS_TEST_PG\n"
    )
    monkeypatch.setenv("HOPNGO_NOTEBOOKS_DIR", str(notebooks))
    monkeypatch.setenv("HOPNGO_PROFILES_DIR", str(profiles))
    monkeypatch.setenv("HOPNGO_INCIDENTS_DIR", str(root))
    # Named so that only the profile's reference says it is a secret.
    monkeypatch.setenv("RECORDS_TEST_PG", PROFILE_SECRET)
    return root


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_twenty_concurrent_allocations_get_twenty_ids(tmp_path: Path):
    now = datetime(2024, 1, 12, 9, 30, tzinfo=UTC)
    start = threading.Barrier(20)

    def allocate(_):
        start.wait()
        return allocate_incident(tmp_path, now)

    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(allocate, range(20)))
    assert sorted(ids) == [f"INC-2024-0112-{n:03d}" for n in range(1, 21)]
    assert all(incident_dir(tmp_path, i).is_dir() for i in ids)


def test_record_layout_and_manifest(records: Path):
    result = run_notebook("healthy")
    assert (result.status, result.error) == ("ok", None)
    folder = result.path.parent
    assert folder == incident_dir(records, result.incident_id)
    assert sorted(p.name for p in folder.iterdir()) == [
        "01-healthy.html",
        "01-healthy.ipynb",
        "manifest.json",
    ]
    manifest = read_manifest(folder)
    assert manifest["incident_id"] == result.incident_id
    assert manifest["status"] == "ok"
    assert manifest["profiles"] == ["records"]
    assert manifest["hopngo_ops_version"] == "0.1.0"
    assert manifest["worst_severity"] == "warning"
    assert manifest["findings"][0]["check"] == "probe"
    assert set(manifest["files"]) == {"01-healthy.html", "01-healthy.ipynb"}
    assert manifest["runs"][0]["parameters"]["incident_id"] == result.incident_id
    assert "<html" in (folder / "01-healthy.html").read_text()
    assert verify_incident(folder) == []


def test_concurrent_runs_of_one_incident_keep_every_entry(records: Path):
    incident = allocate_incident(records)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: run_notebook("healthy", incident_id=incident), range(3)))
    folder = results[0].path.parent
    manifest = read_manifest(folder)
    assert [r["record"] for r in manifest["runs"]] == [f"0{n}-healthy.ipynb" for n in (1, 2, 3)]
    assert all(r["status"] == "ok" for r in manifest["runs"])
    assert verify_incident(folder) == []


@pytest.fixture
def intact(records: Path, tmp_path: Path) -> tuple[str, Path]:
    result = run_notebook("healthy")
    return result.incident_id, result.path.parent


@pytest.mark.parametrize(
    "tamper, expected",
    [
        (lambda f: _flip_a_byte(f / "01-healthy.ipynb"), "changed: 01-healthy.ipynb"),
        (lambda f: (f / "01-healthy.html").unlink(), "missing: 01-healthy.html"),
        (lambda f: (f / "notes.txt").write_text("added later"), "added: notes.txt"),
    ],
    ids=["changed", "missing", "added"],
)
def test_verify_names_the_tampered_file(intact, tamper, expected, capsys):
    incident, folder = intact
    assert main(["incidents", "verify", incident]) == 0
    tamper(folder)
    assert [str(d) for d in verify_incident(folder)] == [expected]
    assert main(["incidents", "verify", incident]) == 1
    assert f"{incident}: {expected}" in capsys.readouterr().out


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_incidents_list_and_show(intact, capsys):
    incident, _ = intact
    assert main(["incidents", "list"]) == 0
    listed = capsys.readouterr().out
    assert incident in listed and "healthy" in listed and "warning: probe" in listed
    assert main(["incidents", "show", incident]) == 0
    assert "01-healthy.ipynb" in capsys.readouterr().out
    assert main(["incidents", "show", incident, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["incident_id"] == incident
    assert main(["incidents", "verify", "INC-2024-0101-999"]) == 2


def test_a_dead_kernel_leaves_a_failed_record(records: Path):
    result = run_notebook("dies")
    assert result.status == "failed"
    # Cell 4 of the executed notebook: papermill inserts the injected parameters as cell 2.
    assert "the kernel died in cell 4 ('import os')" in result.error
    meta = nbformat.read(result.path, as_version=4).metadata["hopngo"]
    assert (meta["status"], meta["error"]) == ("failed", result.error)
    manifest = read_manifest(result.path.parent)
    assert manifest["status"] == "failed"
    assert manifest["runs"][0]["error"] == result.error
    assert result.path.with_suffix(".html").exists()
    assert verify_incident(result.path.parent) == []


def test_a_failing_cell_fails_the_incident_status(records: Path):
    first = run_notebook("healthy")
    second = run_notebook("raises", incident_id=first.incident_id)
    assert second.status == "failed"
    assert "RuntimeError: the check broke" in second.error
    manifest = read_manifest(first.path.parent)
    assert [r["status"] for r in manifest["runs"]] == ["ok", "failed"]
    assert manifest["status"] == "failed"


def test_no_secret_reaches_any_record_file(records: Path):
    result = run_notebook("leaky", {"api_token": PARAMETER_SECRET})
    assert result.status == "failed"
    folder = result.path.parent
    assert (folder / "timeline.jsonl").exists()
    everything = _all_bytes(folder)
    for secret in (PROFILE_SECRET, PARAMETER_SECRET):
        assert secret.encode() not in everything
    assert REDACTED.encode() in (folder / "timeline.jsonl").read_bytes()
    assert "postgres://ops:***REDACTED***@db" in result.path.read_text()
    assert PROFILE_SECRET not in (result.error or "")
    assert verify_incident(folder) == []


def test_bad_parameters_still_leave_a_record_without_the_secret(records: Path):
    result = run_notebook("healthy", {"api_token": PARAMETER_SECRET, "nope": 1})
    assert result.status == "failed" and "no parameter nope" in result.error
    assert PARAMETER_SECRET.encode() not in _all_bytes(result.path.parent)


@pytest.mark.parametrize(
    "text",
    [
        "dsn postgres://hopngo:Sup3rS3cret@db:5432/hopngo",
        "amqp://guest:guest-pass@rabbit:5672/",
        "host=db password=hunter2 dbname=x",
        '{"password": "hunter2"}',
        "Authorization: Bearer abc.def-ghi_jkl",
        "aws_access_key_id=AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "JWT_SECRET rotated to 3q2+7w8Hk1LmN0pQrS5tUvWxYz9AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/==",
        "-        - name: DB_PASSWORD\n-          value: hunter2xyz",
        '{"env":[{"name":"DB_PASSWORD","value":"hunter2xyz"}]}',
        "ALTER USER hopngo PASSWORD 'hunter2xyz'",
    ],
)
def test_secret_shapes_are_redacted(text):
    redacted = Redactor().text(text)
    assert REDACTED in redacted
    for secret in ("Sup3rS3cret", "guest-pass", "hunter2", "abc.def", "AKIAIOSFODNN7", "wJalr"):
        assert secret not in redacted
    assert "eyJzdWIi" not in redacted and "MIIEpAIB" not in redacted and "3q2+7w8Hk" not in redacted


@pytest.mark.parametrize(
    "text",
    [
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "pod booking-service-7d9f8b6c5d-x2x9q restarted 3 times",
        "postgres_password_env: HOPNGO_POSTGRES_PASSWORD",
        "http://127.0.0.1:9090/api/v1/query",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
    ],
)
def test_ordinary_text_is_kept(text):
    assert Redactor().text(text) == text


def test_a_secret_env_entry_is_redacted_in_data():
    spec = {"env": [{"name": "DB_PASSWORD", "value": "hunter2xyz"}, {"name": "A", "value": "b"}]}
    assert Redactor().data(spec) == {
        "env": [{"name": "DB_PASSWORD", "value": REDACTED}, {"name": "A", "value": "b"}]
    }


def test_known_values_are_redacted_in_every_written_form():
    secret = 'a<b>&"c\\d e'
    redactor = Redactor([secret])
    for form in (
        secret,
        "a&lt;b&gt;&amp;&quot;c\\d e",
        'a<b>&\\"c\\\\d e',
        "a%3Cb%3E%26%22c%5Cd%20e",
    ):
        assert redactor.text(f"x {form} y") == f"x {REDACTED} y"


def test_records_copy_keeps_verifying(intact, tmp_path: Path):
    """A record copied elsewhere (an archive, a bucket mirror) still verifies there."""
    _, folder = intact
    copy = shutil.copytree(folder, tmp_path / "copy" / folder.name)
    assert verify_incident(copy) == []
