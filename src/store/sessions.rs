//! Sessions: every bearer credential (web login, app password, access token, client
//! token) is a row found by the SHA-256 of its token.

use sqlx::FromRow;

use super::{Store, StoreError, flag};
use crate::clock::UnixTime;
use crate::domain::access::{FolderPath, Grant, Level};
use crate::domain::session::{Session, SessionKind};
use crate::domain::user::{AuthMethod, Role, User};

/// Which sessions a listing or bulk revoke covers.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter<'a> {
    pub user_uid: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub kind: Option<SessionKind>,
}

/// Storage of sessions.
pub trait SessionStore {
    /// Stores a new session; one opened from an app password (`parent_id`) ends the
    /// oldest of its siblings beyond [`SESSIONS_PER_APP_PASSWORD`].
    async fn create_session(&self, s: &Session) -> Result<(), StoreError>;
    /// The session holding this token hash, with its live user (if it has one). One
    /// indexed lookup; deleted users never come back.
    async fn session_by_token(&self, token_hash: &str) -> Result<Option<(Session, Option<User>)>, StoreError>;
    async fn session_by_id(&self, id: &str) -> Result<Option<Session>, StoreError>;
    /// Records activity (callers write at most once a minute).
    async fn touch_session(&self, id: &str, now: UnixTime) -> Result<(), StoreError>;
    /// Ends one session (and its children). Returns whether it existed.
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;
    /// Ends every session matching `filter`, except `keep`. Returns how many ended.
    async fn delete_sessions(&self, filter: &SessionFilter<'_>, keep: Option<&str>) -> Result<u64, StoreError>;
    async fn list_sessions(&self, filter: &SessionFilter<'_>) -> Result<Vec<Session>, StoreError>;
    /// Removes sessions past their absolute expiry.
    async fn purge_expired_sessions(&self, now: UnixTime) -> Result<u64, StoreError>;
}

/// Web sessions one app password may have open at once (scope `sessions`).
pub const SESSIONS_PER_APP_PASSWORD: i64 = 20;

#[derive(FromRow)]
struct SessionRow {
    id: String,
    token_hash: String,
    user_uid: Option<String>,
    client_id: Option<String>,
    parent_id: Option<String>,
    kind: String,
    name: String,
    scope: String,
    created_at: i64,
    expires_at: Option<i64>,
    idle_timeout: i64,
    last_active: i64,
    login_ip: String,
    user_agent: String,
    dav_path: String,
    dav_access: String,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        let kind = SessionKind::parse(&r.kind).ok_or_else(|| StoreError::Corrupt(format!("session {}: kind", r.id)))?;
        let dav_limit = match (r.dav_path.as_str(), r.dav_access.as_str()) {
            ("", "") => None,
            (path, access) => {
                let corrupt = || StoreError::Corrupt(format!("session {}: WebDAV limit", r.id));
                let path = FolderPath::parse(path).map_err(|_| corrupt())?;
                Some(Grant::new(path, Level::parse(access).ok_or_else(corrupt)?))
            }
        };
        Ok(Session {
            id: r.id,
            token_hash: r.token_hash,
            user_uid: r.user_uid,
            client_id: r.client_id,
            parent_id: r.parent_id,
            kind,
            name: r.name,
            scope: r.scope,
            created_at: r.created_at,
            expires_at: r.expires_at,
            idle_timeout: r.idle_timeout,
            last_active: r.last_active,
            login_ip: r.login_ip,
            user_agent: r.user_agent,
            dav_limit,
        })
    }
}

/// A session row joined with its user's columns (all `NULL` when there is no live user).
#[derive(FromRow)]
struct JoinedRow {
    #[sqlx(flatten)]
    session: SessionRow,
    u_username: Option<String>,
    u_name: Option<String>,
    u_email: Option<String>,
    u_role: Option<String>,
    u_super_admin: Option<i64>,
    u_can_login: Option<i64>,
    u_webdav: Option<i64>,
    u_auth_method: Option<String>,
    u_password_hash: Option<String>,
    u_created_at: Option<i64>,
    u_updated_at: Option<i64>,
    u_login_at: Option<i64>,
}

impl JoinedRow {
    fn user(&self) -> Result<Option<User>, StoreError> {
        let (Some(uid), Some(username), Some(role), Some(method), Some(hash)) = (
            self.session.user_uid.as_ref(),
            self.u_username.as_ref(),
            self.u_role.as_deref(),
            self.u_auth_method.as_deref(),
            self.u_password_hash.as_ref(),
        ) else {
            return Ok(None);
        };
        let bad = |what: &str| StoreError::Corrupt(format!("user {uid}: {what}"));
        Ok(Some(User {
            uid: uid.clone(),
            username: username.clone(),
            name: self.u_name.clone().unwrap_or_default(),
            email: self.u_email.clone().unwrap_or_default(),
            role: Role::parse(role).map_err(|_| bad("role"))?,
            super_admin: flag(self.u_super_admin.unwrap_or(0)),
            can_login: flag(self.u_can_login.unwrap_or(0)),
            webdav: flag(self.u_webdav.unwrap_or(0)),
            auth_method: AuthMethod::parse(method).map_err(|_| bad("auth_method"))?,
            password_hash: hash.clone(),
            created_at: self.u_created_at.unwrap_or(0),
            updated_at: self.u_updated_at.unwrap_or(0),
            login_at: self.u_login_at,
        }))
    }
}

macro_rules! select_session {
    ($($rest:literal),+) => {
        concat!(
            "SELECT id, token_hash, user_uid, client_id, parent_id, kind, name, scope, created_at, \
             expires_at, idle_timeout, last_active, login_ip, user_agent, dav_path, dav_access FROM sessions ",
            $($rest),+
        )
    };
}

impl SessionStore for Store {
    async fn create_session(&self, s: &Session) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_uid, client_id, parent_id, kind, name, scope, \
             created_at, expires_at, idle_timeout, last_active, login_ip, user_agent, dav_path, dav_access) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&s.id)
        .bind(&s.token_hash)
        .bind(&s.user_uid)
        .bind(&s.client_id)
        .bind(&s.parent_id)
        .bind(s.kind.as_str())
        .bind(&s.name)
        .bind(&s.scope)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.idle_timeout)
        .bind(s.last_active)
        .bind(&s.login_ip)
        .bind(&s.user_agent)
        .bind(s.dav_limit.as_ref().map_or("", |g| g.path.as_str()))
        .bind(s.dav_limit.as_ref().map_or("", |g| g.level.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        // Sessions opened from one app password are capped: the new one stays, the
        // oldest others end (by creation time; within one second, any of them).
        let ended = match &s.parent_id {
            Some(parent) => sqlx::query(
                "DELETE FROM sessions WHERE parent_id = $1 AND id <> $2 AND id NOT IN \
                 (SELECT id FROM sessions WHERE parent_id = $1 AND id <> $2 \
                  ORDER BY created_at DESC, id DESC LIMIT $3)",
            )
            .bind(parent)
            .bind(&s.id)
            .bind(SESSIONS_PER_APP_PASSWORD - 1)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => 0,
        };
        if ended > 0 {
            self.commit_credentials(tx).await
        } else {
            tx.commit().await?;
            Ok(())
        }
    }

    async fn session_by_token(&self, token_hash: &str) -> Result<Option<(Session, Option<User>)>, StoreError> {
        let row = sqlx::query_as::<_, JoinedRow>(
            "SELECT s.id, s.token_hash, s.user_uid, s.client_id, s.parent_id, s.kind, s.name, s.scope, \
             s.created_at, s.expires_at, s.idle_timeout, s.last_active, s.login_ip, s.user_agent, \
             s.dav_path, s.dav_access, \
             u.username AS u_username, u.name AS u_name, u.email AS u_email, u.role AS u_role, \
             u.super_admin AS u_super_admin, u.can_login AS u_can_login, u.webdav AS u_webdav, \
             u.auth_method AS u_auth_method, u.password_hash AS u_password_hash, \
             u.created_at AS u_created_at, u.updated_at AS u_updated_at, u.login_at AS u_login_at \
             FROM sessions s LEFT JOIN users u ON u.uid = s.user_uid AND u.deleted_at IS NULL \
             WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = row.user()?;
        Ok(Some((Session::try_from(row.session)?, user)))
    }

    async fn session_by_id(&self, id: &str) -> Result<Option<Session>, StoreError> {
        sqlx::query_as::<_, SessionRow>(select_session!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(Session::try_from)
            .transpose()
    }

    async fn touch_session(&self, id: &str, now: UnixTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_active = $2 WHERE id = $1 AND last_active < $2")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(self.deleted_sessions(r.rows_affected()) > 0)
    }

    async fn delete_sessions(&self, f: &SessionFilter<'_>, keep: Option<&str>) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "DELETE FROM sessions WHERE ($1 = '' OR user_uid = $1) AND ($2 = '' OR client_id = $2) \
             AND ($3 = '' OR kind = $3) AND id <> $4",
        )
        .bind(f.user_uid.unwrap_or(""))
        .bind(f.client_id.unwrap_or(""))
        .bind(f.kind.map_or("", SessionKind::as_str))
        .bind(keep.unwrap_or(""))
        .execute(&self.pool)
        .await?;
        Ok(self.deleted_sessions(r.rows_affected()))
    }

    async fn list_sessions(&self, f: &SessionFilter<'_>) -> Result<Vec<Session>, StoreError> {
        sqlx::query_as::<_, SessionRow>(select_session!(
            "WHERE ($1 = '' OR user_uid = $1) AND ($2 = '' OR client_id = $2) AND ($3 = '' OR kind = $3) \
             ORDER BY created_at DESC, id LIMIT 10000"
        ))
        .bind(f.user_uid.unwrap_or(""))
        .bind(f.client_id.unwrap_or(""))
        .bind(f.kind.map_or("", SessionKind::as_str))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Session::try_from)
        .collect()
    }

    async fn purge_expired_sessions(&self, now: UnixTime) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at IS NOT NULL AND expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(self.deleted_sessions(r.rows_affected()))
    }
}

impl Store {
    /// Signals deleted sessions (if any) and passes their number on.
    pub(crate) fn deleted_sessions(&self, n: u64) -> u64 {
        if n > 0 {
            self.credentials_changed();
        }
        n
    }
}
