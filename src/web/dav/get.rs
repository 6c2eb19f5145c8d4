//! Plain GET and HEAD of a file written directly: one trip to the disk thread for a
//! small file (resolve, open, `stat`, read), and large files streamed in 1 MiB chunks,
//! so memory stays flat whatever the size. Conditional and range requests are left to
//! dav-server, which implements them (RFC 9110 §13, §14).

use std::io::Read as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use dav_server::davpath::DavPath;
use dav_server::fs::DavMetaData as _;

use super::file::{Meta, blocking};
use super::library::{Library, fs_error};

/// Files up to this size are read in the same trip as the open.
const SMALL_FILE: u64 = 256 * 1024;
/// Chunk size for streaming larger files.
const CHUNK: u64 = 1024 * 1024;

/// Headers that make a GET conditional or partial: dav-server handles those.
const LEAVE_TO_DAV_SERVER: [&str; 7] =
    ["range", "if", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range"];

/// Answers a plain GET or HEAD of a file, or `None` to let dav-server do it.
pub async fn answer(lib: &Arc<Library>, parts: &Parts) -> Option<Response> {
    let head = parts.method == Method::HEAD;
    if !(head || parts.method == Method::GET) || LEAVE_TO_DAV_SERVER.iter().any(|h| parts.headers.contains_key(*h)) {
        return None;
    }
    let mut path = DavPath::new(parts.uri.path()).ok()?;
    path.set_prefix(&lib.prefix()).ok()?;
    let lib2 = lib.clone();
    let path2 = path.clone();
    let (meta, file, data) = blocking(move || {
        let real = lib2.resolve(&path2)?;
        let mut file = std::fs::File::open(real).map_err(|e| fs_error(&e))?;
        let meta = Meta::new(&file.metadata().map_err(|e| fs_error(&e))?);
        if meta.is_dir() || head || meta.len() > SMALL_FILE {
            return Ok((meta, Some(file), None));
        }
        let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut data).map_err(|e| fs_error(&e))?;
        Ok((meta, None, Some(data)))
    })
    .await
    .ok()?;
    if meta.is_dir() {
        return None;
    }
    let len = data.as_ref().map_or(meta.len(), |d| d.len() as u64);
    let body = match (head, data, file) {
        (true, _, _) => Body::empty(),
        (false, Some(data), _) => Body::from(data),
        (false, None, Some(file)) => stream(file),
        (false, None, None) => return None,
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let mime = mime_guess::from_path(path.as_pathbuf()).first_raw().unwrap_or("application/octet-stream");
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Some(tag) = meta.etag().and_then(|t| HeaderValue::from_str(&format!("\"{t}\"")).ok()) {
        h.insert(header::ETAG, tag);
    }
    if let Some(date) = meta.modified().ok().and_then(super::propfind::httpdate) {
        if let Ok(v) = HeaderValue::from_str(&date) {
            h.insert(header::LAST_MODIFIED, v);
        }
    }
    Some(resp)
}

/// The rest of `file`, chunk by chunk, each read on the disk thread.
fn stream(file: std::fs::File) -> Body {
    let chunks = futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let read = blocking(move || {
            let mut buf = Vec::with_capacity(CHUNK as usize);
            let result = (&mut file).take(CHUNK).read_to_end(&mut buf).map(|_| buf);
            Ok((file, result))
        })
        .await;
        match read {
            Ok((file, Ok(buf))) if !buf.is_empty() => Some((Ok(Bytes::from(buf)), Some(file))),
            Ok((_, Ok(_))) => None,
            Ok((_, Err(e))) => Some((Err(e), None)),
            Err(_) => Some((Err(std::io::Error::other("read failed")), None)),
        }
    });
    Body::from_stream(chunks)
}
