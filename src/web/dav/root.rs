//! The server's root as WebDAV clients see it. Windows' "Map network drive", macOS
//! Finder, GNOME Files and PhotoSync start at `http://HOST/`: `PROPFIND /` (Depth 0, or
//! 1 and without Depth alike) answers a read-only folder that lists the libraries
//! (`originals/`, `import/`), and `OPTIONS /` says this is a WebDAV server. Both need
//! the same credentials as the libraries; every other method on `/` is the web UI's.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};

use super::access::above_meta;
use super::error::DavError;
use super::guard::{self, Depth};
use super::multistatus::Writer;
use super::{Folders, propfind, read_xml};
use crate::domain::access::Standing;
use crate::library::Rel;
use crate::service::Gatehouse;
use crate::web::auth::DavUser;

/// Whether a request for `/` is WebDAV's rather than the web UI's.
pub fn wants(method: &Method) -> bool {
    matches!(method.as_str(), "PROPFIND" | "OPTIONS")
}

/// Answers `PROPFIND /` or `OPTIONS /`.
pub async fn serve<B>(app: &Gatehouse, folders: &Folders, req: axum::http::Request<B>) -> Response
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    answer(app, folders, req).await.unwrap_or_else(|e| e.into_response())
}

async fn answer<B>(app: &Gatehouse, folders: &Folders, req: axum::http::Request<B>) -> Result<Response, DavError>
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let (parts, body) = req.into_parts();
    let user = DavUser::resolve(&parts, app).await?;
    let reach = app.reach(&user.user, user.limit.as_ref()).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the account's folder grants");
        DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The account's folders cannot be read now; try again")
    })?;
    let depth = guard::depth(&parts.method, &parts.headers)?;
    let body = read_xml(body, &parts.method).await?;
    if parts.method == Method::OPTIONS {
        if !body.is_empty() {
            return Err(DavError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "OPTIONS takes no body"));
        }
        let mut resp = Response::new(Body::empty());
        let h = resp.headers_mut();
        h.insert("dav", HeaderValue::from_static("1, 2"));
        h.insert("ms-author-via", HeaderValue::from_static("DAV"));
        h.insert(header::ALLOW, HeaderValue::from_static("OPTIONS, GET, HEAD, PROPFIND"));
        return Ok(resp);
    }
    let wanted = propfind::asked(&body)?;
    // No locks are shown here (none can be taken on `/`), so the time is not needed.
    let mut w = Writer::new(Vec::new(), "", 0, 4096);
    w.response("/", b"", "/", &above_meta(), &[], &wanted);
    if depth != Some(Depth::Zero) {
        // Only the libraries that lead to the account's folders; of a library it only
        // leads through, nothing of when others changed it.
        for (name, lib) in folders.0.iter().filter(|(name, _)| reach.libraries().any(|l| l == *name)) {
            let Some(lib) = lib else { continue };
            let meta = match reach.standing_of(name, b"") {
                Standing::Inside(_) => lib.storage.stat(&Rel::root()).await.unwrap_or(above_meta()),
                _ => above_meta(),
            };
            w.response(&format!("/{name}/"), name.as_bytes(), "/", &meta, &[], &wanted);
        }
    }
    w.close();
    let mut resp = Response::new(Body::from(w.take()));
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}
