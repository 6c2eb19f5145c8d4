//! Checking presented credentials — bearer tokens and HTTP Basic — into what they stand
//! for. The web layer's decision point (`web::auth`) calls only these.

use data_encoding::BASE64;

use super::sessions::Authenticated;
use super::{Gatehouse, RequestMeta, ServiceError, Subject};
use crate::domain::app_password::is_app_password;
use crate::domain::event::EventKind;
use crate::domain::password::presentable;
use crate::domain::session::SessionKind;
use crate::domain::throttle::Channel;
use crate::domain::token::token_hash;
use crate::domain::user::{AuthMethod, User, same_username, username_key};
use crate::store::{SessionStore as _, StoreError, UserStore as _};

/// What a valid HTTP Basic credential stands for.
#[derive(Debug, Clone)]
pub enum BasicIdentity {
    /// An app password of this user (the session holds its scope).
    AppPassword(Box<Authenticated>),
    /// The account password of a user without 2FA: full scope, no session.
    AccountPassword(User),
}

/// Why HTTP Basic credentials were refused.
#[derive(Debug, thiserror::Error)]
pub enum BasicError {
    #[error("invalid username or password")]
    Invalid,
    /// The account password of a user with 2FA: right, but not enough here.
    #[error(
        "two-factor authentication is enabled for this account: the account password no longer works \
         for apps and WebDAV; create an app password in Settings > Account > Apps and Devices"
    )]
    TwoFactorEnabled,
    #[error("too many failed attempts, try again in {retry_after} seconds")]
    Throttled { retry_after: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Busy(String),
}

/// Splits an `Authorization: Basic …` value into user and password.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || value.len() > 8192 {
        return None;
    }
    let decoded = BASE64.decode(value.trim().as_bytes()).ok()?;
    let mut user = String::from_utf8(decoded).ok()?;
    let colon = user.find(':')?;
    let pass = user.split_off(colon + 1);
    user.truncate(colon);
    Some((user, pass))
}

impl Gatehouse {
    /// Checks a username and password sent over HTTP Basic. An app password is one
    /// indexed lookup; an account password passes the throttle (on the Basic channel),
    /// then costs an Argon2 verify on the bounded hasher, and is refused for accounts
    /// with 2FA (counted on the Basic channel only: see `domain::throttle`). `meta`
    /// describes the request, for throttling and the log; app passwords need neither.
    pub async fn authenticate_basic(
        &self,
        username: &str,
        password: &str,
        meta: impl FnOnce() -> RequestMeta,
    ) -> Result<BasicIdentity, BasicError> {
        let name = username.trim();
        if name.is_empty() || name.len() > 256 || !presentable(password) {
            return Err(BasicError::Invalid);
        }
        if is_app_password(password) {
            return self.authenticate_app_password(name, password).await;
        }
        let meta = &meta();
        let throttle =
            self.throttle_begin_on(&username_key(name), meta, Channel::Basic).await.map_err(|e| match e {
                super::throttle::ThrottleError::Limited { retry_after } => BasicError::Throttled { retry_after },
                e @ super::throttle::ThrottleError::Unavailable(_) => {
                    BasicError::Busy(ServiceError::from(e).to_string())
                }
            })?;
        let user = self.store.user_by_name(name).await?;
        let hash = user.as_ref().map(|u| u.password_hash.as_str());
        let matches = match self.hasher.verify(password, hash, throttle.priority()).await {
            Ok(m) => m,
            Err(e) => {
                // Not checked (the hasher's queue is full): not counted either.
                throttle.neutral(self).await;
                return Err(BasicError::Busy(e.to_string()));
            }
        };
        match user {
            Some(u) if matches && u.can_login => {
                if u.auth_method == AuthMethod::TwoFactor {
                    // Counted on the Basic channel only: a sync app still holding the
                    // right password after 2FA was turned on is slowed down, but does not
                    // lock its owner out of the web login (PhotoPrism #5225).
                    throttle.partial(self).await;
                    self.record(EventKind::BasicAuthRefused, (&u).into(), meta, "", "account password with 2FA on")
                        .await;
                    return Err(BasicError::TwoFactorEnabled);
                }
                throttle.succeeded(self).await;
                Ok(BasicIdentity::AccountPassword(u))
            }
            other => {
                throttle.failed(self).await;
                let subject = other.as_ref().map_or(Subject { uid: None, username: name }, Subject::from);
                self.record(EventKind::LoginFailed, subject, meta, "", "wrong password over HTTP Basic").await;
                Err(BasicError::Invalid)
            }
        }
    }

    /// An app password is a bearer token of its own: found by its SHA-256, valid only
    /// with its owner's username.
    async fn authenticate_app_password(&self, name: &str, password: &str) -> Result<BasicIdentity, BasicError> {
        let found = self.authenticate_token(password).await?;
        match found {
            Some(auth)
                if auth.session.kind == SessionKind::AppPassword
                    && auth.user.as_ref().is_some_and(|u| same_username(&u.username, name)) =>
            {
                Ok(BasicIdentity::AppPassword(Box::new(auth)))
            }
            _ => Err(BasicError::Invalid),
        }
    }

    /// Looks up a token's session by hash without touching it (for revocation by token).
    pub async fn session_for_token(&self, token: &str) -> Result<Option<crate::domain::session::Session>, StoreError> {
        Ok(self.store.session_by_token(&token_hash(token)).await?.map(|(s, _)| s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_headers() {
        assert_eq!(parse_basic("Basic YWxpY2U6c2VjcmV0"), Some(("alice".into(), "secret".into())));
        assert_eq!(parse_basic("basic YWxpY2U6c2U6Y3JldA=="), Some(("alice".into(), "se:cret".into())));
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic bm9jb2xvbg=="), None);
        assert_eq!(parse_basic("Basic"), None);
    }
}
