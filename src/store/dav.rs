//! WebDAV state that must hold across restarts and instances: dead properties set with
//! PROPPATCH, and locks. Paths are keys made by the WebDAV layer (percent-encoded, no
//! trailing slash, the root folder is `/`) inside a named library root.

use sqlx::FromRow;

use super::{Backend, EpochCache, Store, StoreError, flag, int};

/// One dead property of one resource.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeadProp {
    pub path: String,
    pub namespace: String,
    pub name: String,
    pub prefix: String,
    /// The whole property element, serialized.
    pub xml: String,
}

/// One WebDAV lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRecord {
    pub token: String,
    pub path: String,
    pub principal: Option<String>,
    pub owner: Option<String>,
    pub timeout_secs: Option<i64>,
    /// Unix milliseconds; `None` never expires.
    pub expires_at: Option<i64>,
    pub shared: bool,
    pub deep: bool,
}

#[derive(FromRow)]
struct LockRow {
    token: String,
    path: String,
    principal: Option<String>,
    owner: Option<String>,
    timeout_secs: Option<i64>,
    expires_at: Option<i64>,
    shared: i64,
    deep: i64,
}

/// What this process keeps of the WebDAV state, as the credential cache does for tokens
/// ([`EpochCache`]), behind its own signal: moved by every write to properties or locks,
/// in any process on this database. PostgreSQL gives no epoch, so nothing is kept there.
/// Locks are kept with their expiry and filtered by the time of each use.
#[derive(Debug)]
pub(super) struct DavCache {
    props: EpochCache<(String, String, bool), Vec<DeadProp>>,
    locks: EpochCache<String, Vec<LockRecord>>,
}

impl Default for DavCache {
    fn default() -> Self {
        const CAPACITY: usize = 4096;
        Self { props: EpochCache::new(CAPACITY), locks: EpochCache::new(CAPACITY) }
    }
}

impl From<LockRow> for LockRecord {
    fn from(r: LockRow) -> Self {
        LockRecord {
            token: r.token,
            path: r.path,
            principal: r.principal,
            owner: r.owner,
            timeout_secs: r.timeout_secs,
            expires_at: r.expires_at,
            shared: flag(r.shared),
            deep: flag(r.deep),
        }
    }
}

/// Dead properties, kept per resource path.
pub trait DavPropStore {
    /// The properties of `path`, and with `children` also of everything directly in it
    /// (one query for a whole PROPFIND Depth 1).
    async fn dav_props(&self, root: &str, path: &str, children: bool) -> Result<Vec<DeadProp>, StoreError>;
    /// Sets (`set`, all of resource `path`) and removes (`remove`: namespace and name)
    /// properties of one resource in one transaction.
    async fn patch_dav_props(
        &self,
        root: &str,
        path: &str,
        parent: &str,
        set: &[DeadProp],
        remove: &[(String, String)],
    ) -> Result<(), StoreError>;
    /// Drops the properties of `path` and of everything below it.
    async fn delete_dav_props(&self, root: &str, path: &str) -> Result<(), StoreError>;
    /// Moves the properties of `from` and everything below it to `to` (whose old
    /// properties are dropped first).
    async fn move_dav_props(&self, root: &str, from: &str, to: &str, to_parent: &str) -> Result<(), StoreError>;
    /// Copies the properties of the one resource `from` onto `to` (replacing its own).
    async fn copy_dav_props(&self, root: &str, from: &str, to: &str, to_parent: &str) -> Result<(), StoreError>;
}

/// Locks, shared by every instance.
pub trait DavLockStore {
    /// Every lock of `root` that has not expired at `now_ms`.
    async fn dav_locks(&self, root: &str, now_ms: i64) -> Result<Vec<LockRecord>, StoreError>;
    /// Under an exclusive hold on the lock table, shows `decide` the live locks of
    /// `root` and stores the lock it returns; its `Err` (the conflicting lock) is passed
    /// through untouched.
    async fn dav_lock_with<F>(
        &self,
        root: &str,
        now_ms: i64,
        decide: F,
    ) -> Result<Result<LockRecord, Box<LockRecord>>, StoreError>
    where
        F: FnOnce(&[LockRecord]) -> Result<LockRecord, Box<LockRecord>> + Send;
    /// Deletes a lock by token; false if there was none.
    async fn dav_unlock(&self, root: &str, token: &str) -> Result<bool, StoreError>;
    /// Gives a live lock a new timeout.
    async fn dav_refresh_lock(
        &self,
        root: &str,
        token: &str,
        timeout_secs: Option<i64>,
        expires_at: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Deletes every lock on `path` and below it.
    async fn dav_delete_locks(&self, root: &str, path: &str) -> Result<(), StoreError>;
}

/// `path` itself or anything below it, as SQL on column `col` (binds `$2`, `$3`, `$4`).
macro_rules! tree {
    ($col:literal) => {
        concat!("(", $col, " = $2 OR substr(", $col, ", 1, CAST($3 AS INTEGER)) = $4)")
    };
}

/// The bind values for [`tree!`]: the prefix that children of `path` start with.
fn below(path: &str) -> (i64, String) {
    let prefix = format!("{}/", path.trim_end_matches('/'));
    (i64::try_from(prefix.len()).unwrap_or(i64::MAX), prefix)
}

impl DavPropStore for Store {
    async fn dav_props(&self, root: &str, path: &str, children: bool) -> Result<Vec<DeadProp>, StoreError> {
        let sql = if children {
            "SELECT path, namespace, name, prefix, xml FROM dav_props WHERE root = $1 AND (path = $2 OR parent = $2)"
        } else {
            "SELECT path, namespace, name, prefix, xml FROM dav_props WHERE root = $1 AND path = $2"
        };
        let key = (root.to_owned(), path.to_owned(), children);
        // The epoch is read before the query: a change committed meanwhile voids the entry.
        let epoch = self.dav_signal.epoch();
        if let Some(hit) = epoch.and_then(|e| self.dav_cache.props.get(&key, e)) {
            return Ok(hit);
        }
        let found = sqlx::query_as::<_, DeadProp>(sql).bind(root).bind(path).fetch_all(&self.pool).await?;
        if let Some(e) = epoch {
            self.dav_cache.props.put(key, e, found.clone());
        }
        Ok(found)
    }

    async fn patch_dav_props(
        &self,
        root: &str,
        path: &str,
        parent: &str,
        set: &[DeadProp],
        remove: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for p in set {
            sqlx::query(
                "INSERT INTO dav_props (root, path, parent, namespace, name, prefix, xml) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (root, path, namespace, name) DO UPDATE SET prefix = $6, xml = $7",
            )
            .bind(root)
            .bind(path)
            .bind(parent)
            .bind(&p.namespace)
            .bind(&p.name)
            .bind(&p.prefix)
            .bind(&p.xml)
            .execute(&mut *tx)
            .await?;
        }
        for (namespace, name) in remove {
            sqlx::query("DELETE FROM dav_props WHERE root = $1 AND path = $2 AND namespace = $3 AND name = $4")
                .bind(root)
                .bind(path)
                .bind(namespace)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.dav_changed();
        Ok(())
    }

    async fn delete_dav_props(&self, root: &str, path: &str) -> Result<(), StoreError> {
        let (len, prefix) = below(path);
        sqlx::query(concat!("DELETE FROM dav_props WHERE root = $1 AND ", tree!("path")))
            .bind(root)
            .bind(path)
            .bind(len)
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        self.dav_changed();
        Ok(())
    }

    async fn move_dav_props(&self, root: &str, from: &str, to: &str, to_parent: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let (to_len, to_prefix) = below(to);
        sqlx::query(concat!("DELETE FROM dav_props WHERE root = $1 AND ", tree!("path")))
            .bind(root)
            .bind(to)
            .bind(to_len)
            .bind(to_prefix)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE dav_props SET path = $3, parent = $4 WHERE root = $1 AND path = $2")
            .bind(root)
            .bind(from)
            .bind(to)
            .bind(to_parent)
            .execute(&mut *tx)
            .await?;
        let (len, prefix) = below(from);
        // Children: swap the `from` prefix of path and parent for `to`.
        sqlx::query(
            "UPDATE dav_props SET path = $4 || substr(path, CAST($2 AS INTEGER)), \
             parent = $4 || substr(parent, CAST($2 AS INTEGER)) \
             WHERE root = $1 AND substr(path, 1, CAST($2 AS INTEGER)) = $3",
        )
        .bind(root)
        .bind(len)
        .bind(prefix)
        .bind(to.trim_end_matches('/'))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.dav_changed();
        Ok(())
    }

    async fn copy_dav_props(&self, root: &str, from: &str, to: &str, to_parent: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM dav_props WHERE root = $1 AND path = $2")
            .bind(root)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO dav_props (root, path, parent, namespace, name, prefix, xml) \
             SELECT root, $3, $4, namespace, name, prefix, xml FROM dav_props WHERE root = $1 AND path = $2",
        )
        .bind(root)
        .bind(from)
        .bind(to)
        .bind(to_parent)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.dav_changed();
        Ok(())
    }
}

const SELECT_LOCKS: &str = "SELECT token, path, principal, owner, timeout_secs, expires_at, shared, deep \
                            FROM dav_locks WHERE root = $1 AND (expires_at IS NULL OR expires_at > $2)";

impl DavLockStore for Store {
    async fn dav_locks(&self, root: &str, now_ms: i64) -> Result<Vec<LockRecord>, StoreError> {
        let live = |locks: Vec<LockRecord>| -> Vec<LockRecord> {
            locks.into_iter().filter(|l| l.expires_at.is_none_or(|at| at > now_ms)).collect()
        };
        let epoch = self.dav_signal.epoch();
        if let Some(hit) = epoch.and_then(|e| self.dav_cache.locks.get(root, e)) {
            return Ok(live(hit));
        }
        let rows = sqlx::query_as::<_, LockRow>(SELECT_LOCKS).bind(root).bind(now_ms).fetch_all(&self.pool).await?;
        let found: Vec<LockRecord> = rows.into_iter().map(LockRecord::from).collect();
        if let Some(e) = epoch {
            self.dav_cache.locks.put(root.to_owned(), e, found.clone());
        }
        Ok(found)
    }

    async fn dav_lock_with<F>(
        &self,
        root: &str,
        now_ms: i64,
        decide: F,
    ) -> Result<Result<LockRecord, Box<LockRecord>>, StoreError>
    where
        F: FnOnce(&[LockRecord]) -> Result<LockRecord, Box<LockRecord>> + Send,
    {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            // Two instances locking at once must see each other's locks.
            sqlx::query("LOCK TABLE dav_locks IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM dav_locks WHERE expires_at IS NOT NULL AND expires_at <= $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query_as::<_, LockRow>(SELECT_LOCKS).bind(root).bind(now_ms).fetch_all(&mut *tx).await?;
        let live: Vec<LockRecord> = rows.into_iter().map(LockRecord::from).collect();
        let lock = match decide(&live) {
            Ok(lock) => lock,
            Err(conflict) => return Ok(Err(conflict)),
        };
        sqlx::query(
            "INSERT INTO dav_locks (token, root, path, principal, owner, timeout_secs, expires_at, shared, deep, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&lock.token)
        .bind(root)
        .bind(&lock.path)
        .bind(&lock.principal)
        .bind(&lock.owner)
        .bind(lock.timeout_secs)
        .bind(lock.expires_at)
        .bind(int(lock.shared))
        .bind(int(lock.deep))
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        tx.commit().await?;
        self.dav_changed();
        Ok(Ok(lock))
    }

    async fn dav_unlock(&self, root: &str, token: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM dav_locks WHERE root = $1 AND token = $2")
            .bind(root)
            .bind(token)
            .execute(&self.pool)
            .await?;
        self.dav_changed();
        Ok(done.rows_affected() > 0)
    }

    async fn dav_refresh_lock(
        &self,
        root: &str,
        token: &str,
        timeout_secs: Option<i64>,
        expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE dav_locks SET timeout_secs = $3, expires_at = $4 WHERE root = $1 AND token = $2")
            .bind(root)
            .bind(token)
            .bind(timeout_secs)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        self.dav_changed();
        Ok(())
    }

    async fn dav_delete_locks(&self, root: &str, path: &str) -> Result<(), StoreError> {
        let (len, prefix) = below(path);
        sqlx::query(concat!("DELETE FROM dav_locks WHERE root = $1 AND ", tree!("path")))
            .bind(root)
            .bind(path)
            .bind(len)
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        self.dav_changed();
        Ok(())
    }
}
