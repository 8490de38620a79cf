#!/usr/bin/env bash
# The demo: a sandbox with booking-service down, the service_down runbook run against it
# headlessly, the record's path printed, the sandbox stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."
export HOPNGO_SANDBOX_DIR="$PWD/.sandbox-demo"
cli=.venv/bin/hopngo-ops
trap '$cli sandbox down' EXIT
$cli sandbox up --scenario service_down
record=$($cli run service_down -p service booking-service --profile sandbox | tail -n 1)
echo
echo "demo: the executed runbook (incident evidence) is $record"
