//! OAuth2 endpoints: `/api/v1/oauth/token` (app passwords with `grant_type=password`,
//! client tokens with `grant_type=client_credentials`), `/api/v1/oauth/revoke`
//! (RFC 7009) and `/.well-known/oauth-authorization-server` (RFC 8414).

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::domain::access::{Grant, Level};
use crate::domain::scope::Resource;
use crate::service::Gatehouse;
use crate::service::access::parse_folder;
use crate::service::clients::GrantError;
use crate::service::credentials::parse_basic;
use crate::service::tokens::IssuedCredential;
use crate::web::api::openapi::{Done, ErrorBody, LoginErrors, ThrottleErrors};
use crate::web::auth::WebUser;
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, request_meta};

pub fn router() -> Router<Gatehouse> {
    Router::new()
        .route("/api/v1/oauth/token", post(token))
        .route("/api/v1/oauth/revoke", post(revoke))
        .route("/.well-known/oauth-authorization-server", get(metadata))
}

/// The token request, as JSON or as a form (RFC 6749 §4.4.2). `password` makes an app
/// password from a logged-in web session (`client_name`, `scope`, `expires_in`,
/// `username`, `password`, and optionally `path` and `access`); `client_credentials` gives an OAuth2 client a token
/// (`client_id` and `client_secret` here or with HTTP Basic, an optional narrower
/// `scope`). The revocation request uses `token` only.
#[derive(Debug, Default, Deserialize, ToSchema)]
struct TokenRequest {
    #[serde(default)]
    #[schema(value_type = GrantType, required = true)]
    grant_type: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    client_name: Option<String>,
    expires_in: Option<Seconds>,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    /// App passwords only: the one folder it may reach over WebDAV (`/originals/alice/`),
    /// with `access`; never more than the account reaches.
    #[schema(max_length = 1024, example = "/originals/alice/")]
    path: Option<String>,
    /// App passwords only, with `path`: `read`, `write`, or `append` (add new files and
    /// folders, never change or delete what exists: what a phone backup needs).
    #[schema(value_type = Option<LimitAccess>)]
    access: Option<String>,
}

/// The levels an app password may be limited to.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documentation only: the handler parses the string
enum LimitAccess {
    Read,
    Append,
    Write,
}

/// A form's empty field is no field.
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// The folder and level an app password asks to be limited to; both or neither.
fn dav_limit(path: Option<&str>, access: Option<&str>) -> Result<Option<Grant>, ApiError> {
    let invalid = |m: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m);
    match (given(path), given(access)) {
        (None, None) => Ok(None),
        (Some(path), Some(access)) => {
            let level = Level::parse(access).ok_or_else(|| invalid("access must be read, write or append"))?;
            Ok(Some(Grant::new(parse_folder(path)?, level)))
        }
        _ => Err(invalid("path and access go together: give both to limit an app password to a folder")),
    }
}

/// The grants the token endpoint knows.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only: the handler matches on the string
enum GrantType {
    Password,
    ClientCredentials,
}

/// The revocation request (RFC 7009), as JSON or as a form.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the handler reads a [`TokenRequest`]
struct RevokeRequest {
    /// The app password, or a session id (`sess…`) of the caller's own sessions.
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    token: String,
}

/// Seconds as a JSON number or as text (forms carry only text); 0 means never.
#[derive(Debug, Deserialize, ToSchema)]
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

/// An issued token (RFC 6749 §5.1); the `access_token` is shown only here.
#[derive(Serialize, ToSchema)]
struct TokenReply {
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: String,
    session_id: String,
    client_name: String,
    scope: String,
    /// Seconds until the token ends (0: never).
    expires_in: i64,
    /// The folder an app password is limited to, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/originals/alice/")]
    path: Option<String>,
    /// Its access there, with `path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<LimitAccess>)]
    access: Option<&'static str>,
}

impl From<&IssuedCredential> for TokenReply {
    fn from(issued: &IssuedCredential) -> Self {
        let session = &issued.session;
        TokenReply {
            access_token: issued.secret.clone(),
            token_type: "Bearer".to_owned(),
            session_id: session.id.clone(),
            client_name: session.name.clone(),
            scope: session.scope.clone(),
            expires_in: session.expires_in(session.created_at),
            path: session.dav_limit.as_ref().map(|l| l.path.to_string()),
            access: session.dav_limit.as_ref().map(|l| l.level.as_str()),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/oauth/token",
    tag = "oauth",
    security((), ("bearer" = []), ("cookie" = [])),
    request_body(content(
        (TokenRequest = "application/json"),
        (TokenRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The app password or client token", body = TokenReply),
        (status = 400, description = "Malformed body, a missing or unsupported grant_type, or an invalid scope", body = ErrorBody),
        (status = 401, description = "Not logged in (password grant), or invalid client credentials", body = ErrorBody),
        (status = 403, description = "Not a web login with the account password, another user's account, or the CSRF token is missing", body = ErrorBody),
        (status = 409, description = "A conflict with the stored state", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor a form", body = ErrorBody),
        (status = 422, description = "A field is invalid, or the account password is wrong", body = ErrorBody),
        ThrottleErrors,
    )
)]
async fn token(State(app): State<Gatehouse>, req: Request) -> Result<Json<TokenReply>, ApiError> {
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
            // A malformed limit is refused before the password is checked (and counted).
            let limit = dav_limit(body.path.as_deref(), body.access.as_deref())?;
            let password = body.password.as_deref().unwrap_or("");
            app.confirm_password(&web.user, password, &meta).await?;
            let client_name = body.client_name.as_deref().unwrap_or("");
            let scope = body.scope.as_deref().unwrap_or("");
            let lifetime = expires_in(body.expires_in.as_ref())?;
            let actor = format!("user:{}", web.user.username);
            let issued = app.create_app_password(&web.user, client_name, scope, limit, lifetime, &actor, &meta).await?;
            Ok(Json(TokenReply::from(&issued)))
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
                Ok(issued) => Ok(Json(TokenReply::from(&issued))),
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

#[utoipa::path(
    post,
    path = "/api/v1/oauth/revoke",
    tag = "oauth",
    security(("bearer" = []), ("cookie" = [])),
    request_body(content(
        (RevokeRequest = "application/json"),
        (RevokeRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Revoked (RFC 7009: also when the token was unknown)", body = Done),
        (status = 400, description = "Malformed body, or no token", body = ErrorBody),
        (status = 403, description = "Not a web login with the account password, or the CSRF token is missing", body = ErrorBody),
        (status = 404, description = "No such session of this user", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor a form", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        LoginErrors,
    )
)]
async fn revoke(State(app): State<Gatehouse>, req: Request) -> Result<Json<Done>, ApiError> {
    let (mut parts, body) = split_body(req, app.settings.max_body).await?;
    let web = WebUser::from_request_parts(&mut parts, &app).await?;
    let meta = request_meta(&parts, &app);
    let token = body.token.as_deref().map(str::trim).filter(|t| !t.is_empty() && t.len() <= 256).ok_or_else(|| {
        oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token is required: the app password or session id")
    })?;
    app.revoke(&web.user, token, &meta).await?;
    Ok(Json(Done { status: "revoked".to_owned() }))
}

/// The issuer URL: the public URL (`--public-url`), else the address the server
/// listens on — never a request header, which anyone can set.
fn issuer(settings: &crate::config::Settings) -> String {
    match &settings.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => format!("{}://{}", if settings.secure_cookies { "https" } else { "http" }, settings.listen),
    }
}

/// Authorization server metadata (RFC 8414).
#[derive(Serialize, ToSchema)]
struct ServerMetadata {
    issuer: String,
    token_endpoint: String,
    revocation_endpoint: String,
    grant_types_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    response_types_supported: Vec<String>,
    scopes_supported: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "oauth",
    security(()),
    responses((status = 200, description = "Where the OAuth2 endpoints are", body = ServerMetadata))
)]
async fn metadata(State(app): State<Gatehouse>) -> Json<ServerMetadata> {
    let base = issuer(&app.settings);
    let mut scopes: Vec<String> = Resource::ALL.iter().map(|r| r.name().to_owned()).collect();
    scopes.extend(["*", "read", "write"].map(str::to_owned));
    let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Json(ServerMetadata {
        token_endpoint: format!("{base}/api/v1/oauth/token"),
        revocation_endpoint: format!("{base}/api/v1/oauth/revoke"),
        issuer: base,
        grant_types_supported: strings(&["client_credentials", "password"]),
        token_endpoint_auth_methods_supported: strings(&["client_secret_basic", "client_secret_post"]),
        revocation_endpoint_auth_methods_supported: strings(&["none"]),
        response_types_supported: Vec::new(),
        scopes_supported: scopes,
    })
}
