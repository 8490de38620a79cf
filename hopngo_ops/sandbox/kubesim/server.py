"""The HTTP side: URL routing, authentication and authorization, discovery, JSON, Tables,
plain-text logs and chunked watch streams.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from hopngo_ops.sandbox.kubesim import discovery, status, tables
from hopngo_ops.sandbox.kubesim import resources as r
from hopngo_ops.sandbox.kubesim.api import Api, Request, Text
from hopngo_ops.sandbox.kubesim.rbac import Attributes, Authorizer

HEALTH_PATHS = ("/healthz", "/readyz", "/livez")
# Query flags clients spell True/true/1; the API reads them as "true".
BOOLEAN_PARAMS = ("watch", "previous", "timestamps", "follow", "pretty", "allowWatchBookmarks")
WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, port: int, api: Api, authorizer: Authorizer, tls: ssl.SSLContext | None = None
    ):
        super().__init__(("127.0.0.1", port), Handler)
        if tls is not None:
            # The handshake runs in the request's thread (Handler.setup), not in accept().
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )
        self.api, self.authorizer = api, authorizer
        # Set at shutdown so open watches end.
        self.stopping = threading.Event()


def not_found_path() -> status.ApiError:
    return status.ApiError(404, "NotFound", "the server could not find the requested resource")


def parse_resource_path(method: str, path: str, query: dict) -> tuple[Request, str]:
    """The Request a resource URL names, and its RBAC verb."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise not_found_path()
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and r.lookup(group, version, rest[2]):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise not_found_path()
    rtype = r.lookup(group, version, rest[0])
    if rtype is None or (namespace and not rtype.namespaced):
        raise not_found_path()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if rtype.namespaced and namespace is None and (name or method != "GET"):
        raise not_found_path()
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") == "true" else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = WRITE_VERBS.get(method, method.lower())
    return Request(method, rtype, namespace, name, subresource, query), verb


def discovery_document(path: str) -> dict | None:
    parts = [p for p in path.split("/") if p]
    if parts == ["api"]:
        return discovery.core_versions()
    if parts == ["api", "v1"]:
        return discovery.resource_list("", "v1")
    if parts == ["apis"]:
        return discovery.groups()
    if len(parts) == 2 and parts[0] == "apis":
        return discovery.group(parts[1]) or {}
    if len(parts) == 3 and parts[0] == "apis":
        return discovery.resource_list(parts[1], parts[2]) or {}
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimulatorServer

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        for key in BOOLEAN_PARAMS:
            if key in query:
                query[key] = "true" if query[key].lower() in ("true", "1") else "false"
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self._route(method, url.path, query, body)
        except status.ApiError as e:
            self._send_json(e.code, e.to_status())

    def _route(self, method: str, path: str, query: dict, body: bytes) -> None:
        if path in HEALTH_PATHS:
            self._send(200, b"ok", "text/plain; charset=utf-8")
            return
        if path == "/version":
            self._send_json(200, discovery.VERSION)
            return
        user = self.server.authorizer.authenticate(self.headers.get("Authorization"))
        document = discovery_document(path) if method == "GET" else None
        if document is not None:
            if not document:
                raise not_found_path()
            self._send_json(200, document)
            return
        req, verb = parse_resource_path(method, path, query)
        req = Request(
            req.method,
            req.rtype,
            req.namespace,
            req.name,
            req.subresource,
            query,
            body,
            self.headers.get("Content-Type", "application/json"),
        )
        self.server.authorizer.authorize(
            Attributes(
                user,
                verb,
                req.rtype.group,
                req.rtype.plural,
                req.subresource or "",
                req.name or "",
                req.namespace or "",
            )
        )
        if verb == "watch":
            self._stream(req)
            return
        result = self.server.api.handle(req)
        if isinstance(result, Text):
            self._send(200, result.data, "text/plain")
        else:
            self._send_json(200, self._as_table(req, result) if self._wants_table() else result)

    def _wants_table(self) -> bool:
        return "as=Table" in self.headers.get("Accept", "")

    def _as_table(self, req: Request, result: dict) -> dict:
        if result.get("kind") == "Status" or req.rtype.virtual or req.subresource:
            return result
        listed = "items" in result
        return tables.table(
            req.rtype.kind,
            result["items"] if listed else [result],
            now=self.server.api.store.clock(),
            include=req.query.get("includeObject", "Metadata"),
            metadata=result["metadata"] if listed else {},
        )

    def _stream(self, req: Request) -> None:
        events = self.server.api.watch(req, self.server.stopping)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                if self._wants_table():
                    event = {"type": event["type"], "object": self._as_table(req, event["object"])}
                self._chunk(json.dumps(event).encode() + b"\n")
        except status.ApiError as e:
            self._chunk(json.dumps({"type": "ERROR", "object": e.to_status()}).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            # The client went away: nothing is left to tell it.
            self.close_connection = True
            return
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_json(self, code: int, body: dict) -> None:
        self._send(code, json.dumps(body).encode(), "application/json")

    def _send(self, code: int, data: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
