//! Anchors over TLS to real servers: a minting node publishes its final checkpoints to an
//! HTTPS endpoint (a loopback server with a certificate of a CA made in the test, trusted
//! through `anchor_ca_file`) and to PostgreSQL with `sslmode=verify-full` (the machine's
//! server, given TLS by `doin_stats::pg_tls::testing::server_ca`); both are read back. An
//! untrusted endpoint, or a server certificate of another CA, is refused with an error that
//! names the certificate. An unreachable PostgreSQL fails the test: it is never skipped.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doin_node::anchor::{post, AnchorRecord, AnchorSinks, PgSink};
use doin_node::chain_params::chain_params;
use doin_node::config::NodeConfig;
use doin_node::node::start;
use doin_node::testnet::runtime;
use doin_stats::pg_tls::testing::{loopback_certificates, server_ca};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn pg_url() -> String {
    std::env::var("DOIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// `pg_url()` with `params` (`k=v&k=v`) added to its query.
fn pg_url_with(params: &str) -> String {
    let base = pg_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{params}")
}

fn unique(tag: &str) -> String {
    format!(
        "doin_test_tls_{tag}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0)
    )
}

/// Polls `probe` every 50 ms until it returns `Some`, or fails after `timeout`.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TCP listener that hands axum only connections whose TLS handshake succeeded.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that refuses our certificate ends here.
            if let Ok(tls) = self.tls.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An HTTPS anchor receiver on 127.0.0.1:0 keeping every POSTed record, its URL, and the
/// PEM file of the CA that signed its certificate (written into `dir`).
async fn https_receiver(dir: &Path) -> (String, PathBuf, Arc<Mutex<Vec<AnchorRecord>>>) {
    let (ca, cert, key) = loopback_certificates().expect("certificates");
    let ca_file = dir.join("anchor-ca.pem");
    std::fs::write(&ca_file, ca).expect("write CA");
    let certs = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
    let ring = doin_stats::pg_tls::ring_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(ring))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let got: Arc<Mutex<Vec<AnchorRecord>>> = Arc::default();
    let app = axum::Router::new().route(
        "/anchors",
        axum::routing::post({
            let got = got.clone();
            move |axum::Json(r): axum::Json<AnchorRecord>| async move {
                got.lock().expect("lock").push(r);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = TlsListener {
        tcp: tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
        tls: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    let addr = listener.tcp.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("https://{addr}/anchors"), ca_file, got)
}

fn record(height: u64) -> AnchorRecord {
    AnchorRecord {
        chain: "c".into(),
        height,
        block_hash: format!("h{height}"),
        state_hash: format!("s{height}"),
        node_id: "n".into(),
        published_at: "2026-01-01T00:00:00Z".into(),
    }
}

#[test]
fn a_minting_node_publishes_anchors_over_https_and_to_postgresql_with_verify_full() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let pg_ca = server_ca(&pg_url())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL TLS set-up: {e}"));
        let (url, ca_file, posted) = https_receiver(dir.path()).await;
        let table = unique("anchors");
        // The node's connections are found in pg_stat_activity by this name.
        let app = unique("app");
        let verified = pg_url_with(&format!(
            "sslmode=verify-full&sslrootcert={}&application_name={app}",
            pg_ca.display()
        ));
        let mut c = NodeConfig::embedded_default();
        c.host = "127.0.0.1".into();
        c.port = 0;
        c.data_dir = dir.path().join("node");
        c.discovery_enabled = false;
        c.target_block_time = 1.0;
        c.initial_threshold = 0.001;
        c.finality_confirmation_depth = 2;
        c.external_anchor_interval = 2;
        c.anchor_url = url;
        c.anchor_ca_file = ca_file.display().to_string();
        c.anchor_postgres_url = verified.clone();
        c.anchor_postgres_table = table.clone();
        for d in &mut c.domains {
            d.target_performance = None;
            d.optimization_config
                .insert("round_interval_seconds".into(), serde_json::json!(0.05));
        }
        let chain = chain_params(&c).params_hash();
        let node = start(c.clone()).await.expect("node");
        let timeout = Duration::from_secs(45);
        let received = until(timeout, "two anchors POSTed over HTTPS", || {
            let got = posted.lock().expect("lock").clone();
            async move { (got.len() >= 2).then_some(got) }
        })
        .await;
        assert!(received.iter().all(|r| r.chain == chain), "{received:?}");
        assert_eq!(
            received
                .iter()
                .map(|r| r.height)
                .take(2)
                .collect::<Vec<_>>(),
            vec![2, 4]
        );
        // Read back from PostgreSQL over verify-full too.
        let sink = PgSink::connect(&verified, &table)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let rows = until(timeout, "two anchors in the table", || {
            let sink = &sink;
            let chain = &chain;
            async move { sink.read(chain).await.ok().filter(|r| r.len() >= 2) }
        })
        .await;
        assert_eq!(
            &rows[..2],
            &received[..2],
            "the table holds the POSTed records"
        );
        // Every session under the node's application name is encrypted.
        let (client, conn) = doin_stats::pg_tls::connect(&pg_url())
            .await
            .expect("connect");
        tokio::spawn(conn);
        let sessions: Vec<(bool,)> = client
            .query(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.application_name = $1",
                &[&app],
            )
            .await
            .expect("pg_stat_ssl")
            .iter()
            .map(|r| (r.get(0),))
            .collect();
        assert!(!sessions.is_empty(), "the node's sessions are listed");
        assert!(sessions.iter().all(|(ssl,)| *ssl), "{sessions:?}");
        node.shutdown().await;
        client
            .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .expect("drop");
    });
}

#[test]
fn an_untrusted_https_endpoint_or_postgresql_certificate_is_refused_with_a_clear_error() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, ca_file, posted) = https_receiver(dir.path()).await;
        // Without anchor_ca_file the endpoint's private CA is not trusted.
        let untrusted = AnchorSinks {
            url: Some(url.clone()),
            ..AnchorSinks::default()
        };
        let http = untrusted.http_client().expect("client");
        let err = post(&http, &url, &record(5))
            .await
            .expect_err("untrusted certificate")
            .to_string();
        assert!(
            err.contains(&format!("POST {url}"))
                && err.contains("invalid peer certificate")
                && err.contains("UnknownIssuer")
                && err.contains("anchor_ca_file"),
            "{err}"
        );
        assert!(posted.lock().expect("lock").is_empty());
        // With it, the same POST goes through.
        let trusted = AnchorSinks {
            url: Some(url.clone()),
            ca_file: Some(ca_file),
            ..AnchorSinks::default()
        };
        let http = trusted.http_client().expect("client");
        post(&http, &url, &record(5)).await.expect("trusted");
        assert_eq!(*posted.lock().expect("lock"), vec![record(5)]);

        // A CA file that is not there stops the node at start, naming the key.
        let mut c = NodeConfig::embedded_default();
        c.host = "127.0.0.1".into();
        c.port = 0;
        c.data_dir = dir.path().join("node");
        c.discovery_enabled = false;
        c.external_anchor_interval = 2;
        c.anchor_url = url;
        c.anchor_ca_file = dir.path().join("missing.pem").display().to_string();
        let err = start(c).await.err().expect("refused at start");
        assert!(
            format!("{err:#}").contains("anchor_ca_file")
                && format!("{err:#}").contains("missing.pem"),
            "{err:#}"
        );

        // PostgreSQL with verify-full and another CA: refused, naming the certificate.
        server_ca(&pg_url())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL TLS set-up: {e}"));
        let (other, _, _) = loopback_certificates().expect("other CA");
        let other_file = dir.path().join("other-ca.pem");
        std::fs::write(&other_file, other).expect("write");
        let url = pg_url_with(&format!(
            "sslmode=verify-full&sslrootcert={}",
            other_file.display()
        ));
        let err = PgSink::connect(&url, &unique("refused"))
            .await
            .err()
            .expect("another CA")
            .to_string();
        assert!(
            err.contains("TLS handshake with 127.0.0.1 failed")
                && err.contains("UnknownIssuer")
                && err.contains("sslrootcert"),
            "{err}"
        );
    });
}
