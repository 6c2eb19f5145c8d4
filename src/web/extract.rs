//! Request extractors whose failures are JSON API errors, and the client's address.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::zerocopy::Peer;
use crate::service::{Gatehouse, RequestMeta};

/// A JSON body; malformed JSON, wrong types, missing fields, a wrong content type, an
/// oversized body or one nested deeper than [`MAX_JSON_DEPTH`] become 4xx JSON errors.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// The deepest nesting of arrays and objects a JSON body may have. The API's bodies are
/// flat; the bound refuses deep input everywhere, also inside fields a handler ignores
/// (which serde skips without its own depth limit).
pub const MAX_JSON_DEPTH: usize = 32;

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the request body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is too large")
            } else {
                ApiError::bad_request("The request body could not be read")
            }
        })?;
        if !nesting_within(&bytes, MAX_JSON_DEPTH) {
            return Err(ApiError::bad_request(format!(
                "The JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
            )));
        }
        // Every body of the API is an object; serde would also take an array for a
        // struct (its fields by position), so the shape is checked here, once.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&b| b != b'{') {
            return Err(ApiError::bad_request("The request body must be a JSON object"));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// `application/json` or `application/…+json`, as axum's own `Json` requires.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether arrays and objects in `json` nest at most `max` deep; one pass, no recursion,
/// brackets inside strings do not count.
fn nesting_within(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

fn json_rejection(r: &JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", clip(&e.body_text()))
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("The request body is not valid JSON"),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the request body as JSON with Content-Type: application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is too large")
        }
        _ => ApiError::bad_request("The request body could not be read"),
    }
}

/// serde's messages can quote input; keep them short.
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Path parameters with JSON errors.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| ApiError::bad_request(clip(&e.body_text())))
    }
}

/// Query parameters with JSON errors.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::bad_request(clip(&e.body_text())))
    }
}

/// The client's address and user agent. `X-Forwarded-For` is believed only when the
/// direct peer is a configured trusted proxy; then the right-most address that is not
/// itself a trusted proxy is the client.
pub fn request_meta(parts: &Parts, app: &Gatehouse) -> RequestMeta {
    let peer = parts.extensions.get::<ConnectInfo<Peer>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.addr.ip());
    let mut ip = peer;
    if app.settings.is_trusted_proxy(peer) {
        let hops = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        // Only the right-most hops can have been added by our own proxies; a long list
        // is a client's invention and ends the walk where the bound is reached.
        for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
            match hop.parse::<IpAddr>() {
                Ok(addr) if app.settings.is_trusted_proxy(addr) => ip = addr,
                Ok(addr) => {
                    ip = addr;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(256)
        .collect();
    RequestMeta { ip: canonical(ip), user_agent, device: device_cookie(parts) }
}

/// The cookie that marks the owner's browser for the brute-force limits.
pub const DEVICE_COOKIE: &str = "gatehouse_device";

/// The device cookie's value, if the request carries one (checked by the throttle).
fn device_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .take(64)
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == DEVICE_COOKIE)
        .map(|(_, value)| value.trim().chars().take(256).collect())
}

/// How many `X-Forwarded-For` hops, from the right, are examined at most.
const MAX_FORWARDED_HOPS: usize = 16;

/// IPv4-mapped IPv6 addresses are the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Extractor for [`RequestMeta`].
#[derive(Debug, Clone)]
pub struct Meta(pub RequestMeta);

impl FromRequestParts<Gatehouse> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        Ok(Meta(request_meta(parts, app)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_outside_strings_only() {
        assert!(nesting_within(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(!nesting_within(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(nesting_within(br#"{"a":"[[[[{{{{\"[[["}"#, 1), "brackets in strings do not nest");
        assert!(!nesting_within("[".repeat(100_000).as_bytes(), MAX_JSON_DEPTH));
        assert!(nesting_within(b"", 0));
    }

    #[test]
    fn json_content_types_are_recognised() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, axum::http::HeaderValue::from_static(v));
            json_content_type(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/jsonx"));
        assert!(!json_content_type(&HeaderMap::new()));
    }
}
