//! Applies a row of the credential-lifecycle table (`domain::lifecycle`) inside the
//! transaction that made the change, and the lock every change of an account's
//! credentials takes first, so that such changes happen one after the other per
//! account (on SQLite `BEGIN IMMEDIATE` already serialises every writer).

use super::{Backend, StoreError};
use crate::clock::UnixTime;
use crate::domain::lifecycle::{Ends, Factor, Recovery, Sessions, Tokens};
use crate::domain::scope::Scope;

pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The account's auth method, with its row locked until the transaction ends; `None`
/// for a deleted or unknown account.
pub(crate) async fn lock_user(tx: &mut Tx, backend: Backend, uid: &str) -> Result<Option<String>, StoreError> {
    let sql = match backend {
        Backend::Postgres => "SELECT auth_method FROM users WHERE uid = $1 AND deleted_at IS NULL FOR UPDATE",
        Backend::Sqlite => "SELECT auth_method FROM users WHERE uid = $1 AND deleted_at IS NULL",
    };
    Ok(sqlx::query_scalar::<_, String>(sql).bind(uid).fetch_optional(&mut **tx).await?)
}

/// What an account event ended, as the answers report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// Sessions ended (web sessions and sessions opened with an app password).
    pub sessions: u64,
    pub app_passwords: u64,
    /// Whether 2FA is on afterwards.
    pub two_factor_on: bool,
}

/// The account event's credentials to end, besides the one it names (`that`: the
/// passkey or app password by id) and the caller's own session (`keep`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub uid: &'a str,
    pub keep_session: Option<&'a str>,
    pub that: Option<&'a str>,
}

async fn run1(tx: &mut Tx, sql: &'static str, key: &str) -> Result<u64, StoreError> {
    Ok(sqlx::query(sql).bind(key).execute(&mut **tx).await?.rows_affected())
}

async fn run(tx: &mut Tx, sql: &'static str, uid: &str, arg: &str) -> Result<u64, StoreError> {
    Ok(sqlx::query(sql).bind(uid).bind(arg).execute(&mut **tx).await?.rows_affected())
}

/// Ends what `ends` says for the account `t.uid`. Call it with the user row locked
/// ([`lock_user`]). Keeps the invariants: 2FA is on iff an active factor exists, and
/// the recovery code exists iff 2FA is on.
pub(crate) async fn end_for_account(
    tx: &mut Tx,
    ends: &Ends,
    t: Target<'_>,
    now: UnixTime,
) -> Result<Ended, StoreError> {
    let uid = t.uid;
    let keep = t.keep_session.unwrap_or("");
    let mut ended = Ended::default();
    // Children (sessions opened with an app password) go first, so they are counted.
    if ends.app_password_sessions != Sessions::Kept {
        ended.sessions += run(
            tx,
            "DELETE FROM sessions WHERE user_uid = $1 AND kind = 'web' AND parent_id IS NOT NULL AND id <> $2",
            uid,
            keep,
        )
        .await?;
    }
    let web = match ends.web_sessions {
        Sessions::Kept => None,
        Sessions::Others => Some(keep),
        Sessions::All => Some(""),
    };
    if let Some(keep) = web {
        ended.sessions += run(
            tx,
            "DELETE FROM sessions WHERE user_uid = $1 AND kind = 'web' AND parent_id IS NULL AND id <> $2",
            uid,
            keep,
        )
        .await?;
    }
    ended.app_passwords = match ends.app_passwords {
        Factor::Kept => 0,
        Factor::That => {
            run(
                tx,
                "DELETE FROM sessions WHERE user_uid = $1 AND kind = 'app_password' AND id = $2",
                uid,
                t.that.unwrap_or(""),
            )
            .await?
        }
        Factor::Removed => run1(tx, "DELETE FROM sessions WHERE user_uid = $1 AND kind = 'app_password'", uid).await?,
    };
    match ends.passkeys {
        Factor::Kept => 0,
        Factor::That => {
            run(tx, "DELETE FROM passkeys WHERE user_uid = $1 AND id = $2", uid, t.that.unwrap_or("")).await?
        }
        Factor::Removed => run1(tx, "DELETE FROM passkeys WHERE user_uid = $1", uid).await?,
    };
    if ends.totp == Factor::Removed {
        run1(tx, "DELETE FROM passcodes WHERE user_uid = $1", uid).await?;
    }
    if ends.pending {
        for sql in [
            "DELETE FROM passcodes WHERE user_uid = $1 AND activated_at IS NULL",
            "DELETE FROM passkeys WHERE user_uid = $1 AND activated_at IS NULL",
            "DELETE FROM webauthn_challenges WHERE user_uid = $1",
        ] {
            run1(tx, sql, uid).await?;
        }
    }
    ended.two_factor_on = match ends.recovery_code {
        Recovery::Removed => {
            run1(tx, "DELETE FROM recovery_codes WHERE user_uid = $1", uid).await?;
            set_two_factor(tx, uid, false, now).await?;
            false
        }
        Recovery::WithLastFactor => settle(tx, uid, now).await?,
        Recovery::Kept => active_factors(tx, uid).await? > 0,
    };
    Ok(ended)
}

/// Active second factors of the account.
pub(crate) async fn active_factors(tx: &mut Tx, uid: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT (SELECT COUNT(*) FROM passcodes WHERE user_uid = $1 AND activated_at IS NOT NULL) + \
                (SELECT COUNT(*) FROM passkeys WHERE user_uid = $1 AND activated_at IS NOT NULL)",
    )
    .bind(uid)
    .fetch_one(&mut **tx)
    .await?)
}

/// After a factor went: 2FA stays on while an active factor remains; with the last one
/// the recovery code goes and 2FA goes off. Returns whether 2FA is on.
pub(crate) async fn settle(tx: &mut Tx, uid: &str, now: UnixTime) -> Result<bool, StoreError> {
    if active_factors(tx, uid).await? > 0 {
        return Ok(true);
    }
    run1(tx, "DELETE FROM recovery_codes WHERE user_uid = $1", uid).await?;
    set_two_factor(tx, uid, false, now).await?;
    Ok(false)
}

/// Sets the account's auth method inside the transaction that changed its factors.
pub(crate) async fn set_two_factor(tx: &mut Tx, uid: &str, on: bool, now: UnixTime) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET auth_method = $3, updated_at = $2 WHERE uid = $1")
        .bind(uid)
        .bind(now)
        .bind(if on { "2fa" } else { "default" })
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Applies a client event to its tokens: revokes them, or narrows each to what the
/// client's new `scope` still grants (revoking those left with nothing).
pub(crate) async fn end_for_client(
    tx: &mut Tx,
    ends: &Ends,
    client_id: &str,
    scope: &Scope,
) -> Result<u64, StoreError> {
    match ends.oauth_tokens {
        Tokens::Kept => Ok(0),
        Tokens::Revoked => run1(tx, "DELETE FROM sessions WHERE client_id = $1", client_id).await,
        Tokens::Narrowed => {
            let tokens = sqlx::query_as::<_, (String, String)>("SELECT id, scope FROM sessions WHERE client_id = $1")
                .bind(client_id)
                .fetch_all(&mut **tx)
                .await?;
            let mut changed = 0;
            for (id, current) in tokens {
                let narrowed = Scope::parse(&current).ok().and_then(|s| s.intersect(scope));
                match narrowed {
                    Some(s) if s.as_str() == current => {}
                    Some(s) => {
                        sqlx::query("UPDATE sessions SET scope = $2 WHERE id = $1")
                            .bind(&id)
                            .bind(s.as_str())
                            .execute(&mut **tx)
                            .await?;
                        changed += 1;
                    }
                    None => {
                        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&id).execute(&mut **tx).await?;
                        changed += 1;
                    }
                }
            }
            Ok(changed)
        }
    }
}
