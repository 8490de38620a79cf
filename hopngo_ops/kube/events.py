"""Events: what `kubectl describe` lists under "Events", oldest first."""

from __future__ import annotations

import re

import pandas as pd
from kubernetes.client import CoreV1Event

from hopngo_ops import names
from hopngo_ops.errors import InvalidName
from hopngo_ops.kube.client import KubeConnection
from hopngo_ops.kube.times import timestamp

EVENT_COLUMNS = ["last_seen", "type", "reason", "object", "count", "message"]
# A Kubernetes kind as the API spells it: Pod, Deployment, ReplicaSet.
_KIND = re.compile(r"[A-Z][A-Za-z0-9]{0,62}")


class EventReads(KubeConnection):
    def events(self, kind: str, name: str) -> pd.DataFrame:
        """Events about one object, e.g. events("Pod", "booking-service-...")."""
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise InvalidName("kind", kind, "a Kubernetes kind such as Pod or Deployment")
        selector = (
            f"involvedObject.kind={kind},"
            f"involvedObject.name={names.object_name(name, kind.lower())}"
        )
        return events_table(self._list_events(selector))

    def pod_events(self, pod_names: set[str]) -> pd.DataFrame:
        """Events about any of the given pods, in one request."""
        about = [
            e
            for e in self._list_events("involvedObject.kind=Pod")
            if e.involved_object.name in pod_names
        ]
        return events_table(about)

    def _list_events(self, field_selector: str) -> list[CoreV1Event]:
        listing = self.call(
            self.core.list_namespaced_event, self.namespace, field_selector=field_selector
        )
        return listing.items


def events_table(events: list[CoreV1Event]) -> pd.DataFrame:
    rows = [
        {
            "last_seen": _last_seen(e),
            "type": e.type,
            "reason": e.reason,
            "object": f"{e.involved_object.kind.lower()}/{e.involved_object.name}",
            "count": e.count or (e.series.count if e.series else 1),
            "message": e.message,
        }
        for e in events
    ]
    table = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return table.sort_values("last_seen", kind="stable", ignore_index=True)


def _last_seen(event: CoreV1Event) -> pd.Timestamp | None:
    # Older events carry lastTimestamp; events.k8s.io-style ones only eventTime or a series.
    latest = (
        event.last_timestamp
        or (event.series.last_observed_time if event.series else None)
        or event.event_time
        or event.first_timestamp
        or event.metadata.creation_timestamp
    )
    return timestamp(latest)
