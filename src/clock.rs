//! Time as a parameter: everything that depends on "now" asks a [`Clock`], so time
//! rules can be unit-tested with fixed instants while the server uses the real clock.

use std::fmt::Debug;
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in whole seconds.
pub type UnixTime = i64;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> UnixTime;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that always answers the same instant, for unit tests of time logic.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

/// The wall clock moved by an offset that can be changed while it is in use: lets a test
/// (or a drill) let half an hour pass on a running server without waiting for it.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: std::sync::atomic::AtomicI64,
}

impl OffsetClock {
    /// Moves this clock `seconds` forward (or back, if negative).
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> UnixTime {
        SystemClock.now().saturating_add(self.offset.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// Formats a unix time as RFC 3339 (UTC), the form every API timestamp takes.
pub fn rfc3339(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_and_a_known_instant() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn an_offset_clock_moves_on_request() {
        let clock = OffsetClock::default();
        let before = clock.now();
        clock.advance(1800);
        assert!(clock.now() >= before + 1800);
    }

    #[test]
    fn system_clock_is_after_2025() {
        assert!(SystemClock.now() > 1_735_689_600);
    }
}
