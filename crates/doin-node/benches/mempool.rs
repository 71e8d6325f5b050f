//! Mempool inserts per second with 10,000 transfers pending: admission (account rules
//! after the sender's pending transfers, seal) into a pool that already holds 10,000, then
//! into a full pool of 10,000 where every insert evicts the cheapest; and the time to
//! order 10,000 pending transfers for a block.
//!
//! Run with `cargo bench -p doin-node --bench mempool`.

use std::collections::HashMap;
use std::time::Instant;

use doin_consensus::transfer::Account;
use doin_node::mempool::{AccountSource, Mempool, MempoolConfig};
use doin_primitives::identity::Identity;
use doin_primitives::models::Transfer;
use doin_primitives::Timestamp;

const PENDING: usize = 10_000;
const SENDERS: usize = 500;
const INSERTS: usize = 5_000;

struct Funded(HashMap<String, Account>);

impl AccountSource for Funded {
    fn account(&self, peer_id: &str) -> Account {
        self.0.get(peer_id).copied().unwrap_or_default()
    }
    fn base_fee(&self) -> u64 {
        100_000
    }
}

/// `per_sender` transfers from each sender, nonces from `first`, fee rising with `fee_base`.
fn transfers(senders: &[Identity], first: i64, per_sender: usize, fee_base: i64) -> Vec<Transfer> {
    let mut out = Vec::with_capacity(senders.len() * per_sender);
    for n in 0..per_sender as i64 {
        for (i, s) in senders.iter().enumerate() {
            let fee = fee_base + (i as i64 * 7919 + n * 104_729) % 100_000;
            out.push(Transfer::signed(
                s,
                "c".repeat(40),
                1_000,
                fee,
                first + n,
                Timestamp::EPOCH,
            ));
        }
    }
    out
}

fn main() {
    let senders: Vec<Identity> = (0..SENDERS).map(|_| Identity::generate()).collect();
    let newcomers: Vec<Identity> = (0..SENDERS).map(|_| Identity::generate()).collect();
    let chain = Funded(
        senders
            .iter()
            .chain(&newcomers)
            .map(|s| {
                (
                    s.peer_id().to_string(),
                    Account {
                        balance: u64::MAX / 4,
                        nonce: 0,
                    },
                )
            })
            .collect(),
    );
    let per = PENDING / SENDERS;
    let base = transfers(&senders, 1, per, 100_000);
    let more = transfers(&senders, 1 + per as i64, INSERTS / SENDERS, 100_000);
    let now = Instant::now();

    let mut pool = Mempool::new(MempoolConfig {
        capacity: PENDING + INSERTS,
        rate_limit: 0,
    });
    for t in base.clone() {
        pool.insert(t, "p", &chain, now).expect("admitted");
    }
    let start = Instant::now();
    for t in more.clone() {
        pool.insert(t, "p", &chain, now).expect("admitted");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "inserts with {PENDING} pending: {INSERTS} in {secs:.3} s = {:.0} inserts/s (seal check included)",
        INSERTS as f64 / secs
    );

    let start = Instant::now();
    let ordered = pool.ordered().len();
    println!(
        "ordering {ordered} pending transfers for a block: {:.2} ms",
        start.elapsed().as_secs_f64() * 1e3
    );

    // A full pool: every insert (from senders with nothing pending) pays more and evicts
    // the cheapest evictable transfer.
    let mut full = Mempool::new(MempoolConfig {
        capacity: PENDING,
        rate_limit: 0,
    });
    for t in base {
        full.insert(t, "p", &chain, now).expect("admitted");
    }
    let richer = transfers(&newcomers, 1, INSERTS / SENDERS, 300_000);
    let start = Instant::now();
    for t in richer {
        full.insert(t, "p", &chain, now).expect("evicts");
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(full.len(), PENDING);
    println!(
        "inserts into a full pool of {PENDING} (each evicts): {INSERTS} in {secs:.3} s = {:.0} inserts/s",
        INSERTS as f64 / secs
    );
}
