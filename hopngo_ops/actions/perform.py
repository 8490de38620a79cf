"""plan -> guard -> preview -> (apply -> verify) -> audit, the one path every action takes."""

from __future__ import annotations

import getpass
import html
from collections.abc import Callable
from dataclasses import dataclass, field

from hopngo_ops.actions.base import Action, Plan, Preview
from hopngo_ops.actions.guards import Guardrails
from hopngo_ops.errors import GuardRefused, HopngoError
from hopngo_ops.record.timeline import append_event

VERIFY_TIMEOUT = 60.0


@dataclass
class ActionReport:
    """What happened to one action: shown in the notebook, written to the timeline."""

    plan: Plan
    result: str  # previewed | applied | refused | skipped | failed
    message: str
    preview: Preview | None = None
    events: list[dict] = field(default_factory=list)
    # Interactive runs: applies this previewed action, given the typed confirmation.
    apply_later: Callable[[str | None], ActionReport] | None = None

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(HTML(self._repr_html_()))
        if self.apply_later:
            from hopngo_ops.actions.widgets import confirm_box

            display(confirm_box(self))

    def _repr_html_(self) -> str:
        colour = {"applied": "#2f855a", "previewed": "#2b6cb0", "skipped": "#b7791f"}
        parts = [
            f"<h4>{html.escape(self.plan.action)}: {html.escape(self.plan.target)}</h4>",
            f"<p style='color:{colour.get(self.result, '#c53030')}'><b>{self.result.upper()}"
            f"</b> {html.escape(self.message)}</p>",
            f"<p>{html.escape(self.plan.description)}</p>",
            f"<pre>{html.escape(self.plan.command)}</pre>",
        ]
        if self.preview:
            parts.append(f"<p><b>Preview:</b> {html.escape(self.preview.summary)}</p>")
            if self.preview.diff:
                parts.append(f"<pre>{html.escape(self.preview.diff)}</pre>")
            if self.preview.rows is not None:
                parts.append(self.preview.rows.to_html(max_rows=50))
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"{self.plan.action} {self.plan.target}: {self.result}: {self.message}"


def perform(rb, action: Action, *, confirmation: str | None = None) -> ActionReport:
    """Preview `action`; apply it only when the run asks for it by name."""
    plan = action.plan()
    guardrails = rb.guardrails
    try:
        guardrails.check_common(plan.action)
        action.guard(guardrails)
        preview = action.preview()
    except GuardRefused as err:
        return _audit(rb, ActionReport(plan, "refused", str(err)))
    except HopngoError as err:
        return _audit(rb, ActionReport(plan, "failed", f"preview failed: {err}"))
    if plan.action not in rb.apply:
        how = (
            f"add {plan.action!r} to the `apply` parameter to apply it"
            if rb.headless
            else "apply it with the button below after reading the preview"
        )
        report = _audit(rb, ActionReport(plan, "previewed", f"nothing changed; {how}", preview))
        if not rb.headless:
            report.apply_later = _once(
                lambda typed: apply_previewed(rb, action, plan, preview, confirmation=typed)
            )
        return report
    return apply_previewed(rb, action, plan, preview, confirmation=confirmation)


def apply_previewed(
    rb, action: Action, plan: Plan, preview: Preview, *, confirmation: str | None
) -> ActionReport:
    """Apply what was previewed, verify it, and audit the outcome whatever it is."""
    if report := _refusal_before_apply(rb, action, plan, preview, confirmation):
        return report
    try:
        after = action.apply(preview)
    except HopngoError as err:
        # A server may refuse part-way (a 403 on the third pod): never "nothing was changed".
        message = f"apply failed, check what it changed before retrying: {err}"
        return _audit(rb, ActionReport(plan, "failed", message, preview))
    try:
        verified = action.verify(preview, timeout=VERIFY_TIMEOUT)
    except HopngoError as err:
        report = ActionReport(plan, "failed", f"applied, but verification failed: {err}", preview)
        return _audit(rb, report, after=after)
    except Exception as err:
        # The change is made: audit it before the unexpected error reaches the notebook.
        crashed = f"applied, but verification crashed: {type(err).__name__}: {err}"
        _audit(rb, ActionReport(plan, "failed", crashed, preview), after=after)
        raise
    return _audit(rb, ActionReport(plan, "applied", verified, preview), after=after)


def _refusal_before_apply(rb, action, plan, preview, confirmation) -> ActionReport | None:
    """The audited report of why the action must not apply now; None when it may."""
    try:
        if (expected := action.expected_confirmation()) is not None:
            Guardrails.check_confirmation(plan.action, expected, confirmation)
        if action.destructive and rb.alert and not rb.alert_still_firing():
            message = f"alert {rb.alert} has resolved since the run started; nothing was changed"
            return _audit(rb, ActionReport(plan, "skipped", message, preview))
    except GuardRefused as err:
        return _audit(rb, ActionReport(plan, "refused", str(err), preview))
    except HopngoError as err:
        message = f"could not check it may apply, nothing was changed: {err}"
        return _audit(rb, ActionReport(plan, "failed", message, preview))
    return None


def _once(apply: Callable[[str | None], ActionReport]) -> Callable[[str | None], ActionReport]:
    """A preview applies at most once: a second click gets the first outcome back (a refusal,
    such as a mistyped confirmation, changed nothing and may be retried)."""
    outcome: list[ActionReport] = []

    def apply_once(typed: str | None) -> ActionReport:
        if not outcome or outcome[0].result == "refused":
            outcome[:] = [apply(typed)]
        return outcome[0]

    return apply_once


def _audit(rb, report: ActionReport, *, after=None) -> ActionReport:
    rb.actions.append(report)
    if report.result == "previewed" and not rb.incident_id:
        # An interactive look with no incident changed nothing: no incident is opened for it.
        return report
    plan, preview = report.plan, report.preview
    event = {
        "type": "action",
        "who": f"hopngo-ops runner ({getpass.getuser()})" if rb.headless else getpass.getuser(),
        "mode": "headless" if rb.headless else "interactive",
        "notebook": rb.notebook,
        "incident_id": rb.incident_id,
        "action": plan.action,
        "target": plan.target,
        "parameters": plan.parameters,
        "command": plan.command,
        "result": report.result,
        "message": report.message,
        "preview": preview.summary if preview else None,
        "diff": preview.diff if preview else None,
        "before": preview.before if preview else None,
        "after": after,
    }
    folder = rb.incident_folder()
    report.events.append(append_event(folder, event, profile=rb.targets.profile))
    return report
