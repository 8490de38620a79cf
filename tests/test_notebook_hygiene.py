"""The committed notebooks keep their fixed shape: no outputs, one parameters cell, no queries."""

from __future__ import annotations

import re

import nbformat
import pytest

from hopngo_ops.notebooks import list_notebooks, parameters_of

NOTEBOOKS = list_notebooks()
# Strings that belong in the library, not in a notebook cell.
FORBIDDEN = re.compile(
    r"kubectl |SELECT |pg_stat|\brate\(|histogram_quantile|\{job=|http://|https://|requests\."
)
DIAGNOSIS_PARAMETERS = {"service", "namespace", "profile", "window", "incident_id"}
# Reports read an incident's records, not the platform: they take no service or window.
REQUIRED_PARAMETERS = {"post_incident": {"profile", "incident_id"}}
PARAMETER_LINE = re.compile(r"[a-z_][a-z0-9_]*: (str|int|float|bool|list) = .+  # .+")


def test_every_runbook_notebook_exists():
    assert {"service_down", "high_latency", "high_error_rate", "jvm_memory"} <= set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, f"{name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_one_parameters_cell_of_declarations(name):
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    lines = [ln for ln in tagged[0].source.splitlines() if ln and not ln.startswith("#")]
    assert all(PARAMETER_LINE.fullmatch(ln) for ln in lines), lines
    declared = parameters_of(name)
    assert REQUIRED_PARAMETERS.get(name, DIAGNOSIS_PARAMETERS) <= set(declared)
    assert declared["profile"].default == '"sandbox"'


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_queries_or_commands_in_cells(name):
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    # Comments (parameter help) may name the command a step stands for.
    code = re.sub(r"#.*", "", "\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    assert not FORBIDDEN.search(code), FORBIDDEN.search(code)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_fixed_shape(name):
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    # Sections are `#`/`##` headings; a section may hold `###` parts (one per remediation).
    sections = [h for h in headings if h.startswith(("# ", "## "))]
    assert sections[0].startswith("# ")
    assert sections[-3:] == ["## Remediation", "## Findings", "## Next steps"]
    assert nb.cells[-2].source == "rb.summary()"
