//! PostgreSQL connections with TLS (rustls), as libpq's `sslmode` describes them.
//!
//! Every PostgreSQL connection of a node (the OLAP export, the anchor table) goes through
//! [`connect`]. The connection string is a `postgres://` URL or a key=value string; its
//! `sslmode` and `sslrootcert` are read here, everything else by tokio-postgres:
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (default) | if the server offers it | not checked |
//! | `require` | always | not checked; with `sslrootcert`, must chain to it (as libpq) |
//! | `verify-ca` | always | must chain to `sslrootcert` (Mozilla roots without it) |
//! | `verify-full` | always | as `verify-ca`, and must name the host |
//!
//! `sslrootcert` is a PEM file of CA certificates. Without it, `verify-ca` and
//! `verify-full` trust the Mozilla roots (libpq reads `~/.postgresql/root.crt` instead).
//! Client certificates (`sslcert`, `sslkey`) are refused by name.

mod connector;
mod options;
#[cfg(feature = "test-utils")]
pub mod testing;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;

pub use connector::{HandshakeError, MakeRustls, PgTlsStream};
pub use options::{SslMode, TlsOptions};
use tokio_postgres::{Client, Connection, Socket};

/// Why a PostgreSQL connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PgConnectError {
    /// The connection string's TLS options are wrong.
    #[error("connection string: {0}")]
    Options(String),
    /// The `sslrootcert` file cannot be used.
    #[error("sslrootcert {path}: {reason}")]
    RootCert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// tokio-postgres failed: an unparsable string, an unreachable server, a refused
    /// certificate (the message carries the whole chain of causes).
    #[error("{}", with_causes(.0))]
    Postgres(tokio_postgres::Error),
}

/// `e` and its causes, `a: b: c` (tokio-postgres says only "error performing TLS
/// handshake" on its own).
fn with_causes(e: &tokio_postgres::Error) -> String {
    error_chain(e)
}

/// An error and its causes, `a: b: c`: what a client library's top-level message leaves
/// out (a refused certificate, for one).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// The live connection [`connect`] returns: the caller spawns it.
pub type PgConnection = Connection<Socket, PgTlsStream<Socket>>;

/// Connects to `conn` with its `sslmode` and `sslrootcert`.
pub async fn connect(conn: &str) -> Result<(Client, PgConnection), PgConnectError> {
    let (rest, options) = TlsOptions::split(conn)?;
    let mut config: tokio_postgres::Config = rest.parse().map_err(PgConnectError::Postgres)?;
    config.ssl_mode(options.mode.negotiation());
    config
        .connect(connector(&options)?)
        .await
        .map_err(PgConnectError::Postgres)
}

/// The cryptography of every TLS connection doin makes: *ring*, as reqwest's rustls uses
/// in this workspace (the node also installs it as the process default, since the libp2p
/// QUIC transport links aws-lc-rs beside it). rustls 0.23.48 deprecates ring for lacking
/// post-quantum key exchange.
#[allow(deprecated)]
pub fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(ring_provider())
}

/// The rustls connector of `options`.
pub fn connector(options: &TlsOptions) -> Result<MakeRustls, PgConnectError> {
    let provider = provider();
    let roots = match &options.root_cert {
        Some(path) => Some(verify::roots_from_file(path)?),
        None => None,
    };
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match (options.mode, roots)
    {
        (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => {
            Arc::new(verify::Unchecked(provider.clone()))
        }
        (SslMode::Require | SslMode::VerifyCa, Some(roots)) => {
            Arc::new(verify::ChainOnly(verify::full(roots, &provider)?))
        }
        (SslMode::VerifyCa, None) => Arc::new(verify::ChainOnly(verify::full(
            verify::web_roots(),
            &provider,
        )?)),
        (SslMode::VerifyFull, roots) => {
            verify::full(roots.unwrap_or_else(verify::web_roots), &provider)?
        }
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PgConnectError::Options(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // PostgreSQL 17's protocol name; older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(MakeRustls::new(config, options.mode))
}
