//! TOTP authenticators: the sealed secret, setup progress, replay state and the hash of
//! the recovery code. Every state change that must not race is one statement or one
//! transaction, so it holds across instances.

use sqlx::FromRow;

use super::factors::adopt_recovery_code;
use super::lifecycle::{Target, end_for_account, lock_user};
use super::{Store, StoreError};
use crate::clock::UnixTime;
use crate::domain::lifecycle::{self, Event};

/// A user's authenticator as stored. Until `activated_at` is set it is only a pending
/// setup: the account's auth method stays `default` and logins ignore it.
#[derive(Clone, PartialEq, Eq, FromRow)]
pub struct Passcode {
    pub user_uid: String,
    pub kind: String,
    /// The TOTP secret, sealed with the server key and bound to `user_uid`.
    pub secret_sealed: String,
    pub created_at: i64,
    pub verified_at: Option<i64>,
    pub activated_at: Option<i64>,
    /// The last accepted time step (-1: none yet).
    pub last_step: i64,
    /// Argon2id hash of the normalised recovery code shown at confirmation, until
    /// activation makes it the account's (`recovery_codes`). `None` for a later
    /// factor, which keeps the account's existing code.
    pub recovery_hash: Option<String>,
}

impl std::fmt::Debug for Passcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passcode")
            .field("user_uid", &self.user_uid)
            .field("verified_at", &self.verified_at)
            .field("activated_at", &self.activated_at)
            .finish_non_exhaustive()
    }
}

/// Storage of authenticators.
pub trait PasscodeStore {
    async fn passcode(&self, uid: &str) -> Result<Option<Passcode>, StoreError>;
    /// Stores a new, unconfirmed authenticator, replacing an unfinished one and any
    /// passkey waiting for activation (one setup is pending at most). Returns `false`
    /// (and changes nothing) if an active one exists.
    async fn start_passcode(&self, p: &Passcode) -> Result<bool, StoreError>;
    /// Records `step` as used if it is newer than the last used one. Exactly one of any
    /// number of concurrent callers with the same step gets `true`.
    async fn consume_step(&self, uid: &str, step: i64) -> Result<bool, StoreError>;
    /// Marks the pending setup whose sealed secret is `secret_sealed` as confirmed and
    /// stores the hash of its recovery code (none when the account already has one).
    /// `false` if that setup is gone (started over, activated or removed meanwhile).
    async fn mark_verified(
        &self,
        uid: &str,
        secret_sealed: &str,
        recovery_hash: Option<&str>,
        now: UnixTime,
    ) -> Result<bool, StoreError>;
    /// Turns a confirmed setup started after `started_after` on: its recovery code
    /// becomes the account's (or the account's existing one stays), the account's
    /// auth method becomes 2FA and the user's other web sessions end, in one
    /// transaction.
    async fn activate_passcode(
        &self,
        uid: &str,
        now: UnixTime,
        started_after: UnixTime,
        keep_session: &str,
    ) -> Result<bool, StoreError>;
    /// Removes a setup that was never activated and was started at or before
    /// `started_by` (it expired). `true` if one was removed.
    async fn discard_pending_passcode(&self, uid: &str, started_by: UnixTime) -> Result<bool, StoreError>;
    /// Removes the authenticator (and a pending setup); 2FA stays on only while a
    /// passkey remains; the other sessions end (lifecycle "own Disable 2FA"). Returns
    /// (whether there was one, whether 2FA is still on).
    async fn remove_passcode(&self, uid: &str, now: UnixTime, keep_session: &str) -> Result<(bool, bool), StoreError>;
}

impl PasscodeStore for Store {
    async fn passcode(&self, uid: &str) -> Result<Option<Passcode>, StoreError> {
        Ok(sqlx::query_as::<_, Passcode>(
            "SELECT user_uid, kind, secret_sealed, created_at, verified_at, activated_at, last_step, recovery_hash \
             FROM passcodes WHERE user_uid = $1",
        )
        .bind(uid)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn start_passcode(&self, p: &Passcode) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if lock_user(&mut tx, self.backend, &p.user_uid).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        let r = sqlx::query(
            "INSERT INTO passcodes (user_uid, kind, secret_sealed, created_at, verified_at, activated_at, last_step, \
             recovery_hash) VALUES ($1, $2, $3, $4, NULL, NULL, -1, NULL) \
             ON CONFLICT (user_uid) DO UPDATE SET kind = excluded.kind, secret_sealed = excluded.secret_sealed, \
             created_at = excluded.created_at, verified_at = NULL, activated_at = NULL, last_step = -1, \
             recovery_hash = NULL WHERE passcodes.activated_at IS NULL",
        )
        .bind(&p.user_uid)
        .bind(&p.kind)
        .bind(&p.secret_sealed)
        .bind(p.created_at)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        // One setup pending at most: a passkey waiting for activation gives way.
        sqlx::query("DELETE FROM passkeys WHERE user_uid = $1 AND activated_at IS NULL")
            .bind(&p.user_uid)
            .execute(&mut *tx)
            .await?;
        self.commit_credentials(tx).await?;
        Ok(true)
    }

    async fn consume_step(&self, uid: &str, step: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE passcodes SET last_step = $2 WHERE user_uid = $1 AND last_step < $2")
            .bind(uid)
            .bind(step)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn mark_verified(
        &self,
        uid: &str,
        secret_sealed: &str,
        recovery_hash: Option<&str>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE passcodes SET verified_at = $2, recovery_hash = $3 \
             WHERE user_uid = $1 AND secret_sealed = $4 AND activated_at IS NULL",
        )
        .bind(uid)
        .bind(now)
        .bind(recovery_hash)
        .bind(secret_sealed)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn activate_passcode(
        &self,
        uid: &str,
        now: UnixTime,
        started_after: UnixTime,
        keep_session: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if lock_user(&mut tx, self.backend, uid).await?.is_none() {
            return Ok(false);
        }
        let pending = sqlx::query_scalar::<_, Option<String>>(
            "SELECT recovery_hash FROM passcodes \
             WHERE user_uid = $1 AND verified_at IS NOT NULL AND activated_at IS NULL AND created_at > $2",
        )
        .bind(uid)
        .bind(started_after)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(pending) = pending else {
            return Ok(false);
        };
        if !adopt_recovery_code(&mut tx, uid, pending.as_deref(), now).await? {
            return Ok(false);
        }
        let activated = sqlx::query(
            "UPDATE passcodes SET activated_at = $2, recovery_hash = NULL \
             WHERE user_uid = $1 AND verified_at IS NOT NULL AND activated_at IS NULL",
        )
        .bind(uid)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if activated.rows_affected() != 1 {
            // Dropping the transaction rolls the recovery code and auth method back.
            return Ok(false);
        }
        // A passkey still waiting for activation carries a recovery code that can
        // no longer become the account's: it goes, so one setup is pending at most.
        sqlx::query("DELETE FROM passkeys WHERE user_uid = $1 AND activated_at IS NULL")
            .bind(uid)
            .execute(&mut *tx)
            .await?;
        let target = Target { uid, keep_session: Some(keep_session), that: None };
        end_for_account(&mut tx, &lifecycle::ends(Event::TwoFactorEnabled), target, now).await?;
        self.commit_credentials(tx).await?;
        Ok(true)
    }

    async fn discard_pending_passcode(&self, uid: &str, started_by: UnixTime) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM passcodes WHERE user_uid = $1 AND activated_at IS NULL AND created_at <= $2")
            .bind(uid)
            .bind(started_by)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn remove_passcode(&self, uid: &str, now: UnixTime, keep_session: &str) -> Result<(bool, bool), StoreError> {
        let mut tx = self.begin_write().await?;
        if lock_user(&mut tx, self.backend, uid).await?.is_none() {
            return Ok((false, false));
        }
        let existed = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM passcodes WHERE user_uid = $1")
            .bind(uid)
            .fetch_one(&mut *tx)
            .await?;
        let target = Target { uid, keep_session: Some(keep_session), that: None };
        let ended = end_for_account(&mut tx, &lifecycle::ends(Event::OwnDisableTwoFactor), target, now).await?;
        self.commit_credentials(tx).await?;
        Ok((existed == 1, ended.two_factor_on))
    }
}
