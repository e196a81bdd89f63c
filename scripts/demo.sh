#!/usr/bin/env bash
# Quickstart: starts a throwaway local Valkey cluster (3 primaries + 3 replicas) with
# sample data and steady traffic that makes a few slots on one primary hot, then runs
# the exporter against it on 127.0.0.1:9765.
# Installs valkey-server 8 (and Rust) when missing. Ctrl-C stops everything.
#   DEMO_BASE_PORT=7100  first node port (nodes use 6 ports from there, +10000 for the bus)
#   DEMO_LISTEN=127.0.0.1:9765
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/ensure-rust.sh
bash scripts/install-deps.sh valkey

base=${DEMO_BASE_PORT:-7100}
listen=${DEMO_LISTEN:-127.0.0.1:9765}
dir=$(mktemp -d "${TMPDIR:-/tmp}/valkey-slot-exporter-demo.XXXXXX")
ports=()
for i in 0 1 2 3 4 5; do ports+=($((base + i))); done

traffic_pid=""
cleanup() {
  # `|| true`: under set -e a traffic loop that already died must not stop the
  # servers' shutdown below.
  if [ -n "$traffic_pid" ]; then kill "$traffic_pid" 2>/dev/null || true; fi
  for p in "${ports[@]}"; do valkey-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 130" INT TERM

echo "== building the exporter (release)"
cargo build --release --quiet

echo "== starting 6 valkey-server nodes on ports ${ports[0]}-${ports[5]} in $dir"
for p in "${ports[@]}"; do
  if valkey-cli -p "$p" ping >/dev/null 2>&1; then
    echo "port $p is in use; set DEMO_BASE_PORT to a free range" >&2; exit 1
  fi
  mkdir -p "$dir/$p"
  valkey-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
    --dir "$dir/$p" --save "" --appendonly no --cluster-slot-stats-enabled yes \
    --daemonize yes --logfile "$dir/$p/valkey.log"
done
for p in "${ports[@]}"; do
  until valkey-cli -p "$p" ping >/dev/null 2>&1; do sleep 0.1; done
done
valkey-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 --cluster-yes >/dev/null
for p in "${ports[@]}"; do
  until valkey-cli -p "$p" cluster info | grep -q 'cluster_state:ok'; do sleep 0.2; done
done

echo "== loading sample data: 100k keys across all slots"
valkey-benchmark --cluster -h 127.0.0.1 -p "${ports[0]}" -t set -n 100000 -r 100000 -d 64 -q >/dev/null
# valkey-benchmark does not follow MOVED for custom commands: find the hot key's owner.
for p in "${ports[@]}"; do
  if [ "$(valkey-cli -p "$p" set '{hot}:counter' 1 2>/dev/null)" = "OK" ]; then hot_port=$p; break; fi
done
# Three more busy slots on the same primary, so that it carries far more than its share.
warm=()
for i in $(seq 1 500); do
  [ "$(valkey-cli -p "$hot_port" set "{warm$i}:counter" 1 2>/dev/null)" = "OK" ] && warm+=("{warm$i}:counter")
  [ ${#warm[@]} -ge 3 ] && break
done

# The port of the primary that owns `key` now: the traffic follows a slot that
# `plan --apply` moved, as a cluster client would.
owner_port() {
  local reply
  reply=$(valkey-cli -p "${ports[0]}" get "$1" 2>&1 || true)
  case "$reply" in *MOVED*) echo "${reply##*:}" ;; *) echo "${ports[0]}" ;; esac
}

echo "== steady traffic: {hot} and ${warm[*]} on 127.0.0.1:$hot_port, light reads everywhere"
(
  while :; do
    valkey-benchmark -h 127.0.0.1 -p "$(owner_port '{hot}:counter')" -n 3000 -q get '{hot}:counter' >/dev/null
    n=2000
    for key in "${warm[@]}"; do
      valkey-benchmark -h 127.0.0.1 -p "$(owner_port "$key")" -n "$n" -q get "$key" >/dev/null
      n=$((n - 500))
    done
    valkey-benchmark --cluster -h 127.0.0.1 -p "${ports[0]}" -t get -n 3000 -r 100000 -q >/dev/null
    sleep 1
  done
) &
traffic_pid=$!

cat <<MSG
== exporter on http://$listen (Ctrl-C to stop and remove the cluster)
   open http://$listen/ in a browser: the slot map, hot slots and balance, live
   curl -s http://$listen/metrics | grep -E '^valkey_node_'
   curl -s 'http://$listen/api/cluster/slot-stats?start_slot=0&end_slot=3'
   curl -s 'http://$listen/api/cluster/hot-slots?limit=5'          # hottest slots now (after 2 snapshots)
   curl -s http://$listen/api/cluster/balance
   curl -s 'http://$listen/api/cluster/rebalance-plan?by=cpu'
MSG
./target/release/valkey-slot-exporter --nodes "redis://127.0.0.1:${ports[0]}" --listen "$listen" --cache-ttl 5s
