//! The `Allow` header (RFC 9110 §10.2.1) of `OPTIONS` answers and of every `405`: the
//! methods that work on that resource — a file, a folder, the library folder itself
//! (never deleted or moved) or a name not yet taken — for this credential.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, header};
use dav_server::davpath::DavPath;

use super::guard;
use super::library::Library;

/// What a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Root,
    Folder,
    File,
    Missing,
}

/// The methods that work on a resource of `kind`, in a stable order.
pub fn methods(kind: Kind, may_write: bool) -> String {
    let all: &[&str] = match kind {
        Kind::File => &[
            "OPTIONS",
            "GET",
            "HEAD",
            "PUT",
            "PATCH",
            "DELETE",
            "PROPFIND",
            "PROPPATCH",
            "COPY",
            "MOVE",
            "LOCK",
            "UNLOCK",
        ],
        Kind::Folder => &["OPTIONS", "DELETE", "PROPFIND", "PROPPATCH", "COPY", "MOVE", "LOCK", "UNLOCK"],
        Kind::Root => &["OPTIONS", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK"],
        Kind::Missing => &["OPTIONS", "PUT", "MKCOL", "LOCK"],
    };
    let allowed =
        all.iter().filter(|m| may_write || !Method::from_bytes(m.as_bytes()).is_ok_and(|m| guard::is_write(&m)));
    allowed.copied().collect::<Vec<_>>().join(", ")
}

/// Whether a `501` from dav-server for `method` is answered `405` with `Allow`
/// instead: every method it does not implement (POST, TRACE, REPORT, SEARCH, or one
/// nobody has heard of) is simply not allowed on a library resource, and `Allow` says
/// what is — a client learns more from that than from "not implemented".
pub fn never_allowed(method: &Method) -> bool {
    !matches!(
        method.as_str(),
        "GET"
            | "HEAD"
            | "PUT"
            | "DELETE"
            | "OPTIONS"
            | "PROPFIND"
            | "PROPPATCH"
            | "MKCOL"
            | "COPY"
            | "MOVE"
            | "LOCK"
            | "UNLOCK"
            | "PATCH"
    )
}

/// What `url_path` names in `lib`. Blocking work runs on the disk thread.
pub async fn kind(lib: &Arc<Library>, url_path: &str) -> Kind {
    let rest = url_path.strip_prefix(lib.prefix()).unwrap_or(url_path);
    if rest.trim_matches('/').is_empty() {
        return Kind::Root;
    }
    let Ok(mut path) = DavPath::new(url_path) else { return Kind::Missing };
    if path.set_prefix(lib.prefix()).is_err() {
        return Kind::Missing;
    }
    let Ok(p) = super::library::rel(&path) else { return Kind::Missing };
    match lib.storage.stat(&p).await {
        Ok(m) if m.is_dir => Kind::Folder,
        Ok(_) => Kind::File,
        Err(_) => Kind::Missing,
    }
}

/// Sets `Allow` on an answer about `url_path`.
pub async fn set(lib: &Arc<Library>, url_path: &str, may_write: bool, headers: &mut HeaderMap) {
    let list = methods(kind(lib, url_path).await, may_write);
    if let Ok(v) = HeaderValue::try_from(list) {
        headers.insert(header::ALLOW, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_name_only_what_works() {
        assert_eq!(methods(Kind::Root, true), "OPTIONS, PROPFIND, PROPPATCH, LOCK, UNLOCK");
        assert_eq!(methods(Kind::Missing, true), "OPTIONS, PUT, MKCOL, LOCK");
        assert_eq!(methods(Kind::File, false), "OPTIONS, GET, HEAD, PROPFIND");
        assert!(!methods(Kind::Folder, true).contains("GET"));
    }
}
