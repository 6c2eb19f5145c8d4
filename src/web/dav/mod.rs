//! WebDAV sync (docs/design.md, "WebDAV sync"): `/originals/` and `/import/` served from their
//! folders for sync apps, through the one authentication decision point ([`DavUser`]).
//! dav-server speaks the protocol; this module supplies what it lacks for a shared,
//! safe library: a file system confined to the folder with atomic uploads
//! ([`fs`], [`file`]), dead properties and locks in the database ([`props`], [`locks`]),
//! request checks ([`guard`]), one gate for XML bodies ([`xml`]), and RFC 4918 error
//! bodies ([`error`]).

mod access;
mod allow;
mod conditional;
pub mod error;
mod file;
mod fs;
mod get;
mod guard;
mod library;
mod locks;
mod multistatus;
mod names;
mod preconditions;
mod propfind;
mod props;
pub mod root;
mod serving;
mod times;
mod xml;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dav_server::DavHandler;
use dav_server::davpath::DavPath;

use self::error::DavError;
use self::fs::LibraryFs;
use self::guard::Depth;
pub use self::library::Library;
use self::locks::DbLocks;
use super::auth::DavUser;
use crate::domain::access::Level;
use crate::domain::user::User;
use crate::library::{Bucket, Location, Storage};
use crate::service::Gatehouse;

/// How much of a file one read hands to the network.
const READ_CHUNK: usize = 256 * 1024;

/// The WebDAV folders, by URL prefix. Served ahead of the router ([`super::serve`]):
/// every request under them is a WebDAV request, and sync apps send many.
#[derive(Debug, Clone)]
pub struct Folders(Arc<[Folder]>);

/// A folder's name in URLs, and its library (`None` if it could not be opened).
type Folder = (&'static str, Option<Arc<Library>>);

impl Folders {
    /// Opens the library folders, creating them when missing. A folder that cannot be
    /// opened is logged and answered with 503.
    pub fn open(app: &Gatehouse) -> Folders {
        let open = |name: &'static str, location: &Location| {
            let storage = match location {
                Location::Folder(folder) => {
                    crate::library::Folder::open_keeping_free(folder, app.settings.min_free_space).map(Storage::Folder)
                }
                Location::Bucket(url) => match &app.settings.s3 {
                    Some(config) => Bucket::open(config.clone(), url.clone(), app.store.clone()).map(Storage::Bucket),
                    None => Err(std::io::Error::other("no S3 endpoint is configured")),
                },
            };
            match storage {
                Ok(storage) => (name, Some(Arc::new(Library::new(name, storage)))),
                Err(e) => {
                    tracing::error!(%location, error = %e, "cannot open the {name} library for WebDAV");
                    (name, None)
                }
            }
        };
        Folders(Arc::new([open("originals", &app.settings.originals_path), open("import", &app.settings.import_path)]))
    }

    fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.0.iter().filter_map(|(_, lib)| match lib.as_ref().map(|l| &l.storage) {
            Some(Storage::Bucket(b)) => Some(b),
            _ => None,
        })
    }

    /// Checks that every library in a bucket can be listed and written (at start).
    pub async fn check(&self) -> Result<(), String> {
        for (name, lib) in self.0.iter() {
            if lib.is_none() {
                return Err(format!("the {name} library cannot be opened"));
            }
        }
        for bucket in self.buckets() {
            bucket.check().await?;
        }
        Ok(())
    }

    /// Aborts multipart uploads (S3) and removes hidden temporary uploads (folders)
    /// that nothing has touched since `before_ms`: left by an instance that crashed or
    /// was killed mid-upload.
    pub async fn abort_abandoned_uploads(&self, before_ms: i64) -> usize {
        let mut n = 0;
        let before = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(before_ms).unwrap_or(0));
        for (_, lib) in self.0.iter() {
            if let Some(folder) = lib.as_ref().and_then(|l| l.storage.as_folder()).cloned() {
                n += crate::library::blocking(move || Ok(folder.remove_abandoned_uploads(before))).await.unwrap_or(0);
            }
        }
        for bucket in self.buckets() {
            match bucket.abort_abandoned(before_ms).await {
                Ok(k) => n += k,
                Err(e) => tracing::warn!(bucket = %bucket.url(), error = %e, "cannot abort abandoned uploads"),
            }
        }
        n
    }

    /// The folder a URL path lies in (`/originals`, `/originals/…`), if any; `Some(None)`
    /// for a folder that could not be opened.
    pub fn find(&self, path: &str) -> Option<Option<Arc<Library>>> {
        let rest = path.strip_prefix('/')?;
        self.0.iter().find_map(|(name, lib)| {
            let tail = rest.strip_prefix(name)?;
            (tail.is_empty() || tail.starts_with('/')).then(|| lib.clone())
        })
    }
}

/// Answers one WebDAV request for the library `lib`. The body stays as it came until a
/// part of the server needs to read it (a plain GET never does).
pub async fn serve<B>(app: &Gatehouse, lib: Option<Arc<Library>>, req: axum::http::Request<B>) -> Response
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    match answer(app, lib, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn answer<B>(
    app: &Gatehouse,
    lib: Option<Arc<Library>>,
    req: axum::http::Request<B>,
) -> Result<Response, DavError>
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let (checked, req) = prepare(app, lib, req).await?;
    let lib = checked.lib.clone();
    let may_write = checked.may_write;
    let mtime_asked = checked.mtime.is_some();
    let (mut parts, body) = req.into_parts();
    let mut file_get = None;
    if matches!(parts.method, Method::GET | Method::HEAD) {
        if let Some(resp) = get::answer(&lib, &parts).await {
            return Ok(resp);
        }
        get::for_dav_server(&mut parts);
        file_get = Some(parts.uri.path().to_owned());
    }
    let body = if carries_stream(&parts.method) {
        match announced_len(&parts, checked.partial) {
            Some(limit) => past_limit(axum::body::Body::new(body), limit, checked.overflow.clone()),
            None => axum::body::Body::new(body),
        }
    } else {
        let body = read_xml(body, &parts.method).await?;
        if parts.method.as_str() == "LOCK" {
            // Where a lock may be taken, once its body is known to be one.
            locks::may_lock_at(&checked.user, &dav_key(parts.uri.path(), lib.prefix())?)?;
        }
        if parts.method.as_str() == "PROPFIND" {
            let depth = match checked.depth {
                Some(Depth::Zero) => 0,
                Some(Depth::One) => 1,
                Some(Depth::Infinity) | None => finite_depth(&lib, &parts).await?,
            };
            return propfind::answer(&lib, app, &parts, &body, depth, &checked.seen).await;
        }
        if parts.method.as_str() == "PROPPATCH" {
            props::check_patch(&body)?;
        }
        if parts.method.as_str() == "PROPPATCH"
            && let Some(answer) = times::answer(&checked, app, &parts, &body).await
        {
            return answer;
        }
        axum::body::Body::from(body)
    };
    let req = Request::from_parts(parts, body);
    let (req_method, url_path) = (req.method().clone(), req.uri().path().to_owned());
    let (handler, refusal) = checked.handler(app);
    let removes = matches!(req_method.as_str(), "DELETE" | "MOVE");
    let mut resp = handler.handle(req).await.map(axum::body::Body::new);
    if let Some(refused) = refusal.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
        return Err(refused);
    }
    if resp.status() == StatusCode::NOT_IMPLEMENTED && allow::never_allowed(&req_method) {
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    }
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED || req_method == Method::OPTIONS {
        allow::set(&lib, &url_path, may_write, resp.headers_mut()).await;
    }
    if let Some(path) = file_get {
        let status = resp.status();
        get::finish(&path, resp.headers_mut(), status);
    }
    if removes && resp.status().is_success() {
        // A home may have gone with it: made again when next needed.
        lib.made.forget();
    }
    if mtime_asked && resp.status().is_success() {
        resp.headers_mut().insert("x-oc-mtime", HeaderValue::from_static("accepted"));
    }
    Ok(resp)
}

/// The length a PUT or PATCH without `Content-Length` (which HTTP itself holds a body
/// to) announces for its body: macOS Finder's `X-Expected-Entity-Length`, or its
/// `Content-Range`.
fn announced_len(parts: &axum::http::request::Parts, partial: Option<guard::Partial>) -> Option<u64> {
    if !matches!(parts.method.as_str(), "PUT" | "PATCH") || parts.headers.contains_key(header::CONTENT_LENGTH) {
        return None;
    }
    let expected = parts.headers.get("x-expected-entity-length").and_then(|v| v.to_str().ok()?.trim().parse().ok());
    expected.or(partial.and_then(|p| p.len))
}

/// `body`, raising `overflow` as soon as more than `limit` bytes have come: dav-server
/// then stops and answers 400, and the upload, told by the flag, is not committed.
fn past_limit(body: axum::body::Body, limit: u64, overflow: Arc<AtomicBool>) -> axum::body::Body {
    use futures_util::StreamExt as _;
    let mut seen = 0u64;
    axum::body::Body::from_stream(body.into_data_stream().map(move |chunk| {
        if let Ok(data) = &chunk {
            seen = seen.saturating_add(data.len() as u64);
            if seen > limit {
                overflow.store(true, Ordering::Release);
            }
        }
        chunk
    }))
}

/// Methods whose body is a file, streamed through; every other body is XML (or empty).
fn carries_stream(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::PUT | Method::PATCH)
}

/// Reads an XML body and passes it through the one XML gate ([`xml::check`]).
async fn read_xml<B>(body: B, method: &Method) -> Result<bytes::Bytes, DavError>
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let too_large = || DavError::new(StatusCode::PAYLOAD_TOO_LARGE, xml::Refusal::TooLarge.message());
    let body = axum::body::to_bytes(axum::body::Body::new(body), xml::MAX_BODY).await.map_err(|_| too_large())?;
    // Methods without a body answer 415 for one (dav-server); only XML bodies are parsed.
    if matches!(method.as_str(), "PROPFIND" | "PROPPATCH" | "LOCK" | "REPORT" | "MKCALENDAR" | "MKADDRESSBOOK") {
        xml::check(&body).map_err(xml::Refusal::answer)?;
    }
    Ok(body)
}

/// PROPFIND without a Depth, or with `infinity` (RFC 4918 §9.1): on a file the same as
/// Depth 0; on a folder answered as Depth 1, as Nextcloud's server does (a client that
/// asks whether a path is a folder this way can then sync), bounded and streamed like
/// any listing — never the whole tree.
async fn finite_depth(lib: &Arc<Library>, parts: &axum::http::request::Parts) -> Result<u8, DavError> {
    let path = dav_path(parts.uri.path(), lib.prefix())?;
    let is_dir = match library::rel(&path) {
        Ok(p) => lib.storage.stat(&p).await.is_ok_and(|m| m.is_dir),
        Err(_) => false,
    };
    Ok(u8::from(is_dir))
}

/// A request that passed authentication and the checks.
struct Checked {
    user: Arc<User>,
    lib: Arc<Library>,
    depth: Option<Depth>,
    mtime: Option<std::time::SystemTime>,
    copy: Option<(String, String)>,
    partial: Option<guard::Partial>,
    /// Raised when a body brings more than it announced ([`past_limit`]).
    overflow: Arc<AtomicBool>,
    /// Whether this credential may change the library here.
    may_write: bool,
    /// The lock tokens the request submits.
    tokens: Vec<String>,
    /// What the account may see and do here.
    seen: access::Seen,
}

impl Checked {
    /// dav-server's handler for it (built only when the fast paths pass), and where its
    /// lock system leaves a refusal dav-server could only answer with 423.
    fn handler(self, app: &Gatehouse) -> (DavHandler, locks::Refusal) {
        let prefix = self.lib.prefix().to_owned();
        let fs = LibraryFs::new(
            self.lib.clone(),
            app.store.clone(),
            self.user.uid.clone(),
            self.mtime,
            self.copy,
            self.partial,
            self.overflow,
        );
        let locks = DbLocks::new(app, self.lib.name, prefix.clone(), self.user.clone());
        let refusal = locks.refusal();
        let handler = DavHandler::builder()
            .filesystem(Box::new(fs))
            .locksystem(Box::new(locks))
            .strip_prefix(prefix)
            .principal(self.user.uid.clone())
            .read_buf_size(READ_CHUNK)
            .autoindex(false)
            .hide_symlinks(false)
            .build_handler();
        (handler, refusal)
    }
}

/// Authenticates and checks the request: everything that can refuse it is decided here,
/// before anything on disk or in the database changes.
async fn prepare<B>(
    app: &Gatehouse,
    lib: Option<Arc<Library>>,
    req: axum::http::Request<B>,
) -> Result<(Checked, axum::http::Request<B>), DavError> {
    let (mut parts, body) = req.into_parts();
    let user = DavUser::resolve(&parts, app).await?;
    let lib =
        lib.ok_or_else(|| DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The library folder is not available"))?;
    names::to_nfc(&lib, &mut parts).await;
    if guard::is_write(&parts.method) {
        if app.settings.read_only {
            return Err(DavError::forbidden("The library is read-only on this server"));
        }
        if user.read_only {
            return Err(DavError::forbidden("This credential may only read"));
        }
    }
    guard::check_path(parts.uri.path())?;
    let depth = guard::depth(&parts.method, &parts.headers)?;
    guard::overwrite(&parts.headers)?;
    let prefix = lib.prefix();
    // Destination means something to COPY and MOVE only (RFC 4918 §10.3).
    let moves = matches!(parts.method.as_str(), "COPY" | "MOVE");
    let destination = if moves { guard::destination(&parts, prefix)? } else { None };
    // Where the account may act, before anything looks at what exists there.
    let seen = decide(app, &lib, &user, &parts, destination.as_deref()).await?;
    let may_write = !(app.settings.read_only || user.read_only) && seen.standing.may_write();
    let mtime = if parts.method == Method::PUT { guard::oc_mtime(&parts.headers)? } else { None };
    let mut copy = None;
    if guard::is_write(&parts.method) {
        let from = dav_key(parts.uri.path(), prefix)?;
        let to = destination.as_deref().map(|d| dav_key(d, prefix)).transpose()?;
        guard::protect(&parts.method, &from, to.as_deref())?;
        if parts.method.as_str() == "COPY" {
            copy = to.map(|to| (from, to));
        }
    }
    let partial = guard::partial_write(&parts.method, &parts.headers)?;
    if let Some(part) = partial {
        part_fits(&lib, &parts, part).await?;
    }
    if matches!(parts.method.as_str(), "PUT" | "PATCH" | "MKCOL" | "COPY") {
        lib.storage.room_for(0).await.map_err(|_| no_room())?;
    }
    let if_lists = guard::if_lists(&parts.headers)?;
    let tokens = guard::submitted_tokens(&parts.method, &parts.headers, &if_lists)?;
    let unlock = parts.method.as_str() == "UNLOCK";
    locks::check_ownership(app, lib.name, &user.user, unlock, &tokens).await?;
    preconditions::check_if(app, &lib, &seen.reach, parts.uri.path(), &if_lists).await?;
    if let Some((from, to)) = &copy {
        props::check_copy(&app.store, lib.name, &user.user.uid, from, to).await?;
    }
    let overflow = Arc::default();
    let checked = Checked { user: user.user, lib, depth, mtime, copy, partial, overflow, may_write, tokens, seen };
    Ok((checked, axum::http::Request::from_parts(parts, body)))
}

/// Decides where the account may act ([`access::check`]), making its granted folders
/// on the way first (homes are created when first needed).
async fn decide(
    app: &Gatehouse,
    lib: &Library,
    user: &DavUser,
    parts: &axum::http::request::Parts,
    destination: Option<&str>,
) -> Result<access::Seen, DavError> {
    let mut reach = app.reach(&user.user, user.limit.as_ref()).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the account's folder grants");
        DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The account's folders cannot be read now; try again")
    })?;
    if user.read_only {
        let read = crate::domain::access::Grant::new(crate::domain::access::FolderPath::root(), Level::Read);
        reach = Arc::new(reach.narrowed(&read));
    }
    // A path the library cannot hold (a hidden upload's name) names nothing anyone can
    // act on: every storage call refuses it the same way, whatever exists.
    let rel_of = |url: &str| dav_path(url, lib.prefix()).ok().and_then(|p| library::rel(&p).ok());
    let Some(target) = rel_of(parts.uri.path()) else {
        return Ok(access::Seen { standing: reach.standing_of(lib.name, b""), reach });
    };
    let to = destination.and_then(rel_of);
    if parts.method != Method::OPTIONS {
        lib.made.ensure(lib, &reach, &target).await;
    }
    let standing = access::check(lib, &reach, &parts.method, &target, to.as_ref()).await?;
    Ok(access::Seen { reach, standing })
}

/// The answer when the library's disk keeps its margin (`--min-free-space`).
fn no_room() -> DavError {
    DavError::new(StatusCode::INSUFFICIENT_STORAGE, "The library's disk is too full to take more")
}

/// Refuses a partial update that cannot be applied as asked, before anything is
/// written: on S3, which cannot change part of an object (501); on a folder, one that
/// would start past the end of the file (416, [`guard::Partial::fits`]).
async fn part_fits(lib: &Library, parts: &axum::http::request::Parts, part: guard::Partial) -> Result<(), DavError> {
    if lib.storage.as_folder().is_none() {
        return Err(DavError::new(
            StatusCode::NOT_IMPLEMENTED,
            "Files in an S3 library cannot be changed in part; upload the whole file",
        ));
    }
    let Ok(path) = dav_path(parts.uri.path(), lib.prefix()).and_then(|p| library::rel(&p).map_err(|_| bad_path()))
    else {
        return Ok(());
    };
    match lib.storage.stat(&path).await {
        Ok(m) if !m.is_dir => part.fits(m.len),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => part.fits(0),
        // Folders and errors are answered by the write itself, which never seeks past the end.
        _ => Ok(()),
    }
}

fn bad_path() -> DavError {
    DavError::bad_request("Invalid path")
}

fn dav_path(url_path: &str, prefix: &str) -> Result<DavPath, DavError> {
    let mut path = DavPath::new(url_path).map_err(|_| DavError::bad_request("Invalid path"))?;
    path.set_prefix(prefix).map_err(|_| DavError::bad_request("Invalid path"))?;
    Ok(path)
}

/// The database key of a URL path inside the library at `prefix`.
fn dav_key(url_path: &str, prefix: &str) -> Result<String, DavError> {
    Ok(library::key(&dav_path(url_path, prefix)?))
}
