//! Issuing and checking session tokens.

use std::sync::Arc;

use super::{Gatehouse, RequestMeta, ServiceError};
use crate::domain::random;
use crate::domain::session::{Session, SessionKind};
use crate::domain::token::{SessionToken, plausible_token, token_hash};
use crate::domain::user::User;
use crate::store::{SessionStore as _, StoreError};

/// A session just created, with its token (shown to the client once).
#[derive(Debug)]
pub struct IssuedSession {
    pub token: SessionToken,
    pub session: Session,
}

/// What a valid token stands for: the session, and its live user if it has one.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: Arc<Session>,
    pub user: Option<Arc<User>>,
}

impl Gatehouse {
    /// Starts an interactive (web) session for `user` after a successful login.
    pub async fn issue_web_session(&self, user: &User, meta: &RequestMeta) -> Result<IssuedSession, ServiceError> {
        let now = self.now();
        let policy = self.settings.sessions;
        let token = SessionToken::generate()?;
        let session = Session {
            id: random::public_id("sess", 16)?,
            token_hash: token.hash(),
            user_uid: Some(user.uid.clone()),
            client_id: None,
            parent_id: None,
            kind: SessionKind::Web,
            name: String::new(),
            scope: "*".to_owned(),
            created_at: now,
            expires_at: Some(now + policy.max_age),
            idle_timeout: policy.idle_timeout,
            last_active: now,
            login_ip: meta.ip.to_string(),
            user_agent: truncate_chars(&meta.user_agent, 256),
            dav_limit: None,
        };
        self.store.create_session(&session).await?;
        Ok(IssuedSession { token, session })
    }

    /// Resolves a presented bearer token. Returns `None` for anything that is not a live
    /// session of a live account: unknown, expired, idle, revoked, or whose user was
    /// deleted or disabled. Records activity at most once a minute.
    ///
    /// A token seen since the last credential change anywhere is answered from memory
    /// (`token_cache`); everything else, and every refusal, comes from the database.
    pub async fn authenticate_token(&self, token: &str) -> Result<Option<Authenticated>, StoreError> {
        if !plausible_token(token) {
            return Ok(None);
        }
        let hash = token_hash(token);
        let now = self.now();
        // The epoch is read before the lookup: a change committed meanwhile moves it,
        // so what is cached below can never be used after that change.
        let epoch = self.store.credential_epoch();
        let cached = epoch.and_then(|e| self.tokens.get(&hash, e)).filter(|(s, u)| grants(s, u.as_deref(), now));
        let (session, user) = match cached {
            Some(found) => found,
            None => {
                let Some((session, user)) = self.store.session_by_token(&hash).await? else {
                    return Ok(None);
                };
                let found = (Arc::new(session), user.map(Arc::new));
                if !grants(&found.0, found.1.as_deref(), now) {
                    return Ok(None);
                }
                if let Some(e) = epoch {
                    self.tokens.put(&hash, e, found.clone());
                }
                found
            }
        };
        if session.needs_touch(now) {
            self.store.touch_session(&session.id, now).await?;
            self.tokens.touched(&hash, now);
        }
        Ok(Some(Authenticated { session, user }))
    }
}

/// Whether a stored session lets its bearer in now.
fn grants(session: &Session, user: Option<&User>, now: crate::clock::UnixTime) -> bool {
    let account_ok = match (&session.user_uid, user) {
        (Some(_), None) => false,
        (Some(_), Some(u)) => u.can_login,
        (None, _) => true,
    };
    account_ok && session.is_live(now)
}

fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}
