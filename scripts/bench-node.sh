#!/usr/bin/env bash
# Benchmarks that start a real node (release build) on loopback and print figures:
#   * idle RSS of a relay-only node and of the default solo node after it converged;
#   * /chain/status requests per second under `wrk -c 10` (installs Debian's wrk if absent);
#   * start-up replay and full-validation import rates (cargo bench -p doin-node --bench replay).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/doin-target}"
cargo build --release --locked --bin doin-node
BIN="$CARGO_TARGET_DIR/release/doin-node"
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
wait_up() { for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.1; done; return 1; }

cat > "$WORK/relay.json" <<'JSON'
{"domains": [{"domain_id": "quadratic", "optimize": false, "evaluate": false,
  "optimization_plugin": "simple_quadratic", "param_bounds": {"x": [-20.0, 20.0]}}]}
JSON
"$BIN" --config "$WORK/relay.json" --port 18571 --data-dir "$WORK/relay" --log-level WARNING &
RELAY=$!
wait_up 18571
sleep 3
echo "idle RSS, relay-only node: $(( $(rss_kb $RELAY) / 1024 )) MB"

"$BIN" --port 18572 --data-dir "$WORK/solo" --log-level WARNING &
SOLO=$!
wait_up 18572
for _ in $(seq 1 180); do
  curl -s http://127.0.0.1:18572/status | grep -q '"converged":true' && break
  sleep 1
done
sleep 2
echo "RSS, default solo node after its domain converged: $(( $(rss_kb $SOLO) / 1024 )) MB (height $(curl -s http://127.0.0.1:18572/chain/status | sed 's/.*"chain_height":\([0-9]*\).*/\1/'))"

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || true; }
if command -v wrk >/dev/null; then
  echo "wrk -t 2 -c 10 -d 10s http://127.0.0.1:18572/chain/status:"
  wrk -t 2 -c 10 -d 10s http://127.0.0.1:18572/chain/status | grep -E "Requests/sec|Latency"
else
  echo "wrk not available; skipping the request-rate figure"
fi
kill $RELAY $SOLO
wait 2>/dev/null || true

cargo bench --locked -p doin-node --bench replay 2>/dev/null | grep blocks/s
