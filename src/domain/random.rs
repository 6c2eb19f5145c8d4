//! Random identifiers and secrets drawn from the operating system's RNG.

/// The RNG of the operating system failed; nothing secret may be made without it.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RngError;

/// Fills `buf` with cryptographically secure random bytes.
pub fn fill(buf: &mut [u8]) -> Result<(), RngError> {
    getrandom::fill(buf).map_err(|_| RngError)
}

/// `n` random characters from `alphabet` (at most 256 symbols), without modulo bias.
pub fn string_from(alphabet: &[u8], n: usize) -> Result<String, RngError> {
    let len = alphabet.len();
    if len == 0 || len > 256 {
        return Err(RngError);
    }
    // Accept only bytes below the largest multiple of `len` so every symbol is equally likely.
    let limit = 256 - (256 % len);
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        fill(&mut buf)?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < n {
                out.push(char::from(alphabet[b as usize % len]));
            }
        }
    }
    Ok(out)
}

const LOWER_ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A public identifier: `prefix` followed by `n` lower-case alphanumerics.
pub fn public_id(prefix: &str, n: usize) -> Result<String, RngError> {
    Ok(format!("{prefix}{}", string_from(LOWER_ALNUM, n)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_length_and_alphabet() {
        let id = public_id("sess", 16).unwrap();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("sess"));
        assert!(id[4..].bytes().all(|b| LOWER_ALNUM.contains(&b)));
    }

    #[test]
    fn every_symbol_appears() {
        let s = string_from(b"abc", 3000).unwrap();
        for c in ['a', 'b', 'c'] {
            assert!(s.chars().filter(|&x| x == c).count() > 800);
        }
    }
}
