//! A simulated node's side of block import: the node's own import decisions
//! ([`doin_node::chain_import::Importer`]: skip the blocks already held, refuse blocks
//! dated ahead of the node's clock, extend the tip keeping the valid prefix, weigh a
//! competing branch page by page, refuse below finality) run over the node's kept blocks
//! in memory. What is the simulator's own: the states kept at checkpoints to rebuild a
//! fork point cheaply, the run's [`Memo`](crate::memo::Memo) of checks and states, the
//! invariants checked around every block applied, and the notes for metrics and the log.

use std::sync::Arc;

use doin_consensus::anchor::AnchorSet;
use doin_consensus::{ChainState, ConsensusError};
use doin_node::chain_import::{ImportError, ImportOutcome, Importer, KeptChain};
use doin_primitives::models::Block;

use crate::config::PlantedBug;
use crate::invariants;
use crate::node::{Ctx, Node, Note};

/// How many checkpoint states a node keeps.
const SNAPSHOTS: usize = 4;

/// Keeps the state at `height` among `snapshots` if that is a checkpoint height (a
/// multiple of `depth`), keeping the last few; `state` gives it only then.
fn keep_snapshot(
    snapshots: &mut Vec<Arc<ChainState>>,
    depth: u64,
    height: u64,
    state: impl FnOnce() -> Arc<ChainState>,
) {
    if height.is_multiple_of(depth.max(1)) {
        snapshots.retain(|s| s.height() < height);
        snapshots.push(state());
        let excess = snapshots.len().saturating_sub(SNAPSHOTS);
        snapshots.drain(..excess);
    }
}

/// Keeps a copy of `state` among `snapshots` if it sits at a checkpoint height.
pub(crate) fn snapshot(snapshots: &mut Vec<Arc<ChainState>>, depth: u64, state: &ChainState) {
    keep_snapshot(snapshots, depth, state.height(), || Arc::new(state.clone()));
}

impl Node {
    /// Imports a contiguous segment of blocks by the node's rules
    /// ([`doin_node::chain_import`]) at the node's clock.
    pub fn import(
        &mut self,
        blocks: &[Arc<Block>],
        ctx: &mut Ctx<'_>,
    ) -> Result<ImportOutcome, ImportError> {
        let mut importer = std::mem::take(&mut self.importer);
        let outcome = self.import_with(&mut importer, blocks, ctx);
        self.importer = importer;
        outcome
    }

    /// Keeps a block the node minted, checked like a received one, without touching the
    /// branch the node is weighing (the node's minting appends to its tip directly).
    pub(crate) fn keep_minted(
        &mut self,
        block: &Arc<Block>,
        ctx: &mut Ctx<'_>,
    ) -> Result<ImportOutcome, ImportError> {
        self.import_with(&mut Importer::new(), std::slice::from_ref(block), ctx)
    }

    fn import_with(
        &mut self,
        importer: &mut Importer<Arc<Block>, Vec<Arc<ChainState>>>,
        blocks: &[Arc<Block>],
        ctx: &mut Ctx<'_>,
    ) -> Result<ImportOutcome, ImportError> {
        let now = self.clock(ctx.now);
        let mut chain = SimChain {
            node: self,
            ctx,
            anchors: AnchorSet::default(),
        };
        importer.import(&mut chain, blocks.to_vec(), now)
    }
}

/// A node's kept chain while it imports.
struct SimChain<'n, 'c, 'a> {
    node: &'n mut Node,
    ctx: &'c mut Ctx<'a>,
    /// The simulated network publishes no anchors.
    anchors: AnchorSet,
}

/// Keeps `state` among `snapshots` if it sits at a checkpoint height, sharing it.
fn snapshot_shared(snapshots: &mut Vec<Arc<ChainState>>, depth: u64, state: &Arc<ChainState>) {
    keep_snapshot(snapshots, depth, state.height(), || state.clone());
}

/// The state another node reached applying `b` to the same parent state, if any
/// ([`crate::memo`]).
fn reached_before(ctx: &Ctx<'_>, state: &ChainState, b: &Arc<Block>) -> Option<Arc<ChainState>> {
    ctx.memo
        .state_after(b)
        .filter(|after| {
            after.height() == state.height() + 1 && b.header.previous_hash == state.tip_hash()
        })
        .cloned()
}

/// Applies `b` to `state` with the invariants checked around it (no node applied it yet).
fn apply_first(
    node: usize,
    planted: Option<PlantedBug>,
    state: &mut ChainState,
    b: &Arc<Block>,
    ctx: &mut Ctx<'_>,
) -> Result<(), ConsensusError> {
    let quorums = invariants::quorums_of(state, b);
    let summary = state.apply_stored_block(b)?;
    let leak = u64::from(planted == Some(PlantedBug::LeakOneUnit));
    invariants::check_block(node, &quorums, &summary, state, leak, &mut ctx.violations);
    Ok(())
}

/// A state a block moves on: a node's tip state, shared with the nodes on the same tip,
/// or a branch's own (a page being weighed).
trait StateSlot {
    /// The state.
    fn get(&self) -> &ChainState;
    /// Takes the state another node reached.
    fn take(&mut self, reached: Arc<ChainState>);
    /// The state to apply a block to (a copy if it is shared).
    fn apply_to(&mut self) -> &mut ChainState;
    /// The state, for the memo.
    fn share(&self) -> Arc<ChainState>;
}

impl StateSlot for Arc<ChainState> {
    fn get(&self) -> &ChainState {
        self
    }
    fn take(&mut self, reached: Arc<ChainState>) {
        *self = reached;
    }
    fn apply_to(&mut self) -> &mut ChainState {
        Arc::make_mut(self)
    }
    fn share(&self) -> Arc<ChainState> {
        self.clone()
    }
}

impl StateSlot for ChainState {
    fn get(&self) -> &ChainState {
        self
    }
    fn take(&mut self, reached: Arc<ChainState>) {
        *self = ChainState::clone(&reached);
    }
    fn apply_to(&mut self) -> &mut ChainState {
        self
    }
    fn share(&self) -> Arc<ChainState> {
        Arc::new(self.clone())
    }
}

/// Moves `state` past `b`: to the state another node reached with it, or applies it and
/// keeps the result for the next node.
fn apply_checked(
    node: usize,
    planted: Option<PlantedBug>,
    state: &mut impl StateSlot,
    b: &Arc<Block>,
    ctx: &mut Ctx<'_>,
) -> Result<(), ConsensusError> {
    if let Some(after) = reached_before(ctx, state.get(), b) {
        state.take(after);
        return Ok(());
    }
    apply_first(node, planted, state.apply_to(), b, ctx)?;
    ctx.memo.keep_state(b, state.share());
    Ok(())
}

impl KeptChain for SimChain<'_, '_, '_> {
    type Block = Arc<Block>;
    /// The states at checkpoints along the chain (the last few).
    type Derived = Vec<Arc<ChainState>>;

    fn state(&self) -> &ChainState {
        &self.node.state
    }

    fn hash_at(&self, height: u64) -> Result<Option<String>, ImportError> {
        Ok(self.node.hash_at(height).map(str::to_owned))
    }

    fn anchors(&self) -> &AnchorSet {
        &self.anchors
    }

    /// The content rules and every signature, judged once per run ([`crate::memo`]).
    fn check_content(&mut self, block: &Arc<Block>) -> Result<(), ConsensusError> {
        self.ctx.memo.check(block)
    }

    /// Already judged with the content ([`Self::check_content`]).
    fn verify_signatures(&mut self, _blocks: &[Arc<Block>]) -> Result<(), ImportError> {
        Ok(())
    }

    fn apply_to_tip(&mut self, block: &Arc<Block>) -> Result<(), ConsensusError> {
        let n = &mut *self.node;
        apply_checked(n.index, n.planted, &mut n.state, block, self.ctx)?;
        snapshot_shared(&mut n.snapshots, n.params.finality_depth, &n.state);
        Ok(())
    }

    fn keep(&mut self, blocks: &[Arc<Block>]) -> Result<(), ImportError> {
        for b in blocks {
            self.node.blocks.push(b.clone());
            self.ctx.notes.push(Note::Adopted(b.hash.clone()));
        }
        Ok(())
    }

    /// Rebuilt from the nearest checkpoint state at or below `height` (or from genesis),
    /// or taken from the memo when another node reached it.
    fn state_at(&mut self, height: u64) -> Result<(ChainState, Vec<Arc<ChainState>>), ImportError> {
        let n = &*self.node;
        let at_height = |s: &&Arc<ChainState>| s.height() <= height;
        let own = height
            .checked_sub(1)
            .and_then(|i| n.blocks.get(usize::try_from(i).ok()?));
        if let Some(state) = own.and_then(|b| self.ctx.memo.state_after(b)) {
            let snaps = n.snapshots.iter().filter(at_height).cloned().collect();
            return Ok((ChainState::clone(state), snaps));
        }
        let base = n
            .snapshots
            .iter()
            .rev()
            .find(|s| s.height() <= height && n.hash_at(s.height()) == Some(s.tip_hash()));
        let mut state = base
            .map(|s| ChainState::clone(s))
            .unwrap_or_else(|| ChainState::new(n.params.clone()));
        let mut snaps: Vec<Arc<ChainState>> = n
            .snapshots
            .iter()
            .filter(|s| s.height() <= state.height())
            .cloned()
            .collect();
        let from = usize::try_from(state.height()).unwrap_or(usize::MAX);
        let to = usize::try_from(height).unwrap_or(usize::MAX);
        for b in n.blocks.get(from..to).unwrap_or(&[]) {
            apply_checked(n.index, n.planted, &mut state, b, self.ctx).map_err(|e| {
                ImportError::Store(format!("own block {} does not replay: {e}", b.header.index))
            })?;
            snapshot(&mut snaps, n.params.finality_depth, &state);
        }
        Ok((state, snaps))
    }

    fn apply_to_branch(
        &mut self,
        state: &mut ChainState,
        snaps: &mut Vec<Arc<ChainState>>,
        block: &Arc<Block>,
    ) -> Result<(), ConsensusError> {
        let n = &*self.node;
        apply_checked(n.index, n.planted, state, block, self.ctx)?;
        snapshot(snaps, n.params.finality_depth, state);
        Ok(())
    }

    fn reorganize(
        &mut self,
        fork_point: u64,
        blocks: Vec<Arc<Block>>,
        state: ChainState,
        snaps: Vec<Arc<ChainState>>,
    ) -> Result<u64, ImportError> {
        let n = &mut *self.node;
        let removed = n.state.height() - fork_point;
        self.ctx.notes.push(Note::Info(format!(
            "reorg at {fork_point}: {}@{} w{:?} -> {}@{} w{:?}",
            crate::queue::short(n.state.tip_hash()),
            n.state.height(),
            n.state.cumulative_work(),
            crate::queue::short(state.tip_hash()),
            state.height(),
            state.cumulative_work()
        )));
        n.blocks
            .truncate(usize::try_from(fork_point).unwrap_or(usize::MAX));
        n.blocks.extend(blocks.iter().cloned());
        n.state = Arc::new(state);
        n.snapshots = snaps;
        self.ctx.notes.push(Note::Reorganized { depth: removed });
        for b in &blocks {
            self.ctx.notes.push(Note::Adopted(b.hash.clone()));
        }
        Ok(removed)
    }
}
