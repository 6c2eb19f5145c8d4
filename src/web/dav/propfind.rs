//! Every PROPFIND (RFC 4918 §9.1) is answered here, at Depth 0 or 1 (infinity is
//! refused on folders before this, and is Depth 0 on a file): one directory read, one
//! `stat` per entry, one property query and one lock query per request, and the XML
//! written as text ([`multistatus`](super::multistatus)), streamed in batches so a
//! folder of any size costs bounded memory for its answer. This is the request sync
//! apps send most, on folders of thousands of photos. dav-server's own PROPFIND cost
//! tens of microseconds per entry, dropped the 404 propstat of unknown properties,
//! returned values for `propname` and wrote `getetag` without quotes; it is not used.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use dav_server::davpath::DavPath;
use dav_server::fs::{DavMetaData as _, FsError};
use xmltree::Element;

use super::error::DavError;
use super::library::{Library, fs_error, key, rel};
use super::locks::within;
use super::multistatus::{Wanted, Writer};
use crate::library::Entry;
use crate::store::{DavLockStore as _, DavPropStore as _, DeadProp, LockRecord, Store};

/// Entries written per chunk of the answer.
const BATCH: usize = 1000;

/// The (namespace, name) pairs of the elements below `e`.
fn names(e: &Element) -> Vec<(String, String)> {
    e.children
        .iter()
        .filter_map(|n| n.as_element())
        .map(|p| (p.namespace.clone().unwrap_or_default(), p.name.clone()))
        .collect()
}

/// Parses the request body (already through [`super::xml::check`]); `None` if it is
/// not a PROPFIND body.
fn wanted(body: &[u8]) -> Option<Wanted> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(Wanted::All(Vec::new()));
    }
    let root = Element::parse(Cursor::new(body)).ok()?;
    if root.name != "propfind" || root.namespace.as_deref() != Some("DAV:") {
        return None;
    }
    let in_dav = |e: &&Element| e.namespace.as_deref() == Some("DAV:");
    let children: Vec<&Element> = root.children.iter().filter_map(|n| n.as_element()).filter(in_dav).collect();
    let include = children.iter().find(|e| e.name == "include").map(|e| names(e)).unwrap_or_default();
    let asked = children.iter().find(|e| matches!(e.name.as_str(), "allprop" | "propname" | "prop"))?;
    Some(match asked.name.as_str() {
        "allprop" => Wanted::All(include),
        "propname" => Wanted::Names,
        _ => Wanted::Some(names(asked)),
    })
}

/// [`wanted`], remembered per thread for the last few bodies: a sync app sends the same
/// PROPFIND body with every request, and parsing XML costs more than a small listing.
fn wanted_cached(body: &[u8]) -> Option<Arc<Wanted>> {
    const BODIES: usize = 8;
    const MAX_BODY: usize = 4096;
    /// A body, and what it asks for (`None`: not a PROPFIND body).
    type Seen = (Vec<u8>, Option<Arc<Wanted>>);
    thread_local! {
        static SEEN: std::cell::RefCell<Vec<Seen>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if body.len() > MAX_BODY {
        return wanted(body).map(Arc::new);
    }
    SEEN.with_borrow_mut(|seen| {
        if let Some((_, known)) = seen.iter().find(|(b, _)| b == body) {
            return known.clone();
        }
        let parsed = wanted(body).map(Arc::new);
        if seen.len() == BODIES {
            seen.remove(0);
        }
        seen.push((body.to_vec(), parsed.clone()));
        parsed
    })
}

/// Answers a PROPFIND of the URL in `parts` at `depth` (0 or 1).
pub async fn answer(
    lib: &Arc<Library>,
    store: &Store,
    parts: &Parts,
    body: &[u8],
    depth: u8,
) -> Result<Response, DavError> {
    let wanted = wanted_cached(body).ok_or_else(|| DavError::bad_request("The body is not a DAV:propfind request"))?;
    let mut path = DavPath::new(parts.uri.path()).map_err(|_| DavError::bad_request("Invalid path"))?;
    path.set_prefix(lib.prefix()).map_err(|_| DavError::bad_request("Invalid path"))?;
    let root_key = key(&path);
    let listing = async {
        let p = rel(&path)?;
        if depth == 1 {
            // A folder and its entries in one look-up (one LIST on S3).
            if let Some(found) = lib.storage.list_folder(&p).await.map_err(|e| fs_error(&e))? {
                return Ok(found);
            }
        }
        let meta = lib.storage.stat(&p).await.map_err(|e| fs_error(&e))?;
        let entries = if depth == 1 && meta.is_dir {
            lib.storage.list(&p, false).await.map_err(|e| fs_error(&e))?
        } else {
            Vec::new()
        };
        Ok::<_, dav_server::fs::FsError>((meta, entries))
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let (listing, locks, props) =
        tokio::join!(listing, store.dav_locks(lib.name, now), store.dav_props(lib.name, &root_key, depth == 1));
    let (meta, entries) = listing.map_err(fs_refusal)?;
    let (locks, props) = (locks.map_err(store_failure)?, props.map_err(store_failure)?);
    // Only the locks on this resource, above it or below it matter to this answer.
    let touches = |l: &LockRecord| within(&root_key, &l.path) || within(&l.path, &root_key);
    let locks: Vec<LockRecord> = locks.into_iter().filter(touches).collect();
    let base = path.with_prefix().as_url_string().trim_end_matches('/').to_owned();
    let mut answer = Answer {
        keyed: !props.is_empty() || !locks.is_empty(),
        w: Writer::new(locks, lib.prefix(), now, entries.len().min(BATCH) + 1),
        props: by_path(props),
        entries: entries.into_iter(),
        wanted,
        root_key,
        base,
        done: false,
    };
    let own_href = if meta.is_dir() { format!("{}/", answer.base) } else { answer.base.clone() };
    let own_dead = answer.props.get(&answer.root_key).map_or(&[][..], Vec::as_slice);
    answer.w.response(&own_href, path.file_name_bytes(), &answer.root_key, &meta, own_dead, &answer.wanted);
    let first = answer.next_chunk().unwrap_or_default();
    let body = if answer.done {
        Body::from(first)
    } else {
        let rest = std::iter::from_fn(move || answer.next_chunk());
        let chunks = std::iter::once(first).chain(rest).map(Ok::<_, std::convert::Infallible>);
        Body::from_stream(futures_util::stream::iter(chunks))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// The rest of an answer after its first response: the folder's entries, written
/// [`BATCH`] at a time as the connection takes them.
struct Answer {
    w: Writer,
    entries: std::vec::IntoIter<Entry>,
    /// Dead properties by resource key.
    props: HashMap<String, Vec<DeadProp>>,
    wanted: Arc<Wanted>,
    root_key: String,
    /// The folder's URL without its trailing slash.
    base: String,
    /// Whether entries need their database key (for properties or locks).
    keyed: bool,
    done: bool,
}

impl Answer {
    fn next_chunk(&mut self) -> Option<String> {
        if self.done {
            return None;
        }
        let (mut href, mut k) = (String::new(), String::new());
        for e in self.entries.by_ref().take(BATCH) {
            href.clear();
            href.push_str(&self.base);
            href.push('/');
            let start = href.len();
            encode_into(&mut href, &e.name);
            k.clear();
            if self.keyed {
                k.push_str(self.root_key.trim_end_matches('/'));
                k.push('/');
                k.push_str(&href[start..]);
            }
            if e.meta.is_dir() {
                href.push('/');
            }
            let dead = self.props.get(&k).map_or(&[][..], Vec::as_slice);
            self.w.response(&href, &e.name, &k, &e.meta, dead, &self.wanted);
        }
        if self.entries.len() == 0 {
            self.w.close();
            self.done = true;
        }
        Some(self.w.take())
    }
}

/// Dead properties grouped by the resource they belong to.
fn by_path(props: Vec<DeadProp>) -> HashMap<String, Vec<DeadProp>> {
    let mut out: HashMap<String, Vec<DeadProp>> = HashMap::new();
    for p in props {
        out.entry(p.path.clone()).or_default().push(p);
    }
    out
}

fn fs_refusal(e: FsError) -> DavError {
    match e {
        FsError::NotFound => DavError::new(StatusCode::NOT_FOUND, "Not found"),
        FsError::Forbidden => DavError::forbidden("Not allowed here"),
        other => {
            tracing::error!(error = ?other, "PROPFIND cannot read the library");
            DavError::new(StatusCode::INTERNAL_SERVER_ERROR, "The library cannot be read")
        }
    }
}

fn store_failure(e: crate::store::StoreError) -> DavError {
    tracing::error!(error = %e, "PROPFIND cannot read WebDAV properties or locks");
    DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The property store cannot be read")
}

/// Percent-encodes one path segment as dav-server does, onto `out`.
fn encode_into(out: &mut String, segment: &[u8]) {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    out.extend(percent_encoding::percent_encode(segment, SET));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_propfind_body_is_understood_or_refused() {
        assert!(matches!(wanted(b""), Some(Wanted::All(ref i)) if i.is_empty()));
        assert!(matches!(wanted(br#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#), Some(Wanted::All(_))));
        assert!(matches!(wanted(br#"<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>"#), Some(Wanted::Names)));
        let some =
            wanted(br#"<propfind xmlns="DAV:"><prop><getetag/><x xmlns="urn:y"/><q xmlns=""/></prop></propfind>"#);
        assert!(matches!(some, Some(Wanted::Some(ref l)) if l.len() == 3 && l[2] == (String::new(), "q".to_owned())));
        let include =
            br#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:quota-used-bytes/></D:include></D:propfind>"#;
        assert!(matches!(wanted(include), Some(Wanted::All(ref i)) if i.len() == 1));
        for body in ["<not-xml", r#"<propfind xmlns="urn:other"><allprop/></propfind>"#, r#"<propfind xmlns="DAV:"/>"#]
        {
            assert!(wanted(body.as_bytes()).is_none(), "{body}");
        }
    }

    #[test]
    fn remembered_bodies_answer_as_parsed_ones() {
        let some = br#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#.as_slice();
        let refused = br#"<propfind xmlns="urn:x"/>"#.as_slice();
        for _ in 0..2 {
            assert!(matches!(wanted_cached(some).as_deref(), Some(Wanted::Some(l)) if l.len() == 1));
            assert!(wanted_cached(refused).is_none(), "a refusal is remembered as one");
            assert!(matches!(wanted_cached(b"").as_deref(), Some(Wanted::All(_))));
        }
        for i in 0..20 {
            let body =
                format!(r#"<propfind xmlns="DAV:"><prop><getetag/>{}</prop></propfind>"#, "<getetag/>".repeat(i));
            assert!(matches!(wanted_cached(body.as_bytes()).as_deref(), Some(Wanted::Some(l)) if l.len() == i + 1));
        }
    }

    #[test]
    fn segments_are_encoded_like_dav_server() {
        let mut out = String::from("x/");
        encode_into(&mut out, "a b#c%d?é".as_bytes());
        assert_eq!(out, "x/a%20b%23c%25d%3F%C3%A9");
    }
}
