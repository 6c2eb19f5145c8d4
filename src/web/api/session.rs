//! Login, "who am I" and logout: `/api/v1/session`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::app_password::is_app_password;
use crate::domain::event::EventKind;
use crate::domain::session::Session;
use crate::domain::user::{User, UserView};
use crate::service::Gatehouse;
use crate::service::login::LoginAttempt;
use crate::store::SessionStore as _;
use crate::web::api::openapi::{Done, ErrorBody, JsonBodyErrors, LoginErrors, ThrottleErrors};
use crate::web::auth::{ApiCaller, Principal, session_cookie};
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, DEVICE_COOKIE, Meta};

pub fn router() -> Router<Gatehouse> {
    Router::new().route("/api/v1/session", post(login).get(whoami).delete(logout))
}

/// A login: the account password (or an app password), and the code with 2FA (a TOTP
/// code or the recovery code).
#[derive(Deserialize, ToSchema)]
struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    code: Option<String>,
}

/// A new session. The token is shown once; it is also set as the session cookie.
#[derive(Serialize, ToSchema)]
pub(super) struct LoginReply {
    session_id: String,
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the session ends (0: never).
    expires_in: i64,
    scope: String,
    user: UserView,
    /// Said when the login changed the account, e.g. a recovery code turned 2FA off.
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "session",
    security(()),
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in; the session cookie is set too", body = LoginReply),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Invalid credentials, or the verification code is required or wrong", body = ErrorBody),
        (status = 403, description = "This account or app password may not log in", body = ErrorBody),
        (status = 422, description = "A field is missing or malformed", body = ErrorBody),
        ThrottleErrors,
        JsonBodyErrors,
    )
)]
async fn login(
    State(app): State<Gatehouse>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<impl IntoResponse, ApiError> {
    // An app password in the password field opens a session limited like the app
    // password itself (if its scope allows sessions at all).
    let (token, session, user, notice, device) = if is_app_password(&body.password) {
        let (issued, user) = app.login_with_app_password(&body.username, &body.password, &meta).await?;
        (issued.secret, issued.session, user, None, None)
    } else {
        let attempt = LoginAttempt { username: &body.username, password: &body.password, code: body.code.as_deref() };
        let done = app.login(attempt, &meta).await?;
        (done.issued.token.expose().to_owned(), done.issued.session, done.user, done.notice, Some(done.device))
    };
    Ok(login_response(&app, token, session, &user, notice, device.as_deref()))
}

/// The answer to every successful login: the session cookie, the device cookie after
/// a complete login with the account's own credentials, and the [`LoginReply`].
pub(super) fn login_response(
    app: &Gatehouse,
    token: String,
    session: Session,
    user: &User,
    notice: Option<String>,
    device: Option<&str>,
) -> impl IntoResponse + use<> {
    let now = app.now();
    let mut headers = HeaderMap::new();
    let cookie = session_cookie(Some(&token), session.expires_in(now), app.settings.secure_cookies);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.append(header::SET_COOKIE, v);
    }
    if let Some(d) = device
        && let Ok(v) = HeaderValue::from_str(&device_cookie(d, app.settings.secure_cookies))
    {
        headers.append(header::SET_COOKIE, v);
    }
    let expires_in = session.expires_in(now);
    let reply = LoginReply {
        session_id: session.id,
        access_token: token,
        token_type: "Bearer",
        expires_in,
        scope: session.scope,
        user: user.view(),
        notice,
    };
    (headers, Json(reply))
}

/// The device cookie (OWASP "device cookies"): sent only to the login endpoints, never
/// readable by scripts, never sent cross-site.
fn device_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = crate::store::DEVICE_MEMORY;
    format!("{DEVICE_COOKIE}={value}; Path=/api/v1/session; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Who is calling: the session, its scope and user, and the CSRF token that cookie
/// requests need on unsafe methods.
#[derive(Serialize, ToSchema)]
struct WhoAmI {
    session_id: Option<String>,
    /// `web`, `app_password`, `access_token`, `client`, or `password` (HTTP Basic with
    /// the account password, no session).
    kind: Option<&'static str>,
    scope: String,
    expires_in: i64,
    user: Option<UserView>,
    client_id: Option<String>,
    csrf_token: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "session",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller", body = WhoAmI),
        (status = 403, description = "The credential is limited to WebDAV", body = ErrorBody),
        LoginErrors,
    )
)]
async fn whoami(State(app): State<Gatehouse>, ApiCaller(p): ApiCaller) -> Json<WhoAmI> {
    let session = p.session();
    let kind = match &p {
        Principal::Password { .. } => Some("password"),
        _ => session.map(|s| s.kind.as_str()),
    };
    Json(WhoAmI {
        session_id: session.map(|s| s.id.clone()),
        kind,
        scope: session.map_or("*", |s| s.scope.as_str()).to_owned(),
        expires_in: session.map_or(0, |s| s.expires_in(app.now())),
        user: p.user().map(|u| u.view()),
        client_id: session.and_then(|s| s.client_id.clone()),
        csrf_token: session.map(|s| app.key.csrf_token(&s.id)),
    })
}

#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "session",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Logged out; the token stops working at once", body = Done),
        (status = 400, description = "The credential has no session to end (HTTP Basic)", body = ErrorBody),
        (status = 403, description = "The credential is limited to WebDAV, or the CSRF token is missing", body = ErrorBody),
        LoginErrors,
    )
)]
async fn logout(
    State(app): State<Gatehouse>,
    Meta(meta): Meta,
    ApiCaller(p): ApiCaller,
) -> Result<impl IntoResponse, ApiError> {
    let session = p.session().ok_or_else(|| ApiError::bad_request("There is no session to end"))?;
    app.store.delete_session(&session.id).await?;
    if let Some(u) = p.user() {
        app.record(EventKind::Logout, (&**u).into(), &meta, "", "").await;
    }
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&session_cookie(None, 0, app.settings.secure_cookies)) {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok((headers, Json(Done { status: "logged out".to_owned() })))
}
