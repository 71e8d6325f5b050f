#!/usr/bin/env bash
# The HTTP server under attack (issue 16): starts the release node on loopback once per
# attack and prints its peak RSS and /health latency beside the idle figures (slow bodies,
# slowloris under `ulimit -n 1024`, unread exports, an inference flood with a new client
# id per request). See crates/doin-node/benches/attacks.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/doin-target}"
# The attacker holds more than a thousand connections.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo bench --locked -p doin-node --bench attacks
