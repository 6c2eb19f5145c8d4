//! The account's second factors as a whole: its one recovery code, and the rule that
//! ties `users.auth_method` to them — 2FA is on exactly while the account has an
//! active TOTP authenticator or an active passkey. Every change of a factor settles
//! that rule in the transaction that made the change.

use super::{Store, StoreError};
use crate::clock::UnixTime;

/// Which second factors an account has switched on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Factors {
    pub totp: bool,
    pub passkeys: i64,
}

impl Factors {
    /// "totp, 2 passkeys" — for lists and tables; empty when there are none.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.totp {
            parts.push("totp".to_owned());
        }
        match self.passkeys {
            0 => {}
            1 => parts.push("1 passkey".to_owned()),
            n => parts.push(format!("{n} passkeys")),
        }
        parts.join(", ")
    }

    /// The factor names for JSON (`["totp", "passkey"]`).
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.totp {
            names.push("totp");
        }
        if self.passkeys > 0 {
            names.push("passkey");
        }
        names
    }
}

/// Reading and using the account-wide second-factor state.
pub trait FactorStore {
    /// The hash of the account's recovery code (present while 2FA is on).
    async fn recovery_hash(&self, uid: &str) -> Result<Option<String>, StoreError>;
    /// Uses the recovery code whose hash is `hash`: removes every second factor and
    /// turns 2FA off. `true` for exactly one caller.
    async fn redeem_recovery(&self, uid: &str, hash: &str, now: UnixTime) -> Result<bool, StoreError>;
    /// The active factors of one account.
    async fn factors(&self, uid: &str) -> Result<Factors, StoreError>;
    /// The active factors of every account that has any, by uid (two queries).
    async fn all_factors(&self) -> Result<std::collections::HashMap<String, Factors>, StoreError>;
}

impl FactorStore for Store {
    async fn recovery_hash(&self, uid: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>("SELECT hash FROM recovery_codes WHERE user_uid = $1")
            .bind(uid)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn redeem_recovery(&self, uid: &str, hash: &str, now: UnixTime) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("DELETE FROM recovery_codes WHERE user_uid = $1 AND hash = $2")
            .bind(uid)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        remove_second_factors(&mut tx, uid, now).await?;
        self.commit_credentials(tx).await?;
        Ok(true)
    }

    async fn factors(&self, uid: &str) -> Result<Factors, StoreError> {
        let (totp, passkeys) = sqlx::query_as::<_, (i64, i64)>(
            "SELECT (SELECT COUNT(*) FROM passcodes WHERE user_uid = $1 AND activated_at IS NOT NULL), \
                    (SELECT COUNT(*) FROM passkeys WHERE user_uid = $1 AND activated_at IS NOT NULL)",
        )
        .bind(uid)
        .fetch_one(&self.pool)
        .await?;
        Ok(Factors { totp: totp > 0, passkeys })
    }

    async fn all_factors(&self) -> Result<std::collections::HashMap<String, Factors>, StoreError> {
        let totp = sqlx::query_scalar::<_, String>("SELECT user_uid FROM passcodes WHERE activated_at IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        let keys = sqlx::query_as::<_, (String, i64)>(
            "SELECT user_uid, COUNT(*) FROM passkeys WHERE activated_at IS NOT NULL GROUP BY user_uid",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut all = std::collections::HashMap::<String, Factors>::new();
        for uid in totp {
            all.entry(uid).or_default().totp = true;
        }
        for (uid, n) in keys {
            all.entry(uid).or_default().passkeys = n;
        }
        Ok(all)
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Removes every second factor of the account (authenticator, passkeys, recovery code)
/// and sets its auth method to password only: admin "Disable 2FA" and the recovery code.
pub(crate) async fn remove_second_factors(tx: &mut Tx, uid: &str, now: UnixTime) -> Result<(), StoreError> {
    for statement in [
        "DELETE FROM passcodes WHERE user_uid = $1",
        "DELETE FROM passkeys WHERE user_uid = $1",
        "DELETE FROM recovery_codes WHERE user_uid = $1",
        "DELETE FROM webauthn_challenges WHERE user_uid = $1",
    ] {
        sqlx::query(statement).bind(uid).execute(&mut **tx).await?;
    }
    set_auth_method(tx, uid, "default", now).await
}

/// After a factor was removed: keeps 2FA on if an active factor remains, else removes
/// the recovery code and turns 2FA off. Returns whether 2FA is on.
pub(crate) async fn settle_two_factor(tx: &mut Tx, uid: &str, now: UnixTime) -> Result<bool, StoreError> {
    let remaining = sqlx::query_scalar::<_, i64>(
        "SELECT (SELECT COUNT(*) FROM passcodes WHERE user_uid = $1 AND activated_at IS NOT NULL) + \
                (SELECT COUNT(*) FROM passkeys WHERE user_uid = $1 AND activated_at IS NOT NULL)",
    )
    .bind(uid)
    .fetch_one(&mut **tx)
    .await?;
    if remaining > 0 {
        return Ok(true);
    }
    sqlx::query("DELETE FROM recovery_codes WHERE user_uid = $1").bind(uid).execute(&mut **tx).await?;
    set_auth_method(tx, uid, "default", now).await?;
    Ok(false)
}

/// Makes a newly activated factor count: with `pending` (the first factor's freshly
/// shown recovery code) it becomes the account's code — refused if the account got
/// one meanwhile, since the user saved a code that would not work; without it, the
/// account must already have one (a later factor keeps it). Then 2FA is on.
pub(crate) async fn adopt_recovery_code(
    tx: &mut Tx,
    uid: &str,
    pending: Option<&str>,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let ok = match pending {
        Some(hash) => {
            sqlx::query(
                "INSERT INTO recovery_codes (user_uid, hash, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_uid) DO NOTHING",
            )
            .bind(uid)
            .bind(hash)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected()
                == 1
        }
        None => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM recovery_codes WHERE user_uid = $1")
                .bind(uid)
                .fetch_one(&mut **tx)
                .await?
                > 0
        }
    };
    if ok {
        set_auth_method(tx, uid, "2fa", now).await?;
    }
    Ok(ok)
}

/// Ends the user's web sessions but `keep` (app passwords keep working).
pub(crate) async fn end_other_web_sessions(tx: &mut Tx, uid: &str, keep: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE user_uid = $1 AND kind = 'web' AND parent_id IS NULL AND id <> $2")
        .bind(uid)
        .bind(keep)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sets the account's auth method inside the transaction that changed its factors.
pub(crate) async fn set_auth_method(tx: &mut Tx, uid: &str, method: &str, now: UnixTime) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET auth_method = $3, updated_at = $2 WHERE uid = $1")
        .bind(uid)
        .bind(now)
        .bind(method)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
