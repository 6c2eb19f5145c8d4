//! The preconditions of a WebDAV request, decided in one place before anything acts on
//! it: its `If` header (RFC 4918 §10.4) on every method, against the resources as they
//! are now — their entity tags and live locks — and, for a write answered here rather
//! than by dav-server (a time-only PROPPATCH), `If-Match`, `If-Unmodified-Since` and
//! `If-None-Match`. dav-server would let a lock token that no longer names a lock count
//! as true when the resource is unlocked; here it is false, so a write made under an
//! expired lock is refused (412) instead of overwriting what others wrote since.

use crate::domain::access::{Reach, Standing};
use axum::http::{HeaderMap, StatusCode};

use super::conditional::{Current, IfList, Validators, if_holds, write_holds};
use super::error::DavError;
use super::get::quoted_etag;
use super::library::{Library, key, rel};
use super::{dav_path, locks};
use crate::library::Meta;
use crate::service::Gatehouse;

fn failed(message: &str) -> DavError {
    DavError::new(StatusCode::PRECONDITION_FAILED, message)
}

/// Refuses a request whose `If` lists (parsed by [`super::guard::if_lists`]) do not
/// hold for the request's resource at `url_path` and the resources the lists name.
/// Each distinct resource is looked up once (at most as many as the header's bounded
/// conditions).
pub async fn check_if(
    app: &Gatehouse,
    lib: &Library,
    reach: &Reach,
    url_path: &str,
    lists: &[IfList],
) -> Result<(), DavError> {
    if lists.is_empty() {
        return Ok(());
    }
    let mut known: Vec<(Option<&str>, Option<Current>)> = Vec::new();
    for list in lists {
        let resource = list.resource.as_deref();
        if known.iter().any(|(r, _)| *r == resource) {
            continue;
        }
        let path = match resource {
            None => Some(url_path),
            Some(url) => local_path(url),
        };
        let current = match path {
            Some(p) => current(app, lib, reach, p).await?,
            None => None,
        };
        known.push((resource, current));
    }
    let holds = if_holds(lists, |r| known.iter().find(|(k, _)| *k == r).and_then(|(_, c)| c.as_ref()));
    if holds {
        Ok(())
    } else {
        Err(failed(
            "The If header does not hold: a lock token that names no live lock here, or an entity tag that is not the resource's",
        ))
    }
}

/// The path of a Resource-Tag: an absolute URI's path, or an absolute path.
fn local_path(url: &str) -> Option<&str> {
    if url.starts_with('/') {
        return Some(url);
    }
    let after_scheme = url.split_once("://")?.1;
    let path = &after_scheme[after_scheme.find('/')?..];
    Some(path.split(['?', '#']).next().unwrap_or(path))
}

/// A resource of this library as `If` sees it; `None` for a path outside it, or outside
/// what the account may look at inside (its own grants): a tag naming someone else's
/// file tells nothing of it, whether it exists or not.
async fn current(app: &Gatehouse, lib: &Library, reach: &Reach, url_path: &str) -> Result<Option<Current>, DavError> {
    let Ok(path) = dav_path(url_path, lib.prefix()) else { return Ok(None) };
    let etag = match rel(&path) {
        Ok(p) if !matches!(reach.standing_of(lib.name, p.as_bytes()), Standing::Inside(_)) => return Ok(None),
        Ok(p) => lib.storage.stat(&p).await.ok().and_then(|m| quoted_etag(&m)),
        Err(_) => None,
    };
    let lock_tokens = locks::covering_tokens(app, lib.name, &key(&path)).await?;
    Ok(Some(Current { etag, lock_tokens }))
}

/// Refuses a write to the existing resource `meta` that `If-Match`,
/// `If-Unmodified-Since` or `If-None-Match` rule out.
pub fn check_write(headers: &HeaderMap, meta: &Meta) -> Result<(), DavError> {
    let etag = quoted_etag(meta);
    let v = Validators { etag: etag.as_deref(), modified: Some(meta.modified) };
    if write_holds(headers, v) {
        Ok(())
    } else {
        Err(failed(
            "The resource is not the version the request's If-Match, If-None-Match or If-Unmodified-Since names",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_tags_name_paths() {
        assert_eq!(local_path("/originals/a"), Some("/originals/a"));
        assert_eq!(local_path("http://host:8080/originals/a%20b?x#y"), Some("/originals/a%20b"));
        assert_eq!(local_path("https://host"), None);
        assert_eq!(local_path("urn:x"), None);
    }
}
