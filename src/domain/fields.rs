//! The limits of every field a person types — usernames, display names, e-mail
//! addresses, passwords, app-password names — in one place. The parsers of
//! [`super::user`], [`super::password`] and [`super::app_password`] check them, and the
//! pages render the same numbers into their `maxlength`/`minlength`/`pattern`
//! attributes ([`FormRules`]), so a page never refuses a value the server accepts.
//!
//! Lengths are counted as browsers count `maxlength` and `minlength`: in UTF-16 code
//! units ([`length`]). For ASCII and most other text that is the number of characters;
//! a character outside the Basic Multilingual Plane (an emoji) counts twice, on both
//! sides alike.

use serde::Serialize;

/// Longest username.
pub const USERNAME_MAX: usize = 64;
/// The username's characters, as an HTML `pattern` (anchored by the browser): a letter
/// or digit, then letters, digits, `.`, `_`, `-` and `@`. ASCII only.
pub const USERNAME_PATTERN: &str = r"[A-Za-z0-9][A-Za-z0-9._@\-]*";
/// Longest display name (after trimming).
pub const NAME_MAX: usize = 200;
/// Longest e-mail address (after trimming).
pub const EMAIL_MAX: usize = 254;
/// Shortest and longest new password (ASVS 2.1.1 / 2.1.2).
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1024;
/// Longest name of an app password or access token (after trimming).
pub const APP_NAME_MAX: usize = 100;

/// The length of `s` as a browser's `maxlength` counts it.
pub fn length(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Whether `c` is a bidirectional control (embeddings, overrides, isolates, marks) or an
/// invisible, zero-width character. Such a character in a display name can make it
/// render as another name (`\u{202E}` turns "evil\u{202E}gpj.exe" around) or look
/// like someone else's while differing. Note that this refuses emoji joined with the
/// zero-width joiner (a family emoji) too.
pub fn deceptive_char(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{00AD}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Whether `c` may start a username or appear at its start.
pub fn username_first_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Whether `c` may appear in a username after the first character.
pub fn username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')
}

/// The rules as the templates read them (`rules.username_max`, …).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct FormRules {
    pub username_max: usize,
    pub username_pattern: &'static str,
    pub name_max: usize,
    pub email_max: usize,
    pub password_min: usize,
    pub password_max: usize,
    pub app_name_max: usize,
}

/// The one set of rules.
pub const RULES: FormRules = FormRules {
    username_max: USERNAME_MAX,
    username_pattern: USERNAME_PATTERN,
    name_max: NAME_MAX,
    email_max: EMAIL_MAX,
    password_min: PASSWORD_MIN,
    password_max: PASSWORD_MAX,
    app_name_max: APP_NAME_MAX,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidirectional_and_invisible_characters_are_named() {
        for c in ['\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200B}', '\u{200D}', '\u{FEFF}', '\u{200F}'] {
            assert!(deceptive_char(c), "{:04X}", u32::from(c));
        }
        for c in ['a', 'é', '日', ' ', '-', '\u{05D0}', '😀'] {
            assert!(!deceptive_char(c), "{c}");
        }
    }

    #[test]
    fn length_counts_like_a_browser() {
        assert_eq!(length("abc"), 3);
        assert_eq!(length("é"), 1);
        assert_eq!(length("日本"), 2);
        assert_eq!(length("😀"), 2, "outside the BMP: two UTF-16 units");
    }

    #[test]
    fn the_pattern_names_exactly_the_characters_the_parser_allows() {
        // The pattern's class, spelled out: every ASCII character it lists, and no other.
        let listed: String = (0u8..128).map(char::from).filter(|&c| username_char(c)).collect();
        let expected: String = ('0'..='9').chain('A'..='Z').chain('a'..='z').chain(['.', '_', '-', '@']).collect();
        let mut sorted: Vec<char> = expected.chars().collect();
        sorted.sort_unstable();
        assert_eq!(listed, sorted.into_iter().collect::<String>());
        assert_eq!(USERNAME_PATTERN, r"[A-Za-z0-9][A-Za-z0-9._@\-]*");
        assert!(!username_first_char('.') && !username_first_char('-') && username_first_char('a'));
    }
}
