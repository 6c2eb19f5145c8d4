//! The XML of a PROPFIND answer (RFC 4918 §9.1, §14.16), written as text: one
//! `<D:response>` per resource with its found properties under 200 and the asked-for
//! missing ones under 404; live properties computed from one `stat`, dead ones from
//! the database, lockdiscovery from the live locks. Every element is namespace-valid
//! whatever was stored (no prefix is ever bound to the empty namespace).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use dav_server::fs::DavMetaData as _;

use super::locks::within;
use crate::library::{Meta, push_number};
use crate::store::{DeadProp, LockRecord};

/// Live properties of `DAV:` answered for every resource.
pub const LIVE: [&str; 10] = [
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

/// Microsoft's namespace for the `Win32*` properties.
const MS: &str = "urn:schemas-microsoft-com:";

const SUPPORTED_LOCK: &str = "<D:supportedlock><D:lockentry><D:lockscope><D:exclusive/></D:lockscope>\
    <D:locktype><D:write/></D:locktype></D:lockentry><D:lockentry><D:lockscope><D:shared/></D:lockscope>\
    <D:locktype><D:write/></D:locktype></D:lockentry></D:supportedlock>";

/// What the client asked for; (namespace, name) pairs.
#[derive(Debug)]
pub enum Wanted {
    /// `allprop` (or no body), with the names an `include` adds.
    All(Vec<(String, String)>),
    /// `propname`: the names of the properties, without values.
    Names,
    /// `prop`: these properties.
    Some(Vec<(String, String)>),
}

impl Wanted {
    /// The names of the dead properties an answer to this may show: `None` for all of
    /// them (allprop, propname); else the local names of the asked-for properties that
    /// are not computed (one name once).
    pub fn dead_names(&self) -> Option<Vec<String>> {
        let Wanted::Some(list) = self else { return None };
        let mut names: Vec<String> = Vec::new();
        for (ns, name) in list {
            let computed = (ns == "DAV:" && LIVE.contains(&name.as_str()) && !DEAD_BACKED.contains(&name.as_str()))
                || (ns == MS && MS_COMPUTED.contains(&name.as_str()));
            if !computed && !names.contains(name) {
                names.push(name.clone());
            }
        }
        Some(names)
    }
}

/// Live properties whose value is a dead property when one is set.
const DEAD_BACKED: [&str; 2] = ["displayname", "getcontentlanguage"];

/// Microsoft's properties computed from the file ([`Writer::ms_prop`]).
const MS_COMPUTED: [&str; 4] =
    ["Win32CreationTime", "Win32LastAccessTime", "Win32LastModifiedTime", "Win32FileAttributes"];

/// Formatted dates, reused while consecutive entries share a second (photos often do).
#[derive(Default)]
struct DateCache {
    http: Option<(i64, String)>,
    iso: Option<(i64, String)>,
}

/// A multistatus being written, with small caches for values entries tend to share.
pub struct Writer {
    out: String,
    dates: DateCache,
    /// Live locks on, above or below the resource asked for.
    locks: Vec<LockRecord>,
    /// The library's URL prefix, for lock roots.
    prefix: String,
    /// Now, in Unix milliseconds (for the seconds a lock has left).
    now: i64,
}

impl Writer {
    /// Starts a multistatus with room for `capacity` bytes before it grows.
    pub fn new(locks: Vec<LockRecord>, prefix: &str, now: i64, capacity: usize) -> Writer {
        let mut out = String::with_capacity(capacity);
        out.push_str(r#"<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">"#);
        Writer { out, dates: DateCache::default(), locks, prefix: prefix.to_owned(), now }
    }

    /// How much has been written since the last [`Writer::take`].
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Hands over what has been written so far.
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    /// Ends the multistatus.
    pub fn close(&mut self) {
        self.out.push_str("</D:multistatus>");
    }

    /// One `<D:response>` for the resource at `href` (named `name`, database key `key`).
    pub fn response(&mut self, href: &str, name: &[u8], key: &str, meta: &Meta, dead: &[DeadProp], wanted: &Wanted) {
        self.out.push_str("<D:response><D:href>");
        self.out.push_str(href);
        self.out.push_str("</D:href><D:propstat><D:prop>");
        let mut missing = String::new();
        let is_live = |p: &DeadProp| p.namespace == "DAV:" && LIVE.contains(&p.name.as_str());
        match wanted {
            Wanted::All(include) => {
                for live in LIVE {
                    let _ = self.live_prop(live, name, key, meta, dead);
                }
                for p in dead.iter().filter(|p| !is_live(p)) {
                    self.out.push_str(element_text(&p.xml));
                }
                let listed = |ns: &str, prop: &str| {
                    (ns == "DAV:" && LIVE.contains(&prop)) || dead.iter().any(|p| p.namespace == ns && p.name == prop)
                };
                for (ns, prop) in include.iter().filter(|(ns, prop)| !listed(ns, prop)) {
                    if !self.prop(ns, prop, name, key, meta, dead) {
                        empty_element(&mut missing, ns, prop);
                    }
                }
            }
            Wanted::Names => {
                for live in LIVE {
                    let mark = self.out.len();
                    if self.live_prop(live, name, key, meta, dead) {
                        // Only the name: drop the value, write the empty element.
                        self.out.truncate(mark);
                        empty_element(&mut self.out, "DAV:", live);
                    }
                }
                for p in dead.iter().filter(|p| !is_live(p)) {
                    empty_element(&mut self.out, &p.namespace, &p.name);
                }
            }
            Wanted::Some(list) => {
                for (ns, prop) in list {
                    if !self.prop(ns, prop, name, key, meta, dead) {
                        empty_element(&mut missing, ns, prop);
                    }
                }
            }
        }
        self.out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
        if !missing.is_empty() {
            self.out.push_str("<D:propstat><D:prop>");
            self.out.push_str(&missing);
            self.out.push_str("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>");
        }
        self.out.push_str("</D:response>");
    }

    /// Writes property `prop` of namespace `ns` if the resource has it: live ones first
    /// (as dav-server and Apache), then stored ones.
    fn prop(&mut self, ns: &str, prop: &str, name: &[u8], key: &str, meta: &Meta, dead: &[DeadProp]) -> bool {
        if ns == "DAV:" && LIVE.contains(&prop) {
            return self.live_prop(prop, name, key, meta, dead);
        }
        if ns == MS && self.ms_prop(prop, name, meta) {
            return true;
        }
        match dead.iter().find(|p| p.namespace == ns && p.name == prop) {
            Some(p) => {
                self.out.push_str(element_text(&p.xml));
                true
            }
            None => false,
        }
    }

    /// Writes live property `prop` if the resource has it.
    fn live_prop(&mut self, prop: &str, name: &[u8], key: &str, meta: &Meta, dead: &[DeadProp]) -> bool {
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
            "displayname" | "getcontentlanguage" => match dead.iter().find(|p| p.namespace == "DAV:" && p.name == prop)
            {
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

    /// Writes Microsoft's `Win32*` property `prop` (what Windows' WebDAV client asks
    /// for), computed as dav-server and Apache do.
    fn ms_prop(&mut self, prop: &str, name: &[u8], meta: &Meta) -> bool {
        let value = match prop {
            "Win32CreationTime" => {
                let created = meta.status_changed().ok().zip(meta.modified().ok()).map(|(c, m)| c.min(m));
                created.and_then(httpdate)
            }
            "Win32LastAccessTime" => meta.accessed().ok().and_then(httpdate),
            "Win32LastModifiedTime" => meta.modified().ok().and_then(httpdate),
            "Win32FileAttributes" => {
                let hidden = if name.starts_with(b".") { 0x02 } else { 0 };
                let kind = if meta.is_dir() { 0x10 } else { 0x20 };
                Some(format!("{:08x}", hidden | kind))
            }
            _ => None,
        };
        let Some(value) = value else { return false };
        let _ = write!(self.out, r#"<Z:{prop} xmlns:Z="{MS}">{value}</Z:{prop}>"#);
        true
    }

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
            out.push_str(&self.prefix);
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

/// `<name/>` in namespace `ns`, declaring it where needed.
fn empty_element(out: &mut String, ns: &str, name: &str) {
    if ns == "DAV:" {
        let _ = write!(out, "<D:{name}/>");
    } else if ns.is_empty() {
        // No prefix may be bound to the empty namespace (Namespaces in XML 1.0 §3).
        let _ = write!(out, r#"<{name} xmlns=""/>"#);
    } else {
        let _ = write!(out, r#"<g:{name} xmlns:g=""#);
        super::error::push_escaped(out, ns);
        out.push_str(r#""/>"#);
    }
}

/// The MIME type for a file name, by its extension. Each thread remembers its last
/// answer: a library is mostly a few kinds of file.
pub fn mime_of(name: &[u8]) -> &'static str {
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
    let d = crate::clock::calendar(t);
    let month = d.month() as u8;
    Some(format!("{:04}-{month:02}-{:02}T{:02}:{:02}:{:02}Z", d.year(), d.day(), d.hour(), d.minute(), d.second()))
}

/// RFC 9110 §5.6.7 IMF-fixdate.
pub fn httpdate(t: SystemTime) -> Option<String> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let d = crate::clock::calendar(t);
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
#[allow(clippy::unwrap_used, clippy::panic)]
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
    fn only_properties_that_can_be_dead_are_read_from_the_database() {
        let some = |list: &[(&str, &str)]| {
            Wanted::Some(list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()).dead_names()
        };
        assert_eq!(some(&[("DAV:", "getetag"), ("DAV:", "resourcetype"), (MS, "Win32FileAttributes")]), Some(vec![]));
        assert_eq!(
            some(&[("DAV:", "getetag"), ("DAV:", "displayname"), ("urn:x", "v"), ("urn:y", "v")]),
            Some(vec!["displayname".to_owned(), "v".to_owned()])
        );
        assert_eq!(Wanted::All(vec![]).dead_names(), None);
        assert_eq!(Wanted::Names.dead_names(), None);
    }

    #[test]
    fn stored_elements_lose_their_declaration() {
        assert_eq!(
            element_text(r#"<?xml version="1.0" encoding="UTF-8"?><a xmlns="u">b</a>"#),
            r#"<a xmlns="u">b</a>"#
        );
        assert_eq!(element_text("<a/>"), "<a/>");
    }

    fn meta_of(path: &std::path::Path) -> Meta {
        Meta::from_fs(&std::fs::metadata(path).unwrap())
    }

    fn prop(ns: &str, name: &str, xml: &str) -> DeadProp {
        DeadProp { path: "/f".into(), namespace: ns.into(), name: name.into(), prefix: String::new(), xml: xml.into() }
    }

    #[test]
    fn every_way_of_asking_gives_namespace_valid_xml_and_404_for_the_unknown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"12345").unwrap();
        let meta = meta_of(&dir.path().join("f"));
        let dead = [prop("", "plain", "<plain>x</plain>"), prop("urn:q", "q", r#"<Q:q xmlns:Q="urn:q">y</Q:q>"#)];
        let pairs = |list: &[(&str, &str)]| list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
        for wanted in [
            Wanted::All(vec![]),
            Wanted::All(pairs(&[("DAV:", "quota-used-bytes"), (MS, "Win32FileAttributes")])),
            Wanted::Names,
            Wanted::Some(pairs(&[("DAV:", "getetag"), ("", "plain"), ("", "none"), ("urn:u", "u"), ("DAV:", "x")])),
        ] {
            let mut w = Writer::new(vec![], "/originals", 0, 1);
            w.response("/originals/f", b"f", "/f", &meta, &dead, &wanted);
            w.close();
            let xml = w.take();
            let root = xmltree::Element::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}: {xml}"));
            let response = root.get_child(("response", "DAV:")).unwrap();
            let stats: Vec<_> = response.children.iter().filter_map(|n| n.as_element()).skip(1).collect();
            let missing =
                stats.iter().find(|s| s.get_child(("status", "DAV:")).unwrap().get_text().unwrap().contains("404"));
            match &wanted {
                Wanted::Some(_) => {
                    let names: Vec<_> = missing
                        .unwrap()
                        .get_child(("prop", "DAV:"))
                        .unwrap()
                        .children
                        .iter()
                        .filter_map(|n| n.as_element())
                        .map(|e| (e.namespace.clone().unwrap_or_default(), e.name.clone()))
                        .collect();
                    assert_eq!(names, pairs(&[("", "none"), ("urn:u", "u"), ("DAV:", "x")]), "{xml}");
                }
                Wanted::All(include) if !include.is_empty() => {
                    assert!(
                        xml.contains(r#"<Z:Win32FileAttributes xmlns:Z="urn:schemas-microsoft-com:">00000020<"#),
                        "{xml}"
                    );
                    assert!(xml.contains("<D:quota-used-bytes/>") && missing.is_some(), "{xml}");
                }
                Wanted::Names => {
                    assert!(!xml.contains("12345") && !xml.contains(">x<") && xml.contains("<D:getetag/>"), "{xml}")
                }
                Wanted::All(_) => assert!(missing.is_none() && xml.contains("<plain>x</plain>"), "{xml}"),
            }
        }
    }
}
