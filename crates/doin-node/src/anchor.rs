//! External checkpoint anchoring: the sinks a node publishes its final checkpoints to
//! (a JSON-lines file, an HTTP endpoint, a PostgreSQL table) and reads them back from at
//! start-up.
//!
//! * Which blocks are anchored, the state hash and the rule that refuses a contradicting
//!   chain are pure functions in [`doin_consensus::anchor`]; the chain service
//!   ([`crate::chain_service`]) creates an anchor whenever block `k * external_anchor_interval`
//!   becomes final, enforces every anchor it holds on blocks from peers, and hands new
//!   anchors to [`publish`] over a bounded queue.
//! * At start-up [`AnchorSinks::load`] reads back the anchors of this chain (its parameters'
//!   hash) from the file and the table; the node refuses to start on a `chain.db` that
//!   contradicts them, and refuses any peer branch that does.
//! * Records carry the chain parameters' hash, so several networks may share one sink; the
//!   HTTP sink is write-only (an external service keeps what it receives).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use doin_consensus::anchor::{Anchor, AnchorError, AnchorSet};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::config::NodeConfig;

/// Anchors queued to the publisher; when full the chain service retries on a later block.
pub const PUBLISH_QUEUE: usize = 64;
/// Longest anchor file read back (bytes).
const MAX_FILE_BYTES: u64 = 64 << 20;
/// Most anchors read back from the table.
const MAX_ROWS: i64 = 1_000_000;
/// Attempts per sink and anchor before the publisher gives up on it.
const ATTEMPTS: u32 = 3;
/// Timeout of one HTTP POST.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a sink could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AnchorSinkError {
    /// The anchor file could not be read or written.
    #[error("anchor file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A line of the anchor file is not an anchor.
    #[error("anchor file {path}, line {line}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The PostgreSQL sink failed.
    #[error("anchor table {table}: {source}")]
    Postgres {
        /// The table.
        table: String,
        /// The failure.
        source: tokio_postgres::Error,
    },
    /// The PostgreSQL sink could not connect (options, TLS, server).
    #[error("anchor table {table}: {source} (check anchor_postgres_url)")]
    PostgresConnect {
        /// The table.
        table: String,
        /// The failure.
        source: doin_stats::pg_tls::PgConnectError,
    },
    /// The CA file of the HTTP sink cannot be used.
    #[error("anchor_ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP sink failed.
    #[error("POST {url}: {reason}")]
    Http {
        /// The endpoint.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Two published anchors disagree.
    #[error(transparent)]
    Conflict(#[from] AnchorError),
}

/// One anchor as the sinks record it (a line of the file, a POST body, a row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorRecord {
    /// The chain parameters' hash: which network the anchor belongs to.
    pub chain: String,
    /// The anchored block's index.
    pub height: u64,
    /// Its hash.
    pub block_hash: String,
    /// The chain-state hash up to it (see [`doin_consensus::anchor`]).
    pub state_hash: String,
    /// The publishing node's peer id.
    pub node_id: String,
    /// When it was published (ISO 8601, UTC).
    pub published_at: String,
}

impl AnchorRecord {
    /// The record of `anchor` published now by `node_id` for chain `chain`.
    pub fn new(chain: &str, node_id: &str, anchor: &Anchor) -> Self {
        AnchorRecord {
            chain: chain.to_owned(),
            height: anchor.height,
            block_hash: anchor.block_hash.clone(),
            state_hash: anchor.state_hash.clone(),
            node_id: node_id.to_owned(),
            published_at: doin_primitives::Timestamp::now_utc().wire(),
        }
    }

    /// The checkpoint it records.
    pub fn anchor(&self) -> Anchor {
        Anchor {
            height: self.height,
            block_hash: self.block_hash.clone(),
            state_hash: self.state_hash.clone(),
        }
    }
}

/// The anchor sinks a node is configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnchorSinks {
    /// JSON-lines file (read back at start).
    pub file: Option<PathBuf>,
    /// HTTP endpoint (write-only).
    pub url: Option<String>,
    /// PEM file of CA certificates trusted, besides the Mozilla roots, for an `https://`
    /// endpoint.
    pub ca_file: Option<PathBuf>,
    /// PostgreSQL URL and table (read back at start).
    pub postgres: Option<(String, String)>,
}

impl AnchorSinks {
    /// The sinks of `config`.
    pub fn from_config(config: &NodeConfig) -> Self {
        AnchorSinks {
            file: config.anchor_file_path(),
            url: (!config.anchor_url.is_empty()).then(|| config.anchor_url.clone()),
            ca_file: (!config.anchor_ca_file.is_empty())
                .then(|| PathBuf::from(&config.anchor_ca_file)),
            postgres: (!config.anchor_postgres_url.is_empty()).then(|| {
                (
                    config.anchor_postgres_url.clone(),
                    config.anchor_postgres_table.clone(),
                )
            }),
        }
    }

    /// The client of the HTTP sink: rustls, the Mozilla roots plus those of `ca_file`.
    pub fn http_client(&self) -> Result<reqwest::Client, AnchorSinkError> {
        let mut builder = reqwest::Client::builder().timeout(HTTP_TIMEOUT);
        if let Some(path) = &self.ca_file {
            let bad = |reason: String| AnchorSinkError::CaFile {
                path: path.clone(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| bad(format!("not a PEM bundle: {e}")))?;
            if certs.is_empty() {
                return Err(bad("no PEM certificate in it".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        builder.build().map_err(|e| AnchorSinkError::Http {
            url: self.url.clone().unwrap_or_default(),
            reason: format!("building the HTTP client: {e}"),
        })
    }

    /// Whether no sink is configured.
    pub fn is_empty(&self) -> bool {
        self.file.is_none() && self.url.is_none() && self.postgres.is_none()
    }

    /// The anchors of chain `chain` published to the file and the table. An unreadable
    /// sink or two disagreeing anchors is an error: a node must not run unaware of them.
    pub async fn load(&self, chain: &str) -> Result<AnchorSet, AnchorSinkError> {
        // A bad anchor_ca_file stops the node now, not at its first anchor.
        if self.url.is_some() {
            self.http_client()?;
        }
        let mut records = Vec::new();
        if let Some(path) = &self.file {
            let (p, chain) = (path.clone(), chain.to_owned());
            let read = tokio::task::spawn_blocking(move || read_file(&p, &chain))
                .await
                .map_err(|e| AnchorSinkError::Io {
                    path: path.clone(),
                    source: std::io::Error::other(e),
                })?;
            records.extend(read?);
        }
        if let Some((url, table)) = &self.postgres {
            let sink = PgSink::connect(url, table).await?;
            records.extend(sink.read(chain).await?);
        }
        let mut set = AnchorSet::new();
        for r in &records {
            set.insert(r.anchor())?;
        }
        Ok(set)
    }
}

/// The records of chain `chain` in the anchor file (an absent file has none). A last line
/// without its newline (a write cut short) is ignored; any other unreadable line is an error.
pub fn read_file(path: &Path, chain: &str) -> Result<Vec<AnchorRecord>, AnchorSinkError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AnchorSinkError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let mut reader = std::io::BufReader::new(std::io::Read::take(file, MAX_FILE_BYTES));
    let mut out = Vec::new();
    let mut line = String::new();
    for n in 1.. {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|source| AnchorSinkError::Io {
                path: path.to_owned(),
                source,
            })?;
        if read == 0 || !line.ends_with('\n') {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let record: AnchorRecord =
            serde_json::from_str(&line).map_err(|e| AnchorSinkError::Corrupt {
                path: path.to_owned(),
                line: n,
                reason: e.to_string(),
            })?;
        if record.chain == chain {
            out.push(record);
        }
    }
    Ok(out)
}

/// Appends `record` to the anchor file as one line and syncs it to disk.
pub fn append_file(path: &Path, record: &AnchorRecord) -> Result<(), AnchorSinkError> {
    let io = |source| AnchorSinkError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut line = serde_json::to_string(record).map_err(|e| io(std::io::Error::other(e)))?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    f.write_all(line.as_bytes()).map_err(io)?;
    f.sync_data().map_err(io)
}

/// The PostgreSQL sink: one table, one row per anchor and publisher-agreed block.
pub struct PgSink {
    client: tokio_postgres::Client,
    table: String,
}

impl PgSink {
    /// Connects (TLS as the URL's `sslmode` and `sslrootcert` say, see
    /// [`doin_stats::pg_tls`]) and creates the table if absent (`table` is a checked
    /// identifier, see [`NodeConfig::validate`]).
    pub async fn connect(url: &str, table: &str) -> Result<PgSink, AnchorSinkError> {
        let err = |source| AnchorSinkError::Postgres {
            table: table.to_owned(),
            source,
        };
        let (client, connection) = doin_stats::pg_tls::connect(url).await.map_err(|source| {
            AnchorSinkError::PostgresConnect {
                table: table.to_owned(),
                source,
            }
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("anchor sink connection closed: {e}");
            }
        });
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {table} (\
                 chain TEXT NOT NULL, height BIGINT NOT NULL, block_hash TEXT NOT NULL, \
                 state_hash TEXT NOT NULL, node_id TEXT NOT NULL, published_at TEXT NOT NULL, \
                 PRIMARY KEY (chain, height, block_hash))"
            ))
            .await
            .map_err(err)?;
        Ok(PgSink {
            client,
            table: table.to_owned(),
        })
    }

    fn err(&self, source: tokio_postgres::Error) -> AnchorSinkError {
        AnchorSinkError::Postgres {
            table: self.table.clone(),
            source,
        }
    }

    /// Inserts `record` (a row already there for that block is kept).
    pub async fn insert(&self, record: &AnchorRecord) -> Result<(), AnchorSinkError> {
        let height = i64::try_from(record.height).unwrap_or(i64::MAX);
        self.client
            .execute(
                &format!(
                    "INSERT INTO {} (chain, height, block_hash, state_hash, node_id, published_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    self.table
                ),
                &[
                    &record.chain,
                    &height,
                    &record.block_hash,
                    &record.state_hash,
                    &record.node_id,
                    &record.published_at,
                ],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The rows of chain `chain`, lowest height first.
    pub async fn read(&self, chain: &str) -> Result<Vec<AnchorRecord>, AnchorSinkError> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT height, block_hash, state_hash, node_id, published_at FROM {} \
                     WHERE chain = $1 AND height >= 0 ORDER BY height, block_hash LIMIT $2",
                    self.table
                ),
                &[&chain, &MAX_ROWS],
            )
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok(AnchorRecord {
                    chain: chain.to_owned(),
                    height: u64::try_from(r.try_get::<_, i64>(0)?).unwrap_or(0),
                    block_hash: r.try_get(1)?,
                    state_hash: r.try_get(2)?,
                    node_id: r.try_get(3)?,
                    published_at: r.try_get(4)?,
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.err(e))
    }
}

/// Publishes every anchor the chain service queues to every sink of `sinks`, in order, as
/// records of chain `chain` by `node_id`. Each sink gets [`ATTEMPTS`] tries per anchor
/// (1 s, 2 s apart); a sink that still fails is logged and the next anchor goes on.
pub async fn publish(
    sinks: AnchorSinks,
    chain: String,
    node_id: String,
    mut anchors: mpsc::Receiver<Anchor>,
) {
    // `load` has built it once at start: this one fails only if the CA file changed since.
    let mut sinks = sinks;
    let http = match sinks.http_client() {
        Ok(http) => http,
        Err(e) => {
            tracing::error!("anchor HTTP sink off: {e}");
            sinks.url = None;
            reqwest::Client::default()
        }
    };
    let mut pg: Option<PgSink> = None;
    while let Some(anchor) = anchors.recv().await {
        let record = AnchorRecord::new(&chain, &node_id, &anchor);
        for attempt in 1..=ATTEMPTS {
            match publish_once(&sinks, &record, &http, &mut pg).await {
                Ok(()) => {
                    tracing::info!(height = record.height, hash = %record.block_hash, "anchor published");
                    break;
                }
                Err(e) if attempt == ATTEMPTS => {
                    tracing::error!(height = record.height, "anchor not published: {e}");
                }
                Err(e) => {
                    tracing::warn!(height = record.height, attempt, "anchor sink failed: {e}");
                    tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                }
            }
        }
    }
}

/// Writes `record` to every sink that has not taken it yet.
async fn publish_once(
    sinks: &AnchorSinks,
    record: &AnchorRecord,
    http: &reqwest::Client,
    pg: &mut Option<PgSink>,
) -> Result<(), AnchorSinkError> {
    if let Some(path) = &sinks.file {
        let have = read_file(path, &record.chain)?
            .iter()
            .any(|r| r.height == record.height && r.block_hash == record.block_hash);
        if !have {
            append_file(path, record)?;
        }
    }
    if let Some(url) = &sinks.url {
        post(http, url, record).await?;
    }
    if let Some((url, table)) = &sinks.postgres {
        if pg.is_none() {
            *pg = Some(PgSink::connect(url, table).await?);
        }
        if let Some(sink) = pg.as_ref() {
            if let Err(e) = sink.insert(record).await {
                // Reconnect on the next attempt.
                *pg = None;
                return Err(e);
            }
        }
    }
    Ok(())
}

/// POSTs `record` to the HTTP sink `url` with `http` (see [`AnchorSinks::http_client`]).
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    record: &AnchorRecord,
) -> Result<(), AnchorSinkError> {
    let http_err = |reason: String| AnchorSinkError::Http {
        url: url.to_owned(),
        reason,
    };
    let resp = http
        .post(url)
        .json(record)
        .send()
        .await
        .map_err(|e| http_err(with_causes(&e)))?;
    if !resp.status().is_success() {
        return Err(http_err(format!("HTTP {}", resp.status())));
    }
    Ok(())
}

/// `e` and its causes, `a: b: c`, with a hint when the server's certificate was refused
/// (reqwest says only "error sending request" on its own).
fn with_causes(e: &reqwest::Error) -> String {
    let mut out = doin_stats::pg_tls::error_chain(e);
    if out.contains("certificate") {
        out.push_str(" (trust the endpoint's CA with anchor_ca_file, a PEM file)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(chain: &str, height: u64, hash: &str) -> AnchorRecord {
        AnchorRecord {
            chain: chain.into(),
            height,
            block_hash: hash.into(),
            state_hash: format!("s{hash}"),
            node_id: "n".into(),
            published_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn the_file_keeps_this_chains_records_and_tolerates_a_torn_last_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/anchors.jsonl");
        assert_eq!(read_file(&path, "c").expect("absent file"), vec![]);
        append_file(&path, &record("c", 5, "a5")).expect("append");
        append_file(&path, &record("other", 5, "x5")).expect("append");
        append_file(&path, &record("c", 10, "a10")).expect("append");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(br#"{"chain":"c","hei"#).expect("torn write");
        let got = read_file(&path, "c").expect("reads");
        assert_eq!(got, vec![record("c", 5, "a5"), record("c", 10, "a10")]);
    }

    #[test]
    fn a_corrupt_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("anchors.jsonl");
        append_file(&path, &record("c", 5, "a5")).expect("append");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"chain\": 1}\n"))
            .expect("write");
        match read_file(&path, "c") {
            Err(AnchorSinkError::Corrupt { line: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_anchor_ca_file_comes_from_the_config_and_a_bad_one_is_named() {
        let c = NodeConfig::from_json(
            r#"{"anchor_url": "https://anchors.example/a", "anchor_ca_file": "/etc/ca.pem"}"#,
            "t",
        )
        .expect("config")
        .config;
        let sinks = AnchorSinks::from_config(&c);
        assert_eq!(sinks.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(AnchorSinks::default().ca_file, None);
        let dir = tempfile::tempdir().expect("tempdir");
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "not a certificate\n").expect("write");
        let err = AnchorSinks {
            ca_file: Some(not_pem),
            ..sinks
        }
        .http_client()
        .expect_err("no certificate")
        .to_string();
        assert!(
            err.starts_with("anchor_ca_file ") && err.contains("ca.pem"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn disagreeing_anchors_in_a_sink_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("anchors.jsonl");
        append_file(&path, &record("c", 5, "a5")).expect("append");
        append_file(&path, &record("c", 5, "b5")).expect("append");
        let sinks = AnchorSinks {
            file: Some(path),
            ..AnchorSinks::default()
        };
        let err = sinks.load("c").await.expect_err("two histories");
        assert!(err.to_string().contains("disagree"), "{err}");
        assert_eq!(sinks.load("other").await.expect("none").len(), 0);
    }
}
