//! PROPPATCH of a file's times, as sync apps and Windows send it: `DAV:lastmodified`
//! (Nextcloud's clients; Unix seconds or an HTTP date), `DAV:getlastmodified`, and the
//! `Win32*Time`/`Win32FileAttributes` set of Windows' WebDAV client. dav-server
//! answers these itself without touching the file (403 for the DAV: ones, a pretended
//! 200 for Windows'), so a request that sets only such properties is answered here:
//! the modification time is given to the file, on a folder library and on S3 alike,
//! and PROPFIND and GET show it, under the same preconditions and locks as any write.
//! Anything else in the body leaves the request to dav-server.

use std::time::SystemTime;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use dav_server::ls::DavLockSystem as _;

use super::error::{DavError, push_escaped};
use super::library::{Library, fs_error, rel};
use super::locks::DbLocks;
use super::{Checked, preconditions};
use crate::library::Rel;
use crate::service::Gatehouse;

const DAV: &str = "DAV:";
const MS: &str = "urn:schemas-microsoft-com:";

/// One property of the request.
struct Prop {
    set: bool,
    namespace: String,
    name: String,
    /// For a time that is applied: the time, or `None` if the value is not one.
    time: Option<Option<SystemTime>>,
}

/// What a time property's text means: Unix seconds, or an HTTP date; `None` for a
/// time the formats we answer in cannot show (so it is refused, never stored).
fn parse_time(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let t = match text.parse::<u64>() {
        Ok(secs) => SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs)),
        Err(_) => httpdate::parse_http_date(text).ok(),
    }?;
    crate::clock::is_showable(t).then_some(t)
}

/// The properties of a `propertyupdate` body if every one is a time property; `None`
/// otherwise (dav-server answers it).
fn time_props(body: &[u8]) -> Option<Vec<Prop>> {
    let root = xmltree::Element::parse(body).ok()?;
    if root.name != "propertyupdate" || root.namespace.as_deref() != Some(DAV) {
        return None;
    }
    let mut out = Vec::new();
    for action in root.children.iter().filter_map(xmltree::XMLNode::as_element) {
        let set = match (action.namespace.as_deref(), action.name.as_str()) {
            (Some(DAV), "set") => true,
            (Some(DAV), "remove") => false,
            _ => return None,
        };
        for prop in action.children.iter().filter_map(xmltree::XMLNode::as_element) {
            if prop.namespace.as_deref() != Some(DAV) || prop.name != "prop" {
                return None;
            }
            for p in prop.children.iter().filter_map(xmltree::XMLNode::as_element) {
                let namespace = p.namespace.clone().unwrap_or_default();
                let applied = match (namespace.as_str(), p.name.as_str()) {
                    (DAV, "lastmodified" | "getlastmodified") | (MS, "Win32LastModifiedTime") => true,
                    (MS, "Win32CreationTime" | "Win32LastAccessTime" | "Win32FileAttributes") => false,
                    _ => return None,
                };
                let text = p.get_text().map(|t| t.into_owned()).unwrap_or_default();
                let time = applied.then(|| parse_time(&text));
                out.push(Prop { set, namespace, name: p.name.clone(), time });
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Answers the PROPPATCH in `parts` with `body` if it only sets times; `None` leaves
/// it to dav-server. The write is held to what every other is: its preconditions
/// (`If` already in [`super::prepare`], `If-Match` and the like here) and the locks
/// on the resource, by the lock system's own rule.
pub async fn answer(
    checked: &Checked,
    app: &Gatehouse,
    parts: &Parts,
    body: &[u8],
) -> Option<Result<Response, DavError>> {
    let props = time_props(body)?;
    let mut path = dav_server::davpath::DavPath::new(parts.uri.path()).ok()?;
    path.set_prefix(checked.lib.prefix()).ok()?;
    Some(apply(checked, app, parts, &path, props).await)
}

async fn apply(
    checked: &Checked,
    app: &Gatehouse,
    parts: &Parts,
    path: &dav_server::davpath::DavPath,
    props: Vec<Prop>,
) -> Result<Response, DavError> {
    let lib = &checked.lib;
    let p = rel(path).map_err(|_| DavError::new(StatusCode::NOT_FOUND, "Not found"))?;
    let meta = lib.storage.stat(&p).await.map_err(|e| match fs_error(&e) {
        dav_server::fs::FsError::NotFound => DavError::new(StatusCode::NOT_FOUND, "Not found"),
        _ => DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The library cannot be read"),
    })?;
    preconditions::check_write(&parts.headers, &meta)?;
    let locks = DbLocks::new(app, lib.name, lib.prefix().to_owned(), checked.user.clone());
    if let Err(lock) = locks.check(path, Some(&checked.user.uid), false, false, &checked.tokens).await {
        return Err(if lock.token.is_empty() {
            DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The lock table cannot be read")
        } else {
            DavError::new(StatusCode::LOCKED, "The resource is locked; submit the lock's token in an If header")
                .condition("lock-token-submitted")
        });
    }
    let mut statuses: Vec<StatusCode> = props
        .iter()
        .map(|prop| match (prop.set, prop.time) {
            // Live properties cannot be removed (RFC 4918 §9.2).
            (false, _) => StatusCode::FORBIDDEN,
            // A value whose meaning does not fit the property (RFC 4918 §9.2.1).
            (true, Some(None)) => StatusCode::CONFLICT,
            (true, _) => StatusCode::OK,
        })
        .collect();
    if statuses.iter().all(|s| *s == StatusCode::OK)
        && let Some(t) = props.iter().filter_map(|p| p.time.flatten()).next_back()
        && !keep_time(lib, &p, t, meta.modified).await?
    {
        // The file system cannot keep this time (ext4 ends in 2446): refused, as a
        // time the formats cannot show is, rather than silently kept as another.
        for (s, prop) in statuses.iter_mut().zip(&props) {
            if prop.time.is_some() {
                *s = StatusCode::CONFLICT;
            }
        }
    }
    if statuses.iter().any(|s| *s != StatusCode::OK) {
        // All or nothing: the rest failed because of these.
        for s in &mut statuses {
            if *s == StatusCode::OK {
                *s = StatusCode::FAILED_DEPENDENCY;
            }
        }
    }
    Ok(multistatus(&path.with_prefix().as_url_string(), &props, &statuses))
}

/// Gives the file at `p` the time `t`; false (and the file's time left at `was`) if
/// the library keeps another time than the one asked for, to the second.
async fn keep_time(lib: &Library, p: &Rel, t: SystemTime, was: SystemTime) -> Result<bool, DavError> {
    let failed = |e: std::io::Error| match fs_error(&e) {
        dav_server::fs::FsError::Forbidden => DavError::forbidden("Not allowed here"),
        _ => DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The time cannot be kept"),
    };
    let seconds = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    lib.storage.set_modified(p, t).await.map_err(failed)?;
    let kept = lib.storage.stat(p).await.map_err(failed)?.modified;
    if seconds(kept) == seconds(t) {
        return Ok(true);
    }
    lib.storage.set_modified(p, was).await.map_err(failed)?;
    Ok(false)
}

/// The 207 answer: one propstat per status, in the order statuses first appear.
fn multistatus(href: &str, props: &[Prop], statuses: &[StatusCode]) -> Response {
    let mut xml =
        String::from(r#"<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>"#);
    push_escaped(&mut xml, href);
    xml.push_str("</D:href>");
    let mut seen: Vec<StatusCode> = Vec::new();
    for s in statuses {
        if seen.contains(s) {
            continue;
        }
        seen.push(*s);
        xml.push_str("<D:propstat><D:prop>");
        for (prop, _) in props.iter().zip(statuses).filter(|(_, st)| *st == s) {
            xml.push_str("<P:");
            xml.push_str(&prop.name);
            xml.push_str(" xmlns:P=\"");
            push_escaped(&mut xml, &prop.namespace);
            xml.push_str("\"/>");
        }
        xml.push_str("</D:prop><D:status>HTTP/1.1 ");
        xml.push_str(s.as_str());
        xml.push(' ');
        xml.push_str(s.canonical_reason().unwrap_or_default());
        xml.push_str("</D:status></D:propstat>");
    }
    xml.push_str("</D:response></D:multistatus>");
    let mut resp = Response::new(Body::from(xml));
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body(props: &str) -> Vec<u8> {
        format!(r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>{props}</D:prop></D:set></D:propertyupdate>"#).into_bytes()
    }

    #[test]
    fn only_bodies_of_time_properties_are_taken() {
        let p = time_props(&body("<D:lastmodified>1600000000</D:lastmodified>")).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].time, Some(SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(1_600_000_000))));
        let windows = "<Z:Win32CreationTime>Mon, 01 Jan 2001 00:00:00 GMT</Z:Win32CreationTime>\
            <Z:Win32LastModifiedTime>Tue, 02 Feb 2010 10:00:00 GMT</Z:Win32LastModifiedTime>\
            <Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>";
        let p = time_props(&body(windows)).unwrap();
        assert_eq!(p.iter().filter(|p| p.time.is_some()).count(), 1);
        assert_eq!(time_props(&body("<D:lastmodified>soon</D:lastmodified>")).unwrap()[0].time, Some(None));
        let too_late = body("<D:lastmodified>253402300800</D:lastmodified>");
        assert_eq!(time_props(&too_late).unwrap()[0].time, Some(None), "past 9999 is refused");
        assert!(time_props(&body("<D:lastmodified>1</D:lastmodified><X:tag xmlns:X=\"urn:x\">t</X:tag>")).is_none());
        assert!(time_props(&body("<D:displayname>x</D:displayname>")).is_none());
        assert!(time_props(b"<D:propfind xmlns:D=\"DAV:\"/>").is_none());
        assert!(time_props(b"not xml").is_none());
    }
}
