//! Crash safety: a writer killed with SIGKILL at random moments never loses a block that
//! `append` reported as committed, and never leaves a broken chain behind.
//!
//! The writer is this same test executable, re-run on the `append_forever_child` test with
//! an environment variable naming the database; without the variable that test does nothing.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use doin_primitives::models::Block;
use doin_store::{ChainStore, StoreError};

const CHILD_ENV: &str = "DOIN_STORE_CRASH_CHILD_DB";
const KILLS: usize = 5;

/// Child side: appends valid blocks until killed, printing `committed <index>` after each
/// commit returns. Every third commit is a batch of four blocks.
#[test]
fn append_forever_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut store = ChainStore::open(Path::new(&path)).expect("child: open");
    let mut out = std::io::stdout().lock();
    loop {
        let (tip, hash) = store.tip().expect("child: tip");
        let n = if tip % 3 == 0 { 4 } else { 1 };
        let blocks = common::chain_after(tip, &hash, n, 3);
        store.append_batch(&blocks).expect("child: append");
        writeln!(out, "committed {}", tip + n as i64).expect("child: stdout");
        out.flush().expect("child: flush");
    }
}

/// A small xorshift generator: the kill moments only need to vary, not be secret.
struct Jitter(u64);

impl Jitter {
    fn millis(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo + 1)
    }
}

/// Checks the stored chain block by block; returns the tip index.
fn verify_chain(store: &ChainStore) -> i64 {
    let mut next = 0_i64;
    let mut prev_hash: Option<String> = None;
    store
        .for_each_block(0, |b: Block| {
            assert_eq!(b.header.index, next, "chain has a gap");
            assert_eq!(b.validate_content(), Ok(()), "block {next} content");
            if let Some(p) = &prev_hash {
                assert_eq!(&b.header.previous_hash, p, "block {next} link");
            }
            prev_hash = Some(b.hash);
            next += 1;
            Ok::<(), StoreError>(())
        })
        .expect("scan");
    let (tip, hash) = store.tip().expect("tip");
    assert_eq!(tip, next - 1);
    assert_eq!(Some(hash), prev_hash);
    tip
}

#[test]
fn a_killed_writer_never_loses_a_committed_block() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.db");
    drop(ChainStore::open(&path).expect("create"));
    let exe = std::env::current_exe().expect("test executable");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("kill-moment seed {seed}");
    let mut jitter = Jitter(seed);

    let mut committed = 0_i64;
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "append_forever_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn writer");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let output = std::thread::spawn(move || {
            let mut text = String::new();
            stdout.read_to_string(&mut text).map(|_| text)
        });
        std::thread::sleep(Duration::from_millis(jitter.millis(50, 300)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");

        let text = output.join().expect("output thread").expect("read output");
        // Only whole lines count: a line cut by the kill was not fully reported.
        let whole = text.rsplit_once('\n').map_or("", |(lines, _)| lines);
        for line in whole.lines() {
            if let Some(n) = line.strip_prefix("committed ") {
                let n: i64 = n.parse().expect("committed index");
                assert!(
                    n > committed,
                    "round {round}: committed went from {committed} to {n}"
                );
                committed = n;
            }
        }

        let store = ChainStore::open(&path).expect("reopen after kill");
        let tip = verify_chain(&store);
        assert!(
            tip >= committed,
            "round {round}: the writer reported block {committed} committed, the store ends at {tip}"
        );
        committed = tip;
    }
    assert!(committed > 0, "the writer never committed a block");

    let raw = rusqlite::Connection::open(&path).expect("raw");
    let check: String = raw
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    eprintln!("{KILLS} kills survived, final tip {committed}");
}
