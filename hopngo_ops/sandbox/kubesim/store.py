"""The object store: every object by type, namespace and name, with resourceVersions and a
change log that watches read from.

Callers get deep copies, so nothing outside the store can change a stored object. One
re-entrant lock guards everything: an API write, its validation and the controllers' reaction
run under it as one step, which keeps every reader's view consistent.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hopngo_ops.sandbox.kubesim import status
from hopngo_ops.sandbox.kubesim.clock import iso
from hopngo_ops.sandbox.kubesim.resources import ResourceType

# Watches may resume from any change this recent; an older resourceVersion gets 410 Gone.
CHANGE_LOG_SIZE = 20_000


@dataclass(frozen=True)
class Change:
    resource_version: int
    type: str  # ADDED, MODIFIED, DELETED
    rtype_key: str
    obj: dict
    old: dict | None


class Store:
    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._objects: dict[tuple[str, str, str], dict] = {}
        self._revision = 0
        self._log: deque[Change] = deque(maxlen=CHANGE_LOG_SIZE)

    @property
    def resource_version(self) -> str:
        return str(self._revision)

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict | None:
        with self.lock:
            found = self._objects.get((rtype.key, namespace or "", name))
            return copy.deepcopy(found)

    def require(self, rtype: ResourceType, namespace: str | None, name: str) -> dict:
        found = self.get(rtype, namespace, name)
        if found is None:
            raise status.not_found(rtype, name)
        return found

    def list(self, rtype: ResourceType, namespace: str | None = None) -> list[dict]:
        """Objects of `rtype` (in `namespace`, or everywhere when None), sorted like etcd."""
        with self.lock:
            return [
                copy.deepcopy(obj)
                for (key, ns, _), obj in sorted(self._objects.items())
                if key == rtype.key and (namespace is None or ns == namespace)
            ]

    def put(self, rtype: ResourceType, obj: dict, *, dry_run: bool = False) -> dict:
        """Create or update `obj`; return it as stored (or as it would be, for a dry run).

        The store owns uid, creationTimestamp, resourceVersion and generation. Writing an
        object equal to the stored one changes nothing, so controllers can write freely.
        """
        with self.lock:
            meta = obj["metadata"]
            key = (rtype.key, meta.get("namespace", ""), meta["name"])
            old = self._objects.get(key)
            new = copy.deepcopy(obj)
            new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
            self._own_metadata(rtype, new, old)
            if old is not None and _comparable(new) == _comparable(old):
                return copy.deepcopy(old)
            if dry_run:
                return new
            self._revision += 1
            new["metadata"]["resourceVersion"] = str(self._revision)
            self._objects[key] = new
            self._record("MODIFIED" if old else "ADDED", rtype, new, old)
            return copy.deepcopy(new)

    def delete(self, rtype: ResourceType, namespace: str | None, name: str) -> dict:
        with self.lock:
            old = self._objects.pop((rtype.key, namespace or "", name), None)
            if old is None:
                raise status.not_found(rtype, name)
            self._revision += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self._revision)
            self._record("DELETED", rtype, gone, old)
            return copy.deepcopy(gone)

    def changes(
        self, rtype: ResourceType, since: int, timeout: float, stop: threading.Event
    ) -> Iterator[Change]:
        """Changes of `rtype` after resourceVersion `since`, as they happen, until `timeout`."""
        deadline = time.monotonic() + timeout
        with self.lock:
            if self._log and since < self._log[0].resource_version - 1:
                raise status.gone(f"too old resource version: {since} ({self._revision})")
        while not stop.is_set():
            with self.lock:
                pending = [
                    c for c in self._log if c.resource_version > since and c.rtype_key == rtype.key
                ]
                if pending:
                    since = pending[-1].resource_version
                else:
                    since = max(since, self._revision)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    self._changed.wait(min(remaining, 1.0))
            yield from pending

    def _own_metadata(self, rtype: ResourceType, new: dict, old: dict | None) -> None:
        meta = new["metadata"]
        if old is None:
            meta["uid"] = str(uuid.uuid4())
            meta.setdefault("creationTimestamp", iso(self.clock()))
            if rtype.tracks_generation:
                meta["generation"] = 1
            return
        old_meta = old["metadata"]
        meta["uid"] = old_meta["uid"]
        meta["creationTimestamp"] = old_meta["creationTimestamp"]
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if rtype.tracks_generation:
            spec_changed = new.get("spec") != old.get("spec")
            meta["generation"] = old_meta["generation"] + int(spec_changed)

    def _record(self, kind: str, rtype: ResourceType, obj: dict, old: dict | None) -> None:
        self._log.append(Change(self._revision, kind, rtype.key, copy.deepcopy(obj), old))
        self._changed.notify_all()


def _comparable(obj: dict) -> dict:
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}
