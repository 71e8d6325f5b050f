//! Behaviour of the chain store: genesis, exact round trips, refused appends, truncation,
//! concurrent readers, metadata and corrupt rows.

mod common;

use std::path::PathBuf;

use common::{block_with, chain_after, next_block};
use doin_primitives::models::{Block, WireModel, GENESIS_HASH};
use doin_store::{ChainReader, ChainStore, StoreError};

fn temp_store() -> (tempfile::TempDir, PathBuf, ChainStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data").join("chain.db");
    let store = ChainStore::open(&path).expect("open");
    (dir, path, store)
}

fn extend(store: &mut ChainStore, n: usize, txs: usize) -> Vec<Block> {
    let (tip, hash) = store.tip().expect("tip");
    let blocks = chain_after(tip, &hash, n, txs);
    store.append_batch(&blocks).expect("append");
    blocks
}

#[test]
fn a_new_store_holds_genesis_and_keeps_it_on_reopen() {
    let (_dir, path, store) = temp_store();
    assert_eq!(store.tip().expect("tip"), (0, GENESIS_HASH.to_owned()));
    assert_eq!(store.height().expect("height"), 1);
    let genesis = store.block(0).expect("read").expect("genesis");
    assert_eq!(genesis, Block::genesis());
    assert_eq!(genesis.validate_content(), Ok(()));
    assert_eq!(
        store.get_meta("schema_version").expect("meta").as_deref(),
        Some(doin_store::schema::SCHEMA_VERSION)
    );
    drop(store);
    let store = ChainStore::open(&path).expect("reopen");
    assert_eq!(store.height().expect("height"), 1);
}

#[test]
fn appended_blocks_come_back_byte_for_byte() {
    let (_dir, path, mut store) = temp_store();
    let mut blocks = extend(&mut store, 3, 4);
    blocks.push(next_block(3, &blocks[2].hash, 0, 0));
    store.append(&blocks[3]).expect("append empty block");
    assert_eq!(store.tip().expect("tip"), (4, blocks[3].hash.clone()));
    drop(store);

    let store = ChainStore::open(&path).expect("reopen");
    for b in &blocks {
        let i = b.header.index;
        let back = store.block(i).expect("read").expect("present");
        assert_eq!(back.to_wire_json(), b.to_wire_json());
        assert_eq!(
            store.block_wire_json(i).expect("read").as_deref(),
            Some(b.to_wire_json().as_str())
        );
        let by_hash = store
            .block_by_hash(&b.hash)
            .expect("read")
            .expect("present");
        assert_eq!(by_hash, *b);
        assert_eq!(store.block_hash(i).expect("read").as_ref(), Some(&b.hash));
    }
    assert_eq!(store.block(5).expect("read"), None);
    assert_eq!(store.block_by_hash("00").expect("read"), None);

    let range = store.blocks(2, 100).expect("range");
    assert_eq!(range, blocks[1..].to_vec());
    assert!(store.blocks(7, 9).expect("range").is_empty());
    let hashes = store.block_hashes(3, 9).expect("hashes");
    assert_eq!(
        hashes,
        vec![(3, blocks[2].hash.clone()), (4, blocks[3].hash.clone())]
    );

    let tx = &blocks[1].transactions[3];
    assert_eq!(
        store.transaction(&tx.id).expect("tx"),
        Some((2, tx.clone()))
    );
    assert_eq!(store.transaction("nope").expect("tx"), None);
}

/// The store keeps whatever the block model writes: the seal and extension fields such as
/// the coinbase come back byte for byte.
#[test]
fn a_sealed_block_with_an_extension_field_round_trips() {
    let (_dir, _path, mut store) = temp_store();
    let plain = next_block(0, GENESIS_HASH, 2, 7);
    let mut wire = plain.to_wire_json();
    wire.pop(); // the closing brace
    wire.push_str(&format!(
        r#","public_key":"04{}","signature":"3045{}","coinbase":{{"outputs":[]}}}}"#,
        "ab".repeat(64),
        "cd".repeat(34)
    ));
    let sealed = Block::from_wire_json(&wire).expect("parse");
    assert!(sealed.seal.is_some());
    store.append(&sealed).expect("append");

    let back = store.block(1).expect("read").expect("present");
    assert_eq!(back.to_wire_json(), sealed.to_wire_json());
    assert_eq!(back.seal, sealed.seal);
    assert!(back.extensions.contains_key("coinbase"));
    assert!(back.to_wire_json().contains(r#""coinbase":{"outputs":[]}"#));
}

#[test]
fn a_block_that_does_not_extend_the_tip_is_refused_and_nothing_is_written() {
    let (_dir, _path, mut store) = temp_store();
    let first = extend(&mut store, 1, 2).remove(0);

    let skip = next_block(2, &first.hash, 1, 0);
    match store.append(&skip) {
        Err(StoreError::NotNext { tip: 1, got: 3 }) => {}
        other => panic!("expected NotNext, got {other:?}"),
    }
    let orphan = next_block(1, GENESIS_HASH, 1, 0);
    match store.append(&orphan) {
        Err(StoreError::WrongParent {
            index: 2,
            expected,
            got,
        }) => {
            assert_eq!(expected, first.hash);
            assert_eq!(got, GENESIS_HASH);
        }
        other => panic!("expected WrongParent, got {other:?}"),
    }
    // A batch whose third block is bad leaves the first two out as well.
    let mut batch = chain_after(1, &first.hash, 3, 1);
    batch[2].header.previous_hash = "ff".repeat(32);
    assert!(matches!(
        store.append_batch(&batch),
        Err(StoreError::WrongParent { index: 4, .. })
    ));
    assert_eq!(store.tip().expect("tip"), (1, first.hash.clone()));
    assert_eq!(store.block(2).expect("read"), None);
    assert_eq!(
        store.transaction(&batch[0].transactions[0].id).expect("tx"),
        None
    );
}

#[test]
fn a_transaction_id_already_in_the_chain_is_refused() {
    let (_dir, _path, mut store) = temp_store();
    let first = extend(&mut store, 1, 2).remove(0);

    let replay = block_with(1, &first.hash, vec![first.transactions[1].clone()]);
    match store.append(&replay) {
        Err(StoreError::DuplicateTransaction(id)) => assert_eq!(id, first.transactions[1].id),
        other => panic!("expected DuplicateTransaction, got {other:?}"),
    }
    // Twice inside one block.
    let mut twice = next_block(1, &first.hash, 1, 9);
    twice.transactions.push(twice.transactions[0].clone());
    assert!(matches!(
        store.append(&twice),
        Err(StoreError::DuplicateTransaction(_))
    ));
    assert_eq!(store.height().expect("height"), 2);
    store
        .append(&next_block(1, &first.hash, 2, 1))
        .expect("fresh transactions are fine");
}

#[test]
fn truncate_removes_blocks_and_transactions_above_but_never_genesis() {
    let (_dir, _path, mut store) = temp_store();
    let blocks = extend(&mut store, 5, 2);
    assert_eq!(store.truncate_above(2).expect("truncate"), 3);
    assert_eq!(store.tip().expect("tip"), (2, blocks[1].hash.clone()));
    assert_eq!(store.block(3).expect("read"), None);
    assert_eq!(
        store
            .transaction(&blocks[3].transactions[0].id)
            .expect("tx"),
        None
    );
    // The removed transactions may be included again on the new branch.
    store.append(&blocks[2]).expect("re-append");
    assert_eq!(store.truncate_above(10).expect("no-op"), 0);

    assert!(matches!(
        store.truncate_above(-1),
        Err(StoreError::WouldRemoveGenesis(-1))
    ));
    assert_eq!(store.truncate_above(0).expect("truncate"), 3);
    assert_eq!(store.tip().expect("tip"), (0, GENESIS_HASH.to_owned()));
}

#[test]
fn a_reader_on_another_thread_sees_the_writers_blocks() {
    let (_dir, path, mut store) = temp_store();
    let reader = store.reader().expect("reader");
    let (tx, rx) = std::sync::mpsc::channel::<i64>();
    let seen = std::thread::spawn(move || {
        let mut heights = Vec::new();
        // The writer sends each height it committed; the reader must see at least that.
        for committed in rx {
            let mut count = 0_i64;
            let mut prev: Option<String> = None;
            reader
                .for_each_block(0, |b: Block| {
                    assert_eq!(b.header.index, count);
                    if let Some(p) = &prev {
                        assert_eq!(&b.header.previous_hash, p);
                    }
                    prev = Some(b.hash);
                    count += 1;
                    Ok::<(), StoreError>(())
                })
                .expect("scan");
            assert!(count >= committed, "reader saw {count} < {committed}");
            heights.push(count);
        }
        heights
    });
    for _ in 0..20 {
        extend(&mut store, 1, 3);
        tx.send(store.height().expect("height")).expect("send");
    }
    drop(tx);
    let heights = seen.join().expect("reader thread");
    assert_eq!(heights.last(), Some(&21));

    let other = ChainReader::open(&path).expect("open reader");
    assert_eq!(other.tip().expect("tip"), store.tip().expect("tip"));
}

#[test]
fn metadata_round_trips_and_the_schema_version_is_reserved() {
    let (_dir, path, mut store) = temp_store();
    assert_eq!(store.get_meta("chain_params_hash").expect("get"), None);
    store.set_meta("chain_params_hash", "abc").expect("set");
    store
        .set_meta("chain_params_hash", "def")
        .expect("overwrite");
    assert!(matches!(
        store.set_meta("schema_version", "0"),
        Err(StoreError::ReservedMetaKey(_))
    ));
    drop(store);
    let reader = ChainReader::open(&path).expect("reader");
    assert_eq!(
        reader
            .get_meta("chain_params_hash")
            .expect("get")
            .as_deref(),
        Some("def")
    );
}

#[test]
fn another_networks_file_or_schema_is_refused() {
    let (_dir, path, store) = temp_store();
    drop(store);
    let other = Block::genesis_with_generator("node-1");
    assert!(matches!(
        ChainStore::open_with_genesis(&path, &other),
        Err(StoreError::GenesisMismatch { .. })
    ));

    let raw = rusqlite::Connection::open(&path).expect("raw");
    raw.execute(
        "UPDATE metadata SET value = '1' WHERE key = 'schema_version'",
        [],
    )
    .expect("update");
    drop(raw);
    for result in [
        ChainStore::open(&path).err(),
        ChainReader::open(&path).err(),
    ] {
        match result {
            Some(e @ StoreError::SchemaVersion { .. }) => {
                assert!(e.to_string().contains("--data-dir"), "{e}");
            }
            other => panic!("expected SchemaVersion, got {other:?}"),
        }
    }
}

#[test]
fn corrupt_rows_are_typed_errors_not_panics() {
    let (_dir, path, mut store) = temp_store();
    let blocks = extend(&mut store, 4, 2);
    let raw = rusqlite::Connection::open(&path).expect("raw");
    let corrupt = |sql: &str| raw.execute(sql, []).expect("tamper");
    let is_corrupt = |r: Result<Option<Block>, StoreError>| {
        matches!(r, Err(StoreError::Corrupt { .. })) || panic!("expected Corrupt, got {r:?}")
    };

    corrupt("UPDATE blocks SET wire = '{\"header\": [' WHERE block_index = 1");
    assert!(is_corrupt(store.block(1)));
    assert!(matches!(
        store.blocks(0, 9),
        Err(StoreError::Corrupt { .. })
    ));
    let mut seen = 0;
    let scan = store.for_each_block(0, |_| {
        seen += 1;
        Ok::<(), StoreError>(())
    });
    assert!(matches!(scan, Err(StoreError::Corrupt { .. })));
    assert_eq!(seen, 1, "genesis streamed before the damaged row");

    // Valid JSON, but another block's.
    corrupt("UPDATE blocks SET wire = (SELECT wire FROM blocks WHERE block_index = 3) WHERE block_index = 2");
    assert!(is_corrupt(store.block(2)));
    // Not text at all.
    corrupt("UPDATE blocks SET wire = 42 WHERE block_index = 3");
    assert!(is_corrupt(store.block(3)));
    // A transaction row pointing past its block's transactions.
    corrupt("UPDATE transactions SET tx_index = 99 WHERE block_index = 4 AND tx_index = 0");
    let id = &blocks[3].transactions[0].id;
    assert!(matches!(
        store.transaction(id),
        Err(StoreError::Corrupt { .. })
    ));

    let msg = store.block(1).expect_err("corrupt").to_string();
    assert!(msg.contains("block 1") && msg.contains("backup"), "{msg}");
}

#[test]
fn a_second_writer_is_refused_until_the_first_closes() {
    let (_dir, path, store) = temp_store();
    match ChainStore::open(&path) {
        Err(e @ StoreError::Locked { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("another doin-node") && msg.contains("--data-dir"),
                "{msg}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let reader = store.reader().expect("readers are not writers");
    drop(store);
    let store = ChainStore::open(&path).expect("free again");
    assert_eq!(store.tip().expect("tip"), reader.tip().expect("tip"));
}

#[test]
fn a_file_that_is_not_a_database_is_reported_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.db");
    std::fs::write(&path, vec![0x5a_u8; 8192]).expect("write garbage");
    match ChainStore::open(&path) {
        Err(StoreError::Corrupt { .. }) => {}
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
