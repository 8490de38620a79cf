"""`python -m hopngo_ops.sandbox.kubesim --port P --scenario NAME --started-at EPOCH
--tokens TOKENS.json [--rbac-dir DIR] [--tls-cert CERT --tls-key KEY]`: serve the scenario's
cluster until SIGTERM."""

from __future__ import annotations

import argparse
import signal
import ssl
import threading
from pathlib import Path

from hopngo_ops.sandbox.kubesim import controllers, rbac, seed
from hopngo_ops.sandbox.kubesim.api import Api
from hopngo_ops.sandbox.kubesim.server import SimulatorServer
from hopngo_ops.sandbox.kubesim.store import Store
from hopngo_ops.sandbox.scenarios import get_scenario


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kubesim", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--started-at", type=float, required=True, help="epoch seconds")
    parser.add_argument("--tokens", type=Path, required=True, help="JSON: user -> token")
    parser.add_argument("--rbac-dir", type=Path, help="Role/RoleBinding YAML (optional)")
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    scenario = get_scenario(args.scenario)
    store = Store()
    seed.seed(store, scenario, args.started_at)
    controllers.reconcile(store)
    authorizer = rbac.Authorizer(rbac.read_tokens(args.tokens), rbac.load_rules(args.rbac_dir))
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    server = SimulatorServer(args.port, Api(store, scenario, args.started_at), authorizer, tls)

    def stop(signum: int, _frame: object) -> None:
        server.stopping.set()
        # shutdown() waits for serve_forever, which runs in this (the main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheme = "https" if tls else "http"
    print(f"kubesim: scenario {scenario.name} on {scheme}://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    print("kubesim: stopped", flush=True)


if __name__ == "__main__":
    main()
