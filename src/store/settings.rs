//! Server-wide settings kept in the database (shared by every instance).

use super::{Store, StoreError};

/// Named values shared by all instances.
pub trait SettingsStore {
    async fn setting(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` only if `name` has none yet; returns the value now stored.
    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError>;
    /// Removes `name` and returns its value, if it had one: for notices said once.
    async fn take_setting(&self, name: &str) -> Result<Option<String>, StoreError>;
}

impl SettingsStore for Store {
    async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await?;
        self.setting(name).await?.ok_or(StoreError::NotFound)
    }

    async fn take_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>("DELETE FROM settings WHERE name = $1 RETURNING value")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }
}
