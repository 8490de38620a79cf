"""The HTML rendering of an executed notebook, kept beside it for readers without Jupyter."""

from __future__ import annotations

from functools import cache

from nbconvert import HTMLExporter


@cache
def _exporter() -> HTMLExporter:
    # Building the exporter loads its templates: once per process is enough.
    return HTMLExporter()


def notebook_html(nb) -> str:
    body, _resources = _exporter().from_notebook_node(nb)
    return body
