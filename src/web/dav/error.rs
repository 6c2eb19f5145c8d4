//! WebDAV's error answers: RFC 4918 §16 `<D:error>` bodies, with a precondition element
//! where the RFC names one (`propfind-finite-depth`, `lock-token-submitted`, …) and our
//! stable code and sentence in our own namespace (allowed by §16's "any" content).
//! Every refusal on `/originals` and `/import` — ours, the authentication layer's and
//! dav-server's bare status codes — leaves as one of these, never as the API's JSON.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::web::error::{ApiError, code_for_status};

/// The namespace of our own elements inside `<D:error>`.
const NS: &str = "urn:gatehouse:error";

#[derive(Debug)]
pub struct DavError {
    pub status: StatusCode,
    /// An RFC 4918 precondition or postcondition element name (namespace `DAV:`).
    pub condition: Option<&'static str>,
    pub code: &'static str,
    pub message: String,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl DavError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> DavError {
        DavError {
            status,
            condition: None,
            code: code_for_status(status),
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> DavError {
        DavError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> DavError {
        DavError::new(StatusCode::FORBIDDEN, message)
    }

    /// With the RFC 4918 condition element `name`.
    pub fn condition(mut self, name: &'static str) -> DavError {
        self.condition = Some(name);
        self
    }

    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> DavError {
        self.headers.push((name, value));
        self
    }
}

impl From<ApiError> for DavError {
    fn from(e: ApiError) -> DavError {
        let mut out = DavError { status: e.status, condition: None, code: e.code, message: e.message, headers: vec![] };
        if let Some(secs) = e.retry_after.and_then(|s| HeaderValue::from_str(&s.max(1).to_string()).ok()) {
            out.headers.push((header::RETRY_AFTER, secs));
        }
        if let Some(challenge) = e.www_authenticate {
            out.headers.push((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
        }
        out
    }
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(body(self.condition, self.code, &self.message)));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
        for (name, value) in self.headers {
            resp.headers_mut().insert(name, value);
        }
        resp
    }
}

fn body(condition: Option<&str>, code: &str, message: &str) -> String {
    let mut out = String::with_capacity(160 + message.len());
    out.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    out.push_str(r#"<D:error xmlns:D="DAV:" xmlns:g=""#);
    out.push_str(NS);
    out.push_str(r#"">"#);
    if let Some(c) = condition {
        out.push_str("<D:");
        out.push_str(c);
        out.push_str("/>");
    }
    out.push_str("<g:code>");
    push_escaped(&mut out, code);
    out.push_str("</g:code><g:message>");
    push_escaped(&mut out, message);
    out.push_str("</g:message></D:error>");
    out
}

pub use crate::domain::xml::push_escaped;

/// What every WebDAV answer passes through last: an error status that dav-server sent
/// with an empty body gets its `<D:error>` body; an answer that already has one keeps it.
pub fn finish(mut resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let has_xml = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/xml") || ct.starts_with("text/xml"));
    if has_xml {
        return resp;
    }
    let message = status.canonical_reason().unwrap_or("Error");
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    h.remove(header::CONTENT_LENGTH);
    *resp.body_mut() = Body::from(body(None, code_for_status(status), message));
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_rfc4918_xml_with_our_code() {
        let text = body(Some("propfind-finite-depth"), "forbidden", "a < b & \"c\"");
        let root = xmltree::Element::parse(text.as_bytes()).unwrap();
        assert_eq!((root.name.as_str(), root.namespace.as_deref()), ("error", Some("DAV:")));
        let cond = root.get_child(("propfind-finite-depth", "DAV:")).unwrap();
        assert!(cond.children.is_empty());
        let msg = root.get_child(("message", NS)).unwrap();
        assert_eq!(msg.get_text().unwrap(), "a < b & \"c\"");
    }
}
