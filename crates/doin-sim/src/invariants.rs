//! The invariants a run checks as it goes, each independent of the code it checks where
//! it can be:
//! * **one finality** — no two nodes ever finalize different blocks at a height
//!   ([`FinalityRecord`]);
//! * **supply** — on every node after every block, Σ balances + locked = minted − burned
//!   ([`check_block`]);
//! * **quorum** — every accepted optimae carries the votes of every member of the quorum
//!   drawn at its parent, at least two thirds of them agreeing ([`check_block`]);
//! * **valid chains** — every kept block replays with full validation, signatures
//!   included, to the node's state ([`check_chain`]);
//! * **convergence**, **liveness** and **no storm** (a bounded number of events), checked by the simulator over time
//!   ([`crate::sim`]).

use std::collections::BTreeMap;
use std::fmt;

use doin_consensus::accepted::AcceptedOptimae;
use doin_consensus::{BlockSummary, ChainState};
use doin_primitives::models::Block;

use crate::node::Node;
use crate::queue::short;

/// A broken invariant.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// Two nodes finalized different blocks at one height.
    FinalityConflict {
        /// The height.
        height: u64,
        /// The node that finalized first, and its block.
        first: (usize, String),
        /// The node that disagreed, and its block.
        second: (usize, String),
    },
    /// After the heal, the nodes did not agree on one tip within the bound.
    NoConvergence {
        /// The tips (node, height, hash) at the bound.
        tips: Vec<(usize, u64, String)>,
    },
    /// A node's chain does not replay with full validation to its state.
    InvalidChain {
        /// The node.
        node: usize,
        /// What failed.
        detail: String,
    },
    /// Σ balances + locked ≠ minted − burned on a node.
    Supply {
        /// The node.
        node: usize,
        /// The sums.
        detail: String,
    },
    /// An accepted optimae without its quorum's votes.
    Quorum {
        /// The node that accepted it.
        node: usize,
        /// What was missing.
        detail: String,
    },
    /// The network never settles: far more events than a run takes (nodes relaying
    /// to each other without end).
    Storm {
        /// Events processed when the run stopped.
        events: u64,
    },
    /// The chain stopped growing while optimizers worked.
    Liveness {
        /// What stalled.
        detail: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::FinalityConflict {
                height,
                first,
                second,
            } => write!(
                f,
                "finality conflict at height {height}: node {} finalized {}, node {} finalized {}",
                first.0,
                short(&first.1),
                second.0,
                short(&second.1)
            ),
            Violation::NoConvergence { tips } => {
                write!(f, "no single tip after the heal:")?;
                for (n, h, hash) in tips {
                    write!(f, " {n}:{h}/{}", short(hash))?;
                }
                Ok(())
            }
            Violation::InvalidChain { node, detail } => {
                write!(f, "invalid chain at node {node}: {detail}")
            }
            Violation::Supply { node, detail } => {
                write!(f, "supply broken at node {node}: {detail}")
            }
            Violation::Quorum { node, detail } => {
                write!(f, "quorum missing at node {node}: {detail}")
            }
            Violation::Storm { events } => write!(f, "message storm: {events} events"),
            Violation::Liveness { detail } => write!(f, "liveness: {detail}"),
        }
    }
}

/// The quorum of each optimae `block` accepts, drawn at `parent` (the state the block
/// applies to): (optimae id, quorum, whether the optimizer verified itself).
pub fn quorums_of(parent: &ChainState, block: &Block) -> Vec<(String, Vec<String>, bool)> {
    let Ok(layout) = block.layout() else {
        return Vec::new();
    };
    let at = block.header.timestamp.unix_micros();
    layout
        .accepted
        .iter()
        .filter_map(|tx| AcceptedOptimae::from_tx(tx).ok())
        .filter_map(|a| {
            let q = parent
                .quorum_for_at(&a.domain_id, &a.optimizer_id, a.commit_height, at)
                .ok()?;
            let solo = q.len() == 1 && q[0] == a.optimizer_id;
            Some((a.optimae_id, q, solo))
        })
        .collect()
}

/// Checks an applied block: every optimae it accepted had its quorum (`quorums` from
/// [`quorums_of`] at the parent), and the supply holds in `after` (`leak` is added to the
/// balances: a planted bug).
pub fn check_block(
    node: usize,
    quorums: &[(String, Vec<String>, bool)],
    summary: &BlockSummary,
    after: &ChainState,
    leak: u64,
    out: &mut Vec<Violation>,
) {
    for o in &summary.optimae {
        let Some((_, quorum, solo)) = quorums.iter().find(|(id, _, _)| *id == o.optimae_id) else {
            out.push(Violation::Quorum {
                node,
                detail: format!("no quorum drawn for {}", short(&o.optimae_id)),
            });
            continue;
        };
        let voted = |m: &String| o.votes.iter().any(|(e, _)| e == m);
        let missing: Vec<&String> = quorum.iter().filter(|m| !voted(m)).collect();
        let counted: Vec<bool> = o
            .votes
            .iter()
            .filter(|(e, _)| *solo || quorum.contains(e))
            .map(|(_, agreed)| *agreed)
            .collect();
        let agree = counted.iter().filter(|a| **a).count();
        if !missing.is_empty() || counted.is_empty() || 3 * agree < 2 * counted.len() {
            out.push(Violation::Quorum {
                node,
                detail: format!(
                    "optimae {} at {}: quorum {quorum:?}, missing {missing:?}, {agree} of {} agree",
                    short(&o.optimae_id),
                    summary.height,
                    counted.len()
                ),
            });
        }
    }
    check_supply(node, after, leak, out);
}

/// Σ balances (+ `leak`) + locked = minted − burned.
pub fn check_supply(node: usize, state: &ChainState, leak: u64, out: &mut Vec<Violation>) {
    let balances: u128 = state
        .balances()
        .values()
        .map(|b| u128::from(*b))
        .sum::<u128>()
        + u128::from(leak);
    let held = balances + u128::from(state.total_locked());
    let issued = i128::from(state.total_minted()) - i128::from(state.total_burned());
    if i128::try_from(held).ok() != Some(issued) {
        out.push(Violation::Supply {
            node,
            detail: format!(
                "balances {balances} + locked {} != minted {} - burned {} at height {}",
                state.total_locked(),
                state.total_minted(),
                state.total_burned(),
                state.height()
            ),
        });
    }
}

/// Replays `node`'s kept blocks with full validation (every signature checked) and
/// compares the result with its state.
pub fn check_chain(node: &Node, out: &mut Vec<Violation>) {
    let params = node.state.params().clone();
    match ChainState::replay(params, node.blocks.iter().map(|b| &**b)) {
        Ok(replayed) if replayed == *node.state => {}
        Ok(replayed) => out.push(Violation::InvalidChain {
            node: node.index,
            detail: format!(
                "replay gives height {} tip {}, the node holds height {} tip {}",
                replayed.height(),
                short(replayed.tip_hash()),
                node.state.height(),
                short(node.state.tip_hash())
            ),
        }),
        Err(e) => out.push(Violation::InvalidChain {
            node: node.index,
            detail: e.to_string(),
        }),
    }
}

/// Every checkpoint any node finalized, with the first node that did.
#[derive(Default)]
pub struct FinalityRecord {
    by_height: BTreeMap<u64, (usize, String)>,
    /// When each height was first finalized (virtual µs), for the metrics.
    pub first_at: BTreeMap<u64, i64>,
}

impl FinalityRecord {
    /// Records the checkpoints `node` finalized since it last reported, and flags any that
    /// another node finalized differently.
    pub fn record(&mut self, node: &mut Node, now: i64, out: &mut Vec<Violation>) {
        let finalized = node.state.finalized_height();
        self.record_final(node, finalized, now, out);
    }

    /// As [`FinalityRecord::record`], finality judged by depth alone: the highest
    /// checkpoint `finality_depth` blocks below the tip ([`PlantedBug::FinalityByDepth`]).
    ///
    /// [`PlantedBug::FinalityByDepth`]: crate::config::PlantedBug::FinalityByDepth
    pub fn record_by_depth(&mut self, node: &mut Node, now: i64, out: &mut Vec<Violation>) {
        let depth = node.state.params().finality_depth.max(1);
        let finalized = node
            .state
            .height()
            .checked_sub(depth)
            .map_or(0, |deepest| deepest - deepest % depth);
        self.record_final(node, finalized, now, out);
    }

    fn record_final(
        &mut self,
        node: &mut Node,
        finalized: u64,
        now: i64,
        out: &mut Vec<Violation>,
    ) {
        let depth = node.state.params().finality_depth.max(1);
        let mut h = node.reported_final + depth;
        while h <= finalized {
            if let Some(hash) = node.hash_at(h) {
                match self.by_height.get(&h) {
                    Some((first, theirs)) if theirs != hash => {
                        out.push(Violation::FinalityConflict {
                            height: h,
                            first: (*first, theirs.clone()),
                            second: (node.index, hash.to_owned()),
                        })
                    }
                    Some(_) => {}
                    None => {
                        self.by_height.insert(h, (node.index, hash.to_owned()));
                        self.first_at.insert(h, now);
                    }
                }
            }
            h += depth;
        }
        node.reported_final = node.reported_final.max(finalized);
    }

    /// The hash first finalized at `height`.
    pub fn hash_at(&self, height: u64) -> Option<&str> {
        self.by_height.get(&height).map(|(_, h)| h.as_str())
    }
}
