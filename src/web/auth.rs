//! The one authentication and authorisation decision point.
//!
//! Every request's credentials — `Authorization: Basic` or `Bearer`, `X-Auth-Token`, or
//! the session cookie — are resolved once, here, into a typed [`Principal`]. Handlers
//! name the principal they need as an extractor ([`WebUser`], [`ApiCaller`],
//! [`DavUser`], …), so the rules live in this file and a route cannot forget a check:
//! an app password, whatever its scope, can never become a [`WebUser`], which is what
//! password changes, 2FA, app-password creation and user management require.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};

use super::error::ApiError;
use super::extract::request_meta;
use crate::domain::scope::{Access, Resource, Scope};
use crate::domain::session::{Session, SessionKind};
use crate::domain::user::User;
use crate::service::Gatehouse;
use crate::service::credentials::{BasicError, BasicIdentity, parse_basic};
use crate::service::sessions::Authenticated;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "gatehouse_session";
/// The header that must carry the CSRF token on unsafe requests authenticated by cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who is calling, and with what powers.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    /// An interactive login of a user (password, and code with 2FA).
    Web {
        user: Arc<User>,
        session: Arc<Session>,
    },
    /// An app password (or a session opened with one): a user, limited to `scope`.
    App {
        user: Arc<User>,
        session: Arc<Session>,
        scope: Scope,
    },
    /// A user's account password over HTTP Basic (only without 2FA): no session.
    Password {
        user: Arc<User>,
    },
    /// A token without a user: an admin-made access token or an OAuth2 client's token.
    Token {
        session: Arc<Session>,
        scope: Scope,
    },
}

impl Principal {
    /// The user behind the request, if any.
    pub fn user(&self) -> Option<&Arc<User>> {
        match self {
            Principal::Web { user, .. } | Principal::App { user, .. } | Principal::Password { user } => Some(user),
            Principal::Anonymous | Principal::Token { .. } => None,
        }
    }

    /// The session behind the request, if any.
    pub fn session(&self) -> Option<&Session> {
        match self {
            Principal::Web { session, .. } | Principal::App { session, .. } | Principal::Token { session, .. } => {
                Some(session)
            }
            Principal::Anonymous | Principal::Password { .. } => None,
        }
    }

    /// Whether the principal's scope lets it do `access` on `resource`. Users' own
    /// logins and account passwords are not scoped.
    pub fn allows(&self, resource: Resource, access: Access) -> bool {
        match self {
            Principal::Web { .. } | Principal::Password { .. } => true,
            Principal::App { scope, .. } | Principal::Token { scope, .. } => scope.allows(resource, access),
            Principal::Anonymous => false,
        }
    }

    fn from_session(auth: Authenticated) -> Result<Self, ApiError> {
        let scope = Scope::parse(&auth.session.scope).map_err(|_| ApiError::unauthorized())?;
        let Authenticated { session, user } = auth;
        Ok(match (session.kind, user) {
            (SessionKind::Web, Some(user)) if session.parent_id.is_none() => Principal::Web { user, session },
            (SessionKind::Web | SessionKind::AppPassword, Some(user)) => Principal::App { user, session, scope },
            (SessionKind::AccessToken | SessionKind::Client, None) => Principal::Token { session, scope },
            _ => return Err(ApiError::unauthorized()),
        })
    }
}

/// Where a bearer token came from: cookies need CSRF protection, headers do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Header,
    Cookie,
}

/// The longest token worth looking up: ours are 43 to 64 characters; anything much
/// longer is garbage and is treated as no token at all (so the caller is anonymous).
const MAX_TOKEN_LEN: usize = 512;

/// The bearer token of a request: `Authorization: Bearer`, then `X-Auth-Token`, then
/// the session cookie. Oversized tokens are ignored, never hashed or copied.
fn presented_token(parts: &Parts) -> Option<(String, Source)> {
    let plausible = |t: &str| !t.is_empty() && t.len() <= MAX_TOKEN_LEN;
    let from_auth = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| plausible(t))
        .map(|t| (t.to_owned(), Source::Header));
    let from_header = || {
        parts
            .headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| plausible(t))
            .map(|t| (t.to_owned(), Source::Header))
    };
    let from_cookie = || session_cookie_value(parts).filter(|t| plausible(t)).map(|t| (t.to_owned(), Source::Cookie));
    from_auth.or_else(from_header).or_else(from_cookie)
}

/// At most this many cookies of a request are looked at.
const MAX_COOKIES: usize = 64;

fn session_cookie_value(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .take(MAX_COOKIES)
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
}

/// A failed Basic login: 401 with a challenge, and the reason in the body.
fn basic_failure(e: BasicError) -> ApiError {
    let mut err = match e {
        BasicError::Invalid => {
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid credentials", "Invalid username or password")
        }
        BasicError::TwoFactorEnabled => ApiError::new(StatusCode::UNAUTHORIZED, "app password required", e.to_string()),
        BasicError::Throttled { retry_after } => {
            let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too many requests", e.to_string());
            err.retry_after = Some(retry_after);
            return err;
        }
        BasicError::Busy(m) => {
            let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", m);
            err.retry_after = Some(5);
            return err;
        }
        BasicError::Store(s) => return s.into(),
    };
    err.www_authenticate = Some(r#"Basic realm="gatehouse", charset="UTF-8""#);
    err
}

/// Resolves the request's credentials. Unknown or dead tokens are anonymous (routes that
/// need more answer 401); wrong Basic credentials are an immediate 401.
async fn resolve(parts: &Parts, app: &Gatehouse) -> Result<Principal, ApiError> {
    let basic = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(parse_basic);
    if let Some((username, password)) = basic {
        let meta = || request_meta(parts, app);
        return match app.authenticate_basic(&username, &password, meta).await.map_err(basic_failure)? {
            BasicIdentity::AccountPassword(user) => Ok(Principal::Password { user: Arc::new(user) }),
            BasicIdentity::AppPassword(auth) => Principal::from_session(*auth),
        };
    }
    let Some((token, source)) = presented_token(parts) else {
        return Ok(Principal::Anonymous);
    };
    let Some(auth) = app.authenticate_token(&token).await? else {
        return Ok(Principal::Anonymous);
    };
    if source == Source::Cookie && !is_safe(&parts.method) {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !app.key.verify_csrf(&auth.session.id, sent) {
            return Err(ApiError::forbidden("Missing or invalid CSRF token; reload the page"));
        }
    }
    Principal::from_session(auth)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<Gatehouse> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let principal = resolve(parts, app).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// A caller of the API other than WebDAV-only credentials: anything authenticated whose
/// scope is not limited to WebDAV.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Principal);

impl FromRequestParts<Gatehouse> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        match Principal::from_request_parts(parts, app).await? {
            Principal::Anonymous => Err(ApiError::unauthorized()),
            Principal::App { scope, .. } | Principal::Token { scope, .. } if scope.is_webdav_only() => {
                Err(ApiError::forbidden("This credential is limited to WebDAV"))
            }
            p => Ok(ApiCaller(p)),
        }
    }
}

/// A user's interactive web session: the only principal that may manage the account
/// (password, 2FA, app passwords, users).
#[derive(Debug, Clone)]
pub struct WebUser {
    pub user: Arc<User>,
    pub session: Arc<Session>,
}

impl FromRequestParts<Gatehouse> for WebUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        match ApiCaller::from_request_parts(parts, app).await?.0 {
            Principal::Web { user, session } => Ok(WebUser { user, session }),
            _ => Err(ApiError::forbidden("This requires a login with the account password")),
        }
    }
}

/// An admin's interactive web session: what changing another account's reach needs
/// (shared folders, homes). Every admin-only route and field asks [`WebAdmin::of`].
#[derive(Debug, Clone)]
pub struct WebAdmin {
    pub user: Arc<User>,
    pub session: Arc<Session>,
}

impl WebAdmin {
    /// The admin behind `web`, or the refusal every admin-only task gets.
    pub fn of(web: WebUser) -> Result<WebAdmin, ApiError> {
        if web.user.is_admin() {
            Ok(WebAdmin { user: web.user, session: web.session })
        } else {
            Err(ApiError::forbidden("Only admins may do this"))
        }
    }
}

impl FromRequestParts<Gatehouse> for WebAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        WebAdmin::of(WebUser::from_request_parts(parts, app).await?)
    }
}

/// A user allowed to sync over WebDAV: the account's `webdav` flag, and a credential
/// whose scope includes WebDAV (an app password with `webdav` or `*`, the account
/// password without 2FA, or a user's bearer token). Tokens without a user are refused.
#[derive(Debug, Clone)]
pub struct DavUser {
    pub user: Arc<User>,
    pub read_only: bool,
    /// An app password's folder and level, if it is limited to one.
    pub limit: Option<crate::domain::access::Grant>,
}

impl DavUser {
    /// Resolves the WebDAV caller from request parts (for handlers outside extractors).
    pub async fn resolve(parts: &Parts, app: &Gatehouse) -> Result<DavUser, ApiError> {
        // Every 401 of WebDAV says how to authenticate (GNOME's client, among others,
        // gives up on one that does not).
        let challenge = |mut err: ApiError| {
            if err.status == axum::http::StatusCode::UNAUTHORIZED {
                err.www_authenticate = Some(r#"Basic realm="gatehouse", charset="UTF-8""#);
            }
            err
        };
        let principal = resolve(parts, app).await.map_err(challenge)?;
        if matches!(principal, Principal::Anonymous) {
            return Err(challenge(ApiError::unauthorized()));
        }
        let Some(user) = principal.user().cloned() else {
            return Err(ApiError::forbidden("WebDAV needs a user's credentials, not an access token"));
        };
        if !principal.allows(Resource::Webdav, Access::Read) {
            return Err(ApiError::forbidden("This credential's scope does not include WebDAV"));
        }
        if !user.webdav {
            return Err(ApiError::forbidden("WebDAV is not enabled for this account"));
        }
        let read_only = !principal.allows(Resource::Webdav, Access::Write);
        let limit = principal.session().and_then(|s| s.dav_limit.clone());
        Ok(DavUser { user, read_only, limit })
    }
}

impl FromRequestParts<Gatehouse> for DavUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        DavUser::resolve(parts, app).await
    }
}

/// A session cookie carrying `token` (or clearing it when `None`).
pub fn session_cookie(token: Option<&str>, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => format!("{SESSION_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// A resource that a [`Scoped`] extractor guards.
pub trait ScopeRequirement {
    const RESOURCE: Resource;
    const ACCESS: Access;
    /// Whether a user-bound caller must also be an admin (server-wide data).
    const ADMIN_ONLY: bool;
}

/// Reading server metrics: scope `metrics`; users must be admins.
#[derive(Debug)]
pub struct MetricsScope;

impl ScopeRequirement for MetricsScope {
    const RESOURCE: Resource = Resource::Metrics;
    const ACCESS: Access = Access::Read;
    const ADMIN_ONLY: bool = true;
}

/// A caller whose scope grants `R`.
#[derive(Debug, Clone)]
pub struct Scoped<R> {
    pub principal: Principal,
    _requirement: std::marker::PhantomData<R>,
}

impl<R: ScopeRequirement + Send + Sync> FromRequestParts<Gatehouse> for Scoped<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Gatehouse) -> Result<Self, ApiError> {
        let principal = match Principal::from_request_parts(parts, app).await? {
            Principal::Anonymous => return Err(ApiError::unauthorized()),
            p => p,
        };
        if !principal.allows(R::RESOURCE, R::ACCESS) {
            return Err(ApiError::forbidden(format!("This needs the \"{}\" scope", R::RESOURCE.name())));
        }
        if R::ADMIN_ONLY && principal.user().is_some_and(|u| !u.is_admin()) {
            return Err(ApiError::forbidden("Only admins may see this"));
        }
        Ok(Scoped { principal, _requirement: std::marker::PhantomData })
    }
}
