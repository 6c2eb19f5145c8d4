//! Conditional requests as pure rules over the request headers and what the resource
//! is now: the preconditions of a GET or HEAD (RFC 9110 §13: `412`, `304`) and of a
//! write, which byte ranges to send (§14: `206`, `416`), and whether a WebDAV `If`
//! header holds (RFC 4918 §10.4). Looking the resource up is the caller's part.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, header};

/// At most this many ranges are sent in one answer; a request for more gets the whole
/// file (RFC 9110 §14.2 lets a server ignore Range), so a list of thousands of tiny
/// overlapping ranges cannot multiply the work of one request.
const MAX_RANGES: usize = 16;

/// What a file is compared against: its `ETag` (quoted) and modification time.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    pub etag: Option<&'a str>,
    pub modified: Option<SystemTime>,
}

/// The outcome of the preconditions of a GET or HEAD (RFC 9110 §13.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since`
/// in the order RFC 9110 §13.2.2 gives, for a GET or HEAD of an existing file.
pub fn evaluate(headers: &HeaderMap, v: Validators<'_>) -> Precondition {
    if let Some(list) = text(headers, &header::IF_MATCH) {
        if !list_matches(list, v.etag, true) {
            return Precondition::Failed;
        }
    } else if let (Some(since), Some(modified)) = (date(headers, &header::IF_UNMODIFIED_SINCE), v.modified)
        && seconds(modified) > since
    {
        return Precondition::Failed;
    }
    if let Some(list) = text(headers, &header::IF_NONE_MATCH) {
        if list_matches(list, v.etag, false) {
            return Precondition::NotModified;
        }
    } else if let (Some(since), Some(modified)) = (date(headers, &header::IF_MODIFIED_SINCE), v.modified)
        && seconds(modified) <= since
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// Whether the preconditions of a write (PUT, PROPPATCH, …) to an existing resource
/// hold: `If-Match`, else `If-Unmodified-Since`, then `If-None-Match`, as RFC 9110
/// §13.2.2 orders them; `If-Modified-Since` means nothing to a write. False: `412`.
pub fn write_holds(headers: &HeaderMap, v: Validators<'_>) -> bool {
    match evaluate(headers, v) {
        Precondition::Failed => false,
        // `If-None-Match` matched (for a GET that would be 304); an `If-Modified-Since`
        // alone is ignored.
        Precondition::NotModified => !headers.contains_key(header::IF_NONE_MATCH),
        Precondition::Proceed => true,
    }
}

/// One list of a WebDAV `If` header: the resource it is about (a tagged list's URL;
/// `None`: the request's own), and conditions that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfList {
    pub resource: Option<String>,
    pub conditions: Vec<IfCondition>,
}

/// `[Not] <state-token>` or `[Not] ["entity-tag"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfCondition {
    pub not: bool,
    pub item: IfItem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfItem {
    /// A lock token (or any other URI, such as `DAV:no-lock`).
    Token(String),
    /// An entity tag, with its quotes (and `W/` if weak).
    ETag(String),
}

/// What an `If` condition is compared against: a resource as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// Its entity tag, quoted; `None` if it does not exist.
    pub etag: Option<String>,
    /// The tokens of the live locks that cover it.
    pub lock_tokens: Vec<String>,
}

/// Whether a WebDAV `If` header holds (RFC 4918 §10.4): some list whose conditions all
/// do. A state token holds only if it names a live lock on the resource — an expired,
/// released or made-up one does not (§10.4.8; `DAV:` tokens never do) — and an entity
/// tag only if it is the resource's own (strong comparison). `current` gives the state
/// of a list's resource; `None` for one outside this library, which has no tag or lock.
pub fn if_holds<'a>(lists: &'a [IfList], current: impl Fn(Option<&'a str>) -> Option<&'a Current>) -> bool {
    lists.iter().any(|list| {
        let now = current(list.resource.as_deref());
        list.conditions.iter().all(|c| {
            let holds = now.is_some_and(|now| match &c.item {
                IfItem::Token(t) => !t.starts_with("DAV:") && now.lock_tokens.contains(t),
                IfItem::ETag(tag) => !tag.starts_with("W/") && now.etag.as_deref() == Some(tag.as_str()),
            });
            holds != c.not
        })
    })
}

/// The byte ranges to send of a file of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// The whole file (no Range, one that is ignored, or an `If-Range` that failed).
    Whole,
    /// These ranges, as `(first, last)` inclusive, in the order asked.
    Parts(Vec<(u64, u64)>),
    /// None of the ranges asked for is in the file: `416`.
    Unsatisfiable,
}

/// The ranges a GET asks for (RFC 9110 §14.2): syntactically invalid Range headers and
/// ones that `If-Range` (§13.1.5) rules out are ignored.
pub fn ranges(headers: &HeaderMap, len: u64, v: Validators<'_>) -> Ranges {
    let Some(spec) = text(headers, &header::RANGE) else { return Ranges::Whole };
    if let Some(cond) = text(headers, &header::IF_RANGE)
        && !if_range_holds(cond.trim(), v)
    {
        return Ranges::Whole;
    }
    parse_ranges(spec, len)
}

/// Parses `bytes=…` for a file of `len` bytes.
fn parse_ranges(spec: &str, len: u64) -> Ranges {
    let Some((unit, list)) = spec.split_once('=') else { return Ranges::Whole };
    if !unit.trim().eq_ignore_ascii_case("bytes") || len == 0 {
        return Ranges::Whole;
    }
    let mut parts = Vec::new();
    let mut asked = 0usize;
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        asked += 1;
        if asked > MAX_RANGES {
            return Ranges::Whole;
        }
        let Some((first, last)) = item.split_once('-') else { return Ranges::Whole };
        let (first, last) = (first.trim(), last.trim());
        let range = if first.is_empty() {
            let Some(suffix) = number(last) else { return Ranges::Whole };
            (suffix > 0).then(|| (len.saturating_sub(suffix), len - 1))
        } else {
            let Some(first) = number(first) else { return Ranges::Whole };
            let last = if last.is_empty() {
                len - 1
            } else {
                match number(last) {
                    Some(l) if l >= first => l.min(len - 1),
                    _ => return Ranges::Whole,
                }
            };
            (first < len).then_some((first, last))
        };
        parts.extend(range);
    }
    // Ranges that together ask for more than the file (overlapping ones) get the file
    // once instead: no request makes an answer larger than the file it is about.
    let asked_bytes = parts.iter().fold(0u64, |n, (first, last)| n.saturating_add(last - first + 1));
    match (asked, parts.is_empty()) {
        (0, _) => Ranges::Whole,
        (_, true) => Ranges::Unsatisfiable,
        _ if asked_bytes > len => Ranges::Whole,
        _ => Ranges::Parts(parts),
    }
}

/// `If-Range`: an entity tag must match strongly; a date must be the file's
/// modification time exactly.
fn if_range_holds(cond: &str, v: Validators<'_>) -> bool {
    if cond.starts_with('"') {
        v.etag.is_some_and(|tag| tag == cond)
    } else if cond.starts_with("W/") {
        false
    } else {
        match (httpdate::parse_http_date(cond), v.modified) {
            (Ok(d), Some(m)) => UNIX_EPOCH + Duration::from_secs(seconds(m)) == d,
            _ => false,
        }
    }
}

/// Whether a list of entity tags (or `*`) names the file's tag: strong comparison for
/// `If-Match`, weak for `If-None-Match` (RFC 9110 §8.8.3.2).
fn list_matches(list: &str, etag: Option<&str>, strong: bool) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let Some(ours) = etag else { return false };
    let ours_opaque = ours.strip_prefix("W/").unwrap_or(ours);
    list.split(',').map(str::trim).any(|tag| match tag.strip_prefix("W/") {
        Some(weak) => !strong && weak == ours_opaque,
        None => tag == ours_opaque && (!strong || !ours.starts_with("W/")),
    })
}

fn text<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A valid HTTP date in whole seconds since the epoch; an invalid one is ignored
/// (RFC 9110 §13.1.3).
fn date(headers: &HeaderMap, name: &header::HeaderName) -> Option<u64> {
    let d = httpdate::parse_http_date(text(headers, name)?.trim()).ok()?;
    d.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// A time in whole seconds, as `Last-Modified` shows it.
fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A decimal number of at most 19 digits (no sign, no spaces).
fn number(s: &str) -> Option<u64> {
    (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TAG: &str = "\"400-5f1\"";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect()
    }

    fn file() -> Validators<'static> {
        Validators { etag: Some(TAG), modified: Some(UNIX_EPOCH + Duration::new(1_500_000_000, 500)) }
    }

    fn eval(pairs: &[(&str, &str)]) -> Precondition {
        evaluate(&headers(pairs), file())
    }

    #[test]
    fn preconditions_follow_rfc_9110_order_and_comparisons() {
        use Precondition::*;
        assert_eq!(eval(&[]), Proceed);
        assert_eq!(eval(&[("if-match", TAG)]), Proceed);
        assert_eq!(eval(&[("if-match", "\"x\", \"400-5f1\"")]), Proceed);
        assert_eq!(eval(&[("if-match", "*")]), Proceed);
        assert_eq!(eval(&[("if-match", "\"other\"")]), Failed);
        assert_eq!(eval(&[("if-match", "W/\"400-5f1\"")]), Failed, "If-Match compares strongly");
        assert_eq!(eval(&[("if-none-match", TAG)]), NotModified);
        assert_eq!(eval(&[("if-none-match", "W/\"400-5f1\"")]), NotModified, "If-None-Match compares weakly");
        assert_eq!(eval(&[("if-none-match", "*")]), NotModified);
        assert_eq!(eval(&[("if-none-match", "\"other\"")]), Proceed);
        let at = "Fri, 14 Jul 2017 02:40:00 GMT"; // 1_500_000_000
        let before = "Fri, 14 Jul 2017 02:39:59 GMT";
        assert_eq!(eval(&[("if-modified-since", at)]), NotModified);
        assert_eq!(eval(&[("if-modified-since", before)]), Proceed);
        assert_eq!(eval(&[("if-modified-since", "yesterday")]), Proceed, "an invalid date is ignored");
        assert_eq!(eval(&[("if-none-match", "\"other\""), ("if-modified-since", at)]), Proceed);
        assert_eq!(eval(&[("if-unmodified-since", before)]), Failed);
        assert_eq!(eval(&[("if-unmodified-since", at)]), Proceed);
        assert_eq!(eval(&[("if-match", TAG), ("if-unmodified-since", before)]), Proceed, "If-Match wins");
    }

    fn ranges_of(spec: &str, len: u64) -> Ranges {
        ranges(&headers(&[("range", spec)]), len, file())
    }

    #[test]
    fn writes_ignore_if_modified_since_and_fail_on_a_matching_if_none_match() {
        let holds = |pairs: &[(&str, &str)]| write_holds(&headers(pairs), file());
        assert!(holds(&[]));
        assert!(holds(&[("if-match", TAG)]));
        assert!(!holds(&[("if-match", "\"other\"")]));
        assert!(!holds(&[("if-unmodified-since", "Fri, 14 Jul 2017 02:39:59 GMT")]));
        assert!(holds(&[("if-unmodified-since", "Fri, 14 Jul 2017 02:40:00 GMT")]));
        assert!(!holds(&[("if-none-match", "*")]));
        assert!(!holds(&[("if-none-match", TAG)]));
        assert!(holds(&[("if-none-match", "\"other\"")]));
        assert!(holds(&[("if-modified-since", "Fri, 14 Jul 2017 02:40:00 GMT")]), "If-Modified-Since is for reads");
    }

    fn list(resource: Option<&str>, conditions: &[(bool, IfItem)]) -> IfList {
        IfList {
            resource: resource.map(str::to_owned),
            conditions: conditions.iter().map(|(not, item)| IfCondition { not: *not, item: item.clone() }).collect(),
        }
    }

    #[test]
    fn an_if_header_holds_only_for_live_tokens_and_current_tags() {
        use IfItem::{ETag, Token};
        let here = Current { etag: Some(TAG.to_owned()), lock_tokens: vec!["urn:uuid:live".to_owned()] };
        let other = Current { etag: None, lock_tokens: vec![] };
        let holds = |lists: &[IfList]| {
            if_holds(lists, |r| match r {
                None | Some("/originals/a") => Some(&here),
                Some("/originals/b") => Some(&other),
                _ => None,
            })
        };
        let live = || Token("urn:uuid:live".to_owned());
        let stale = || Token("urn:uuid:expired".to_owned());
        assert!(holds(&[list(None, &[(false, live())])]));
        assert!(!holds(&[list(None, &[(false, stale())])]), "a token no live lock has is false");
        assert!(holds(&[list(None, &[(true, stale())])]), "and its Not is true");
        assert!(!holds(&[list(None, &[(true, live())])]));
        assert!(!holds(&[list(None, &[(false, Token("DAV:no-lock".to_owned()))])]));
        assert!(holds(&[list(None, &[(true, Token("DAV:no-lock".to_owned()))])]));
        assert!(holds(&[list(None, &[(false, live()), (false, ETag(TAG.to_owned()))])]));
        assert!(!holds(&[list(None, &[(false, live()), (false, ETag("\"old\"".to_owned()))])]), "all of a list");
        assert!(holds(&[list(None, &[(false, stale())]), list(None, &[(false, ETag(TAG.to_owned()))])]), "any list");
        assert!(!holds(&[list(None, &[(false, ETag(format!("W/{TAG}")))])]), "tags compare strongly");
        assert!(!holds(&[list(Some("/originals/b"), &[(false, live())])]), "the token is not on b");
        assert!(!holds(&[list(Some("/originals/b"), &[(false, ETag(TAG.to_owned()))])]), "b does not exist");
        assert!(!holds(&[list(Some("http://elsewhere/x"), &[(false, ETag(TAG.to_owned()))])]), "nothing is elsewhere");
        assert!(holds(&[list(Some("http://elsewhere/x"), &[(true, stale())])]));
        assert!(holds(&[list(Some("/originals/a"), &[(false, live())])]));
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        use Ranges::*;
        assert_eq!(ranges_of("bytes=0-9", 100), Parts(vec![(0, 9)]));
        assert_eq!(ranges_of("bytes=-10", 100), Parts(vec![(90, 99)]));
        assert_eq!(ranges_of("bytes=-1000", 100), Parts(vec![(0, 99)]));
        assert_eq!(ranges_of("bytes=90-", 100), Parts(vec![(90, 99)]));
        assert_eq!(ranges_of("bytes=90-1000", 100), Parts(vec![(90, 99)]));
        assert_eq!(ranges_of("BYTES = 0-0 , 5-6", 100), Parts(vec![(0, 0), (5, 6)]));
        assert_eq!(ranges_of("bytes=100-", 100), Unsatisfiable);
        assert_eq!(ranges_of("bytes=-0", 100), Unsatisfiable);
        assert_eq!(ranges_of("bytes=200-300, 100-", 100), Unsatisfiable);
        assert_eq!(ranges_of("bytes=200-300, 1-2", 100), Parts(vec![(1, 2)]));
        for ignored in ["bytes=5-1", "bytes=a-b", "bytes=-", "bytes=1", "items=0-1", "0-1", "bytes=", "bytes=1-2,x"] {
            assert_eq!(ranges_of(ignored, 100), Whole, "{ignored}");
        }
        assert_eq!(ranges_of(&vec!["0-0"; 17].join(","), 100), Whole, "too many ranges");
        let overlapping = format!("bytes={}", vec!["0-"; 16].join(","));
        assert_eq!(ranges_of(&overlapping, 100), Whole, "never more than the file: 16 × the whole file");
        assert_eq!(ranges_of("bytes=0-60,40-99", 100), Whole);
        assert_eq!(ranges_of("bytes=0-49,50-99", 100), Parts(vec![(0, 49), (50, 99)]), "the whole file in parts");
        assert_eq!(ranges_of("bytes=0-1", 0), Whole, "an empty file is sent whole");
    }

    #[test]
    fn if_range_needs_a_strong_match_or_the_exact_date() {
        let with = |cond: &str| ranges(&headers(&[("range", "bytes=0-1"), ("if-range", cond)]), 100, file());
        assert_eq!(with(TAG), Ranges::Parts(vec![(0, 1)]));
        assert_eq!(with("\"other\""), Ranges::Whole);
        assert_eq!(with("W/\"400-5f1\""), Ranges::Whole);
        assert_eq!(with("Fri, 14 Jul 2017 02:40:00 GMT"), Ranges::Parts(vec![(0, 1)]));
        assert_eq!(with("Fri, 14 Jul 2017 02:39:59 GMT"), Ranges::Whole);
    }
}
