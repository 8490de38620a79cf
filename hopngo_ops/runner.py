"""Run a runbook notebook headlessly with papermill into the incident's records.

Whatever happens (bad parameters, a failing cell, a dead kernel), the run leaves a record:
the executed (or partly executed, or unexecuted) notebook, its `hopngo` metadata saying what
the run found and how it ended, its HTML rendering, and the incident's rewritten manifest.
papermill executes into a private scratch folder; only the redacted notebook reaches the
records, so no secret is ever on disk there, not even while a run is going.
"""

from __future__ import annotations

import ast
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from hopngo_ops.errors import HopngoError
from hopngo_ops.notebooks import coerce_parameters, notebook_path, notebooks_dir, parameters_of
from hopngo_ops.record import allocate_incident, claim_record_path, incident_dir, records_root
from hopngo_ops.record.files import folder_lock, write_atomically
from hopngo_ops.record.manifest import build_manifest, runbook_commit, write_manifest
from hopngo_ops.record.protocol import ALLOCATED_INCIDENT_ENV, HEADLESS_ENV, RECORD_MIMETYPE
from hopngo_ops.record.redact import Redactor
from hopngo_ops.record.render import notebook_html
from hopngo_ops.record.secret_values import RECORD_PROFILE_ENV, run_redactor
from hopngo_ops.record.timeline import rewrite_events


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


@dataclass(frozen=True)
class _Run:
    """What the record of one run needs to know besides the executed notebook."""

    name: str
    incident_id: str
    folder: Path
    output: Path
    profile: str | None
    redactor: Redactor
    started_at: str


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
    declared = incident_id or given.get("incident_id")
    incident_id = str(declared or allocate_incident(root))
    given["incident_id"] = incident_id
    folder = incident_dir(root, incident_id)
    output = claim_record_path(folder, name)
    # What the run uses: the record says so, not only what differs from the defaults.
    effective = {**_declared_defaults(name), **given}
    run_profile = str(effective["profile"]) if effective.get("profile") else None
    redactor = run_redactor(run_profile, effective)
    run = _Run(name, incident_id, folder, output, run_profile, redactor, _now())
    with tempfile.TemporaryDirectory(prefix="hopngo-run-") as scratch:
        executed = Path(scratch) / output.name
        try:
            typed = coerce_parameters(name, given)
            effective.update(typed)
            # The kernel inherits these: it runs headless, audits into this records root and
            # redacts its timeline events with this profile's secrets.
            kernel_env = {HEADLESS_ENV: "1", "HOPNGO_INCIDENTS_DIR": str(root)}
            if run_profile:
                kernel_env[RECORD_PROFILE_ENV] = run_profile
            if not declared:
                kernel_env[ALLOCATED_INCIDENT_ENV] = incident_id
            with _environment(kernel_env):
                error = _execute(source, executed, typed)
        except HopngoError as err:
            error = str(err)
        # A run stopped before papermill wrote anything still gets a record: the source.
        nb = nbformat.read(executed if executed.exists() else source, as_version=4)
    status, error = _finish_record(run, nb, effective, error)
    return RunResult(name, incident_id, output, status, error)


def _declared_defaults(name: str) -> dict[str, object]:
    """The parameters cell's defaults as values (as source text when not a literal)."""
    defaults = {}
    for key, declared in parameters_of(name).items():
        try:
            defaults[key] = ast.literal_eval(declared.default)
        except (ValueError, SyntaxError):
            defaults[key] = declared.default
    return defaults


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
        return f"the kernel died{_dying_cell(output)} (killed, or out of memory): {err}"
    except CellTimeoutError as err:
        return f"a cell timed out: {err}"
    except Exception as err:  # noqa: BLE001 - a kernel that cannot start still leaves a record
        return f"the notebook could not be executed: {type(err).__name__}: {err}"
    return None


def _dying_cell(output: Path) -> str:
    """` in cell N (its first line)`: the last cell papermill started (cells run in order)."""
    if not output.exists():
        return ""
    cells = nbformat.read(output, as_version=4).cells
    started = [
        i
        for i, cell in enumerate(cells)
        if cell.cell_type == "code" and cell.metadata.get("papermill", {}).get("start_time")
    ]
    if not started:
        return ""
    first_line = cells[started[-1]].source.strip().splitlines()[0]
    return f" in cell {started[-1]} ({first_line!r})"


def _finish_record(run: _Run, nb, parameters: dict, error: str | None) -> tuple[str, str | None]:
    """Write the redacted record, its HTML and the incident's manifest; return status, error."""
    from hopngo_ops import __version__  # the package imports this module first

    found = _summary_record(nb)
    status = "failed" if error or not found else found["status"]
    if not found and not error:
        error = "the notebook ended without its summary: no findings were recorded"
    commit = runbook_commit(notebooks_dir())
    nb.metadata["hopngo"] = {
        "notebook": run.name,
        "incident_id": run.incident_id,
        "profile": run.profile,
        "parameters": parameters,
        "status": status,
        "error": error,
        "findings": found.get("findings", []) if found else [],
        "worst_severity": found.get("worst_severity") if found else None,
        "actions": found.get("actions", []) if found else [],
        "started_at": run.started_at,
        "finished_at": _now(),
        "hopngo_ops_version": __version__,
        "runbook_commit": commit,
    }
    record = run.redactor.notebook(nb)
    page = run.redactor.text(notebook_html(record))
    with folder_lock(run.folder):
        write_atomically(run.output, nbformat.writes(record))
        write_atomically(run.output.with_suffix(".html"), page)
        # The kernel redacted its events already; this catches any its profile did not know.
        rewrite_events(run.folder, run.redactor.data)
        manifest = build_manifest(run.folder, run.incident_id, version=__version__, commit=commit)
        write_manifest(run.folder, manifest, run.redactor)
    return status, record.metadata["hopngo"]["error"]


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
