//! The rules of passkeys (WebAuthn) that need no cryptography: where they may be
//! offered (the public URL), the relying party that follows from it, names, sizes,
//! lifetimes, and the sign-counter rule against cloned keys.
//!
//! The relying party comes only from the configured public URL, never from request
//! headers: a proxy that rewrites `Host` must not change which site a key signs for.

use std::fmt;

use url::Url;

/// How long a ceremony (registration or login) may take: 5 minutes.
pub const CHALLENGE_TTL: i64 = 5 * 60;
/// Longest credential id accepted and stored, bytes (WebAuthn Level 3 §5.1: at most
/// 1,023; some keys use ~200-byte ids).
pub const MAX_CREDENTIAL_ID: usize = 1023;
/// Longest passkey name (after trimming), in UTF-16 code units like every form field.
pub const NAME_MAX: usize = 100;

/// The relying party passkeys are made for: its id (the host) and origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub origin: Url,
}

/// Why passkeys are off on this server; shown in the UI and logged at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeysOff {
    /// No `--public-url`.
    NoPublicUrl,
    /// A public URL that browsers will not allow WebAuthn on.
    Insecure(String),
}

impl fmt::Display for PasskeysOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasskeysOff::NoPublicUrl => f.write_str(
                "Passkeys are off: the server has no public URL. An administrator can set --public-url \
                 (GATEHOUSE_PUBLIC_URL) to the https:// address users open.",
            ),
            PasskeysOff::Insecure(url) => write!(
                f,
                "Passkeys are off: the public URL {url} is neither https:// nor http://localhost, \
                 and browsers allow passkeys only there."
            ),
        }
    }
}

/// Parses `--public-url`: an absolute `http` or `https` URL without credentials, query
/// or fragment. The address users open; its path is ignored here.
pub fn parse_public_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("invalid public URL {raw:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("invalid public URL {raw:?}: it must start with https:// or http://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("invalid public URL {raw:?}: it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("invalid public URL {raw:?}: no user, query or fragment, please"));
    }
    Ok(url)
}

/// The relying party for a public URL, or why passkeys are off: browsers allow
/// WebAuthn on `https://` origins with a domain name and on `http://localhost`.
pub fn relying_party(public_url: Option<&Url>) -> Result<RelyingParty, PasskeysOff> {
    let url = public_url.ok_or(PasskeysOff::NoPublicUrl)?;
    let insecure = || PasskeysOff::Insecure(url.as_str().trim_end_matches('/').to_owned());
    // A domain name: WebAuthn refuses IP addresses as relying-party ids.
    let host = url.domain().ok_or_else(insecure)?.to_ascii_lowercase();
    let allowed = match url.scheme() {
        "https" => true,
        "http" => host == "localhost",
        _ => false,
    };
    if !allowed {
        return Err(insecure());
    }
    let origin = Url::parse(&url.origin().ascii_serialization()).map_err(|_| insecure())?;
    Ok(RelyingParty { id: host, origin })
}

/// A passkey's name as typed: trimmed, 1 to [`NAME_MAX`] long, no control characters.
pub fn passkey_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("the passkey needs a name");
    }
    if super::fields::length(name) > NAME_MAX {
        return Err("the passkey name is too long (at most 100 characters)");
    }
    if name.chars().any(char::is_control) {
        return Err("the passkey name contains control characters");
    }
    Ok(name.to_owned())
}

/// Whether a presented signature counter may follow the stored one (WebAuthn §7.2
/// step 21). A key that keeps no counter sends 0 every time; once a key has counted,
/// each use must count higher, or another copy of the key has been used: a possible
/// clone, refused.
pub fn counter_moves_forward(stored: i64, presented: i64) -> bool {
    presented > stored || (presented == 0 && stored == 0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rp(url: &str) -> Result<RelyingParty, PasskeysOff> {
        relying_party(Some(&parse_public_url(url).unwrap()))
    }

    #[test]
    fn the_relying_party_follows_the_public_url() {
        let r = rp("https://Photos.Example.com/gallery/").unwrap();
        assert_eq!(r.id, "photos.example.com");
        assert_eq!(r.origin.as_str(), "https://photos.example.com/");
        let local = rp("http://localhost:2342").unwrap();
        assert_eq!(local.id, "localhost");
        assert_eq!(local.origin.as_str(), "http://localhost:2342/");
        assert_eq!(rp("https://photos.example.com:8443").unwrap().origin.as_str(), "https://photos.example.com:8443/");
    }

    #[test]
    fn passkeys_are_off_without_a_secure_public_url() {
        assert_eq!(relying_party(None), Err(PasskeysOff::NoPublicUrl));
        assert!(matches!(rp("http://photos.example.com"), Err(PasskeysOff::Insecure(_))));
        assert!(matches!(rp("http://127.0.0.1:2342"), Err(PasskeysOff::Insecure(_))));
        assert!(matches!(rp("https://192.168.1.2"), Err(PasskeysOff::Insecure(_))));
        assert!(rp("http://127.0.0.1:2342").unwrap_err().to_string().contains("http://127.0.0.1:2342"));
    }

    #[test]
    fn public_urls_are_checked() {
        assert!(parse_public_url("photos.example.com").is_err());
        assert!(parse_public_url("ftp://photos.example.com").is_err());
        assert!(parse_public_url("https://user:pw@photos.example.com").is_err());
        assert!(parse_public_url("https://photos.example.com/?a=b").is_err());
        assert!(parse_public_url(" https://photos.example.com ").is_ok());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(passkey_name("  Laptop  "), Ok("Laptop".to_owned()));
        assert!(passkey_name("   ").is_err());
        assert!(passkey_name(&"x".repeat(101)).is_err());
        assert!(passkey_name("a\u{0}b").is_err());
        assert!(passkey_name(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn counters_must_move_forward_once_they_count() {
        assert!(counter_moves_forward(0, 0));
        assert!(counter_moves_forward(0, 1));
        assert!(counter_moves_forward(5, 6));
        assert!(!counter_moves_forward(5, 5));
        assert!(!counter_moves_forward(5, 4));
        assert!(!counter_moves_forward(5, 0));
    }
}
