//! Authorization scopes: what an app password, access token or OAuth2 client may touch
//! (docs/design.md, "Concepts", "App passwords" and "OAuth2 clients and access tokens").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest scope string accepted, in bytes; far above any real scope, low enough that a
/// hostile request cannot make parsing expensive.
pub const MAX_SCOPE_LEN: usize = 512;

/// Longest piece of an unknown token echoed back in an error message, in characters.
const MAX_ECHOED_CHARS: usize = 32;

/// The tokens a scope may contain, for error messages.
const ALLOWED: &str = "*, albums, config, favorites, files, folders, labels, logs, metrics, \
     people, photos, places, sessions, settings, shares, users, videos, webdav, \
     optionally with read or write";

/// Declares [`Resource`] from one table of variants and names, so the enum, the list
/// of all resources and their names cannot drift apart.
macro_rules! resources {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// A named part of the server a scope can grant. Variants are in alphabetical
        /// order, so the derived `Ord` matches the order of their names.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Resource { $($variant),+ }

        impl Resource {
            /// Every resource, in the order of its name.
            pub const ALL: &'static [Resource] = &[$(Resource::$variant),+];

            /// The token that names this resource in a scope string.
            pub fn name(self) -> &'static str {
                match self { $(Resource::$variant => $name),+ }
            }
        }
    };
}

resources! {
    Albums => "albums", Config => "config", Favorites => "favorites", Files => "files",
    Folders => "folders", Labels => "labels", Logs => "logs", Metrics => "metrics",
    People => "people", Photos => "photos", Places => "places", Sessions => "sessions",
    Settings => "settings", Shares => "shares", Users => "users", Videos => "videos",
    Webdav => "webdav",
}

impl Resource {
    /// This resource's bit in [`Scope`]'s resource set (17 resources fit in a `u32`).
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// What a request wants to do with a resource. Reading is allowed by any scope that
/// names the resource; writing is refused when the scope is read-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
}

/// Why a scope was refused. Every variant maps to OAuth2's `invalid_scope`.
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error("scope is empty; give at least one of: {ALLOWED}")]
    Empty,
    #[error("scope is too long ({len} bytes, at most {MAX_SCOPE_LEN})")]
    TooLong { len: usize },
    #[error("scope contains a control character")]
    ControlCharacter,
    #[error("unknown scope {token:?}; allowed: {ALLOWED}")]
    Unknown { token: String },
    #[error("scope names no resource, only read or write; add one of: {ALLOWED}")]
    NoResource,
    #[error("requested scope \"{requested}\" is wider than the granted scope \"{granted}\"")]
    Wider { requested: String, granted: String },
}

impl ScopeError {
    /// The stable machine code for API answers (RFC 6749 §5.2).
    pub fn code(&self) -> &'static str {
        "invalid_scope"
    }
}

/// A parsed, normalised scope: which resources it grants and whether only for reading.
///
/// Only [`Scope::parse`] builds one, so every scope held by the server is valid and in
/// its normal form (lower case, sorted, without duplicates), and two inputs with the same
/// normal form compare equal. `photos read write` grants what `photos` grants but keeps
/// its modifiers, so the two are not equal.
/// `*` (Full Access) grants every resource, but it is still a scope: what an app
/// password may never do (change passwords, 2FA, users) is decided elsewhere.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Scope {
    full: bool,
    resources: u32,
    read: bool,
    write: bool,
    normalised: String,
}

impl Scope {
    /// Parses a scope from user input: separators are spaces, commas or tabs; case is
    /// ignored; duplicates are dropped; `*` absorbs any other resource.
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        if s.len() > MAX_SCOPE_LEN {
            return Err(ScopeError::TooLong { len: s.len() });
        }
        if s.chars().any(|c| c.is_control() && c != '\t') {
            return Err(ScopeError::ControlCharacter);
        }
        let (mut full, mut resources, mut read, mut write) = (false, 0u32, false, false);
        let mut any_token = false;
        for raw in s.split([' ', ',', '\t']).filter(|t| !t.is_empty()) {
            any_token = true;
            // ASCII folding only: Unicode case rules would turn look-alikes such as the
            // Kelvin sign into ASCII letters.
            let token = raw.to_ascii_lowercase();
            match token.as_str() {
                "*" => full = true,
                "read" => read = true,
                "write" => write = true,
                name => match Resource::ALL.iter().find(|r| r.name() == name) {
                    Some(resource) => resources |= resource.bit(),
                    None => {
                        let token = raw.chars().take(MAX_ECHOED_CHARS).collect();
                        return Err(ScopeError::Unknown { token });
                    }
                },
            }
        }
        if !any_token {
            return Err(ScopeError::Empty);
        }
        if !full && resources == 0 {
            return Err(ScopeError::NoResource);
        }
        Ok(Scope::build(full, resources, read, write))
    }

    /// Full Access (`*`): every resource, reading and writing.
    pub fn full() -> Scope {
        Scope::build(true, 0, false, false)
    }

    fn build(full: bool, resources: u32, read: bool, write: bool) -> Scope {
        let resources = if full { 0 } else { resources };
        let mut tokens: Vec<&str> =
            Resource::ALL.iter().filter(|r| resources & r.bit() != 0).map(|r| r.name()).collect();
        tokens.extend(full.then_some("*"));
        tokens.extend(read.then_some("read"));
        tokens.extend(write.then_some("write"));
        tokens.sort_unstable();
        let normalised = tokens.join(" ");
        Scope { full, resources, read, write, normalised }
    }

    /// The normalised scope string, as stored and as sent in API answers.
    pub fn as_str(&self) -> &str {
        &self.normalised
    }

    /// Whether this is Full Access (`*`), read-only or not.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Whether the scope says `read` without `write`, so it can only look, not change.
    pub fn is_read_only(&self) -> bool {
        self.read && !self.write
    }

    /// Whether WebDAV is the only resource; such a credential must not reach the UI or
    /// any other API (docs/design.md, "App passwords").
    pub fn is_webdav_only(&self) -> bool {
        !self.full && self.resources == Resource::Webdav.bit()
    }

    /// Whether this scope lets a request do `access` on `resource`.
    pub fn allows(&self, resource: Resource, access: Access) -> bool {
        let granted = self.full || self.resources & resource.bit() != 0;
        granted && (access == Access::Read || !self.is_read_only())
    }

    /// Checks that `requested` asks for no more than this scope grants, and returns it.
    ///
    /// For OAuth2 client credentials, where a requested scope may only narrow the
    /// client's own: every requested resource must be granted here, and a read-only
    /// grant only allows read-only requests.
    pub fn narrow(&self, requested: &Scope) -> Result<Scope, ScopeError> {
        let resources_ok = self.full || (!requested.full && requested.resources & !self.resources == 0);
        let access_ok = !self.is_read_only() || requested.is_read_only();
        if resources_ok && access_ok {
            Ok(requested.clone())
        } else {
            Err(ScopeError::Wider { requested: requested.normalised.clone(), granted: self.normalised.clone() })
        }
    }
}

impl Scope {
    /// What both scopes grant: the resources of both, read-only if either is. `None`
    /// when no resource is left. A client's token, after the client's scope changed,
    /// keeps `token.intersect(&client)`.
    pub fn intersect(&self, other: &Scope) -> Option<Scope> {
        let all: u32 = Resource::ALL.iter().fold(0, |acc, r| acc | r.bit());
        let bits = |s: &Scope| if s.full { all } else { s.resources };
        let full = self.full && other.full;
        let resources = bits(self) & bits(other);
        if !full && resources == 0 {
            return None;
        }
        let read_only = self.is_read_only() || other.is_read_only();
        Some(Scope::build(full, resources, read_only, false))
    }

    /// Whether everything `self` grants, `other` grants too.
    pub fn within(&self, other: &Scope) -> bool {
        other.narrow(self).is_ok()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalised)
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Scope, ScopeError> {
        Scope::parse(s)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.normalised)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Scope, D::Error> {
        let s = String::deserialize(deserializer)?;
        Scope::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use Access::{Read, Write};
    use Resource::{Metrics, Photos, Users, Webdav};
    use std::mem::discriminant;

    fn scope(s: &str) -> Scope {
        Scope::parse(s).unwrap()
    }

    fn norm(s: &str) -> String {
        scope(s).to_string()
    }

    #[test]
    fn intersections_keep_what_both_grant() {
        let i = |a: &str, b: &str| scope(a).intersect(&scope(b)).map(|s| s.to_string());
        assert_eq!(i("*", "metrics read").as_deref(), Some("metrics read"));
        assert_eq!(i("metrics read", "*").as_deref(), Some("metrics read"));
        assert_eq!(i("*", "*").as_deref(), Some("*"));
        assert_eq!(i("* read", "*").as_deref(), Some("* read"));
        assert_eq!(i("photos webdav", "webdav metrics").as_deref(), Some("webdav"));
        assert_eq!(i("photos", "metrics"), None);
        assert!(scope("metrics read").within(&scope("*")));
        assert!(!scope("*").within(&scope("metrics read")));
    }

    fn narrowed(granted: &str, requested: &str) -> Result<String, ScopeError> {
        scope(granted).narrow(&scope(requested)).map(|s| s.to_string())
    }

    /// Asserts that every input is refused with the same kind of error as `like`.
    fn refuses(inputs: &[&str], like: &ScopeError) {
        for s in inputs {
            let err = Scope::parse(s).unwrap_err();
            assert_eq!(discriminant(&err), discriminant(like), "{s:?} gave {err:?}");
            assert_eq!(err.code(), "invalid_scope");
        }
    }

    const UNKNOWN: &ScopeError = &ScopeError::Unknown { token: String::new() };

    #[test]
    fn scopes_are_lower_case_sorted_and_deduplicated() {
        assert_eq!(norm("webdav photos"), "photos webdav");
        assert_eq!(norm("  Photos,WEBDAV\tphotos ,, "), "photos webdav");
        assert_eq!(norm("write users read users"), "read users write");
        assert_eq!(scope("METRICS,metrics").as_str(), "metrics");
        assert_eq!("Metrics".parse::<Scope>().unwrap(), scope("metrics"));
    }

    #[test]
    fn full_access_absorbs_other_resources_but_keeps_modifiers() {
        assert_eq!(norm("photos * webdav"), "*");
        assert_eq!(norm("read photos *"), "* read");
        assert_eq!(scope("*"), Scope::full());
        assert!(scope("* read").is_full() && !scope("webdav").is_full());
    }

    #[test]
    fn every_resource_name_parses_and_is_listed_in_errors() {
        assert_eq!(Resource::ALL.len(), 17);
        assert!(Resource::ALL.is_sorted_by_key(|r| r.name()));
        for r in Resource::ALL {
            assert_eq!(norm(r.name()), r.name());
            assert!(ALLOWED.contains(&format!(" {},", r.name())), "{r:?}");
        }
    }

    #[test]
    fn allows_grants_named_resources_and_write_unless_read_only() {
        assert!(scope("*").allows(Users, Read) && scope("*").allows(Users, Write));
        assert!(scope("* read").allows(Users, Read));
        assert!(!scope("* read").allows(Users, Write));
        assert!(scope("* read write").allows(Users, Write));
        assert!(scope("* write").allows(Users, Write));
        assert!(scope("webdav").allows(Webdav, Write));
        assert!(!scope("webdav").allows(Photos, Read));
        assert!(scope("photos read").allows(Photos, Read));
        assert!(!scope("photos read").allows(Photos, Write));
        assert!(!scope("photos read").allows(Metrics, Read));
        assert!(scope("metrics photos").allows(Metrics, Write));
        assert!(!scope("metrics photos").allows(Webdav, Read));
        assert!(scope("photos read").is_read_only() && !scope("photos").is_read_only());
        assert!(!scope("photos write").is_read_only());
        assert!(!scope("photos read write").is_read_only());
    }

    #[test]
    fn webdav_only_means_exactly_webdav() {
        assert!(scope("webdav").is_webdav_only() && scope("webdav read").is_webdav_only());
        for s in ["webdav photos", "*", "* webdav", "metrics"] {
            assert!(!scope(s).is_webdav_only(), "{s}");
        }
    }

    #[test]
    fn narrow_accepts_subsets_and_returns_the_request() {
        assert_eq!(narrowed("*", "photos").unwrap(), "photos");
        assert_eq!(narrowed("*", "* read").unwrap(), "* read");
        assert_eq!(narrowed("*", "*").unwrap(), "*");
        assert_eq!(narrowed("photos webdav", "WEBDAV").unwrap(), "webdav");
        assert_eq!(narrowed("* read", "photos read").unwrap(), "photos read");
        assert_eq!(narrowed("photos", "photos read").unwrap(), "photos read");
    }

    #[test]
    fn narrow_refuses_to_widen() {
        let wider = |granted, requested| matches!(narrowed(granted, requested), Err(ScopeError::Wider { .. }));
        assert!(wider("webdav", "*"));
        assert!(wider("webdav", "photos"));
        assert!(wider("webdav", "photos webdav"));
        assert!(wider("* read", "*"));
        assert!(wider("* read", "photos"));
        assert!(wider("* read", "photos write"));
        assert!(wider("* read", "photos read write"));
        assert!(wider("photos read", "photos"));
        assert!(wider("metrics photos", "* read"));
        let err = narrowed("webdav", "*").unwrap_err();
        assert_eq!(err.code(), "invalid_scope");
        assert!(err.to_string().contains("\"*\" is wider than the granted scope \"webdav\""));
    }

    #[test]
    fn empty_and_modifier_only_scopes_are_rejected() {
        refuses(&["", "   ", ",,", "\t , "], &ScopeError::Empty);
        refuses(&["read", "write", "read write"], &ScopeError::NoResource);
    }

    #[test]
    fn unknown_tokens_are_named_truncated_and_the_allowed_ones_listed() {
        let err = Scope::parse("photos Admin").unwrap_err();
        assert!(matches!(&err, ScopeError::Unknown { token } if token == "Admin"));
        let message = err.to_string();
        assert!(message.contains("\"Admin\"") && message.contains("webdav"));

        let err = Scope::parse(&"é".repeat(200)).unwrap_err();
        assert!(matches!(&err, ScopeError::Unknown { token } if token.chars().count() == 32));
        assert!(err.to_string().len() < 400);

        refuses(&["photo", "photos;", "**", "* *x", "-"], UNKNOWN);
        refuses(&["users:read", "webdav\u{a0}"], UNKNOWN);
    }

    #[test]
    fn unicode_look_alikes_are_rejected() {
        // Unicode case rules map the Kelvin sign (U+212A) to 'k' and `ſ` to 'S'; only
        // ASCII case is folded, so no look-alike can pass for a resource name.
        refuses(&["phoſos", "webdaⅴ", "ｗｅｂｄａｖ", "wébdav"], UNKNOWN);
        refuses(&["webdav\u{200b}", "\u{212a}", "\u{17f}"], UNKNOWN);
    }

    #[test]
    fn control_characters_and_huge_input_are_rejected() {
        let control = &ScopeError::ControlCharacter;
        refuses(&["webdav\nphotos", "webdav\r", "\u{0}webdav"], control);
        refuses(&["photos\u{7f}", "a\u{85}"], control);
        let err = Scope::parse(&"photos ".repeat(10_000)).unwrap_err();
        assert!(matches!(err, ScopeError::TooLong { len: 70_000 }));
        let at_limit = format!("webdav{}", " ".repeat(MAX_SCOPE_LEN - 6));
        assert_eq!(norm(&at_limit), "webdav");
        let too_long = &ScopeError::TooLong { len: 0 };
        refuses(&[&format!("{at_limit},"), &"é".repeat(257)], too_long);
    }

    #[test]
    fn serde_uses_the_normalised_string() {
        let json = serde_json::to_string(&scope("WebDAV, photos read")).unwrap();
        assert_eq!(json, "\"photos read webdav\"");
        let back: Scope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, scope("photos read webdav"));
        let full: Scope = serde_json::from_str("\"* photos\"").unwrap();
        assert_eq!(full, Scope::full());
        for bad in ["\"root\"", "\"\"", "42", "null"] {
            assert!(serde_json::from_str::<Scope>(bad).is_err(), "{bad}");
        }
    }
}
