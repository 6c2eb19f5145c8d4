//! App passwords: generating and recognising the `XXXXXX-XXXXXX-XXXXXX-XXXXXC` secrets
//! that apps without 2FA use instead of the account password (docs/design.md, "App passwords").

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use super::fields::{self, APP_NAME_MAX};

/// Length of an app password in bytes (and characters): 26 + 1 checksum character.
pub const APP_PASSWORD_LEN: usize = 27;

/// The name of an app password (or an access token): 1 to [`APP_NAME_MAX`] characters
/// after trimming, no control characters. `None` when refused.
pub fn parse_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    let ok = !name.is_empty() && fields::length(name) <= APP_NAME_MAX && !name.chars().any(char::is_control);
    ok.then(|| name.to_owned())
}

/// Byte positions of the dashes that split the password into groups of six.
const DASH_POSITIONS: [usize; 3] = [6, 13, 20];

/// The base62 alphabet, in PhotoPrism's order (`a-z`, `A-Z`, `0-9`), so a checksum
/// computed here matches one computed by PhotoPrism's `checksum.Char`.
const BASE62: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Random bytes at or above this value are rejected: 248 = 4 × 62, so the accepted
/// range maps onto the alphabet exactly four times and every character is equally likely.
const REJECT_FROM: u8 = 248;

/// A freshly generated app password.
///
/// It is shown to the user once and then stored only as a SHA-256 hash, so this type
/// never prints its secret (`Debug` redacts it) and wipes its memory when dropped. It is
/// deliberately not `Clone`, to keep the number of copies of the secret at one.
pub struct AppPassword {
    secret: String,
}

impl AppPassword {
    /// Generates a new app password from the operating system's random number generator.
    ///
    /// 23 uniformly random base62 characters give about 137 bits of entropy; the last
    /// character is a checksum so typos can be told apart from wrong passwords without a
    /// database lookup. Fails only if the OS cannot provide randomness.
    pub fn generate() -> Result<AppPassword, getrandom::Error> {
        Self::generate_from(getrandom::fill)
    }

    /// Generates from any source of random bytes; the seam that lets tests check the
    /// rejection sampling with known bytes.
    fn generate_from<E>(mut fill: impl FnMut(&mut [u8]) -> Result<(), E>) -> Result<AppPassword, E> {
        // Built in place, so an early return still wipes a half-made secret on drop.
        let mut password = AppPassword { secret: String::with_capacity(APP_PASSWORD_LEN) };
        let mut pool = Zeroizing::new([0u8; 32]);
        while password.secret.len() < APP_PASSWORD_LEN - 1 {
            fill(pool.as_mut_slice())?;
            for &byte in pool.iter().filter(|&&byte| byte < REJECT_FROM) {
                if DASH_POSITIONS.contains(&password.secret.len()) {
                    password.secret.push('-');
                }
                password.secret.push(char::from(BASE62[usize::from(byte % 62)]));
                if password.secret.len() == APP_PASSWORD_LEN - 1 {
                    break;
                }
            }
        }
        let check = checksum_char(password.secret.as_bytes());
        password.secret.push(char::from(check));
        Ok(password)
    }

    /// The password text, to show the user once and to hash for storage.
    pub fn as_str(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for AppPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppPassword").field("secret", &"<redacted>").finish()
    }
}

impl Drop for AppPassword {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// The checksum character of the first 26 characters (dashes included): the base62
/// character at CRC-32 (IEEE) mod 62, as PhotoPrism computes it.
fn checksum_char(body: &[u8]) -> u8 {
    let index = crc32fast::hash(body) % 62;
    // `index` is below 62, so it always fits and always indexes the alphabet.
    BASE62[index as usize]
}

/// Whether `s` has the exact shape of an app password and a valid checksum.
///
/// Lets a login surface (Basic auth, Bearer) tell an app password from an account
/// password or a session token before touching the database. A `true` says nothing about
/// whether the password exists or is still valid (an account password may even have this
/// shape by chance): the caller must still hash it and look it up. The checksum catches most typos, but one in 62 random changes still passes.
/// Safe on any input: the length is checked before anything else.
pub fn is_app_password(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != APP_PASSWORD_LEN {
        return false;
    }
    let Some((&check, body)) = bytes.split_last() else {
        return false;
    };
    let shape_ok = body
        .iter()
        .enumerate()
        .all(|(i, &c)| if DASH_POSITIONS.contains(&i) { c == b'-' } else { c.is_ascii_alphanumeric() });
    shape_ok && check.is_ascii_alphanumeric() && check == checksum_char(body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// PhotoPrism's documented example, a compatibility vector for alphabet and checksum.
    const PHOTOPRISM_EXAMPLE: &str = "OXiV72-wTtiL9-d04jO7-X7XP4p";
    /// Computed once by hand: CRC-32 of the first 26 characters is 1076020629, mod 62 = 27,
    /// and BASE62[27] = 'B'.
    const HAND_EXAMPLE: &str = "gate01-house2-AbCdEf-XyZ12B";

    fn replace_at(s: &str, i: usize, c: u8) -> String {
        let mut bytes = s.as_bytes().to_vec();
        bytes[i] = c;
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn generated_password_has_four_groups_of_six_base62_characters() {
        let password = AppPassword::generate().unwrap();
        let s = password.as_str();
        assert_eq!(s.len(), APP_PASSWORD_LEN);
        let groups: Vec<&str> = s.split('-').collect();
        assert_eq!(groups.len(), 4);
        for group in groups {
            assert_eq!(group.len(), 6);
            assert!(group.bytes().all(|c| BASE62.contains(&c)));
        }
    }

    #[test]
    fn generated_password_has_a_valid_checksum() {
        let password = AppPassword::generate().unwrap();
        assert!(is_app_password(password.as_str()), "{}", password.as_str());
    }

    #[test]
    fn checksum_rule_is_crc32_of_the_first_26_characters_mod_62() {
        let body = &HAND_EXAMPLE.as_bytes()[..26];
        let crc = crc32fast::hash(body);
        assert_eq!(crc, 1_076_020_629);
        assert_eq!(crc % 62, 27);
        assert_eq!(BASE62[27], b'B');
        assert_eq!(checksum_char(body), b'B');
        assert!(is_app_password(HAND_EXAMPLE));
    }

    #[test]
    fn photoprism_example_is_accepted() {
        assert!(is_app_password(PHOTOPRISM_EXAMPLE));
    }

    #[test]
    fn changing_any_single_character_is_detected() {
        for i in 0..APP_PASSWORD_LEN {
            let old = PHOTOPRISM_EXAMPLE.as_bytes()[i];
            let new = if old == b'-' {
                b'a'
            } else {
                let pos = BASE62.iter().position(|&c| c == old).unwrap();
                BASE62[(pos + 1) % 62]
            };
            let changed = replace_at(PHOTOPRISM_EXAMPLE, i, new);
            assert!(!is_app_password(&changed), "position {i}: {changed}");
        }
    }

    #[test]
    fn only_one_checksum_character_fits_and_other_typos_rarely_pass() {
        let valid_last: Vec<u8> =
            BASE62.iter().copied().filter(|&c| is_app_password(&replace_at(HAND_EXAMPLE, 26, c))).collect();
        assert_eq!(valid_last, vec![b'B']);

        // Every substitution at every random position: a 62-way checksum lets about one
        // in 62 through; allow twice that before calling the checksum broken.
        let mut tried = 0;
        let mut passed = 0;
        for i in (0..26).filter(|i| !DASH_POSITIONS.contains(i)) {
            for &c in BASE62.iter().filter(|&&c| c != HAND_EXAMPLE.as_bytes()[i]) {
                tried += 1;
                passed += usize::from(is_app_password(&replace_at(HAND_EXAMPLE, i, c)));
            }
        }
        assert_eq!(tried, 23 * 61);
        assert!(passed * 31 < tried, "{passed} of {tried} passed");
    }

    #[test]
    fn wrong_dash_positions_are_rejected_even_with_a_matching_checksum() {
        for body in [
            "OXiV7-2wTtiL9-d04jO7-X7XP4",
            "OXiV72w-TtiL9-d04jO7-X7XP4",
            "OXiV72-wTtiL9-d04jO7X-7XP4",
            "OXiV72 wTtiL9 d04jO7 X7XP4",
            "OXiV72_wTtiL9_d04jO7_X7XP4",
            "-OXiV72wTtiL9-d04jO7-X7XP4",
            "OXiV72wTtiL9d04jO7X7XP4abc",
        ] {
            let s = format!("{body}{}", char::from(checksum_char(body.as_bytes())));
            assert!(!is_app_password(&s), "{s}");
        }
        assert!(!is_app_password("OXiV72-wTtiL9-d04jO7-X7XP4-"));
    }

    #[test]
    fn case_matters() {
        assert!(!is_app_password(&PHOTOPRISM_EXAMPLE.to_lowercase()));
        assert!(!is_app_password(&PHOTOPRISM_EXAMPLE.to_uppercase()));
        for (i, c) in PHOTOPRISM_EXAMPLE.bytes().enumerate() {
            if c.is_ascii_alphabetic() {
                let flipped = replace_at(PHOTOPRISM_EXAMPLE, i, c ^ 0x20);
                assert!(!is_app_password(&flipped), "{flipped}");
            }
        }
    }

    #[test]
    fn unicode_empty_and_huge_inputs_are_rejected_without_panicking() {
        let huge = "a".repeat(10_000_000);
        for s in [
            "",
            "-",
            "OXiV72-wTtiL9-d04jO7-X7XPé",     // 26 characters but 27 bytes
            "OXiV72-wTtiL9-d04jO7-X7XP4é",    // one multi-byte character too many
            "ÖXiV72-wTtiL9-d04jO7-X7XP4p",    // a letter outside ASCII
            "OXiV72‐wTtiL9‐d04jO7‐X7XP4p",    // U+2010 hyphens
            "ＯＸｉＶ７２-ｗＴｔｉＬ９-ｄ０", // full-width letters
            "OXiV72-wTtiL9-d04jO7-X7XP4\u{0}",
            "🔑🔑🔑🔑🔑🔑-🔑",
            &huge,
        ] {
            assert!(!is_app_password(s), "{s:?}");
        }
    }

    #[test]
    fn ten_thousand_generated_passwords_are_valid_distinct_and_evenly_spread() {
        let mut seen = HashSet::new();
        let mut counts = [0u32; 62];
        for _ in 0..10_000 {
            let password = AppPassword::generate().unwrap();
            let s = password.as_str();
            assert!(is_app_password(s), "{s}");
            for c in s[..26].bytes().filter(|&c| c != b'-') {
                counts[BASE62.iter().position(|&b| b == c).unwrap()] += 1;
            }
            assert!(seen.insert(s.to_owned()), "duplicate {s}");
        }
        // 230,000 draws: about 3,710 per character with a standard deviation near 60.
        for (i, &n) in counts.iter().enumerate() {
            assert!((3_000..4_400).contains(&n), "{} drawn {n} times", BASE62[i]);
        }
    }

    #[test]
    fn rejection_sampling_skips_biased_bytes() {
        let mut calls = 0;
        let mut produced = 0usize;
        let password = AppPassword::generate_from(|buf: &mut [u8]| {
            calls += 1;
            for b in buf.iter_mut() {
                // First fill: only rejected bytes (248..=255). Then 0, 255, 1, 255, 2, ...
                *b = match (calls, produced % 2) {
                    (1, _) => 248 + (produced % 8) as u8,
                    (_, 0) => (produced / 2) as u8,
                    _ => 255,
                };
                produced += 1;
            }
            Ok::<(), ()>(())
        })
        .unwrap();
        // The first fill is discarded whole; the counter runs on, so the accepted
        // bytes are 16..=38, sixteen from the second fill and seven from the third.
        let s = password.as_str();
        assert_eq!(calls, 3);
        assert_eq!(&s[..26], "qrstuv-wxyzAB-CDEFGH-IJKLM");
        assert!(is_app_password(s));
    }

    #[test]
    fn bytes_below_the_cutoff_map_onto_the_whole_alphabet() {
        let password = AppPassword::generate_from(|buf: &mut [u8]| {
            buf.fill(247);
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(&password.as_str()[..26], "999999-999999-999999-99999");
    }

    #[test]
    fn random_source_errors_are_passed_on() {
        let result = AppPassword::generate_from(|_: &mut [u8]| Err("no entropy"));
        assert_eq!(result.err(), Some("no entropy"));
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let password = AppPassword::generate().unwrap();
        let printed = format!("{password:?}");
        assert!(!printed.contains(password.as_str()));
        assert!(printed.contains("redacted"));
    }
}
