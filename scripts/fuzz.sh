#!/usr/bin/env bash
# Builds and runs every cargo-fuzz target in fuzz/ for a bounded time each, one after the
# other, and prints per target the executions libFuzzer made and the findings it saved.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer needs unstable compiler flags;
# on a stable toolchain the script sets RUSTC_BOOTSTRAP=1 so stable rustc accepts them.
# The sanitizer defaults to none (the code is safe Rust; overflow and debug assertions stay
# on, as cargo-fuzz builds with -Cdebug-assertions): set FUZZ_SANITIZER=address for ASan.
# Corpora, seeds and crash artifacts go under $FUZZ_WORK (default
# ${CARGO_TARGET_DIR:-fuzz/target}/fuzz-work), never into the repository. Each run starts
# from the tiny seeds in fuzz/seeds/ plus wire samples, test vectors and configs from
# testdata/ and the crates, and from the corpus earlier runs grew.
# Exit status: 1 if any target found a crash, a hang or a memory blow-up.
set -euo pipefail

secs=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-none}
work=${FUZZ_WORK:-${CARGO_TARGET_DIR:-$root/fuzz/target}/fuzz-work}
# The peer_book target writes its input to a file each run: keep that in memory if possible.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

# Seeds from the repository's own data, per target.
seed() {
    local t=$1 dir=$work/seeds/$t vectors=$root/testdata/reference/test-vectors.json
    local samples=$root/testdata/reference/wire-samples
    rm -rf "$dir" && mkdir -p "$dir"
    if [ -d "seeds/$t" ]; then cp seeds/"$t"/* "$dir"/; fi
    vec() { # category key: one seed file per test vector's field (text as is, else JSON)
        jq -r --arg c "$1" --arg k "$2" \
            'limit(40; .[$c][]?[$k] // empty | if type == "string" then . else tojson end)
             | gsub("\n"; " ")' "$vectors" | split -l 1 - "$dir/$1-$2-"
    }
    case $t in
    json_value) cp "$samples"/*.json "$dir"/ && vec cjson input_json && vec synthetic_data_hash data ;;
    message) vec message_dedupe_id http_body && vec message_dedupe_id gossip_body ;;
    block) vec block_hash wire && cp "$samples"/api_chain_block_3.json "$dir"/ ;;
    transaction)
        vec transaction_id wire && vec coinbase_id wire && vec transfer_id wire &&
            vec payment_state_hash fields ;;
    optimae_task_vote)
        vec optimae_id wire && vec task_id wire &&
            jq -c '.tasks[]' "$samples"/api_tasks_pending.json | split -l 1 - "$dir/pending-" ;;
    node_config) cp "$root"/testdata/reference/configs/*.json "$root"/crates/doin-node/src/default_config.json "$dir"/ ;;
    net_frames)
        cp "$samples"/api_chain_status.json "$samples"/api_chain_blocks_from_0_to_5.json \
            "$samples"/api_peers.json "$dir"/ ;;
    esac
}

echo "building ${#targets[@]} fuzz targets (sanitizer: $sanitizer)"
cargo fuzz build --sanitizer "$sanitizer" >/dev/null
# Run the built binaries directly: a later edit of the sources does not rebuild mid-run.
bin=${CARGO_TARGET_DIR:-$root/fuzz/target}/$(rustc -vV | sed -n 's/^host: //p')/release
failed=0
for t in "${targets[@]}"; do
    seed "$t"
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
    log=$work/$t.log
    set +e
    "$bin/$t" "$work/corpus/$t" "$work/seeds/$t" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | grep -o '[0-9]*')
    found=$(find "$work/artifacts/$t" -type f | wc -l)
    echo "$t: ${secs}s, executions ${runs:-?}, coverage ${cov:-?} edges, corpus $(find "$work/corpus/$t" -type f | wc -l), findings $found, exit $rc"
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        failed=1
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -n 5 | sed 's/^/    /'
        find "$work/artifacts/$t" -type f | sed 's/^/    artifact: /'
    fi
done
exit $failed
