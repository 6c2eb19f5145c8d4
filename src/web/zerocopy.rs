//! Zero-copy file bodies: large downloads go from the page cache to the socket with
//! `sendfile(2)`, as nginx sends them, instead of being read into memory and written
//! back out (two copies, most of the time of a 100 MiB GET).
//!
//! hyper writes response bodies itself, so the file cannot be handed to it directly.
//! Instead every accepted connection is a [`ZeroCopyStream`] with a [`FileSink`]: a body
//! that wants a file region sent registers it there as a [`Job`] and yields a *marker*
//! chunk of the same length — a slice of the private static [`MARKER`], which nothing
//! else can point into. hyper queues body chunks as they are (with a vectored writer it
//! never copies them) and passes them on in order; when the stream sees a slice of
//! `MARKER` it sends the job's bytes from the file instead. Each marker write is
//! checked against the job it stands for — right job, right position — and anything
//! else fails the connection rather than sending wrong bytes. A file that shrank
//! meanwhile also fails it: the client gets fewer bytes than announced and knows.
//! Uploads never write into a file (they replace it), so a download in flight keeps
//! the old file's pages and arrives whole; only a file changed in place behind the
//! server's back shows the change, as it would to any reader.
//!
//! `sendfile` reads the page cache on the async thread, so a body only registers a
//! region the page cache holds (a non-blocking probe); others are read on the disk
//! thread and sent as ordinary bytes.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// The largest region one marker chunk stands for.
pub const MAX_CHUNK: usize = 1024 * 1024;

/// Zero bytes whose only use is their address. Never read: the stream never sends a
/// slice of it, and hyper never looks inside the chunks it queues.
static MARKER: [u8; MAX_CHUNK] = [0; MAX_CHUNK];

/// At most this many registered regions wait for the socket per connection.
const MAX_PENDING: usize = 2;

/// A file region to send in place of a marker chunk.
#[derive(Debug)]
struct Job {
    file: Arc<File>,
    offset: u64,
    len: usize,
    sent: usize,
}

#[derive(Debug, Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// The body waiting for room in `jobs`.
    waiting: Option<Waker>,
}

/// One connection's queue of file regions, shared by its stream and its bodies.
#[derive(Debug, Clone, Default)]
pub struct FileSink(Arc<Mutex<Queue>>);

impl FileSink {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether nothing is queued: a new body may start using the sink.
    pub fn is_idle(&self) -> bool {
        self.lock().jobs.is_empty()
    }

    /// Waits until another region may be queued.
    pub async fn room(&self) {
        std::future::poll_fn(|cx| {
            let mut q = self.lock();
            if q.jobs.len() < MAX_PENDING {
                Poll::Ready(())
            } else {
                q.waiting = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }

    /// Queues `len` bytes of `file` from `offset` (at most [`MAX_CHUNK`]) and returns
    /// the marker chunk to yield in their place.
    pub fn send(&self, file: Arc<File>, offset: u64, len: usize) -> bytes::Bytes {
        let len = len.min(MAX_CHUNK);
        self.lock().jobs.push_back(Job { file, offset, len, sent: 0 });
        bytes::Bytes::from_static(&MARKER[..len])
    }
}

/// Whether `buf` is (part of) a marker chunk.
fn is_marker(buf: &[u8]) -> bool {
    !buf.is_empty() && MARKER.as_ptr_range().contains(&buf.as_ptr())
}

/// A connection: a TCP stream that sends marker chunks from their files.
#[derive(Debug)]
pub struct ZeroCopyStream {
    tcp: TcpStream,
    sink: FileSink,
}

impl ZeroCopyStream {
    /// Sends (part of) the job `marker` stands for.
    fn poll_send_file(&self, cx: &mut Context<'_>, marker: &[u8]) -> Poll<io::Result<usize>> {
        let position = marker.as_ptr() as usize - MARKER.as_ptr() as usize;
        loop {
            ready!(self.tcp.poll_write_ready(cx))?;
            let mut q = self.sink.lock();
            let job = match q.jobs.front_mut() {
                Some(job) if job.sent == position && marker.len() <= job.len - job.sent => job,
                _ => return Poll::Ready(Err(io::Error::other("zero-copy body out of step with its connection"))),
            };
            let mut offset = job.offset + job.sent as u64;
            let file = job.file.clone();
            let sent = self.tcp.try_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(&self.tcp, &*file, Some(&mut offset), marker.len()).map_err(io::Error::from)
            });
            match sent {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => {
                    job.sent += n;
                    if job.sent == job.len {
                        q.jobs.pop_front();
                        if let Some(w) = q.waiting.take() {
                            w.wake();
                        }
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncRead for ZeroCopyStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for ZeroCopyStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if is_marker(buf) {
            return self.poll_send_file(cx, buf);
        }
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // Ordinary bytes up to the first marker go out in one writev; a marker first
        // is sent from its file. Short writes are fine: the caller comes back for the rest.
        let bufs = &bufs[bufs.iter().take_while(|b| b.is_empty()).count()..];
        match bufs.iter().position(|b| is_marker(b)) {
            Some(0) => self.poll_send_file(cx, &bufs[0]),
            Some(n) => Pin::new(&mut self.tcp).poll_write_vectored(cx, &bufs[..n]),
            None => Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Who is on the other end of a connection, and its sink.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub sink: FileSink,
}

/// An accepted connection as a [`ZeroCopyStream`], with `TCP_NODELAY` (no Nagle stalls
/// on keep-alive), and who is on the other end.
pub fn accepted(tcp: TcpStream, addr: SocketAddr) -> (ZeroCopyStream, Peer) {
    let _ = tcp.set_nodelay(true);
    let sink = FileSink::default();
    (ZeroCopyStream { tcp, sink: sink.clone() }, Peer { addr, sink })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write as _;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    /// A connected pair over loopback: our stream and the client's end.
    async fn pair() -> (ZeroCopyStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (ZeroCopyStream { tcp: server, sink: FileSink::default() }, client)
    }

    fn file_with(content: &[u8]) -> Arc<File> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        Arc::new(f)
    }

    #[tokio::test]
    async fn a_marker_sends_its_region_of_the_file_between_ordinary_bytes() {
        let (mut stream, mut client) = pair().await;
        let marker = stream.sink.send(file_with(b"0123456789"), 2, 5);
        assert!(!stream.sink.is_idle());
        let parts: [&[u8]; 3] = [b"head:", &marker, b":tail"];
        let mut sent = 0;
        while sent < 15 {
            sent += stream.write_vectored(&slices_after(&parts, sent)).await.unwrap();
        }
        let mut got = [0u8; 15];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"head:23456:tail");
        assert!(stream.sink.is_idle(), "the job is done");
    }

    /// The slices still to send after `skip` bytes, as hyper passes them after a short write.
    fn slices_after<'a>(parts: &[&'a [u8]], mut skip: usize) -> Vec<io::IoSlice<'a>> {
        let mut out = Vec::new();
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            out.push(io::IoSlice::new(&part[skip..]));
            skip = 0;
        }
        out
    }

    #[tokio::test]
    async fn a_marker_out_of_step_fails_instead_of_sending_wrong_bytes() {
        let (mut stream, _client) = pair().await;
        let marker = bytes::Bytes::from_static(&MARKER[..4]);
        assert!(stream.write(&marker).await.is_err(), "no job registered");
        let marker = stream.sink.send(file_with(b"abcdefgh"), 0, 8);
        assert!(stream.write(&marker[3..]).await.is_err(), "a position the job is not at");
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_job_fails_the_write() {
        let (mut stream, _client) = pair().await;
        let marker = stream.sink.send(file_with(b"abc"), 2, 8);
        let mut written = 0;
        let result = loop {
            match stream.write(&marker[written..]).await {
                Ok(n) => written += n,
                Err(e) => break e,
            }
        };
        assert_eq!(result.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(written, 1, "the one byte there was");
    }
}
