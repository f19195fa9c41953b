#!/usr/bin/env bash
# Builds Kahuna and starts (or stops) a local 3-node cluster on 127.0.0.1.
#
#   scripts/cluster.sh            build, then start nodes 1-3 on ports 7071-7073 (background),
#                                 their admin HTTP endpoints (/metrics, /health, /livez, /status) on 8071-8073
#   scripts/cluster.sh stop       stop them (SIGTERM, graceful)
#   scripts/cluster.sh status     show which nodes run
#
# Environment: KAHUNA_HOME (default ./.kahuna) holds data and logs; KAHUNA_NODES (default 3);
# KAHUNA_BASE_PORT (default 7071; admin endpoints 1000 above); KAHUNA_PARTITIONS (default 8).
set -euo pipefail
cd "$(dirname "$0")/.."

home="${KAHUNA_HOME:-$PWD/.kahuna}"
nodes="${KAHUNA_NODES:-3}"
base="${KAHUNA_BASE_PORT:-7071}"
partitions="${KAHUNA_PARTITIONS:-8}"
admin_base=$((base + 1000))
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/kahuna-server"

pids() { for i in $(seq 1 "$nodes"); do [ -f "$home/node-$i.pid" ] && cat "$home/node-$i.pid"; done; }
alive() { kill -0 "$1" 2>/dev/null; }

case "${1:-start}" in
  stop)
    stopping=0
    for i in $(seq 1 "$nodes"); do
      f="$home/node-$i.pid"
      if [ -f "$f" ] && alive "$(cat "$f")"; then kill -TERM "$(cat "$f")"; echo "stopping node $i"; stopping=1; fi
    done
    if [ $stopping -eq 0 ]; then
      echo "no node of $home is running (a cluster started with another KAHUNA_HOME or KAHUNA_NODES" \
        "needs the same settings here)" >&2
    fi
    for _ in $(seq 1 100); do
      running=0; for p in $(pids); do alive "$p" && running=1; done
      [ $running -eq 0 ] && break; sleep 0.1
    done
    rm -f "$home"/node-*.pid
    exit 0 ;;
  status)
    for i in $(seq 1 "$nodes"); do
      f="$home/node-$i.pid"
      if [ -f "$f" ] && alive "$(cat "$f")"; then
        echo "node $i: running (pid $(cat "$f")), 127.0.0.1:$((base + i - 1)), admin http://127.0.0.1:$((admin_base + i - 1))"
      else echo "node $i: stopped"; fi
    done
    exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

scripts/deps.sh
cargo build --release --workspace --bins
mkdir -p "$home"

peers=""
for i in $(seq 1 "$nodes"); do peers="${peers:+$peers,}$i=127.0.0.1:$((base + i - 1))"; done

for i in $(seq 1 "$nodes"); do
  f="$home/node-$i.pid"
  if [ -f "$f" ] && alive "$(cat "$f")"; then echo "node $i already running (pid $(cat "$f"))"; continue; fi
  "$bin" --node-id "$i" --listen "127.0.0.1:$((base + i - 1))" --peers "$peers" \
    --admin-listen "127.0.0.1:$((admin_base + i - 1))" --data-dir "$home/node-$i" --partitions "$partitions" >>"$home/node-$i.log" 2>&1 &
  echo $! >"$f"
done

# Wait until every node logged that it is ready (or died).
for i in $(seq 1 "$nodes"); do
  for _ in $(seq 1 100); do
    grep -q "kahuna-server ready" "$home/node-$i.log" 2>/dev/null && break
    alive "$(cat "$home/node-$i.pid")" || { echo "node $i failed to start:"; tail -20 "$home/node-$i.log"; exit 1; }
    sleep 0.1
  done
done

endpoints=""
for i in $(seq 1 "$nodes"); do endpoints="${endpoints:+$endpoints,}127.0.0.1:$((base + i - 1))"; done
# `stop` and `status` must see the same settings: print them with the ones that were changed.
settings=""
[ -n "${KAHUNA_HOME:-}" ] && settings="$settings KAHUNA_HOME=$home"
[ -n "${KAHUNA_NODES:-}" ] && settings="$settings KAHUNA_NODES=$nodes"
[ -n "${KAHUNA_BASE_PORT:-}" ] && settings="$settings KAHUNA_BASE_PORT=$base"
settings="${settings# }${settings:+ }"
release="${CARGO_TARGET_DIR:-target}/release"
cat <<TXT

Kahuna is running: $nodes nodes, $partitions partitions.
  endpoints : $endpoints
  admin     : http://127.0.0.1:$admin_base/metrics, /health, /livez, /status (node 1; node i at $admin_base + i - 1)
  data      : $home/node-<id>/
  logs      : $home/node-<id>.log
  stop      : ${settings}scripts/cluster.sh stop
  status    : ${settings}scripts/cluster.sh status

Try it:   export KAHUNA_ENDPOINTS=$endpoints
          $release/kahuna-example-rust
          $release/kahuna-cli set greeting hello
TXT
