#!/usr/bin/env bash
# The demo: a sandbox with booking-service down, the service_down runbook run against it
# headlessly, its findings and the record's path printed, the sandbox stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh folder the postgres user can reach, wherever the checkout is (even under /root).
state_root=$(mktemp -d)
chmod 711 "$state_root"
export HOPNGO_SANDBOX_DIR="$state_root/sandbox"
cli=.venv/bin/hopngo-ops
trap '$cli sandbox down; rm -rf "$state_root"' EXIT
$cli sandbox up --scenario service_down
output=$($cli run service_down -p service booking-service --profile sandbox)
echo "$output"
record=$(tail -n 1 <<<"$output")
echo
echo "What the runbook found (from the record's metadata):"
.venv/bin/python - "$record" <<'PY'
import sys

import nbformat

meta = nbformat.read(sys.argv[1], as_version=4).metadata["hopngo"]
print(f"  status {meta['status']}, worst finding {meta['worst_severity']}")
for finding in meta["findings"]:
    print(f"  [{finding['severity']:>8}] {finding['check']}: {finding['message'][:110]}")
PY
echo
echo "demo: the executed runbook (incident evidence) is $record"
echo "demo: open it in JupyterLab with: .venv/bin/jupyter lab $record"
