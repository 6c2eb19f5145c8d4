//! Accounts: create, find, list, change under the guardrails, soft delete.

use crate::domain::access::Grant;
use sqlx::FromRow;

use super::lifecycle::{Target, end_for_account, lock_user};
use super::{Backend, Store, StoreError, flag, int};
use crate::clock::UnixTime;
use crate::domain::lifecycle::{self, Event};
use crate::domain::policy::PolicyError;
use crate::domain::user::{AuthMethod, Role, User, username_key};

/// What a guarded change decided to do with an account.
#[derive(Debug)]
pub enum UserChange {
    Update(User),
    Delete,
}

/// What a password change ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionsEnded {
    /// Web sessions (and any other non-app-password sessions) ended.
    pub sessions: u64,
    /// App passwords revoked.
    pub app_passwords: u64,
    /// Whether the account's second factors were removed (2FA is now off).
    pub second_factors_removed: bool,
}

/// Storage of user accounts.
pub trait UserStore {
    /// Inserts a new account; [`StoreError::Conflict`] if the name is taken.
    /// Creates the account with its home rows (`domain::access::home_grants`).
    async fn create_user(&self, user: &User, homes: &[Grant]) -> Result<(), StoreError>;
    async fn user_by_uid(&self, uid: &str) -> Result<Option<User>, StoreError>;
    /// Looks a login name up case-insensitively.
    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError>;
    /// All live accounts, optionally filtered by a search in name, login and email.
    async fn list_users(&self, query: Option<&str>) -> Result<Vec<User>, StoreError>;
    async fn count_users(&self) -> Result<i64, StoreError>;
    /// Loads `uid` and the number of admins who can log in, both under a write lock,
    /// lets `decide` rule, and applies its answer in the same transaction.
    async fn change_user<F>(&self, uid: &str, now: UnixTime, decide: F) -> Result<Option<User>, StoreError>
    where
        F: FnOnce(&User, i64) -> Result<UserChange, PolicyError> + Send;
    /// Stores a new password hash and, in the same transaction, ends what the lifecycle
    /// table says for `event` (an own change or an admin's reset), keeping `keep_session`.
    async fn set_password(
        &self,
        uid: &str,
        hash: &str,
        now: UnixTime,
        keep_session: Option<&str>,
        event: Event,
    ) -> Result<SessionsEnded, StoreError>;
    async fn record_login(&self, uid: &str, now: UnixTime) -> Result<(), StoreError>;
}

#[derive(FromRow)]
struct UserRow {
    uid: String,
    username: String,
    name: String,
    email: String,
    role: String,
    super_admin: i64,
    can_login: i64,
    webdav: i64,
    auth_method: String,
    password_hash: String,
    created_at: i64,
    updated_at: i64,
    login_at: Option<i64>,
}

/// `SELECT <every user column> FROM users` followed by the given SQL, as one literal
/// (sqlx only takes static SQL).
macro_rules! select_user {
    ($($rest:literal),+) => {
        concat!(
            "SELECT uid, username, name, email, role, super_admin, can_login, webdav, auth_method, \
             password_hash, created_at, updated_at, login_at FROM users ",
            $($rest),+
        )
    };
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("user {}: {what}", r.uid));
        Ok(User {
            role: Role::parse(&r.role).map_err(|_| bad("role"))?,
            auth_method: AuthMethod::parse(&r.auth_method).map_err(|_| bad("auth_method"))?,
            super_admin: flag(r.super_admin),
            can_login: flag(r.can_login),
            webdav: flag(r.webdav),
            uid: r.uid,
            username: r.username,
            name: r.name,
            email: r.email,
            password_hash: r.password_hash,
            created_at: r.created_at,
            updated_at: r.updated_at,
            login_at: r.login_at,
        })
    }
}

fn like_pattern(q: &str) -> String {
    let escaped: String = q
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

impl UserStore for Store {
    async fn create_user(&self, u: &User, homes: &[Grant]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (uid, username, username_key, name, email, role, super_admin, can_login, \
             webdav, auth_method, password_hash, created_at, updated_at, login_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&u.uid)
        .bind(&u.username)
        .bind(username_key(&u.username))
        .bind(&u.name)
        .bind(&u.email)
        .bind(u.role.as_str())
        .bind(int(u.super_admin))
        .bind(int(u.can_login))
        .bind(int(u.webdav))
        .bind(u.auth_method.as_str())
        .bind(&u.password_hash)
        .bind(u.created_at)
        .bind(u.updated_at)
        .bind(u.login_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        // Every account starts with its home (what it reaches while it is no admin).
        for g in homes {
            super::grants::insert(&mut tx, &u.uid, g, true, u.created_at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn user_by_uid(&self, uid: &str) -> Result<Option<User>, StoreError> {
        sqlx::query_as::<_, UserRow>(select_user!("WHERE uid = $1 AND deleted_at IS NULL"))
            .bind(uid)
            .fetch_optional(&self.pool)
            .await?
            .map(User::try_from)
            .transpose()
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        sqlx::query_as::<_, UserRow>(select_user!("WHERE username_key = $1"))
            .bind(username_key(name))
            .fetch_optional(&self.pool)
            .await?
            .map(User::try_from)
            .transpose()
    }

    async fn list_users(&self, query: Option<&str>) -> Result<Vec<User>, StoreError> {
        let pattern = like_pattern(query.unwrap_or("").trim());
        sqlx::query_as::<_, UserRow>(select_user!(
            "WHERE deleted_at IS NULL \
             AND (username_key LIKE $1 ESCAPE '\\' OR LOWER(name) LIKE $1 ESCAPE '\\' \
             OR LOWER(email) LIKE $1 ESCAPE '\\') ORDER BY username_key LIMIT 10000"
        ))
        .bind(pattern)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(User::try_from)
        .collect()
    }

    async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn change_user<F>(&self, uid: &str, now: UnixTime, decide: F) -> Result<Option<User>, StoreError>
    where
        F: FnOnce(&User, i64) -> Result<UserChange, PolicyError> + Send,
    {
        let mut tx = self.begin_write().await?;
        let (lock_target, lock_admins) = match self.backend {
            Backend::Postgres => (
                select_user!("WHERE uid = $1 AND deleted_at IS NULL FOR UPDATE"),
                "SELECT uid FROM users WHERE role = 'admin' AND can_login = 1 AND deleted_at IS NULL \
                 ORDER BY uid FOR UPDATE",
            ),
            Backend::Sqlite => (
                select_user!("WHERE uid = $1 AND deleted_at IS NULL"),
                "SELECT uid FROM users WHERE role = 'admin' AND can_login = 1 AND deleted_at IS NULL",
            ),
        };
        let admins = sqlx::query_scalar::<_, String>(lock_admins).fetch_all(&mut *tx).await?;
        let Some(row) = sqlx::query_as::<_, UserRow>(lock_target).bind(uid).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let current = User::try_from(row)?;
        let active_admins = i64::try_from(admins.len()).unwrap_or(i64::MAX);
        let change = decide(&current, active_admins)?;
        let result = match change {
            UserChange::Update(mut next) => {
                next.updated_at = now;
                // Only the fields an edit may set; the auth method and the factors change
                // only through the lifecycle below, and an edit of the name or e-mail
                // never touches them.
                let r = sqlx::query(
                    "UPDATE users SET name = $2, email = $3, role = $4, super_admin = $5, can_login = $6, \
                     webdav = $7, updated_at = $8 WHERE uid = $1 AND deleted_at IS NULL",
                )
                .bind(uid)
                .bind(&next.name)
                .bind(&next.email)
                .bind(next.role.as_str())
                .bind(int(next.super_admin))
                .bind(int(next.can_login))
                .bind(int(next.webdav))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() != 1 {
                    return Ok(None);
                }
                let target = Target { uid, keep_session: None, that: None };
                if current.auth_method == AuthMethod::TwoFactor && next.auth_method == AuthMethod::Default {
                    end_for_account(&mut tx, &lifecycle::ends(Event::AdminDisableTwoFactor), target, now).await?;
                }
                if current.can_login && !next.can_login {
                    end_for_account(&mut tx, &lifecycle::ends(Event::AccountDisabled), target, now).await?;
                }
                next.auth_method = if lock_user(&mut tx, self.backend, uid).await?.as_deref() == Some("2fa") {
                    AuthMethod::TwoFactor
                } else {
                    AuthMethod::Default
                };
                Some(next)
            }
            UserChange::Delete => {
                sqlx::query(
                    "UPDATE users SET deleted_at = $2, updated_at = $2, username_key = NULL, can_login = 0, \
                     webdav = 0 WHERE uid = $1",
                )
                .bind(uid)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let target = Target { uid, keep_session: None, that: None };
                end_for_account(&mut tx, &lifecycle::ends(Event::AccountDeleted), target, now).await?;
                None
            }
        };
        self.commit_credentials(tx).await?;
        Ok(result)
    }

    async fn set_password(
        &self,
        uid: &str,
        hash: &str,
        now: UnixTime,
        keep_session: Option<&str>,
        event: Event,
    ) -> Result<SessionsEnded, StoreError> {
        let mut tx = self.begin_write().await?;
        if lock_user(&mut tx, self.backend, uid).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE uid = $1")
            .bind(uid)
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let had_factors = super::lifecycle::active_factors(&mut tx, uid).await?;
        let target = Target { uid, keep_session, that: None };
        let ended = end_for_account(&mut tx, &lifecycle::ends(event), target, now).await?;
        self.commit_credentials(tx).await?;
        Ok(SessionsEnded {
            sessions: ended.sessions,
            app_passwords: ended.app_passwords,
            second_factors_removed: had_factors > 0 && !ended.two_factor_on,
        })
    }

    async fn record_login(&self, uid: &str, now: UnixTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET login_at = $2 WHERE uid = $1").bind(uid).bind(now).execute(&self.pool).await?;
        self.credentials_changed();
        Ok(())
    }
}
