//! The evaluator task protocol (`/doin/tasks/1`): what the HTTP API does with
//! `GET /tasks/pending`, `POST /tasks/claim` and `POST /tasks/complete`, on an
//! authenticated connection, every frame bounded at its header.
//!
//! | frame | bytes |
//! |---|---|
//! | pending request | `0x00`, `len: u16` ≤ 100, the domain id (UTF-8) |
//! | claim / complete request | `0x01` / `0x02`, `len: u32` ≤ [`MAX_TASK_CALL_BYTES`], the JSON body |
//! | answer | `0x00`, `len: u32` ≤ [`MAX_TASK_ANSWER_BYTES`], the JSON body |
//! | refusal | `0x01`, `len: u16` ≤ [`MAX_REASON_BYTES`], UTF-8 reason |
//!
//! Bodies stay the JSON the HTTP API reads and writes; the node parses them as it does
//! those.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

use super::codec::{read_bytes, read_u8, MAX_REASON_BYTES};

/// The protocol name.
pub const TASK_PROTOCOL: StreamProtocol = StreamProtocol::new("/doin/tasks/1");
/// Largest claim or completion body.
pub const MAX_TASK_CALL_BYTES: usize = 256 << 10;
/// Largest answer body (a list of pending tasks).
pub const MAX_TASK_ANSWER_BYTES: usize = 1 << 20;
/// Longest domain id asked about.
const MAX_DOMAIN_BYTES: usize = 100;

/// An evaluator's call to the node that holds the tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskCall {
    /// The pending tasks of a domain (`GET /tasks/pending?domain_id=`).
    Pending {
        /// The domain.
        domain: String,
    },
    /// Claims a task (`POST /tasks/claim`, its JSON body).
    Claim(Vec<u8>),
    /// Completes a task (`POST /tasks/complete`, its JSON body).
    Complete(Vec<u8>),
}

/// The answer to a [`TaskCall`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAnswer {
    /// The JSON the HTTP API would answer.
    Json(Vec<u8>),
    /// The node will not answer (a reason for the operator).
    Refused(String),
}

/// A task frame that breaks the protocol's bounds or shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskCodecError {
    /// A body or domain id longer than its bound.
    #[error("task frame field of {got} bytes; at most {limit} are allowed")]
    TooLarge {
        /// Its length.
        got: usize,
        /// The bound.
        limit: usize,
    },
    /// A domain id or reason that is not UTF-8.
    #[error("task frame text is not UTF-8")]
    NotUtf8,
    /// An unknown frame tag.
    #[error("unknown task frame tag {0}")]
    UnknownTag(u8),
}

impl From<TaskCodecError> for io::Error {
    fn from(e: TaskCodecError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

fn check(got: usize, limit: usize) -> Result<(), TaskCodecError> {
    if got > limit {
        Err(TaskCodecError::TooLarge { got, limit })
    } else {
        Ok(())
    }
}

impl TaskCall {
    /// Checks the bounds the reader enforces.
    pub fn check_bounds(&self) -> Result<(), TaskCodecError> {
        match self {
            TaskCall::Pending { domain } => check(domain.len(), MAX_DOMAIN_BYTES),
            TaskCall::Claim(b) | TaskCall::Complete(b) => check(b.len(), MAX_TASK_CALL_BYTES),
        }
    }
}

impl TaskAnswer {
    /// Checks the bounds the reader enforces.
    pub fn check_bounds(&self) -> Result<(), TaskCodecError> {
        match self {
            TaskAnswer::Json(b) => check(b.len(), MAX_TASK_ANSWER_BYTES),
            TaskAnswer::Refused(r) => check(r.len(), MAX_REASON_BYTES),
        }
    }
}

async fn read_len16<T: AsyncRead + Unpin>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    io.read_exact(&mut len).await?;
    let len = u16::from_be_bytes(len) as usize;
    check(len, limit)?;
    read_bytes(io, len).await
}

async fn read_len32<T: AsyncRead + Unpin>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    check(len, limit)?;
    read_bytes(io, len).await
}

fn text(bytes: Vec<u8>) -> io::Result<String> {
    String::from_utf8(bytes).map_err(|_| TaskCodecError::NotUtf8.into())
}

async fn read_call<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<TaskCall> {
    match read_u8(io).await? {
        0 => Ok(TaskCall::Pending {
            domain: text(read_len16(io, MAX_DOMAIN_BYTES).await?)?,
        }),
        1 => Ok(TaskCall::Claim(read_len32(io, MAX_TASK_CALL_BYTES).await?)),
        2 => Ok(TaskCall::Complete(
            read_len32(io, MAX_TASK_CALL_BYTES).await?,
        )),
        tag => Err(TaskCodecError::UnknownTag(tag).into()),
    }
}

async fn read_answer<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<TaskAnswer> {
    match read_u8(io).await? {
        0 => Ok(TaskAnswer::Json(
            read_len32(io, MAX_TASK_ANSWER_BYTES).await?,
        )),
        1 => Ok(TaskAnswer::Refused(text(
            read_len16(io, MAX_REASON_BYTES).await?,
        )?)),
        tag => Err(TaskCodecError::UnknownTag(tag).into()),
    }
}

/// `tag`, a length field of `wide` bytes (2 or 4), the body; lengths that do not fit fail.
fn frame(tag: u8, wide: bool, body: &[u8]) -> io::Result<Vec<u8>> {
    let overflow = || io::Error::new(io::ErrorKind::InvalidInput, "frame field overflow");
    let mut out = vec![tag];
    if wide {
        let len = u32::try_from(body.len()).map_err(|_| overflow())?;
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        let len = u16::try_from(body.len()).map_err(|_| overflow())?;
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(body);
    Ok(out)
}

fn encode_call(call: &TaskCall) -> io::Result<Vec<u8>> {
    match call {
        TaskCall::Pending { domain } => frame(0, false, domain.as_bytes()),
        TaskCall::Claim(b) => frame(1, true, b),
        TaskCall::Complete(b) => frame(2, true, b),
    }
}

fn encode_answer(answer: &TaskAnswer) -> io::Result<Vec<u8>> {
    match answer {
        TaskAnswer::Json(b) => frame(0, true, b),
        TaskAnswer::Refused(r) => frame(1, false, r.as_bytes()),
    }
}

/// The request-response codec of [`TASK_PROTOCOL`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskCodec;

impl libp2p::request_response::Codec for TaskCodec {
    type Protocol = StreamProtocol;
    type Request = TaskCall;
    type Response = TaskAnswer;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<TaskCall>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_call(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<TaskAnswer>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_answer(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: TaskCall,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&encode_call(&req)?).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: TaskAnswer,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&encode_answer(&res)?).await?;
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::Cursor;

    #[test]
    fn frames_round_trip() {
        for call in [
            TaskCall::Pending {
                domain: "quadratic".into(),
            },
            TaskCall::Claim(br#"{"task_id":"t1"}"#.to_vec()),
            TaskCall::Complete(br#"{"task_id":"t1","result":{}}"#.to_vec()),
        ] {
            let bytes = encode_call(&call).expect("encodes");
            assert_eq!(
                block_on(read_call(&mut Cursor::new(bytes))).expect("decodes"),
                call
            );
        }
        for answer in [
            TaskAnswer::Json(br#"{"tasks":[]}"#.to_vec()),
            TaskAnswer::Refused("not serving".into()),
        ] {
            let bytes = encode_answer(&answer).expect("encodes");
            assert_eq!(
                block_on(read_answer(&mut Cursor::new(bytes))).expect("decodes"),
                answer
            );
        }
    }

    #[test]
    fn oversize_frames_are_refused_at_their_header() {
        let mut claim = vec![1];
        claim.extend_from_slice(&((MAX_TASK_CALL_BYTES + 1) as u32).to_be_bytes());
        let err = block_on(read_call(&mut Cursor::new(claim))).expect_err("oversize");
        assert!(err.to_string().contains("at most"), "{err}");
        let mut answer = vec![0];
        answer.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(block_on(read_answer(&mut Cursor::new(answer))).is_err());
        assert!(TaskCall::Claim(vec![b' '; MAX_TASK_CALL_BYTES + 1])
            .check_bounds()
            .is_err());
    }
}
