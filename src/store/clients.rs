//! OAuth2 clients (client-credentials grant) and the counts behind `/api/v1/metrics`.

use sqlx::FromRow;

use super::lifecycle::end_for_client;
use super::{Store, StoreError, flag, int};
use crate::clock::{UnixTime, rfc3339};
use crate::domain::lifecycle::{self, Event};
use crate::domain::scope::Scope;

/// An OAuth2 client as stored. The secret is kept only as an Argon2id hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub secret_hash: String,
    pub name: String,
    pub role: String,
    pub scope: String,
    /// Lifetime of issued tokens, seconds.
    pub token_lifetime: i64,
    /// At most this many live tokens; the oldest are revoked beyond it.
    pub max_tokens: i64,
    pub enabled: bool,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("client_id", &self.client_id).field("name", &self.name).finish_non_exhaustive()
    }
}

/// The client JSON of the CLI.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub role: String,
    pub scope: String,
    pub token_lifetime: i64,
    pub max_tokens: i64,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Client {
    pub fn view(&self) -> ClientView {
        ClientView {
            client_id: self.client_id.clone(),
            name: self.name.clone(),
            role: self.role.clone(),
            scope: self.scope.clone(),
            token_lifetime: self.token_lifetime,
            max_tokens: self.max_tokens,
            enabled: self.enabled,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

#[derive(FromRow)]
struct ClientRow {
    client_id: String,
    secret_hash: String,
    name: String,
    role: String,
    scope: String,
    token_lifetime: i64,
    max_tokens: i64,
    enabled: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<ClientRow> for Client {
    fn from(r: ClientRow) -> Self {
        Client {
            client_id: r.client_id,
            secret_hash: r.secret_hash,
            name: r.name,
            role: r.role,
            scope: r.scope,
            token_lifetime: r.token_lifetime,
            max_tokens: r.max_tokens,
            enabled: flag(r.enabled),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Numbers for the metrics endpoint.
#[derive(Debug, Clone, Default, FromRow)]
pub struct Counts {
    pub users: i64,
    pub users_2fa: i64,
    pub sessions_web: i64,
    pub sessions_app_password: i64,
    pub sessions_access_token: i64,
    pub sessions_client: i64,
    pub logins_ok: i64,
    pub logins_failed: i64,
    pub throttled: i64,
}

/// Storage of OAuth2 clients.
pub trait ClientStore {
    async fn create_client(&self, c: &Client) -> Result<(), StoreError>;
    async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError>;
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Stores the changed client and, in the same transaction, applies to its tokens
    /// what the lifecycle table says for each of `events`.
    async fn update_client(&self, c: &Client, events: &[Event]) -> Result<(), StoreError>;
    /// Deletes the client and revokes its tokens.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;
    /// Revokes the oldest tokens of a client beyond the newest `keep`.
    async fn trim_client_tokens(&self, client_id: &str, keep: i64) -> Result<u64, StoreError>;
    /// Everything `/api/v1/metrics` reports, in one query.
    async fn counts(&self, now: UnixTime) -> Result<Counts, StoreError>;
}

impl ClientStore for Store {
    async fn create_client(&self, c: &Client) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO clients (client_id, secret_hash, name, role, scope, token_lifetime, max_tokens, enabled, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&c.client_id)
        .bind(&c.secret_hash)
        .bind(&c.name)
        .bind(&c.role)
        .bind(&c.scope)
        .bind(c.token_lifetime)
        .bind(c.max_tokens)
        .bind(int(c.enabled))
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        Ok(sqlx::query_as::<_, ClientRow>(
            "SELECT client_id, secret_hash, name, role, scope, token_lifetime, max_tokens, enabled, created_at, \
             updated_at FROM clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?
        .map(Client::from))
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        Ok(sqlx::query_as::<_, ClientRow>(
            "SELECT client_id, secret_hash, name, role, scope, token_lifetime, max_tokens, enabled, created_at, \
             updated_at FROM clients ORDER BY created_at, client_id",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Client::from)
        .collect())
    }

    async fn update_client(&self, c: &Client, events: &[Event]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE clients SET secret_hash = $2, name = $3, scope = $4, token_lifetime = $5, max_tokens = $6, \
             enabled = $7, updated_at = $8 WHERE client_id = $1",
        )
        .bind(&c.client_id)
        .bind(&c.secret_hash)
        .bind(&c.name)
        .bind(&c.scope)
        .bind(c.token_lifetime)
        .bind(c.max_tokens)
        .bind(int(c.enabled))
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await?;
        let scope = Scope::parse(&c.scope).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        for event in events {
            end_for_client(&mut tx, &lifecycle::ends(*event), &c.client_id, &scope).await?;
        }
        self.commit_credentials(tx).await?;
        Ok(())
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
        let r = sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
        self.commit_credentials(tx).await?;
        Ok(r.rows_affected() == 1)
    }

    async fn trim_client_tokens(&self, client_id: &str, keep: i64) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "DELETE FROM sessions WHERE client_id = $1 AND id NOT IN \
             (SELECT id FROM sessions WHERE client_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2)",
        )
        .bind(client_id)
        .bind(keep.max(1))
        .execute(&self.pool)
        .await?;
        Ok(self.deleted_sessions(r.rows_affected()))
    }

    async fn counts(&self, now: UnixTime) -> Result<Counts, StoreError> {
        Ok(sqlx::query_as::<_, Counts>(
            "SELECT \
             (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL) AS users, \
             (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL AND auth_method = '2fa') AS users_2fa, \
             (SELECT COUNT(*) FROM sessions WHERE kind = 'web' AND (expires_at IS NULL OR expires_at > $1)) \
               AS sessions_web, \
             (SELECT COUNT(*) FROM sessions WHERE kind = 'app_password' AND (expires_at IS NULL OR expires_at > $1)) \
               AS sessions_app_password, \
             (SELECT COUNT(*) FROM sessions WHERE kind = 'access_token' AND (expires_at IS NULL OR expires_at > $1)) \
               AS sessions_access_token, \
             (SELECT COUNT(*) FROM sessions WHERE kind = 'client' AND (expires_at IS NULL OR expires_at > $1)) \
               AS sessions_client, \
             (SELECT COUNT(*) FROM events WHERE kind = 'login.ok') AS logins_ok, \
             (SELECT COUNT(*) FROM events WHERE kind = 'login.failed') AS logins_failed, \
             (SELECT COUNT(*) FROM events WHERE kind = 'login.throttled') AS throttled",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }
}
