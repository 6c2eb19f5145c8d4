//! Every PROPFIND (RFC 4918 §9.1) is answered here, at Depth 0 or 1 (infinity is
//! refused on folders before this, and is Depth 0 on a file): one directory read, one
//! `stat` per entry, one lock query per request, and the XML written as text
//! ([`multistatus`](super::multistatus)). The answer streams: responses are written as
//! the connection takes them and handed over every [`FLUSH`] bytes, and dead properties
//! are read [`BATCH`] entries at a time, only those asked for, only if the folder's
//! entries have any. What one request costs in memory is bounded by the caps of
//! [`props`](super::props) whatever the folder's size. This is the request sync apps
//! send most, on folders of thousands of photos. dav-server's own PROPFIND cost tens of
//! microseconds per entry, dropped the 404 propstat of unknown properties, returned
//! values for `propname` and wrote `getetag` without quotes; it is not used.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use dav_server::davpath::DavPath;
use dav_server::fs::{DavMetaData as _, FsError};
use xmltree::Element;

use super::access::{Seen, above_meta};
use super::error::DavError;
use super::library::{Library, fs_error, key, rel};
use super::locks::within;
use super::multistatus::{Wanted, Writer};
use super::props::{self, Cap, store_failure};
use crate::domain::access::Standing;
use crate::library::Entry;
use crate::service::Gatehouse;
use crate::store::{DavLockStore as _, DavPropStore as _, DeadProp, LockRecord, Store};

/// Entries whose dead properties are read in one query: with the caps of
/// [`props`](super::props), at most this many × 64 × 4 KiB held at once.
const BATCH: usize = 32;

/// Bytes of answer handed to the connection at a time.
const FLUSH: usize = 64 * 1024;

/// Why a body is not answered.
#[derive(Debug, Clone, Copy)]
enum Unwanted {
    NotPropfind,
    Cap(Cap),
}

/// The (namespace, name) pairs of the elements below `e`, within the caps (`tally`:
/// the names already taken from the body).
fn names(e: &Element, tally: &mut props::Tally) -> Result<Vec<(String, String)>, Unwanted> {
    let mut out = Vec::new();
    for p in e.children.iter().filter_map(|n| n.as_element()) {
        let ns = p.namespace.clone().unwrap_or_default();
        tally.add(&ns, &p.name).map_err(Unwanted::Cap)?;
        out.push((ns, p.name.clone()));
    }
    Ok(out)
}

/// Parses the request body (already through [`super::xml::check`]).
fn wanted(body: &[u8]) -> Result<Wanted, Unwanted> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Wanted::All(Vec::new()));
    }
    let root = Element::parse(Cursor::new(body)).map_err(|_| Unwanted::NotPropfind)?;
    if root.name != "propfind" || root.namespace.as_deref() != Some("DAV:") {
        return Err(Unwanted::NotPropfind);
    }
    let in_dav = |e: &&Element| e.namespace.as_deref() == Some("DAV:");
    let children: Vec<&Element> = root.children.iter().filter_map(|n| n.as_element()).filter(in_dav).collect();
    let mut count = props::Tally::default();
    let include = match children.iter().find(|e| e.name == "include") {
        Some(e) => names(e, &mut count)?,
        None => Vec::new(),
    };
    let asked = children
        .iter()
        .find(|e| matches!(e.name.as_str(), "allprop" | "propname" | "prop"))
        .ok_or(Unwanted::NotPropfind)?;
    Ok(match asked.name.as_str() {
        "allprop" => Wanted::All(include),
        "propname" => Wanted::Names,
        _ => Wanted::Some(names(asked, &mut count)?),
    })
}

/// [`wanted`], remembered per thread for the last few bodies: a sync app sends the same
/// PROPFIND body with every request, and parsing XML costs more than a small listing.
fn wanted_cached(body: &[u8]) -> Result<Arc<Wanted>, Unwanted> {
    const BODIES: usize = 8;
    const MAX_BODY: usize = 4096;
    /// A body, and what it asks for.
    type Seen = (Vec<u8>, Result<Arc<Wanted>, Unwanted>);
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
            drop(seen.remove(0));
        }
        seen.push((body.to_vec(), parsed.clone()));
        parsed
    })
}

/// What a PROPFIND body asks for, or why it is refused.
pub(super) fn asked(body: &[u8]) -> Result<Arc<Wanted>, DavError> {
    wanted_cached(body).map_err(|e| match e {
        Unwanted::NotPropfind => DavError::bad_request("The body is not a DAV:propfind request"),
        Unwanted::Cap(cap) => cap.refusal(),
    })
}

/// Answers a PROPFIND of the URL in `parts` at `depth` (0 or 1).
pub async fn answer(
    lib: &Arc<Library>,
    app: &Gatehouse,
    parts: &Parts,
    body: &[u8],
    depth: u8,
    seen: &Seen,
) -> Result<Response, DavError> {
    let wanted = asked(body)?;
    // Above the account's grants: no properties of others' making, no times.
    let above = seen.standing == Standing::Above;
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
    let (store, now) = (&app.store, app.clock.now_ms());
    let dead_names = wanted.dead_names();
    let wants_dead = !above && dead_names.as_ref().is_none_or(|n| !n.is_empty());
    let own_props = async { if wants_dead { store.dav_props(lib.name, &root_key).await } else { Ok(Vec::new()) } };
    let children_props =
        async { if wants_dead && depth == 1 { store.dav_props_in(lib.name, &root_key).await } else { Ok(false) } };
    let (listing, locks, own, children) =
        tokio::join!(listing, store.dav_locks(lib.name, now), own_props, children_props);
    let (mut meta, mut entries) = listing.map_err(fs_refusal)?;
    if above {
        meta = above_meta();
        let folder = rel(&path).map_err(fs_refusal)?;
        entries.retain_mut(|e| match seen.shows(lib.name, &folder, &e.name) {
            None => false,
            Some(Standing::Above) => {
                e.meta = above_meta();
                true
            }
            Some(_) => true,
        });
    }
    let (locks, own, children) =
        (locks.map_err(store_failure)?, own.map_err(store_failure)?, children.map_err(store_failure)?);
    // Only the locks on this resource, above it or below it matter to this answer.
    let touches = |l: &LockRecord| within(&root_key, &l.path) || within(&l.path, &root_key);
    let locks: Vec<LockRecord> = locks.into_iter().filter(touches).collect();
    let base = path.with_prefix().as_url_string().trim_end_matches('/').to_owned();
    let mut answer = Answer {
        keyed: children || !locks.is_empty(),
        w: Writer::new(locks, lib.prefix(), now, FLUSH + 4096),
        store: store.clone(),
        root: lib.name,
        dead_names,
        load_dead: children,
        values: !matches!(*wanted, Wanted::Names),
        batch: Vec::new(),
        props: HashMap::new(),
        entries: entries.into_iter(),
        wanted,
        root_key,
        base,
        done: false,
    };
    let own = only_wanted(own, answer.wanted.as_ref());
    let own_href = if meta.is_dir() { format!("{}/", answer.base) } else { answer.base.clone() };
    answer.w.response(&own_href, path.file_name_bytes(), &answer.root_key, &meta, &own, &answer.wanted);
    let chunks = futures_util::stream::unfold(answer, |mut a| async move {
        let chunk = a.next_chunk().await?;
        Some((chunk, a))
    });
    let mut resp = Response::new(Body::from_stream(chunks));
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// Of one resource's properties, those an answer to `wanted` may show (propname: with
/// their values dropped).
fn only_wanted(mut found: Vec<DeadProp>, wanted: &Wanted) -> Vec<DeadProp> {
    match wanted {
        Wanted::All(_) => {}
        Wanted::Names => found.iter_mut().for_each(|p| p.xml.clear()),
        Wanted::Some(list) => found.retain(|p| list.iter().any(|(ns, name)| *ns == p.namespace && *name == p.name)),
    }
    found
}

/// One entry of the folder, ready to write.
struct Pending {
    href: String,
    key: String,
    entry: Entry,
}

/// The rest of an answer after its first response: the folder's entries, written as
/// the connection takes them.
struct Answer {
    w: Writer,
    store: Store,
    root: &'static str,
    entries: std::vec::IntoIter<Entry>,
    /// Whether the entries have dead properties to read; which names (`None`: all).
    load_dead: bool,
    dead_names: Option<Vec<String>>,
    /// Whether their values are wanted (not for propname).
    values: bool,
    /// The entries of this batch still to write, last first, and their properties.
    batch: Vec<Pending>,
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
    /// The next piece of the answer: at least [`FLUSH`] bytes unless it is the last.
    /// A database failure midway ends the body with an error, so that the client sees
    /// a cut answer rather than a complete one without the properties.
    async fn next_chunk(&mut self) -> Option<Result<String, std::io::Error>> {
        if self.done {
            return None;
        }
        loop {
            if self.batch.is_empty() {
                if self.entries.len() == 0 {
                    self.w.close();
                    self.done = true;
                    return Some(Ok(self.w.take()));
                }
                if let Err(e) = self.next_batch().await {
                    tracing::error!(error = %e, "PROPFIND cannot read WebDAV properties");
                    self.done = true;
                    return Some(Err(std::io::Error::other("the property store cannot be read")));
                }
            }
            let Some(p) = self.batch.pop() else { continue };
            let dead = self.props.get(&p.key).map_or(&[][..], Vec::as_slice);
            self.w.response(&p.href, &p.entry.name, &p.key, &p.entry.meta, dead, &self.wanted);
            if self.w.len() >= FLUSH {
                return Some(Ok(self.w.take()));
            }
        }
    }

    /// Takes the next [`BATCH`] entries and reads their asked-for dead properties.
    async fn next_batch(&mut self) -> Result<(), crate::store::StoreError> {
        self.props.clear();
        for e in self.entries.by_ref().take(BATCH) {
            let mut href = String::with_capacity(self.base.len() + e.name.len() + 2);
            href.push_str(&self.base);
            href.push('/');
            let start = href.len();
            encode_into(&mut href, &e.name);
            let mut k = String::new();
            if self.keyed {
                k.push_str(self.root_key.trim_end_matches('/'));
                k.push('/');
                k.push_str(&href[start..]);
            }
            if e.meta.is_dir() {
                href.push('/');
            }
            self.batch.push(Pending { href, key: k, entry: e });
        }
        self.batch.reverse();
        if self.load_dead {
            let keys: Vec<String> = self.batch.iter().map(|p| p.key.clone()).collect();
            let found = self.store.dav_props_of(self.root, &keys, self.dead_names.as_deref(), self.values).await?;
            for p in only_wanted(found, &self.wanted) {
                self.props.entry(p.path.clone()).or_default().push(p);
            }
        }
        Ok(())
    }
}

fn fs_refusal(e: FsError) -> DavError {
    match e {
        FsError::NotFound => DavError::new(StatusCode::NOT_FOUND, "Not found"),
        FsError::Forbidden => DavError::forbidden("Not allowed here"),
        // A name longer than the file system allows (255 bytes): the client's mistake,
        // answered as dav-server answers it for the other methods.
        FsError::PathTooLong => DavError::new(StatusCode::URI_TOO_LONG, "A name in the path is too long"),
        other => {
            tracing::error!(error = ?other, "PROPFIND cannot read the library");
            DavError::new(StatusCode::INTERNAL_SERVER_ERROR, "The library cannot be read")
        }
    }
}

/// Percent-encodes one path segment as dav-server does, onto `out`.
pub(super) fn encode_into(out: &mut String, segment: &[u8]) {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    out.extend(percent_encoding::percent_encode(segment, SET));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn wanted_ok(body: &[u8]) -> Option<Wanted> {
        wanted(body).ok()
    }

    #[test]
    fn every_propfind_body_is_understood_or_refused() {
        assert!(matches!(wanted(b"").ok(), Some(Wanted::All(ref i)) if i.is_empty()));
        assert!(matches!(wanted_ok(br#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#), Some(Wanted::All(_))));
        assert!(matches!(wanted_ok(br#"<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>"#), Some(Wanted::Names)));
        let some =
            wanted_ok(br#"<propfind xmlns="DAV:"><prop><getetag/><x xmlns="urn:y"/><q xmlns=""/></prop></propfind>"#);
        assert!(matches!(some, Some(Wanted::Some(ref l)) if l.len() == 3 && l[2] == (String::new(), "q".to_owned())));
        let include =
            br#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:quota-used-bytes/></D:include></D:propfind>"#;
        assert!(matches!(wanted_ok(include), Some(Wanted::All(ref i)) if i.len() == 1));
        for body in ["<not-xml", r#"<propfind xmlns="urn:other"><allprop/></propfind>"#, r#"<propfind xmlns="DAV:"/>"#]
        {
            assert!(matches!(wanted(body.as_bytes()), Err(Unwanted::NotPropfind)), "{body}");
        }
    }

    #[test]
    fn remembered_bodies_answer_as_parsed_ones() {
        let some = br#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#.as_slice();
        let refused = br#"<propfind xmlns="urn:x"/>"#.as_slice();
        for _ in 0..2 {
            assert!(matches!(wanted_cached(some).ok().as_deref(), Some(Wanted::Some(l)) if l.len() == 1));
            assert!(wanted_cached(refused).is_err(), "a refusal is remembered as one");
            assert!(matches!(wanted_cached(b"").ok().as_deref(), Some(Wanted::All(_))));
        }
        for i in 0..20 {
            let body =
                format!(r#"<propfind xmlns="DAV:"><prop><getetag/>{}</prop></propfind>"#, "<getetag/>".repeat(i));
            assert!(
                matches!(wanted_cached(body.as_bytes()).ok().as_deref(), Some(Wanted::Some(l)) if l.len() == i + 1)
            );
        }
    }

    #[test]
    fn segments_are_encoded_like_dav_server() {
        let mut out = String::from("x/");
        encode_into(&mut out, "a b#c%d?é".as_bytes());
        assert_eq!(out, "x/a%20b%23c%25d%3F%C3%A9");
    }
}
