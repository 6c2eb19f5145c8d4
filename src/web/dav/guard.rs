//! Checks on a WebDAV request before anything acts on it: paths that try to leave the
//! library (`..`, encoded dots or slashes, backslashes), `Destination` headers that
//! point at another server or folder, the library roots (never deleted, moved, or
//! copied into themselves), headers that must parse (`Depth`, `If`, `Lock-Token`,
//! `X-OC-MTime`). A refused request is refused here, before any change — never half
//! way through a walk.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};

use super::conditional::{IfCondition, IfItem, IfList};
use super::error::DavError;

/// Methods that change the library (LOCK can create a file; UNLOCK is its other half).
pub fn is_write(method: &Method) -> bool {
    matches!(method.as_str(), "PUT" | "PATCH" | "DELETE" | "MKCOL" | "COPY" | "MOVE" | "PROPPATCH" | "LOCK" | "UNLOCK")
}

fn bad_path() -> DavError {
    DavError::bad_request(
        "The path contains a segment that is not allowed (\"..\", \".\", an encoded slash or a backslash)",
    )
}

/// Refuses a URL path (still percent-encoded) whose segments, decoded, could climb out
/// of the folder or mean something else on another system.
pub fn check_path(raw: &str) -> Result<(), DavError> {
    for segment in raw.split('/') {
        let decoded = percent_encoding::percent_decode_str(segment);
        let mut first = decoded.clone();
        let dots = matches!((first.next(), first.next(), first.next()), (Some(b'.'), None | Some(b'.'), None));
        if dots || decoded.into_iter().any(|b| b == b'/' || b == b'\\' || b == 0) {
            return Err(bad_path());
        }
    }
    Ok(())
}

/// The path of the `Destination` header of COPY and MOVE (percent-encoded), checked:
/// it must name this server (else 502, RFC 4918 §9.9.4) and the same library folder
/// (`prefix`, else 403), with a path [`check_path`] accepts.
pub fn destination(parts: &Parts, prefix: &str) -> Result<Option<String>, DavError> {
    let Some(value) = parts.headers.get("destination") else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| DavError::bad_request("The Destination header is not valid text"))?;
    let uri: Uri = text.parse().map_err(|_| DavError::bad_request("The Destination header is not a URL"))?;
    if let Some(authority) = uri.authority() {
        let ours = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(parts.uri.host());
        if !ours.is_some_and(|h| h.eq_ignore_ascii_case(authority.as_str())) {
            return Err(DavError::new(StatusCode::BAD_GATEWAY, "The Destination is on another server"));
        }
    } else if !text.starts_with('/') {
        return Err(DavError::bad_request("The Destination header must be an absolute URL or path"));
    }
    let path = uri.path();
    check_path(path)?;
    let inside = path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'));
    if !inside {
        return Err(DavError::forbidden(format!("The Destination must be inside {prefix}/")));
    }
    Ok(Some(path.to_owned()))
}

/// The library root's key ([`super::library::key`]).
const ROOT: &str = "/";

/// Refuses, before anything changes, what would destroy what the request did not name:
/// deleting or moving a library root, and copying or moving a resource onto itself, into
/// its own descendants, or over a root (RFC 4918 §9.8.5, §9.9.4: 403). `from` and `to`
/// are keys inside one library.
pub fn protect(method: &Method, from: &str, to: Option<&str>) -> Result<(), DavError> {
    let is = |m: &str| method.as_str() == m;
    if from == ROOT && (is("DELETE") || is("MOVE")) {
        return Err(DavError::forbidden("A library folder itself cannot be deleted or moved"));
    }
    if let (true, Some(to)) = (is("COPY") || is("MOVE"), to) {
        if to == ROOT {
            return Err(DavError::forbidden("Nothing can be copied or moved over a library folder"));
        }
        if super::locks::within(to, from) {
            return Err(DavError::forbidden("A resource cannot be copied or moved onto itself or into itself"));
        }
    }
    Ok(())
}

/// The `Depth` header (RFC 4918 §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

/// The `Depth` a request asks for (`None` if it sent none); a value other than `0`,
/// `1` or `infinity`, or one its method does not take, is a 400.
pub fn depth(method: &Method, headers: &HeaderMap) -> Result<Option<Depth>, DavError> {
    let Some(value) = headers.get("depth") else {
        return Ok(None);
    };
    let depth = match value.as_bytes() {
        b"0" => Depth::Zero,
        b"1" => Depth::One,
        v if v.eq_ignore_ascii_case(b"infinity") => Depth::Infinity,
        _ => return Err(DavError::bad_request("Depth must be 0, 1 or infinity")),
    };
    let allowed = match method.as_str() {
        "PROPFIND" => true,
        "COPY" | "LOCK" => depth != Depth::One,
        "MOVE" | "DELETE" => depth == Depth::Infinity,
        _ => true,
    };
    if !allowed {
        return Err(DavError::bad_request(format!("{method} does not take this Depth")));
    }
    Ok(Some(depth))
}

/// The lists of a request's `If` headers (RFC 4918 §10.4); a header that does not
/// parse is a 400.
pub fn if_lists(headers: &HeaderMap) -> Result<Vec<IfList>, DavError> {
    let mut lists = Vec::new();
    for value in headers.get_all("if") {
        let text = value.to_str().map_err(|_| bad_if())?;
        parse_if(text, &mut lists)?;
    }
    Ok(lists)
}

/// The lock tokens a request submits: the state tokens of its `If` lists, and the
/// `Lock-Token` of an UNLOCK (a 400 if that does not parse).
pub fn submitted_tokens(method: &Method, headers: &HeaderMap, lists: &[IfList]) -> Result<Vec<String>, DavError> {
    let mut tokens: Vec<String> = lists
        .iter()
        .flat_map(|l| &l.conditions)
        .filter_map(|c| match &c.item {
            IfItem::Token(t) => Some(t.clone()),
            IfItem::ETag(_) => None,
        })
        .collect();
    if method.as_str() == "UNLOCK" {
        let value = headers.get("lock-token").ok_or_else(|| DavError::bad_request("UNLOCK needs a Lock-Token"))?;
        let text = value.to_str().map_err(|_| bad_lock_token())?.trim();
        let token = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')).ok_or_else(bad_lock_token)?;
        if token.is_empty() || token.contains(['<', '>']) {
            return Err(bad_lock_token());
        }
        tokens.push(token.to_owned());
    }
    Ok(tokens)
}

fn bad_if() -> DavError {
    DavError::bad_request("The If header does not follow RFC 4918 §10.4")
}

fn bad_lock_token() -> DavError {
    DavError::bad_request("The Lock-Token header must be a Coded-URL: <token>")
}

/// Most conditions the `If` headers of one request may carry.
pub const MAX_IF_CONDITIONS: usize = 64;

/// Parses `If = 1*No-tag-list | 1*Tagged-list` with a loop (no recursion), adding its
/// lists to `lists`.
fn parse_if(text: &str, lists: &mut Vec<IfList>) -> Result<(), DavError> {
    let mut rest = text.trim_start();
    let (mut seen, mut conditions) = (0usize, lists.iter().map(|l| l.conditions.len()).sum::<usize>());
    let mut tagged = None;
    let mut resource = None;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            // A Resource-Tag: only in a tagged list, and only before a list.
            if !*tagged.get_or_insert(true) {
                return Err(bad_if());
            }
            let (url, tail) = after.split_once('>').ok_or_else(bad_if)?;
            if url.is_empty() || url.chars().any(char::is_whitespace) {
                return Err(bad_if());
            }
            resource = Some(url.to_owned());
            rest = tail.trim_start();
            if !rest.starts_with('(') {
                return Err(bad_if());
            }
            continue;
        }
        let after = rest.strip_prefix('(').ok_or_else(bad_if)?;
        tagged.get_or_insert(false);
        seen += 1;
        let (list, tail) = after.split_once(')').ok_or_else(bad_if)?;
        let mut inner = list.trim_start();
        let mut parsed = IfList { resource: resource.clone(), conditions: Vec::new() };
        while !inner.is_empty() {
            let not = match inner.strip_prefix("Not") {
                Some(t) => {
                    inner = t.trim_start();
                    true
                }
                None => false,
            };
            let item = if let Some(t) = inner.strip_prefix('<') {
                let (token, tail) = t.split_once('>').ok_or_else(bad_if)?;
                if token.is_empty() || token.contains('<') || token.chars().any(char::is_whitespace) {
                    return Err(bad_if());
                }
                inner = tail.trim_start();
                IfItem::Token(token.to_owned())
            } else if let Some(t) = inner.strip_prefix('[') {
                let (etag, tail) = t.split_once(']').ok_or_else(bad_if)?;
                if etag.is_empty() {
                    return Err(bad_if());
                }
                inner = tail.trim_start();
                IfItem::ETag(etag.trim().to_owned())
            } else {
                return Err(bad_if());
            };
            parsed.conditions.push(IfCondition { not, item });
            conditions += 1;
            if conditions > MAX_IF_CONDITIONS {
                return Err(DavError::bad_request("The If header has too many conditions"));
            }
        }
        if parsed.conditions.is_empty() {
            return Err(bad_if());
        }
        lists.push(parsed);
        rest = tail.trim_start();
    }
    if seen == 0 {
        return Err(bad_if());
    }
    Ok(())
}

/// A partial update as a request announces it (`Content-Range` on PUT, SabreDAV's
/// `X-Update-Range` on PATCH), checked before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    /// Where the new bytes start; `None`: counted from the end (`bytes=-N`, `append`),
    /// which can leave no gap.
    pub start: Option<u64>,
    /// How many bytes the request carries, where it says.
    pub len: Option<u64>,
    /// Every byte goes to the end (`append`).
    pub append: bool,
    /// The length the file will have, where the request says (`bytes F-L/LENGTH`).
    pub total: Option<u64>,
}

fn unsatisfiable(message: &str) -> DavError {
    DavError::new(StatusCode::RANGE_NOT_SATISFIABLE, message)
}

/// The partial update a PUT or PATCH asks for, if any: a `Content-Range` of a PUT must
/// be `bytes FIRST-LAST/LENGTH` or `bytes FIRST-LAST/*` (else 400) with FIRST ≤ LAST,
/// LAST below a LENGTH and a `Content-Length` of LAST-FIRST+1 if one is sent (else
/// 416). Where the file ends is checked by [`Partial::fits`].
pub fn partial_write(method: &Method, headers: &HeaderMap) -> Result<Option<Partial>, DavError> {
    let text = |name: &str| -> Result<Option<&str>, DavError> {
        headers
            .get(name)
            .map(|v| v.to_str().map(str::trim).map_err(|_| DavError::bad_request(format!("{name} is not valid text"))))
            .transpose()
    };
    let content_length = match text("content-length")? {
        Some(v) => Some(v.parse::<u64>().map_err(|_| DavError::bad_request("Content-Length must be a number"))?),
        None => None,
    };
    let number = |s: &str, what: &str| s.parse::<u64>().map_err(|_| DavError::bad_request(what.to_owned()));
    if *method == Method::PUT {
        let Some(range) = text("content-range")? else { return Ok(None) };
        let bad = "Content-Range must be bytes FIRST-LAST/LENGTH or bytes FIRST-LAST/*";
        let spec = range.strip_prefix("bytes ").ok_or_else(|| DavError::bad_request(bad))?;
        let (span, total) = spec.split_once('/').ok_or_else(|| DavError::bad_request(bad))?;
        let (first, last) = span.split_once('-').ok_or_else(|| DavError::bad_request(bad))?;
        let (first, last) = (number(first, bad)?, number(last, bad)?);
        let total = if total == "*" { None } else { Some(number(total, bad)?) };
        if first > last || total.is_some_and(|t| t <= last) {
            return Err(unsatisfiable("The Content-Range is not a range of the file"));
        }
        let len = last - first + 1;
        if content_length.is_some_and(|n| n != len) {
            return Err(unsatisfiable("The body's length does not match its Content-Range"));
        }
        return Ok(Some(Partial { start: Some(first), len: Some(len), append: false, total }));
    }
    if method.as_str() != "PATCH" {
        return Ok(None);
    }
    let Some(range) = text("x-update-range")? else { return Ok(None) };
    if range == "append" {
        return Ok(Some(Partial { start: None, len: content_length, append: true, total: None }));
    }
    let bad = "X-Update-Range must be bytes=FIRST-LAST, bytes=FIRST-, bytes=-N or append";
    let spec = range.strip_prefix("bytes=").ok_or_else(|| DavError::bad_request(bad))?;
    let (first, last) = spec.split_once('-').ok_or_else(|| DavError::bad_request(bad))?;
    let start = match (first.is_empty(), last.is_empty()) {
        (false, false) => {
            let (b, e) = (number(first, bad)?, number(last, bad)?);
            if b > e || content_length.is_some_and(|n| n != e - b + 1) {
                return Err(unsatisfiable("The X-Update-Range does not match the body"));
            }
            Some(b)
        }
        (false, true) => Some(number(first, bad)?),
        (true, false) => {
            number(last, bad)?;
            None
        }
        (true, true) => return Err(DavError::bad_request(bad)),
    };
    Ok(Some(Partial { start, len: content_length, append: false, total: None }))
}

impl Partial {
    /// Refuses (416, with `Content-Range: bytes */LEN`) a part that would start past
    /// the end of the file, now `len` bytes long (0 if missing): the gap would make a
    /// sparse file that every client sees at its full length.
    /// A `Content-Range` that names a total length must name the one the file will
    /// have (a client that thinks a 12-byte file has 4 has a stale view of it).
    pub fn fits(&self, len: u64) -> Result<(), DavError> {
        let after = self.start.zip(self.len).map(|(start, n)| len.max(start.saturating_add(n)));
        if let (Some(total), Some(after)) = (self.total, after)
            && total != after
        {
            return Err(unsatisfiable(&format!(
                "The Content-Range says the file will be {total} bytes long; it would be {after}"
            ))
            .header(
                header::CONTENT_RANGE,
                axum::http::HeaderValue::from_str(&format!("bytes */{len}"))
                    .unwrap_or(axum::http::HeaderValue::from_static("bytes */0")),
            ));
        }
        match self.start {
            Some(start) if start > len => Err(unsatisfiable(&format!(
                "A partial write must start at or before the end of the file ({len} bytes)"
            ))
            .header(
                header::CONTENT_RANGE,
                axum::http::HeaderValue::from_str(&format!("bytes */{len}"))
                    .unwrap_or(axum::http::HeaderValue::from_static("bytes */0")),
            )),
            _ => Ok(()),
        }
    }
}

/// Refuses an `Overwrite` header other than `T` or `F` (RFC 4918 §10.6): a client that
/// meant "no" must not have a file replaced because we guessed "yes".
pub fn overwrite(headers: &HeaderMap) -> Result<(), DavError> {
    match headers.get("overwrite").map(|v| v.as_bytes()) {
        None | Some(b"T" | b"F") => Ok(()),
        Some(_) => Err(DavError::bad_request("The Overwrite header must be T or F")),
    }
}

/// The modification time a sync app asks for (`X-OC-MTime`: Unix seconds).
pub fn oc_mtime(headers: &HeaderMap) -> Result<Option<SystemTime>, DavError> {
    let Some(value) = headers.get("x-oc-mtime") else {
        return Ok(None);
    };
    let bad = || DavError::bad_request("X-OC-MTime must be a Unix time in seconds");
    let secs: f64 = value.to_str().map_err(|_| bad())?.trim().parse().map_err(|_| bad())?;
    if !secs.is_finite() || !(0.0..=253_402_300_799.0).contains(&secs) {
        return Err(bad());
    }
    Ok(Some(UNIX_EPOCH + Duration::from_secs_f64(secs)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parts(dest: &str) -> Parts {
        let req = axum::http::Request::builder()
            .method("MOVE")
            .uri("/originals/a")
            .header("host", "127.0.0.1:2342")
            .header("destination", dest)
            .body(())
            .unwrap();
        req.into_parts().0
    }

    #[test]
    fn paths_that_climb_or_smuggle_are_refused() {
        for bad in [
            "/originals/..",
            "/originals/%2e%2e/x",
            "/originals/%2E./x",
            "/originals/a%2fb",
            "/originals/a%5cb",
            "/originals/a\\b",
            "/originals/./a",
            "/originals/a%00",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for good in [
            "/originals/",
            "/originals/a%20b/%23c%25d%3Fe",
            "/originals/%E2%9C%93",
            "/originals/...",
            "/originals/.hidden",
        ] {
            assert!(check_path(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn destinations_must_be_here_and_inside() {
        let ok = |d: &str| destination(&parts(d), "/originals").unwrap();
        let status = |d: &str| destination(&parts(d), "/originals").unwrap_err().status;
        assert_eq!(ok("/originals/b"), Some("/originals/b".into()));
        assert_eq!(ok("http://127.0.0.1:2342/originals/b%20c"), Some("/originals/b%20c".into()));
        assert_eq!(status("http://evil.example/originals/b"), StatusCode::BAD_GATEWAY);
        assert_eq!(status("http://127.0.0.1:9999/originals/b"), StatusCode::BAD_GATEWAY);
        assert_eq!(status("/import/b"), StatusCode::FORBIDDEN);
        assert_eq!(status("/originalsx/b"), StatusCode::FORBIDDEN);
        assert_eq!(status("/etc/passwd"), StatusCode::FORBIDDEN);
        assert_eq!(status("/originals/../etc"), StatusCode::BAD_REQUEST);
        assert_eq!(status("/originals/%2e%2e/etc"), StatusCode::BAD_REQUEST);
        assert_eq!(status("relative/path"), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn roots_and_self_nesting_are_refused_before_acting() {
        let m = |s: &str| Method::from_bytes(s.as_bytes()).unwrap();
        for (method, from, to) in [
            ("DELETE", "/", None),
            ("MOVE", "/", Some("/a")),
            ("COPY", "/", Some("/a")),
            ("COPY", "/a", Some("/")),
            ("MOVE", "/a", Some("/")),
            ("MOVE", "/a", Some("/a")),
            ("COPY", "/a", Some("/a/b")),
            ("MOVE", "/a", Some("/a/b/c")),
        ] {
            assert_eq!(protect(&m(method), from, to).unwrap_err().status, StatusCode::FORBIDDEN, "{method} {from}");
        }
        assert!(protect(&m("DELETE"), "/a", None).is_ok());
        assert!(protect(&m("MOVE"), "/a", Some("/ab")).is_ok());
        assert!(protect(&m("COPY"), "/a/b", Some("/a")).is_ok());
        assert!(protect(&m("PUT"), "/", None).is_ok());
        assert!(protect(&m("PROPFIND"), "/", None).is_ok());
    }

    #[test]
    fn depth_takes_three_values_and_only_where_the_method_allows() {
        let d = |m: &str, v: &str| {
            let mut h = HeaderMap::new();
            h.insert("depth", v.parse().unwrap());
            depth(&Method::from_bytes(m.as_bytes()).unwrap(), &h).map_err(|e| e.status)
        };
        assert_eq!(d("PROPFIND", "1"), Ok(Some(Depth::One)));
        assert_eq!(d("PROPFIND", "Infinity"), Ok(Some(Depth::Infinity)));
        for (m, v) in [("PROPFIND", "2"), ("PROPFIND", ""), ("PROPFIND", "-1"), ("COPY", "1"), ("MOVE", "0")] {
            assert_eq!(d(m, v), Err(StatusCode::BAD_REQUEST), "{m} {v}");
        }
        assert_eq!(depth(&Method::GET, &HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn if_headers_parse_or_are_refused() {
        let tokens = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("if", v.parse().unwrap());
            if_lists(&h).and_then(|l| submitted_tokens(&Method::PUT, &h, &l)).map_err(|e| e.status)
        };
        assert_eq!(tokens("(<urn:uuid:1>)"), Ok(vec!["urn:uuid:1".to_owned()]));
        assert_eq!(
            tokens(r#"<http://h/originals/a> (<urn:uuid:1> ["e"]) (Not <DAV:no-lock>)"#),
            Ok(vec!["urn:uuid:1".to_owned(), "DAV:no-lock".to_owned()])
        );
        assert_eq!(tokens(r#"(["etag"])"#), Ok(vec![]));
        let mut h = HeaderMap::new();
        h.insert(
            "if",
            r#"<http://h/originals/a> (Not <urn:uuid:1> ["e"]) </originals/b> (<urn:uuid:2>)"#.parse().unwrap(),
        );
        let cond = |not, item| IfCondition { not, item };
        assert_eq!(
            if_lists(&h).unwrap(),
            vec![
                IfList {
                    resource: Some("http://h/originals/a".to_owned()),
                    conditions: vec![
                        cond(true, IfItem::Token("urn:uuid:1".to_owned())),
                        cond(false, IfItem::ETag("\"e\"".to_owned()))
                    ]
                },
                IfList {
                    resource: Some("/originals/b".to_owned()),
                    conditions: vec![cond(false, IfItem::Token("urn:uuid:2".to_owned()))]
                },
            ]
        );
        let long = "(<a>)".repeat(100);
        for bad in ["", "garbage", "(<a>", "()", "<http://h/a>", "(<a>) <http://h/a> (<b>)", "([])", "(<a b>)", &long] {
            assert_eq!(tokens(bad), Err(StatusCode::BAD_REQUEST), "{bad}");
        }
        let mut h = HeaderMap::new();
        h.insert("lock-token", "<urn:uuid:9>".parse().unwrap());
        assert_eq!(submitted_tokens(&Method::from_bytes(b"UNLOCK").unwrap(), &h, &[]).unwrap(), vec!["urn:uuid:9"]);
        h.insert("lock-token", "urn:uuid:9".parse().unwrap());
        assert!(submitted_tokens(&Method::from_bytes(b"UNLOCK").unwrap(), &h, &[]).is_err());
    }

    #[test]
    fn partial_writes_parse_and_never_start_past_the_end() {
        let p = |m: &str, name: &str, v: &str, len: Option<&str>| {
            let mut h = HeaderMap::new();
            h.insert(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), v.parse().unwrap());
            if let Some(n) = len {
                h.insert("content-length", n.parse().unwrap());
            }
            partial_write(&Method::from_bytes(m.as_bytes()).unwrap(), &h).map_err(|e| e.status)
        };
        let put = |v: &str| p("PUT", "content-range", v, None);
        assert_eq!(put("bytes 2-6/*"), Ok(Some(Partial { start: Some(2), len: Some(5), append: false, total: None })));
        assert_eq!(put("bytes 0-0/10").unwrap().unwrap().len, Some(1));
        for bad in ["bytes */10", "bytes 2-/10", "2-6/10", "bytes 2-6", "bytes a-6/*", "bytes -1-6/*"] {
            assert_eq!(put(bad), Err(StatusCode::BAD_REQUEST), "{bad}");
        }
        for unsatisfiable in ["bytes 6-2/*", "bytes 2-6/6", "bytes 2-6/3"] {
            assert_eq!(put(unsatisfiable), Err(StatusCode::RANGE_NOT_SATISFIABLE), "{unsatisfiable}");
        }
        assert_eq!(p("PUT", "content-range", "bytes 2-6/*", Some("2")), Err(StatusCode::RANGE_NOT_SATISFIABLE));
        let patch = |v: &str| p("PATCH", "x-update-range", v, Some("4"));
        assert_eq!(patch("bytes=7-").unwrap().unwrap().start, Some(7));
        assert_eq!(patch("bytes=-4").unwrap().unwrap().start, None);
        assert!(patch("append").unwrap().unwrap().append);
        assert_eq!(patch("bytes=1-2"), Err(StatusCode::RANGE_NOT_SATISFIABLE));
        assert_eq!(patch("bytes=-"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(partial_write(&Method::PUT, &HeaderMap::new()).unwrap(), None);
        let part = put("bytes 5-9/*").unwrap().unwrap();
        assert!(part.fits(5).is_ok() && part.fits(100).is_ok());
        assert_eq!(part.fits(4).unwrap_err().status, StatusCode::RANGE_NOT_SATISFIABLE);
        // A total length must be the file's after the write.
        let middle = put("bytes 2-3/12").unwrap().unwrap();
        assert!(middle.fits(12).is_ok());
        assert_eq!(
            put("bytes 2-3/4").unwrap().unwrap().fits(12).unwrap_err().status,
            StatusCode::RANGE_NOT_SATISFIABLE
        );
        assert!(put("bytes 10-14/15").unwrap().unwrap().fits(10).is_ok(), "growing at the end");
        assert!(put("bytes 0-4/5").unwrap().unwrap().fits(0).is_ok(), "a new file");
    }

    #[test]
    fn overwrite_is_t_or_f() {
        let mut h = HeaderMap::new();
        assert!(overwrite(&h).is_ok());
        for good in ["T", "F"] {
            h.insert("overwrite", good.parse().unwrap());
            assert!(overwrite(&h).is_ok(), "{good}");
        }
        for bad in ["t", "f", "yes", "", "T ", "TRUE"] {
            h.insert("overwrite", bad.parse().unwrap());
            assert!(overwrite(&h).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn oc_mtime_is_unix_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(oc_mtime(&h).unwrap(), None);
        h.insert("x-oc-mtime", "1700000000".parse().unwrap());
        assert_eq!(oc_mtime(&h).unwrap(), Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)));
        h.insert("x-oc-mtime", "soon".parse().unwrap());
        assert!(oc_mtime(&h).is_err());
        h.insert("x-oc-mtime", "-5".parse().unwrap());
        assert!(oc_mtime(&h).is_err());
    }
}
