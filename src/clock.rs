//! Time as a parameter: everything that depends on "now" asks a [`Clock`], so time
//! rules can be unit-tested with fixed instants while the server uses the real clock.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in whole seconds.
pub type UnixTime = i64;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> UnixTime;

    /// Milliseconds since the Unix epoch (lock and upload times).
    fn now_ms(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
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

    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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

/// A clock that stands still until it is moved: tests hand one to a running server and
/// keep a clone, so time rules (throttle delays, TOTP steps, expiry) hold at any machine
/// speed and can be stepped through without sleeping.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `t`.
    pub fn at(t: UnixTime) -> Self {
        Self(Arc::new(AtomicI64::new(t)))
    }

    /// Moves the clock to `t`.
    pub fn set(&self, t: UnixTime) {
        self.0.store(t, Ordering::SeqCst);
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        self.0.load(Ordering::SeqCst)
    }
}

/// Formats a unix time as RFC 3339 (UTC), the form every API timestamp takes.
pub fn rfc3339(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The latest time every format we answer in can show (RFC 9110 dates, RFC 3339, S3's
/// `x-amz-date`: all have four-digit years): 9999-12-31T23:59:59Z.
pub const LATEST_SHOWN: i64 = 253_402_300_799;
/// The earliest: 0001-01-01T00:00:00Z.
pub const EARLIEST_SHOWN: i64 = -62_135_596_800;

/// A file's time in seconds since the epoch (negative before 1970), saturating.
fn unix_seconds(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            // -0.5 s is in the second before the epoch.
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            -secs - i64::from(d.subsec_nanos() > 0)
        }
    }
}

/// Whether the formats can show `t` exactly; times given by clients must be (refused
/// on the way in otherwise).
pub fn is_showable(t: std::time::SystemTime) -> bool {
    (EARLIEST_SHOWN..=LATEST_SHOWN).contains(&unix_seconds(t))
}

/// A file time as a calendar time, whole seconds, clamped into what the formats can
/// show: a time another tool left on disk or in a bucket never makes an answer fail.
pub fn calendar(t: std::time::SystemTime) -> time::OffsetDateTime {
    let secs = unix_seconds(t).clamp(EARLIEST_SHOWN, LATEST_SHOWN);
    time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_times_are_clamped_to_what_the_formats_show() {
        use std::time::{Duration, UNIX_EPOCH};
        let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert!(!is_showable(far));
        assert_eq!(calendar(far).year(), 9999);
        assert_eq!(calendar(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)).unix_timestamp(), LATEST_SHOWN);
        let ancient = UNIX_EPOCH - Duration::from_secs(70_000_000_000);
        assert!(!is_showable(ancient));
        assert_eq!(calendar(ancient).year(), 1);
        assert_eq!(calendar(UNIX_EPOCH - Duration::from_millis(500)).unix_timestamp(), -1);
        assert_eq!(calendar(UNIX_EPOCH + Duration::from_millis(1500)).unix_timestamp(), 1);
        assert!(is_showable(UNIX_EPOCH + Duration::from_secs(LATEST_SHOWN as u64)));
    }

    #[test]
    fn formats_epoch_and_a_known_instant() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_agree() {
        let clock = ManualClock::at(1000);
        let shared = clock.clone();
        assert_eq!(shared.now(), 1000);
        clock.advance(30);
        assert_eq!(shared.now(), 1030);
        shared.set(5);
        assert_eq!(clock.now(), 5);
    }

    #[test]
    fn system_clock_is_after_2025() {
        assert!(SystemClock.now() > 1_735_689_600);
    }
}
