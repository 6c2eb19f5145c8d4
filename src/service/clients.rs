//! OAuth2 clients and the client-credentials grant (RFC 6749 §4.4).

use super::tokens::{IssuedCredential, MAX_LIFETIME, SessionSpec};
use super::{Gatehouse, RequestMeta, ServiceError};
use crate::domain::lifecycle::Event;
use crate::domain::random;
use crate::domain::scope::Scope;
use crate::domain::session::SessionKind;
use crate::domain::token::SessionToken;
use crate::security::hasher::Priority;
use crate::store::{Client, ClientStore as _, SessionStore as _};

const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Why a client-credentials request failed, in RFC 6749 §5.2 terms.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("invalid client credentials")]
    InvalidClient,
    #[error("{0}")]
    InvalidScope(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The settings of a new or changed client.
#[derive(Debug, Clone, Default)]
pub struct ClientSpec {
    pub name: Option<String>,
    pub scope: Option<String>,
    pub token_lifetime: Option<i64>,
    pub max_tokens: Option<i64>,
    pub enabled: Option<bool>,
}

fn validate(spec: &ClientSpec) -> Result<(), ServiceError> {
    if let Some(n) = &spec.name
        && (n.trim().is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control))
    {
        return Err(ServiceError::Invalid("client name must be 1 to 100 characters".into()));
    }
    if let Some(s) = &spec.scope {
        Scope::parse(s).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    }
    if spec.token_lifetime.is_some_and(|l| !(60..=MAX_LIFETIME).contains(&l)) {
        return Err(ServiceError::Invalid(format!("token lifetime must be 60 to {MAX_LIFETIME} seconds")));
    }
    if spec.max_tokens.is_some_and(|m| !(1..=100_000).contains(&m)) {
        return Err(ServiceError::Invalid("max tokens must be 1 to 100000".into()));
    }
    Ok(())
}

impl Gatehouse {
    /// Registers a client; returns it and its secret (shown once).
    pub async fn add_client(&self, spec: ClientSpec) -> Result<(Client, String), ServiceError> {
        validate(&spec)?;
        let name = spec.name.clone().ok_or_else(|| ServiceError::Invalid("a client needs a name".into()))?;
        let scope =
            Scope::parse(spec.scope.as_deref().unwrap_or("")).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let secret = random::string_from(SECRET_ALPHABET, 32)?;
        let now = self.now();
        let client = Client {
            client_id: random::public_id("cs", 14)?,
            secret_hash: self.hasher.hash(&secret).await?,
            name: name.trim().to_owned(),
            role: "client".to_owned(),
            scope: scope.as_str().to_owned(),
            token_lifetime: spec.token_lifetime.unwrap_or(3600),
            max_tokens: spec.max_tokens.unwrap_or(10),
            enabled: spec.enabled.unwrap_or(true),
            created_at: now,
            updated_at: now,
        };
        self.store.create_client(&client).await?;
        Ok((client, secret))
    }

    /// Changes a client; with `regenerate_secret`, returns a new secret (shown once).
    /// Its tokens follow the lifecycle table: a new secret or disabling revokes them, a
    /// changed scope narrows each to what the new one still grants (a wider scope
    /// widens none).
    pub async fn modify_client(
        &self,
        client_id: &str,
        spec: ClientSpec,
        regenerate_secret: bool,
    ) -> Result<(Client, Option<String>), ServiceError> {
        validate(&spec)?;
        let mut c = self.store.client(client_id).await?.ok_or(ServiceError::NotFound("client"))?;
        let before = c.clone();
        if let Some(n) = spec.name {
            c.name = n.trim().to_owned();
        }
        if let Some(s) = spec.scope {
            c.scope = Scope::parse(&s).map_err(|e| ServiceError::Invalid(e.to_string()))?.as_str().to_owned();
        }
        c.token_lifetime = spec.token_lifetime.unwrap_or(c.token_lifetime);
        c.max_tokens = spec.max_tokens.unwrap_or(c.max_tokens);
        c.enabled = spec.enabled.unwrap_or(c.enabled);
        let secret = if regenerate_secret { Some(random::string_from(SECRET_ALPHABET, 32)?) } else { None };
        if let Some(s) = &secret {
            c.secret_hash = self.hasher.hash(s).await?;
        }
        c.updated_at = self.now();
        let mut events = Vec::new();
        if secret.is_some() {
            events.push(Event::ClientSecretRegenerated);
        }
        if before.enabled && !c.enabled {
            events.push(Event::ClientDisabled);
        }
        if c.scope != before.scope {
            events.push(Event::ClientScopeNarrowed);
        }
        self.store.update_client(&c, &events).await?;
        Ok((c, secret))
    }

    /// Issues an access token to a client that proves its secret. A requested scope
    /// may only narrow the client's own; the oldest tokens past its limit are revoked.
    pub async fn client_credentials_grant(
        &self,
        client_id: &str,
        secret: &str,
        requested_scope: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<IssuedCredential, GrantError> {
        if client_id.is_empty() || client_id.len() > 64 || secret.is_empty() || secret.len() > 256 {
            return Err(GrantError::InvalidClient);
        }
        let guard = self.throttle_begin(&format!("client:{client_id}"), meta).await.map_err(ServiceError::from)?;
        let client = self.store.client(client_id).await.map_err(ServiceError::from)?;
        let hash = client.as_ref().map(|c| c.secret_hash.as_str());
        let ok = self.hasher.verify(secret, hash, Priority::Stranger).await.map_err(ServiceError::from)?;
        let client = match client {
            Some(c) if ok && c.enabled => c,
            _ => {
                guard.failed(self).await;
                return Err(GrantError::InvalidClient);
            }
        };
        guard.succeeded(self).await;
        let granted = Scope::parse(&client.scope).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let scope = match requested_scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => granted,
            Some(r) => {
                let requested = Scope::parse(r).map_err(|e| GrantError::InvalidScope(e.to_string()))?;
                granted.narrow(&requested).map_err(|e| GrantError::InvalidScope(e.to_string()))?
            }
        };
        let token = SessionToken::generate().map_err(ServiceError::from)?;
        let spec = SessionSpec {
            kind: SessionKind::Client,
            user_uid: None,
            client_id: Some(&client.client_id),
            name: &client.name,
            scope: &scope,
            expires_in: client.token_lifetime,
        };
        let session = self.new_session(spec, token.hash(), meta)?;
        self.store.create_session(&session).await.map_err(ServiceError::from)?;
        self.store.trim_client_tokens(&client.client_id, client.max_tokens).await.map_err(ServiceError::from)?;
        Ok(IssuedCredential { secret: token.expose().to_owned(), session })
    }
}
