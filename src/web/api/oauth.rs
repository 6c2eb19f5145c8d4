//! OAuth2 endpoints: `/api/v1/oauth/token` (app passwords with `grant_type=password`,
//! client tokens with `grant_type=client_credentials`), `/api/v1/oauth/revoke`
//! (RFC 7009) and `/.well-known/oauth-authorization-server` (RFC 8414).

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::scope::Resource;
use crate::service::Gatehouse;
use crate::service::clients::GrantError;
use crate::service::credentials::parse_basic;
use crate::web::auth::WebUser;
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, request_meta};

pub fn router() -> Router<Gatehouse> {
    Router::new()
        .route("/api/v1/oauth/token", post(token))
        .route("/api/v1/oauth/revoke", post(revoke))
        .route("/.well-known/oauth-authorization-server", get(metadata))
}

/// The token request, as JSON or as a form (RFC 6749 §4.4.2).
#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    #[serde(default)]
    grant_type: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    client_name: Option<String>,
    expires_in: Option<Seconds>,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

/// Seconds as a JSON number or as text (forms carry only text).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(i64),
    Text(String),
}

/// An error in RFC 6749 §5.2 form, with our usual `message` too.
fn oauth_error(status: StatusCode, code: &'static str, description: impl Into<String>) -> ApiError {
    let description = description.into();
    ApiError::new(status, code, description.clone()).with_extra(json!({ "error_description": description }))
}

/// Reads a JSON or form body into a [`TokenRequest`], keeping the request head.
async fn split_body(req: Request, max: usize) -> Result<(axum::http::request::Parts, TokenRequest), ApiError> {
    let (parts, body) = req.into_parts();
    let content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let bytes = axum::body::to_bytes(body, max).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is too large")
    })?;
    let rebuilt = Request::builder()
        .method(axum::http::Method::POST)
        .header(CONTENT_TYPE, &content_type)
        .body(Body::from(bytes))
        .map_err(|_| ApiError::bad_request("The request could not be read"))?;
    let parsed = if content_type.starts_with("application/x-www-form-urlencoded") {
        axum::Form::<TokenRequest>::from_request(rebuilt, &())
            .await
            .map(|f| f.0)
            .map_err(|_| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "The form body is malformed"))?
    } else {
        ApiJson::<TokenRequest>::from_request(rebuilt, &()).await?.0
    };
    Ok((parts, parsed))
}

fn expires_in(v: Option<&Seconds>) -> Result<i64, ApiError> {
    match v {
        None => Ok(0),
        Some(Seconds::Number(n)) => Ok(*n),
        Some(Seconds::Text(s)) if s.trim().is_empty() => Ok(0),
        Some(Seconds::Text(s)) => s.trim().parse().map_err(|_| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "expires_in must be whole seconds")
        }),
    }
}

async fn token(State(app): State<Gatehouse>, req: Request) -> Result<Json<Value>, ApiError> {
    let (mut parts, body) = split_body(req, app.settings.max_body).await?;
    let meta = request_meta(&parts, &app);
    match body.grant_type.as_str() {
        "password" => {
            // App passwords are made from a logged-in web session, never by another
            // app password, and only after the account password is checked again.
            let web = WebUser::from_request_parts(&mut parts, &app).await?;
            let name = body.username.as_deref().unwrap_or(&web.user.username);
            if !name.eq_ignore_ascii_case(&web.user.username) {
                return Err(ApiError::forbidden("App passwords can only be created for your own account"));
            }
            let password = body.password.as_deref().unwrap_or("");
            app.confirm_password(&web.user, password, &meta).await?;
            let client_name = body.client_name.as_deref().unwrap_or("");
            let scope = body.scope.as_deref().unwrap_or("");
            let lifetime = expires_in(body.expires_in.as_ref())?;
            let actor = format!("user:{}", web.user.username);
            let issued = app.create_app_password(&web.user, client_name, scope, lifetime, &actor, &meta).await?;
            Ok(Json(issued.json()))
        }
        "client_credentials" => {
            let basic = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(parse_basic);
            let (id, secret) = match (basic, body.client_id, body.client_secret) {
                (Some((id, secret)), _, _) => (id, secret),
                (None, Some(id), Some(secret)) => (id, secret),
                _ => {
                    return Err(oauth_error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        "Send client_id and client_secret, in the body or with HTTP Basic",
                    ));
                }
            };
            match app.client_credentials_grant(&id, &secret, body.scope.as_deref(), &meta).await {
                Ok(issued) => Ok(Json(issued.json())),
                Err(GrantError::InvalidClient) => {
                    let mut err = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client credentials");
                    err.www_authenticate = Some(r#"Basic realm="gatehouse""#);
                    Err(err)
                }
                Err(GrantError::InvalidScope(m)) => Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", m)),
                Err(GrantError::Service(s)) => Err(s.into()),
            }
        }
        "" => Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required")),
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be \"password\" or \"client_credentials\"",
        )),
    }
}

async fn revoke(State(app): State<Gatehouse>, req: Request) -> Result<Json<Value>, ApiError> {
    let (mut parts, body) = split_body(req, app.settings.max_body).await?;
    let web = WebUser::from_request_parts(&mut parts, &app).await?;
    let meta = request_meta(&parts, &app);
    let token = body.token.as_deref().map(str::trim).filter(|t| !t.is_empty() && t.len() <= 256).ok_or_else(|| {
        oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token is required: the app password or session id")
    })?;
    app.revoke(&web.user, token, &meta).await?;
    Ok(Json(json!({ "status": "revoked" })))
}

/// The issuer URL from the Host header, if it is a plain host name or address.
fn issuer(headers: &HeaderMap, secure: bool) -> String {
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.len() < 256)
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        .unwrap_or("localhost");
    format!("{}://{host}", if secure { "https" } else { "http" })
}

async fn metadata(State(app): State<Gatehouse>, headers: HeaderMap) -> Json<Value> {
    let base = issuer(&headers, app.settings.secure_cookies);
    let mut scopes: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
    scopes.extend(["*", "read", "write"]);
    Json(json!({
        "issuer": base,
        "token_endpoint": format!("{base}/api/v1/oauth/token"),
        "revocation_endpoint": format!("{base}/api/v1/oauth/revoke"),
        "grant_types_supported": ["client_credentials", "password"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": [],
        "scopes_supported": scopes,
    }))
}
