//! Folder grants (`domain::access`): each account's home rows and the folders shared
//! with it. Every change commits through [`Store::commit_credentials`], so a cached
//! reach (`service::access`) never outlives it, in this process or another on the
//! same database; on PostgreSQL nothing is cached and each request reads the rows.

use sqlx::FromRow;

use super::{Store, StoreError};
use crate::clock::UnixTime;
use crate::domain::access::{FolderPath, Grant, Level};

/// One stored grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGrant {
    pub uid: String,
    /// The account's username (listings show it).
    pub username: String,
    pub grant: Grant,
    /// Whether it is one of the account's home rows.
    pub home: bool,
}

#[derive(FromRow)]
struct GrantRow {
    uid: String,
    username: String,
    path: String,
    access: String,
    home: i64,
}

impl TryFrom<GrantRow> for StoredGrant {
    type Error = StoreError;

    fn try_from(r: GrantRow) -> Result<Self, StoreError> {
        let bad = || StoreError::Corrupt(format!("grant of {} on {}", r.uid, r.path));
        let path = FolderPath::parse(&r.path).map_err(|_| bad())?;
        let level = Level::parse(&r.access).ok_or_else(bad)?;
        Ok(StoredGrant { uid: r.uid, username: r.username, grant: Grant::new(path, level), home: r.home != 0 })
    }
}

macro_rules! select_grants {
    ($rest:literal) => {
        concat!(
            "SELECT g.uid, u.username, g.path, g.access, g.home FROM folder_grants g \
             JOIN users u ON u.uid = g.uid AND u.deleted_at IS NULL ",
            $rest
        )
    };
}

pub trait GrantStore {
    /// An account's grants, home rows first.
    async fn grants_of(&self, uid: &str) -> Result<Vec<StoredGrant>, StoreError>;
    /// Every live account's grants, by username and path.
    async fn all_grants(&self) -> Result<Vec<StoredGrant>, StoreError>;
    /// Replaces the account's home rows with `homes`.
    async fn set_home(&self, uid: &str, homes: &[Grant], now: UnixTime) -> Result<(), StoreError>;
    /// Gives the account `grant` (a share), replacing the level of a row on that path.
    async fn share(&self, uid: &str, grant: &Grant, now: UnixTime) -> Result<(), StoreError>;
    /// Takes back the account's grant on `path` (a share or a home row); whether one was there.
    async fn unshare(&self, uid: &str, path: &FolderPath) -> Result<bool, StoreError>;
}

impl GrantStore for Store {
    async fn grants_of(&self, uid: &str) -> Result<Vec<StoredGrant>, StoreError> {
        sqlx::query_as::<_, GrantRow>(select_grants!("WHERE g.uid = $1 ORDER BY g.home DESC, g.path"))
            .bind(uid)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(StoredGrant::try_from)
            .collect()
    }

    async fn all_grants(&self) -> Result<Vec<StoredGrant>, StoreError> {
        sqlx::query_as::<_, GrantRow>(select_grants!("ORDER BY u.username_key, g.home DESC, g.path"))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(StoredGrant::try_from)
            .collect()
    }

    async fn set_home(&self, uid: &str, homes: &[Grant], now: UnixTime) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM folder_grants WHERE uid = $1 AND home <> 0").bind(uid).execute(&mut *tx).await?;
        for g in homes {
            insert(&mut tx, uid, g, true, now).await?;
        }
        self.commit_credentials(tx).await
    }

    async fn share(&self, uid: &str, grant: &Grant, now: UnixTime) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert(&mut tx, uid, grant, false, now).await?;
        self.commit_credentials(tx).await
    }

    async fn unshare(&self, uid: &str, path: &FolderPath) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM folder_grants WHERE uid = $1 AND path = $2")
            .bind(uid)
            .bind(path.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.commit_credentials(tx).await?;
        Ok(n > 0)
    }
}

/// Inserts a grant row, or gives an existing row on that path the new level.
pub(crate) async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uid: &str,
    g: &Grant,
    home: bool,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO folder_grants (uid, path, access, home, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (uid, path) DO UPDATE SET access = excluded.access, \
         home = CASE WHEN excluded.home <> 0 THEN 1 ELSE folder_grants.home END",
    )
    .bind(uid)
    .bind(g.path.as_str())
    .bind(g.level.as_str())
    .bind(i64::from(home))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
