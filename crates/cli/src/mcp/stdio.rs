//! The stdio transport of `tollgate mcp`: rmcp's, with answers for the requests rmcp drops
//! without one.
//!
//! rmcp's transport drops a line over its length limit with nothing but a log line, and a
//! line that is not JSON with not even that (as the other official SDKs do), and the client
//! waits for an answer that never comes. Here rmcp still reads and parses every message, with
//! the same limit (so it never holds more than that of one line), but stdin passes through a
//! [`LineMeter`] that keeps each line up to the limit and notices each line over it or not
//! JSON, and stdout is written by one task that copies rmcp's messages and answers each such
//! request itself, between two of rmcp's lines: `-32600` for one too long, `-32700` (JSON-RPC's
//! parse error) for one that is not JSON. The answer's id is `null`, as JSON-RPC 2.0 says for
//! an id that cannot be known: it is in the part of the line nobody kept, or nobody could
//! read.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rmcp::model::ErrorData;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::RoleServer;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use tollgate_script::ErrorType;

/// The most bytes one request may have, its newline aside: rmcp's own default, which is also
/// what its HTTP transport takes for one event.
pub const MAX_REQUEST_BYTES: u64 = 16 << 20;

/// What rmcp's writes are copied through: enough for most messages in one piece.
const COPY_BYTES: usize = 64 << 10;

/// The transport to serve on, and the task that writes `write` (awaited after the session, so
/// that the last answers are out before the process ends). `refuse` is called, on a blocking
/// thread, with the length of each request over [`MAX_REQUEST_BYTES`], and returns the
/// message to answer it with; a line that is not JSON is answered without it.
pub fn transport<R, W>(
    read: R,
    write: W,
    refuse: impl Fn(u64) -> String + Send + Sync + 'static,
) -> (
    AsyncRwTransport<RoleServer, LineMeter<R>, DuplexStream>,
    JoinHandle<io::Result<()>>,
)
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    // Unbounded, yet small: each entry stands for a line of input read.
    let (dropped, lines) = mpsc::unbounded_channel();
    let (messages, from_rmcp) = tokio::io::duplex(COPY_BYTES);
    let meter = LineMeter {
        read,
        line: Vec::new(),
        length: 0,
        dropped,
    };
    // rmcp counts the newline; the limit here does not.
    let transport = AsyncRwTransport::new_server(meter, messages)
        .with_max_line_length(MAX_REQUEST_BYTES as usize + 1);
    let writer = tokio::spawn(write_out(from_rmcp, lines, write, Arc::new(refuse)));
    (transport, writer)
}

/// A line rmcp drops without an answer.
#[derive(Debug, PartialEq, Eq)]
enum Dropped {
    /// Over [`MAX_REQUEST_BYTES`], by this many bytes in all.
    Oversized(u64),
    /// Not JSON, as the parser says.
    Unparseable(String),
}

/// Stdin as rmcp reads it, unchanged, with each line it will drop unanswered sent to the
/// writer. A line is kept until it ends, up to [`MAX_REQUEST_BYTES`] (past that, only its
/// length).
pub struct LineMeter<R> {
    read: R,
    /// The current line so far, while it is within the limit.
    line: Vec<u8>,
    /// Bytes of the current line so far.
    length: u64,
    dropped: mpsc::UnboundedSender<Dropped>,
}

/// Lines longer than this are not kept in the buffer's capacity once handled: one large
/// request should not hold its memory for the rest of the session.
const KEPT_CAPACITY: usize = 1 << 20;

impl<R> LineMeter<R> {
    fn end_line(&mut self) {
        let dropped = if self.length > MAX_REQUEST_BYTES {
            Some(Dropped::Oversized(self.length))
        } else {
            unparseable(&self.line).map(Dropped::Unparseable)
        };
        if let Some(dropped) = dropped {
            // The writer has gone only if stdout has: then nobody could read the answer.
            let _ = self.dropped.send(dropped);
        }
        self.line.clear();
        if self.line.capacity() > KEPT_CAPACITY {
            self.line.shrink_to(KEPT_CAPACITY);
        }
        self.length = 0;
    }

    fn take(&mut self, piece: &[u8]) {
        self.length += piece.len() as u64;
        if self.length <= MAX_REQUEST_BYTES {
            self.line.extend_from_slice(piece);
        }
    }
}

/// Why a line is not a JSON text, where rmcp would drop it unread: the same line rmcp parses
/// (its carriage return and a byte-order mark aside), and an empty one is skipped, as rmcp
/// skips it. Any JSON value passes: one that is not a message rmcp answers itself.
fn unparseable(line: &[u8]) -> Option<String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
    if line.is_empty() {
        return None;
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(line)
        .err()
        .map(|e| e.to_string())
}

impl<R: AsyncRead + Unpin> AsyncRead for LineMeter<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.read).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if read.is_empty() {
            // The end of input: a last line without its newline is refused if too long; rmcp
            // drops an unfinished line whatever it holds, and so is the client's to finish.
            if this.length > MAX_REQUEST_BYTES {
                this.end_line();
            }
        }
        for (i, piece) in read.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                this.end_line();
            }
            this.take(piece);
        }
        Poll::Ready(Ok(()))
    }
}

/// Copies rmcp's messages to `out`, and answers each dropped request between two of them:
/// rmcp writes whole lines, but they may arrive here in pieces.
async fn write_out<W: AsyncWrite + Unpin>(
    mut from_rmcp: DuplexStream,
    mut dropped: mpsc::UnboundedReceiver<Dropped>,
    mut out: W,
    refuse: Arc<dyn Fn(u64) -> String + Send + Sync>,
) -> io::Result<()> {
    let mut buf = vec![0; COPY_BYTES];
    let mut between_lines = true;
    let mut rmcp_open = true;
    loop {
        tokio::select! {
            read = from_rmcp.read(&mut buf), if rmcp_open => {
                let n = read?;
                if n == 0 {
                    rmcp_open = false;
                    continue;
                }
                out.write_all(&buf[..n]).await?;
                out.flush().await?;
                between_lines = buf[n - 1] == b'\n';
            }
            Some(line) = dropped.recv(), if between_lines => {
                let error = match line {
                    Dropped::Oversized(bytes) => {
                        // Recorded before it is answered, as every refusal is; rmcp's
                        // messages wait meanwhile, which costs one audit append.
                        let refuse = Arc::clone(&refuse);
                        let message = tokio::task::spawn_blocking(move || refuse(bytes))
                            .await
                            .map_err(io::Error::other)?;
                        ErrorData::invalid_request(
                            message,
                            Some(json!({
                                "error_type": ErrorType::Validation,
                                "bytes": bytes,
                                "limit": MAX_REQUEST_BYTES,
                            })),
                        )
                    }
                    // Nothing of it could be read, so nothing of it is recorded: there is no
                    // request to name, only bytes.
                    Dropped::Unparseable(why) => ErrorData::parse_error(
                        format!("the request is not JSON ({why}), so it was dropped unread and nothing ran; send one JSON-RPC message per line"),
                        Some(json!({"error_type": ErrorType::Validation})),
                    ),
                };
                let mut line = serde_json::to_vec(&json!({
                    "jsonrpc": "2.0",
                    "id": null,
                    "error": error,
                }))?;
                line.push(b'\n');
                out.write_all(&line).await?;
                out.flush().await?;
            }
            // rmcp has closed its side and no request is waiting for an answer.
            else => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_unparseable_only_if_it_is_not_json() {
        for json in [
            &b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"[..],
            b"{\"a\": 1}\r",
            b"\xef\xbb\xbf[1, 2]",
            b"",
            b"\r",
            b"42",
        ] {
            assert_eq!(unparseable(json), None, "{json:?}");
        }
        for bad in [
            &b"{\"jsonrpc\":"[..],
            b"not json",
            b"{} {}",
            b"\xff\xfe",
            b"   ",
        ] {
            assert!(unparseable(bad).is_some(), "{bad:?}");
        }
    }
}
