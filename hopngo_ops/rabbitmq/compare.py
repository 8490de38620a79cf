"""Prometheus and the management API side by side, and where they disagree.

They measure differently: Prometheus holds the last scrape (counts) and a rate over minutes,
the management API its latest statistics sample. A difference within the metric's tolerance
is that; beyond it, one of them is stale or looks at another broker.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from hopngo_ops.rabbitmq.reads import METRICS


@dataclass(frozen=True)
class Tolerance:
    absolute: float
    relative: float = 0.0

    def allows(self, a: float, b: float) -> bool:
        return abs(a - b) <= max(self.absolute, self.relative * max(abs(a), abs(b)))


TOLERANCES = {
    "ready": Tolerance(10, 0.05),
    "unacked": Tolerance(10, 0.05),
    "consumers": Tolerance(0),
    # A 5 minute rate and a 5 second sample: only a gross difference means something.
    "publish_rate": Tolerance(1.0, 0.5),
    "deliver_rate": Tolerance(1.0, 0.5),
    "utilisation": Tolerance(0.1),
}


def compare(
    prometheus: pd.DataFrame,
    management: pd.DataFrame,
    tolerances: dict[str, Tolerance] = TOLERANCES,
) -> pd.DataFrame:
    """One row per queue and metric: both values and whether they agree.

    `agree` is None where a side has no value (not measured, or no such queue there).
    """
    both = prometheus.merge(
        management, on="queue", how="outer", suffixes=("_prom", "_mgmt")
    ).set_index("queue")
    rows = []
    for queue, values in both.iterrows():
        for metric in METRICS:
            prom, mgmt = values[f"{metric}_prom"], values[f"{metric}_mgmt"]
            measured = pd.notna(prom) and pd.notna(mgmt)
            rows.append(
                {
                    "queue": queue,
                    "metric": metric,
                    "prometheus": prom,
                    "management": mgmt,
                    "agree": tolerances[metric].allows(prom, mgmt) if measured else None,
                }
            )
    return pd.DataFrame(rows, columns=["queue", "metric", "prometheus", "management", "agree"])


def side_by_side(compared: pd.DataFrame) -> pd.DataFrame:
    """`compare`'s rows as one row per queue: each metric's two values next to each other,
    and the metrics on which they disagree."""
    wide = compared.pivot(index="queue", columns="metric", values=["prometheus", "management"])
    wide = wide.swaplevel(axis=1).reindex(
        columns=[(m, s) for m in METRICS for s in ("prometheus", "management")]
    )
    wide.columns = [f"{metric} ({source})" for metric, source in wide.columns]
    wide["disagree on"] = (
        disagreements(compared).groupby("queue")["metric"].agg(", ".join).reindex(wide.index)
    ).fillna("")
    return wide.reset_index()


def disagreements(compared: pd.DataFrame) -> pd.DataFrame:
    """The rows of `compare` whose values differ beyond the tolerance."""
    return compared[compared["agree"].eq(False)].reset_index(drop=True)
