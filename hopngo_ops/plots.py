"""Time-series plots of range DataFrames, with the SLO or threshold drawn and a span shaded.

Figures are built with the object-oriented API on the Agg canvas: no pyplot global state, so a
notebook shows each figure once (through its Step) and headless runs need no display.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

_THRESHOLD_COLOUR = "#c53030"
_SHADE_COLOUR = "#f6ad55"


def timeseries(
    frame: pd.DataFrame,
    *,
    title: str,
    ylabel: str,
    series: Sequence[str] | None = None,
    threshold: float | None = None,
    threshold_label: str = "threshold",
    shade: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    shade_label: str = "incident",
) -> Figure:
    """One line per series of a range frame (`timestamp`, label columns, `value`).

    `series` names the label columns that tell lines apart (default: every label column).
    """
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    series = list(series) if series is not None else _label_columns(frame)
    if frame.empty:
        axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    elif series:
        for key, points in frame.groupby(series, sort=True, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            axes.plot(points["timestamp"], points["value"], label=" ".join(map(str, key)))
    else:
        axes.plot(frame["timestamp"], frame["value"], label=ylabel)
    if threshold is not None:
        axes.axhline(threshold, color=_THRESHOLD_COLOUR, linestyle="--", label=threshold_label)
    if shade is not None:
        axes.axvspan(*shade, color=_SHADE_COLOUR, alpha=0.2, label=shade_label)
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.set_xlabel("time (UTC)")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper left", fontsize="small", framealpha=0.8)
    return figure


def _label_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("timestamp", "value")]
