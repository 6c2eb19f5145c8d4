//! One-time passcodes: HOTP ([RFC 4226]) and TOTP ([RFC 6238]) secrets, codes,
//! replay-safe verification and the `otpauth://` setup URI (docs/design.md, "Enable 2FA").
//!
//! Pure logic: the only I/O is the OS random number generator in
//! [`TotpSecret::generate`]; time is always passed in as Unix seconds.
//!
//! [RFC 4226]: https://www.rfc-editor.org/rfc/rfc4226
//! [RFC 6238]: https://www.rfc-editor.org/rfc/rfc6238

use std::fmt;

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a freshly generated secret: 160 bits, the size RFC 4226 §4 recommends.
pub const SECRET_LEN: usize = 20;

/// Largest accepted skew, so a misconfigured window cannot accept most codes.
pub const MAX_SKEW: u64 = 10;

/// The HMAC hash function behind the codes (RFC 6238 §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// HMAC-SHA-1: what every authenticator app supports, and what gatehouse issues.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in the `algorithm=` parameter of an `otpauth://` URI.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

/// How codes are derived and how much clock drift verification tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpParams {
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// Code length; only 6 and 8 are valid.
    pub digits: u32,
    /// Length of one time step in seconds (`X` in RFC 6238); must be non-zero.
    pub period: u64,
    /// Steps accepted either side of the current one (RFC 6238 §5.2), at most [`MAX_SKEW`].
    pub skew: u64,
}

impl Default for TotpParams {
    /// SHA-1, 6 digits, 30 s, ±1 step: what authenticator apps assume (docs/design.md, "Enable 2FA").
    fn default() -> Self {
        Self { algorithm: Algorithm::Sha1, digits: 6, period: 30, skew: 1 }
    }
}

impl TotpParams {
    /// Whether these parameters may be used to verify codes; [`verify`] rejects every code otherwise.
    pub fn is_valid(&self) -> bool {
        matches!(self.digits, 6 | 8) && self.period > 0 && self.skew <= MAX_SKEW
    }
}

/// The shared TOTP key. Wiped from memory on drop and never printed by `Debug`;
/// deliberately not `PartialEq`, so secrets are not compared in variable time.
#[derive(Clone)]
pub struct TotpSecret {
    bytes: Vec<u8>,
}

impl TotpSecret {
    /// A new random [`SECRET_LEN`]-byte secret from the OS random number generator.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = vec![0u8; SECRET_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self { bytes })
    }

    /// Wraps existing key material, e.g. a secret decrypted from the store.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The raw key, for encrypting it at rest.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The setup key: RFC 4648 base32, upper case, without `=` padding.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.bytes)
    }

    /// The setup key in groups of four separated by single spaces ("ABCD EFGH …"),
    /// which is easier to type into an authenticator app.
    pub fn grouped_base32(&self) -> String {
        let plain = self.to_base32();
        let mut grouped = String::with_capacity(plain.len() + plain.len() / 4);
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                grouped.push(' ');
            }
            grouped.push(c);
        }
        grouped
    }

    /// Reads a setup key, ignoring case, whitespace, dashes and trailing `=` padding;
    /// `None` if it is empty or not base32.
    pub fn parse_base32(input: &str) -> Option<Self> {
        let mut cleaned: String =
            input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        let trimmed_len = cleaned.trim_end_matches('=').len();
        cleaned.truncate(trimmed_len);
        let decoded = BASE32_NOPAD.decode(cleaned.as_bytes());
        cleaned.zeroize();
        let bytes = decoded.ok().filter(|bytes| !bytes.is_empty())?;
        Some(Self { bytes })
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpSecret").field("len", &self.bytes.len()).finish_non_exhaustive()
    }
}

impl Drop for TotpSecret {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for TotpSecret {}

/// HMAC of `message` under `key`; `None` only if the MAC rejected the key length,
/// which HMAC never does (it accepts keys of any length).
fn hmac_bytes(key: &[u8], message: &[u8], algorithm: Algorithm) -> Option<Vec<u8>> {
    fn run<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Option<Vec<u8>> {
        let mut mac = <M as KeyInit>::new_from_slice(key).ok()?;
        mac.update(message);
        Some(mac.finalize().into_bytes().to_vec())
    }
    match algorithm {
        Algorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, message),
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, message),
        Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(key, message),
    }
}

/// The HOTP value for `counter` (RFC 4226 §5.3, dynamic truncation), reduced to
/// `digits` decimal digits.
///
/// Should the HMAC ever fail, this returns `u32::MAX`: ten digits long, so it can
/// never equal a valid 6- or 8-digit code and [`verify`] rejects it.
pub fn hotp(secret: &[u8], counter: u64, algorithm: Algorithm, digits: u32) -> u32 {
    let Some(mac) = hmac_bytes(secret, &counter.to_be_bytes(), algorithm) else {
        return u32::MAX;
    };
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let Some(&[b0, b1, b2, b3]) = mac.get(offset..offset + 4) else {
        return u32::MAX;
    };
    let binary = u32::from_be_bytes([b0 & 0x7f, b1, b2, b3]);
    10u32.checked_pow(digits).map_or(binary, |modulus| binary % modulus)
}

/// The time step containing `unix_time` (RFC 6238 §4.2, with `T0` = 0).
/// A zero period (invalid) yields step 0.
pub fn step_at(params: &TotpParams, unix_time: u64) -> u64 {
    unix_time.checked_div(params.period).unwrap_or(0)
}

/// The code for one time step, zero-padded to `params.digits`.
fn code_for_step(secret: &TotpSecret, params: &TotpParams, step: u64) -> String {
    let value = hotp(secret.as_bytes(), step, params.algorithm, params.digits);
    format!("{value:0width$}", width = params.digits as usize)
}

/// The code an authenticator shows at `unix_time`, zero-padded to `params.digits`.
pub fn code_at(secret: &TotpSecret, params: &TotpParams, unix_time: u64) -> String {
    code_for_step(secret, params, step_at(params, unix_time))
}

/// Removes spaces from a submitted code and checks it is exactly `digits` ASCII digits.
fn clean_code(code: &str, digits: u32) -> Option<String> {
    let cleaned: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let right_length = cleaned.len() == digits as usize;
    (right_length && cleaned.bytes().all(|b| b.is_ascii_digit())).then_some(cleaned)
}

/// Checks `code` against the steps within ±`params.skew` of `unix_time`'s step and
/// returns the step it matched, to be stored as the new `last_used_step`.
///
/// A step at or before `last_used_step` is never accepted, so a code works only once
/// (RFC 6238 §5.2). Every step in the window is compared in constant time, without
/// stopping early; if a code matches several fresh steps the latest is returned.
/// Invalid parameters, an empty secret or a malformed code are always rejected.
pub fn verify(
    secret: &TotpSecret,
    params: &TotpParams,
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    if !params.is_valid() || secret.as_bytes().is_empty() {
        return None;
    }
    let submitted = clean_code(code, params.digits)?;
    let now = step_at(params, unix_time);
    let mut matched = None;
    for step in now.saturating_sub(params.skew)..=now.saturating_add(params.skew) {
        let expected = code_for_step(secret, params, step);
        let equal = bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()));
        let fresh = last_used_step.is_none_or(|used| step > used);
        if equal && fresh {
            matched = Some(step);
        }
    }
    matched
}

/// Percent-encodes everything except RFC 3986 unreserved characters (`A-Za-z0-9-._~`).
fn percent_encode(input: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// The `otpauth://totp/…` URI an authenticator app scans (Key Uri Format), with the
/// issuer and account percent-encoded so a ':' or space cannot confuse the label.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret, params: &TotpParams) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm={algorithm}&digits={digits}&period={period}",
        account = percent_encode(account),
        secret = secret.to_base32(),
        algorithm = params.algorithm.name(),
        digits = params.digits,
        period = params.period,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const SEED20: &[u8] = b"12345678901234567890";
    const SEED32: &[u8] = b"12345678901234567890123456789012";
    const SEED64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";
    const KEY20: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    /// RFC 6238 Appendix B: (time, SHA-1, SHA-256, SHA-512), 8 digits each.
    const RFC6238: [(u64, u32, u32, u32); 6] = [
        (59, 94287082, 46119246, 90693936),
        (1111111109, 7081804, 68084774, 25091201),
        (1111111111, 14050471, 67062674, 99943326),
        (1234567890, 89005924, 91819424, 93441116),
        (2000000000, 69279037, 90698825, 38618901),
        (20000000000, 65353130, 77737706, 47863826),
    ];

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(SEED20.to_vec())
    }

    fn params(algorithm: Algorithm, digits: u32, period: u64, skew: u64) -> TotpParams {
        TotpParams { algorithm, digits, period, skew }
    }

    /// `verify` with the RFC seed and the default parameters.
    fn check(code: &str, now: u64, last: Option<u64>) -> Option<u64> {
        verify(&rfc_secret(), &TotpParams::default(), code, now, last)
    }

    fn code_for(step: u64) -> String {
        code_for_step(&rfc_secret(), &TotpParams::default(), step)
    }

    #[test]
    fn hotp_matches_every_rfc4226_appendix_d_value() {
        let expected = [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489];
        for (counter, want) in (0u64..).zip(expected) {
            assert_eq!(hotp(SEED20, counter, Algorithm::Sha1, 6), want, "{counter}");
        }
    }

    #[test]
    fn totp_matches_every_rfc6238_appendix_b_vector() {
        use Algorithm::{Sha1, Sha256, Sha512};
        for (time, sha1, sha256, sha512) in RFC6238 {
            let cases = [(Sha1, SEED20, sha1), (Sha256, SEED32, sha256), (Sha512, SEED64, sha512)];
            for (algorithm, seed, want) in cases {
                let secret = TotpSecret::from_bytes(seed.to_vec());
                let p = params(algorithm, 8, 30, 1);
                let want = format!("{want:08}");
                assert_eq!(code_at(&secret, &p, time), want, "{algorithm:?} {time}");
                assert_eq!(verify(&secret, &p, &want, time, None), Some(time / 30));
            }
        }
    }

    #[test]
    fn six_digit_codes_are_the_low_digits_zero_padded() {
        let p = TotpParams::default();
        assert_eq!(code_at(&rfc_secret(), &p, 59), "287082");
        assert_eq!(code_at(&rfc_secret(), &p, 1_111_111_109), "081804");
    }

    #[test]
    fn window_accepts_neighbouring_steps_and_rejects_two_away() {
        let now = 1_111_111_111;
        let step = now / 30;
        assert_eq!(check(&code_for(step - 2), now, None), None);
        assert_eq!(check(&code_for(step - 1), now, None), Some(step - 1));
        assert_eq!(check(&code_for(step), now, None), Some(step));
        assert_eq!(check(&code_for(step + 1), now, None), Some(step + 1));
        assert_eq!(check(&code_for(step + 2), now, None), None);
    }

    #[test]
    fn a_used_step_and_earlier_steps_are_refused() {
        let now = 1_234_567_890;
        let step = now / 30;
        assert_eq!(check(&code_for(step), now, Some(step - 1)), Some(step));
        assert_eq!(check(&code_for(step), now, Some(step)), None);
        assert_eq!(check(&code_for(step - 1), now, Some(step)), None);
        assert_eq!(check(&code_for(step - 1), now, Some(step - 1)), None);
        assert_eq!(check(&code_for(step + 1), now, Some(step)), Some(step + 1));
    }

    #[test]
    fn malformed_codes_are_rejected_and_spaces_are_ignored() {
        assert_eq!(check("287 082", 59, None), Some(1));
        assert_eq!(check(" 287082\t", 59, None), Some(1));
        for code in ["", "28708", "2870822", "28708a", "abcdef", "-28708"] {
            assert_eq!(check(code, 59, None), None, "{code:?}");
        }
        for unicode_digits in ["２８７０８２", "٢٨٧٠٨٢", "287082\u{200b}"] {
            assert_eq!(check(unicode_digits, 59, None), None, "{unicode_digits:?}");
        }
        let (empty, p) = (TotpSecret::from_bytes(Vec::new()), TotpParams::default());
        assert!(verify(&empty, &p, &code_at(&empty, &p, 59), 59, None).is_none());
    }

    #[test]
    fn invalid_params_reject_every_code() {
        use Algorithm::Sha1;
        let invalid = [params(Sha1, 7, 30, 1), params(Sha1, 6, 0, 1), params(Sha1, 6, 30, 11)];
        for p in invalid {
            assert!(!p.is_valid());
            assert!(verify(&rfc_secret(), &p, &code_at(&rfc_secret(), &p, 59), 59, None).is_none());
        }
        assert!(params(Sha1, 8, 60, MAX_SKEW).is_valid());
        assert_eq!(hotp(SEED20, 0, Sha1, 20), hotp(SEED20, 0, Sha1, 10));
    }

    #[test]
    fn base32_round_trips_and_groups_by_four() {
        let secret = TotpSecret::generate().unwrap();
        assert_eq!(secret.as_bytes().len(), SECRET_LEN);
        let plain = secret.to_base32();
        assert_eq!(plain.len(), 32);
        assert!(plain.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        let grouped = secret.grouped_base32();
        assert!(grouped.split(' ').all(|g| g.len() == 4) && grouped.split(' ').count() == 8);
        assert_eq!(grouped.replace(' ', ""), plain);
        let messy = format!("  {}-", grouped.to_lowercase().replacen(' ', "-", 3));
        let parsed = TotpSecret::parse_base32(&messy).unwrap();
        assert_eq!(parsed.as_bytes(), secret.as_bytes());
        assert_eq!(rfc_secret().to_base32(), KEY20);
        let padded = TotpSecret::parse_base32(&format!("{KEY20}====")).unwrap();
        assert_eq!(padded.as_bytes(), SEED20);
        assert_eq!(TotpSecret::from_bytes(b"ab".to_vec()).grouped_base32(), "MFRA");
        for bad in [" - ", "GEZ1", "GEZDGNBV!", "A", "ÄÖÜ"] {
            assert!(TotpSecret::parse_base32(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let shown = format!("{:?}", rfc_secret());
        assert!(!shown.contains("1234") && !shown.contains("49,") && !shown.contains("GEZD"));
    }

    #[test]
    fn otpauth_uri_has_the_exact_spec_shape() {
        let (secret, p) = (rfc_secret(), TotpParams::default());
        let tail = "algorithm=SHA1&digits=6&period=30";
        assert_eq!(
            otpauth_uri("Gatehouse", "alice", &secret, &p),
            format!("otpauth://totp/Gatehouse:alice?secret={KEY20}&issuer=Gatehouse&{tail}")
        );
        assert_eq!(
            otpauth_uri("My Photos", "bob@example.com", &secret, &p),
            format!("otpauth://totp/My%20Photos:bob%40example.com?secret={KEY20}&issuer=My%20Photos&{tail}")
        );
        let odd = percent_encode("a:b/c?d&e=f~g_h.i-j Zoë");
        assert_eq!(odd, "a%3Ab%2Fc%3Fd%26e%3Df~g_h.i-j%20Zo%C3%AB");
    }
}
