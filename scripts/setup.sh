#!/usr/bin/env bash
# Everything `make test`, `make bench` and `make reliability` need beyond the Python environment:
# the local services (PostgreSQL, Redis, RabbitMQ) started when they are down, Debian's chromium and
# wrk installed when missing, and the Jasmin SMS gateway's own venv (bench/.venv-jasmin).
# Idempotent and quick (well under a second) when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

up() { timeout 2 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }
wait_for() {
  for _ in $(seq 1 90); do up "$1" && return 0; sleep 1; done
  echo "setup: the service on port $1 did not come up" >&2
  return 1
}

if ! up 5432; then
  echo "setup: starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  wait_for 5432
fi
if ! up 6379; then
  echo "setup: starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 6379
fi
if ! up 5672; then
  echo "setup: starting RabbitMQ" >&2
  rabbitmq-server -detached
  wait_for 5672
fi

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} (Debian)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# axe-core (browser tests only; pinned, as in tests/dashboard/browser.py) into the git-ignored var/axe.
if [ ! -f var/axe/node_modules/axe-core/axe.min.js ]; then
  npm install --no-audit --no-fund --prefix var/axe axe-core@4.10.3 >/dev/null
fi

# The Jasmin SMS gateway (SMPP interop test, benchmarks) in its own venv (idempotent).
venv="$(bash bench/jasmin/setup.sh)"
echo "setup: services up, chromium and wrk installed, Jasmin venv $venv" >&2
