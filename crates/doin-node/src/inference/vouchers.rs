//! The voucher book: for each payment channel this node is paid through, the newest
//! voucher (a [`ChannelUpdate`] sealed by the channel's sender) it has accepted, in table
//! `channel_vouchers` of `inference.db`.
//!
//! It is written in the same transaction as the inference request the voucher paid for
//! (see [`super::PaymentCheck::book`]), so a voucher counts exactly once, and it outlives
//! restarts: the node closes channels and wins disputes with it
//! ([`super::settlement`]).

use doin_primitives::models::{ChannelUpdate, WireModel};
use doin_primitives::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};

/// The table, created with the inference log.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS channel_vouchers (
    channel_id   TEXT PRIMARY KEY,
    sender       TEXT NOT NULL,
    deposit      INTEGER NOT NULL,
    nonce        INTEGER NOT NULL,
    paid         INTEGER NOT NULL,
    voucher_json TEXT NOT NULL,
    requests     INTEGER NOT NULL,
    updated_at   TEXT NOT NULL,
    settled      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS channel_vouchers_unsettled ON channel_vouchers (settled);
";

/// Most channels with an unsettled voucher the book holds (each costs the watcher a look
/// per block); a voucher for a channel beyond them is refused until some settle.
pub const MAX_UNSETTLED_CHANNELS: usize = 1_024;

/// The newest voucher held for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldVoucher {
    /// The channel's sender (the paying client's address).
    pub sender: String,
    /// The channel's deposit, base units.
    pub deposit: u64,
    /// The voucher itself, as the sender sealed it.
    pub update: ChannelUpdate,
    /// Requests paid through the channel so far.
    pub requests: u64,
    /// When the newest voucher was accepted.
    pub updated_at: Timestamp,
    /// Whether the channel is paid out on chain (the watcher stops looking).
    pub settled: bool,
}

impl HeldVoucher {
    /// Base units the voucher pays this node (cumulative).
    pub fn paid(&self) -> u64 {
        self.update.receiver_balance.unsigned_abs()
    }
}

const COLUMNS: &str =
    "channel_id, sender, deposit, nonce, paid, voucher_json, requests, updated_at, settled";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HeldVoucher> {
    let json: String = r.get(5)?;
    let update = ChannelUpdate::from_wire_json(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let at: String = r.get(7)?;
    Ok(HeldVoucher {
        sender: r.get(1)?,
        deposit: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        update,
        requests: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
        updated_at: Timestamp::parse_wire(&doin_primitives::Value::Str(at))
            .unwrap_or_else(|_| Timestamp::from_unix_micros(0)),
        settled: r.get::<_, i64>(8)? != 0,
    })
}

/// The newest voucher held for `channel_id`.
pub fn newest(conn: &Connection, channel_id: &str) -> rusqlite::Result<Option<HeldVoucher>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM channel_vouchers WHERE channel_id = ?1"),
        params![channel_id],
        row,
    )
    .optional()
}

/// Records `v` as its channel's newest voucher. Only a higher nonce replaces the one
/// held (`false` when it does not: the caller refuses the payment).
pub fn hold(conn: &Connection, v: &HeldVoucher) -> rusqlite::Result<bool> {
    let n = conn.execute(
        &format!(
            "INSERT INTO channel_vouchers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0) \
             ON CONFLICT (channel_id) DO UPDATE SET nonce = excluded.nonce, \
             paid = excluded.paid, voucher_json = excluded.voucher_json, \
             requests = excluded.requests, updated_at = excluded.updated_at \
             WHERE excluded.nonce > channel_vouchers.nonce AND channel_vouchers.settled = 0"
        ),
        params![
            v.update.channel_id,
            v.sender,
            i64::try_from(v.deposit).unwrap_or(i64::MAX),
            v.update.nonce,
            v.update.receiver_balance,
            v.update.to_wire_json(),
            i64::try_from(v.requests).unwrap_or(i64::MAX),
            v.updated_at.wire(),
        ],
    )?;
    Ok(n == 1)
}

/// Channels whose voucher is not yet paid out, oldest update first.
pub fn unsettled(conn: &Connection) -> rusqlite::Result<Vec<HeldVoucher>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM channel_vouchers WHERE settled = 0 ORDER BY updated_at LIMIT ?1"
    ))?;
    let rows = stmt.query_map(params![MAX_UNSETTLED_CHANNELS as i64], row)?;
    rows.collect()
}

/// How many channels have an unsettled voucher.
pub fn count_unsettled(conn: &Connection) -> rusqlite::Result<usize> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM channel_vouchers WHERE settled = 0",
        [],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Marks a channel paid out on chain.
pub fn mark_settled(conn: &Connection, channel_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_vouchers SET settled = 1 WHERE channel_id = ?1",
        params![channel_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::identity::Identity;

    fn held(sender: &Identity, nonce: i64, paid: i64) -> HeldVoucher {
        HeldVoucher {
            sender: sender.peer_id().to_string(),
            deposit: 100,
            update: ChannelUpdate::signed(sender, "c".repeat(64), nonce, 100 - paid, paid),
            requests: nonce.unsigned_abs(),
            updated_at: Timestamp::from_unix_micros(1_767_225_600_000_000 + nonce),
            settled: false,
        }
    }

    #[test]
    fn only_a_newer_voucher_replaces_the_one_held_and_it_survives_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("v.db");
        let key = Identity::from_scalar_bytes(&[7; 32]).expect("key");
        let conn = Connection::open(&path).expect("db");
        conn.execute_batch(SCHEMA).expect("schema");
        assert!(hold(&conn, &held(&key, 2, 20)).expect("hold"));
        assert!(!hold(&conn, &held(&key, 2, 30)).expect("same nonce"));
        assert!(!hold(&conn, &held(&key, 1, 90)).expect("older"));
        assert!(hold(&conn, &held(&key, 3, 30)).expect("newer"));
        drop(conn);
        let conn = Connection::open(&path).expect("db");
        let id = "c".repeat(64);
        let v = newest(&conn, &id).expect("read").expect("held");
        assert_eq!(v, held(&key, 3, 30));
        assert_eq!(v.paid(), 30);
        assert_eq!(count_unsettled(&conn).expect("count"), 1);
        mark_settled(&conn, &id).expect("mark");
        assert!(unsettled(&conn).expect("list").is_empty());
        assert!(!hold(&conn, &held(&key, 4, 40)).expect("settled"));
        assert!(newest(&conn, "other").expect("read").is_none());
    }
}
