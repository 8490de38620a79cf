"""A notebook's session: its validated parameters, targets, backend clients and findings.

The first cell of every notebook opens one (`Runbook.open(...)`); each diagnostic step is a
`@check` function taking it; the last cell shows `rb.summary()`, whose output carries the
record (findings, status) that the runner copies into the executed notebook's metadata.
"""

from __future__ import annotations

import functools
import html
import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from hopngo_ops import names
from hopngo_ops.actions.guards import Guardrails
from hopngo_ops.config import ProfileError, Targets, load_targets
from hopngo_ops.errors import BackendUnavailable
from hopngo_ops.findings import SEVERITIES, Finding, worst_severity
from hopngo_ops.record.protocol import ALLOCATED_INCIDENT_ENV, HEADLESS_ENV, RECORD_MIMETYPE
from hopngo_ops.step import Step


@dataclass
class Runbook:
    notebook: str
    targets: Targets
    service: str | None = None
    namespace: str = "hopngo"
    window: str = "1h"
    incident_id: str = ""
    # Action names a headless run may apply; anything else is only previewed.
    apply: tuple[str, ...] = ()
    # The alert that started the run, if any: destructive actions re-check it first.
    alert: str = ""
    # The incident id was allocated by the tool (a folder for the record), not declared.
    incident_allocated: bool = False
    steps: list[Step] = field(default_factory=list)
    actions: list = field(default_factory=list)

    @classmethod
    def open(
        cls,
        notebook: str,
        *,
        profile: str = "sandbox",
        service: str | None = None,
        namespace: str = "hopngo",
        window: str = "1h",
        incident_id: str = "",
        apply: list[str] | tuple[str, ...] = (),
        alert: str = "",
    ) -> Runbook:
        """Validate the parameters and find the targets; nothing is queried yet."""
        if isinstance(apply, str) or not all(isinstance(a, str) for a in apply):
            raise ValueError(f"apply must be a list of action names, got {apply!r}")
        _preload_kubernetes_api()
        return cls(
            notebook=notebook,
            targets=load_targets(profile),
            service=names.service_name(service) if service is not None else None,
            namespace=names.namespace_name(namespace),
            window=names.duration(window),
            incident_id=incident_id,
            apply=tuple(apply),
            alert=alert,
            incident_allocated=bool(incident_id)
            and incident_id == os.environ.get(ALLOCATED_INCIDENT_ENV),
        )

    @property
    def headless(self) -> bool:
        return os.environ.get(HEADLESS_ENV) == "1"

    @property
    def guardrails(self) -> Guardrails:
        return Guardrails(
            namespace=self.namespace,
            production=self.targets.production,
            # Only an incident someone declared counts for production's rule.
            incident_id="" if self.incident_allocated else self.incident_id,
        )

    def incident_folder(self):
        """The incident's records folder; an interactive run opens an incident on first need."""
        from hopngo_ops.record import allocate_incident, incident_dir, records_root

        if not self.incident_id:
            self.incident_id = allocate_incident(records_root())
            self.incident_allocated = True
        return incident_dir(records_root(), self.incident_id)

    def alert_still_firing(self) -> bool:
        from hopngo_ops.alert_conditions import alert_firing

        return alert_firing(self, self.alert)

    @cached_property
    def prometheus(self):
        from hopngo_ops.prometheus import Prometheus

        return Prometheus(self.targets.require("prometheus_url"))

    @cached_property
    def kube(self):
        from hopngo_ops.kube import Kube

        return Kube.from_targets(self.targets, namespace=self.namespace)

    @cached_property
    def postgres(self):
        """The notebook's one PostgreSQL session: the "own backend" terminations never touch."""
        from hopngo_ops.postgres import Postgres

        return Postgres.from_targets(self.targets)

    @cached_property
    def rabbitmq(self):
        from hopngo_ops.rabbitmq import RabbitMQ

        return RabbitMQ(self.targets)

    @property
    def findings(self) -> list[Finding]:
        return [f for step in self.steps for f in step.findings]

    @property
    def status(self) -> str:
        """ok: every step ran; degraded: some could not reach their backend."""
        return "degraded" if any(step.error for step in self.steps) else "ok"

    def summary(self) -> Summary:
        return Summary(self)

    def _repr_html_(self) -> str:
        rows = {
            "notebook": self.notebook,
            "profile": self.targets.profile + (" (production)" if self.targets.production else ""),
            "service": self.service,
            "namespace": self.namespace,
            "window": self.window,
            "incident": self.incident_id or "(none)",
        }
        return pd.Series(rows, name="runbook").to_frame().to_html()


def _preload_kubernetes_api() -> None:
    """Import the Kubernetes client's API classes in the background (about a second and a
    half): the first Kubernetes step then finds them ready instead of waiting for them."""
    modules = ("core_v1_api", "apps_v1_api", "custom_objects_api")
    threading.Thread(
        target=lambda: [importlib.import_module(f"kubernetes.client.api.{m}") for m in modules],
        name="preload-kubernetes-api",
        daemon=True,
    ).start()


def check(title: str) -> Callable:
    """Make `fn(rb, **options) -> Step` a recorded step; an unreachable backend degrades it."""

    def decorate(fn: Callable[..., Step]) -> Callable[..., Step]:
        @functools.wraps(fn)
        def run(rb: Runbook, **options) -> Step:
            try:
                step = fn(rb, **options)
            except (BackendUnavailable, ProfileError) as err:
                step = Step(error=f"{err}. Check the profile's targets and that it runs.")
            step.title = title
            rb.steps.append(step)
            return step

        return run

    return decorate


class Summary:
    """The findings table and the run's record, shown by a notebook's last cell."""

    def __init__(self, rb: Runbook):
        self.rb = rb

    def record(self) -> dict:
        rb = self.rb
        return {
            "notebook": rb.notebook,
            "incident_id": rb.incident_id,
            "status": rb.status,
            "worst_severity": worst_severity(rb.findings),
            "findings": [f.to_record() for f in rb.findings],
            "failed_steps": [s.title for s in rb.steps if s.error],
            "actions": [
                {"action": a.plan.action, "target": a.plan.target, "result": a.result}
                for a in rb.actions
            ],
        }

    def table(self) -> pd.DataFrame:
        rows = [f.to_record() for f in self.rb.findings]
        table = pd.DataFrame(rows, columns=["check", "severity", "message"])
        order = table["severity"].map({s: -i for i, s in enumerate(SEVERITIES)})
        return table.iloc[order.argsort(kind="stable")].reset_index(drop=True)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        record = self.record()
        headline = f"Status: {record['status']}; worst finding: {record['worst_severity']}"
        failed = "".join(
            f"<p style='color:#c53030'>Step not run: {html.escape(t)}</p>"
            for t in record["failed_steps"]
        )
        table = self.table()
        return {
            "text/plain": f"{headline}\n{table.to_string()}",
            "text/html": f"<h4>{html.escape(headline)}</h4>{failed}{table.to_html()}",
            RECORD_MIMETYPE: record,
        }
