//! The one authentication decision point. Every request's credentials are resolved
//! once, here, into a [`Principal`]; handlers then ask for the kind of principal they
//! need through an extractor, so a route cannot forget a check.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;

use super::error::ApiError;
use crate::domain::session::{Session, SessionKind};
use crate::domain::user::User;
use crate::service::Gatehouse;
use crate::service::sessions::Authenticated;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "gatehouse_session";

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    Session(Box<Authenticated>),
}

/// The bearer token of a request: `Authorization: Bearer`, then `X-Auth-Token`, then
/// the session cookie.
pub fn presented_token(parts: &Parts) -> Option<String> {
    let from_auth = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let from_header = || {
        parts
            .headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(|t| t.trim().to_owned())
    };
    let from_cookie = || {
        parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, value)| value.to_owned())
    };
    from_auth
        .or_else(from_header)
        .or_else(from_cookie)
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<Gatehouse> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let principal = match presented_token(parts) {
            None => Principal::Anonymous,
            Some(token) => app
                .authenticate_token(&token)
                .await?
                .map_or(Principal::Anonymous, |a| Principal::Session(Box::new(a))),
        };
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// Any valid session, of any kind.
#[derive(Debug, Clone)]
pub struct AnySession(pub Authenticated);

impl FromRequestParts<Gatehouse> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        match Principal::from_request_parts(parts, app).await? {
            Principal::Session(a) => Ok(AnySession(*a)),
            Principal::Anonymous => Err(ApiError::unauthorized()),
        }
    }
}

/// A user's interactive web session: the only principal that may manage the account
/// (password, 2FA, app passwords, users).
#[derive(Debug, Clone)]
pub struct WebUser {
    pub user: User,
    pub session: Session,
}

impl FromRequestParts<Gatehouse> for WebUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        let AnySession(auth) = AnySession::from_request_parts(parts, app).await?;
        match (auth.session.kind, auth.user) {
            (SessionKind::Web, Some(user)) => Ok(WebUser {
                user,
                session: auth.session,
            }),
            _ => Err(ApiError::forbidden(
                "This requires a login with the account password",
            )),
        }
    }
}

/// A session cookie carrying `token` (or clearing it when `None`).
pub fn session_cookie(token: Option<&str>, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => format!(
            "{SESSION_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}
