//! Request extractors whose failures are JSON API errors, and the client's address.

use std::net::IpAddr;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::zerocopy::Peer;
use crate::service::{Gatehouse, RequestMeta};

/// A JSON body; malformed JSON, wrong types, missing fields, a wrong content type or an
/// oversized body become 4xx JSON errors.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
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
        for hop in hops.iter().rev() {
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
    RequestMeta { ip: canonical(ip), user_agent }
}

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
