//! Login with the account password and, with 2FA, a code: docs/design.md, "Login".

use super::sessions::IssuedSession;
use super::throttle::Attempt;
use super::twofactor::CodeCheck;
use super::{Gatehouse, RequestMeta, ServiceError, Subject};
use crate::domain::event::EventKind;
use crate::domain::password::presentable;
use crate::domain::token::{SessionToken, token_hash};
use crate::domain::user::{AuthMethod, User, username_key};
use crate::store::{AttemptStore as _, UserStore as _};

/// What a client presents to log in.
#[derive(Debug, Clone)]
pub struct LoginAttempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// A TOTP code or the recovery code.
    pub code: Option<&'a str>,
}

/// A successful login.
#[derive(Debug)]
pub struct LoggedIn {
    pub issued: IssuedSession,
    pub user: User,
    /// Something the user must be told (e.g. "2FA is now off").
    pub notice: Option<String>,
    /// The device cookie to set: the owner's browser is judged apart by the throttle
    /// from now on (`domain::throttle`).
    pub device: String,
}

/// Longest login name worth looking up, bytes.
const MAX_NAME: usize = 256;

impl Gatehouse {
    /// Checks the password (against a dummy hash for unknown users, so both cost the
    /// same), then the second factor, under the brute-force limits; starts a session.
    pub async fn login(&self, attempt: LoginAttempt<'_>, meta: &RequestMeta) -> Result<LoggedIn, ServiceError> {
        let (user, guard) = self.password_step(attempt.username, attempt.password, meta).await?;
        let mut notice = None;
        let mut method = "password";
        if user.auth_method == AuthMethod::TwoFactor {
            let code = attempt.code.map(str::trim).filter(|c| !c.is_empty());
            let Some(code) = code else {
                // The right password without the code: counted like a guess on this
                // channel (each costs a hash), reset by the owner's next complete login.
                guard.partial(self).await;
                self.record(EventKind::PasscodeRequired, (&user).into(), meta, "", "").await;
                return Err(ServiceError::PasscodeRequired { methods: self.second_factor_methods(&user).await? });
            };
            match self.check_second_factor(&user, code, meta).await {
                Ok(CodeCheck::Passed(second)) => {
                    method = second.method();
                    notice = second.notice();
                }
                Ok(CodeCheck::Wrong) => {
                    guard.failed(self).await;
                    return Err(ServiceError::InvalidPasscode);
                }
                Ok(CodeCheck::AlreadyUsed) => {
                    // Lost a race with the owner's own parallel login: not a guess.
                    guard.neutral(self).await;
                    return Err(ServiceError::InvalidPasscode);
                }
                Err(e @ ServiceError::Busy(_)) => {
                    // Not checked (the hasher's queue is full): not counted either.
                    guard.neutral(self).await;
                    return Err(e);
                }
                Err(e) => {
                    guard.failed(self).await;
                    return Err(e);
                }
            }
        }
        self.complete_login(user, guard, method, notice, meta).await
    }

    /// The first step of every password login: the account password, under the
    /// brute-force limits. A wrong one is counted and logged; the right one hands back
    /// the user and the attempt, which the caller ends.
    pub(crate) async fn password_step(
        &self,
        username: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<(User, Attempt), ServiceError> {
        let name = username.trim();
        if name.is_empty() || !presentable(password) {
            return Err(ServiceError::Invalid("username and password are required".to_owned()));
        }
        if name.len() > MAX_NAME {
            return Err(ServiceError::Invalid(format!("no username is longer than {MAX_NAME} bytes")));
        }
        // The cheap checks first: the throttle decides before any hash is made.
        let guard = self.throttle_begin(&username_key(name), meta).await?;
        let user = self.store.user_by_name(name).await?;
        let matches =
            match self.hasher.verify(password, user.as_ref().map(|u| u.password_hash.as_str()), guard.priority()).await
            {
                Ok(m) => m,
                Err(e) => {
                    // Not checked (the hasher's queue is full): not counted either.
                    guard.neutral(self).await;
                    return Err(e.into());
                }
            };
        match user {
            Some(u) if matches && u.can_login => Ok((u, guard)),
            other => {
                guard.failed(self).await;
                let subject = other.as_ref().map_or(Subject { uid: None, username: name }, Subject::from);
                self.record(EventKind::LoginFailed, subject, meta, "", "wrong username or password").await;
                Err(ServiceError::InvalidCredentials)
            }
        }
    }

    /// Ends a login that passed every check: the attempt counts as a success, a web
    /// session starts and the login is recorded with how it was made.
    pub(crate) async fn complete_login(
        &self,
        user: User,
        guard: Attempt,
        method: &str,
        notice: Option<String>,
        meta: &RequestMeta,
    ) -> Result<LoggedIn, ServiceError> {
        let device = self.bind_device(&guard).await.map_err(unavailable)?;
        guard.succeeded(self).await;
        let issued = self.issue_web_session(&user, meta).await.map_err(|e| match e {
            ServiceError::Internal(m) => unavailable(m),
            other => other,
        })?;
        self.store.record_login(&user.uid, self.now()).await.map_err(unavailable)?;
        self.record(EventKind::LoginOk, (&user).into(), meta, "", method).await;
        let user = if notice.is_some() { self.store.user_by_uid(&user.uid).await?.unwrap_or(user) } else { user };
        Ok(LoggedIn { issued, user, notice, device })
    }
}

/// A login that passed its checks but could not be written: refused for now (503),
/// never half-done and never a 500.
fn unavailable(e: impl std::fmt::Display) -> ServiceError {
    tracing::error!(error = %e, "cannot complete a login");
    ServiceError::Busy("logins are unavailable right now, please try again shortly".to_owned())
}

impl Gatehouse {
    /// The device cookie for a complete login: the one presented, if it was already
    /// bound to this account, else a fresh one (a value the server did not hand out for
    /// this account is never adopted). Stored hashed; returned to be set again.
    async fn bind_device(&self, guard: &Attempt) -> Result<String, ServiceError> {
        let now = self.now();
        let kept = match guard.device() {
            Some(raw) if self.store.device_bound(&token_hash(raw), guard.account_key(), now).await? => {
                Some(raw.to_owned())
            }
            _ => None,
        };
        let raw = match kept {
            Some(raw) => raw,
            None => SessionToken::generate()?.expose().to_owned(),
        };
        self.store.bind_device(&token_hash(&raw), guard.account_key(), now).await?;
        Ok(raw)
    }
}
