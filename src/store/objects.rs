//! What a library on S3 keeps in the database: the modification times clients gave
//! files (an object's own time is its upload's), and the multipart uploads in progress,
//! so that any instance's housekeeping can abort those a crashed instance left behind.
//! Keys are whole object keys within a bucket.

use sqlx::FromRow;

use super::{Store, StoreError};

/// A modification time given to an object, valid while it has `etag`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ObjectTime {
    pub object_key: String,
    pub etag: String,
    pub mtime_ms: i64,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PendingUpload {
    pub upload_id: String,
    pub bucket: String,
    pub object_key: String,
}

/// Storage of the objects' side data.
pub trait ObjectStore {
    /// The times given to the objects directly in the folder `parent` (a key prefix
    /// ending in `/`), or to the one object `key` when `parent` is `None`.
    async fn object_times(&self, bucket: &str, parent: &str) -> Result<Vec<ObjectTime>, StoreError>;
    async fn object_time(&self, bucket: &str, key: &str) -> Result<Option<ObjectTime>, StoreError>;
    async fn set_object_time(
        &self,
        bucket: &str,
        key: &str,
        parent: &str,
        etag: &str,
        mtime_ms: i64,
    ) -> Result<(), StoreError>;
    async fn forget_object_time(&self, bucket: &str, key: &str) -> Result<(), StoreError>;

    async fn upload_started(&self, bucket: &str, key: &str, upload_id: &str, now_ms: i64) -> Result<(), StoreError>;
    async fn upload_touched(&self, upload_id: &str, now_ms: i64) -> Result<(), StoreError>;
    async fn upload_ended(&self, upload_id: &str) -> Result<(), StoreError>;
    /// Uploads not touched since `before_ms`.
    async fn stale_uploads(&self, before_ms: i64) -> Result<Vec<PendingUpload>, StoreError>;
}

impl ObjectStore for Store {
    async fn object_times(&self, bucket: &str, parent: &str) -> Result<Vec<ObjectTime>, StoreError> {
        Ok(sqlx::query_as::<_, ObjectTime>(
            "SELECT object_key, etag, mtime_ms FROM object_mtimes WHERE bucket = $1 AND parent = $2",
        )
        .bind(bucket)
        .bind(parent)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn object_time(&self, bucket: &str, key: &str) -> Result<Option<ObjectTime>, StoreError> {
        Ok(sqlx::query_as::<_, ObjectTime>(
            "SELECT object_key, etag, mtime_ms FROM object_mtimes WHERE bucket = $1 AND object_key = $2",
        )
        .bind(bucket)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn set_object_time(
        &self,
        bucket: &str,
        key: &str,
        parent: &str,
        etag: &str,
        mtime_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO object_mtimes (bucket, object_key, parent, etag, mtime_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (bucket, object_key) DO UPDATE SET parent = $3, etag = $4, mtime_ms = $5",
        )
        .bind(bucket)
        .bind(key)
        .bind(parent)
        .bind(etag)
        .bind(mtime_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn forget_object_time(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM object_mtimes WHERE bucket = $1 AND object_key = $2")
            .bind(bucket)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn upload_started(&self, bucket: &str, key: &str, upload_id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO object_uploads (upload_id, bucket, object_key, touched_ms) VALUES ($1, $2, $3, $4)")
            .bind(upload_id)
            .bind(bucket)
            .bind(key)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn upload_touched(&self, upload_id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE object_uploads SET touched_ms = $2 WHERE upload_id = $1")
            .bind(upload_id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn upload_ended(&self, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM object_uploads WHERE upload_id = $1").bind(upload_id).execute(&self.pool).await?;
        Ok(())
    }

    async fn stale_uploads(&self, before_ms: i64) -> Result<Vec<PendingUpload>, StoreError> {
        Ok(sqlx::query_as::<_, PendingUpload>(
            "SELECT upload_id, bucket, object_key FROM object_uploads WHERE touched_ms < $1 LIMIT 1000",
        )
        .bind(before_ms)
        .fetch_all(&self.pool)
        .await?)
    }
}
