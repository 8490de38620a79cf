#!/usr/bin/env bash
# Installs the Debian packages the sandbox needs when they are missing. As root it runs
# apt-get (once, only for what is missing); otherwise it prints exactly what to install.
set -euo pipefail

missing=()
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
command -v openssl >/dev/null || missing+=(openssl)   # the Kubernetes simulator's certificate
command -v pgrep >/dev/null || missing+=(procps)
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql-15 postgresql-contrib-15)
# kubectl: the machine's own build when present; Debian's kubernetes-client otherwise.
command -v kubectl >/dev/null || missing+=(kubernetes-client)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing Debian packages: ${missing[*]}" >&2
  echo "setup: run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
