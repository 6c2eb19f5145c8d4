//! Storage: one trait per capability (users, sessions, events, settings, …), each
//! implemented once for [`Store`], which speaks to SQLite or PostgreSQL through sqlx's
//! `Any` driver with runtime queries. Columns stay portable (TEXT ids, BIGINT numbers,
//! booleans and unix times), so the same SQL runs on both; where the dialects differ
//! (row locks, write transactions) [`Backend`] picks the statement.

// The traits are implemented and called inside this crate on the concrete `Store`, whose
// futures are `Send`; no caller needs the bound spelled out.
#![allow(async_fn_in_trait)]

mod attempts;
mod clients;
mod dav;
mod events;
mod factors;
mod grants;
mod lifecycle;
mod objects;
mod passcodes;
mod passkeys;
mod sessions;
mod settings;
mod signal;
mod users;

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _};

pub use attempts::{AttemptKey, AttemptStore, DEVICE_MEMORY, Outcome};
pub use clients::{Client, ClientStore, ClientView, Counts};
pub use dav::{
    DavLockStore, DavPropStore, DeadProp, LockRecord, PROP_ROW_OVERHEAD, PropQuota, PropWrite, SqlArg, prop_statements,
};
pub use events::EventStore;
pub use factors::{FactorStore, Factors};
pub use grants::{GrantStore, StoredGrant};
pub use lifecycle::Ended;
pub use objects::{ObjectStore, ObjectTime, PendingUpload};
pub use passcodes::{Passcode, PasscodeStore};
pub use passkeys::{CeremonyRoom, CeremonySaved, PasskeyStore, StoredChallenge, StoredPasskey};
pub use sessions::{SESSIONS_PER_APP_PASSWORD, SessionFilter, SessionStore};
pub use settings::SettingsStore;
pub use signal::{Epoch, EpochCache};
pub use users::{SessionsEnded, UserChange, UserStore};

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A storage failure. Conflicts are the client's business; everything else is ours.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("not found")]
    NotFound,
    /// The account changed since the caller read it (2FA went on or off meanwhile).
    #[error("the account changed meanwhile; start again")]
    Stale,
    #[error(transparent)]
    Policy(#[from] crate::domain::policy::PolicyError),
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`].
    pub(crate) fn from_write(e: sqlx::Error) -> Self {
        match e.as_database_error() {
            Some(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(e),
        }
    }
}

/// The database handle every part of the server shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    signal: Arc<signal::ChangeSignal>,
    /// The same for WebDAV properties and locks, and what it lets this process keep.
    dav_signal: Arc<signal::ChangeSignal>,
    dav_cache: Arc<dav::DavCache>,
}

/// The default database inside a data folder.
pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("index.db").display())
}

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let options = AnyConnectOptions::from_str(url)?;
        let mut migration_lock = None;
        let (signal, dav_signal) = match backend {
            Backend::Sqlite => {
                let file = sqlite_file(url)?;
                migration_lock.clone_from(&file);
                if let Some(db) = &file {
                    // Before SQLite opens it: its -wal and -shm take the database's mode.
                    crate::security::files::private_sqlite(db, &["-wal", "-shm", "-credentials", "-webdav"])
                        .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
                }
                (
                    signal::ChangeSignal::for_sqlite(file.clone(), "-credentials"),
                    signal::ChangeSignal::for_sqlite(file, "-webdav"),
                )
            }
            Backend::Postgres => (signal::ChangeSignal::off(), signal::ChangeSignal::off()),
        };
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    // An embedded database cannot drop a connection: no ping (a round
                    // trip to the connection's thread) before every query.
                    .test_before_acquire(false)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?
            }
        };
        let store = Self {
            pool,
            backend,
            signal: Arc::new(signal),
            dav_signal: Arc::new(dav_signal),
            dav_cache: Arc::default(),
        };
        // Two processes opening a new SQLite database at once (the first `start` and a
        // `users add`) would both apply the migrations, and the second would fail; the
        // file lock makes the later one wait and then find them applied. (PostgreSQL:
        // sqlx's migrator takes an advisory lock itself.)
        let lock = match migration_lock {
            Some(db) => Some(lock_file(db).await.map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?),
            None => None,
        };
        store.migrate().await?;
        drop(lock);
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for tests that must look at raw rows.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write: SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so concurrent writers wait instead of failing with BUSY.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Where the history of credential changes stands, or `None` when token lookups
    /// must not be cached (see [`signal`]). Read it *before* the lookup you cache.
    pub fn credential_epoch(&self) -> Option<Epoch> {
        self.signal.epoch()
    }

    /// Tells every process on this database that a session, user or client changed.
    /// The store calls it after each such commit; anything that writes those tables
    /// behind the store's back (tests, repairs) must call it too.
    pub fn credentials_changed(&self) {
        self.signal.changed();
    }

    /// Tells every process on this database that WebDAV properties or locks changed.
    fn dav_changed(&self) {
        self.dav_signal.changed();
    }

    /// Commits a transaction that changed sessions, users or clients, then signals it.
    pub(crate) async fn commit_credentials(&self, tx: sqlx::Transaction<'static, sqlx::Any>) -> Result<(), StoreError> {
        tx.commit().await?;
        self.credentials_changed();
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// An exclusive `flock` on `file` (independent of SQLite's own `fcntl` locks), held
/// until the returned handle is dropped; waits for another process holding it.
async fn lock_file(file: PathBuf) -> std::io::Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&file)?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(f)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The database file of a SQLite URL, or `None` for an in-memory database.
fn sqlite_file(url: &str) -> Result<Option<PathBuf>, StoreError> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    let file = options.get_filename();
    let in_memory = file.as_os_str().is_empty() || url.contains(":memory:") || url.contains("mode=memory");
    Ok((!in_memory).then(|| file.to_path_buf()))
}

/// BIGINT 0/1 → bool.
pub(crate) fn flag(v: i64) -> bool {
    v != 0
}

/// bool → BIGINT 0/1.
pub(crate) fn int(v: bool) -> i64 {
    i64::from(v)
}
