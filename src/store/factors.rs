//! The account's second factors as a whole: its one recovery code, and the rule that
//! ties `users.auth_method` to them — 2FA is on exactly while the account has an
//! active TOTP authenticator or an active passkey. Every change of a factor settles
//! that rule in the transaction that made the change.

use super::{Store, StoreError};
use crate::clock::UnixTime;
use crate::domain::lifecycle;

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
        if super::lifecycle::lock_user(&mut tx, self.backend, uid).await?.is_none() {
            return Ok(false);
        }
        let r = sqlx::query("DELETE FROM recovery_codes WHERE user_uid = $1 AND hash = $2")
            .bind(uid)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        let ends = lifecycle::ends(lifecycle::Event::RecoveryCodeUsed);
        let target = super::lifecycle::Target { uid, keep_session: None, that: None };
        super::lifecycle::end_for_account(&mut tx, &ends, target, now).await?;
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

use super::lifecycle::Tx;

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
        super::lifecycle::set_two_factor(tx, uid, true, now).await?;
    }
    Ok(ok)
}
