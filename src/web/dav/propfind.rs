//! PROPFIND Depth 0 and 1 written directly: one directory read, one `stat` per entry,
//! one property query and one lock query per request, and the XML built as text. This
//! is the request sync apps send most, on folders of thousands of photos; dav-server's
//! general path costs tens of microseconds per entry (and drops the 404 propstat of
//! unknown properties). Answered here: `allprop`, `propname` and named properties —
//! unknown ones under 404 —, with lockdiscovery. Left to dav-server: `include`, quota
//! and vendor properties it computes, and folders of more than [`MAX_ENTRIES`].

use std::fmt::Write as _;
use std::io::Cursor;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use dav_server::davpath::DavPath;
use dav_server::fs::DavMetaData as _;
use xmltree::Element;

use super::file::{Meta, blocking, push_number};
use super::fs::list;
use super::library::{Library, key};
use super::locks::within;
use crate::store::{DavLockStore as _, DavPropStore as _, DeadProp, LockRecord, Store};

/// Folders larger than this go to dav-server, which streams its answer.
const MAX_ENTRIES: usize = 20_000;

/// Live properties answered here (namespace `DAV:`).
const LIVE: [&str; 10] = [
    "creationdate",
    "displayname",
    "getcontentlanguage",
    "getcontentlength",
    "getcontenttype",
    "getetag",
    "getlastmodified",
    "lockdiscovery",
    "resourcetype",
    "supportedlock",
];

/// Namespaces whose properties dav-server computes itself.
const LIVE_ELSEWHERE: [&str; 4] = [
    "urn:schemas-microsoft-com:",
    "http://apache.org/dav/props/",
    "urn:ietf:params:xml:ns:caldav",
    "urn:ietf:params:xml:ns:carddav",
];

const SUPPORTED_LOCK: &str = "<D:supportedlock><D:lockentry><D:lockscope><D:exclusive/></D:lockscope>\
    <D:locktype><D:write/></D:locktype></D:lockentry><D:lockentry><D:lockscope><D:shared/></D:lockscope>\
    <D:locktype><D:write/></D:locktype></D:lockentry></D:supportedlock>";

/// What the client asked for.
enum Wanted {
    All,
    /// `propname`: the names of the properties, without values.
    Names,
    /// (namespace, name) pairs.
    Some(Vec<(String, String)>),
}

/// `DAV:` properties dav-server computes (RFC 4331 quotas); other unknown `DAV:`
/// names are answered here, as 404.
const DAV_ELSEWHERE: [&str; 2] = ["quota-available-bytes", "quota-used-bytes"];

/// Parses the request body; `None` sends the request to dav-server.
fn wanted(body: &[u8]) -> Option<Wanted> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(Wanted::All);
    }
    let root = Element::parse(Cursor::new(body)).ok()?;
    if root.name != "propfind" || root.namespace.as_deref() != Some("DAV:") {
        return None;
    }
    let mut children = root.children.iter().filter_map(|n| n.as_element());
    let first = children.next()?;
    if children.next().is_some() || first.namespace.as_deref() != Some("DAV:") {
        return None;
    }
    match first.name.as_str() {
        "allprop" if first.children.iter().all(|n| n.as_element().is_none()) => Some(Wanted::All),
        "propname" if first.children.iter().all(|n| n.as_element().is_none()) => Some(Wanted::Names),
        "prop" => {
            let mut list = Vec::new();
            for p in first.children.iter().filter_map(|n| n.as_element()) {
                let ns = p.namespace.clone().unwrap_or_default();
                if (ns == "DAV:" && DAV_ELSEWHERE.contains(&p.name.as_str())) || LIVE_ELSEWHERE.contains(&ns.as_str()) {
                    return None;
                }
                list.push((ns, p.name.clone()));
            }
            Some(Wanted::Some(list))
        }
        _ => None,
    }
}

/// [`wanted`], remembered per thread for the last few bodies: a sync app sends the same
/// PROPFIND body with every request, and parsing XML costs more than a small listing.
fn wanted_cached(body: &[u8]) -> Option<Arc<Wanted>> {
    const BODIES: usize = 8;
    const MAX_BODY: usize = 4096;
    /// A body, and what it asks for (`None`: dav-server's).
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

/// Answers a PROPFIND, or `None` to let dav-server do it.
pub async fn answer(lib: &Arc<Library>, store: &Store, parts: &Parts, body: &[u8]) -> Option<Response> {
    let depth = match parts.headers.get("depth").map(HeaderValue::as_bytes) {
        Some(b"0") => 0,
        Some(b"1") => 1,
        _ => return None,
    };
    let wanted = wanted_cached(body)?;
    let mut path = DavPath::new(parts.uri.path()).ok()?;
    path.set_prefix(lib.prefix()).ok()?;
    let root_key = key(&path);
    let (lib2, path2) = (lib.clone(), path.clone());
    let listing = blocking(move || {
        let real = lib2.resolve(&path2)?;
        let meta = std::fs::metadata(&real).map_err(|e| super::library::fs_error(&e))?;
        let entries = if depth == 1 && meta.is_dir() { list(&lib2, &real, false)? } else { Vec::new() };
        Ok((Meta::new(&meta), entries))
    });
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    let (listing, locks, props) =
        tokio::join!(listing, store.dav_locks(lib.name, now), store.dav_props(lib.name, &root_key, depth == 1));
    let (meta, entries) = listing.ok()?;
    if entries.len() > MAX_ENTRIES {
        return None;
    }
    // Only the locks on this resource, above it or below it matter to this answer.
    let touches = |l: &&LockRecord| within(&root_key, &l.path) || within(&l.path, &root_key);
    let locks: Vec<LockRecord> = locks.ok()?.iter().filter(touches).cloned().collect();
    let props = props.ok()?;
    let base = path.with_prefix().as_url_string();
    let base = base.trim_end_matches('/');
    let mut out = String::with_capacity(256 + 700 * (entries.len() + 1));
    out.push_str(r#"<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">"#);
    let mut w = Writer { out, dates: DateCache::default(), locks: &locks, prefix: lib.prefix(), now };
    let own_href = if meta.is_dir() { format!("{base}/") } else { base.to_owned() };
    let own_name = path.file_name_bytes().to_vec();
    w.response(&own_href, &own_name, &root_key, &meta, dead_of(&props, &root_key), &wanted);
    let mut href = String::new();
    let mut k = String::new();
    for e in &entries {
        href.clear();
        href.push_str(base);
        href.push('/');
        let start = href.len();
        encode_into(&mut href, &e.name);
        k.clear();
        if !props.is_empty() || !locks.is_empty() {
            k.push_str(root_key.trim_end_matches('/'));
            k.push('/');
            k.push_str(&href[start..]);
        }
        if e.meta.is_dir() {
            href.push('/');
        }
        w.response(&href, &e.name, &k, &e.meta, dead_of(&props, &k), &wanted);
    }
    let mut out = w.out;
    out.push_str("</D:multistatus>");
    let mut resp = Response::new(Body::from(out));
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(resp)
}

/// dav-server writes `getetag` as the bare tag, without the quotes its own `ETag`
/// header carries (RFC 4918 §15.6: the value is an entity-tag, quotes included), so a
/// client comparing the two would see every file as changed. Its PROPFIND answers (the
/// cases this file leaves to it) pass through this filter, which quotes each value as
/// it streams by.
pub fn quote_getetags(body: Body) -> Body {
    use futures_util::StreamExt as _;
    let mut quoter = EtagQuoter::default();
    Body::from_stream(body.into_data_stream().map(move |chunk| chunk.map(|c| quoter.feed(&c))))
}

/// The state of [`quote_getetags`] between chunks.
#[derive(Debug, Default)]
struct EtagQuoter {
    /// How much of `<D:getetag>` the bytes just passed match.
    matched: usize,
    /// Inside a `getetag` value (it holds no `<`).
    inside: bool,
}

impl EtagQuoter {
    const OPEN: &[u8] = b"<D:getetag>";

    fn feed(&mut self, chunk: &[u8]) -> bytes::Bytes {
        let mut out = Vec::with_capacity(chunk.len() + 32);
        for &b in chunk {
            if self.inside && b == b'<' {
                out.push(b'"');
                self.inside = false;
            }
            out.push(b);
            if self.inside {
                continue;
            }
            // `<` occurs only first in the pattern, so a mismatch restarts at 0 or 1.
            self.matched =
                if Self::OPEN.get(self.matched) == Some(&b) { self.matched + 1 } else { usize::from(b == b'<') };
            if self.matched == Self::OPEN.len() {
                out.push(b'"');
                (self.matched, self.inside) = (0, true);
            }
        }
        out.into()
    }
}

fn dead_of<'a>(props: &'a [DeadProp], k: &'a str) -> impl Iterator<Item = &'a DeadProp> + Clone + 'a {
    props.iter().filter(move |p| p.path == k)
}

/// Percent-encodes one path segment as dav-server does, onto `out`.
fn encode_into(out: &mut String, segment: &[u8]) {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    out.extend(percent_encoding::percent_encode(segment, SET));
}

/// Formatted dates, reused while consecutive entries share a second (photos often do).
#[derive(Default)]
struct DateCache {
    http: Option<(i64, String)>,
    iso: Option<(i64, String)>,
}

/// The answer being written, with small caches for values entries tend to share.
struct Writer<'a> {
    out: String,
    dates: DateCache,
    /// Live locks on, above or below the resource asked for.
    locks: &'a [LockRecord],
    /// The library's URL prefix, for lock roots.
    prefix: &'a str,
    now: i64,
}

impl Writer<'_> {
    /// One `<D:response>`: found properties under 200, asked-for missing ones under 404.
    fn response<'d>(
        &mut self,
        href: &str,
        name: &[u8],
        key: &str,
        meta: &Meta,
        dead: impl Iterator<Item = &'d DeadProp> + Clone,
        wanted: &Wanted,
    ) {
        let out = &mut self.out;
        out.push_str("<D:response><D:href>");
        out.push_str(href);
        out.push_str("</D:href><D:propstat><D:prop>");
        let mut missing = String::new();
        match wanted {
            Wanted::All => {
                for live in LIVE {
                    let _ = self.live_prop(live, name, key, meta, dead.clone());
                }
                for p in dead.filter(|p| !(p.namespace == "DAV:" && LIVE.contains(&p.name.as_str()))) {
                    self.out.push_str(element_text(&p.xml));
                }
            }
            Wanted::Names => {
                let mark = self.out.len();
                for live in LIVE {
                    if self.live_prop(live, name, key, meta, dead.clone()) {
                        // Only the name: drop what was written, write the empty element.
                        self.out.truncate(mark);
                        missing.push_str("<D:");
                        missing.push_str(live);
                        missing.push_str("/>");
                    }
                }
                self.out.push_str(&std::mem::take(&mut missing));
                for p in dead.filter(|p| !(p.namespace == "DAV:" && LIVE.contains(&p.name.as_str()))) {
                    empty_element(&mut self.out, &p.namespace, &p.name);
                }
            }
            Wanted::Some(list) => {
                for (ns, prop) in list {
                    let found = if ns == "DAV:" && LIVE.contains(&prop.as_str()) {
                        self.live_prop(prop, name, key, meta, dead.clone())
                    } else if let Some(p) = dead.clone().find(|p| p.namespace == *ns && p.name == *prop) {
                        self.out.push_str(element_text(&p.xml));
                        true
                    } else {
                        false
                    };
                    if !found {
                        empty_element(&mut missing, ns, prop);
                    }
                }
            }
        }
        let out = &mut self.out;
        out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
        if !missing.is_empty() {
            let _ = write!(
                out,
                "<D:propstat><D:prop>{missing}</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>"
            );
        }
        out.push_str("</D:response>");
    }

    /// Writes live property `prop` if the resource has it.
    fn live_prop<'d>(
        &mut self,
        prop: &str,
        name: &[u8],
        key: &str,
        meta: &Meta,
        mut dead: impl Iterator<Item = &'d DeadProp>,
    ) -> bool {
        let out = &mut self.out;
        match prop {
            "creationdate" => {
                let created = meta.status_changed().ok().zip(meta.modified().ok()).map(|(c, m)| c.min(m));
                match created.and_then(|t| cached(&mut self.dates.iso, t, rfc3339)) {
                    Some(t) => {
                        out.push_str("<D:creationdate>");
                        out.push_str(t);
                        out.push_str("</D:creationdate>");
                        true
                    }
                    None => false,
                }
            }
            "displayname" | "getcontentlanguage" => match dead.find(|p| p.namespace == "DAV:" && p.name == prop) {
                Some(p) => {
                    out.push_str(element_text(&p.xml));
                    true
                }
                None => false,
            },
            "getcontentlength" if !meta.is_dir() => {
                out.push_str("<D:getcontentlength>");
                push_number::<10>(out, meta.len());
                out.push_str("</D:getcontentlength>");
                true
            }
            "getcontenttype" => {
                let mime = if meta.is_dir() { "httpd/unix-directory" } else { mime_of(name) };
                out.push_str("<D:getcontenttype>");
                out.push_str(mime);
                out.push_str("</D:getcontenttype>");
                true
            }
            "getetag" => {
                let mark = out.len();
                out.push_str("<D:getetag>\"");
                if meta.write_etag(out) {
                    out.push_str("\"</D:getetag>");
                    true
                } else {
                    out.truncate(mark);
                    false
                }
            }
            "getlastmodified" => match meta.modified().ok().and_then(|t| cached(&mut self.dates.http, t, httpdate)) {
                Some(t) => {
                    out.push_str("<D:getlastmodified>");
                    out.push_str(t);
                    out.push_str("</D:getlastmodified>");
                    true
                }
                None => false,
            },
            "lockdiscovery" => {
                self.lockdiscovery(key);
                true
            }
            "resourcetype" => {
                out.push_str(if meta.is_dir() {
                    "<D:resourcetype><D:collection/></D:resourcetype>"
                } else {
                    "<D:resourcetype/>"
                });
                true
            }
            "supportedlock" => {
                out.push_str(SUPPORTED_LOCK);
                true
            }
            _ => false,
        }
    }
}

impl Writer<'_> {
    /// `<D:lockdiscovery>` with an `<D:activelock>` for each lock that covers `key`
    /// (RFC 4918 §15.8).
    fn lockdiscovery(&mut self, key: &str) {
        let covering = self.locks.iter().filter(|l| within(key, &l.path) && (l.deep || l.path == key));
        let out = &mut self.out;
        let mark = out.len();
        out.push_str("<D:lockdiscovery>");
        let mut any = false;
        for l in covering {
            any = true;
            out.push_str("<D:activelock><D:lockscope>");
            out.push_str(if l.shared { "<D:shared/>" } else { "<D:exclusive/>" });
            out.push_str("</D:lockscope><D:locktype><D:write/></D:locktype><D:depth>");
            out.push_str(if l.deep { "infinity" } else { "0" });
            out.push_str("</D:depth>");
            if let Some(owner) = &l.owner {
                out.push_str(element_text(owner));
            }
            out.push_str("<D:timeout>");
            match l.expires_at {
                Some(at) => {
                    out.push_str("Second-");
                    push_number::<10>(out, u64::try_from(at.saturating_sub(self.now) / 1000).unwrap_or(0));
                }
                None => out.push_str("Infinite"),
            }
            out.push_str("</D:timeout><D:locktoken><D:href>");
            super::error::push_escaped(out, &l.token);
            out.push_str("</D:href></D:locktoken><D:lockroot><D:href>");
            out.push_str(self.prefix);
            out.push_str(if l.path == "/" { "/" } else { &l.path });
            out.push_str("</D:href></D:lockroot></D:activelock>");
        }
        if any {
            out.push_str("</D:lockdiscovery>");
        } else {
            out.truncate(mark);
            out.push_str("<D:lockdiscovery/>");
        }
    }
}

/// `format(t)`, reusing the last answer while the whole second is the same.
fn cached(slot: &mut Option<(i64, String)>, t: SystemTime, format: fn(SystemTime) -> Option<String>) -> Option<&str> {
    // The whole second, counted from 1970 either way (photos can predate it).
    let second = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok()?,
        Err(e) => -i64::try_from(e.duration().as_secs()).ok()? - i64::from(e.duration().subsec_nanos() > 0),
    };
    if slot.as_ref().is_none_or(|(at, _)| *at != second) {
        *slot = Some((second, format(t)?));
    }
    slot.as_ref().map(|(_, s)| s.as_str())
}

/// A stored property element without its XML declaration, to embed.
fn element_text(xml: &str) -> &str {
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(xml, |(_, element)| element),
        None => xml,
    }
}

fn empty_element(out: &mut String, ns: &str, name: &str) {
    if ns == "DAV:" {
        let _ = write!(out, "<D:{name}/>");
    } else if ns.is_empty() {
        // No prefix may be bound to the empty namespace (Namespaces in XML 1.0 §3).
        let _ = write!(out, r#"<{name} xmlns=""/>"#);
    } else {
        let _ = write!(out, r#"<g:{name} xmlns:g="{}"/>"#, escape(ns));
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
}

/// The MIME type for a file name, by its extension. Each thread remembers its last
/// answer: a library is mostly a few kinds of file.
pub(super) fn mime_of(name: &[u8]) -> &'static str {
    thread_local! {
        static LAST: std::cell::RefCell<(Vec<u8>, &'static str)> = const { std::cell::RefCell::new((Vec::new(), "")) };
    }
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(dot) => &name[dot + 1..],
        None => return "application/octet-stream",
    };
    LAST.with_borrow_mut(|(last, mime)| {
        if mime.is_empty() || last.as_slice() != ext {
            *mime = std::str::from_utf8(ext)
                .ok()
                .and_then(|e| mime_guess::from_ext(e).first_raw())
                .unwrap_or("application/octet-stream");
            last.clear();
            last.extend_from_slice(ext);
        }
        *mime
    })
}

fn rfc3339(t: SystemTime) -> Option<String> {
    let d = time::OffsetDateTime::from(t);
    let month = d.month() as u8;
    Some(format!("{:04}-{month:02}-{:02}T{:02}:{:02}:{:02}Z", d.year(), d.day(), d.hour(), d.minute(), d.second()))
}

/// RFC 9110 §5.6.7 IMF-fixdate.
pub(super) fn httpdate(t: SystemTime) -> Option<String> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let d = time::OffsetDateTime::from(t);
    let day = DAYS.get(usize::from(d.weekday().number_days_from_monday()))?;
    let month = MONTHS.get(usize::from(d.month() as u8).checked_sub(1)?)?;
    let mut out = String::with_capacity(29);
    write!(
        out,
        "{day}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        d.day(),
        d.year(),
        d.hour(),
        d.minute(),
        d.second()
    )
    .ok()?;
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_http_and_webdav_formats() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
        assert_eq!(httpdate(t).unwrap(), "Fri, 14 Jul 2017 02:40:00 GMT");
        assert_eq!(rfc3339(t).unwrap(), "2017-07-14T02:40:00Z");
    }

    #[test]
    fn dates_are_reused_only_within_the_same_second() {
        let mut slot = None;
        let at = |secs: i64, nanos: u32| {
            let d = std::time::Duration::new(secs.unsigned_abs(), nanos);
            if secs >= 0 { UNIX_EPOCH + d } else { UNIX_EPOCH - d }
        };
        assert_eq!(cached(&mut slot, at(1_500_000_000, 1), httpdate).unwrap(), "Fri, 14 Jul 2017 02:40:00 GMT");
        assert_eq!(
            cached(&mut slot, at(1_500_000_000, 999_999_999), httpdate).unwrap(),
            "Fri, 14 Jul 2017 02:40:00 GMT"
        );
        assert_eq!(cached(&mut slot, at(1_500_000_001, 0), httpdate).unwrap(), "Fri, 14 Jul 2017 02:40:01 GMT");
        assert_eq!(cached(&mut slot, at(-1, 0), httpdate).unwrap(), "Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(cached(&mut slot, at(0, 500), httpdate).unwrap(), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(cached(&mut slot, at(-2, 0), httpdate).unwrap(), "Wed, 31 Dec 1969 23:59:58 GMT");
    }

    #[test]
    fn unusual_requests_go_to_dav_server() {
        assert!(matches!(wanted(b""), Some(Wanted::All)));
        assert!(matches!(wanted(br#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#), Some(Wanted::All)));
        let some = wanted(br#"<propfind xmlns="DAV:"><prop><getetag/><x xmlns="urn:y"/></prop></propfind>"#);
        assert!(matches!(some, Some(Wanted::Some(ref l)) if l.len() == 2));
        assert!(matches!(wanted(br#"<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>"#), Some(Wanted::Names)));
        for body in [
            r#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:x/></D:include></D:propfind>"#,
            r#"<D:propfind xmlns:D="DAV:"><D:prop><D:quota-used-bytes/></D:prop></D:propfind>"#,
            r#"<D:propfind xmlns:D="DAV:"><D:prop><Z:Win32FileAttributes xmlns:Z="urn:schemas-microsoft-com:"/></D:prop></D:propfind>"#,
            "<not-xml",
            r#"<propfind xmlns="urn:other"><allprop/></propfind>"#,
        ] {
            assert!(wanted(body.as_bytes()).is_none(), "{body}");
        }
    }

    #[test]
    fn remembered_bodies_answer_as_parsed_ones() {
        let some = br#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#.as_slice();
        let unusual = br#"<D:propfind xmlns:D="DAV:"><D:prop><D:quota-used-bytes/></D:prop></D:propfind>"#.as_slice();
        for _ in 0..2 {
            assert!(matches!(wanted_cached(some).as_deref(), Some(Wanted::Some(l)) if l.len() == 1));
            assert!(wanted_cached(unusual).is_none(), "a refusal is remembered as one");
            assert!(matches!(wanted_cached(b"").as_deref(), Some(Wanted::All)));
        }
        for i in 0..20 {
            let body =
                format!(r#"<propfind xmlns="DAV:"><prop><getetag/>{}</prop></propfind>"#, "<getetag/>".repeat(i));
            assert!(matches!(wanted_cached(body.as_bytes()).as_deref(), Some(Wanted::Some(l)) if l.len() == i + 1));
        }
    }

    #[test]
    fn stored_elements_lose_their_declaration() {
        assert_eq!(
            element_text(r#"<?xml version="1.0" encoding="UTF-8"?><a xmlns="u">b</a>"#),
            r#"<a xmlns="u">b</a>"#
        );
        assert_eq!(element_text("<a/>"), "<a/>");
    }

    #[test]
    fn getetag_values_are_quoted_across_chunk_boundaries() {
        let xml = b"<D:response><D:getetag>5-abc</D:getetag><D:x>getetag</D:x><D:getetag/><D:getetag>7-d</D:getetag>";
        let want =
            "<D:response><D:getetag>\"5-abc\"</D:getetag><D:x>getetag</D:x><D:getetag/><D:getetag>\"7-d\"</D:getetag>";
        for split in 0..xml.len() {
            let mut q = EtagQuoter::default();
            let mut out = q.feed(&xml[..split]).to_vec();
            out.extend_from_slice(&q.feed(&xml[split..]));
            assert_eq!(String::from_utf8(out).unwrap(), want, "split at {split}");
        }
        let mut q = EtagQuoter::default();
        let bytewise: Vec<u8> = xml.iter().flat_map(|b| q.feed(&[*b]).to_vec()).collect();
        assert_eq!(String::from_utf8(bytewise).unwrap(), want);
    }

    #[test]
    fn segments_are_encoded_like_dav_server() {
        let mut out = String::from("x/");
        encode_into(&mut out, "a b#c%d?é".as_bytes());
        assert_eq!(out, "x/a%20b%23c%25d%3F%C3%A9");
    }
}
