//! Use cases shared by the HTTP API and the CLI: the server core ([`Gatehouse`]) and the
//! operations on it (login, account changes, sessions). Web handlers and CLI commands
//! stay thin and call these.

pub mod access;
pub mod clients;
pub mod credentials;
mod error;
pub mod login;
pub mod passkeys;
pub mod refusals;
pub mod sessions;
pub mod throttle;
mod token_cache;
pub mod tokens;
pub mod twofactor;
pub mod users;

use std::net::IpAddr;
use std::sync::Arc;

pub use error::ServiceError;

use crate::clock::{Clock, SystemClock, UnixTime};
use crate::config::Settings;
use crate::domain::event::{EventKind, NewEvent};
use crate::security::hasher::PasswordHasher;
use crate::security::secret_key::{KeyError, SecretKey};
use crate::store::{EventStore as _, SettingsStore as _, Store, StoreError};

/// Who sent a request, as far as security decisions and the event log care.
#[derive(Clone)]
pub struct RequestMeta {
    pub ip: IpAddr,
    pub user_agent: String,
    /// The device cookie presented, if any (`domain::throttle`): a secret, never logged.
    pub device: Option<String>,
}

impl std::fmt::Debug for RequestMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMeta")
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .field("device", &self.device.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl RequestMeta {
    /// For actions taken at the server's own command line.
    pub fn local() -> Self {
        Self { ip: IpAddr::from([127, 0, 0, 1]), user_agent: "gatehouse-cli".to_owned(), device: None }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("cannot create the data folder {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the secret key does not match this database: the TOTP secrets in it were sealed with another key. \
         Start with the original GATEHOUSE_SECRET_KEY or secret.key file"
    )]
    KeyMismatch,
    #[error("cannot start the password hashing pool: {0}")]
    Hasher(String),
}

/// The server core: storage, the hashing pool, the secret key, the clock and settings.
#[derive(Debug, Clone)]
pub struct Gatehouse {
    pub store: Store,
    pub hasher: PasswordHasher,
    pub key: SecretKey,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Requests and connections refused by a bound, for metrics.
    pub refusals: Arc<refusals::Refusals>,
    throttle_log: Arc<throttle::ThrottleLog>,
    tokens: Arc<token_cache::TokenCache>,
    reaches: Arc<access::ReachCache>,
    /// The passkeys' relying party (from the public URL), or why they are off.
    passkeys: passkeys::PasskeyConfig,
}

impl Gatehouse {
    /// Opens the data folder and database (migrating it) and checks the secret key.
    pub async fn open(settings: Settings) -> Result<Self, BootError> {
        create_private_dir(&settings.data_dir)?;
        let store = Store::open(&settings.database_url).await?;
        let key = SecretKey::load_or_create(settings.secret_key.as_deref(), &settings.data_dir)?;
        // The first instance to start records which key the database belongs to; every
        // later start (and every other instance) must present the same one.
        let stored = store.setting_or_insert("secret_key_check", &key.check_value()).await?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(stored.as_bytes(), key.check_value().as_bytes())) {
            return Err(BootError::KeyMismatch);
        }
        let workers = match settings.hash_workers {
            0 => PasswordHasher::default_concurrency(),
            n => n,
        };
        let queue = match settings.hash_queue {
            0 => workers * crate::security::hasher::QUEUE_PER_WORKER,
            n => n,
        };
        let hasher = PasswordHasher::new(workers, queue).map_err(|e| BootError::Hasher(e.to_string()))?;
        let passkeys = passkeys::PasskeyConfig::new(settings.public_url.as_ref());
        Ok(Self {
            passkeys,
            store,
            hasher,
            key,
            clock: Arc::new(SystemClock),
            settings: Arc::new(settings),
            refusals: Arc::default(),
            throttle_log: Arc::default(),
            tokens: Arc::default(),
            reaches: Arc::default(),
        })
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Appends to the security event log. A failure to record is logged, not fatal:
    /// the action it describes has already happened.
    pub async fn record(&self, kind: EventKind, subject: Subject<'_>, meta: &RequestMeta, actor: &str, detail: &str) {
        let event = NewEvent {
            kind,
            user_uid: subject.uid.map(str::to_owned),
            username: subject.username.to_owned(),
            actor: actor.to_owned(),
            ip: meta.ip.to_string(),
            user_agent: meta.user_agent.clone(),
            detail: detail.to_owned(),
            at: self.now(),
        };
        if let Err(e) = self.store.record_event(&event).await {
            tracing::error!(error = %e, event = kind.as_str(), "could not record security event");
        }
    }
}

/// The account an event is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub uid: Option<&'a str>,
    pub username: &'a str,
}

impl<'a> From<&'a crate::domain::user::User> for Subject<'a> {
    fn from(u: &'a crate::domain::user::User) -> Self {
        Subject { uid: Some(&u.uid), username: &u.username }
    }
}

fn create_private_dir(path: &std::path::Path) -> Result<(), BootError> {
    crate::security::files::private_dir(path).map_err(|e| BootError::DataDir(path.display().to_string(), e))
}
