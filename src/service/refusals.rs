//! Counts of requests refused because they reached a bound, for `/api/v1/metrics`: an
//! admin sees what the bounds stop without reading logs.

use std::sync::atomic::{AtomicU64, Ordering};

/// A bound a request or connection can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The process has as many connections open as its descriptors allow.
    Connections,
    /// One client address has as many connections open as it may.
    ConnectionsPerAddress,
    /// A request body arrived more slowly than the minimum rate.
    SlowBody,
}

impl Bound {
    pub const ALL: [Bound; 3] = [Bound::Connections, Bound::ConnectionsPerAddress, Bound::SlowBody];

    /// The `bound` label in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Connections => "connections",
            Bound::ConnectionsPerAddress => "connections_per_address",
            Bound::SlowBody => "slow_body",
        }
    }
}

/// One counter per [`Bound`], since the process started.
#[derive(Debug, Default)]
pub struct Refusals([AtomicU64; Bound::ALL.len()]);

impl Refusals {
    pub fn count(&self, bound: Bound) {
        self.0[bound as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, bound: Bound) -> u64 {
        self.0[bound as usize].load(Ordering::Relaxed)
    }
}
