"""The API's verbs on resources: get, list, watch, create, replace, patch, delete and
deletecollection, the scale, status and log subresources, and dry runs of every write.

Transport-free: the server turns a URL into a `Request` and renders what comes back.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from hopngo_ops.sandbox.kubesim import controllers, logs, metrics, patching, status, validation
from hopngo_ops.sandbox.kubesim import resources as r
from hopngo_ops.sandbox.kubesim.selectors import field_selector, label_selector, selector_string
from hopngo_ops.sandbox.kubesim.store import Store
from hopngo_ops.sandbox.kubesim.workloads import (
    ContainerHistory,
    alphabet_hash,
    controller_uid,
    node_of,
    pod_status,
)
from hopngo_ops.sandbox.scenarios import Scenario

# A watch without timeoutSeconds ends after this long, like the apiserver's default range.
DEFAULT_WATCH_SECONDS = 1800
# Fields the server owns: a client's values for them are dropped on create.
SERVER_OWNED = ("uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp")


@dataclass(frozen=True)
class Request:
    method: str
    rtype: r.ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = "application/json"

    @property
    def dry_run(self) -> bool:
        value = self.query.get("dryRun")
        if value not in (None, "", "All"):
            raise status.bad_request(f'unsupported dry run value "{value}": only "All" is valid')
        return value == "All"

    def int_param(self, name: str) -> int | None:
        value = self.query.get(name)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except ValueError as e:
            raise status.bad_request(f"invalid {name} {value!r}: {e}") from e

    def json_body(self) -> dict:
        try:
            body = json.loads(self.body or b"{}")
        except ValueError as e:
            raise status.bad_request(f"the body of the request could not be decoded: {e}") from e
        if not isinstance(body, dict):
            raise status.bad_request("the body of the request must be a JSON object")
        return body


@dataclass(frozen=True)
class Text:
    """A plain-text answer (pod logs)."""

    data: bytes


class Api:
    def __init__(self, store: Store, scenario: Scenario, started_at: float):
        self.store, self.scenario, self.started_at = store, scenario, started_at

    def handle(self, req: Request) -> dict | Text:
        if req.rtype.virtual:
            return self._metrics(req)
        if req.subresource:
            return self._subresource(req)
        with self.store.lock:
            if req.method == "GET":
                return self.get(req) if req.name else self.list(req)
            if req.method == "POST" and not req.name:
                return self.create(req)
            if req.method == "PUT" and req.name:
                return self.replace(req)
            if req.method == "PATCH" and req.name:
                return self.patch(req)
            if req.method == "DELETE":
                return self.delete(req) if req.name else self.delete_collection(req)
        raise status.method_not_allowed(f"{req.method} is not supported here")

    # Reads.

    def get(self, req: Request) -> dict:
        return self.store.require(req.rtype, req.namespace, req.name)

    def _matching(self, req: Request) -> list[dict]:
        by_label = label_selector(req.query.get("labelSelector"))
        by_field = field_selector(req.query.get("fieldSelector"), req.rtype.plural)
        return [o for o in self.store.list(req.rtype, req.namespace) if by_label(o) and by_field(o)]

    def list(self, req: Request) -> dict:
        items = self._matching(req)
        return self._list_of(req.rtype, items, req)

    def _list_of(self, rtype: r.ResourceType, items: list[dict], req: Request) -> dict:
        start = _decode_continue(req.query.get("continue"))
        limit = req.int_param("limit")
        meta = {"resourceVersion": self.store.resource_version}
        page = items[start:]
        if limit and len(page) > limit:
            page = page[:limit]
            meta["continue"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        return {
            "kind": f"{rtype.kind}List",
            "apiVersion": rtype.api_version,
            "metadata": meta,
            "items": page,
        }

    def watch(self, req: Request, stop: threading.Event) -> Iterator[dict]:
        """Watch events: the current objects as ADDED (unless resuming), then every change.

        Checks the request before returning, so a bad one fails before any event is sent.
        """
        by_label = label_selector(req.query.get("labelSelector"))
        by_field = field_selector(req.query.get("fieldSelector"), req.rtype.plural)
        timeout = req.int_param("timeoutSeconds") or DEFAULT_WATCH_SECONDS
        since = req.query.get("resourceVersion") or "0"
        with self.store.lock:
            initial = self._matching(req) if since == "0" else []
            start = int(self.store.resource_version) if since == "0" else _int_rv(since)

        def matches(obj: dict | None) -> bool:
            if obj is None:
                return False
            namespace = obj["metadata"].get("namespace")
            in_namespace = req.namespace is None or namespace == req.namespace
            return in_namespace and by_label(obj) and by_field(obj)

        def events() -> Iterator[dict]:
            for obj in initial:
                yield {"type": "ADDED", "object": obj}
            for change in self.store.changes(req.rtype, start, timeout, stop):
                kind = _event_type(change.type, matches(change.obj), matches(change.old))
                if kind:
                    yield {"type": kind, "object": change.obj}

        return events()

    # Writes.

    def create(self, req: Request) -> dict:
        obj = self._checked_body(req)
        meta = obj.setdefault("metadata", {})
        for owned in SERVER_OWNED:
            meta.pop(owned, None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + alphabet_hash(
                f"{meta['generateName']}/{self.store.resource_version}", 5
            )
        if not meta.get("name"):
            raise status.invalid(
                req.rtype,
                "",
                [("metadata.name", "Required value: name or generateName is required")],
            )
        if req.rtype.namespaced:
            meta["namespace"] = req.namespace
            if self.store.get(r.NAMESPACE, None, req.namespace) is None:
                raise status.not_found(r.NAMESPACE, req.namespace)
        if self.store.get(req.rtype, req.namespace, meta["name"]) is not None:
            raise status.already_exists(req.rtype, meta["name"])
        validation.validate(req.rtype, obj)
        if req.rtype is r.POD:
            self._schedule(obj)
        elif "status" in req.rtype.subresources:
            obj["status"] = {}
        return self._write(req.rtype, obj, req.dry_run)

    def replace(self, req: Request) -> dict:
        old = self.store.require(req.rtype, req.namespace, req.name)
        new = self._checked_body(req)
        self._check_identity(req, old, new)
        return self._update(req, old, new)

    def patch(self, req: Request) -> dict:
        old = self.store.require(req.rtype, req.namespace, req.name)
        new = self._patched(req, old)
        self._check_identity(req, old, new)
        return self._update(req, old, new)

    def _update(self, req: Request, old: dict, new: dict) -> dict:
        if "status" in req.rtype.subresources:
            # The main resource ignores status; only the status subresource writes it.
            new["status"] = old.get("status")
        validation.validate(req.rtype, new, old)
        return self._write(req.rtype, new, req.dry_run)

    def _write(self, rtype: r.ResourceType, obj: dict, dry_run: bool) -> dict:
        stored = self.store.put(rtype, obj, dry_run=dry_run)
        if not dry_run:
            controllers.reconcile(self.store)
        return stored

    def delete(self, req: Request) -> dict:
        old = self.store.require(req.rtype, req.namespace, req.name)
        options = req.json_body()
        preconditions = options.get("preconditions") or {}
        for key in ("uid", "resourceVersion"):
            wanted = preconditions.get(key)
            if wanted and wanted != old["metadata"][key]:
                raise status.conflict(
                    req.rtype,
                    req.name,
                    f"Precondition failed: {key} in precondition: {wanted}, {key} in object "
                    f"meta: {old['metadata'][key]}",
                )
        dry_run = req.dry_run or "All" in (options.get("dryRun") or [])
        policy = req.query.get("propagationPolicy") or options.get("propagationPolicy")
        return self._delete_one(req.rtype, old, dry_run=dry_run, orphan=policy == "Orphan")

    def _delete_one(self, rtype: r.ResourceType, old: dict, *, dry_run: bool, orphan: bool) -> dict:
        if dry_run:
            return old
        if orphan:
            self._orphan_dependents(old)
        gone = self.store.delete(rtype, old["metadata"].get("namespace"), old["metadata"]["name"])
        controllers.reconcile(self.store)
        return gone

    def _orphan_dependents(self, owner: dict) -> None:
        for rtype in (r.REPLICASET, r.POD):
            for obj in self.store.list(rtype, owner["metadata"].get("namespace")):
                if controller_uid(obj) == owner["metadata"]["uid"]:
                    obj["metadata"]["ownerReferences"] = []
                    self.store.put(rtype, obj)

    def delete_collection(self, req: Request) -> dict:
        dry_run = req.dry_run
        deleted = [
            self._delete_one(req.rtype, obj, dry_run=dry_run, orphan=False)
            for obj in self._matching(req)
        ]
        return self._list_of(req.rtype, deleted, Request("GET", req.rtype, None, None, None))

    # Subresources.

    def _subresource(self, req: Request) -> dict | Text:
        if req.subresource not in req.rtype.subresources or not req.name:
            raise status.not_found(req.rtype, f"{req.name}/{req.subresource}")
        with self.store.lock:
            if req.subresource == "log" and req.method == "GET":
                return self.read_log(req)
            if req.subresource == "scale":
                return self.scale(req)
            if req.subresource == "status":
                return self.status(req)
        raise status.method_not_allowed(f"{req.method} is not supported on {req.subresource}")

    def scale(self, req: Request) -> dict:
        workload = self.store.require(req.rtype, req.namespace, req.name)
        current = _scale_of(workload)
        if req.method == "GET":
            return current
        if req.method == "PUT":
            wanted = req.json_body()
            given = (wanted.get("metadata") or {}).get("resourceVersion")
            if given and given != workload["metadata"]["resourceVersion"]:
                raise status.modified_conflict(req.rtype, req.name)
        elif req.method == "PATCH":
            wanted = self._patched(req, current)
        else:
            raise status.method_not_allowed(f"{req.method} is not supported on scale")
        replicas = (wanted.get("spec") or {}).get("replicas", 0)
        causes = validation.replicas_causes(replicas)
        if causes:
            raise status.invalid(r.SCALE, req.name, causes)
        workload["spec"]["replicas"] = replicas
        return _scale_of(self._write(req.rtype, workload, req.dry_run))

    def status(self, req: Request) -> dict:
        old = self.store.require(req.rtype, req.namespace, req.name)
        if req.method == "GET":
            return old
        new = self._patched(req, old) if req.method == "PATCH" else self._checked_body(req)
        self._check_identity(req, old, new)
        return self._write(req.rtype, {**old, "status": new.get("status")}, req.dry_run)

    def read_log(self, req: Request) -> Text:
        pod = self.store.require(r.POD, req.namespace, req.name)
        containers = [c["name"] for c in pod["spec"]["containers"]]
        container = req.query.get("container") or containers[0]
        if not req.query.get("container") and len(containers) > 1:
            raise status.bad_request(
                f"a container name must be specified for pod {req.name}, choose one of: "
                f"[{' '.join(containers)}]"
            )
        now = self.store.clock()
        lines = logs.log_lines(
            pod,
            container,
            previous=req.query.get("previous") == "true",
            scenario=self.scenario,
            started_at=self.started_at,
            now=now,
        )
        return Text(
            logs.render(
                lines,
                now=now,
                timestamps=req.query.get("timestamps") == "true",
                since_seconds=req.int_param("sinceSeconds"),
                since_time=req.query.get("sinceTime"),
                tail_lines=req.int_param("tailLines"),
                limit_bytes=req.int_param("limitBytes"),
            )
        )

    # metrics.k8s.io

    def _metrics(self, req: Request) -> dict:
        if req.method != "GET" or req.subresource:
            raise status.method_not_allowed(f"{req.method} is not supported on metrics")
        now = self.store.clock()
        with self.store.lock:
            if req.rtype is r.POD_METRICS:
                pods = self._matching(Request("GET", r.POD, req.namespace, None, None, req.query))
                items = [
                    metrics.pod_metrics(p, self.scenario, now)
                    for p in pods
                    if metrics.is_running(p)
                ]
            else:
                pods = self.store.list(r.POD)
                nodes = self._matching(Request("GET", r.NODE, None, None, None, req.query))
                items = [metrics.node_metrics(n, pods, self.scenario, now) for n in nodes]
        if req.name:
            found = [i for i in items if i["metadata"]["name"] == req.name]
            if not found:
                raise status.not_found(req.rtype, req.name)
            return found[0]
        return self._list_of(req.rtype, items, req)

    # Helpers.

    def _checked_body(self, req: Request) -> dict:
        body = req.json_body()
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if (kind and kind != req.rtype.kind) or (
            api_version and api_version != req.rtype.api_version
        ):
            raise status.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({req.rtype.api_version}) or kind ({kind} is not {req.rtype.kind})"
            )
        namespace = (body.get("metadata") or {}).get("namespace")
        if req.rtype.namespaced and namespace and namespace != req.namespace:
            raise status.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        return body

    def _patched(self, req: Request, target: dict) -> dict:
        try:
            return patching.apply(req.content_type, target, req.body)
        except patching.PatchError as e:
            raise status.invalid(req.rtype, req.name or "", [("patch", str(e))]) from e

    def _check_identity(self, req: Request, old: dict, new: dict) -> None:
        meta = new.setdefault("metadata", {})
        if meta.get("name", req.name) != req.name:
            raise status.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({req.name})"
            )
        given = meta.get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise status.modified_conflict(req.rtype, req.name)
        meta["name"] = req.name
        if req.rtype.namespaced:
            meta["namespace"] = req.namespace

    def _schedule(self, pod: dict) -> None:
        """What the scheduler and the kubelet do for a bare pod: place it and start it."""
        now = self.store.clock()
        node = node_of(pod["metadata"]["name"])
        pod["spec"]["nodeName"] = node
        history = ContainerHistory(running_since=now)
        pod["status"] = pod_status(pod["spec"], pod["metadata"]["name"], node, history, now)


def _scale_of(workload: dict) -> dict:
    meta = workload["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": workload["spec"].get("replicas", 1)},
        "status": {
            "replicas": (workload.get("status") or {}).get("replicas", 0),
            "selector": selector_string(workload["spec"].get("selector") or {}),
        },
    }


def _event_type(change: str, now_matches: bool, old_matches: bool) -> str | None:
    """How a watcher with a selector sees a change: entering, changing within, or leaving it."""
    if change == "DELETED" or not now_matches:
        return "DELETED" if old_matches else None
    return "MODIFIED" if old_matches else "ADDED"


def _decode_continue(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError as e:
        raise status.bad_request(f"invalid continue token {token!r}") from e


def _int_rv(value: str) -> int:
    try:
        return int(value)
    except ValueError as e:
        raise status.bad_request(f"invalid resourceVersion {value!r}") from e
