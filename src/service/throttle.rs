//! Applying the brute-force limits of `domain::throttle` to one attempt.

use super::{Gatehouse, RequestMeta, Subject};
use crate::domain::event::EventKind;
use crate::domain::throttle::{address_key, retry_after};
use crate::store::{AttemptStore as _, EventStore as _, Outcome, StoreError, UserStore as _};

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
    pub async fn throttle_begin(&self, account_key: &str, meta: &RequestMeta) -> Result<Attempt, ThrottleError> {
        let now = self.now();
        let address = address_key(meta.ip);
        let id = self.store.begin_attempt(account_key, &address, now).await?;
        let tallies = self.store.tallies(account_key, &address, now, id).await?;
        if let Some(wait) = retry_after(&tallies, now) {
            self.store.forget_attempt(id).await?;
            self.record_throttled(account_key, meta, wait).await;
            return Err(ThrottleError::Limited { retry_after: wait });
        }
        Ok(Attempt { id })
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

    /// Records a throttled attempt at most once a minute per account, so a flood does
    /// not flood the event log too.
    async fn record_throttled(&self, account_key: &str, meta: &RequestMeta, wait: i64) {
        let last = self.store.last_event_at(EventKind::Throttled, account_key).await.ok().flatten();
        if last.is_some_and(|at| self.now() - at < 60) {
            return;
        }
        let user = self.store.user_by_name(account_key).await.ok().flatten();
        let subject = Subject { uid: user.as_ref().map(|u| u.uid.as_str()), username: account_key };
        self.record(EventKind::Throttled, subject, meta, "", &format!("retry after {wait} s")).await;
    }
}
