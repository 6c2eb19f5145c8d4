//! Passkeys (WebAuthn credentials) and the ceremonies in flight. Challenges live here,
//! not in memory, so a ceremony started on one instance finishes on another; taking
//! one deletes it in the same statement, so each is used at most once.

use sqlx::FromRow;

use super::factors::adopt_recovery_code;
use super::lifecycle::{Target, end_for_account, lock_user};
use super::{Store, StoreError};
use crate::clock::UnixTime;
use crate::domain::lifecycle::{self, Event};

/// A passkey as stored. `activated_at` is `None` while it waits, as an account's first
/// second factor, for the user to save the recovery code; logins ignore it until then.
#[derive(Clone, FromRow)]
pub struct StoredPasskey {
    pub id: String,
    pub user_uid: String,
    pub credential_id: Vec<u8>,
    pub user_handle: String,
    pub rp_id: String,
    pub name: String,
    /// The public key and flags (webauthn-rs `Passkey`, JSON).
    pub credential: String,
    pub sign_count: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub activated_at: Option<i64>,
    pub pending_recovery_hash: Option<String>,
}

impl std::fmt::Debug for StoredPasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPasskey")
            .field("id", &self.id)
            .field("user_uid", &self.user_uid)
            .field("rp_id", &self.rp_id)
            .field("name", &self.name)
            .field("activated_at", &self.activated_at)
            .finish_non_exhaustive()
    }
}

/// A WebAuthn ceremony waiting for the client's answer.
#[derive(Debug, Clone, FromRow)]
pub struct StoredChallenge {
    /// `register`, `second_factor` or `passwordless`.
    pub purpose: String,
    /// The account it is bound to (none for a passwordless login).
    pub user_uid: Option<String>,
    pub rp_id: String,
    /// The name of the passkey being registered.
    pub name: String,
    /// The ceremony state (webauthn-rs, JSON).
    pub state: String,
    pub expires_at: i64,
}

/// The caps a new ceremony must fit under.
#[derive(Debug, Clone, Copy)]
pub struct CeremonyRoom<'a> {
    /// The client's address key (IPv6 by /64).
    pub address: &'a str,
    pub now: UnixTime,
    /// Pending ceremonies from one address, any purpose.
    pub per_address: i64,
    /// Pending ceremonies of this purpose, from everyone.
    pub per_purpose: i64,
}

/// What became of a ceremony to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonySaved {
    Saved,
    /// This address has its cap pending; the first of them expires in `retry_after` s.
    AddressFull {
        retry_after: i64,
    },
    /// The server has its cap of pending ceremonies of this purpose.
    Full,
}

const COLUMNS: &str = "id, user_uid, credential_id, user_handle, rp_id, name, credential, sign_count, created_at, \
                       last_used_at, activated_at, pending_recovery_hash";

/// Storage of passkeys and their challenges.
pub trait PasskeyStore {
    /// The user's passkeys, pending ones included, oldest first.
    async fn passkeys(&self, uid: &str) -> Result<Vec<StoredPasskey>, StoreError>;
    async fn passkey_by_credential_id(&self, credential_id: &[u8]) -> Result<Option<StoredPasskey>, StoreError>;
    /// Stores a new passkey; `Conflict` if its credential id is already registered.
    async fn add_passkey(&self, p: &StoredPasskey) -> Result<(), StoreError>;
    /// Turns a pending passkey started after `started_after` on: its recovery code
    /// becomes the account's, 2FA goes on and the user's other web sessions end, in one
    /// transaction. Returns the activated passkey; `None` if it is gone, expired, or
    /// 2FA got another code meanwhile.
    async fn activate_passkey(
        &self,
        uid: &str,
        id: &str,
        now: UnixTime,
        started_after: UnixTime,
        keep_session: &str,
    ) -> Result<Option<StoredPasskey>, StoreError>;
    async fn rename_passkey(&self, uid: &str, id: &str, name: &str) -> Result<bool, StoreError>;
    /// Removes a passkey. `None` if there was none; else whether 2FA is still on (it
    /// goes off with the account's last second factor).
    async fn remove_passkey(
        &self,
        uid: &str,
        id: &str,
        now: UnixTime,
        keep_session: &str,
    ) -> Result<Option<bool>, StoreError>;
    /// Removes pending passkeys registered at or before `started_by` (never activated).
    async fn discard_pending_passkeys(&self, uid: &str, started_by: UnixTime) -> Result<u64, StoreError>;
    /// Records a use with the authenticator's new signature counter, only if that
    /// counter moved forward (or the key keeps none: both zero). `false` for a counter
    /// that did not, also when a concurrent login with the same key got there first.
    async fn use_passkey(&self, id: &str, count: i64, credential: &str, now: UnixTime) -> Result<bool, StoreError>;
    /// Stores a ceremony from `room.address` unless that address or the ceremony's
    /// purpose already has its cap of pending ones; expired ones are swept first.
    async fn save_challenge(
        &self,
        id_hash: &str,
        c: &StoredChallenge,
        room: &CeremonyRoom<'_>,
    ) -> Result<CeremonySaved, StoreError>;
    /// Takes (deletes and returns) an unexpired challenge; expired ones are swept.
    async fn take_challenge(&self, id_hash: &str, now: UnixTime) -> Result<Option<StoredChallenge>, StoreError>;
}

impl PasskeyStore for Store {
    async fn passkeys(&self, uid: &str) -> Result<Vec<StoredPasskey>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE user_uid = $1 ORDER BY created_at, id");
        Ok(sqlx::query_as::<_, StoredPasskey>(sqlx::AssertSqlSafe(sql)).bind(uid).fetch_all(&self.pool).await?)
    }

    async fn passkey_by_credential_id(&self, credential_id: &[u8]) -> Result<Option<StoredPasskey>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1");
        Ok(sqlx::query_as::<_, StoredPasskey>(sqlx::AssertSqlSafe(sql))
            .bind(credential_id.to_vec())
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn add_passkey(&self, p: &StoredPasskey) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO passkeys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
        let mut tx = self.begin_write().await?;
        let Some(method) = lock_user(&mut tx, self.backend, &p.user_uid).await? else {
            return Err(StoreError::NotFound);
        };
        // A later factor joins 2FA that is on; a first one waits while it is off. Either
        // may have changed since the caller looked (recovery code used, 2FA disabled,
        // another first factor activated): then the ceremony must start again.
        let two_factor_on = method == "2fa";
        if two_factor_on != p.activated_at.is_some() {
            return Err(StoreError::Stale);
        }
        if p.activated_at.is_none() {
            // At most one pending setup: a new first passkey replaces a waiting one and
            // an unfinished TOTP setup.
            for sql in [
                "DELETE FROM passkeys WHERE user_uid = $1 AND activated_at IS NULL",
                "DELETE FROM passcodes WHERE user_uid = $1 AND activated_at IS NULL",
            ] {
                sqlx::query(sql).bind(&p.user_uid).execute(&mut *tx).await?;
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&p.id)
            .bind(&p.user_uid)
            .bind(p.credential_id.clone())
            .bind(&p.user_handle)
            .bind(&p.rp_id)
            .bind(&p.name)
            .bind(&p.credential)
            .bind(p.sign_count)
            .bind(p.created_at)
            .bind(p.last_used_at)
            .bind(p.activated_at)
            .bind(&p.pending_recovery_hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        self.commit_credentials(tx).await
    }

    async fn activate_passkey(
        &self,
        uid: &str,
        id: &str,
        now: UnixTime,
        started_after: UnixTime,
        keep_session: &str,
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let mut tx = self.begin_write().await?;
        if lock_user(&mut tx, self.backend, uid).await?.is_none() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM passkeys WHERE id = $1 AND user_uid = $2 AND activated_at IS NULL AND created_at > $3"
        );
        let pending = sqlx::query_as::<_, StoredPasskey>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(uid)
            .bind(started_after)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(mut key) = pending else {
            return Ok(None);
        };
        let Some(hash) = key.pending_recovery_hash.take() else {
            return Ok(None);
        };
        if !adopt_recovery_code(&mut tx, uid, Some(&hash), now).await? {
            return Ok(None);
        }
        let r = sqlx::query(
            "UPDATE passkeys SET activated_at = $2, pending_recovery_hash = NULL WHERE id = $1 AND activated_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(None);
        }
        // A TOTP setup still pending carries a recovery code that can no longer become
        // the account's; so do other waiting passkeys.
        for sql in [
            "DELETE FROM passcodes WHERE user_uid = $1 AND activated_at IS NULL AND recovery_hash IS NOT NULL",
            "DELETE FROM passkeys WHERE user_uid = $1 AND activated_at IS NULL",
        ] {
            sqlx::query(sql).bind(uid).execute(&mut *tx).await?;
        }
        let target = Target { uid, keep_session: Some(keep_session), that: None };
        end_for_account(&mut tx, &lifecycle::ends(Event::TwoFactorEnabled), target, now).await?;
        self.commit_credentials(tx).await?;
        key.activated_at = Some(now);
        Ok(Some(key))
    }

    async fn rename_passkey(&self, uid: &str, id: &str, name: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE passkeys SET name = $3 WHERE id = $1 AND user_uid = $2")
            .bind(id)
            .bind(uid)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn remove_passkey(
        &self,
        uid: &str,
        id: &str,
        now: UnixTime,
        keep_session: &str,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = self.begin_write().await?;
        if lock_user(&mut tx, self.backend, uid).await?.is_none() {
            return Ok(None);
        }
        let exists = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM passkeys WHERE id = $1 AND user_uid = $2")
            .bind(id)
            .bind(uid)
            .fetch_one(&mut *tx)
            .await?;
        if exists != 1 {
            return Ok(None);
        }
        let target = Target { uid, keep_session: Some(keep_session), that: Some(id) };
        let ended = end_for_account(&mut tx, &lifecycle::ends(Event::PasskeyRemoved), target, now).await?;
        self.commit_credentials(tx).await?;
        Ok(Some(ended.two_factor_on))
    }

    async fn discard_pending_passkeys(&self, uid: &str, started_by: UnixTime) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM passkeys WHERE user_uid = $1 AND activated_at IS NULL AND created_at <= $2")
            .bind(uid)
            .bind(started_by)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn use_passkey(&self, id: &str, count: i64, credential: &str, now: UnixTime) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE passkeys SET sign_count = $2, credential = $3, last_used_at = $4 \
             WHERE id = $1 AND activated_at IS NOT NULL AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
        )
        .bind(id)
        .bind(count)
        .bind(credential)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn save_challenge(
        &self,
        id_hash: &str,
        c: &StoredChallenge,
        room: &CeremonyRoom<'_>,
    ) -> Result<CeremonySaved, StoreError> {
        // Expired ceremonies go first, so they never count and never pile up.
        sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at <= $1")
            .bind(room.now)
            .execute(&self.pool)
            .await?;
        // Checked and inserted in one statement: the counts are those the insert sees.
        let r = sqlx::query(
            "INSERT INTO webauthn_challenges (id_hash, purpose, user_uid, rp_id, name, state, expires_at, ip_prefix) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
             WHERE (SELECT COUNT(*) FROM webauthn_challenges WHERE ip_prefix = $8) < $9 \
             AND (SELECT COUNT(*) FROM webauthn_challenges WHERE purpose = $2) < $10",
        )
        .bind(id_hash)
        .bind(&c.purpose)
        .bind(&c.user_uid)
        .bind(&c.rp_id)
        .bind(&c.name)
        .bind(&c.state)
        .bind(c.expires_at)
        .bind(room.address)
        .bind(room.per_address)
        .bind(room.per_purpose)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 1 {
            return Ok(CeremonySaved::Saved);
        }
        let (pending, first_expiry) = sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT COUNT(*), MIN(expires_at) FROM webauthn_challenges WHERE ip_prefix = $1",
        )
        .bind(room.address)
        .fetch_one(&self.pool)
        .await?;
        Ok(match first_expiry {
            Some(at) if pending >= room.per_address => {
                CeremonySaved::AddressFull { retry_after: (at - room.now).max(1) }
            }
            _ => CeremonySaved::Full,
        })
    }

    async fn take_challenge(&self, id_hash: &str, now: UnixTime) -> Result<Option<StoredChallenge>, StoreError> {
        sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(sqlx::query_as::<_, StoredChallenge>(
            "DELETE FROM webauthn_challenges WHERE id_hash = $1 AND expires_at > $2 \
             RETURNING purpose, user_uid, rp_id, name, state, expires_at",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }
}
