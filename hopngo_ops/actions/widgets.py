"""JupyterLab: the button that applies a shown preview, after a confirmation."""

from __future__ import annotations

import ipywidgets as widgets
from IPython.display import HTML, display


def confirm_box(report) -> widgets.Widget:
    """A confirm checkbox (or a text field to type, when the action asks for one) and Apply."""
    action = report.plan.action
    typed = widgets.Text(placeholder="type the confirmation the preview asks for")
    sure = widgets.Checkbox(description=f"I have read the preview of {action}")
    button = widgets.Button(description=f"Apply {action}", button_style="danger", disabled=True)
    output = widgets.Output()
    sure.observe(lambda change: setattr(button, "disabled", not change["new"]), names="value")

    def on_click(_):
        # A disabled button is only greyed out by the frontend: check the acknowledgement here.
        if not sure.value:
            return
        button.disabled = sure.disabled = True
        with output:
            display(HTML(report.apply_later(typed.value or None)._repr_html_()))

    button.on_click(on_click)
    return widgets.VBox([typed, sure, button, output])
