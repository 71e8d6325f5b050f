//! tokio-postgres's TLS seam (`MakeTlsConnect`) over tokio-rustls.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use super::options::SslMode;

/// Makes the rustls connection of one PostgreSQL host.
#[derive(Clone)]
pub struct MakeRustls {
    config: Arc<ClientConfig>,
    mode: SslMode,
}

impl std::fmt::Debug for MakeRustls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MakeRustls")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl MakeRustls {
    /// A connector with `config`, for connections of `mode` (named in its errors).
    pub(crate) fn new(config: ClientConfig, mode: SslMode) -> Self {
        MakeRustls {
            config: Arc::new(config),
            mode,
        }
    }
}

/// Why the TLS handshake with the server failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The host is not a name or address a certificate can be checked against.
    #[error("{host:?} is not a valid TLS server name")]
    ServerName {
        /// The host of the connection string.
        host: String,
    },
    /// The handshake failed (an untrusted or wrong certificate, for one).
    #[error("TLS handshake with {host} failed: {reason}{}", hint(*.mode, reason))]
    Handshake {
        /// The host.
        host: String,
        /// The sslmode in force.
        mode: SslMode,
        /// rustls's reason (in the message, so not also a `source`).
        reason: io::Error,
    },
}

/// What to do about a refused certificate.
fn hint(mode: SslMode, reason: &io::Error) -> &'static str {
    if !reason.to_string().contains("certificate") {
        return "";
    }
    match mode {
        SslMode::VerifyFull => {
            " (sslmode=verify-full: the server's certificate must be signed by a CA of \
             sslrootcert, or of the Mozilla roots without it, and name the host)"
        }
        SslMode::VerifyCa | SslMode::Require => {
            " (the server's certificate must be signed by a CA of sslrootcert, or of the \
             Mozilla roots without it)"
        }
        SslMode::Disable | SslMode::Prefer => "",
    }
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = HandshakeError;

    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, HandshakeError> {
        let name =
            ServerName::try_from(host.to_owned()).map_err(|_| HandshakeError::ServerName {
                host: host.to_owned(),
            })?;
        Ok(RustlsConnect {
            config: self.config.clone(),
            mode: self.mode,
            name,
        })
    }
}

/// The TLS connection to one host, made when tokio-postgres has negotiated it.
#[derive(Debug)]
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    mode: SslMode,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = HandshakeError;
    type Future = Pin<Box<dyn Future<Output = Result<PgTlsStream<S>, HandshakeError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let host = self.name.to_str().into_owned();
            tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await
                .map(PgTlsStream)
                .map_err(|reason| HandshakeError::Handshake {
                    host,
                    mode: self.mode,
                    reason,
                })
        })
    }
}

/// A PostgreSQL connection's TLS stream.
#[derive(Debug)]
pub struct PgTlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for PgTlsStream<S> {
    /// No channel binding: SCRAM then runs without it, as tokio-postgres's default
    /// (`channel_binding=prefer`) allows.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
