//! The PostgreSQL export over TLS, against the machine's server with TLS on: the test
//! set-up ([`doin_stats::pg_tls::testing::server_ca`]) gives it a certificate of a CA made
//! with rcgen. Each connection's own `pg_stat_ssl` row says whether it is encrypted. An
//! unreachable server, or one that cannot be given TLS, fails the test: it is never skipped.

mod common;

use common::{chain, experiment, params};
use doin_stats::pg::PgExport;
use doin_stats::pg_tls::testing::server_ca;
use doin_stats::{StatsHandle, StatsOptions};

fn url() -> String {
    std::env::var("DOIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// `url()` with `params` (`k=v&k=v`) added to its query.
fn url_with(params: &str) -> String {
    let base = url();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{params}")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn unique_schema(tag: &str) -> String {
    format!(
        "doin_test_tls_{tag}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0)
    )
}

async fn ca() -> std::path::PathBuf {
    server_ca(&url())
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL TLS set-up: {e}"))
}

/// Whether the export's own connection is encrypted, by the server's account.
async fn encrypted(export: &PgExport) -> bool {
    export
        .client()
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

/// Exports one experiment's rounds and a block's optimae through `url`, checks they
/// arrived and the connection was encrypted as `tls` says, and drops the schema.
async fn export_through(url: &str, tag: &str, tls: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats =
        StatsHandle::open(StatsOptions::new(dir.path().join("olap.db"), None)).expect("open");
    let mut t = stats.start_experiment(experiment("exp-tls", chain::DOMAIN));
    for k in 1..=30 {
        t.record_round(k, -100.0 + k as f64, &params(k), 1, 0);
    }
    let node = chain::identity(4);
    let (_, blocks) = chain::solo_chain(&node, 2);
    for b in &blocks {
        stats.record_block(b);
    }
    stats.flush().expect("flush");
    let reader = stats.reader().expect("reader");
    let schema = unique_schema(tag);
    let mut export = PgExport::connect(url, &schema)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(encrypted(&export).await, tls, "{url}");
    let report = export.sync(&reader).await.expect("sync");
    assert_eq!(report.rows("fact_round"), 30);
    assert_eq!(report.rows("fact_chain_optimae"), 2);
    let rounds: i64 = export
        .client()
        .query_one(&format!("SELECT count(*) FROM {schema}.fact_round"), &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rounds, 30);
    export
        .client()
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop schema");
}

#[test]
fn the_export_runs_encrypted_with_sslmode_require_and_verify_full() {
    runtime().block_on(async {
        let ca = ca().await;
        export_through(&url_with("sslmode=require"), "require", true).await;
        let verified = url_with(&format!("sslmode=verify-full&sslrootcert={}", ca.display()));
        export_through(&verified, "verify_full", true).await;
        // verify-ca checks the chain only; require with sslrootcert does the same.
        let chain_only = url_with(&format!("sslmode=verify-ca&sslrootcert={}", ca.display()));
        export_through(&chain_only, "verify_ca", true).await;
    });
}

#[test]
fn plain_urls_still_work_prefer_encrypts_and_disable_does_not() {
    runtime().block_on(async {
        ca().await;
        // No sslmode: libpq's default, prefer, takes the TLS the server offers.
        export_through(&url(), "prefer", true).await;
        export_through(&url_with("sslmode=disable"), "disable", false).await;
    });
}

#[test]
fn verify_full_with_a_wrong_ca_is_refused_with_a_clear_error() {
    runtime().block_on(async {
        ca().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let other = dir.path().join("other-ca.pem");
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("other CA");
        std::fs::write(&other, cert.pem()).expect("write");
        for mode in ["verify-full", "verify-ca", "require"] {
            let url = url_with(&format!("sslmode={mode}&sslrootcert={}", other.display()));
            let err = PgExport::connect(&url, "public")
                .await
                .expect_err("a server certificate of another CA")
                .to_string();
            assert!(
                err.contains("TLS handshake with 127.0.0.1 failed")
                    && err.contains("invalid peer certificate")
                    && err.contains("UnknownIssuer")
                    && err.contains("sslrootcert"),
                "{mode}: {err}"
            );
        }
        // A CA file that is not there, or holds no certificate, is named.
        let missing = dir.path().join("missing.pem");
        let url = url_with(&format!(
            "sslmode=verify-full&sslrootcert={}",
            missing.display()
        ));
        let err = PgExport::connect(&url, "public")
            .await
            .expect_err("no CA file")
            .to_string();
        assert!(
            err.contains("sslrootcert") && err.contains("missing.pem"),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let url = url_with(&format!(
            "sslmode=verify-full&sslrootcert={}",
            empty.display()
        ));
        let err = PgExport::connect(&url, "public")
            .await
            .expect_err("no certificate")
            .to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
    });
}
