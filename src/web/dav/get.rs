//! Plain GET and HEAD of a file written directly. The file is opened on the async
//! thread in one confined system call ([`Library::open_url`]); a small file the page
//! cache holds is read right there, anything else on the disk thread; large files are
//! streamed in 1 MiB chunks — from the page cache to the socket where possible
//! ([`zerocopy`](crate::web::zerocopy)) — so memory stays flat whatever the size.
//! Conditional and range requests are left to dav-server, which implements them
//! (RFC 9110 §13, §14).

use std::fs::File;
use std::io::{IoSliceMut, Read as _};
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use bytes::Bytes;
use dav_server::davpath::DavPath;
use dav_server::fs::DavMetaData as _;
use rustix::io::ReadWriteFlags;

use super::file::{Meta, blocking};
use super::library::{Library, fs_error, open_for_reading};
use crate::web::zerocopy::{FileSink, MAX_CHUNK, Peer};

/// Files up to this size are read whole; larger ones are streamed.
const SMALL_FILE: u64 = 256 * 1024;
/// Chunk size for streaming larger files.
const CHUNK: u64 = MAX_CHUNK as u64;

/// Headers that make a GET conditional or partial: dav-server handles those.
const LEAVE_TO_DAV_SERVER: [&str; 7] =
    ["range", "if", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range"];

/// Answers a plain GET or HEAD of a file, or `None` to let dav-server do it.
pub async fn answer(lib: &Arc<Library>, parts: &Parts) -> Option<Response> {
    let head = parts.method == Method::HEAD;
    if !(head || parts.method == Method::GET) || LEAVE_TO_DAV_SERVER.iter().any(|h| parts.headers.contains_key(*h)) {
        return None;
    }
    let url_path = parts.uri.path();
    let (file, meta) = match lib.open_url(url_path) {
        Some(opened) => opened,
        None => {
            let mut path = DavPath::new(url_path).ok()?;
            path.set_prefix(lib.prefix()).ok()?;
            let lib = lib.clone();
            blocking(move || open_for_reading(&lib.resolve(&path)?)).await.ok()?
        }
    };
    if meta.is_dir() {
        return None;
    }
    let meta = Meta::new(&meta);
    let (body, len) = if head {
        (Body::empty(), meta.len())
    } else if meta.len() > SMALL_FILE {
        let sink = parts.extensions.get::<ConnectInfo<Peer>>().map(|c| c.0.sink.clone());
        (stream(file, meta.len(), sink), meta.len())
    } else {
        let data = read_small(file, meta.len()).await?;
        let len = data.len() as u64;
        (Body::from(data), len)
    };
    let mut resp = Response::new(body);
    // Room for these and the security headers every answer gets: no regrowing.
    let h = resp.headers_mut();
    h.reserve(12);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let name = url_path.rsplit('/').next().unwrap_or_default();
    let name: std::borrow::Cow<'_, [u8]> = percent_encoding::percent_decode_str(name).into();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(super::propfind::mime_of(&name)));
    let mut tag = String::with_capacity(40);
    tag.push('"');
    if meta.write_etag(&mut tag) {
        tag.push('"');
        if let Ok(v) = HeaderValue::try_from(tag) {
            h.insert(header::ETAG, v);
        }
    }
    if let Some(v) =
        meta.modified().ok().and_then(super::propfind::httpdate).and_then(|d| HeaderValue::try_from(d).ok())
    {
        h.insert(header::LAST_MODIFIED, v);
    }
    Some(resp)
}

/// A small file whole: read right here when the page cache holds it (`RWF_NOWAIT`
/// refuses instead of waiting for the disk), otherwise on the disk thread.
async fn read_small(file: File, size: u64) -> Option<Vec<u8>> {
    let len = usize::try_from(size).ok()?;
    let mut data = vec![0; len];
    let cached = rustix::io::preadv2(&file, &mut [IoSliceMut::new(&mut data)], 0, ReadWriteFlags::NOWAIT);
    if cached.is_ok_and(|n| n == len) {
        return Some(data);
    }
    blocking(move || read_whole(&file, size).map_err(|e| fs_error(&e))).await.ok()
}

/// Up to `len` bytes from the start of `file` (fewer if it shrank meanwhile).
fn read_whole(file: &File, len: u64) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut data)?;
    Ok(data)
}

/// A large file as a body of chunks. Where the connection can send files itself
/// ([`zerocopy`]) and the page cache holds a chunk, the chunk goes from the cache to the
/// socket without passing through memory here; other chunks are read on the disk thread.
/// Memory stays flat whatever the size. A file that shrinks meanwhile ends the body
/// with an error, so the client sees a short download, never a wrong one.
fn stream(file: File, len: u64, sink: Option<FileSink>) -> Body {
    let download = Download { file: Arc::new(file), offset: 0, len, sink: sink.filter(FileSink::is_idle) };
    let chunks = futures_util::stream::unfold(Some(download), |state| async move {
        let mut d = state?;
        match d.next_chunk().await? {
            Ok(bytes) => Some((Ok(bytes), Some(d))),
            Err(e) => Some((Err(e), None)),
        }
    });
    Body::from_stream(chunks)
}

/// Where a large download stands.
struct Download {
    file: Arc<File>,
    offset: u64,
    len: u64,
    sink: Option<FileSink>,
}

impl Download {
    async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        let want = usize::try_from((self.len - self.offset).min(CHUNK)).ok().filter(|&n| n > 0)?;
        if let Some(sink) = &self.sink {
            sink.room().await;
            if in_page_cache(&self.file, self.offset, want) {
                let marker = sink.send(self.file.clone(), self.offset, want);
                self.offset += want as u64;
                return Some(Ok(marker));
            }
        }
        let (file, offset) = (self.file.clone(), self.offset);
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; want];
            file.read_exact_at(&mut buf, offset).map(|()| buf)
        })
        .await;
        Some(match read {
            Ok(Ok(buf)) => {
                self.offset += want as u64;
                Ok(Bytes::from(buf))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::Error::other("read failed")),
        })
    }
}

/// Whether the page cache holds the first and last byte of a region: a read that
/// refuses (`RWF_NOWAIT`) rather than wait for the disk.
fn in_page_cache(file: &File, offset: u64, len: usize) -> bool {
    let mut probe = [0u8; 1];
    [offset, offset + len as u64 - 1].into_iter().all(|at| {
        matches!(rustix::io::preadv2(file, &mut [IoSliceMut::new(&mut probe)], at, ReadWriteFlags::NOWAIT), Ok(1))
    })
}
