//! A connection that gives up on a client that stops reading: a write (or flush) that
//! stays blocked for the stall timeout fails, and the server closes the connection. A
//! client that asks for an export or the event stream and never reads it thereby frees
//! its connection, descriptor and buffers instead of holding them for ever.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `inner` with a bound on how long a write may stay blocked.
pub struct StallGuard<T> {
    inner: T,
    stall: Duration,
    /// Armed while a write is blocked.
    timer: Pin<Box<Sleep>>,
    armed: bool,
}

impl<T> StallGuard<T> {
    /// Wraps `inner`; a write blocked for `stall` fails with [`io::ErrorKind::TimedOut`].
    pub fn new(inner: T, stall: Duration) -> Self {
        StallGuard {
            inner,
            stall,
            timer: Box::pin(tokio::time::sleep(stall)),
            armed: false,
        }
    }

    /// Called when a write made no progress: arms the timer the first time, and fails
    /// once it has run out.
    fn blocked<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        if !self.armed {
            self.armed = true;
            let deadline = Instant::now() + self.stall;
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<R>(
        &mut self,
        r: Poll<io::Result<R>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<R>> {
        match r {
            Poll::Pending => self.blocked(cx),
            ready => {
                self.armed = false;
                ready
            }
        }
    }
}

use std::future::Future;

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progressed(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progressed(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.progressed(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progressed(r, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test(start_paused = true)]
    async fn a_write_to_a_client_that_does_not_read_fails_after_the_stall_timeout() {
        // A 1 KiB pipe nobody reads from.
        let (a, _b) = tokio::io::duplex(1024);
        let mut guarded = StallGuard::new(a, Duration::from_secs(5));
        let started = Instant::now();
        let err = guarded
            .write_all(&vec![0u8; 64 * 1024])
            .await
            .expect_err("the write must give up");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_keeps_up_is_never_cut() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut guarded = StallGuard::new(a, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut b, &mut sink)
                .await
                .map(|_| sink.len())
        });
        for _ in 0..64 {
            guarded.write_all(&[1u8; 1024]).await.expect("written");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        guarded.shutdown().await.expect("shut down");
        drop(guarded);
        assert_eq!(reader.await.unwrap().unwrap(), 64 * 1024);
    }
}
