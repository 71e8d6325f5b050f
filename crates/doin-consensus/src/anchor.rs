//! External checkpoint anchors: every `interval` blocks, once the block is final, a node
//! publishes `(height, block hash, state hash)` outside the chain (a file, an HTTP endpoint,
//! a PostgreSQL table); a node that holds anchors refuses any chain whose block at an
//! anchored height has another hash, however heavy that chain is.
//!
//! The state hash is the reference's chain-state hash: SHA-256 of the hashes of blocks
//! `0..=height` (genesis first) joined with `":"` ([`chain_state_hash`]). Blocks are
//! hash-linked, so an agreeing block hash implies an agreeing state hash; the state hash
//! lets a reader check an anchor against a chain it holds without trusting the block hash
//! alone, and is what the reference defines.

use std::collections::BTreeMap;

use doin_primitives::hash::chain_state_hash;

/// One published checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The anchored block's index.
    pub height: u64,
    /// Its hash.
    pub block_hash: String,
    /// [`anchor_state_hash`] of the chain up to it.
    pub state_hash: String,
}

/// Why a chain or an anchor is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    /// The chain's block at an anchored height has another hash.
    #[error("block {height} is {found}, but the published anchor says {anchored}")]
    Contradicts {
        /// The anchored height.
        height: u64,
        /// The hash the anchor records.
        anchored: String,
        /// The hash the chain has there.
        found: String,
    },
    /// A reorganisation would remove an anchored block and not replace it.
    #[error("the branch ends at {branch_tip} and would drop anchored block {height}")]
    DropsAnchored {
        /// The anchored height.
        height: u64,
        /// The branch's last block.
        branch_tip: u64,
    },
    /// The chain's state hash at an anchored height differs.
    #[error("the state hash at {height} is {found}, but the published anchor says {anchored}")]
    StateMismatch {
        /// The anchored height.
        height: u64,
        /// The state hash the anchor records.
        anchored: String,
        /// The state hash of the chain.
        found: String,
    },
    /// Two anchors for one height disagree (the sink holds two histories).
    #[error("two published anchors for block {height} disagree ({first} and {second})")]
    Conflicting {
        /// The height.
        height: u64,
        /// The block hash recorded first.
        first: String,
        /// The other one.
        second: String,
    },
}

/// Whether block `height` is anchored: a positive multiple of `interval` (0 = never).
pub fn is_anchor_height(height: u64, interval: u64) -> bool {
    height > 0 && height.checked_rem(interval) == Some(0)
}

/// The anchor heights due once the chain is final up to `finalized`, above the last
/// anchored height `after`: every multiple of `interval` in `(after, finalized]`, in order.
/// Only final blocks are anchored, so an anchor never pins a block that the chain's own
/// fork choice may still replace.
pub fn due_heights(after: u64, finalized: u64, interval: u64) -> impl Iterator<Item = u64> {
    let first = after
        .checked_div(interval)
        .and_then(|k| k.checked_add(1))
        .and_then(|k| k.checked_mul(interval));
    let step = usize::try_from(interval.max(1)).unwrap_or(usize::MAX);
    // No interval, or no multiple left below u64::MAX: nothing is due.
    first
        .map(|first| (first..=finalized).step_by(step))
        .into_iter()
        .flatten()
}

/// The state hash of a chain at its last block: [`chain_state_hash`] of its block hashes,
/// genesis first.
pub fn anchor_state_hash<S: AsRef<str>>(hashes_from_genesis: &[S]) -> String {
    chain_state_hash(hashes_from_genesis)
}

/// The anchor of the last block of `hashes_from_genesis` (hashes of blocks `0..=height`);
/// `None` for an empty list.
pub fn anchor_of<S: AsRef<str>>(hashes_from_genesis: &[S]) -> Option<Anchor> {
    let last = hashes_from_genesis.last()?;
    Some(Anchor {
        height: hashes_from_genesis.len() as u64 - 1,
        block_hash: last.as_ref().to_owned(),
        state_hash: anchor_state_hash(hashes_from_genesis),
    })
}

/// The anchors a node enforces, one per height.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnchorSet {
    by_height: BTreeMap<u64, Anchor>,
}

impl AnchorSet {
    /// An empty set.
    pub fn new() -> Self {
        AnchorSet::default()
    }

    /// Adds an anchor; `Ok(false)` if the same one is already there, an error if another
    /// anchor for that height disagrees (the set is unchanged then).
    pub fn insert(&mut self, anchor: Anchor) -> Result<bool, AnchorError> {
        match self.by_height.get(&anchor.height) {
            Some(a) if a.block_hash == anchor.block_hash && a.state_hash == anchor.state_hash => {
                Ok(false)
            }
            Some(a) => Err(AnchorError::Conflicting {
                height: anchor.height,
                first: a.block_hash.clone(),
                second: anchor.block_hash,
            }),
            None => {
                self.by_height.insert(anchor.height, anchor);
                Ok(true)
            }
        }
    }

    /// The anchor at `height`.
    pub fn get(&self, height: u64) -> Option<&Anchor> {
        self.by_height.get(&height)
    }

    /// The highest anchored height (0 when empty).
    pub fn last_height(&self) -> u64 {
        self.by_height.keys().next_back().copied().unwrap_or(0)
    }

    /// The anchors, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = &Anchor> {
        self.by_height.values()
    }

    /// How many anchors.
    pub fn len(&self) -> usize {
        self.by_height.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_height.is_empty()
    }
}

/// The rule for blocks from a peer: a branch `(index, hash)` that starts right after
/// `fork_point` (the last block it shares with ours), on a node whose tip is `our_tip`, is
/// refused when
/// * its block at an anchored height has another hash than the anchor
///   ([`AnchorError::Contradicts`]), or
/// * it would remove an anchored block of ours (an anchored height in
///   `(fork_point, our_tip]` beyond the branch's end) ([`AnchorError::DropsAnchored`]).
///
/// A branch that agrees with every anchor it reaches is accepted, whatever its weight.
pub fn check_branch<'a>(
    anchors: &AnchorSet,
    fork_point: u64,
    our_tip: u64,
    branch: impl IntoIterator<Item = (u64, &'a str)>,
) -> Result<(), AnchorError> {
    let mut branch_tip = fork_point;
    for (height, hash) in branch {
        branch_tip = branch_tip.max(height);
        if let Some(a) = anchors.get(height) {
            if a.block_hash != hash {
                return Err(AnchorError::Contradicts {
                    height,
                    anchored: a.block_hash.clone(),
                    found: hash.to_owned(),
                });
            }
        }
    }
    if branch_tip >= our_tip {
        return Ok(());
    }
    match anchors.by_height.range(branch_tip + 1..=our_tip).next() {
        Some((&height, _)) => Err(AnchorError::DropsAnchored { height, branch_tip }),
        None => Ok(()),
    }
}

/// The rule for a chain a node holds (`hashes_from_genesis`, hashes of blocks `0..=tip`):
/// every anchor at or below the tip must match its block hash and its state hash.
pub fn check_chain<S: AsRef<str>>(
    anchors: &AnchorSet,
    hashes_from_genesis: &[S],
) -> Result<(), AnchorError> {
    for a in anchors.iter() {
        let Some(upto) = usize::try_from(a.height)
            .ok()
            .and_then(|h| hashes_from_genesis.get(..=h))
        else {
            break;
        };
        let found = upto.last().map(AsRef::as_ref).unwrap_or_default();
        if found != a.block_hash {
            return Err(AnchorError::Contradicts {
                height: a.height,
                anchored: a.block_hash.clone(),
                found: found.to_owned(),
            });
        }
        let state = anchor_state_hash(upto);
        if state != a.state_hash {
            return Err(AnchorError::StateMismatch {
                height: a.height,
                anchored: a.state_hash.clone(),
                found: state,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(tag: &str, n: usize) -> Vec<String> {
        (0..=n).map(|i| format!("{tag}{i}")).collect()
    }

    fn pairs(b: &[(u64, String)]) -> Vec<(u64, &str)> {
        b.iter().map(|(i, h)| (*i, h.as_str())).collect()
    }

    fn set(chain: &[String], heights: &[u64]) -> AnchorSet {
        let mut s = AnchorSet::new();
        for &h in heights {
            let a = anchor_of(&chain[..=h as usize]).expect("non-empty");
            assert!(s.insert(a).expect("consistent"));
        }
        s
    }

    #[test]
    fn anchored_heights_are_positive_multiples_of_the_interval() {
        assert!(!is_anchor_height(0, 5));
        assert!(is_anchor_height(10, 5));
        assert!(!is_anchor_height(11, 5));
        assert!(!is_anchor_height(10, 0));
    }

    #[test]
    fn due_heights_are_final_multiples_above_the_last_anchor() {
        let due = |a, f, i| due_heights(a, f, i).collect::<Vec<_>>();
        assert_eq!(due(0, 12, 5), vec![5, 10]);
        assert_eq!(due(5, 12, 5), vec![10]);
        assert_eq!(due(7, 15, 5), vec![10, 15]);
        assert_eq!(due(10, 14, 5), Vec::<u64>::new());
        assert_eq!(due(0, 100, 0), Vec::<u64>::new());
        assert_eq!(due(u64::MAX - 1, u64::MAX, 7), Vec::<u64>::new());
    }

    #[test]
    fn the_state_hash_is_the_reference_chain_state_hash() {
        // The reference's vector: ["a","b","c"].
        let a = anchor_of(&["a", "b", "c"]).expect("non-empty");
        assert_eq!(a.height, 2);
        assert_eq!(a.block_hash, "c");
        assert_eq!(
            a.state_hash,
            "b0ee04f880c4ff4261479e2e7822b7410aee4c7159f4185ad5b0d88a312b495e"
        );
        assert_eq!(anchor_of::<&str>(&[]), None);
    }

    #[test]
    fn a_set_refuses_a_second_history() {
        let ours = hashes("a", 10);
        let theirs = hashes("b", 10);
        let mut s = set(&ours, &[5]);
        assert_eq!(s.insert(anchor_of(&ours[..=5]).expect("a")), Ok(false));
        let err = s.insert(anchor_of(&theirs[..=5]).expect("b")).unwrap_err();
        assert!(matches!(err, AnchorError::Conflicting { height: 5, .. }));
        assert_eq!(s.get(5).map(|a| a.block_hash.as_str()), Some("a5"));
        assert_eq!((s.len(), s.last_height()), (1, 5));
    }

    #[test]
    fn a_branch_contradicting_an_anchor_is_refused() {
        let ours = hashes("a", 12);
        let theirs = hashes("b", 30);
        let anchors = set(&ours, &[5, 10]);
        let branch = |from: usize, to: usize, h: &[String]| {
            (from..=to)
                .map(|i| (i as u64, h[i].clone()))
                .collect::<Vec<_>>()
        };
        // A heavier history from genesis: refused at the first anchor it reaches.
        let b = branch(1, 30, &theirs);
        assert_eq!(
            check_branch(&anchors, 0, 0, pairs(&b)),
            Err(AnchorError::Contradicts {
                height: 5,
                anchored: "a5".into(),
                found: "b5".into()
            })
        );
        // The same history: accepted, in pages too.
        let b = branch(1, 4, &ours);
        assert_eq!(check_branch(&anchors, 0, 0, pairs(&b)), Ok(()));
        let b = branch(5, 12, &ours);
        assert_eq!(check_branch(&anchors, 4, 4, pairs(&b)), Ok(()));
        // A fork above the last anchor is not the anchors' business.
        let b = branch(11, 30, &theirs);
        assert_eq!(check_branch(&anchors, 10, 12, pairs(&b)), Ok(()));
        // A short branch that would drop our anchored block 10.
        let b = branch(8, 9, &theirs);
        assert_eq!(
            check_branch(&anchors, 7, 12, pairs(&b)),
            Err(AnchorError::DropsAnchored {
                height: 10,
                branch_tip: 9
            })
        );
    }

    #[test]
    fn a_held_chain_must_match_block_and_state_hashes() {
        let ours = hashes("a", 12);
        let anchors = set(&ours, &[5, 10]);
        assert_eq!(check_chain(&anchors, &ours), Ok(()));
        // A shorter chain is checked as far as it goes.
        assert_eq!(check_chain(&anchors, &ours[..8]), Ok(()));
        let theirs = hashes("b", 12);
        assert!(matches!(
            check_chain(&anchors, &theirs),
            Err(AnchorError::Contradicts { height: 5, .. })
        ));
        // Same block hash at 5, another history below it: the state hash tells.
        let mut forged = ours.clone();
        forged[3] = "x3".into();
        assert!(matches!(
            check_chain(&anchors, &forged),
            Err(AnchorError::StateMismatch { height: 5, .. })
        ));
    }
}
