#!/usr/bin/env bash
# Checks that the workspace's `rust-version` is true: no locked dependency declares a newer
# minimum Rust than the workspace does (CI runs it; only this one toolchain can be had here,
# so the dependencies' own declarations are what we check against).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
def version(v):
    # "1.88" and "1.88.0" are the same release.
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))
members = set(meta["workspace_members"])
ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
if len(ours) != 1 or None in ours:
    sys.exit(f"every workspace crate must inherit one rust-version, found {sorted(map(str, ours))}")
ours = ours.pop()
newer = sorted((p["rust_version"], p["name"], p["version"]) for p in meta["packages"]
               if p["id"] not in members and p.get("rust_version")
               and version(p["rust_version"]) > version(ours))
if newer:
    need = max(newer, key=lambda t: version(t[0]))[0]
    for rv, name, v in newer:
        print(f"{name} {v} needs Rust {rv}", file=sys.stderr)
    sys.exit(f"rust-version = \"{ours}\" is not true: the locked dependencies need {need}")
print(f"rust-version {ours}: every locked dependency builds with it")
'
