//! The TLS options of a PostgreSQL connection string that tokio-postgres does not know:
//! libpq's `sslmode` values past `require` and `sslrootcert`. They are taken out of the
//! string (URL or key=value form) before tokio-postgres parses the rest.

use std::path::PathBuf;

use super::PgConnectError;

/// libpq's `sslmode`: whether TLS is used and what of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, certificate unchecked (libpq's default).
    #[default]
    Prefer,
    /// Always TLS; the certificate is checked against `sslrootcert` only if one is given.
    Require,
    /// Always TLS; the certificate must chain to a trusted CA.
    VerifyCa,
    /// Always TLS; the certificate must chain to a trusted CA and name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, PgConnectError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(PgConnectError::Options(
                    "sslmode=allow is not supported: use disable, prefer, require, verify-ca or \
                     verify-full"
                        .into(),
                ))
            }
            other => {
                return Err(PgConnectError::Options(format!(
                    "unknown sslmode {other:?}: use disable, prefer, require, verify-ca or \
                     verify-full"
                )))
            }
        })
    }

    /// What tokio-postgres is told: it only negotiates, the checks are ours.
    pub(crate) fn negotiation(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }
}

/// The TLS options found in a connection string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    /// `sslmode` (default `prefer`).
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file of the CA certificates to trust.
    pub root_cert: Option<PathBuf>,
}

/// Client-certificate options: refused by name rather than as "unknown option".
const CLIENT_CERT_KEYS: [&str; 4] = ["sslcert", "sslkey", "sslpassword", "sslcrl"];

impl TlsOptions {
    /// Takes `sslmode` and `sslrootcert` out of `conn` (a `postgres://` / `postgresql://` URL
    /// or a key=value string) and returns the rest, for tokio-postgres, with the options.
    pub fn split(conn: &str) -> Result<(String, TlsOptions), PgConnectError> {
        let mut options = TlsOptions::default();
        let rest = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
            split_url(conn, &mut options)?
        } else {
            split_key_values(conn, &mut options)?
        };
        Ok((rest, options))
    }

    fn take(&mut self, key: &str, value: String) -> Result<bool, PgConnectError> {
        match key {
            "sslmode" => self.mode = SslMode::parse(&value)?,
            "sslrootcert" => self.root_cert = Some(PathBuf::from(value)),
            k if CLIENT_CERT_KEYS.contains(&k) => {
                return Err(PgConnectError::Options(format!(
                    "{k} is not supported (no client certificates); the server's certificate \
                     is checked with sslmode=verify-full and sslrootcert"
                )))
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn split_url(url: &str, options: &mut TlsOptions) -> Result<String, PgConnectError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(url.to_owned());
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !options.take(&percent_decode(key)?, percent_decode(value)?)? {
            kept.push(pair);
        }
    }
    Ok(if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    })
}

fn percent_decode(s: &str) -> Result<String, PgConnectError> {
    let bad = || PgConnectError::Options(format!("bad percent-encoding in {s:?}"));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// The key=value form: `host=h sslmode = require sslrootcert='/a b/ca.pem'`, values
/// unquoted (backslash escapes) or single-quoted, as tokio-postgres reads them.
fn split_key_values(conn: &str, options: &mut TlsOptions) -> Result<String, PgConnectError> {
    let unterminated = || PgConnectError::Options("unterminated quoted value".into());
    let mut kept: Vec<&str> = Vec::new();
    let mut chars = conn.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(PgConnectError::Options(format!(
                "expected `=` after {key:?} in the connection string"
            )));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match chars.next().ok_or_else(unterminated)? {
                    (_, '\'') => break,
                    (_, '\\') => value.push(chars.next().ok_or_else(unterminated)?.1),
                    (_, c) => value.push(c),
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some((_, e)) = chars.next() {
                        value.push(e);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        let end = chars.peek().map_or(conn.len(), |&(i, _)| i);
        if !options.take(&key, value)? {
            kept.push(&conn[start..end]);
        }
    }
    Ok(kept
        .iter()
        .map(|s| s.trim_end())
        .collect::<Vec<_>>()
        .join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(conn: &str) -> (String, TlsOptions) {
        TlsOptions::split(conn).unwrap_or_else(|e| panic!("{conn}: {e}"))
    }

    #[test]
    fn a_url_keeps_everything_but_the_tls_options() {
        let (rest, o) = split("postgres://root@127.0.0.1:5432/test");
        assert_eq!(rest, "postgres://root@127.0.0.1:5432/test");
        assert_eq!(o, TlsOptions::default());
        assert_eq!(o.mode, SslMode::Prefer, "libpq's default");
        let (rest, o) = split(
            "postgresql://u:p@db.example:6432/x?application_name=doin&sslmode=verify-full\
             &sslrootcert=%2Fetc%2Fca%20bundle.pem&connect_timeout=5",
        );
        assert_eq!(
            rest,
            "postgresql://u:p@db.example:6432/x?application_name=doin&connect_timeout=5"
        );
        assert_eq!(o.mode, SslMode::VerifyFull);
        assert_eq!(o.root_cert, Some(PathBuf::from("/etc/ca bundle.pem")));
        let (rest, o) = split("postgres://h/d?sslmode=require");
        assert_eq!(
            (rest.as_str(), o.mode),
            ("postgres://h/d", SslMode::Require)
        );
        for (mode, want) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("verify-ca", SslMode::VerifyCa),
        ] {
            assert_eq!(
                split(&format!("postgres://h/d?sslmode={mode}")).1.mode,
                want
            );
        }
    }

    #[test]
    fn a_key_value_string_keeps_everything_but_the_tls_options() {
        let (rest, o) = split(
            "host=127.0.0.1 sslmode = verify-full user=root sslrootcert='/a \\'b\\'/ca.pem' \
             dbname=test",
        );
        assert_eq!(rest, "host=127.0.0.1 user=root dbname=test");
        assert_eq!(o.mode, SslMode::VerifyFull);
        assert_eq!(o.root_cert, Some(PathBuf::from("/a 'b'/ca.pem")));
        let (rest, o) = split("host=h password='x y' sslrootcert=/c\\ d.pem");
        assert_eq!(rest, "host=h password='x y'");
        assert_eq!(o.root_cert, Some(PathBuf::from("/c d.pem")));
        assert_eq!(split("").0, "");
    }

    #[test]
    fn bad_tls_options_are_refused_by_name() {
        for (conn, want) in [
            (
                "postgres://h/d?sslmode=verify",
                "unknown sslmode \"verify\"",
            ),
            (
                "postgres://h/d?sslmode=allow",
                "sslmode=allow is not supported",
            ),
            ("host=h sslmode=strict", "unknown sslmode"),
            ("postgres://h/d?sslcert=c.pem", "sslcert is not supported"),
            ("host=h sslkey=k.pem", "sslkey is not supported"),
            ("host=h sslrootcert='/x", "unterminated quoted value"),
            ("host=h sslmode", "expected `=` after \"sslmode\""),
            ("postgres://h/d?sslrootcert=%zz", "bad percent-encoding"),
        ] {
            let err = TlsOptions::split(conn).expect_err(conn).to_string();
            assert!(err.contains(want), "{conn}: {err}");
        }
    }
}
