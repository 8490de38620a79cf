"""Run a runbook notebook headlessly with papermill into the incident's records.

Whatever happens (bad parameters, a failing cell, a dead kernel), the run leaves a record:
the executed (or partly executed, or unexecuted) notebook, its `hopngo` metadata saying what
the run found and how it ended.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from hopngo_ops.errors import HopngoError
from hopngo_ops.notebooks import coerce_parameters, notebook_path, notebooks_dir
from hopngo_ops.record import allocate_incident, claim_record_path, incident_dir, records_root
from hopngo_ops.runbook import HEADLESS_ENV, RECORD_MIMETYPE


@dataclass(frozen=True)
class RunResult:
    notebook: str
    incident_id: str
    path: Path
    status: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_notebook(
    name: str,
    parameters: dict[str, object] | None = None,
    *,
    profile: str | None = None,
    incident_id: str | None = None,
    output_root: Path | None = None,
) -> RunResult:
    """Execute notebook `name` into `<root>/YYYY/MM/DD/<incident>/NN-<name>.ipynb`."""
    source = notebook_path(name)
    given = dict(parameters or {})
    if profile is not None:
        given["profile"] = profile
    root = output_root or records_root()
    incident_id = incident_id or given.get("incident_id") or allocate_incident(root)
    given["incident_id"] = incident_id
    output = claim_record_path(incident_dir(root, str(incident_id)), name)
    started = _now()
    error = None
    try:
        typed = coerce_parameters(name, given)
        # The kernel inherits these: it runs headless and audits into this records root.
        with _environment({HEADLESS_ENV: "1", "HOPNGO_INCIDENTS_DIR": str(root)}):
            error = _execute(source, output, typed)
    except HopngoError as err:
        typed, error = given, str(err)
    status = _finish_record(source, output, name, typed, str(incident_id), error, started)
    return RunResult(name, str(incident_id), output, status, error)


def _execute(source: Path, output: Path, parameters: dict) -> str | None:
    """Run papermill; return the error that stopped the run, None when it completed."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters=parameters,
            cwd=str(notebooks_dir()),
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as err:
        return f"cell {err.exec_count} raised {err.ename}: {err.evalue}"
    except DeadKernelError as err:
        return f"the kernel died: {err}"
    except CellTimeoutError as err:
        return f"a cell timed out: {err}"
    return None


def _finish_record(
    source: Path,
    output: Path,
    name: str,
    parameters: dict,
    incident_id: str,
    error: str | None,
    started: str,
) -> str:
    """Write the `hopngo` metadata into the record; return the run's status."""
    # A run stopped before papermill wrote anything still gets a record: the source notebook.
    nb = nbformat.read(output if output.stat().st_size else source, as_version=4)
    found = _summary_record(nb)
    status = "failed" if error or not found else found["status"]
    if not found and not error:
        error = "the notebook ended without its summary: no findings were recorded"
    nb.metadata["hopngo"] = {
        "notebook": name,
        "incident_id": incident_id,
        "parameters": parameters,
        "status": status,
        "error": error,
        "findings": found.get("findings", []) if found else [],
        "worst_severity": found.get("worst_severity") if found else None,
        "actions": found.get("actions", []) if found else [],
        "started_at": started,
        "finished_at": _now(),
    }
    nbformat.write(nb, output)
    return status


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _summary_record(nb) -> dict | None:
    for cell in reversed(nb.cells):
        for out in cell.get("outputs", []):
            if RECORD_MIMETYPE in out.get("data", {}):
                return dict(out["data"][RECORD_MIMETYPE])
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
