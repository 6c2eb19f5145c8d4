//! Applying the brute-force limits of `domain::throttle` to one attempt.

use super::{Gatehouse, RequestMeta, Subject};
use crate::domain::event::EventKind;
use crate::domain::throttle::{Channel, Decision, Lane, address_key, decide};
use crate::domain::token::{plausible_token, token_hash};
use crate::security::hasher::Priority;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::UnixTime;
use crate::store::{AttemptKey, AttemptStore as _, Outcome, Store, StoreError, UserStore as _};

/// How long a client is asked to wait when the throttle cannot be written, seconds.
pub const UNAVAILABLE_RETRY: i64 = 30;

/// A refused or failed throttle check.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error("too many failed attempts, try again in {retry_after} seconds")]
    Limited { retry_after: i64 },
    /// The attempt could not be counted (e.g. the database cannot write): it is not
    /// checked at all. Fail closed.
    #[error("logins are unavailable right now: {0}")]
    Unavailable(StoreError),
}

impl From<StoreError> for ThrottleError {
    fn from(e: StoreError) -> Self {
        ThrottleError::Unavailable(e)
    }
}

/// An attempt allowed to proceed, counted as in flight until it is ended with one of
/// its methods. One dropped without an end (an error before the check, or a client that
/// went away before learning anything) is forgotten in the background; one whose end
/// cannot be written stays in flight and counts for [`PENDING_TTL`] seconds.
///
/// [`PENDING_TTL`]: crate::domain::throttle::PENDING_TTL
#[derive(Debug)]
#[must_use = "end the attempt with failed(), succeeded(), partial() or neutral()"]
pub struct Attempt {
    id: i64,
    /// Whose attempt the throttle judged it to be.
    lane: Lane,
    account_key: String,
    device: Option<String>,
    /// Set until the attempt is ended.
    store: Option<Store>,
}

impl Attempt {
    /// Where its password check waits: the account holder's device and known
    /// addresses in a queue of their own, which strangers cannot fill.
    pub fn priority(&self) -> Priority {
        match self.lane {
            Lane::Stranger => Priority::Stranger,
            Lane::KnownAddress | Lane::Device => Priority::Owner,
        }
    }

    /// A wrong password, code or recovery code.
    pub async fn failed(mut self, app: &Gatehouse) {
        self.store = None;
        app.finish(self.id, Some(Outcome::Failure)).await;
    }

    /// Complete success: the address becomes known for this account, and the device
    /// cookie presented (if any) is bound to it.
    pub async fn succeeded(mut self, app: &Gatehouse) {
        self.store = None;
        app.finish(self.id, Some(Outcome::Success)).await;
    }

    /// The right password without the second factor: from strangers, counted like a
    /// guess on its channel (each costs a hash); from the owner's device or a known
    /// address, not counted.
    pub async fn partial(mut self, app: &Gatehouse) {
        self.store = None;
        app.finish(self.id, Some(Outcome::Partial)).await;
    }

    /// Neither: e.g. a password confirmed by a logged-in user. Not counted.
    pub async fn neutral(mut self, app: &Gatehouse) {
        self.store = None;
        app.finish(self.id, None).await;
    }

    /// The throttle's key of the account this attempt is about.
    pub fn account_key(&self) -> &str {
        &self.account_key
    }

    /// The device cookie the attempt came with, if it looked like one.
    pub fn device(&self) -> Option<&str> {
        self.device.as_deref()
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let (Some(store), Ok(runtime)) = (self.store.take(), tokio::runtime::Handle::try_current()) {
            let id = self.id;
            runtime.spawn(async move {
                if let Err(e) = store.forget_attempt(id).await {
                    tracing::warn!(error = %e, "could not forget an abandoned login attempt");
                }
            });
        }
    }
}

/// The hash under which a presented device cookie is counted, or `""`.
fn device_hash(meta: &RequestMeta) -> (Option<String>, String) {
    match meta.device.as_deref().filter(|d| plausible_token(d)) {
        Some(d) => (Some(d.to_owned()), token_hash(d)),
        None => (None, String::new()),
    }
}

impl Gatehouse {
    /// [`Gatehouse::throttle_begin_on`] for the JSON login channel.
    pub async fn throttle_begin(&self, account_key: &str, meta: &RequestMeta) -> Result<Attempt, ThrottleError> {
        self.throttle_begin_on(account_key, meta, Channel::Login).await
    }

    /// Admits an attempt on `account_key` from the request's address and device, or
    /// says how long to wait. Throttled attempts are not checked at all, so they cost
    /// no hashing; attempts that cannot be counted are not checked either (fail closed).
    ///
    /// A refused attempt costs two reads and no write, and its answer is held back for
    /// `settings.throttle_delay` (a tarpit): a flood then ties up sleeping connections,
    /// not the cores that serve everyone else. An admitted attempt is recorded as in
    /// flight *before* it is checked and judged again with every other attempt in
    /// flight, so a burst sent at once meets the delays a sequence would.
    pub async fn throttle_begin_on(
        &self,
        account_key: &str,
        meta: &RequestMeta,
        channel: Channel,
    ) -> Result<Attempt, ThrottleError> {
        let now = self.now();
        let address = address_key(meta.ip);
        let (device, device_hash) = device_hash(meta);
        let key = AttemptKey { account_key, address: &address, device: &device_hash, channel };
        let (standing, before) = self.store.tallies(&key, now, -1).await?;
        let lane = match decide(standing, &before, now) {
            Decision::Wait(wait) => return Err(self.refuse(account_key, meta, wait).await),
            Decision::Check(lane) => lane,
        };
        let id = self.store.begin_attempt(&key, lane, now).await?;
        // Should this fail, the attempt stays in flight and counts for a few minutes.
        let (standing, with_in_flight) = self.store.tallies(&key, now, id).await?;
        if let Decision::Wait(wait) = decide(standing, &with_in_flight, now) {
            self.store.forget_attempt(id).await?;
            return Err(self.refuse(account_key, meta, wait).await);
        }
        Ok(Attempt { id, lane, account_key: account_key.to_owned(), device, store: Some(self.store.clone()) })
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
