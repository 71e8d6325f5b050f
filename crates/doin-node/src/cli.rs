//! Command-line flags: the reference's `doin-node` flags, applied over the config file.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::NodeConfig;

/// A DOIN node: optimize, evaluate and relay, configured per domain.
#[derive(Debug, Parser)]
#[command(name = "doin-node", version, about)]
pub struct Cli {
    /// JSON config file; without it the node runs on its embedded defaults
    /// (one built-in quadratic domain on a solo chain, SQLite, port 8470).
    #[arg(short, long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// HTTP port (peer inbox, API and dashboard); overrides `port`.
    #[arg(short, long)]
    pub port: Option<u16>,
    /// Directory for every local file; overrides `data_dir`.
    #[arg(short, long, value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// Comma-separated peers, each `host:port` (an HTTP peer, such as a reference node) or
    /// a multiaddr ending in `/p2p/<peer id>` (a doin node on libp2p); replaces
    /// `bootstrap_peers`.
    #[arg(long, value_name = "PEER,...", value_delimiter = ',')]
    pub peers: Option<Vec<String>>,
    /// Identity key file (PKCS#8 P-256 PEM; created with mode 0600 if absent).
    #[arg(short, long, value_name = "PATH")]
    pub identity: Option<PathBuf>,
    /// Per-round experiment CSV; overrides `experiment_stats_file`.
    #[arg(long, value_name = "PATH")]
    pub stats_file: Option<PathBuf>,
    /// OLAP SQLite database; overrides `olap_db_path`.
    #[arg(long, value_name = "PATH")]
    pub olap_db: Option<PathBuf>,
    /// Delete the chain and OLAP databases in the data directory before starting.
    #[arg(long)]
    pub reset_chain: bool,
    /// Log level: DEBUG, INFO, WARNING or ERROR.
    #[arg(short, long, default_value = "INFO", value_parser = parse_level)]
    pub log_level: String,
    /// A one-off task instead of running the node.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// One-off tasks.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copies what is new in an OLAP database to PostgreSQL (creating the schema), then
    /// exits; safe to re-run (nothing is copied twice).
    OlapSync {
        /// The OLAP SQLite database (e.g. `<data_dir>/olap.db`).
        #[arg(long = "olap-db", value_name = "PATH")]
        olap_db: PathBuf,
        /// PostgreSQL URL, e.g. `postgres://user@host:5432/db`.
        #[arg(long = "postgres-url", value_name = "URL")]
        postgres_url: String,
        /// PostgreSQL schema the tables go to.
        #[arg(long, default_value = "public")]
        schema: String,
    },
    /// Imports a reference node's chain into this node's stats as an archive (never as its
    /// chain).
    ///
    /// Verifies the file (the reference's SQLite `chain.db`, or a JSON chain: the legacy
    /// `chain.json` or a `/chain/blocks` answer) by the reference's rules, then loads its
    /// optimae and experiment metrics into this node's OLAP database (`olap_db_path`,
    /// `--olap-db` or `<data_dir>/olap.db`; and PostgreSQL when `postgres_url` is set),
    /// every row marked `imported_from`, shown by `/stats/*` and the dashboard beside the
    /// live experiments. A tampered file is refused naming its first bad block; importing
    /// the same chain again adds nothing. Prints a JSON summary. The node's flags go before
    /// the command: `doin-node --data-dir DIR import-reference chain.db`.
    ImportReference {
        /// The reference chain: `chain.db` or a `.json` export.
        #[arg(value_name = "CHAIN_DB_OR_JSON")]
        file: PathBuf,
    },
    /// The coin: the identity key's address, balances, and signed transfers submitted to a
    /// node (the key is `--identity`, else `<data_dir>/identity.pem`).
    Wallet {
        /// What to do.
        #[command(subcommand)]
        command: crate::wallet::WalletCommand,
    },
}

fn parse_level(s: &str) -> Result<String, String> {
    match s.to_ascii_uppercase().as_str() {
        "DEBUG" | "INFO" | "WARNING" | "WARN" | "ERROR" => Ok(s.to_ascii_uppercase()),
        _ => Err(format!(
            "unknown log level {s:?}: use DEBUG, INFO, WARNING or ERROR"
        )),
    }
}

impl Cli {
    /// Applies the flags over a loaded config (flags win).
    pub fn apply(&self, config: &mut NodeConfig) {
        if let Some(p) = self.port {
            config.port = p;
        }
        if let Some(d) = &self.data_dir {
            config.data_dir = d.clone();
        }
        if let Some(peers) = &self.peers {
            config.bootstrap_peers = peers.iter().filter(|p| !p.is_empty()).cloned().collect();
        }
        if let Some(i) = &self.identity {
            config.identity_file = i.display().to_string();
        }
        // Paths on the command line are relative to the working directory.
        let absolute = |p: &PathBuf| {
            std::env::current_dir()
                .map(|cwd| cwd.join(p))
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        };
        if let Some(s) = &self.stats_file {
            config.experiment_stats_file = absolute(s);
        }
        if let Some(o) = &self.olap_db {
            config.olap_db_path = absolute(o);
        }
        if self.reset_chain {
            config.reset_chain = true;
        }
    }

    /// The `tracing` filter directive for the chosen level.
    pub fn tracing_level(&self) -> &'static str {
        match self.log_level.as_str() {
            "DEBUG" => "debug",
            "WARNING" | "WARN" => "warn",
            "ERROR" => "error",
            _ => "info",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_config() {
        let cli = Cli::parse_from([
            "doin-node",
            "--port",
            "9001",
            "-d",
            "/tmp/x",
            "--peers",
            "a:1,b:2",
            "--reset-chain",
            "-l",
            "debug",
        ]);
        let mut c = NodeConfig::default();
        cli.apply(&mut c);
        assert_eq!(c.port, 9001);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.bootstrap_peers, vec!["a:1".to_owned(), "b:2".to_owned()]);
        assert!(c.reset_chain);
        assert_eq!(cli.tracing_level(), "debug");
        assert!(Cli::try_parse_from(["doin-node", "-l", "loud"]).is_err());
        assert!(cli.command.is_none());
    }

    #[test]
    fn peers_take_multiaddrs_beside_host_port_and_bad_ones_fail_validation() {
        let p2p = "/ip4/127.0.0.1/udp/8480/quic-v1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
        let cli = Cli::parse_from(["doin-node", "--peers", &format!("127.0.0.1:8470,{p2p}")]);
        let mut c = NodeConfig::embedded_default();
        cli.apply(&mut c);
        c.validate().expect("both forms");
        assert_eq!(c.http_bootstrap(), vec!["127.0.0.1:8470".to_owned()]);
        assert_eq!(c.p2p_bootstrap()[0].to_string(), p2p);
        let cli = Cli::parse_from(["doin-node", "--peers", "/ip4/127.0.0.1/udp/8480/quic-v1"]);
        cli.apply(&mut c);
        let err = c.validate().unwrap_err();
        assert!(err.contains("lacks its peer id"), "{err}");
    }

    #[test]
    fn import_reference_takes_the_chain_file_and_the_node_flags() {
        let cli = Cli::parse_from([
            "doin-node",
            "--data-dir",
            "d",
            "import-reference",
            "chain.db",
        ]);
        match &cli.command {
            Some(Command::ImportReference { file }) => assert_eq!(file, &PathBuf::from("chain.db")),
            other => panic!("parsed {other:?}"),
        }
        assert_eq!(cli.data_dir, Some(PathBuf::from("d")));
        assert!(Cli::try_parse_from(["doin-node", "import-reference"]).is_err());
    }

    #[test]
    fn olap_sync_is_a_subcommand_beside_the_flags() {
        let cli = Cli::parse_from([
            "doin-node",
            "olap-sync",
            "--olap-db",
            "x/olap.db",
            "--postgres-url",
            "postgres://u@h/db",
        ]);
        match cli.command {
            Some(Command::OlapSync {
                olap_db,
                postgres_url,
                schema,
            }) => {
                assert_eq!(olap_db, PathBuf::from("x/olap.db"));
                assert_eq!(postgres_url, "postgres://u@h/db");
                assert_eq!(schema, "public");
            }
            other => panic!("parsed {other:?}"),
        }
        let cli = Cli::parse_from(["doin-node", "--config", "c.json", "--olap-db", "o.db"]);
        assert!(cli.command.is_none());
        assert_eq!(cli.olap_db, Some(PathBuf::from("o.db")));
    }
}
