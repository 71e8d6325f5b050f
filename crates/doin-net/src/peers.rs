//! The peer table (address book): peer id ↔ `host:port`, where it came from, when it was
//! last seen, failures with exponential back-off, bans; persisted in `<data_dir>/peers.json`.
//!
//! Unlike the reference (§5.5), entries record failures, back off `2^n` seconds (capped at
//! 300 s), are dropped after [`DROP_AFTER_FAILURES`] failures (bootstrap peers excepted),
//! can be banned, and the table is bounded ([`MAX_PEERS`]). Loopback addresses are
//! ordinary peers (the reference ignores 127.0.0.1, which breaks single-host networks).
//! Times are Unix seconds, given by the caller.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::PeerKey;

/// Most entries kept.
pub const MAX_PEERS: usize = 1_000;
/// Longest back-off after failures, in seconds.
pub const MAX_BACKOFF_SECS: u64 = 300;
/// Failures after which a non-bootstrap peer is forgotten.
pub const DROP_AFTER_FAILURES: u32 = 20;
/// Largest `peers.json` read.
const MAX_FILE_BYTES: u64 = 8 << 20;

/// Where we learnt of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerSource {
    /// The config's bootstrap list.
    Bootstrap,
    /// Another peer's `GET /peers`.
    Pex,
    /// It sent us a message.
    Inbound,
}

impl PeerSource {
    /// The persisted name.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerSource::Bootstrap => "bootstrap",
            PeerSource::Pex => "pex",
            PeerSource::Inbound => "inbound",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Bootstrap, Self::Pex, Self::Inbound]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One known peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerEntry {
    /// Its id (or a placeholder `bootstrap-<endpoint>` until learnt).
    pub peer_id: PeerKey,
    /// `host:port` of its HTTP server.
    pub endpoint: String,
    /// Where we learnt of it.
    pub source: PeerSource,
    /// Last successful contact (Unix seconds; 0 = never).
    pub last_seen: u64,
    /// Consecutive failures.
    pub failures: u32,
    /// Not to be dialled before this time (Unix seconds).
    pub retry_after: u64,
    /// Banned until this time (Unix seconds; 0 = not banned).
    pub banned_until: u64,
}

/// Why the peer table could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PeerTableError {
    /// The file could not be read or written.
    #[error("peer table {path}: {source}; check that the data directory is writable")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a peer table; delete it to start with an empty one.
    #[error("peer table {path} is not valid JSON ({reason}); delete it to start afresh")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// What [`PeerTable::upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upsert {
    /// A new entry.
    Added,
    /// An existing entry was refreshed.
    Updated,
    /// A placeholder entry for the same endpoint now has its real id.
    Replaced(PeerKey),
    /// The table is full of entries that may not be evicted; nothing changed.
    Full,
    /// The endpoint is not `host:port`; nothing changed.
    BadEndpoint,
}

/// Whether `s` is `host:port` with a non-empty host and a non-zero port.
pub fn valid_endpoint(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && host.len() <= 253
                && !host.contains(['/', ' ', '@'])
                && port.parse::<u16>().is_ok_and(|p| p != 0)
        }
        None => false,
    }
}

/// The placeholder id of a peer known only by its endpoint.
pub fn placeholder_id(endpoint: &str) -> PeerKey {
    format!("bootstrap-{endpoint}")
}

/// Whether `peer_id` is no peer's id but a stand-in for one known only by its
/// `endpoint`: ours (`bootstrap-<endpoint>`), or the reference's (the endpoint itself,
/// `bootstrap-…` and `lan-…`).
pub fn is_placeholder(peer_id: &str, endpoint: &str) -> bool {
    peer_id == endpoint || peer_id.starts_with("bootstrap-") || peer_id.starts_with("lan-")
}

/// Back-off after `failures` consecutive failures: `2^failures` s, capped at 300 s.
pub fn backoff_secs(failures: u32) -> u64 {
    1u64.checked_shl(failures)
        .unwrap_or(u64::MAX)
        .min(MAX_BACKOFF_SECS)
}

/// The table.
#[derive(Debug, Default)]
pub struct PeerTable {
    entries: BTreeMap<PeerKey, PeerEntry>,
    path: Option<PathBuf>,
}

impl PeerTable {
    /// An empty table kept in memory only.
    pub fn in_memory() -> Self {
        PeerTable::default()
    }

    /// Loads `path` (an absent file gives an empty table); [`Self::save`] writes back there.
    pub fn load(path: &Path) -> Result<Self, PeerTableError> {
        let mut table = PeerTable {
            entries: BTreeMap::new(),
            path: Some(path.to_owned()),
        };
        let io = |source| PeerTableError::Io {
            path: path.to_owned(),
            source,
        };
        let text = match std::fs::File::open(path) {
            Ok(f) => {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_FILE_BYTES), &mut s)
                    .map_err(io)?;
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(table),
            Err(e) => return Err(io(e)),
        };
        let corrupt = |reason: String| PeerTableError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        let peers = v
            .get("peers")
            .and_then(|p| p.as_array())
            .ok_or_else(|| corrupt("no \"peers\" list".into()))?;
        for p in peers.iter().take(MAX_PEERS) {
            // Skip entries that do not read; one bad row must not lose the others.
            let s = |k: &str| p.get(k).and_then(|x| x.as_str());
            let n = |k: &str| p.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
            let (Some(id), Some(ep)) = (s("peer_id"), s("endpoint")) else {
                continue;
            };
            if id.is_empty() || !valid_endpoint(ep) {
                continue;
            }
            table.entries.insert(
                id.to_owned(),
                PeerEntry {
                    peer_id: id.to_owned(),
                    endpoint: ep.to_owned(),
                    source: s("source")
                        .and_then(PeerSource::parse)
                        .unwrap_or(PeerSource::Pex),
                    last_seen: n("last_seen"),
                    failures: u32::try_from(n("failures")).unwrap_or(u32::MAX),
                    retry_after: n("retry_after"),
                    banned_until: n("banned_until"),
                },
            );
        }
        Ok(table)
    }

    /// Writes the table to its file atomically (temporary file + rename); no-op in memory.
    pub fn save(&self) -> Result<(), PeerTableError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source| PeerTableError::Io {
            path: path.clone(),
            source,
        };
        let peers: Vec<serde_json::Value> = self
            .entries
            .values()
            .map(|e| {
                serde_json::json!({
                    "peer_id": e.peer_id,
                    "endpoint": e.endpoint,
                    "source": e.source.as_str(),
                    "last_seen": e.last_seen,
                    "failures": e.failures,
                    "retry_after": e.retry_after,
                    "banned_until": e.banned_until,
                })
            })
            .collect();
        let text = serde_json::json!({"version": 1, "peers": peers}).to_string();
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Adds or refreshes a peer; a placeholder entry with the same endpoint takes the real id.
    pub fn upsert(
        &mut self,
        peer_id: &str,
        endpoint: &str,
        source: PeerSource,
        now: u64,
    ) -> Upsert {
        self.upsert_keeping(peer_id, endpoint, source, now, |_| false)
    }

    /// [`PeerTable::upsert`], where a full table never evicts a peer `keep` names (the
    /// peers holding connection slots: a flood of new ids must not push a connected
    /// peer out of the book).
    pub fn upsert_keeping(
        &mut self,
        peer_id: &str,
        endpoint: &str,
        source: PeerSource,
        now: u64,
        keep: impl Fn(&str) -> bool,
    ) -> Upsert {
        if !valid_endpoint(endpoint) || peer_id.is_empty() {
            return Upsert::BadEndpoint;
        }
        if let Some(e) = self.entries.get_mut(peer_id) {
            e.endpoint = endpoint.to_owned();
            e.last_seen = e.last_seen.max(now);
            return Upsert::Updated;
        }
        let placeholder = self
            .entries
            .values()
            .find(|e| e.endpoint == endpoint && e.peer_id == placeholder_id(endpoint))
            .map(|e| e.peer_id.clone());
        if let Some(old) = placeholder {
            if let Some(mut e) = self.entries.remove(&old) {
                e.peer_id = peer_id.to_owned();
                e.last_seen = now;
                self.entries.insert(peer_id.to_owned(), e);
            }
            return Upsert::Replaced(old);
        }
        if self.entries.len() >= MAX_PEERS && !self.evict_one(now, keep) {
            return Upsert::Full;
        }
        self.entries.insert(
            peer_id.to_owned(),
            PeerEntry {
                peer_id: peer_id.to_owned(),
                endpoint: endpoint.to_owned(),
                source,
                last_seen: if source == PeerSource::Inbound {
                    now
                } else {
                    0
                },
                failures: 0,
                retry_after: 0,
                banned_until: 0,
            },
        );
        Upsert::Added
    }

    /// Evicts the least useful non-bootstrap, non-banned entry that `keep` does not name:
    /// most failures, then oldest.
    fn evict_one(&mut self, now: u64, keep: impl Fn(&str) -> bool) -> bool {
        let victim = self
            .entries
            .values()
            .filter(|e| {
                e.source != PeerSource::Bootstrap && e.banned_until <= now && !keep(&e.peer_id)
            })
            .max_by_key(|e| (e.failures, std::cmp::Reverse(e.last_seen)))
            .map(|e| e.peer_id.clone());
        victim.is_some_and(|v| self.entries.remove(&v).is_some())
    }

    /// A contact worked: failures reset.
    pub fn record_success(&mut self, peer_id: &str, now: u64) {
        if let Some(e) = self.entries.get_mut(peer_id) {
            e.failures = 0;
            e.retry_after = 0;
            e.last_seen = e.last_seen.max(now);
        }
    }

    /// A contact failed: back off; returns the time before which not to retry. A
    /// non-bootstrap peer is forgotten after [`DROP_AFTER_FAILURES`] failures.
    pub fn record_failure(&mut self, peer_id: &str, now: u64) -> Option<u64> {
        let e = self.entries.get_mut(peer_id)?;
        e.failures = e.failures.saturating_add(1);
        e.retry_after = now + backoff_secs(e.failures);
        let retry = e.retry_after;
        if e.failures >= DROP_AFTER_FAILURES && e.source != PeerSource::Bootstrap {
            self.entries.remove(peer_id);
        }
        Some(retry)
    }

    /// Bans a peer until `until` (adding a placeholder-free note if it is unknown is not
    /// possible without an endpoint, so unknown peers are ignored).
    pub fn ban(&mut self, peer_id: &str, until: u64) {
        if let Some(e) = self.entries.get_mut(peer_id) {
            e.banned_until = e.banned_until.max(until);
        }
    }

    /// Whether the peer is banned now.
    pub fn is_banned(&self, peer_id: &str, now: u64) -> bool {
        self.entries
            .get(peer_id)
            .is_some_and(|e| e.banned_until > now)
    }

    /// Whether the peer may be dialled now (known, not banned, not backing off).
    pub fn is_dialable(&self, peer_id: &str, now: u64) -> bool {
        self.entries
            .get(peer_id)
            .is_some_and(|e| e.banned_until <= now && e.retry_after <= now)
    }

    /// Entries that may be dialled now.
    pub fn dialable(&self, now: u64) -> Vec<&PeerEntry> {
        self.entries
            .values()
            .filter(|e| e.banned_until <= now && e.retry_after <= now)
            .collect()
    }

    /// A peer's entry.
    pub fn get(&self, peer_id: &str) -> Option<&PeerEntry> {
        self.entries.get(peer_id)
    }

    /// A peer's endpoint.
    pub fn endpoint(&self, peer_id: &str) -> Option<&str> {
        self.entries.get(peer_id).map(|e| e.endpoint.as_str())
    }

    /// Forgets a peer.
    pub fn remove(&mut self, peer_id: &str) -> Option<PeerEntry> {
        self.entries.remove(peer_id)
    }

    /// All entries, by id.
    pub fn iter(&self) -> impl Iterator<Item = &PeerEntry> {
        self.entries.values()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
