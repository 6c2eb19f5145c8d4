//! Brute-force limits: whether an attempt may be checked now, or how long it must wait.
//!
//! Every attempt is judged in one of three lanes, chosen before anything costly is done:
//!
//! - **device**: the request carries this account's device cookie (OWASP's "device
//!   cookies" against lockout): a random id the server gave the owner's browser at a
//!   complete login, stored hashed. Only what was tried with that device since its
//!   last complete login counts, under a small rule of its own ([`DEVICE`]): a stolen
//!   cookie can guess little, and nobody else's guessing touches it.
//! - **known address**: the account logged in completely from this address (IPv6 by
//!   /64) within [`KNOWN_ADDRESS_MEMORY`]. Only this address's attempts on this
//!   account since its last complete login there count ([`KNOWN`]).
//! - **stranger**: everything else. Strangers share one count per account
//!   ([`STRANGER`], at most [`ACCOUNT_CAP`] an hour) and one per address across
//!   accounts ([`ADDRESS`], against spraying).
//!
//! Neither the device nor the known-address lane is subject to the account-wide hourly
//! cap: a flood from strangers cannot take the owner's way in.
//!
//! What counts, within the lane and the last [`WINDOW`]: a wrong password or code, and
//! an attempt still being checked (in flight: a burst sent at once meets the same
//! delays as one sent in sequence). For strangers, the right password without the
//! second factor counts too, *on the same channel* (JSON login or HTTP Basic): each
//! costs a hash, so someone who has the password but not the code is slowed like a
//! guesser. It never counts in the device or known-address lane (the owner's own
//! first step, or their sync app at home), and a sync app that keeps sending the
//! stale password over Basic from anywhere (PhotoPrism #5225) only slows that app:
//! the web login does not see those attempts.

use std::net::IpAddr;

use crate::clock::UnixTime;

/// The counting window, seconds.
pub const WINDOW: i64 = 3600;
/// How long a successful login makes an address "known" for that account, seconds.
pub const KNOWN_ADDRESS_MEMORY: i64 = 30 * 86_400;
/// At most this many counted attempts per account per hour from strangers.
pub const ACCOUNT_CAP: i64 = 100;
/// A pending attempt older than this no longer counts (its request died), seconds.
pub const PENDING_TTL: i64 = 300;

/// Where an attempt is judged. The numbers are stored with each attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Stranger = 0,
    KnownAddress = 1,
    Device = 2,
}

/// How the credentials came: the right password without the code counts only against
/// attempts of the same channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The JSON login (and the passkey ceremonies that start with the password).
    Login = 0,
    /// HTTP Basic (WebDAV, sync apps).
    Basic = 1,
}

/// Counted attempts for one key over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Failures and attempts in flight (for strangers also same-channel
    /// right-password-without-code).
    pub count: i64,
    pub oldest: Option<UnixTime>,
    pub newest: Option<UnixTime>,
}

/// What the requester presented that is checked before any hashing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// A device cookie bound to this account.
    pub device: bool,
    /// A complete login to this account from this address recently.
    pub known_address: bool,
}

/// Everything a decision needs about one attempt's history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tallies {
    /// This device on this account, since its last complete login.
    pub device: Tally,
    /// This address on this account (known-address lane), since its last complete login.
    pub pair: Tally,
    /// Strangers on this account.
    pub account: Tally,
    /// Strangers from this address, on any account.
    pub address: Tally,
}

/// The verdict on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Check it, and record it in this lane.
    Check(Lane),
    /// Refuse it unchecked; the client may retry after this many seconds.
    Wait(i64),
}

/// A growing-delay rule: `free` attempts cost nothing, then the wait doubles per
/// attempt up to `max_delay`; at `cap` the key waits for the window to clear.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub free: i64,
    pub max_delay: i64,
    pub cap: i64,
}

/// The owner's browser: a few slips are free, a stolen cookie buys 10 guesses an hour.
pub const DEVICE: Rule = Rule { free: 5, max_delay: 60, cap: 10 };
/// A known address: more room than a device (a household shares it), still small.
pub const KNOWN: Rule = Rule { free: 5, max_delay: 300, cap: 30 };
/// Strangers on one account.
pub const STRANGER: Rule = Rule { free: 5, max_delay: 60, cap: ACCOUNT_CAP };
/// Strangers from one address over every account.
pub const ADDRESS: Rule = Rule { free: 20, max_delay: 300, cap: 500 };

fn wait(rule: Rule, t: Tally, now: UnixTime) -> i64 {
    if t.count >= rule.cap {
        return t.oldest.map_or(WINDOW, |o| o + WINDOW - now).max(1);
    }
    if t.count < rule.free {
        return 0;
    }
    let exponent = u32::try_from((t.count - rule.free).min(20)).unwrap_or(20);
    let delay = 2i64.pow(exponent).min(rule.max_delay);
    // Times are whole seconds: an attempt stamped `n` happened somewhere in [n, n+1),
    // so the delay runs from n+1 — otherwise a "1 s" wait could end after a few ms.
    t.newest.map_or(0, |n| n + 1 + delay - now).max(0)
}

/// The one throttle decision: which lane judges the attempt, and whether it may be
/// checked now.
pub fn decide(standing: Standing, t: &Tallies, now: UnixTime) -> Decision {
    let (lane, w) = if standing.device {
        (Lane::Device, wait(DEVICE, t.device, now))
    } else if standing.known_address {
        (Lane::KnownAddress, wait(KNOWN, t.pair, now))
    } else {
        (Lane::Stranger, wait(STRANGER, t.account, now).max(wait(ADDRESS, t.address, now)))
    };
    if w > 0 { Decision::Wait(w) } else { Decision::Check(lane) }
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
        Tally { count, oldest: Some(oldest), newest: Some(newest) }
    }

    const STRANGER_AT: Standing = Standing { device: false, known_address: false };
    const KNOWN_AT: Standing = Standing { device: false, known_address: true };
    const DEVICE_AT: Standing = Standing { device: true, known_address: false };

    fn strangers(n: i64, newest: i64) -> Tallies {
        Tallies { account: tally(n, 0, newest), ..Default::default() }
    }

    #[test]
    fn first_attempts_are_free() {
        assert_eq!(decide(STRANGER_AT, &strangers(4, 100), 100), Decision::Check(Lane::Stranger));
    }

    #[test]
    fn delays_double_and_are_capped() {
        let at = |n| strangers(n, 1000);
        assert_eq!(decide(STRANGER_AT, &at(5), 1000), Decision::Wait(2));
        assert_eq!(decide(STRANGER_AT, &at(6), 1000), Decision::Wait(3));
        assert_eq!(decide(STRANGER_AT, &at(8), 1000), Decision::Wait(9));
        assert_eq!(decide(STRANGER_AT, &at(30), 1000), Decision::Wait(61));
        assert_eq!(decide(STRANGER_AT, &at(30), 1031), Decision::Wait(30));
        assert_eq!(decide(STRANGER_AT, &at(30), 1061), Decision::Check(Lane::Stranger), "waited out");
    }

    #[test]
    fn a_delay_is_never_shorter_than_promised_despite_whole_second_stamps() {
        // The failure happened at 1000.999 (stamped 1000); the check runs at 1001.001.
        assert_eq!(decide(STRANGER_AT, &strangers(5, 1000), 1001), Decision::Wait(1));
        assert_eq!(decide(STRANGER_AT, &strangers(5, 1000), 1002), Decision::Check(Lane::Stranger));
    }

    #[test]
    fn the_hourly_cap_holds_for_strangers_until_the_window_clears() {
        let t = Tallies { account: tally(ACCOUNT_CAP, 1000, 4000), ..Default::default() };
        assert_eq!(decide(STRANGER_AT, &t, 4100), Decision::Wait(1000 + WINDOW - 4100));
    }

    /// The table: a flood that filled the strangers' cap and the address's rule, seen
    /// from each standing.
    #[test]
    fn the_owner_is_judged_apart_from_a_flood() {
        let flood =
            Tallies { account: tally(ACCOUNT_CAP, 1000, 4000), address: tally(500, 1000, 4000), ..Default::default() };
        assert!(matches!(decide(STRANGER_AT, &flood, 4100), Decision::Wait(_)));
        assert_eq!(decide(KNOWN_AT, &flood, 4100), Decision::Check(Lane::KnownAddress));
        assert_eq!(decide(DEVICE_AT, &flood, 4100), Decision::Check(Lane::Device));
        let both = Standing { device: true, known_address: true };
        assert_eq!(decide(both, &flood, 4100), Decision::Check(Lane::Device), "the device decides");
    }

    #[test]
    fn each_lane_has_its_own_smaller_rule() {
        // A known address: its own slips give growing delays, and 30 an hour at most.
        let own = Tallies { pair: tally(7, 900, 1000), ..Default::default() };
        assert_eq!(decide(KNOWN_AT, &own, 1000), Decision::Wait(5));
        let full = Tallies { pair: tally(KNOWN.cap, 900, 1000), ..Default::default() };
        assert_eq!(decide(KNOWN_AT, &full, 2000), Decision::Wait(900 + WINDOW - 2000));
        // A device: 10 an hour at most, so a stolen cookie guesses little.
        let stolen = Tallies { device: tally(DEVICE.cap, 900, 1000), ..Default::default() };
        assert_eq!(decide(DEVICE_AT, &stolen, 2000), Decision::Wait(900 + WINDOW - 2000));
        // …and the device's count does not hold back a different standing.
        assert_eq!(decide(KNOWN_AT, &stolen, 2000), Decision::Check(Lane::KnownAddress));
    }

    #[test]
    fn attempts_in_flight_count_like_finished_ones() {
        // Five in flight at the same second: the sixth waits as it would in sequence.
        assert_eq!(decide(STRANGER_AT, &strangers(5, 1000), 1000), Decision::Wait(2));
    }

    #[test]
    fn one_address_spraying_many_accounts_is_slowed() {
        let t = Tallies { address: tally(25, 0, 1000), ..Default::default() };
        assert_eq!(decide(STRANGER_AT, &t, 1000), Decision::Wait(33));
        let capped = Tallies { address: tally(500, 100, 1000), ..Default::default() };
        assert_eq!(decide(STRANGER_AT, &capped, 1000), Decision::Wait(100 + WINDOW - 1000));
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
