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
    locks: EpochCache<(String, String, bool), Vec<LockRecord>>,
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

/// Locks, shared by every instance. Every read and write here goes through an index
/// (a lock's path and its ancestors, a range of paths below a folder, a token, a
/// principal, an expiry): its cost does not grow with the locks others hold
/// ([`Store::dav_lock_statements`] lists the statements for a test that asks the
/// database how it runs them).
pub trait DavLockStore {
    /// Every lock of `root` that has not expired at `now_ms`.
    async fn dav_locks(&self, root: &str, now_ms: i64) -> Result<Vec<LockRecord>, StoreError>;
    /// The live locks on `path` and on every folder above it, and with `subtree` also
    /// those below it.
    async fn dav_locks_at(
        &self,
        root: &str,
        path: &str,
        subtree: bool,
        now_ms: i64,
    ) -> Result<Vec<LockRecord>, StoreError>;
    /// The live locks of `root` with one of `tokens`.
    async fn dav_locks_by_token(
        &self,
        root: &str,
        tokens: &[String],
        now_ms: i64,
    ) -> Result<Vec<LockRecord>, StoreError>;
    /// Under an exclusive hold on the lock table: sweeps expired locks, shows `decide`
    /// the live locks on `path` and above it (and with `deep` below it) with the number
    /// of locks `principal` holds, and stores the lock it returns; its `Err` is passed
    /// through untouched, with nothing stored.
    async fn dav_lock_with<F, E>(
        &self,
        root: &str,
        now_ms: i64,
        path: &str,
        deep: bool,
        principal: Option<&str>,
        decide: F,
    ) -> Result<Result<LockRecord, E>, StoreError>
    where
        F: FnOnce(&[LockRecord], i64) -> Result<LockRecord, E> + Send,
        E: Send;
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

const LOCK_COLUMNS: &str = "token, path, principal, owner, timeout_secs, expires_at, shared, deep";
const LIVE: &str = "(expires_at IS NULL OR expires_at > $2)";

/// Most paths or tokens one `IN (…)` list binds (a path this deep cannot exist on a
/// file system or in S3; longer lists are asked in parts).
const IN_LIST: usize = 200;

/// `path` and every folder above it, as keys: `/a/b` gives `/`, `/a`, `/a/b`.
fn ancestors(path: &str) -> Vec<String> {
    let mut out = vec!["/".to_owned()];
    let trimmed = path.trim_end_matches('/');
    for (i, _) in trimmed.match_indices('/').skip(1) {
        out.push(trimmed[..i].to_owned());
    }
    if trimmed.len() > 1 {
        out.push(trimmed.to_owned());
    }
    out
}

/// The keys strictly below `path` are those in `[low, high)`: `low` is the folder's
/// prefix (`/a/`), `high` the same with its last `/` raised to `0`, the next byte.
fn subtree_range(path: &str) -> (String, String) {
    let low = format!("{}/", path.trim_end_matches('/'));
    let high = format!("{}0", &low[..low.len() - 1]);
    (low, high)
}

/// `$first, $first+1, …` for `n` binds.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Locks on any of `n` paths (binds `$1` root, `$2` now, `$3…` paths).
fn sql_on_paths(n: usize) -> String {
    format!("SELECT {LOCK_COLUMNS} FROM dav_locks WHERE root = $1 AND path IN ({}) AND {LIVE}", placeholders(3, n))
}

/// Locks below a folder (binds `$1` root, `$2` now, `$3` low, `$4` high). Paths are
/// compared byte by byte: PostgreSQL in the "C" collation, which its index is built in
/// (migration 0200), whatever the database's own collation orders.
fn sql_below(backend: Backend) -> String {
    let col = match backend {
        Backend::Sqlite => "path",
        Backend::Postgres => "(path COLLATE \"C\")",
    };
    format!("SELECT {LOCK_COLUMNS} FROM dav_locks WHERE root = $1 AND {col} >= $3 AND {col} < $4 AND {LIVE}")
}

/// Locks with any of `n` tokens (binds `$1` root, `$2` now, `$3…` tokens).
fn sql_by_token(n: usize) -> String {
    format!("SELECT {LOCK_COLUMNS} FROM dav_locks WHERE token IN ({}) AND root = $1 AND {LIVE}", placeholders(3, n))
}

/// Deletes the locks below a folder (binds `$1` root, `$2` low, `$3` high).
fn sql_delete_below(backend: Backend) -> String {
    let col = match backend {
        Backend::Sqlite => "path",
        Backend::Postgres => "(path COLLATE \"C\")",
    };
    format!("DELETE FROM dav_locks WHERE root = $1 AND {col} >= $2 AND {col} < $3")
}

const SQL_DELETE_AT: &str = "DELETE FROM dav_locks WHERE root = $1 AND path = $2";

const SQL_SWEEP: &str = "DELETE FROM dav_locks WHERE expires_at IS NOT NULL AND expires_at <= $1";
const SQL_HELD: &str = "SELECT COUNT(*) FROM dav_locks WHERE principal = $1";
const SQL_ALL: &str = "SELECT token, path, principal, owner, timeout_secs, expires_at, shared, deep \
                       FROM dav_locks WHERE root = $1 AND (expires_at IS NULL OR expires_at > $2)";
const SQL_UNLOCK: &str = "DELETE FROM dav_locks WHERE root = $1 AND token = $2";
const SQL_REFRESH: &str = "UPDATE dav_locks SET timeout_secs = $3, expires_at = $4 WHERE root = $1 AND token = $2";

/// An example argument of a statement in [`Store::dav_lock_statements`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlArg {
    Text(String),
    Int(i64),
}

impl Store {
    /// Every statement a write or a LOCK runs on the lock table, by name, with example
    /// arguments: for a test that asks the database for its plan and fails on a full
    /// scan. (The listing of every lock of a library, [`DavLockStore::dav_locks`], is
    /// left out: it reads them all by design.)
    pub fn dav_lock_statements(&self) -> Vec<(&'static str, String, Vec<SqlArg>)> {
        use SqlArg::{Int, Text};
        let t = |s: &str| Text(s.to_owned());
        let (low, high) = subtree_range("/a/b");
        let on = ancestors("/a/b/c");
        let mut on_args = vec![t("originals"), Int(0)];
        on_args.extend(on.iter().map(|p| t(p)));
        vec![
            ("locks on a path and above", sql_on_paths(on.len()), on_args),
            ("locks below a folder", sql_below(self.backend), vec![t("originals"), Int(0), t(&low), t(&high)]),
            ("locks by token", sql_by_token(2), vec![t("originals"), Int(0), t("urn:uuid:1"), t("urn:uuid:2")]),
            ("sweep of expired locks", SQL_SWEEP.to_owned(), vec![Int(0)]),
            ("locks one user holds", SQL_HELD.to_owned(), vec![t("u1")]),
            ("unlock", SQL_UNLOCK.to_owned(), vec![t("originals"), t("urn:uuid:1")]),
            ("refresh", SQL_REFRESH.to_owned(), vec![t("originals"), t("urn:uuid:1"), Int(60), Int(0)]),
            ("delete of a path's locks", SQL_DELETE_AT.to_owned(), vec![t("originals"), t("/a/b")]),
            (
                "delete of the locks below a folder",
                sql_delete_below(self.backend),
                vec![t("originals"), t(&low), t(&high)],
            ),
        ]
    }
}

/// Runs the lock queries of [`DavLockStore::dav_locks_at`] on `conn`.
async fn locks_at(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    root: &str,
    path: &str,
    subtree: bool,
    now_ms: i64,
) -> Result<Vec<LockRecord>, StoreError> {
    let mut found = Vec::new();
    for part in ancestors(path).chunks(IN_LIST) {
        let sql = sql_on_paths(part.len());
        let mut q = sqlx::query_as::<_, LockRow>(sqlx::AssertSqlSafe(sql)).bind(root).bind(now_ms);
        for p in part {
            q = q.bind(p);
        }
        found.extend(q.fetch_all(&mut *conn).await?.into_iter().map(LockRecord::from));
    }
    if subtree {
        let (low, high) = subtree_range(path);
        let rows = sqlx::query_as::<_, LockRow>(sqlx::AssertSqlSafe(sql_below(backend)))
            .bind(root)
            .bind(now_ms)
            .bind(low)
            .bind(high)
            .fetch_all(&mut *conn)
            .await?;
        found.extend(rows.into_iter().map(LockRecord::from));
    }
    Ok(found)
}

fn live_at(locks: Vec<LockRecord>, now_ms: i64) -> Vec<LockRecord> {
    locks.into_iter().filter(|l| l.expires_at.is_none_or(|at| at > now_ms)).collect()
}

impl DavLockStore for Store {
    async fn dav_locks(&self, root: &str, now_ms: i64) -> Result<Vec<LockRecord>, StoreError> {
        let rows = sqlx::query_as::<_, LockRow>(SQL_ALL).bind(root).bind(now_ms).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(LockRecord::from).collect())
    }

    async fn dav_locks_at(
        &self,
        root: &str,
        path: &str,
        subtree: bool,
        now_ms: i64,
    ) -> Result<Vec<LockRecord>, StoreError> {
        let key = (root.to_owned(), path.to_owned(), subtree);
        // The epoch is read before the query: a change committed meanwhile voids the entry.
        let epoch = self.dav_signal.epoch();
        if let Some(hit) = epoch.and_then(|e| self.dav_cache.locks.get(&key, e)) {
            return Ok(live_at(hit, now_ms));
        }
        let mut conn = self.pool.acquire().await?;
        let found = locks_at(&mut conn, self.backend, root, path, subtree, now_ms).await?;
        if let Some(e) = epoch {
            self.dav_cache.locks.put(key, e, found.clone());
        }
        Ok(found)
    }

    async fn dav_locks_by_token(
        &self,
        root: &str,
        tokens: &[String],
        now_ms: i64,
    ) -> Result<Vec<LockRecord>, StoreError> {
        let mut found = Vec::new();
        for part in tokens.chunks(IN_LIST) {
            let mut q =
                sqlx::query_as::<_, LockRow>(sqlx::AssertSqlSafe(sql_by_token(part.len()))).bind(root).bind(now_ms);
            for t in part {
                q = q.bind(t);
            }
            found.extend(q.fetch_all(&self.pool).await?.into_iter().map(LockRecord::from));
        }
        Ok(found)
    }

    async fn dav_lock_with<F, E>(
        &self,
        root: &str,
        now_ms: i64,
        path: &str,
        deep: bool,
        principal: Option<&str>,
        decide: F,
    ) -> Result<Result<LockRecord, E>, StoreError>
    where
        F: FnOnce(&[LockRecord], i64) -> Result<LockRecord, E> + Send,
        E: Send,
    {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            // Two instances locking at once must see each other's locks.
            sqlx::query("LOCK TABLE dav_locks IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        let swept = sqlx::query(SQL_SWEEP).bind(now_ms).execute(&mut *tx).await?.rows_affected();
        let held: i64 = match principal {
            Some(p) => sqlx::query_scalar(SQL_HELD).bind(p).fetch_one(&mut *tx).await?,
            None => 0,
        };
        let live = locks_at(&mut tx, self.backend, root, path, deep, now_ms).await?;
        let lock = match decide(&live, held) {
            Ok(lock) => lock,
            Err(refused) => {
                if swept > 0 {
                    tx.commit().await?;
                    self.dav_changed();
                }
                return Ok(Err(refused));
            }
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
        let done = sqlx::query(SQL_UNLOCK).bind(root).bind(token).execute(&self.pool).await?;
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
        sqlx::query(SQL_REFRESH).bind(root).bind(token).bind(timeout_secs).bind(expires_at).execute(&self.pool).await?;
        self.dav_changed();
        Ok(())
    }

    async fn dav_delete_locks(&self, root: &str, path: &str) -> Result<(), StoreError> {
        let (low, high) = subtree_range(path);
        let at = sqlx::query(SQL_DELETE_AT).bind(root).bind(path).execute(&self.pool).await?;
        let below = sqlx::query(sqlx::AssertSqlSafe(sql_delete_below(self.backend)))
            .bind(root)
            .bind(low)
            .bind(high)
            .execute(&self.pool)
            .await?;
        if at.rows_affected() + below.rows_affected() > 0 {
            self.dav_changed();
        }
        Ok(())
    }
}

#[cfg(test)]
mod lock_key_tests {
    use super::*;

    #[test]
    fn ancestors_run_from_the_root_to_the_path() {
        assert_eq!(ancestors("/"), vec!["/"]);
        assert_eq!(ancestors("/a"), vec!["/", "/a"]);
        assert_eq!(ancestors("/a/b%20c/d"), vec!["/", "/a", "/a/b%20c", "/a/b%20c/d"]);
    }

    #[test]
    fn a_subtree_range_holds_exactly_the_paths_below() {
        let (low, high) = subtree_range("/a");
        let below = |p: &str| p >= low.as_str() && p < high.as_str();
        assert!(below("/a/b") && below("/a/b/c") && below("/a/~"));
        assert!(!below("/a") && !below("/ab") && !below("/a0") && !below("/a-b") && !below("/b"));
        let (low, high) = subtree_range("/");
        assert!("/x" >= low.as_str() && "/x" < high.as_str());
    }
}
