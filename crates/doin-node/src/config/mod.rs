//! Node configuration: the reference's JSON keys, their defaults, and validation.
//!
//! A config file is the reference's `UnifiedNodeConfig` JSON: top-level keys (§8.1 of the
//! node digest) and a `domains` list of per-domain roles (§8.2). Unknown keys are ignored
//! with a warning (the reference ignores them silently); a key of the wrong type is an error
//! that names the key's path (`domains[0].target_performance: invalid type ...`). With no
//! file at all the node runs on [`NodeConfig::embedded_default`]: one built-in quadratic
//! domain on a solo chain.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod domain_role;
mod p2p;
#[cfg(test)]
mod tests;

pub use domain_role::{DomainRole, IncentiveConfig, ResourceLimits};
pub use p2p::{parse_peer_addr, PeerAddr};

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The JSON is malformed or a key has the wrong type.
    #[error("config {path}: {detail}")]
    Invalid {
        /// The file (or `<embedded>`).
        path: String,
        /// The key path and what is wrong.
        detail: String,
    },
}

/// The whole node configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NodeConfig {
    /// Label shown on the dashboard.
    pub node_label: String,
    /// Bind address.
    pub host: String,
    /// The one HTTP port (peer inbox, API, dashboard).
    pub port: u16,
    /// Directory of every local file.
    pub data_dir: PathBuf,
    /// Identity key file; empty means `<data_dir>/identity.pem`.
    pub identity_file: String,
    /// The peers to dial first: `host:port` (an HTTP peer, such as a reference node) or a
    /// libp2p multiaddr ending in `/p2p/<peer id>` (a doin node on libp2p).
    pub bootstrap_peers: Vec<String>,
    /// The libp2p transport's listen addresses (multiaddrs, DOIN extension). Absent: QUIC
    /// on UDP `port` at `host` ([`NodeConfig::p2p_listen_addrs`]); `[]`: libp2p off, the
    /// node talks to HTTP peers (reference nodes) only.
    pub listen_addrs: Option<Vec<String>>,
    /// Addresses at which other nodes reach this one over libp2p (multiaddrs, DOIN
    /// extension): a public address the operator knows, which a relay needs before it
    /// serves circuits. Others are confirmed by autonat.
    pub external_addrs: Vec<String>,
    /// Serve libp2p circuits for nodes behind NAT (a relay: DOIN extension; it needs a
    /// reachable address, `external_addrs`).
    pub relay_server: bool,
    /// The domains this node serves and its roles in each.
    pub domains: Vec<DomainRole>,
    /// Target seconds between blocks (chain parameter).
    pub target_block_time: f64,
    /// Threshold of the first block after genesis (chain parameter). DOIN increments are
    /// relative improvements, so the default (0.25) is lower than the reference's 1.0.
    pub initial_threshold: f64,
    /// Absolute margin a result must beat the best by to count as better.
    pub acceptance_tolerance: f64,
    /// Evaluators per quorum; 0 makes a solo chain (chain parameter).
    pub quorum_min_evaluators: u32,
    /// Agreement fraction the reference uses (0.67); DOIN requires a 2/3 supermajority.
    pub quorum_fraction: f64,
    /// Relative divergence within which a vote agrees with the median (chain parameter).
    pub quorum_tolerance: f64,
    /// Seconds a commitment stays valid before its reveal.
    pub commit_reveal_max_age: f64,
    /// Blocks after which a block is final (chain parameter).
    pub finality_confirmation_depth: u32,
    /// Blocks between external checkpoint anchors (0 = none): block `k * interval` is
    /// published to the anchor sinks once final.
    pub external_anchor_interval: u32,
    /// Anchor sink: a file of JSON lines, one anchor each, appended; read back and enforced
    /// at start (DOIN extension; empty = off).
    pub anchor_file: String,
    /// Anchor sink: a URL each anchor is POSTed to as JSON (DOIN extension; empty = off).
    pub anchor_url: String,
    /// A PEM file of CA certificates trusted, besides the Mozilla roots, for an `https://`
    /// `anchor_url` (a private CA or a self-signed endpoint; empty = none).
    pub anchor_ca_file: String,
    /// Anchor sink: a PostgreSQL URL; anchors go to `anchor_postgres_table`, read back and
    /// enforced at start (DOIN extension; empty = off). TLS as its `sslmode` says
    /// (`prefer` by default; `verify-full` with `sslrootcert=<CA PEM file>` to check the
    /// server's certificate).
    pub anchor_postgres_url: String,
    /// Table of the PostgreSQL anchor sink (created if absent; `[a-z_][a-z0-9_]*`).
    pub anchor_postgres_table: String,
    /// Whether evaluator seeds must be the deterministic ones.
    pub require_deterministic_seed: bool,
    /// Seconds between evaluator task polls.
    pub eval_poll_interval: f64,
    /// Tasks an evaluator takes per poll.
    pub eval_max_concurrent: u32,
    /// Seconds between optimizer rounds (the reference parses but ignores it).
    pub optimizer_loop_interval: f64,
    /// Shared-population lease seconds.
    pub shared_claim_timeout: f64,
    /// Shared-population results before a claim expires.
    pub shared_claim_result_patience: u32,
    /// Shared-population confirmation quorum.
    pub shared_min_peers: u32,
    /// Create generation 0 before waiting for peers.
    pub shared_initialize_before_peers: bool,
    /// Warning cadence while waiting for peers.
    pub shared_peer_wait_timeout: f64,
    /// Pause per claim confirmation round.
    pub shared_claim_settle_seconds: f64,
    /// Claim confirmation rounds.
    pub shared_claim_confirmation_rounds: u32,
    /// `"sqlite"` (ours always stores in SQLite; `"json"` is accepted and stored in SQLite).
    pub storage_backend: String,
    /// Chain database path; empty means `<data_dir>/chain.db`.
    pub db_path: String,
    /// Blocks between state snapshots.
    pub snapshot_interval: u32,
    /// Transaction bodies kept (0 = never prune).
    pub prune_keep_blocks: u32,
    /// `"gossipsub"` or `"flooding"` (the reference's key, kept so that its configs load):
    /// doin nodes run gossipsub over libp2p, and HTTP peers are flooded, either way.
    pub network_protocol: String,
    /// Gossip heartbeat seconds.
    pub gossip_heartbeat_interval: f64,
    /// Whether peer discovery runs.
    pub discovery_enabled: bool,
    /// Accept unsigned peer messages (from reference nodes), as hints only. Off by
    /// default: unsigned messages are refused and cost the sending address score. On,
    /// the node takes them on `POST /message`, relays the valid ones onto libp2p's
    /// reference topics and joins those topics itself; gossip on the other topics always
    /// needs seals, and nodes that leave this off never receive an unsealed message.
    pub accept_unsigned_messages: bool,
    /// Seconds between discovery rounds.
    pub discovery_interval: f64,
    /// Most gossip peers from one address range (/24 for IPv4, /48 for IPv6), inbound and
    /// outbound each (DOIN's; see `doin_net::slots`).
    pub max_peers_per_range: u32,
    /// Whether `/dashboard` is served.
    pub dashboard_enabled: bool,
    /// Per-round CSV; empty means `<data_dir>/experiment_stats.csv`.
    pub experiment_stats_file: String,
    /// OLAP database; empty means `<data_dir>/olap.db`.
    pub olap_db_path: String,
    /// Delete chain and OLAP files at start.
    pub reset_chain: bool,
    /// Whether the fee market runs.
    pub fee_market_enabled: bool,
    /// Fee market settings. The base fee rule itself is a consensus constant
    /// (`doin_consensus::fee_market`); of these keys only the mempool's are used.
    pub fee_config: FeeConfig,
    /// PostgreSQL URL for the analytics export (DOIN extension; empty = off); TLS as its
    /// `sslmode` and `sslrootcert` say (see `doin_stats::pg_tls`).
    pub postgres_url: String,
    /// The HTTP server's timeouts and caps (DOIN extension).
    pub http_limits: crate::http_server::HttpLimits,
    /// How long and how many inference requests `inference.db` keeps (DOIN extension).
    pub inference_retention: crate::inference::Retention,
    /// `host:port` of nodes the fleet view may fetch besides this node and its peers.
    pub fleet_nodes: Vec<String>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            node_label: String::new(),
            host: "0.0.0.0".into(),
            port: 8470,
            data_dir: PathBuf::from("./doin-data"),
            identity_file: String::new(),
            bootstrap_peers: Vec::new(),
            listen_addrs: None,
            external_addrs: Vec::new(),
            relay_server: false,
            domains: Vec::new(),
            target_block_time: 600.0,
            initial_threshold: 0.25,
            acceptance_tolerance: 1e-5,
            quorum_min_evaluators: 3,
            quorum_fraction: 0.67,
            quorum_tolerance: 0.05,
            commit_reveal_max_age: 600.0,
            finality_confirmation_depth: 6,
            external_anchor_interval: 100,
            anchor_file: String::new(),
            anchor_url: String::new(),
            anchor_ca_file: String::new(),
            anchor_postgres_url: String::new(),
            anchor_postgres_table: "doin_anchors".into(),
            require_deterministic_seed: true,
            eval_poll_interval: 10.0,
            eval_max_concurrent: 3,
            optimizer_loop_interval: 30.0,
            shared_claim_timeout: 600.0,
            shared_claim_result_patience: 4,
            shared_min_peers: 0,
            shared_initialize_before_peers: false,
            shared_peer_wait_timeout: 120.0,
            shared_claim_settle_seconds: 1.0,
            shared_claim_confirmation_rounds: 2,
            storage_backend: "sqlite".into(),
            db_path: String::new(),
            snapshot_interval: 100,
            prune_keep_blocks: 10_000,
            network_protocol: "gossipsub".into(),
            gossip_heartbeat_interval: 1.0,
            discovery_enabled: true,
            accept_unsigned_messages: false,
            discovery_interval: 60.0,
            max_peers_per_range: 4,
            dashboard_enabled: true,
            experiment_stats_file: String::new(),
            olap_db_path: String::new(),
            reset_chain: false,
            fee_market_enabled: true,
            fee_config: FeeConfig::default(),
            postgres_url: String::new(),
            http_limits: Default::default(),
            inference_retention: Default::default(),
            fleet_nodes: Vec::new(),
        }
    }
}

/// Fee market settings. The base fee rule itself is a consensus constant
/// (`doin_consensus::fee_market`); of these keys only the mempool's are used.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FeeConfig {
    /// Lowest base fee.
    pub min_base_fee: f64,
    /// Highest base fee.
    pub max_base_fee: f64,
    /// Fullness the base fee steers toward.
    pub target_block_fullness: f64,
    /// EIP-1559 change denominator (8 = at most 12.5 % per block).
    pub base_fee_change_denom: u32,
    /// Transactions per block at target.
    pub target_block_size: u32,
    /// Most transactions per block.
    pub max_block_size: u32,
    /// Optimae stake as a multiple of the base fee.
    pub optimae_stake_multiplier: f64,
    /// Share of a rejected optimae's stake that is burned.
    pub optimae_burn_fraction: f64,
    /// Most transfers pending in the mempool (DOIN key; the reference's constant).
    pub mempool_size_limit: usize,
    /// Transfers one peer (or HTTP client address) may have admitted per 60 s, sustained:
    /// all of them at once, then one more every 60 s / this ([`crate::rate_window`]); 0
    /// for no limit (DOIN key; the reference's constant).
    pub rate_limit_max_tx: usize,
}

impl Default for FeeConfig {
    fn default() -> Self {
        FeeConfig {
            min_base_fee: 0.001,
            max_base_fee: 100.0,
            target_block_fullness: 0.5,
            base_fee_change_denom: 8,
            target_block_size: 100,
            max_block_size: 200,
            optimae_stake_multiplier: 5.0,
            optimae_burn_fraction: 0.2,
            mempool_size_limit: crate::mempool::DEFAULT_CAPACITY,
            rate_limit_max_tx: crate::mempool::DEFAULT_RATE_LIMIT,
        }
    }
}

/// A loaded config and the keys it ignored.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The config.
    pub config: NodeConfig,
    /// Paths of keys that are not config keys (warned about, otherwise ignored).
    pub ignored_keys: Vec<String>,
}

impl NodeConfig {
    /// Parses config JSON text; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<LoadedConfig, ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid {
            path: origin.to_owned(),
            detail,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let mut ignored_keys = Vec::new();
        let mut on_ignored = |path: serde_ignored::Path<'_>| ignored_keys.push(path.to_string());
        let tracked = serde_ignored::Deserializer::new(&mut de, &mut on_ignored);
        let config: NodeConfig = serde_path_to_error::deserialize(tracked).map_err(|e| {
            let path = e.path().to_string();
            invalid(format!("{path}: {}", e.inner()))
        })?;
        de.end().map_err(|e| invalid(e.to_string()))?;
        config.validate().map_err(invalid)?;
        Ok(LoadedConfig {
            config,
            ignored_keys,
        })
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// The embedded defaults: one built-in quadratic domain that this node optimizes and
    /// evaluates, on a solo chain (quorum minimum 0) with 10-second blocks, SQLite storage.
    pub fn embedded_default() -> Self {
        let text = include_str!("../default_config.json");
        match Self::from_json(text, "<embedded default>") {
            Ok(loaded) => loaded.config,
            // The embedded file is pinned by a test; fall back to plain defaults regardless.
            Err(_) => NodeConfig::default(),
        }
    }

    /// Checks values that parse but make no sense; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("target_block_time", self.target_block_time),
            ("commit_reveal_max_age", self.commit_reveal_max_age),
            ("eval_poll_interval", self.eval_poll_interval),
            ("shared_claim_timeout", self.shared_claim_timeout),
            ("shared_peer_wait_timeout", self.shared_peer_wait_timeout),
            (
                "shared_claim_settle_seconds",
                self.shared_claim_settle_seconds,
            ),
            ("gossip_heartbeat_interval", self.gossip_heartbeat_interval),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{key}: must be a positive number, got {v}"));
            }
        }
        self.http_limits.validate()?;
        self.inference_retention.validate()?;
        if !self.initial_threshold.is_finite() {
            return Err("initial_threshold: must be finite".into());
        }
        if !(0.0..=1.0).contains(&self.quorum_fraction) {
            return Err(format!(
                "quorum_fraction: must be within [0, 1], got {}",
                self.quorum_fraction
            ));
        }
        if !(self.quorum_tolerance.is_finite() && self.quorum_tolerance >= 0.0) {
            return Err("quorum_tolerance: must be a non-negative number".into());
        }
        if !matches!(self.network_protocol.as_str(), "gossipsub" | "flooding") {
            return Err(format!(
                "network_protocol: must be \"gossipsub\" or \"flooding\", got {:?}",
                self.network_protocol
            ));
        }
        if !matches!(self.storage_backend.as_str(), "sqlite" | "json") {
            return Err(format!(
                "storage_backend: must be \"sqlite\" or \"json\", got {:?}",
                self.storage_backend
            ));
        }
        if self.shared_claim_result_patience == 0 || self.shared_claim_confirmation_rounds == 0 {
            return Err(
                "shared_claim_result_patience and shared_claim_confirmation_rounds: must be > 0"
                    .into(),
            );
        }
        let table = &self.anchor_postgres_table;
        let ident = table.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && table.len() <= 63
            && table
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ident {
            return Err(format!(
                "anchor_postgres_table: must match [a-z_][a-z0-9_]* (at most 63), got {table:?}"
            ));
        }
        let url = &self.anchor_url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "anchor_url: must be an http:// or https:// URL, got {:?}",
                self.anchor_url
            ));
        }
        for (i, peer) in self.bootstrap_peers.iter().enumerate() {
            parse_peer_addr(peer).map_err(|e| format!("bootstrap_peers[{i}]: {e}"))?;
        }
        self.p2p_listen_addrs()?;
        self.p2p_external_addrs()?;
        let mut seen = std::collections::HashSet::new();
        for (i, d) in self.domains.iter().enumerate() {
            if d.domain_id.trim().is_empty() {
                return Err(format!("domains[{i}].domain_id: required"));
            }
            if !seen.insert(d.domain_id.as_str()) {
                return Err(format!(
                    "domains[{i}].domain_id: {:?} is listed twice",
                    d.domain_id
                ));
            }
            for (name, (low, high)) in &d.param_bounds {
                if !(low.is_finite() && high.is_finite() && low <= high) {
                    return Err(format!(
                        "domains[{i}].param_bounds.{name}: need finite [low, high] with low <= high"
                    ));
                }
            }
            if let Some(t) = d.target_performance {
                if !t.is_finite() {
                    return Err(format!("domains[{i}].target_performance: must be finite"));
                }
            }
        }
        Ok(())
    }

    /// Path of the chain database.
    pub fn chain_db_path(&self) -> PathBuf {
        if self.db_path.is_empty() {
            self.data_dir.join("chain.db")
        } else {
            PathBuf::from(&self.db_path)
        }
    }

    /// Path of the identity key file.
    pub fn identity_path(&self) -> PathBuf {
        if self.identity_file.is_empty() {
            self.data_dir.join("identity.pem")
        } else {
            PathBuf::from(&self.identity_file)
        }
    }

    /// Path of the per-round experiment CSV. A relative `experiment_stats_file` (the
    /// reference's configs say `./experiment_stats.csv`) is under `data_dir`, so that nodes
    /// started from one directory do not share a file; `--stats-file` is made absolute.
    pub fn stats_file_path(&self) -> PathBuf {
        self.under_data_dir(&self.experiment_stats_file, "experiment_stats.csv")
    }

    /// Path of the OLAP database (relative paths are under `data_dir`, as for the CSV).
    pub fn olap_db_path(&self) -> PathBuf {
        self.under_data_dir(&self.olap_db_path, "olap.db")
    }

    /// Path of the anchor file sink (relative paths are under `data_dir`); `None` when off.
    pub fn anchor_file_path(&self) -> Option<PathBuf> {
        (!self.anchor_file.is_empty()).then(|| self.under_data_dir(&self.anchor_file, ""))
    }

    fn under_data_dir(&self, path: &str, default: &str) -> PathBuf {
        let p = Path::new(if path.is_empty() { default } else { path });
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.data_dir.join(p)
        }
    }
}
