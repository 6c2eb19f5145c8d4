//! Login with the account password (and, with 2FA, a code): SPEC §2 "Login".

use super::sessions::IssuedSession;
use super::{Gatehouse, RequestMeta, ServiceError, Subject};
use crate::domain::event::EventKind;
use crate::domain::password::presentable;
use crate::domain::user::User;
use crate::store::UserStore as _;

/// What a client presents to log in.
#[derive(Debug, Clone)]
pub struct LoginAttempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub code: Option<&'a str>,
}

/// Why a login failed, in the words the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("passcode required")]
    PasscodeRequired,
    #[error("invalid passcode")]
    InvalidPasscode,
    #[error("too many attempts")]
    Throttled { retry_after: i64 },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for LoginError {
    fn from(e: crate::store::StoreError) -> Self {
        LoginError::Service(e.into())
    }
}

impl From<crate::security::hasher::HashError> for LoginError {
    fn from(e: crate::security::hasher::HashError) -> Self {
        LoginError::Service(e.into())
    }
}

/// A successful login.
#[derive(Debug)]
pub struct LoggedIn {
    pub issued: IssuedSession,
    pub user: User,
    /// Something the user must be told (e.g. "2FA is now off").
    pub notice: Option<String>,
}

/// Longest login name worth looking up, bytes.
const MAX_NAME: usize = 256;

impl Gatehouse {
    /// Checks the password against the account (or a dummy hash, so unknown users cost
    /// the same) and starts a web session.
    pub async fn login(&self, attempt: LoginAttempt<'_>, meta: &RequestMeta) -> Result<LoggedIn, LoginError> {
        let name = attempt.username.trim();
        if name.is_empty() || name.len() > MAX_NAME || !presentable(attempt.password) {
            return Err(ServiceError::Invalid("username and password are required".to_owned()).into());
        }
        let user = self.store.user_by_name(name).await?;
        let matches = self.hasher.verify(attempt.password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let user = match user {
            Some(u) if matches && u.can_login => u,
            other => {
                let subject = other.as_ref().map_or(Subject { uid: None, username: name }, Subject::from);
                self.record(EventKind::LoginFailed, subject, meta, "", "wrong username or password").await;
                return Err(LoginError::InvalidCredentials);
            }
        };
        let issued = self.issue_web_session(&user, meta).await?;
        self.store.record_login(&user.uid, self.now()).await?;
        self.record(EventKind::LoginOk, (&user).into(), meta, "", "password").await;
        Ok(LoggedIn { issued, user, notice: None })
    }
}
