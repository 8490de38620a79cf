"""The runbook's section 4 (Queue Lag, RabbitMQ) as diagnostic checks.

Live counts and consumers come from the management API; history (since when a queue lags,
how fast it delivers) from Prometheus. Dead-letter queues are shown but not graded: nothing
consumes them by design.
"""

from __future__ import annotations

import pandas as pd

from hopngo_ops import plots
from hopngo_ops.alert_conditions import ALERT_CONDITIONS

# The window arithmetic and PromQL notes every metric step shares.
from hopngo_ops.findings import Finding
from hopngo_ops.prometheus import gather
from hopngo_ops.prometheus.ranges import promql_note, window_span
from hopngo_ops.rabbitmq import (
    compare,
    disagreements,
    lag_history,
    management_queues,
    prometheus_queues,
    side_by_side,
)
from hopngo_ops.runbook import Runbook, check
from hopngo_ops.step import Step

# The ready count RabbitMQQueueLagHigh fires on.
BACKLOG_THRESHOLD = ALERT_CONDITIONS["RabbitMQQueueLagHigh"].threshold
# Healthy queues run this many consumers (consumer-service's replicas each hold one).
MIN_CONSUMERS = 2
# Ready messages a queue may gain over the window before its growth is worth a look.
GROWTH_WARNING = 100
# Below this share of time able to deliver, consumers are slow or their prefetch is too small.
LOW_UTILISATION = 0.5


@check("Queues: Prometheus and the management API side by side")
def queue_overview(rb: Runbook) -> Step:
    """Info: each queue whose two sources disagree beyond the metric's tolerance."""
    sources = gather(
        prometheus=lambda: prometheus_queues(rb.prometheus),
        management=lambda: _management(rb),
    )
    compared = compare(
        sources["prometheus"], sources["management"].drop(columns="dead_letter_queue")
    )
    findings = [
        Finding(
            "queue_overview",
            "info",
            f"{queue}: Prometheus and the management API disagree on "
            + "; ".join(
                f"{r.metric} ({r.prometheus:.3g} vs {r.management:.3g})" for r in rows.itertuples()
            )
            + ": a stale scrape, or not the same broker",
            {"queue": queue, "metrics": list(rows["metric"])},
        )
        for queue, rows in disagreements(compared).groupby("queue", sort=True)
    ]
    note = "Management API: GET /api/queues/<vhost> (statistics every few seconds). " + promql_note(
        sources["prometheus"]
    )
    return Step(table=side_by_side(compared), findings=findings, note=note)


@check("Lagging queues and since when")
def lagging_queues(
    rb: Runbook,
    *,
    threshold: float = BACKLOG_THRESHOLD,
    min_consumers: int = MIN_CONSUMERS,
    growth_warning: float = GROWTH_WARNING,
) -> Step:
    """Critical: more than `threshold` ready with fewer than `min_consumers` consumers.
    Warning: over `threshold` with enough consumers, or ready grew by `growth_warning`."""
    start, end, step = window_span(rb.window)
    sources = gather(
        live=lambda: _management(rb),
        history=lambda: rb.prometheus.range(
            "queue_messages_ready", start=start, end=end, step=step
        ),
    )
    live, history = sources["live"], sources["history"]
    graded = live[~live["queue"].isin(set(live["dead_letter_queue"].dropna()))]
    # Ready and consumers exactly as they are now; the API's statistics lag a few seconds.
    exact = pd.DataFrame(
        [vars(d) for d in rb.rabbitmq.depths(list(graded["queue"]))],
        columns=["queue", "ready", "consumers"],
    )
    lag = lag_history(history, threshold)
    table = exact.merge(graded[["queue", "unacked"]], on="queue").merge(
        lag.drop(columns="ready_now"), on="queue", how="left"
    )
    findings = [
        finding
        for row in table.itertuples()
        if (finding := _lag_finding(row, threshold, min_consumers, growth_warning, rb.window))
    ]
    if not findings:
        findings.append(
            Finding(
                "lagging_queues",
                "info",
                f"no queue over {threshold:g} ready or growing by {growth_warning:g} in "
                f"{rb.window}",
            )
        )
    figure = plots.timeseries(
        history[history["queue"].isin(table["queue"])],
        title="Messages ready per queue",
        ylabel="messages ready",
        series=["queue"],
        threshold=threshold,
        threshold_label="RabbitMQQueueLagHigh threshold",
        shade=_lagging_span(table, end),
        shade_label="lagging",
    )
    note = (
        "Live: ready and consumers from a passive queue declare (as rabbitmqctl list_queues "
        "name messages_ready consumers), unacked from the management API. "
        f"History: {history.attrs.get('promql', '')} over {rb.window}."
    )
    return Step(table=table, findings=findings, figure=figure, note=note)


@check("Consumers and utilisation")
def consumers(rb: Runbook, *, low_utilisation: float = LOW_UTILISATION) -> Step:
    """Warning: a queue with consumers that can take deliveries less than `low_utilisation`
    of the time (the runbook's rabbitmq_queue_consumer_utilisation)."""
    rmq = rb.rabbitmq
    sources = gather(
        consumers=lambda: rmq.management.consumers(rmq.vhost),
        utilisation=lambda: rb.prometheus.instant("queue_consumer_utilisation"),
        counts=lambda: rb.prometheus.instant("queue_consumers"),
    )
    table = pd.DataFrame(
        [_consumer_row(c) for c in sources["consumers"]],
        columns=["queue", "consumer_tag", "connection", "prefetch", "ack_required", "active"],
    ).sort_values(["queue", "consumer_tag"], ignore_index=True)
    utilisation = sources["utilisation"].set_index("queue")["value"]
    count = sources["counts"].set_index("queue")["value"]
    low = utilisation[(count.reindex(utilisation.index) > 0) & (utilisation < low_utilisation)]
    findings = [
        Finding(
            "consumers",
            "warning",
            f"{queue}: consumer utilisation {value:.2f} (below {low_utilisation:g}) with "
            f"{count[queue]:.0f} consumer(s), prefetch "
            f"{_prefetches(table, queue)}: consumers are slow or stuck holding their prefetch",
            {"queue": queue, "utilisation": float(value), "consumers": int(count[queue])},
        )
        for queue, value in low.items()
    ]
    note = (
        "Management API: GET /api/consumers/<vhost>. "
        f"{promql_note(sources['utilisation'], sources['counts'])}"
    )
    return Step(table=table, findings=findings, note=note)


@check("Publish and deliver rates")
def message_rates(rb: Runbook) -> Step:
    """Warning: a queue with a backlog that is published to faster than it delivers."""
    start, end, step = window_span(rb.window)
    sources = gather(
        live=lambda: _management(rb),
        history=lambda: rb.prometheus.range("queue_delivery_rate", start=start, end=end, step=step),
    )
    live, history = sources["live"], sources["history"]
    table = live[["queue", "ready", "publish_rate", "deliver_rate"]]
    outpaced = table[(table["ready"] > 0) & (table["publish_rate"] > table["deliver_rate"])]
    findings = [
        Finding(
            "message_rates",
            "warning",
            f"{row.queue}: published at {row.publish_rate:.2f}/s, delivered at "
            f"{row.deliver_rate:.2f}/s, {row.ready:.0f} ready: the backlog grows",
            {"queue": row.queue},
        )
        for row in outpaced.itertuples()
    ]
    figure = plots.timeseries(
        history,
        title="Messages delivered per second",
        ylabel="messages/s",
        series=["queue"],
    )
    note = (
        "Live: the management API's publish and deliver/get rates. History: "
        f"{history.attrs.get('promql', '')}."
    )
    return Step(table=table, findings=findings, figure=figure, note=note)


@check("Consumer logs")
def consumer_log_tail(rb: Runbook, *, tail: int = 50, service: str | None = None) -> Step:
    """The runbook's last step: read the consumers' latest lines (shown, not graded)."""
    service = service or rb.service
    lines = rb.kube.logs(service, tail=tail)
    note = f"kubectl logs deployment/{service} --tail={tail}, over every pod of the deployment."
    return Step(table=lines, note=note)


def _management(rb: Runbook) -> pd.DataFrame:
    return management_queues(rb.rabbitmq.management, rb.rabbitmq.vhost)


def _lag_finding(
    row, threshold: float, min_consumers: int, growth_warning: float, window: str
) -> Finding | None:
    evidence = {"queue": row.queue, "ready": int(row.ready), "consumers": int(row.consumers)}
    since = _since(row, window)
    if row.ready > threshold and row.consumers < min_consumers:
        return Finding(
            "lagging_queues",
            "critical",
            f"{row.queue}: {row.ready:.0f} messages ready (threshold {threshold:g}) with only "
            f"{row.consumers:.0f} consumer(s), lagging {since}: scale the consumers",
            evidence,
        )
    if row.ready > threshold:
        return Finding(
            "lagging_queues",
            "warning",
            f"{row.queue}: {row.ready:.0f} messages ready (threshold {threshold:g}) with "
            f"{row.consumers:.0f} consumers, lagging {since}: they do not keep up",
            evidence,
        )
    if pd.notna(row.growth_in_window) and row.growth_in_window >= growth_warning:
        return Finding(
            "lagging_queues",
            "warning",
            f"{row.queue}: ready grew by {row.growth_in_window:.0f} in {window} "
            f"({row.ready:.0f} now): a growing backlog",
            evidence,
        )
    return None


def _since(row, window: str) -> str:
    if pd.isna(row.lagging_since):
        return "(not over the threshold in Prometheus' history yet)"
    minutes = row.lagging_for.total_seconds() / 60
    return f"since {row.lagging_since:%H:%M} UTC ({minutes:.0f} min; window {window})"


def _lagging_span(table: pd.DataFrame, end: pd.Timestamp) -> tuple | None:
    since = table["lagging_since"].dropna()
    return (since.min(), end) if not since.empty else None


def _consumer_row(consumer: dict) -> dict:
    channel = consumer.get("channel_details", {})
    return {
        "queue": consumer["queue"]["name"],
        "consumer_tag": consumer["consumer_tag"],
        "connection": channel.get("connection_name"),
        "prefetch": consumer.get("prefetch_count"),
        "ack_required": consumer.get("ack_required"),
        "active": consumer.get("active"),
    }


def _prefetches(table: pd.DataFrame, queue: str) -> str:
    prefetch = table.loc[table["queue"] == queue, "prefetch"]
    return ", ".join(str(p) for p in sorted(set(prefetch))) or "unknown"


__all__ = ["consumer_log_tail", "consumers", "lagging_queues", "message_rates", "queue_overview"]
