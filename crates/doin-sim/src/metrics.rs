//! What a run measures: forks, reorganisations, time to finality, propagation, optimae
//! throughput and what became of the optimizers' proposals ([`Report`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use doin_primitives::models::Block;

use crate::invariants::FinalityRecord;
use crate::optimizer::ProposalNote;

/// Raw observations during a run.
#[derive(Default)]
pub struct Metrics {
    /// Blocks minted: hash → (virtual µs, optimae carried).
    minted: BTreeMap<String, (i64, usize)>,
    /// Nodes that adopted each block so far.
    adopted: BTreeMap<String, usize>,
    /// Mint-to-90%-of-nodes delays, µs.
    propagation: Vec<i64>,
    /// Blocks dropped by each reorganisation.
    reorgs: Vec<u64>,
    /// Blocks or branches refused.
    pub refused: u64,
    /// Messages sent.
    pub messages: u64,
    /// Events processed.
    pub events: u64,
    /// What became of the optimizers' proposals.
    pub proposals: ProposalCounts,
}

/// What became of the optimizers' proposals, over all nodes (a proposal revealed again
/// after a reorganisation counts twice as revealed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProposalCounts {
    /// Revealed to their quorum.
    pub revealed: u64,
    /// Sent back to waiting by a reorganisation that replaced their commit block.
    pub recommitted: u64,
    /// Given up before their reveal (overtaken, not landed in time, no quorum).
    pub dropped: u64,
    /// Voted by their whole quorum and taken by the pending optimae.
    pub pending: u64,
    /// Voted by their whole quorum and refused by the pending optimae.
    pub refused: u64,
    /// Done without their whole quorum's votes.
    pub quorum_incomplete: u64,
}

impl ProposalCounts {
    /// Counts one step.
    pub fn count(&mut self, note: &ProposalNote) {
        let n = match note {
            ProposalNote::Revealed => &mut self.revealed,
            ProposalNote::Recommitted => &mut self.recommitted,
            ProposalNote::Dropped(_) => &mut self.dropped,
            ProposalNote::Pending => &mut self.pending,
            ProposalNote::Refused(_) => &mut self.refused,
            ProposalNote::QuorumIncomplete => &mut self.quorum_incomplete,
        };
        *n += 1;
    }
}

impl Metrics {
    /// A block was minted at `at`.
    pub fn minted(&mut self, hash: &str, at: i64, optimae: usize) {
        self.minted.insert(hash.to_owned(), (at, optimae));
    }

    /// When a block was minted (virtual µs), if it was.
    pub fn minted_at(&self, hash: &str) -> Option<i64> {
        self.minted.get(hash).map(|(t, _)| *t)
    }

    /// A node adopted a block at `at`; `quorum` nodes make 90 % of the network.
    pub fn adopted(&mut self, hash: &str, at: i64, quorum: usize) {
        let n = self.adopted.entry(hash.to_owned()).or_default();
        *n += 1;
        if *n == quorum {
            if let Some((t, _)) = self.minted.get(hash) {
                self.propagation.push(at - t);
            }
        }
    }

    /// A node reorganised, dropping `depth` blocks.
    pub fn reorganized(&mut self, depth: u64) {
        self.reorgs.push(depth);
    }

    /// The figures of a run whose final chain is `chain`.
    pub fn report(
        &self,
        chain: &[Arc<Block>],
        finality: &FinalityRecord,
        depth: u64,
        virtual_micros: i64,
    ) -> Report {
        let on_chain = chain.len();
        let minted = self.minted.len();
        let optimae: usize = chain
            .iter()
            .map(|b| b.layout().map_or(0, |l| l.accepted.len()))
            .sum();
        let mut finality_delays: Vec<i64> = Vec::new();
        for (i, b) in chain.iter().enumerate() {
            let h = i as u64 + 1;
            let checkpoint = h.div_ceil(depth.max(1)) * depth.max(1);
            if let (Some(at), Some((t, _))) =
                (finality.first_at.get(&checkpoint), self.minted.get(&b.hash))
            {
                finality_delays.push(at - t);
            }
        }
        let hours = virtual_micros as f64 / 3.6e9;
        let work_minted = self.minted.values().filter(|(_, o)| *o > 0).count();
        let work_on_chain = chain
            .iter()
            .filter(|b| b.layout().is_ok_and(|l| !l.accepted.is_empty()))
            .count();
        let rate = |kept: usize, made: usize| {
            if made == 0 {
                0.0
            } else {
                1.0 - kept as f64 / made as f64
            }
        };
        Report {
            virtual_secs: virtual_micros as f64 / 1e6,
            height: on_chain as u64,
            blocks_minted: minted,
            fork_rate: rate(on_chain, minted),
            work_fork_rate: rate(work_on_chain, work_minted),
            commitment_fork_rate: rate(on_chain - work_on_chain, minted - work_minted),
            reorgs: self.reorgs.len(),
            max_reorg_depth: self.reorgs.iter().copied().max().unwrap_or(0),
            mean_reorg_depth: mean(self.reorgs.iter().map(|d| *d as f64)),
            finality_p50_secs: percentile(&finality_delays, 0.5),
            finality_p90_secs: percentile(&finality_delays, 0.9),
            propagation_p50_secs: percentile(&self.propagation, 0.5),
            propagation_p90_secs: percentile(&self.propagation, 0.9),
            optimae_on_chain: optimae,
            optimae_per_hour: if hours > 0.0 {
                optimae as f64 / hours
            } else {
                0.0
            },
            refused: self.refused,
            messages: self.messages,
            events: self.events,
            proposals: self.proposals,
        }
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// The `q` quantile of µs values, in seconds (0 when empty).
fn percentile(xs: &[i64], q: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i] as f64 / 1e6
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Virtual seconds simulated.
    pub virtual_secs: f64,
    /// Height of the final chain.
    pub height: u64,
    /// Distinct blocks minted by all nodes.
    pub blocks_minted: usize,
    /// Share of minted blocks not on the final chain.
    pub fork_rate: f64,
    /// The same, of work blocks (blocks that accept optimae).
    pub work_fork_rate: f64,
    /// The same, of commitment blocks (blocks that carry commitments only).
    pub commitment_fork_rate: f64,
    /// Reorganisations over all nodes.
    pub reorgs: usize,
    /// The deepest reorganisation (blocks dropped).
    pub max_reorg_depth: u64,
    /// Mean blocks dropped per reorganisation.
    pub mean_reorg_depth: f64,
    /// Median time from a block's minting to the first finalization covering it, s.
    pub finality_p50_secs: f64,
    /// 90th percentile of the same, s.
    pub finality_p90_secs: f64,
    /// Median time for a block to reach 90 % of the nodes, s.
    pub propagation_p50_secs: f64,
    /// 90th percentile of the same, s.
    pub propagation_p90_secs: f64,
    /// Accepted optimae on the final chain.
    pub optimae_on_chain: usize,
    /// Accepted optimae per virtual hour.
    pub optimae_per_hour: f64,
    /// Blocks or branches refused by nodes.
    pub refused: u64,
    /// Messages sent.
    pub messages: u64,
    /// Events processed.
    pub events: u64,
    /// What became of the optimizers' proposals.
    pub proposals: ProposalCounts,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "virtual time        {:.0} s", self.virtual_secs)?;
        writeln!(f, "final height        {}", self.height)?;
        writeln!(f, "blocks minted       {}", self.blocks_minted)?;
        writeln!(
            f,
            "fork rate           {:.2} % (work blocks {:.2} %, commitment blocks {:.2} %)",
            100.0 * self.fork_rate,
            100.0 * self.work_fork_rate,
            100.0 * self.commitment_fork_rate
        )?;
        writeln!(
            f,
            "reorganisations     {} (max depth {}, mean {:.2})",
            self.reorgs, self.max_reorg_depth, self.mean_reorg_depth
        )?;
        writeln!(
            f,
            "time to finality    p50 {:.1} s, p90 {:.1} s",
            self.finality_p50_secs, self.finality_p90_secs
        )?;
        writeln!(
            f,
            "propagation (90 %)  p50 {:.3} s, p90 {:.3} s",
            self.propagation_p50_secs, self.propagation_p90_secs
        )?;
        writeln!(
            f,
            "optimae on chain    {} ({:.0} per virtual hour)",
            self.optimae_on_chain, self.optimae_per_hour
        )?;
        let p = &self.proposals;
        writeln!(
            f,
            "proposals           {} revealed ({} pending, {} refused, {} without their quorum), \
             {} back to waiting after a reorganisation, {} dropped before reveal",
            p.revealed, p.pending, p.refused, p.quorum_incomplete, p.recommitted, p.dropped
        )?;
        write!(
            f,
            "refused {}, messages {}, events {}",
            self.refused, self.messages, self.events
        )
    }
}
