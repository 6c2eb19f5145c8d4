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

/// Bytes a dead-property row costs its owner beyond its namespace, name and value (see
/// migration 0100): many tiny properties are counted as well as a few large ones.
pub const PROP_ROW_OVERHEAD: i64 = 64;

/// What one write of dead properties must stay within.
#[derive(Debug, Clone, Copy)]
pub struct PropQuota<'a> {
    /// The user the written rows are counted against.
    pub owner: &'a str,
    /// Most bytes ([`DeadProp::bytes`]) all of the owner's rows may take.
    pub max_bytes: i64,
    /// Most properties one resource may carry.
    pub max_per_resource: i64,
}

/// Whether a write of dead properties was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum PropWrite {
    Done,
    /// Refused: it would take the owner past [`PropQuota`]; nothing changed.
    OverQuota,
}

impl DeadProp {
    /// What this property costs its owner.
    pub fn bytes(&self) -> i64 {
        let text = self.namespace.len() + self.name.len() + self.xml.len();
        i64::try_from(text).unwrap_or(i64::MAX).saturating_add(PROP_ROW_OVERHEAD)
    }
}

/// Dead properties, kept per resource path. Every statement is an index look-up or an
/// index range (see [`prop_statements`]): its cost follows what it touches, never the
/// size of the table.
pub trait DavPropStore {
    /// All the properties of the one resource `path` (at most
    /// [`PropQuota::max_per_resource`] of them).
    async fn dav_props(&self, root: &str, path: &str) -> Result<Vec<DeadProp>, StoreError>;
    /// The properties of the resources `paths`; with `names`, only properties of those
    /// names; without `values`, with an empty `xml` (for `propname`).
    async fn dav_props_of(
        &self,
        root: &str,
        paths: &[String],
        names: Option<&[String]>,
        values: bool,
    ) -> Result<Vec<DeadProp>, StoreError>;
    /// Whether anything directly in folder `path` has a property.
    async fn dav_props_in(&self, root: &str, path: &str) -> Result<bool, StoreError>;
    /// The bytes of properties `owner` stores, everywhere.
    async fn dav_prop_usage(&self, owner: &str) -> Result<i64, StoreError>;
    /// The bytes of the properties of `path` and of everything below it; with `owner`,
    /// only of that user's.
    async fn dav_prop_tree_bytes(&self, root: &str, path: &str, owner: Option<&str>) -> Result<i64, StoreError>;
    /// Sets (`set`, all of resource `path`) and removes (`remove`: namespace and name)
    /// properties of one resource in one transaction, refused whole if it would take
    /// the owner past `quota`.
    async fn patch_dav_props(
        &self,
        root: &str,
        path: &str,
        parent: &str,
        quota: &PropQuota<'_>,
        set: &[DeadProp],
        remove: &[(String, String)],
    ) -> Result<PropWrite, StoreError>;
    /// Drops the properties of `path` and of everything below it.
    async fn delete_dav_props(&self, root: &str, path: &str) -> Result<(), StoreError>;
    /// Moves the properties of `from` and everything below it to `to` (whose old
    /// properties are dropped first). Their owners stay who they were.
    async fn move_dav_props(&self, root: &str, from: &str, to: &str, to_parent: &str) -> Result<(), StoreError>;
    /// Copies the properties of the one resource `from` onto `to` (replacing its own),
    /// counted against `quota`'s owner; refused whole past it.
    async fn copy_dav_props(
        &self,
        root: &str,
        from: &str,
        to: &str,
        to_parent: &str,
        quota: &PropQuota<'_>,
    ) -> Result<PropWrite, StoreError>;
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

const PROP_COLUMNS: &str = "SELECT path, namespace, name, prefix, xml FROM dav_props";
const SELECT_PROPS: &str = "SELECT path, namespace, name, prefix, xml FROM dav_props WHERE root = $1 AND path = $2";
const PROPS_IN: &str = "SELECT path FROM dav_props WHERE root = $1 AND parent = $2 LIMIT 1";
const PROP_USAGE: &str = "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM dav_props WHERE owner = $1";
const PROP_COUNT: &str = "SELECT COUNT(*) FROM dav_props WHERE root = $1 AND path = $2";
const PROP_BYTES: &str = "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM dav_props WHERE root = $1 AND path = $2";
const PROP_BYTES_BELOW: &str = "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM dav_props \
                                WHERE root = $1 AND path >= $2 AND path < $3";
const PROP_OWNER_BYTES: &str = "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM dav_props \
                                WHERE owner = $1 AND root = $2 AND (path = $3 OR (path >= $4 AND path < $5))";
const PROP_UPSERT: &str = "INSERT INTO dav_props (root, path, parent, namespace, name, prefix, xml, owner, bytes) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                           ON CONFLICT (root, path, namespace, name) DO UPDATE SET prefix = $6, xml = $7, owner = $8, \
                           bytes = $9";
const PROP_REMOVE: &str = "DELETE FROM dav_props WHERE root = $1 AND path = $2 AND namespace = $3 AND name = $4";
const PROP_DELETE: &str = "DELETE FROM dav_props WHERE root = $1 AND path = $2";
const PROP_DELETE_BELOW: &str = "DELETE FROM dav_props WHERE root = $1 AND path >= $2 AND path < $3";
const PROP_MOVE: &str = "UPDATE dav_props SET path = $3, parent = $4 WHERE root = $1 AND path = $2";
/// Children: the `from` of path and parent swapped for `to` (`$5`); the rest starts at
/// `$4`, the position (counting from 1) of the `/` that follows `from`.
const PROP_MOVE_BELOW: &str = "UPDATE dav_props SET path = $5 || substr(path, CAST($4 AS INTEGER)), \
                               parent = $5 || substr(parent, CAST($4 AS INTEGER)) \
                               WHERE root = $1 AND path >= $2 AND path < $3";
const PROP_COPY: &str = "INSERT INTO dav_props (root, path, parent, namespace, name, prefix, xml, owner, bytes) \
                         SELECT root, $3, $4, namespace, name, prefix, xml, $5, bytes FROM dav_props \
                         WHERE root = $1 AND path = $2";
/// One PostgreSQL transaction at a time per owner checks and changes that owner's
/// rows (SQLite's writes are one at a time already).
const PROP_OWNER_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext($1))";

/// `SELECT` of the properties of `paths` resources (`$2`…), with `names` names.
fn props_of_sql(paths: usize, names: usize, values: bool) -> String {
    let mut sql = String::from(PROP_COLUMNS);
    if !values {
        sql = sql.replace(", xml FROM", ", '' AS xml FROM");
    }
    sql.push_str(" WHERE root = $1 AND path IN (");
    let list = |sql: &mut String, from: usize, n: usize| {
        for i in 0..n {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(from + i).to_string());
        }
    };
    list(&mut sql, 2, paths);
    sql.push(')');
    if names > 0 {
        sql.push_str(" AND name IN (");
        list(&mut sql, 2 + paths, names);
        sql.push(')');
    }
    sql
}

/// Every statement the property store runs, as run (lists of two): for a test that
/// asks each database how it would run them (`EXPLAIN`).
pub fn prop_statements() -> Vec<String> {
    let mut all: Vec<String> = [
        SELECT_PROPS,
        PROPS_IN,
        PROP_USAGE,
        PROP_COUNT,
        PROP_BYTES,
        PROP_BYTES_BELOW,
        PROP_OWNER_BYTES,
        PROP_UPSERT,
        PROP_REMOVE,
        PROP_DELETE,
        PROP_DELETE_BELOW,
        PROP_MOVE,
        PROP_MOVE_BELOW,
        PROP_COPY,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    all.push(props_of_sql(2, 0, true));
    all.push(props_of_sql(2, 2, false));
    all
}

/// The index range of everything below `path`: `[path/, path0)` (`0` follows `/`).
fn range_below(path: &str) -> (String, String) {
    let base = path.trim_end_matches('/');
    (format!("{base}/"), format!("{base}0"))
}

/// Where, as SQL's `substr` counts, the `/` that follows `path` in its children is.
fn rest_from(path: &str) -> String {
    (path.trim_end_matches('/').len() + 1).to_string()
}

/// Cached only when this small: a cache of many large answers would be the unbounded
/// memory the caps are there to prevent.
const CACHED_BYTES: i64 = 4096;

impl Store {
    async fn prop_sum(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        sql: &'static str,
        a: &str,
        b: Option<&str>,
    ) -> Result<i64, StoreError> {
        let mut q = sqlx::query_scalar::<_, i64>(sql).bind(a.to_owned());
        if let Some(b) = b {
            q = q.bind(b.to_owned());
        }
        Ok(q.fetch_one(&mut **tx).await?)
    }

    /// Starts a write of `owner`'s properties.
    async fn begin_prop_write(&self, owner: &str) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query(PROP_OWNER_LOCK).bind(owner).execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// Ends a write counted against `quota`: committed unless it took the owner past
    /// the cap and grew (`before`: their bytes when it began), or gave resource `path`
    /// too many properties.
    async fn finish_prop_write(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        quota: &PropQuota<'_>,
        before: i64,
        root: &str,
        path: &str,
    ) -> Result<PropWrite, StoreError> {
        let after = self.prop_sum(&mut tx, PROP_USAGE, quota.owner, None).await?;
        let count = self.prop_sum(&mut tx, PROP_COUNT, root, Some(path)).await?;
        if (after > quota.max_bytes && after > before) || count > quota.max_per_resource {
            tx.rollback().await?;
            return Ok(PropWrite::OverQuota);
        }
        tx.commit().await?;
        self.dav_changed();
        Ok(PropWrite::Done)
    }

    async fn delete_tree(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        root: &str,
        path: &str,
    ) -> Result<(), StoreError> {
        let (low, high) = range_below(path);
        sqlx::query(PROP_DELETE).bind(root).bind(path).execute(&mut **tx).await?;
        sqlx::query(PROP_DELETE_BELOW).bind(root).bind(low).bind(high).execute(&mut **tx).await?;
        Ok(())
    }
}

impl DavPropStore for Store {
    async fn dav_props(&self, root: &str, path: &str) -> Result<Vec<DeadProp>, StoreError> {
        let key = (root.to_owned(), path.to_owned(), false);
        // The epoch is read before the query: a change committed meanwhile voids the entry.
        let epoch = self.dav_signal.epoch();
        if let Some(hit) = epoch.and_then(|e| self.dav_cache.props.get(&key, e)) {
            return Ok(hit);
        }
        let found = sqlx::query_as::<_, DeadProp>(SELECT_PROPS).bind(root).bind(path).fetch_all(&self.pool).await?;
        if let Some(e) = epoch
            && found.iter().map(DeadProp::bytes).sum::<i64>() <= CACHED_BYTES
        {
            self.dav_cache.props.put(key, e, found.clone());
        }
        Ok(found)
    }

    async fn dav_props_of(
        &self,
        root: &str,
        paths: &[String],
        names: Option<&[String]>,
        values: bool,
    ) -> Result<Vec<DeadProp>, StoreError> {
        if paths.is_empty() || names.is_some_and(<[String]>::is_empty) {
            return Ok(Vec::new());
        }
        let names = names.unwrap_or_default();
        let sql = props_of_sql(paths.len(), names.len(), values);
        let mut q = sqlx::query_as::<_, DeadProp>(sqlx::AssertSqlSafe(sql)).bind(root.to_owned());
        for p in paths.iter().chain(names) {
            q = q.bind(p.clone());
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    async fn dav_props_in(&self, root: &str, path: &str) -> Result<bool, StoreError> {
        let key = (root.to_owned(), path.to_owned(), true);
        let epoch = self.dav_signal.epoch();
        if let Some(hit) = epoch.and_then(|e| self.dav_cache.props.get(&key, e)) {
            return Ok(!hit.is_empty());
        }
        let found: Option<String> =
            sqlx::query_scalar(PROPS_IN).bind(root).bind(path).fetch_optional(&self.pool).await?;
        if let Some(e) = epoch {
            // Remembered as "none" or as one marker row.
            let marker = found.iter().map(|p| DeadProp {
                path: p.clone(),
                namespace: String::new(),
                name: String::new(),
                prefix: String::new(),
                xml: String::new(),
            });
            self.dav_cache.props.put(key, e, marker.collect());
        }
        Ok(found.is_some())
    }

    async fn dav_prop_usage(&self, owner: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(PROP_USAGE).bind(owner).fetch_one(&self.pool).await?)
    }

    async fn dav_prop_tree_bytes(&self, root: &str, path: &str, owner: Option<&str>) -> Result<i64, StoreError> {
        let (low, high) = range_below(path);
        if let Some(owner) = owner {
            let q = sqlx::query_scalar::<_, i64>(PROP_OWNER_BYTES).bind(owner).bind(root).bind(path);
            return Ok(q.bind(low).bind(high).fetch_one(&self.pool).await?);
        }
        let own = sqlx::query_scalar::<_, i64>(PROP_BYTES).bind(root).bind(path).fetch_one(&self.pool).await?;
        let below = sqlx::query_scalar::<_, i64>(PROP_BYTES_BELOW)
            .bind(root)
            .bind(low)
            .bind(high)
            .fetch_one(&self.pool)
            .await?;
        Ok(own.saturating_add(below))
    }

    async fn patch_dav_props(
        &self,
        root: &str,
        path: &str,
        parent: &str,
        quota: &PropQuota<'_>,
        set: &[DeadProp],
        remove: &[(String, String)],
    ) -> Result<PropWrite, StoreError> {
        let mut tx = self.begin_prop_write(quota.owner).await?;
        let before = self.prop_sum(&mut tx, PROP_USAGE, quota.owner, None).await?;
        for p in set {
            sqlx::query(PROP_UPSERT)
                .bind(root)
                .bind(path)
                .bind(parent)
                .bind(&p.namespace)
                .bind(&p.name)
                .bind(&p.prefix)
                .bind(&p.xml)
                .bind(quota.owner)
                .bind(p.bytes())
                .execute(&mut *tx)
                .await?;
        }
        for (namespace, name) in remove {
            sqlx::query(PROP_REMOVE).bind(root).bind(path).bind(namespace).bind(name).execute(&mut *tx).await?;
        }
        self.finish_prop_write(tx, quota, before, root, path).await
    }

    async fn delete_dav_props(&self, root: &str, path: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        Self::delete_tree(&mut tx, root, path).await?;
        tx.commit().await?;
        self.dav_changed();
        Ok(())
    }

    async fn move_dav_props(&self, root: &str, from: &str, to: &str, to_parent: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        Self::delete_tree(&mut tx, root, to).await?;
        sqlx::query(PROP_MOVE).bind(root).bind(from).bind(to).bind(to_parent).execute(&mut *tx).await?;
        let (low, high) = range_below(from);
        sqlx::query(PROP_MOVE_BELOW)
            .bind(root)
            .bind(low)
            .bind(high)
            .bind(rest_from(from))
            .bind(to.trim_end_matches('/'))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.dav_changed();
        Ok(())
    }

    async fn copy_dav_props(
        &self,
        root: &str,
        from: &str,
        to: &str,
        to_parent: &str,
        quota: &PropQuota<'_>,
    ) -> Result<PropWrite, StoreError> {
        let mut tx = self.begin_prop_write(quota.owner).await?;
        let before = self.prop_sum(&mut tx, PROP_USAGE, quota.owner, None).await?;
        sqlx::query(PROP_DELETE).bind(root).bind(to).execute(&mut *tx).await?;
        sqlx::query(PROP_COPY)
            .bind(root)
            .bind(from)
            .bind(to)
            .bind(to_parent)
            .bind(quota.owner)
            .execute(&mut *tx)
            .await?;
        self.finish_prop_write(tx, quota, before, root, to).await
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
    let col = bytewise_path(backend);
    format!("SELECT {LOCK_COLUMNS} FROM dav_locks WHERE root = $1 AND {col} >= $3 AND {col} < $4 AND {LIVE}")
}

/// The lock path compared byte by byte, as its index is built (migration 0200).
fn bytewise_path(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "path",
        Backend::Postgres => "(path COLLATE \"C\")",
    }
}

/// Locks with any of `n` tokens (binds `$1` root, `$2` now, `$3…` tokens).
fn sql_by_token(n: usize) -> String {
    format!("SELECT {LOCK_COLUMNS} FROM dav_locks WHERE token IN ({}) AND root = $1 AND {LIVE}", placeholders(3, n))
}

/// Deletes the locks below a folder (binds `$1` root, `$2` low, `$3` high).
fn sql_delete_below(backend: Backend) -> String {
    let col = bytewise_path(backend);
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
