//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the JSON API. It is generated
//! from the `#[utoipa::path]` annotation on each handler and the `ToSchema` derives on
//! the types they read and answer, so the document moves with the code; a test
//! (`tests/openapi.rs`) fails when a route of the API router is missing from it.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use super::{folders, metrics, oauth, passcode, passkeys, session, status, users};
use crate::service::Gatehouse;

pub fn router() -> Router<Gatehouse> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

/// Every API error: a stable machine code and a sentence for people. Some errors add
/// members: `"code": 32` when a verification code is required, `error_description`
/// in OAuth2 errors (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The stable machine code, e.g. `invalid_request`, `unauthorized`, `forbidden`.
    #[schema(example = "invalid_request")]
    pub error: String,
    /// A human sentence; never contains server internals.
    pub message: String,
}

// The refusals many operations share, listed once and named in each operation's
// `responses(...)`. They describe answers made by the extractors and the throttle, so
// nothing builds these types.

/// A call with credentials: none or wrong, too many failures, or the password pool busy.
#[derive(Debug, IntoResponses)]
#[allow(dead_code)]
pub enum LoginErrors {
    #[response(status = 401, description = "Not logged in, or wrong HTTP Basic credentials")]
    Unauthorized(ErrorBody),
    #[response(status = 429, description = "Too many failed attempts; see Retry-After")]
    Throttled(ErrorBody),
    #[response(status = 503, description = "The server is busy checking passwords; see Retry-After")]
    Busy(ErrorBody),
}

/// A change of one's own second factors (TOTP, passkeys), refused before it is read.
#[derive(Debug, IntoResponses)]
#[allow(dead_code)]
pub enum HolderErrors {
    #[response(status = 400, description = "Malformed path or JSON body")]
    Malformed(ErrorBody),
    #[response(status = 403, description = "Not the account holder's own web login, or the CSRF token is missing")]
    NotTheHolder(ErrorBody),
}

/// A change of a user's record by an admin or the user, refused before it is read.
#[derive(Debug, IntoResponses)]
#[allow(dead_code)]
pub enum AdminErrors {
    #[response(status = 400, description = "Malformed path, query or JSON body")]
    Malformed(ErrorBody),
    #[response(
        status = 403,
        description = "Not allowed: not an admin, not a web login with the account password, or the CSRF token is missing"
    )]
    NotAllowed(ErrorBody),
}

/// A call that checks a password or secret itself (its own 401): throttled, or busy.
#[derive(Debug, IntoResponses)]
#[allow(dead_code)]
pub enum ThrottleErrors {
    #[response(status = 429, description = "Too many failed attempts; see Retry-After")]
    Throttled(ErrorBody),
    #[response(status = 503, description = "The server is busy checking passwords; see Retry-After")]
    Busy(ErrorBody),
}

/// A JSON body refused before its handler reads it.
#[derive(Debug, IntoResponses)]
#[allow(dead_code)]
pub enum JsonBodyErrors {
    #[response(status = 413, description = "The body is too large")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not sent as JSON")]
    NotJson(ErrorBody),
}

/// The answer of an action that has nothing else to say.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    #[schema(example = "revoked")]
    pub status: String,
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "gatehouse",
        description = "The JSON API of gatehouse. Errors are `{\"error\", \"message\"}` JSON with the HTTP status. \
                       Credentials: `Authorization: Bearer TOKEN` (also `X-Auth-Token: TOKEN` or HTTP Basic), or the \
                       session cookie, which needs the `X-CSRF-Token` header (from `GET /api/v1/session`) on unsafe methods."
    ),
    paths(
        status::status,
        document,
        session::login,
        session::whoami,
        session::logout,
        passkeys::login_start,
        passkeys::login_finish,
        users::list,
        users::create,
        users::show,
        users::update,
        users::remove,
        users::change_password,
        users::sessions,
        users::revoke_session,
        users::events,
        folders::list,
        folders::share,
        folders::unshare,
        passcode::status,
        passcode::start,
        passcode::confirm,
        passcode::activate,
        passcode::deactivate,
        passkeys::list,
        passkeys::register_start,
        passkeys::register_finish,
        passkeys::activate,
        passkeys::rename,
        passkeys::remove,
        oauth::token,
        oauth::revoke,
        oauth::metadata,
        metrics::metrics,
    ),
    components(schemas(ErrorBody, Done)),
    modifiers(&Credentials),
    tags(
        (name = "session", description = "Logging in and out"),
        (name = "users", description = "Accounts, passwords, sessions and security events"),
        (name = "folders", description = "Which folders of the library each account reaches: homes and shared folders"),
        (name = "two-factor", description = "Setting up and removing a TOTP authenticator"),
        (name = "passkeys", description = "Adding, listing, renaming and removing passkeys (WebAuthn)"),
        (name = "oauth", description = "App passwords, client tokens and revocation"),
        (name = "server", description = "Status, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The security schemes: a bearer token, or the session cookie.
#[derive(Debug)]
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token, app password or access token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::web::auth::SESSION_COOKIE,
                "The web session cookie; unsafe methods also need the X-CSRF-Token header",
            ))),
        );
    }
}

/// The document itself.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "server",
    security(()),
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json"))
)]
async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
