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
    /// A request past a size cap (413): bodies, property lists, names, values, lock owners.
    TooLarge,
    /// A write past a storage bound (507): free space, properties per user or resource.
    Storage,
    /// Refused for now with `Retry-After` (503): the hashing queue is full, or the
    /// database cannot count an attempt.
    Busy,
    /// A login or ceremony throttled (429).
    Throttled,
}

impl Bound {
    pub const ALL: [Bound; 7] = [
        Bound::Connections,
        Bound::ConnectionsPerAddress,
        Bound::SlowBody,
        Bound::TooLarge,
        Bound::Storage,
        Bound::Busy,
        Bound::Throttled,
    ];

    /// The `bound` label in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Connections => "connections",
            Bound::ConnectionsPerAddress => "connections_per_address",
            Bound::SlowBody => "slow_body",
            Bound::TooLarge => "too_large",
            Bound::Storage => "storage",
            Bound::Busy => "busy",
            Bound::Throttled => "throttled",
        }
    }

    /// The bound an answer reports, if any: every refusal by a bound leaves with one of
    /// these statuses, so they are counted once, where answers leave.
    pub fn of_answer(status: u16, retry_after: bool) -> Option<Bound> {
        match status {
            413 => Some(Bound::TooLarge),
            507 => Some(Bound::Storage),
            503 if retry_after => Some(Bound::Busy),
            429 => Some(Bound::Throttled),
            _ => None,
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
