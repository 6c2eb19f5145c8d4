//! A short-lived, in-process cache of token lookups, so that a sync app sending its app
//! password with every request costs a hash and a map lookup, not a database trip.
//!
//! It is safe because it never outlives a change: each entry carries the store's
//! credential epoch from before its lookup, and a hit requires the epoch to be the same
//! now. Every revoke, password change, disabled or deleted user and changed client —
//! from this process, the command line or another server on the same SQLite file —
//! moves the epoch before the call that made it returns (`store::signal`). Where the
//! store cannot promise that (PostgreSQL shared by several machines) it gives no epoch
//! and nothing is cached. The cache only ever grants: an entry that would refuse (an
//! expired or idle session) is looked up again. Entries also expire after
//! [`EpochCache::TTL`], the bound for edits made to the database behind the server's back.

use std::sync::Arc;

use crate::clock::UnixTime;
use crate::domain::session::Session;
use crate::domain::user::User;
use crate::store::{Epoch, EpochCache};

/// Live tokens kept at most; beyond that the cache sheds old entries, then starts over.
const CAPACITY: usize = 10_000;

/// A session and its user, as the store returns them for a token, shared so that a hit
/// costs no copy.
pub type Found = (Arc<Session>, Option<Arc<User>>);

/// Token lookups by token hash.
#[derive(Debug)]
pub struct TokenCache(EpochCache<String, Found>);

impl Default for TokenCache {
    fn default() -> Self {
        Self(EpochCache::new(CAPACITY))
    }
}

impl TokenCache {
    /// The entry for `token_hash` if it was looked up at `epoch` and is still fresh.
    pub fn get(&self, token_hash: &str, epoch: Epoch) -> Option<Found> {
        self.0.get(token_hash, epoch)
    }

    /// Keeps a lookup made after reading `epoch`.
    pub fn put(&self, token_hash: &str, epoch: Epoch, found: Found) {
        self.0.put(token_hash.to_owned(), epoch, found);
    }

    /// Notes that the session's activity was just written, so hits do not write it again.
    pub fn touched(&self, token_hash: &str, now: UnixTime) {
        self.0.update(token_hash, |(session, _)| {
            let session = Arc::make_mut(session);
            session.last_active = session.last_active.max(now);
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::session::SessionKind;

    fn found(last_active: UnixTime) -> Found {
        let session = Arc::new(Session {
            id: "sess-1".into(),
            token_hash: "h".into(),
            user_uid: None,
            client_id: Some("cs-1".into()),
            parent_id: None,
            kind: SessionKind::Client,
            name: String::new(),
            scope: "metrics".into(),
            created_at: 0,
            expires_at: None,
            idle_timeout: 0,
            last_active,
            login_ip: String::new(),
            user_agent: String::new(),
            dav_limit: None,
        });
        (session, None)
    }

    #[test]
    fn a_hit_needs_the_epoch_of_its_lookup() {
        let cache = TokenCache::default();
        cache.put("h", Epoch::for_test(1), found(100));
        assert!(cache.get("h", Epoch::for_test(1)).is_some());
        assert!(cache.get("h", Epoch::for_test(2)).is_none(), "a change since the lookup voids it");
        assert!(cache.get("other", Epoch::for_test(1)).is_none());
    }

    #[test]
    fn touching_updates_the_cached_activity() {
        let cache = TokenCache::default();
        cache.put("h", Epoch::for_test(1), found(100));
        cache.touched("h", 200);
        assert_eq!(cache.get("h", Epoch::for_test(1)).unwrap().0.last_active, 200);
        cache.touched("h", 150);
        assert_eq!(cache.get("h", Epoch::for_test(1)).unwrap().0.last_active, 200, "never goes back");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = TokenCache::default();
        for i in 0..CAPACITY + 10 {
            cache.put(&format!("h{i}"), Epoch::for_test(1), found(100));
        }
        assert!(cache.len() <= CAPACITY);
        assert!(cache.get(&format!("h{}", CAPACITY + 9), Epoch::for_test(1)).is_some(), "the newest is kept");
    }
}
