#!/usr/bin/env bash
# The performance benchmark (docs/performance.md), from a fresh Debian/Ubuntu machine:
# installs valkey-server 8, Valkey 9.1 (the moves section), prometheus and nginx when
# missing, runs the micro-benchmarks (parse, merge, render, gzip, JSON), then the
# system benchmark, which starts its own Valkey clusters, exporters, Prometheus servers
# and nginx on 127.0.0.1 and stops them all when done. It is not part of the test
# suite. Takes about 24 minutes on 2 cores (9-10 with --quick); the prometheus section
# alone is about 7 of them, the fleet section (150 Valkey nodes) about 11.
#
# Usage: scripts/bench.sh [--quick] [--no-micro]
# The system report is printed and written to target/bench-report.md.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
micro=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick) ;;
    --no-micro) micro=0 ;;
    *) echo "usage: scripts/bench.sh [--quick] [--no-micro]" >&2; exit 2 ;;
  esac
done

. scripts/ensure-rust.sh
bash scripts/install-deps.sh valkey prometheus valkey9

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  export DEBIAN_FRONTEND=noninteractive
  sudo_ apt-get update -qq
  sudo_ apt-get install -y -qq --no-install-recommends nginx-light
  # The package starts a server on port 80 where systemd runs; the benchmark starts its own.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    sudo_ systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
fi
export PATH="$PATH:/usr/sbin"

if [ "$micro" = 1 ]; then
  echo "== micro-benchmarks (cargo bench --bench micro)"
  cargo bench --bench micro
fi
echo "== system benchmark (cargo bench --bench system)"
cargo bench --bench system -- "${quick[@]}"
