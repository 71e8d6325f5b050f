//! The block-sync protocol (`/doin/sync/1`) on libp2p request-response: a peer's chain
//! status and pages of its blocks, every read bounded before anything is buffered.
//!
//! Frames (integers big-endian):
//!
//! | frame | bytes |
//! |---|---|
//! | status request | `0x00` |
//! | page request | `0x01`, `from: i64`, `to: i64` (both inclusive) |
//! | status response | `0x00`, `len: u32` ≤ [`MAX_STATUS_BYTES`], `/chain/status` JSON |
//! | page response | `0x01`, `count: u16` ≤ [`MAX_PAGE_BLOCKS`], then per block `len: u32` and its wire JSON; all blocks together ≤ [`MAX_PAGE_BYTES`] |
//! | refusal | `0x02`, `len: u16` ≤ [`MAX_REASON_BYTES`], UTF-8 reason |
//!
//! A response that passes a bound is abandoned at the header that announces it (the
//! requester gets [`CodecError`] inside the `io::Error`), so a peer that sends a huge page
//! costs a bounded buffer. Blocks stay the JSON they were served as: the node parses them
//! with DOIN's exact parser, as it does the HTTP `/chain/blocks` body.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

/// The protocol name.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/doin/sync/1");
/// Most blocks in one page (the sync engine's page).
pub const MAX_PAGE_BLOCKS: usize = 50;
/// Most bytes of blocks in one page.
pub const MAX_PAGE_BYTES: usize = 8 << 20;
/// Largest status answer.
pub const MAX_STATUS_BYTES: usize = 1 << 20;
/// Largest refusal reason.
pub const MAX_REASON_BYTES: usize = 1024;

/// What a peer asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncRequest {
    /// Its chain status.
    Status,
    /// Its blocks `from..=to`.
    Blocks {
        /// First index.
        from: i64,
        /// Last index (inclusive).
        to: i64,
    },
}

impl SyncRequest {
    /// Whether the request asks a page of 1 to [`MAX_PAGE_BLOCKS`] blocks (status: yes).
    pub fn is_within_bounds(&self) -> bool {
        match *self {
            SyncRequest::Status => true,
            SyncRequest::Blocks { from, to } => {
                from >= 0 && to >= from && to - from < MAX_PAGE_BLOCKS as i64
            }
        }
    }

    /// Blocks asked (0 for a status request).
    pub fn blocks_asked(&self) -> usize {
        match *self {
            SyncRequest::Status => 0,
            SyncRequest::Blocks { from, to } => (to.saturating_sub(from) + 1).max(0) as usize,
        }
    }
}

/// What a peer answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResponse {
    /// The `/chain/status` JSON.
    Status(Vec<u8>),
    /// Blocks, each its wire JSON, in index order.
    Blocks(Vec<Vec<u8>>),
    /// The peer will not answer (a reason for the operator).
    Refused(String),
}

impl SyncResponse {
    /// Checks the bounds a reader enforces, so a node never sends what peers refuse.
    pub fn check_bounds(&self) -> Result<(), CodecError> {
        match self {
            SyncResponse::Status(json) if json.len() > MAX_STATUS_BYTES => {
                Err(CodecError::StatusTooLarge)
            }
            SyncResponse::Blocks(blocks) if blocks.len() > MAX_PAGE_BLOCKS => {
                Err(CodecError::TooManyBlocks(blocks.len()))
            }
            SyncResponse::Blocks(blocks)
                if blocks.iter().map(Vec::len).sum::<usize>() > MAX_PAGE_BYTES =>
            {
                Err(CodecError::PageTooLarge {
                    limit: MAX_PAGE_BYTES,
                })
            }
            SyncResponse::Refused(reason) if reason.len() > MAX_REASON_BYTES => {
                Err(CodecError::ReasonTooLong)
            }
            _ => Ok(()),
        }
    }
}

/// A frame that breaks the protocol's bounds or shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The page's blocks pass [`MAX_PAGE_BYTES`].
    #[error("page larger than {limit} bytes")]
    PageTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The page holds more than [`MAX_PAGE_BLOCKS`] blocks.
    #[error("page of {0} blocks; at most 50 are allowed")]
    TooManyBlocks(usize),
    /// The status passes [`MAX_STATUS_BYTES`].
    #[error("status answer larger than 1 MiB")]
    StatusTooLarge,
    /// The refusal reason passes [`MAX_REASON_BYTES`] or is not UTF-8.
    #[error("refusal reason too long or not UTF-8")]
    ReasonTooLong,
    /// An unknown frame tag.
    #[error("unknown frame tag {0}")]
    UnknownTag(u8),
}

impl From<CodecError> for io::Error {
    fn from(e: CodecError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

impl CodecError {
    /// The codec error inside an I/O error, if that is what it is.
    pub fn of_io(e: &io::Error) -> Option<&CodecError> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<CodecError>())
    }
}

/// The request-response codec of [`SYNC_PROTOCOL`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

pub(super) async fn read_u8<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u8> {
    let mut b = [0u8; 1];
    io.read_exact(&mut b).await?;
    Ok(b[0])
}

pub(super) async fn read_bytes<T: AsyncRead + Unpin>(
    io: &mut T,
    len: usize,
) -> io::Result<Vec<u8>> {
    // Only called with a length already checked against its bound.
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn read_request<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<SyncRequest> {
    match read_u8(io).await? {
        0 => Ok(SyncRequest::Status),
        1 => {
            let mut b = [0u8; 16];
            io.read_exact(&mut b).await?;
            let (from, to) = b.split_at(8);
            let int = |s: &[u8]| i64::from_be_bytes(s.try_into().unwrap_or_default());
            Ok(SyncRequest::Blocks {
                from: int(from),
                to: int(to),
            })
        }
        tag => Err(CodecError::UnknownTag(tag).into()),
    }
}

async fn read_response<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<SyncResponse> {
    match read_u8(io).await? {
        0 => {
            let mut len = [0u8; 4];
            io.read_exact(&mut len).await?;
            let len = u32::from_be_bytes(len) as usize;
            if len > MAX_STATUS_BYTES {
                return Err(CodecError::StatusTooLarge.into());
            }
            Ok(SyncResponse::Status(read_bytes(io, len).await?))
        }
        1 => {
            let mut count = [0u8; 2];
            io.read_exact(&mut count).await?;
            let count = u16::from_be_bytes(count) as usize;
            if count > MAX_PAGE_BLOCKS {
                return Err(CodecError::TooManyBlocks(count).into());
            }
            let mut blocks = Vec::with_capacity(count);
            let mut total = 0usize;
            for _ in 0..count {
                let mut len = [0u8; 4];
                io.read_exact(&mut len).await?;
                total = total.saturating_add(u32::from_be_bytes(len) as usize);
                if total > MAX_PAGE_BYTES {
                    return Err(CodecError::PageTooLarge {
                        limit: MAX_PAGE_BYTES,
                    }
                    .into());
                }
                blocks.push(read_bytes(io, u32::from_be_bytes(len) as usize).await?);
            }
            Ok(SyncResponse::Blocks(blocks))
        }
        2 => {
            let mut len = [0u8; 2];
            io.read_exact(&mut len).await?;
            let len = u16::from_be_bytes(len) as usize;
            if len > MAX_REASON_BYTES {
                return Err(CodecError::ReasonTooLong.into());
            }
            let reason = String::from_utf8(read_bytes(io, len).await?)
                .map_err(|_| io::Error::from(CodecError::ReasonTooLong))?;
            Ok(SyncResponse::Refused(reason))
        }
        tag => Err(CodecError::UnknownTag(tag).into()),
    }
}

fn encode_request(req: &SyncRequest) -> Vec<u8> {
    match *req {
        SyncRequest::Status => vec![0],
        SyncRequest::Blocks { from, to } => {
            let mut out = vec![1];
            out.extend_from_slice(&from.to_be_bytes());
            out.extend_from_slice(&to.to_be_bytes());
            out
        }
    }
}

/// The frame of a response. It does not check bounds (the sender does, with
/// [`SyncResponse::check_bounds`]); lengths that do not fit their field are an error.
fn encode_response(res: &SyncResponse) -> io::Result<Vec<u8>> {
    let too_long = || io::Error::new(io::ErrorKind::InvalidInput, "frame field overflow");
    let mut out = Vec::new();
    match res {
        SyncResponse::Status(json) => {
            out.push(0);
            out.extend_from_slice(
                &u32::try_from(json.len())
                    .map_err(|_| too_long())?
                    .to_be_bytes(),
            );
            out.extend_from_slice(json);
        }
        SyncResponse::Blocks(blocks) => {
            out.push(1);
            let count = u16::try_from(blocks.len()).map_err(|_| too_long())?;
            out.extend_from_slice(&count.to_be_bytes());
            for b in blocks {
                out.extend_from_slice(
                    &u32::try_from(b.len())
                        .map_err(|_| too_long())?
                        .to_be_bytes(),
                );
                out.extend_from_slice(b);
            }
        }
        SyncResponse::Refused(reason) => {
            out.push(2);
            let len = u16::try_from(reason.len()).map_err(|_| too_long())?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(reason.as_bytes());
        }
    }
    Ok(out)
}

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_request(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_response(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&encode_request(&req)).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&encode_response(&res)?).await?;
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn decode(bytes: Vec<u8>) -> io::Result<SyncResponse> {
        block_on(read_response(&mut futures::io::Cursor::new(bytes)))
    }

    #[test]
    fn frames_round_trip() {
        for req in [SyncRequest::Status, SyncRequest::Blocks { from: 3, to: 52 }] {
            let got = block_on(read_request(&mut futures::io::Cursor::new(encode_request(
                &req,
            ))));
            assert_eq!(got.expect("decodes"), req);
        }
        for res in [
            SyncResponse::Status(b"{\"height\":1}".to_vec()),
            SyncResponse::Blocks(vec![b"{}".to_vec(); 50]),
            SyncResponse::Refused("busy".into()),
        ] {
            assert_eq!(
                decode(encode_response(&res).expect("encodes")).expect("decodes"),
                res
            );
        }
    }

    #[test]
    fn an_oversize_page_is_refused_at_its_header() {
        // 3 blocks of 3 MiB announced: refused at the third length, before its body.
        let mut frame = vec![1, 0, 3];
        for _ in 0..3 {
            frame.extend_from_slice(&(3u32 << 20).to_be_bytes());
            frame.extend(std::iter::repeat_n(b' ', 3 << 20));
        }
        let err = decode(frame).expect_err("oversize");
        assert_eq!(
            CodecError::of_io(&err),
            Some(&CodecError::PageTooLarge {
                limit: MAX_PAGE_BYTES
            })
        );
    }

    #[test]
    fn too_many_blocks_and_huge_status_are_refused() {
        let err = decode(vec![1, 0, 51]).expect_err("51 blocks");
        assert_eq!(
            CodecError::of_io(&err),
            Some(&CodecError::TooManyBlocks(51))
        );
        let err = decode(vec![0, 0xff, 0xff, 0xff, 0xff]).expect_err("4 GiB status");
        assert_eq!(CodecError::of_io(&err), Some(&CodecError::StatusTooLarge));
        let err = decode(vec![9]).expect_err("tag");
        assert_eq!(CodecError::of_io(&err), Some(&CodecError::UnknownTag(9)));
    }

    #[test]
    fn request_bounds() {
        assert!(SyncRequest::Blocks { from: 0, to: 49 }.is_within_bounds());
        assert!(!SyncRequest::Blocks { from: 0, to: 50 }.is_within_bounds());
        assert!(!SyncRequest::Blocks { from: 5, to: 4 }.is_within_bounds());
        assert!(!SyncRequest::Blocks {
            from: i64::MIN,
            to: i64::MAX
        }
        .is_within_bounds());
    }
}
