#!/usr/bin/env python3
"""By-hand interop check: the Python reference's own code follows a doin node's chain.

Fetches every block from a doin node (`GET /chain/status`, `GET /chain/blocks` in ranges
of 50, as the reference's sync does), then runs the reference's own code on them:
doin-core's `Block` model, doin-node's `ChainDB.append_block` (its sync's append rule:
index, previous hash, merkle root over the transaction ids, header hash, tx_id primary
key), and the readers of its derived state (`ReputationTracker.rebuild_from_chain`,
`ForkChoiceRule.score_chain`, `collect_chain_metrics`). Prints what they read; exits
non-zero if the reference refuses a block.

Needs Python 3.10+ with pydantic 2 and cryptography, and the reference's sources:

    (the reference's doin-core and doin-node repositories, checked out beside)
    scripts/reference-follow.py --core doin-core/src --node doin-node/src \\
        --url http://127.0.0.1:8470

`--blocks FILE` reads a JSON list of blocks (or a `/chain/blocks` answer) instead of a
node. The CI counterpart is `doin_consensus::reference::sync` and its tests.
"""

import argparse
import collections
import importlib.util
import json
import sys
import tempfile
import urllib.request


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fetch(url):
    status = json.load(urllib.request.urlopen(f"{url}/chain/status"))
    height, out = status["chain_height"], []
    while len(out) < height:
        start = len(out)
        page = json.load(
            urllib.request.urlopen(
                f"{url}/chain/blocks?from={start}&to={min(height - 1, start + 49)}"
            )
        )
        if not page["blocks"]:
            break
        out += page["blocks"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--core", required=True, help="doin-core's src directory")
    ap.add_argument("--node", required=True, help="doin-node's src directory")
    ap.add_argument("--url", default="http://127.0.0.1:8470", help="the doin node")
    ap.add_argument("--blocks", help="a JSON file of blocks instead of a node")
    args = ap.parse_args()

    sys.path[:0] = [args.core]
    from doin_core.consensus.fork_choice import ForkChoiceRule
    from doin_core.models.block import Block
    from doin_core.models.reputation import ReputationTracker

    chaindb = load("chaindb", f"{args.node}/doin_node/storage/chaindb.py")
    metrics = load("chain_metrics", f"{args.node}/doin_node/stats/chain_metrics.py")

    if args.blocks:
        raw = json.load(open(args.blocks))
        raw = raw["blocks"] if isinstance(raw, dict) else raw
    else:
        raw = fetch(args.url)
    # The reference has its own genesis (the same block); it appends from index 1.
    raw = [b for b in raw if b["header"]["index"] > 0]

    db = chaindb.ChainDB(tempfile.mktemp(suffix=".db"))
    db.open()
    db.initialize()
    for b in raw:
        block = Block.model_validate(b)
        try:
            db.append_block(block)
        except Exception as e:  # what its sync logs before it stops
            sys.exit(f"the reference refuses block {block.header.index}: {e}")
    print(f"appended {len(raw)} blocks; reference height {db.height}")

    stored = db.get_blocks_range(0, db.height - 1)
    types = collections.Counter(t.tx_type.value for b in stored for t in b.transactions)
    print("stored transactions by type:", dict(types))
    txs = [t.model_dump(mode="json") for b in stored for t in b.transactions]
    reputation = ReputationTracker()
    reputation.rebuild_from_chain(txs)
    optimizers = sorted({t["peer_id"] for t in txs if t["tx_type"].startswith("optimae_")})
    for peer in optimizers:
        s = reputation.get(peer)
        print(
            f"reputation {peer[:12]}: {s.optimae_accepted} accepted, "
            f"{s.optimae_rejected} rejected, score {s.score:.2f}"
        )
    score = ForkChoiceRule().score_chain(
        stored[-1].hash,
        len(stored),
        [
            {
                "height": b.header.index,
                "hash": b.hash,
                "transactions": [t.model_dump(mode="json") for t in b.transactions],
            }
            for b in stored
        ],
    )
    print(
        f"fork choice: cumulative increment {score.cumulative_increment}, "
        f"{score.optimae_accepted_count} accepted"
    )
    rows = metrics.collect_chain_metrics(stored)
    with_metrics = sum(r["experiment_id"] is not None for r in rows)
    print(f"chain metrics: {len(rows)} rows, {with_metrics} with experiment metrics")


if __name__ == "__main__":
    main()
