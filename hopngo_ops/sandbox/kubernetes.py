"""The sandbox's Kubernetes: the API simulator (`kubesim`) on a free port, its tokens and a
kubeconfig with one context per user.

It serves HTTPS with a self-signed certificate made here: kubectl (client-go) sends a
kubeconfig's bearer token only over TLS, so over plain HTTP every kubectl request would be
anonymous and RBAC could not tell the contexts apart.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
import subprocess
from pathlib import Path

import yaml

from hopngo_ops.errors import SandboxError
from hopngo_ops.sandbox import procs
from hopngo_ops.sandbox.context import SandboxContext
from hopngo_ops.sandbox.drivers import start_driver
from hopngo_ops.sandbox.scenarios import NAMESPACE
from hopngo_ops.sandbox.secret_files import write_private

COMPONENT = "kubernetes"
CLUSTER = "hopngo-sandbox"
# user -> the kubeconfig context that authenticates as that user.
CONTEXTS = {
    "admin": CLUSTER,
    "readonly": f"{CLUSTER}-readonly",
    "remediation": f"{CLUSTER}-remediation",
}
READY_TIMEOUT = 30.0
REPO_ROOT = Path(__file__).resolve().parents[2]
RBAC_DIR = REPO_ROOT / "deploy" / "rbac"


def start(ctx: SandboxContext) -> dict:
    """Start the simulator, wait until it answers, write the kubeconfig; return its targets."""
    port = procs.free_port()
    url = f"https://127.0.0.1:{port}"
    cert, key = _make_certificate(ctx.dir("kube-tls"))
    tokens = {user: secrets.token_urlsafe(32) for user in CONTEXTS}
    tokens_file = write_private(ctx.state_dir / "kube-tokens.json", json.dumps(tokens, indent=2))
    log = ctx.dir("logs") / "kubesim.log"
    args = [
        "--port",
        str(port),
        "--scenario",
        ctx.scenario.name,
        "--started-at",
        repr(ctx.started_at),
        "--tokens",
        str(tokens_file),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
    ]
    if RBAC_DIR.is_dir():
        args += ["--rbac-dir", str(RBAC_DIR)]
    pid = start_driver(ctx, COMPONENT, "hopngo_ops.sandbox.kubesim", args, log)
    tls = ssl.create_default_context(cafile=str(cert))
    procs.wait_until(
        lambda: procs.http_ok(f"{url}/readyz", tls=tls),
        component=COMPONENT,
        what="ready (/readyz)",
        timeout=READY_TIMEOUT,
        log=log,
        pid=pid,
    )
    kubeconfig = write_private(
        ctx.state_dir / "kubeconfig", yaml.safe_dump(_kubeconfig(url, tokens, cert))
    )
    return {
        "kubeconfig": str(kubeconfig),
        "kube_context": CLUSTER,
        "namespace": NAMESPACE,
        "kube_api_url": url,
    }


def _make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA in the kubeconfig)."""
    openssl = procs.require_binary("openssl", "openssl")
    cert, key = folder / "server.crt", folder / "server.key"
    argv = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "30", "-subj", "/CN=kubesim", "-keyout", str(key), "-out", str(cert),
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]  # fmt: skip
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as e:
        raise SandboxError(f"openssl failed: {e.stderr.strip()}", component=COMPONENT) from e
    os.chmod(key, 0o600)
    return cert, key


def _kubeconfig(url: str, tokens: dict[str, str], cert: Path) -> dict:
    authority = base64.b64encode(cert.read_bytes()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": CLUSTER, "cluster": {"server": url, "certificate-authority-data": authority}}
        ],
        "users": [
            {"name": f"{CLUSTER}-{user}", "user": {"token": tokens[user]}} for user in CONTEXTS
        ],
        "contexts": [
            {
                "name": context,
                "context": {
                    "cluster": CLUSTER,
                    "user": f"{CLUSTER}-{user}",
                    "namespace": NAMESPACE,
                },
            }
            for user, context in CONTEXTS.items()
        ],
        "current-context": CLUSTER,
        "preferences": {},
    }
