//! Brute-force limits: how long a client must wait after failed guesses.
//!
//! Failed passwords, codes and recovery codes are counted per account, per client
//! address (IPv6 by /64) and per (account, address) pair, over the last hour. Up to a
//! few failures are free; then each further failure doubles the wait, capped; and an
//! account never takes more than [`ACCOUNT_CAP`] failures an hour (OWASP ASVS 2.2.1).
//!
//! The owner is not locked out by someone else's guessing: an address from which the
//! account logged in successfully recently is "known", and there only the failures
//! from that address (and the hard cap) count — a flood from elsewhere cannot take the
//! owner's way in. A correct password that is merely not enough (2FA on, no code) is
//! not a guess and counts nowhere.

use std::net::IpAddr;

use crate::clock::UnixTime;

/// The counting window, seconds.
pub const WINDOW: i64 = 3600;
/// How long a successful login makes an address "known" for that account, seconds.
pub const KNOWN_ADDRESS_MEMORY: i64 = 30 * 86_400;
/// At most this many failures per account per hour, whatever their source.
pub const ACCOUNT_CAP: i64 = 100;
/// A pending attempt older than this no longer counts (its request died), seconds.
pub const PENDING_TTL: i64 = 300;

/// Failures counted for one key over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Completed failures: these set the growing delay.
    pub count: i64,
    /// Attempts still being checked: they count towards the hard cap only, so that
    /// concurrent requests cannot push a key past it.
    pub pending: i64,
    pub oldest: Option<UnixTime>,
    pub newest: Option<UnixTime>,
}

/// Everything a decision needs about one attempt's history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tallies {
    /// Failures on this account, from anywhere.
    pub account: Tally,
    /// Failures on this account from this address.
    pub pair: Tally,
    /// Failures from this address, on any account.
    pub address: Tally,
    /// Whether this account logged in successfully from this address recently.
    pub known_address: bool,
}

/// A growing-delay rule: `free` failures cost nothing, then the wait doubles per
/// failure up to `max_delay`; at `cap` failures the key waits for the window to clear.
#[derive(Debug, Clone, Copy)]
struct Rule {
    free: i64,
    max_delay: i64,
    cap: i64,
}

const ACCOUNT: Rule = Rule { free: 5, max_delay: 60, cap: ACCOUNT_CAP };
const KNOWN_PAIR: Rule = Rule { free: 5, max_delay: 300, cap: ACCOUNT_CAP };
const ADDRESS: Rule = Rule { free: 20, max_delay: 300, cap: 500 };

fn wait(rule: Rule, t: Tally, now: UnixTime) -> i64 {
    if t.count + t.pending >= rule.cap {
        return t.oldest.map_or(WINDOW, |o| o + WINDOW - now).max(1);
    }
    if t.count < rule.free {
        return 0;
    }
    let exponent = u32::try_from((t.count - rule.free).min(20)).unwrap_or(20);
    let delay = 2i64.pow(exponent).min(rule.max_delay);
    // Times are whole seconds: a failure stamped `n` happened somewhere in [n, n+1),
    // so the delay runs from n+1 — otherwise a "1 s" wait could end after a few ms.
    t.newest.map_or(0, |n| n + 1 + delay - now).max(0)
}

/// Seconds the client must wait before this attempt may be checked, or `None`.
pub fn retry_after(t: &Tallies, now: UnixTime) -> Option<i64> {
    let account_wait = if t.known_address {
        let hard_cap = Rule { free: i64::MAX, max_delay: 0, cap: ACCOUNT_CAP };
        wait(KNOWN_PAIR, t.pair, now).max(wait(hard_cap, t.account, now))
    } else {
        wait(ACCOUNT, t.account, now)
    };
    let w = account_wait.max(wait(ADDRESS, t.address, now));
    (w > 0).then_some(w)
}

/// The address key: IPv4 as is, IPv6 by its /64 (one subscriber's whole network).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tally(count: i64, oldest: i64, newest: i64) -> Tally {
        Tally { count, pending: 0, oldest: Some(oldest), newest: Some(newest) }
    }

    #[test]
    fn first_failures_are_free() {
        let t = Tallies { account: tally(4, 0, 100), ..Default::default() };
        assert_eq!(retry_after(&t, 100), None);
    }

    #[test]
    fn delays_double_and_are_capped() {
        let at = |n| Tallies { account: tally(n, 0, 1000), ..Default::default() };
        assert_eq!(retry_after(&at(5), 1000), Some(2));
        assert_eq!(retry_after(&at(6), 1000), Some(3));
        assert_eq!(retry_after(&at(8), 1000), Some(9));
        assert_eq!(retry_after(&at(30), 1000), Some(61));
        assert_eq!(retry_after(&at(30), 1031), Some(30));
        assert_eq!(retry_after(&at(30), 1061), None, "waited out");
    }

    #[test]
    fn a_delay_is_never_shorter_than_promised_despite_whole_second_stamps() {
        // The failure happened at 1000.999 (stamped 1000); the check runs at 1001.001.
        // Only 2 ms passed, so the 1 s delay must still hold.
        let t = Tallies { account: tally(5, 0, 1000), ..Default::default() };
        assert_eq!(retry_after(&t, 1001), Some(1));
        assert_eq!(retry_after(&t, 1002), None);
    }

    #[test]
    fn the_hourly_cap_holds_until_the_window_clears() {
        let t = Tallies { account: tally(ACCOUNT_CAP, 1000, 4000), ..Default::default() };
        assert_eq!(retry_after(&t, 4100), Some(1000 + WINDOW - 4100));
        let known = Tallies { known_address: true, ..t };
        assert_eq!(retry_after(&known, 4100), Some(1000 + WINDOW - 4100), "even from a known address");
    }

    #[test]
    fn pending_attempts_count_towards_the_cap_but_not_the_delay() {
        let busy = Tally { pending: 10, ..tally(3, 0, 100) };
        assert_eq!(retry_after(&Tallies { account: busy, ..Default::default() }, 100), None);
        let full = Tally { pending: 2, ..tally(ACCOUNT_CAP - 2, 0, 100) };
        assert!(retry_after(&Tallies { account: full, known_address: true, ..Default::default() }, 100).is_some());
    }

    #[test]
    fn a_known_address_ignores_failures_from_elsewhere() {
        let flood = Tallies { account: tally(60, 0, 1000), known_address: true, ..Default::default() };
        assert_eq!(retry_after(&flood, 1000), None);
        let unknown = Tallies { known_address: false, ..flood };
        assert_eq!(retry_after(&unknown, 1000), Some(61));
        let own_failures = Tallies { pair: tally(7, 900, 1000), ..flood };
        assert_eq!(retry_after(&own_failures, 1000), Some(5));
    }

    #[test]
    fn one_address_spraying_many_accounts_is_slowed() {
        let t = Tallies { address: tally(25, 0, 1000), ..Default::default() };
        assert_eq!(retry_after(&t, 1000), Some(33));
        let capped = Tallies { address: tally(500, 100, 1000), ..Default::default() };
        assert_eq!(retry_after(&capped, 1000), Some(100 + WINDOW - 1000));
    }

    #[test]
    fn ipv6_is_grouped_by_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
        assert_eq!(address_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
