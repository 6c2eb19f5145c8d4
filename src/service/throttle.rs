//! Applying the brute-force limits of `domain::throttle` to one attempt.

use super::{Gatehouse, RequestMeta, Subject};
use crate::domain::event::EventKind;
use crate::domain::throttle::{address_key, retry_after};
use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::UnixTime;
use crate::store::{AttemptStore as _, Outcome, StoreError, UserStore as _};

/// A refused or failed throttle check.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error("too many failed attempts, try again in {retry_after} seconds")]
    Limited { retry_after: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An attempt allowed to proceed. It must be ended with one of its methods; one that
/// is dropped still counts as a failure for a few minutes (its request died mid-way).
#[derive(Debug)]
#[must_use = "end the attempt with failed(), succeeded() or neutral()"]
pub struct Attempt {
    id: i64,
}

impl Attempt {
    /// A wrong password, code or recovery code.
    pub async fn failed(self, app: &Gatehouse) {
        app.finish(self.id, Some(Outcome::Failure)).await;
    }

    /// Complete success: the address becomes known for this account.
    pub async fn succeeded(self, app: &Gatehouse) {
        app.finish(self.id, Some(Outcome::Success)).await;
    }

    /// Neither: e.g. the right password without the second factor. Not a guess.
    pub async fn neutral(self, app: &Gatehouse) {
        app.finish(self.id, None).await;
    }
}

impl Gatehouse {
    /// Admits an attempt on `account_key` from the request's address, or says how long
    /// to wait. Throttled attempts are not checked at all, so they cost no hashing.
    ///
    /// A refused attempt costs one read and no write, and its answer is held back for
    /// `settings.throttle_delay` (a tarpit): a flood then ties up sleeping connections,
    /// not the cores that serve everyone else. An admitted attempt is recorded as pending
    /// and checked again, so concurrent attempts cannot slip past the hourly cap.
    pub async fn throttle_begin(&self, account_key: &str, meta: &RequestMeta) -> Result<Attempt, ThrottleError> {
        let now = self.now();
        let address = address_key(meta.ip);
        let before = self.store.tallies(account_key, &address, now, -1).await?;
        if let Some(wait) = retry_after(&before, now) {
            return Err(self.refuse(account_key, meta, wait).await);
        }
        let id = self.store.begin_attempt(account_key, &address, now).await?;
        let with_pending = self.store.tallies(account_key, &address, now, id).await?;
        if let Some(wait) = retry_after(&with_pending, now) {
            self.store.forget_attempt(id).await?;
            return Err(self.refuse(account_key, meta, wait).await);
        }
        Ok(Attempt { id })
    }

    async fn refuse(&self, account_key: &str, meta: &RequestMeta, wait: i64) -> ThrottleError {
        if self.throttle_log.should_record(account_key, self.now()) {
            self.record_throttled(account_key, meta, wait).await;
        }
        tokio::time::sleep(self.settings.throttle_delay).await;
        ThrottleError::Limited { retry_after: wait }
    }

    async fn finish(&self, id: i64, outcome: Option<Outcome>) {
        let result = match outcome {
            Some(o) => self.store.finish_attempt(id, o).await,
            None => self.store.forget_attempt(id).await,
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "could not record the outcome of a login attempt");
        }
    }

    async fn record_throttled(&self, account_key: &str, meta: &RequestMeta, wait: i64) {
        let user = self.store.user_by_name(account_key).await.ok().flatten();
        let subject = Subject { uid: user.as_ref().map(|u| u.uid.as_str()), username: account_key };
        self.record(EventKind::Throttled, subject, meta, "", &format!("retry after {wait} s")).await;
    }
}

/// Remembers when a throttled attempt was last logged per account, so a flood is logged
/// once a minute per account and instance rather than once per request.
#[derive(Debug, Default)]
pub struct ThrottleLog {
    last: Mutex<HashMap<String, UnixTime>>,
}

impl ThrottleLog {
    fn should_record(&self, account_key: &str, now: UnixTime) -> bool {
        let Ok(mut last) = self.last.lock() else { return true };
        if last.len() > 10_000 {
            last.retain(|_, at| now - *at < 60);
        }
        match last.get(account_key) {
            Some(at) if now - *at < 60 => false,
            _ => {
                last.insert(account_key.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_account_is_logged_once_a_minute() {
        let log = ThrottleLog::default();
        assert!(log.should_record("bob", 1000));
        assert!(!log.should_record("bob", 1059));
        assert!(log.should_record("carol", 1059));
        assert!(log.should_record("bob", 1060));
    }
}
