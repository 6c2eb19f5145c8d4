//! GET and HEAD of a file, written directly. The file is opened on the async thread in
//! one confined system call ([`Library::open_url`]); a small file the page cache holds
//! is read right there, anything else on the disk thread; large files and ranges are
//! streamed in 1 MiB chunks — from the page cache to the socket where possible
//! ([`zerocopy`](crate::web::zerocopy)) — so memory stays flat whatever the size.
//! Preconditions and ranges (RFC 9110 §13, §14) are decided in [`conditional`]; every
//! answer carries the serving headers of [`serving`]. Only a request with a WebDAV
//! `If` header (lock tokens) is left to dav-server, which then never sends ranges
//! ([`for_dav_server`]) and whose answer gets the same serving headers ([`finish`]).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{IoSliceMut, Read as _};
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use dav_server::davpath::DavPath;
use dav_server::fs::DavMetaData as _;
use rustix::io::ReadWriteFlags;

use super::conditional::{self, Precondition, Ranges, Validators};
use super::library::{Library, rel};
use super::serving;
use crate::library::folder::open_for_reading;
use crate::library::{Meta, Rel, Storage, blocking};
use crate::web::zerocopy::{FileSink, MAX_CHUNK, Peer};

/// Files up to this size are read whole; larger ones are streamed.
const SMALL_FILE: u64 = 256 * 1024;
/// Chunk size for streaming larger files.
const CHUNK: u64 = MAX_CHUNK as u64;

/// Answers a GET or HEAD of a file, or `None` to let dav-server do it (folders, missing
/// files, a WebDAV `If` header).
pub async fn answer(lib: &Arc<Library>, parts: &Parts) -> Option<Response> {
    let head = parts.method == Method::HEAD;
    if !(head || parts.method == Method::GET) {
        return None;
    }
    let url_path = parts.uri.path();
    // A whole-file GET of an object is one request to the store; HEAD and ranges look
    // the object up first.
    let whole = !head && !parts.headers.contains_key(header::RANGE) && !parts.headers.contains_key("if");
    let (source, meta) = open(lib, url_path, whole).await?;
    if meta.is_dir {
        return None;
    }
    if url_path.ends_with('/') {
        // A file is not a folder: `file.txt/` names nothing.
        return Some(status_only(StatusCode::NOT_FOUND));
    }
    if parts.headers.contains_key("if") {
        return None;
    }
    let len = meta.len();
    let etag = quoted_etag(&meta);
    let modified = meta.modified().ok();
    let v = Validators { etag: etag.as_deref(), modified };

    let mut resp = Response::new(Body::empty());
    // Room for these and the security headers every answer gets: no regrowing.
    let h = resp.headers_mut();
    h.reserve(14);
    let name = file_name(url_path);
    let mime = super::multistatus::mime_of(&name);
    serving::apply(h, &name, mime);
    if let Some(v) = etag.as_deref().and_then(|t| HeaderValue::try_from(t).ok()) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = modified.and_then(super::multistatus::httpdate).and_then(|d| HeaderValue::try_from(d).ok()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    match conditional::evaluate(&parts.headers, v) {
        Precondition::Proceed => {}
        Precondition::NotModified => return Some(with_status(resp, StatusCode::NOT_MODIFIED)),
        Precondition::Failed => return Some(status_only(StatusCode::PRECONDITION_FAILED)),
    }
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let sink = || parts.extensions.get::<ConnectInfo<Peer>>().map(|c| c.0.sink.clone());
    let (body, status, content_type, body_len) = match conditional::ranges(&parts.headers, len, v) {
        Ranges::Unsatisfiable => {
            h.insert(header::CONTENT_RANGE, content_range(None, len));
            return Some(with_status(resp, StatusCode::RANGE_NOT_SATISFIABLE));
        }
        Ranges::Whole if head => (Body::empty(), StatusCode::OK, HeaderValue::from_static(mime), len),
        Ranges::Whole => match source {
            Source::File(file) if len <= SMALL_FILE => {
                let data = read_small(file, len).await?;
                let len = data.len() as u64;
                (Body::from(data), StatusCode::OK, HeaderValue::from_static(mime), len)
            }
            source => {
                (send(source, vec![Piece::region(0, len)], sink()), StatusCode::OK, HeaderValue::from_static(mime), len)
            }
        },
        Ranges::Parts(parts_asked) if parts_asked.len() == 1 => {
            let (first, last) = parts_asked[0];
            h.insert(header::CONTENT_RANGE, content_range(Some((first, last)), len));
            let body = if head { Body::empty() } else { send(source, vec![Piece::region(first, last + 1)], sink()) };
            (body, StatusCode::PARTIAL_CONTENT, HeaderValue::from_static(mime), last - first + 1)
        }
        Ranges::Parts(parts_asked) => {
            let (pieces, content_type) = multipart(&parts_asked, len, mime)?;
            let body_len = pieces.iter().map(Piece::len).sum();
            let body = if head { Body::empty() } else { send(source, pieces, sink()) };
            (body, StatusCode::PARTIAL_CONTENT, content_type, body_len)
        }
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    *resp.body_mut() = body;
    Some(with_status(resp, status))
}

/// Where a file's bytes come from.
enum Source {
    /// An open file of a folder library.
    File(File),
    /// An object of an S3 library, read by ranged requests.
    Object(Arc<Library>, Rel),
    /// A whole object, its GET already under way.
    Stream(futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>),
}

/// Opens the file a URL path names: on a folder in one confined system call
/// ([`Library::open_url`]), else through the storage's one path rule. `None` when
/// dav-server should answer (missing, refused, not a file).
async fn open(lib: &Arc<Library>, url_path: &str, whole: bool) -> Option<(Source, Meta)> {
    if let Some((file, meta)) = lib.open_url(url_path) {
        return Some((Source::File(file), Meta::from_fs(&meta)));
    }
    let mut path = DavPath::new(url_path).ok()?;
    path.set_prefix(lib.prefix()).ok()?;
    let p = rel(&path).ok()?;
    match &lib.storage {
        Storage::Folder(folder) => {
            let folder = folder.clone();
            let (file, meta) = blocking(move || open_for_reading(&folder.resolve(&p)?)).await.ok()?;
            Some((Source::File(file), Meta::from_fs(&meta)))
        }
        Storage::Bucket(bucket) if whole => match bucket.open_whole(&p).await.ok()? {
            (meta, Some(body)) => Some((Source::Stream(body), meta)),
            (meta, None) => Some((Source::Object(lib.clone(), p), meta)),
        },
        Storage::Bucket(bucket) => {
            let meta = bucket.stat(&p).await.ok()?;
            Some((Source::Object(lib.clone(), p), meta))
        }
    }
}

/// Readies a GET or HEAD that dav-server answers: it never sends ranges (its
/// multipart answers use a fixed boundary and bare LF), so Range is dropped — a server
/// may always ignore it (RFC 9110 §14.2).
pub fn for_dav_server(parts: &mut Parts) {
    parts.headers.remove(header::RANGE);
    parts.headers.remove(header::IF_RANGE);
}

/// Gives dav-server's answer to a GET or HEAD of `url_path` the serving headers.
pub fn finish(url_path: &str, headers: &mut HeaderMap, status: StatusCode) {
    let name = file_name(url_path);
    let shows_file = matches!(status, StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED);
    let mime = if shows_file { super::multistatus::mime_of(&name) } else { "text/plain" };
    serving::apply(headers, &name, mime);
}

/// The decoded last segment of a URL path.
fn file_name(url_path: &str) -> Vec<u8> {
    let name = url_path.rsplit('/').next().unwrap_or_default();
    percent_encoding::percent_decode_str(name).collect()
}

/// The `ETag` of a file, quoted, as `getetag` shows it too.
pub fn quoted_etag(meta: &Meta) -> Option<String> {
    let mut tag = String::with_capacity(40);
    tag.push('"');
    meta.write_etag(&mut tag).then(|| {
        tag.push('"');
        tag
    })
}

fn with_status(mut resp: Response, status: StatusCode) -> Response {
    *resp.status_mut() = status;
    resp
}

fn status_only(status: StatusCode) -> Response {
    with_status(Response::new(Body::empty()), status)
}

/// `Content-Range: bytes FIRST-LAST/LEN`, or `bytes */LEN` for none.
fn content_range(range: Option<(u64, u64)>, len: u64) -> HeaderValue {
    let text = match range {
        Some((first, last)) => format!("bytes {first}-{last}/{len}"),
        None => format!("bytes */{len}"),
    };
    HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static("bytes */0"))
}

/// A `multipart/byteranges` body (RFC 9110 §14.6) with a random boundary and CRLF
/// line ends: its pieces and its `Content-Type`.
fn multipart(ranges: &[(u64, u64)], len: u64, mime: &str) -> Option<(Vec<Piece>, HeaderValue)> {
    let boundary = crate::domain::random::public_id("gatehouse-", 24).ok()?;
    let mut pieces = Vec::with_capacity(ranges.len() * 2 + 1);
    for (i, &(first, last)) in ranges.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        let head =
            format!("{lead}--{boundary}\r\nContent-Type: {mime}\r\nContent-Range: bytes {first}-{last}/{len}\r\n\r\n");
        pieces.push(Piece::Bytes(Bytes::from(head)));
        pieces.push(Piece::region(first, last + 1));
    }
    pieces.push(Piece::Bytes(Bytes::from(format!("\r\n--{boundary}--\r\n"))));
    let content_type = HeaderValue::try_from(format!("multipart/byteranges; boundary={boundary}")).ok()?;
    Some((pieces, content_type))
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
    blocking(move || read_whole(&file, size)).await.ok()
}

/// Up to `len` bytes from the start of `file` (fewer if it shrank meanwhile).
fn read_whole(file: &File, len: u64) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut data)?;
    Ok(data)
}

/// A part of a body: bytes made here, or a region of the file (`offset..end`).
#[derive(Debug)]
enum Piece {
    Bytes(Bytes),
    Region { offset: u64, end: u64 },
}

impl Piece {
    fn region(offset: u64, end: u64) -> Piece {
        Piece::Region { offset, end }
    }

    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Region { offset, end } => end - offset,
        }
    }
}

/// A body of pieces, file regions sent in chunks. Where the connection can send files
/// itself ([`zerocopy`]) and the page cache holds a chunk, the chunk goes from the cache
/// to the socket without passing through memory here; other chunks are read on the
/// disk thread. Memory stays flat whatever the size. A file that shrinks meanwhile ends
/// the body with an error, so the client sees a short download, never a wrong one.
fn send(source: Source, pieces: Vec<Piece>, sink: Option<FileSink>) -> Body {
    let file = match source {
        Source::File(file) => file,
        Source::Object(lib, p) => return Body::from_stream(object_pieces(lib, p, pieces)),
        // Only ever opened for the whole file (one piece).
        Source::Stream(body) => return Body::from_stream(body),
    };
    let download =
        Download { file: Arc::new(file), pieces: VecDeque::from(pieces), sink: sink.filter(FileSink::is_idle) };
    let chunks = futures_util::stream::unfold(Some(download), |state| async move {
        let mut d = state?;
        match d.next_chunk().await? {
            Ok(bytes) => Some((Ok(bytes), Some(d))),
            Err(e) => Some((Err(e), None)),
        }
    });
    Body::from_stream(chunks)
}

/// The pieces of an object's body: each region is one ranged GET, streamed through in
/// the chunks the store sends, so memory stays flat whatever the size.
fn object_pieces(
    lib: Arc<Library>,
    p: Rel,
    pieces: Vec<Piece>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    use futures_util::{StreamExt as _, TryStreamExt as _};
    futures_util::stream::iter(pieces).flat_map(move |piece| match piece {
        Piece::Bytes(b) => futures_util::stream::once(std::future::ready(Ok(b))).boxed(),
        Piece::Region { offset, end } => {
            let (lib, p) = (lib.clone(), p.clone());
            futures_util::stream::once(async move {
                match &lib.storage {
                    Storage::Bucket(bucket) => bucket.read_range(&p, offset, end).await,
                    Storage::Folder(_) => Err(std::io::Error::other("not an object")),
                }
            })
            .try_flatten()
            .boxed()
        }
    })
}

/// Where a download stands: the pieces still to send.
struct Download {
    file: Arc<File>,
    pieces: VecDeque<Piece>,
    sink: Option<FileSink>,
}

impl Download {
    async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        let (offset, want) = loop {
            match self.pieces.front_mut()? {
                Piece::Bytes(b) => {
                    let b = std::mem::take(b);
                    self.pieces.pop_front();
                    return Some(Ok(b));
                }
                Piece::Region { offset, end } if *offset < *end => {
                    let want = usize::try_from((*end - *offset).min(CHUNK)).ok()?;
                    let at = *offset;
                    *offset += want as u64;
                    break (at, want);
                }
                Piece::Region { .. } => {
                    self.pieces.pop_front();
                }
            }
        };
        if let Some(sink) = &self.sink {
            sink.room().await;
            if in_page_cache(&self.file, offset, want) {
                return Some(Ok(sink.send(self.file.clone(), offset, want)));
            }
        }
        let file = self.file.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; want];
            file.read_exact_at(&mut buf, offset).map(|()| buf)
        })
        .await;
        Some(match read {
            Ok(Ok(buf)) => Ok(Bytes::from(buf)),
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
