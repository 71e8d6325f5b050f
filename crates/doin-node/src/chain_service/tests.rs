//! The chain service on a manual clock: when it mints, and the timestamps it stamps, follow
//! the clock it is given, with no sleeping.

use std::sync::Arc;
use std::time::Duration;

use doin_consensus::commitment::OptimaeCommitment;
use doin_consensus::{ChainParams, DomainParams};
use doin_primitives::identity::Identity;
use doin_primitives::Timestamp;

use super::{launch, open_chain, ChainHandle, ChainServiceConfig};
use crate::clock::ManualClock;
use crate::mint_gate::{FirstContact, MintGate};
use crate::view::ChainView;

/// 2026-01-01T00:00:00Z.
const T0_SECS: i64 = 1_767_225_600;

/// A network chain (one evaluator per quorum, so not solo) with one-second blocks.
fn network_params() -> ChainParams {
    let mut p = ChainParams::solo_default();
    p.quorum_min_evaluators = 1;
    p.target_block_time_secs = 1.0;
    p.domains = vec![DomainParams::new("quadratic", true)];
    p
}

fn commitment(who: &Identity, n: u64) -> OptimaeCommitment {
    OptimaeCommitment::sealed(
        who,
        "quadratic",
        &doin_primitives::hash::sha256_hex(format!("{}/{n}", who.peer_id())),
        Timestamp::from_unix_secs(T0_SECS),
    )
}

/// A chain service on a new network chain in `dir`, on a manual clock at `t0`, minting
/// once `mint_gate` opens.
fn service(
    dir: &std::path::Path,
    t0: Timestamp,
    mint_gate: MintGate,
) -> (ChainHandle, ManualClock, Arc<Identity>) {
    let opened = open_chain(&dir.join("chain.db"), &network_params()).expect("a new chain");
    let me = Arc::new(Identity::from_scalar_bytes(&[7; 32]).expect("an identity"));
    let clock = ManualClock::new(t0);
    let (chain, _thread) = launch(
        opened,
        me.clone(),
        ChainServiceConfig {
            clock: clock.shared(),
            mint_gate,
            ..ChainServiceConfig::default()
        },
    );
    (chain, clock, me)
}

/// Waits (bounded, as a safety net) until the service publishes a view with tip `index`.
async fn tip_reaches(chain: &ChainHandle, index: i64) -> Arc<ChainView> {
    let mut views = chain.watch();
    let view = tokio::time::timeout(
        Duration::from_secs(30),
        views.wait_for(|v| v.tip_index >= index),
    )
    .await
    .expect("the block was minted")
    .expect("the chain service runs");
    view.clone()
}

/// Every command sent before this one has been handled when it answers.
async fn round_trip(chain: &ChainHandle) {
    chain
        .account("nobody")
        .await
        .expect("the chain service runs");
}

#[tokio::test]
async fn commitment_blocks_follow_the_manual_clock() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let t0 = Timestamp::from_unix_secs(T0_SECS);
    let (chain, clock, me) = service(dir.path(), t0, MintGate::open());

    // Genesis is long past on the manual clock: the first commitment gets a block at once,
    // stamped with the clock's time.
    chain
        .submit_commitment(commitment(&me, 0), false)
        .await
        .expect("admitted");
    let first = tip_reaches(&chain, 1).await;
    let header = first.tip_header.clone().expect("the tip's header");
    assert_eq!(header.timestamp.unix_micros(), t0.unix_micros());

    // The next commitment block waits one target block time (plus this node's stagger,
    // below half of it): not due while the clock stands still, nor just short of a second.
    chain
        .submit_commitment(commitment(&me, 1), false)
        .await
        .expect("admitted");
    round_trip(&chain).await;
    assert_eq!(chain.view().tip_index, 1, "minted before its time");
    clock.advance(Duration::from_micros(999_999));
    chain
        .submit_commitment(commitment(&me, 2), false)
        .await
        .expect("admitted");
    round_trip(&chain).await;
    assert_eq!(
        chain.view().tip_index,
        1,
        "minted before a target block time"
    );

    // Past the target block time and the largest stagger, the service's tick mints it.
    clock.advance(Duration::from_millis(500) + Duration::from_micros(1));
    let second = tip_reaches(&chain, 2).await;
    let header = second.tip_header.clone().expect("the tip's header");
    assert_eq!(
        header.timestamp.unix_micros(),
        t0.unix_micros() + 1_500_000,
        "stamped with the manual clock"
    );
}

/// A service whose mint gate waits for a first sync, on a manual clock at `t0`.
fn gated_service(
    dir: &std::path::Path,
    t0: Timestamp,
) -> (ChainHandle, ManualClock, Arc<Identity>, Arc<FirstContact>) {
    let contact = Arc::new(FirstContact::default());
    let gate =
        MintGate::after_first_sync(contact.clone(), t0.unix_micros(), Duration::from_secs(30));
    let (chain, clock, me) = service(dir, t0, gate);
    (chain, clock, me, contact)
}

#[tokio::test]
async fn a_joining_node_mints_nothing_before_its_first_sync() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let t0 = Timestamp::from_unix_secs(T0_SECS);
    let (chain, clock, me, contact) = gated_service(dir.path(), t0);
    // A commitment heard by gossip would get a block at once (see above), but this node
    // has not synced with its peers yet.
    chain
        .submit_commitment(commitment(&me, 0), false)
        .await
        .expect("admitted");
    round_trip(&chain).await;
    assert_eq!(chain.view().tip_index, 0, "minted before its first sync");
    clock.advance(Duration::from_secs(29));
    chain
        .submit_commitment(commitment(&me, 1), false)
        .await
        .expect("admitted");
    round_trip(&chain).await;
    assert_eq!(chain.view().tip_index, 0, "minted before its first sync");
    // The sync loop reached a peer whose chain is no heavier than ours: the next tick
    // mints.
    contact.record_claim("peer", Some(0.0));
    contact.mark_synced();
    tip_reaches(&chain, 1).await;
}

#[tokio::test]
async fn a_node_behind_what_its_peers_claim_mints_alone_only_after_the_wait() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let t0 = Timestamp::from_unix_secs(T0_SECS);
    let (chain, clock, me, contact) = gated_service(dir.path(), t0);
    chain
        .submit_commitment(commitment(&me, 0), false)
        .await
        .expect("admitted");
    // A peer that just started answered first; one of the network claims a heavier chain
    // (still being fetched, or never served): synced, but behind.
    contact.record_claim("fresh", Some(0.0));
    contact.mark_synced();
    contact.record_claim("network", Some(1.0));
    clock.advance(Duration::from_secs(30) - Duration::from_micros(1));
    round_trip(&chain).await;
    assert_eq!(chain.view().tip_index, 0, "minted behind the network");
    clock.advance(Duration::from_micros(1));
    tip_reaches(&chain, 1).await;
}

/// A relay (no optimizer or evaluator role) mints nothing, however long the commitments
/// it pooled wait: a generator would be drawn into quorums it never answers.
#[tokio::test]
async fn a_relay_never_mints() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let t0 = Timestamp::from_unix_secs(T0_SECS);
    let (chain, clock, me) = service(dir.path(), t0, MintGate::never());
    for n in 0..3 {
        chain
            .submit_commitment(commitment(&me, n), false)
            .await
            .expect("admitted");
        clock.advance(Duration::from_secs(60));
        round_trip(&chain).await;
    }
    assert_eq!(chain.view().tip_index, 0, "a relay minted");
}

/// What a gossiped verified optimae costs its relay ([`crate::optimae_gossip::deliver`]):
/// an unreadable one is malformed, a forged claim seal a bad signature; a well-sealed one
/// the rules refuse (here, its commitment is on no chain) is not the relay's fault, and
/// nothing of them is kept pending.
#[tokio::test]
async fn gossiped_optimae_cost_their_relay_by_what_is_wrong() {
    use doin_net::Verdict;
    use doin_primitives::seal::SealKind;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let (chain, _clock, _me) = service(
        dir.path(),
        Timestamp::from_unix_secs(T0_SECS),
        MintGate::open(),
    );
    let [optimizer, forger] =
        [1u8, 2].map(|k| Identity::from_scalar_bytes(&[k; 32]).expect("an identity"));
    let genuine = crate::pending_optimae::tests::verified(&optimizer);
    let mut forged = genuine.clone();
    forged.claim_seal = Some(forger.seal(SealKind::CarriedClaim, &forged.claim_id()));
    let deliver = |v| {
        let chain = chain.clone();
        async move { crate::optimae_gossip::deliver(&chain, "a-peer", &v).await }
    };
    assert_eq!(
        deliver(doin_primitives::value::Value::Str("no".into())).await,
        Verdict::Malformed
    );
    assert_eq!(deliver(forged.to_value()).await, Verdict::InvalidSignature);
    assert_eq!(deliver(genuine.to_value()).await, Verdict::Valid);
    round_trip(&chain).await;
    assert_eq!(chain.view().pending_optimae, 0);
}
