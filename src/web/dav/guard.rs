//! Checks on a WebDAV request before it reaches the file system: paths that try to
//! leave the library (`..`, encoded dots or slashes, backslashes), `Destination`
//! headers that point at another server or folder, writes that are not allowed, and
//! the `X-OC-MTime` header of sync apps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};

use crate::web::error::ApiError;

/// Methods that change the library (LOCK can create a file; UNLOCK is its other half).
pub fn is_write(method: &Method) -> bool {
    matches!(method.as_str(), "PUT" | "PATCH" | "DELETE" | "MKCOL" | "COPY" | "MOVE" | "PROPPATCH" | "LOCK" | "UNLOCK")
}

fn bad_path() -> ApiError {
    ApiError::bad_request(
        "The path contains a segment that is not allowed (\"..\", \".\", an encoded slash or a backslash)",
    )
}

/// Refuses a URL path (still percent-encoded) whose segments, decoded, could climb out
/// of the folder or mean something else on another system.
pub fn check_path(raw: &str) -> Result<(), ApiError> {
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
pub fn destination(parts: &Parts, prefix: &str) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get("destination") else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ApiError::bad_request("The Destination header is not valid text"))?;
    let uri: Uri = text.parse().map_err(|_| ApiError::bad_request("The Destination header is not a URL"))?;
    if let Some(authority) = uri.authority() {
        let ours = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(parts.uri.host());
        if !ours.is_some_and(|h| h.eq_ignore_ascii_case(authority.as_str())) {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "foreign_destination",
                "The Destination is on another server",
            ));
        }
    } else if !text.starts_with('/') {
        return Err(ApiError::bad_request("The Destination header must be an absolute URL or path"));
    }
    let path = uri.path();
    check_path(path)?;
    let inside = path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'));
    if !inside {
        return Err(ApiError::forbidden(format!("The Destination must be inside {prefix}/")));
    }
    Ok(Some(path.to_owned()))
}

/// Refuses an `Overwrite` header other than `T` or `F` (RFC 4918 §10.6): a client that
/// meant "no" must not have a file replaced because we guessed "yes".
pub fn overwrite(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get("overwrite").map(|v| v.as_bytes()) {
        None | Some(b"T" | b"F") => Ok(()),
        Some(_) => Err(ApiError::bad_request("The Overwrite header must be T or F")),
    }
}

/// The modification time a sync app asks for (`X-OC-MTime`: Unix seconds).
pub fn oc_mtime(headers: &HeaderMap) -> Result<Option<SystemTime>, ApiError> {
    let Some(value) = headers.get("x-oc-mtime") else {
        return Ok(None);
    };
    let bad = || ApiError::bad_request("X-OC-MTime must be a Unix time in seconds");
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
