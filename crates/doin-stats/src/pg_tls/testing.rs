//! The TLS set-up of the PostgreSQL tests (feature `test-utils`): the machine's test
//! server gets a certificate for `127.0.0.1` and `localhost`, signed by a CA made here with
//! rcgen, and TLS on.
//!
//! [`server_ca`] does it once per server: the files go to the server's data directory
//! (`doin-test-ca.pem`, `doin-test-server.crt`, `doin-test-server.key`, owned by the
//! data directory's owner, the key mode 0600), `ssl`, `ssl_cert_file` and `ssl_key_file`
//! are set with `ALTER SYSTEM` and the configuration reloaded (PostgreSQL 15 turns TLS on
//! by reload). Later calls find it done and return the CA. Concurrent callers, in one test
//! binary or several, take turns on an advisory lock. It writes the server's files, so it
//! needs the server on this machine and root (`scripts/test.sh` runs the tests as root); a
//! server elsewhere is named with `DOIN_TEST_POSTGRES_CA`, the PEM file of its CA.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

/// The advisory lock the set-up holds (any constant the tests do not otherwise use).
const LOCK: i64 = 0x0064_6f69_6e74_6c73;
const CA_FILE: &str = "doin-test-ca.pem";
const CERT_FILE: &str = "doin-test-server.crt";
const KEY_FILE: &str = "doin-test-server.key";

/// Makes sure the PostgreSQL server of `url` serves TLS with a certificate of a CA whose
/// PEM file is returned (see the module's documentation).
pub async fn server_ca(url: &str) -> Result<PathBuf, String> {
    if let Ok(ca) = std::env::var("DOIN_TEST_POSTGRES_CA") {
        return Ok(PathBuf::from(ca));
    }
    let client = plain(url).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK])
        .await
        .map_err(|e| format!("advisory lock: {e}"))?;
    let result = set_up(url, &client).await;
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
        .await;
    result
}

async fn plain(url: &str) -> Result<Client, String> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("PostgreSQL at {url} is not reachable: {e}"))?;
    tokio::spawn(conn);
    Ok(client)
}

async fn show(client: &Client, setting: &str) -> Result<String, String> {
    client
        .query_one(&format!("SHOW {setting}"), &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| format!("SHOW {setting}: {e}"))
}

async fn set_up(url: &str, client: &Client) -> Result<PathBuf, String> {
    let data_dir = PathBuf::from(show(client, "data_directory").await?);
    let (ca, cert, key) = (
        data_dir.join(CA_FILE),
        data_dir.join(CERT_FILE),
        data_dir.join(KEY_FILE),
    );
    let cert_setting = cert.display().to_string();
    if ca.is_file()
        && show(client, "ssl").await? == "on"
        && show(client, "ssl_cert_file").await? == cert_setting
    {
        return Ok(ca);
    }
    let owner = std::fs::metadata(&data_dir).map_err(|e| {
        format!(
            "PostgreSQL's data directory {} is not on this machine or not readable ({e}); \
             run the tests as root (scripts/test.sh) or set DOIN_TEST_POSTGRES_CA",
            data_dir.display()
        )
    })?;
    let (ca_pem, cert_pem, key_pem) = loopback_certificates().map_err(|e| format!("rcgen: {e}"))?;
    for (path, pem, mode) in [
        (&ca, &ca_pem, 0o644),
        (&cert, &cert_pem, 0o644),
        (&key, &key_pem, 0o600),
    ] {
        write_owned(path, pem, mode, &owner).map_err(|e| {
            format!(
                "writing {} ({e}): run the tests as root (scripts/test.sh) or set \
                 DOIN_TEST_POSTGRES_CA",
                path.display()
            )
        })?;
    }
    let key_setting = key.display().to_string();
    for sql in [
        format!("ALTER SYSTEM SET ssl_cert_file = '{cert_setting}'"),
        format!("ALTER SYSTEM SET ssl_key_file = '{key_setting}'"),
        "ALTER SYSTEM SET ssl = on".to_owned(),
        "SELECT pg_reload_conf()".to_owned(),
    ] {
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
    }
    // The reload is asynchronous: new sessions see it once the postmaster has read it.
    let start = Instant::now();
    loop {
        let fresh = plain(url).await?;
        if show(&fresh, "ssl").await? == "on"
            && show(&fresh, "ssl_cert_file").await? == cert_setting
        {
            return Ok(ca);
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err(format!(
                "PostgreSQL did not turn TLS on with {cert_setting} (see its log)"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A new CA's PEM, and the PEM certificate and key it signed for `127.0.0.1` and
/// `localhost` (for any loopback TLS server of a test).
pub fn loopback_certificates() -> Result<(String, String, String), rcgen::Error> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let mut ca_params = CertificateParams::new(Vec::new())?;
    // A name of its own: two test CAs are two issuers, as two real CAs are.
    let id = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("doin test CA {id:016x}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
    params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca, &ca_key)?;
    Ok((ca.pem(), cert.pem(), key.serialize_pem()))
}

/// Writes `pem` to `path` with `mode`, owned as `like` (the data directory).
fn write_owned(path: &Path, pem: &str, mode: u32, like: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, pem)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::os::unix::fs::chown(&tmp, Some(like.uid()), Some(like.gid()))?;
    std::fs::rename(&tmp, path)
}
