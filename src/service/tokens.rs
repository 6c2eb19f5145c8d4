//! Long-lived credentials: app passwords (a user's, scoped), access tokens (no user,
//! made by an admin at the CLI), sessions opened with an app password, and revocation.

use std::sync::Arc;

use super::{Gatehouse, RequestMeta, ServiceError, Subject};
use crate::domain::access::Grant;
use crate::domain::app_password::{AppPassword, is_app_password};
use crate::domain::event::EventKind;
use crate::domain::random;
use crate::domain::scope::{Access, Resource, Scope};
use crate::domain::session::{Session, SessionKind};
use crate::domain::token::SessionToken;
use crate::domain::user::{User, username_key};
use crate::store::{SessionFilter, SessionStore as _};

/// Longest lifetime of an app password or access token: one year (0 = never expires).
pub const MAX_LIFETIME: i64 = 365 * 86_400;

/// A credential just made: the secret (shown once) and its session.
#[derive(Debug)]
pub struct IssuedCredential {
    pub secret: String,
    pub session: Session,
}

/// What a new credential is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionSpec<'a> {
    pub kind: SessionKind,
    pub user_uid: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub name: &'a str,
    pub scope: &'a Scope,
    /// Seconds; 0 = never expires.
    pub expires_in: i64,
}

impl IssuedCredential {
    /// The answer of the token endpoint (and of the CLI under `--json`). `expires_in` is
    /// the lifetime granted at issue, whenever this is written.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "access_token": self.secret,
            "token_type": "Bearer",
            "session_id": self.session.id,
            "client_name": self.session.name,
            "scope": self.session.scope,
            "expires_in": self.session.expires_in(self.session.created_at),
        })
    }
}

fn check_lifetime(expires_in: i64) -> Result<(), ServiceError> {
    if expires_in == 0 || (60..=MAX_LIFETIME).contains(&expires_in) {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!("expires_in must be 0 (never) or between 60 and {MAX_LIFETIME} seconds")))
    }
}

fn check_name(name: &str) -> Result<String, ServiceError> {
    crate::domain::app_password::parse_name(name).ok_or_else(|| {
        ServiceError::Invalid(format!(
            "the name must be 1 to {} characters without control characters",
            crate::domain::fields::APP_NAME_MAX
        ))
    })
}

impl Gatehouse {
    /// A new session row for a credential whose secret hashes to `token_hash`.
    pub(crate) fn new_session(
        &self,
        spec: SessionSpec<'_>,
        token_hash: String,
        meta: &RequestMeta,
    ) -> Result<Session, ServiceError> {
        let now = self.now();
        Ok(Session {
            id: random::public_id("sess", 16)?,
            token_hash,
            user_uid: spec.user_uid.map(str::to_owned),
            client_id: spec.client_id.map(str::to_owned),
            parent_id: None,
            kind: spec.kind,
            name: spec.name.to_owned(),
            scope: spec.scope.as_str().to_owned(),
            created_at: now,
            expires_at: (spec.expires_in > 0).then_some(now + spec.expires_in),
            idle_timeout: 0,
            last_active: now,
            login_ip: meta.ip.to_string(),
            user_agent: meta.user_agent.chars().filter(|c| !c.is_control()).take(256).collect(),
            dav_limit: None,
        })
    }

    /// Makes an app password for `user`. The caller has already re-checked the account
    /// password (or is the operator at the CLI).
    // Eight plain arguments, each a different thing the caller already holds; the API
    // and the CLI both call it, so its shape stays as it is.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_app_password(
        &self,
        user: &User,
        name: &str,
        scope: &str,
        limit: Option<Grant>,
        expires_in: i64,
        actor: &str,
        meta: &RequestMeta,
    ) -> Result<IssuedCredential, ServiceError> {
        let name = check_name(name)?;
        let scope = Scope::parse(scope).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        check_lifetime(expires_in)?;
        if let Some(limit) = &limit {
            if !scope.allows(Resource::Webdav, Access::Read) {
                return Err(ServiceError::Invalid("a folder limit is for app passwords with the webdav scope".into()));
            }
            self.check_limit(user, limit).await?;
        }
        let secret = AppPassword::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let hash = crate::domain::token::token_hash(secret.as_str());
        let spec = SessionSpec {
            kind: SessionKind::AppPassword,
            user_uid: Some(&user.uid),
            client_id: None,
            name: &name,
            scope: &scope,
            expires_in,
        };
        let mut session = self.new_session(spec, hash, meta)?;
        session.dav_limit = limit;
        self.store.create_session(&session).await?;
        let detail = match &session.dav_limit {
            Some(l) => format!("{name} ({}, {} {})", scope.as_str(), l.path, l.level),
            None => format!("{name} ({})", scope.as_str()),
        };
        self.record(EventKind::AppPasswordCreated, user.into(), meta, actor, &detail).await;
        Ok(IssuedCredential { secret: secret.as_str().to_owned(), session })
    }

    /// Makes an access token without a user (CLI only).
    pub async fn create_access_token(
        &self,
        name: &str,
        scope: &str,
        expires_in: i64,
        meta: &RequestMeta,
    ) -> Result<IssuedCredential, ServiceError> {
        let name = check_name(name)?;
        let scope = Scope::parse(scope).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        check_lifetime(expires_in)?;
        let token = SessionToken::generate()?;
        let spec = SessionSpec {
            kind: SessionKind::AccessToken,
            user_uid: None,
            client_id: None,
            name: &name,
            scope: &scope,
            expires_in,
        };
        let session = self.new_session(spec, token.hash(), meta)?;
        self.store.create_session(&session).await?;
        Ok(IssuedCredential { secret: token.expose().to_owned(), session })
    }

    /// `POST /api/v1/session` with an app password instead of the account password:
    /// allowed for scopes `*` and `sessions`, it opens a session that keeps the app
    /// password's scope and restrictions and ends with it.
    pub async fn login_with_app_password(
        &self,
        username: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<(IssuedCredential, User), ServiceError> {
        let guard = self.throttle_begin(&username_key(username), meta).await?;
        let found = self.authenticate_token(password).await?.filter(|a| {
            a.session.kind == SessionKind::AppPassword
                && a.user.as_ref().is_some_and(|u| username_key(&u.username) == username_key(username))
        });
        let (Some(parent), Some(user)) =
            (found.as_ref().map(|a| &a.session), found.as_ref().and_then(|a| a.user.clone()))
        else {
            guard.failed(self).await;
            self.record(EventKind::LoginFailed, Subject { uid: None, username }, meta, "", "wrong app password").await;
            return Err(ServiceError::InvalidCredentials);
        };
        guard.neutral(self).await;
        let scope = Scope::parse(&parent.scope).map_err(|e| ServiceError::Internal(e.to_string()))?;
        if !scope.allows(Resource::Sessions, Access::Write) {
            return Err(ServiceError::Forbidden("this app password's scope does not allow logging in".into()));
        }
        let token = SessionToken::generate()?;
        let policy = self.settings.sessions;
        let spec = SessionSpec {
            kind: SessionKind::Web,
            user_uid: Some(&user.uid),
            client_id: None,
            name: &parent.name,
            scope: &scope,
            expires_in: policy.max_age,
        };
        let mut session = self.new_session(spec, token.hash(), meta)?;
        session.parent_id = Some(parent.id.clone());
        session.dav_limit.clone_from(&parent.dav_limit);
        session.idle_timeout = policy.idle_timeout;
        // A child never outlives its parent.
        session.expires_at = match (session.expires_at, parent.expires_at) {
            (Some(c), Some(p)) => Some(c.min(p)),
            (c, p) => c.or(p),
        };
        self.store.create_session(&session).await?;
        self.record(
            EventKind::AppPasswordUsed,
            (&*user).into(),
            meta,
            "",
            &format!("session opened with {}", parent.name),
        )
        .await;
        Ok((IssuedCredential { secret: token.expose().to_owned(), session }, Arc::unwrap_or_clone(user)))
    }

    /// Revokes a credential given as its secret or its session id. Users may revoke
    /// their own; admins anyone's. Unknown secrets are quietly accepted (RFC 7009 §2.2).
    pub async fn revoke(&self, actor: &User, token_or_id: &str, meta: &RequestMeta) -> Result<(), ServiceError> {
        let token_or_id = token_or_id.trim();
        let by_id = token_or_id.starts_with("sess") && token_or_id.len() <= 40 && !is_app_password(token_or_id);
        let session = if by_id {
            self.store.session_by_id(token_or_id).await?
        } else {
            self.session_for_token(token_or_id).await?
        };
        let Some(session) = session else {
            return if by_id { Err(ServiceError::NotFound("session")) } else { Ok(()) };
        };
        let owner = session.user_uid.as_deref();
        if owner != Some(actor.uid.as_str()) && !actor.is_admin() {
            return if by_id { Err(ServiceError::NotFound("session")) } else { Ok(()) };
        }
        self.store.delete_session(&session.id).await?;
        let kind = if session.kind == SessionKind::AppPassword {
            EventKind::AppPasswordRevoked
        } else {
            EventKind::SessionRevoked
        };
        let subject =
            Subject { uid: owner, username: if owner == Some(actor.uid.as_str()) { &actor.username } else { "" } };
        self.record(kind, subject, meta, &format!("user:{}", actor.username), &session.name).await;
        Ok(())
    }

    /// Revokes every session of every kind (CLI `auth reset`).
    pub async fn revoke_all_sessions(&self) -> Result<u64, ServiceError> {
        Ok(self.store.delete_sessions(&SessionFilter::default(), None).await?)
    }
}
