//! The stdio transport of `tollgate mcp`: rmcp's, with an answer for a request too long to
//! read.
//!
//! rmcp's transport drops a line over its length limit with nothing but a log line, and the
//! client waits for an answer that never comes. Here rmcp still reads and parses every
//! message, with the same limit (so it never holds more than that of one line), but stdin
//! passes through a [`LineMeter`] that notices each line over the limit, and stdout is
//! written by one task that copies rmcp's messages and answers each oversized request itself,
//! between two of rmcp's lines. The answer's id is `null`, as JSON-RPC 2.0 says for an id that
//! cannot be known: it is in the part of the line nobody kept.

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
/// message to answer it with.
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
    // Unbounded, yet small: each entry stands for more than MAX_REQUEST_BYTES of input read.
    let (oversized, lengths) = mpsc::unbounded_channel();
    let (messages, from_rmcp) = tokio::io::duplex(COPY_BYTES);
    let meter = LineMeter {
        read,
        line: 0,
        oversized,
    };
    // rmcp counts the newline; the limit here does not.
    let transport = AsyncRwTransport::new_server(meter, messages)
        .with_max_line_length(MAX_REQUEST_BYTES as usize + 1);
    let writer = tokio::spawn(write_out(from_rmcp, lengths, write, Arc::new(refuse)));
    (transport, writer)
}

/// Stdin as rmcp reads it, unchanged, with the length of each line over
/// [`MAX_REQUEST_BYTES`] sent to the writer. Only a count is kept, never the line.
pub struct LineMeter<R> {
    read: R,
    /// Bytes of the current line so far.
    line: u64,
    oversized: mpsc::UnboundedSender<u64>,
}

impl<R> LineMeter<R> {
    fn end_line(&mut self) {
        if self.line > MAX_REQUEST_BYTES {
            // The writer has gone only if stdout has: then nobody could read the answer.
            let _ = self.oversized.send(self.line);
        }
        self.line = 0;
    }
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
            // The end of input: a last line without its newline is refused too.
            this.end_line();
        }
        for (i, piece) in read.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                this.end_line();
            }
            this.line += piece.len() as u64;
        }
        Poll::Ready(Ok(()))
    }
}

/// Copies rmcp's messages to `out`, and answers each oversized request between two of them:
/// rmcp writes whole lines, but they may arrive here in pieces.
async fn write_out<W: AsyncWrite + Unpin>(
    mut from_rmcp: DuplexStream,
    mut oversized: mpsc::UnboundedReceiver<u64>,
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
            Some(bytes) = oversized.recv(), if between_lines => {
                // Recorded before it is answered, as every refusal is; rmcp's messages wait
                // meanwhile, which costs one audit append.
                let refuse = Arc::clone(&refuse);
                let message = tokio::task::spawn_blocking(move || refuse(bytes))
                    .await
                    .map_err(io::Error::other)?;
                let error = ErrorData::invalid_request(
                    message,
                    Some(json!({
                        "error_type": ErrorType::Validation,
                        "bytes": bytes,
                        "limit": MAX_REQUEST_BYTES,
                    })),
                );
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
