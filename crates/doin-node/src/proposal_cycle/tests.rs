//! The cycle driven as the optimizer loop and the simulator drive it: a chain that carries
//! commitments (or not), plans quorums, reorganises; votes delivered as values.

use std::collections::BTreeMap;
use std::time::Duration;

use doin_consensus::commitment::bound_commitment;
use doin_primitives::map;
use doin_primitives::Timestamp;

use super::*;

const ME: &str = "optimizer";
const DOMAIN: &str = "quadratic";
/// The quorum wait the tests run with (µs below).
const WAIT: Duration = Duration::from_secs(10);
/// A 10 s target block time: commitments wait 30 s to land.
const TARGET: f64 = 10.0;

/// A chain whose landed commitments and quorum the test sets.
#[derive(Default)]
struct Chain {
    /// Landed commitments by bound commitment.
    landed: BTreeMap<String, CommittedAt>,
    quorum: Vec<String>,
    open: usize,
    refuse_quorum: bool,
}

impl Chain {
    fn with_quorum(quorum: &[&str]) -> Self {
        Chain {
            quorum: quorum.iter().map(|&s| s.to_owned()).collect(),
            ..Chain::default()
        }
    }

    /// Carries `commitment_hash` in the block `block` at `height` of `domain`.
    fn land(&mut self, commitment_hash: &str, height: u64, block: &str, domain: &str) {
        self.landed.insert(
            bound_commitment(ME, commitment_hash),
            CommittedAt {
                height,
                block_hash: block.into(),
                optimizer_id: ME.into(),
                domain_id: domain.into(),
            },
        );
    }

    fn drop_all(&mut self) {
        self.landed.clear();
    }
}

impl CycleChain for Chain {
    fn committed_at(&mut self, bound: &str) -> Option<CommittedAt> {
        self.landed.get(bound).cloned()
    }

    fn plan_quorum(&mut self, commit_height: u64) -> Result<QuorumPlan, String> {
        if self.refuse_quorum {
            return Err("no such block".into());
        }
        Ok(QuorumPlan {
            commit_height,
            seed_block_hash: self
                .landed
                .values()
                .find(|at| at.height == commit_height)
                .map(|at| at.block_hash.clone())
                .unwrap_or_default(),
            quorum: self.quorum.clone(),
            young: self.open > 0,
            extra_votes: self.open,
        })
    }
}

fn at(secs: f64) -> Timestamp {
    Timestamp::from_unix_micros(1_767_225_600_000_000 + (secs * 1e6) as i64)
}

fn cycle() -> ProposalCycle<u64> {
    ProposalCycle::new(DOMAIN, ME, true, WAIT)
}

/// An improvement with `performance`, its round as the caller's data.
fn improvement(performance: f64, round: u64) -> Committed<u64> {
    Committed::new(
        map! { "x" => performance },
        performance,
        format!("{round:032x}"),
        round,
    )
}

fn vote(evaluator: &str, optimae_id: &str) -> QuorumVote {
    QuorumVote {
        optimae_id: optimae_id.into(),
        domain_id: DOMAIN.into(),
        evaluator_id: evaluator.into(),
        verified_performance: -1.0,
        synthetic_seed: 1,
        synthetic_data_hash: String::new(),
        timestamp: at(0.0),
        seal: None,
    }
}

/// The reveals among `steps`.
fn reveals(steps: &[Step]) -> Vec<&RevealTo> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Reveal(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Commits one improvement, lands it at height 1 and reveals it; the reveal.
fn revealed(c: &mut ProposalCycle<u64>, chain: &mut Chain, performance: f64) -> RevealTo {
    let p = improvement(performance, 1);
    let hash = p.commitment_hash.clone();
    c.commit(p, at(0.0));
    chain.land(&hash, 1, "block-1", DOMAIN);
    let steps = c.advance(chain, at(1.0), None, TARGET);
    reveals(&steps)[0].clone()
}

#[test]
fn a_commitment_is_revealed_once_it_lands_and_handed_on_once_its_quorum_voted() {
    let mut c = cycle();
    let mut chain = Chain::with_quorum(&["e1", "e2"]);
    let p = improvement(-5.0, 7);
    let hash = p.commitment_hash.clone();
    let key = c.commit(p, at(0.0));
    assert!(c.advance(&mut chain, at(1.0), None, TARGET).is_empty());
    assert!(c.has_committed(), "still waiting for a block");

    chain.land(&hash, 3, "block-3", DOMAIN);
    let steps = c.advance(&mut chain, at(4.0), None, TARGET);
    let [r] = reveals(&steps)[..] else {
        panic!("one reveal: {steps:?}")
    };
    assert_eq!(r.key, key);
    assert_eq!(r.reveal.commit_height, 3);
    assert_eq!(r.reveal.timestamp, at(4.0), "revealed at the caller's time");
    assert_eq!(r.reveal.commitment_hash(), hash);
    assert_eq!(r.seed_block_hash, "block-3");
    assert_eq!(r.quorum, ["e1", "e2"]);
    assert_eq!(r.waited_micros, 4_000_000);
    assert!(!c.has_committed());

    let id = r.reveal.optimae_id(ME);
    assert!(c.vote(vote("e2", &id)));
    assert!(c.take_done(at(5.0)).is_empty(), "e1 has not voted");
    assert_eq!(c.unanswered().next().map(|(_, m)| m), Some(vec!["e1"]));
    assert!(
        !c.vote(vote("e2", &id)),
        "a repeated vote is not counted twice"
    );
    assert!(!c.vote(vote("outsider", &id)), "no open slot for outsiders");
    assert!(!c.vote(vote("e1", "another optimae")));
    assert!(c.vote(vote("e1", &id)));
    let [done] = &c.take_done(at(5.0))[..] else {
        panic!("done")
    };
    assert!(done.quorum_voted());
    assert_eq!(done.meta, 7);
    let order: Vec<&str> = done.votes.iter().map(|v| v.evaluator_id.as_str()).collect();
    assert_eq!(order, ["e1", "e2"], "slot order, not arrival order");
    assert!(c.is_empty());
}

#[test]
fn a_commitment_that_does_not_land_in_three_block_times_is_dropped() {
    let mut c = cycle();
    let mut chain = Chain::with_quorum(&["e1"]);
    let key = c.commit(improvement(-5.0, 1), at(0.0));
    assert!(c.advance(&mut chain, at(30.0), None, TARGET).is_empty());
    let steps = c.advance(&mut chain, at(30.5), None, TARGET);
    assert!(
        matches!(&steps[..], [Step::Drop { key: k, why: Dropped::NotLanded(w) }] if *k == key && *w == 30_500_000),
        "{steps:?}"
    );
    assert!(c.is_empty());
    assert_eq!(commit_wait_micros(0.5), 5_000_000, "at least 5 s");
    assert_eq!(
        commit_wait_micros(600.0),
        1_800_000_000,
        "three of the reference's 600 s blocks"
    );
    assert_eq!(commit_wait_micros(1e9), 7_200_000_000, "at most two hours");
}

#[test]
fn a_landed_commitment_overtaken_meanwhile_or_of_another_domain_is_dropped() {
    let mut c = cycle();
    let mut chain = Chain::with_quorum(&["e1"]);
    let weak = improvement(-5.0, 1);
    let stray = improvement(-4.0, 2);
    chain.land(&weak.commitment_hash, 1, "b1", DOMAIN);
    chain.land(&stray.commitment_hash, 1, "b1", "other");
    c.commit(weak, at(0.0));
    c.commit(stray, at(0.0));
    let steps = c.advance(&mut chain, at(1.0), Some(-5.0), TARGET);
    let whys: Vec<&Dropped> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Drop { why, .. } => Some(why),
            _ => None,
        })
        .collect();
    assert_eq!(
        whys,
        [&Dropped::Overtaken, &Dropped::OtherDomain("other".into())]
    );
    // This node's accepted best counts as much as the chain's.
    let mut c = cycle();
    c.accept(-3.0);
    let p = improvement(-4.0, 3);
    chain.land(&p.commitment_hash, 2, "b2", DOMAIN);
    c.commit(p, at(0.0));
    let steps = c.advance(&mut chain, at(1.0), None, TARGET);
    assert!(matches!(
        &steps[..],
        [Step::Drop {
            why: Dropped::Overtaken,
            ..
        }]
    ));
}

#[test]
fn a_chain_that_cannot_plan_a_quorum_drops_the_proposal() {
    let mut c = cycle();
    let mut chain = Chain {
        refuse_quorum: true,
        ..Chain::default()
    };
    let p = improvement(-5.0, 1);
    chain.land(&p.commitment_hash, 1, "b1", DOMAIN);
    c.commit(p, at(0.0));
    let steps = c.advance(&mut chain, at(1.0), None, TARGET);
    assert!(matches!(
        &steps[..],
        [Step::Drop {
            why: Dropped::NoQuorum(_),
            ..
        }]
    ));
    assert!(c.is_empty());
}

#[test]
fn at_most_max_in_flight_are_revealed_and_the_rest_wait_landed() {
    let mut c = cycle();
    let mut chain = Chain::with_quorum(&["e1"]);
    for i in 0..MAX_IN_FLIGHT + 2 {
        let p = improvement(-10.0 + i as f64, i as u64);
        chain.land(&p.commitment_hash, 1, "b1", DOMAIN);
        c.commit(p, at(0.0));
    }
    let steps = c.advance(&mut chain, at(1.0), None, TARGET);
    assert_eq!(reveals(&steps).len(), MAX_IN_FLIGHT);
    assert!(!c.can_reveal() && c.has_committed());
    // The oldest first; once one is done, the next landed one is revealed.
    let first = reveals(&steps)[0].reveal.optimae_id(ME);
    assert!(c.vote(vote("e1", &first)));
    assert_eq!(c.take_done(at(2.0)).len(), 1);
    let steps = c.advance(&mut chain, at(2.0), None, TARGET);
    assert_eq!(reveals(&steps).len(), 1);
    assert_eq!(c.len(), MAX_IN_FLIGHT + 1);
}

#[test]
fn a_reorganisation_that_replaces_the_commit_block_reveals_again_from_the_new_one() {
    let mut c = cycle();
    let mut chain = Chain::with_quorum(&["e1"]);
    let first = revealed(&mut c, &mut chain, -5.0);
    let id = first.reveal.optimae_id(ME);
    // The winning branch carries the commitment at another height.
    chain.drop_all();
    chain.land(&first.commitment_hash, 2, "rival-2", DOMAIN);
    let steps = c.advance(&mut chain, at(3.0), None, TARGET);
    assert!(
        matches!(&steps[0], Step::Recommit { key, commitment_hash } if *key == first.key && *commitment_hash == first.commitment_hash),
        "{steps:?}"
    );
    let [again] = reveals(&steps)[..] else {
        panic!("revealed again: {steps:?}")
    };
    assert_eq!(again.key, first.key);
    assert_eq!(again.seed_block_hash, "rival-2");
    assert_eq!(again.reveal.commit_height, 2);
    // A vote for the first reveal (another optimae id: another timestamp) counts nothing.
    assert!(!c.vote(vote("e1", &id)));

    // A branch without it: back to waiting, and dropped if it never lands again.
    chain.drop_all();
    let steps = c.advance(&mut chain, at(4.0), None, TARGET);
    assert!(matches!(&steps[..], [Step::Recommit { .. }]), "{steps:?}");
    assert!(c.has_committed());
    let steps = c.advance(&mut chain, at(34.5), None, TARGET);
    assert!(matches!(
        &steps[..],
        [Step::Drop {
            why: Dropped::NotLanded(_),
            ..
        }]
    ));
}

#[test]
fn done_when_the_quorum_voted_and_the_open_wait_is_over() {
    let mut c = cycle();
    let mut chain = Chain::with_quorum(&["e1"]);
    chain.open = 1;
    let r = revealed(&mut c, &mut chain, -5.0);
    let id = r.reveal.optimae_id(ME);
    assert_eq!(r.open, 1);
    c.task_ended(r.key, 0, Some(vote("e1", &id)));
    assert!(
        c.take_done(at(2.0)).is_empty(),
        "the open vote may still come"
    );
    let done = c.take_done(at(1.0 + OPEN_WAIT.as_secs_f64()));
    assert_eq!(done.len(), 1, "the open wait is over");
    assert!(done[0].quorum_voted());

    // An open vote that comes in time rides along, after the quorum's.
    let r = revealed(&mut c, &mut chain, -4.0);
    let id = r.reveal.optimae_id(ME);
    assert!(c.vote(vote("outsider", &id)));
    c.task_ended(r.key, 0, Some(vote("e1", &id)));
    let done = c.take_done(at(1.5));
    let order: Vec<&str> = done[0]
        .votes
        .iter()
        .map(|v| v.evaluator_id.as_str())
        .collect();
    assert_eq!(order, ["e1", "outsider"]);
}

#[test]
fn done_at_once_when_a_quorum_task_is_lost_and_at_the_deadline_without_the_quorum() {
    let mut c = cycle();
    let mut chain = Chain::with_quorum(&["e1", "e2"]);
    let r = revealed(&mut c, &mut chain, -5.0);
    c.task_ended(r.key, 1, None);
    let done = c.take_done(at(1.0));
    assert_eq!(done.len(), 1, "e2's task ended without a vote");
    assert!(!done[0].quorum_voted());

    let r = revealed(&mut c, &mut chain, -4.0);
    let id = r.reveal.optimae_id(ME);
    assert!(c.vote(vote("e1", &id)));
    assert!(c.take_done(at(1.0 + OPEN_WAIT.as_secs_f64())).is_empty());
    let done = c.take_done(at(1.0 + WAIT.as_secs_f64()));
    assert_eq!(done.len(), 1, "the quorum wait is over");
    assert!(!done[0].quorum_voted());
    assert_eq!(done[0].votes.len(), 1);
}

#[test]
fn a_solo_chain_s_empty_quorum_is_done_at_once() {
    let mut c = cycle();
    let mut chain = Chain::default();
    revealed(&mut c, &mut chain, -5.0);
    let done = c.take_done(at(1.0));
    assert_eq!(done.len(), 1);
    assert!(done[0].quorum_voted() && done[0].votes.is_empty());
}

#[test]
fn what_is_worth_committing_betters_the_chain_the_accepted_and_the_proposals_in_flight() {
    let mut c = cycle();
    assert!(c.worth_committing(-9.0, None), "nothing known yet");
    assert!(!c.worth_committing(-9.0, Some(-8.0)));
    c.commit(improvement(-5.0, 1), at(0.0));
    assert!(!c.worth_committing(-6.0, Some(-8.0)), "in flight: -5");
    assert!(c.worth_committing(-4.0, Some(-8.0)));
    c.accept(-3.0);
    c.accept(-3.5);
    assert_eq!(c.accepted(), Some(-3.0), "the best accepted is kept");
    assert_eq!(c.floor(Some(-8.0)), Some(-3.0));
    c.pending_optimae(2);
    assert_eq!(c.accepted(), Some(-3.0));
    c.pending_optimae(0);
    assert_eq!(
        c.accepted(),
        None,
        "minted or dropped: the chain's best is the floor"
    );
    assert_eq!(c.floor(Some(-8.0)), Some(-5.0));

    // Lower is better elsewhere.
    let mut low: ProposalCycle<u64> = ProposalCycle::new(DOMAIN, ME, false, WAIT);
    low.commit(improvement(5.0, 1), at(0.0));
    assert!(low.worth_committing(4.0, Some(8.0)));
    assert!(!low.worth_committing(6.0, Some(8.0)));
}

#[test]
fn at_most_max_committed_wait_for_a_block() {
    let mut c = cycle();
    for i in 0..MAX_COMMITTED {
        assert!(c.has_room());
        c.commit(improvement(i as f64, i as u64), at(0.0));
    }
    assert!(!c.has_room());
    assert!(!c.worth_committing(1e9, None));
    assert!(c.drain().is_empty(), "none revealed");
    assert!(c.is_empty() && c.has_room());
}

#[test]
fn the_quorum_wait_is_twice_the_poll_interval_within_bounds() {
    assert_eq!(quorum_wait(10.0), Duration::from_secs(20));
    assert_eq!(quorum_wait(3.0), Duration::from_secs(6));
    assert_eq!(quorum_wait(0.1), Duration::from_secs(2));
    assert_eq!(quorum_wait(f64::NAN), MAX_QUORUM_WAIT);
}

#[test]
fn a_vote_from_anywhere_counts_only_sealed_by_its_evaluator_with_its_seed() {
    use doin_consensus::quorum::synthetic_seed;
    use doin_primitives::identity::Identity;
    let key = |b: u8| Identity::from_scalar_bytes(&[b; 32]).expect("scalar");
    let (e1, e2, outsider) = (key(1), key(2), key(3));
    let mut c = cycle();
    let mut chain = Chain::with_quorum(&[e1.peer_id(), e2.peer_id()]);
    let r = revealed(&mut c, &mut chain, -5.0);
    let id = r.reveal.optimae_id(ME);
    let commitment = r.reveal.commitment_hash();
    let vote_of = |evaluator: &Identity, seed_block: &str| {
        let mut v = vote(evaluator.peer_id(), &id);
        v.synthetic_seed = synthetic_seed(&commitment, DOMAIN, evaluator.peer_id(), seed_block);
        v.sealed(evaluator)
    };

    assert!(
        !c.offer_vote(&vote_of(&e1, "another block")),
        "seeded from another block"
    );
    let mut forged = vote_of(&e1, "block-1");
    forged.evaluator_id = e2.peer_id().to_string();
    assert!(!c.offer_vote(&forged), "sealed by another key");
    assert!(
        !c.offer_vote(&vote_of(&outsider, "block-1")),
        "no open slot for outsiders"
    );
    assert!(c.offer_vote(&vote_of(&e1, "block-1")));
    assert!(!c.offer_vote(&vote_of(&e1, "block-1")), "counted once");
    assert!(c.take_done(at(2.0)).is_empty(), "e2 has not voted");
    assert!(c.offer_vote(&vote_of(&e2, "block-1")));
    let [done] = &c.take_done(at(2.0))[..] else {
        panic!("done")
    };
    assert!(done.quorum_voted());
}
