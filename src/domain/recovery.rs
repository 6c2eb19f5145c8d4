//! The one-time recovery code that turns 2FA off when the authenticator is lost
//! (docs/design.md, "Recovery code"): generation, input normalisation, and telling it apart
//! from a TOTP code in the login form's `code` field.
//!
//! Codes use [Crockford's base32] alphabet (no I, L, O or U), so what is read
//! aloud or copied from paper cannot be mistyped into another valid code.
//!
//! [Crockford's base32]: https://www.crockford.com/base32.html

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Crockford's base32 digits: 32 symbols, so one symbol carries 5 random bits.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Symbols per group and groups per code: 20 symbols × 5 bits = 100 bits of entropy.
const GROUP_LEN: usize = 4;
const GROUPS: usize = 5;
const SYMBOLS: usize = GROUP_LEN * GROUPS;

/// Entropy of a generated code in bits (docs/design.md asks for at least 80).
pub const ENTROPY_BITS: usize = SYMBOLS * 5;
const _: () = assert!(ENTROPY_BITS >= 80, "recovery codes need at least 80 bits");

/// A freshly generated recovery code, shown to the user once and then only kept as
/// a hash. Wiped from memory on drop and never printed by `Debug`.
pub struct RecoveryCode {
    text: String,
}

impl RecoveryCode {
    /// A new code of [`ENTROPY_BITS`] random bits from the OS random number generator,
    /// written as five groups of four symbols, e.g. `K7QX-3MZT-0A9H-VW2C-8RNE`.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut random = [0u8; SYMBOLS];
        getrandom::fill(&mut random)?;
        // The low five bits of a uniform byte are uniform over the 32 symbols.
        let mut symbols: Vec<u8> = random.iter().map(|b| ALPHABET[usize::from(b & 0x1f)]).collect();
        let text = group(&symbols);
        random.zeroize();
        symbols.zeroize();
        Ok(Self { text })
    }

    /// The code in its display form, which is also its canonical form:
    /// `normalize_recovery_code(code.as_str())` returns the same string, so either
    /// may be hashed.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

impl Drop for RecoveryCode {
    fn drop(&mut self) {
        self.text.zeroize();
    }
}

impl ZeroizeOnDrop for RecoveryCode {}

/// Joins ASCII symbols into groups of [`GROUP_LEN`] separated by '-'.
fn group(symbols: &[u8]) -> String {
    let mut text = String::with_capacity(symbols.len() + symbols.len() / GROUP_LEN);
    for (i, &symbol) in symbols.iter().enumerate() {
        if i > 0 && i % GROUP_LEN == 0 {
            text.push('-');
        }
        text.push(char::from(symbol));
    }
    text
}

/// Characters people put between groups when typing or pasting a code.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '_' | '.' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// The Crockford symbol a typed character stands for, mapping the look-alikes
/// O→0 and I/L→1; `None` for anything else (including U).
fn decode_symbol(c: char) -> Option<u8> {
    let upper = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    u8::try_from(upper).ok().filter(|b| ALPHABET.contains(b))
}

/// Turns what a user typed into the canonical form that is hashed and compared
/// (upper case, grouped like [`RecoveryCode::as_str`]), ignoring case, whitespace
/// and the separators `-`, `_`, `.`; `None` if it cannot be a recovery code.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    let mut symbols = Vec::with_capacity(SYMBOLS);
    for c in input.chars().filter(|&c| !is_separator(c)) {
        if symbols.len() == SYMBOLS {
            symbols.zeroize();
            return None;
        }
        match decode_symbol(c) {
            Some(symbol) => symbols.push(symbol),
            None => {
                symbols.zeroize();
                return None;
            }
        }
    }
    let canonical = (symbols.len() == SYMBOLS).then(|| group(&symbols));
    symbols.zeroize();
    canonical
}

/// Whether the login form's `code` holds a TOTP code (6 or 8 ASCII digits once
/// whitespace is removed) rather than a recovery code.
pub fn looks_like_totp_code(input: &str) -> bool {
    let mut digits = 0usize;
    for c in input.chars().filter(|c| !c.is_whitespace()) {
        if !c.is_ascii_digit() {
            return false;
        }
        digits += 1;
    }
    matches!(digits, 6 | 8)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generated_codes_are_five_groups_of_four_alphabet_symbols() {
        let code = RecoveryCode::generate().unwrap();
        let groups: Vec<&str> = code.as_str().split('-').collect();
        assert_eq!(groups.len(), 5, "{}", code.as_str());
        for g in groups {
            assert_eq!(g.len(), 4);
            assert!(g.bytes().all(|b| ALPHABET.contains(&b)));
        }
        assert_eq!(code.as_str().len(), 24);
    }

    #[test]
    fn codes_carry_at_least_100_bits() {
        assert_eq!(ALPHABET.len(), 32);
        assert_eq!(ENTROPY_BITS, 100);
        for ambiguous in [b'I', b'L', b'O', b'U'] {
            assert!(!ALPHABET.contains(&ambiguous));
        }
    }

    #[test]
    fn normalisation_ignores_case_spaces_and_separators() {
        let canonical = "K7QX-3MZT-0A9H-VW2C-8RNE";
        for typed in [
            canonical,
            "k7qx-3mzt-0a9h-vw2c-8rne",
            "K7QX3MZT0A9HVW2C8RNE",
            " k7qx 3mzt 0a9h vw2c 8rne ",
            "K7QX_3MZT.0A9H\t-VW2C–8RNE\n",
            "K7QX-3MZT-oA9H-VW2C-8RNE",
        ] {
            assert_eq!(normalize_recovery_code(typed).as_deref(), Some(canonical), "{typed:?}");
        }
        assert_eq!(normalize_recovery_code("ilIL-0000-0000-0000-0000").as_deref(), Some("1111-0000-0000-0000-0000"));
    }

    #[test]
    fn junk_is_rejected_without_panicking() {
        for junk in [
            "",
            "123456",
            "12345678",
            "K7QX-3MZT-0A9H-VW2C-8RN",
            "K7QX-3MZT-0A9H-VW2C-8RNE-A",
            "K7QU-3MZT-0A9H-VW2C-8RNE",
            "K7Q!-3MZT-0A9H-VW2C-8RNE",
            "K7QÉ-3MZT-0A9H-VW2C-8RNE",
            "Ｋ7QX-3MZT-0A9H-VW2C-8RNE",
            "😀😀😀😀-😀😀😀😀-😀😀😀😀-😀😀😀😀-😀😀😀😀",
            "\u{0}\u{feff}\u{202e}ABCD",
        ] {
            assert_eq!(normalize_recovery_code(junk), None, "{junk:?}");
        }
        assert_eq!(normalize_recovery_code(&"A".repeat(100_000)), None);
    }

    #[test]
    fn generated_codes_normalise_to_themselves() {
        for _ in 0..100 {
            let code = RecoveryCode::generate().unwrap();
            assert_eq!(normalize_recovery_code(code.as_str()).as_deref(), Some(code.as_str()));
            let sloppy = code.as_str().to_lowercase().replace('-', " ");
            assert_eq!(normalize_recovery_code(&sloppy).as_deref(), Some(code.as_str()));
            assert!(!looks_like_totp_code(code.as_str()));
        }
    }

    #[test]
    fn thousands_of_codes_are_all_different() {
        let codes: HashSet<String> = (0..5000).map(|_| RecoveryCode::generate().unwrap().as_str().to_owned()).collect();
        assert_eq!(codes.len(), 5000);
    }

    #[test]
    fn debug_is_redacted() {
        let code = RecoveryCode::generate().unwrap();
        let shown = format!("{code:?}");
        assert!(!shown.contains(code.as_str()));
        assert!(!shown.contains(&code.as_str()[..4]));
    }

    #[test]
    fn totp_codes_are_recognised() {
        for yes in ["123456", "12345678", "123 456", " 1234 5678 ", "000000"] {
            assert!(looks_like_totp_code(yes), "{yes:?}");
        }
        for no in ["", "12345", "1234567", "123456789", "12345a", "１２３４５６", "٢٨٧٠٨٢", "123-456"] {
            assert!(!looks_like_totp_code(no), "{no:?}");
        }
    }
}
