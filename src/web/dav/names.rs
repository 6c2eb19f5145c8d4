//! Names in Unicode NFC. macOS sends `café.jpg` decomposed (NFD: `e` and a combining
//! accent), Windows and Linux composed (NFC); stored as sent they would be two files
//! that every client shows as duplicates. So the request path, the `Destination` and
//! the resources an `If` header names are turned into NFC before anything looks at them, on a folder
//! and on S3 alike, and a name is stored, locked and found in one form. A path that
//! already names something in another form (a file another tool left on disk) is
//! taken as it is, so nothing becomes unreachable. Case stays significant: `A.jpg` and
//! `a.jpg` are two files, as on Linux and S3.

use axum::http::request::Parts;
use axum::http::{HeaderValue, Uri};
use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfc_quick};

use super::library::{Library, rel};
use super::propfind::encode_into;

/// Rewrites the path of `parts`, its `Destination` and the Resource-Tags of its `If`
/// in NFC where they are not and the form they are in names nothing in `lib`.
pub async fn to_nfc(lib: &Library, parts: &mut Parts) {
    if let Some(path) = nfc(lib, parts.uri.path()).await {
        let mut rewritten = path;
        if let Some(q) = parts.uri.query() {
            rewritten.push('?');
            rewritten.push_str(q);
        }
        if let Ok(uri) = Uri::builder().path_and_query(rewritten).build() {
            parts.uri = uri;
        }
    }
    for name in ["destination", "if"] {
        let values: Option<Vec<String>> =
            parts.headers.get_all(name).iter().map(|v| v.to_str().ok().map(str::to_owned)).collect();
        // A value that is not text is the guard's to refuse.
        let Some(values) = values else { continue };
        let mut changed = false;
        let mut out = Vec::with_capacity(values.len());
        for text in values {
            let rewritten = if name == "if" { resource_tags(lib, &text).await } else { url(lib, &text).await };
            changed |= rewritten.is_some();
            out.push(rewritten.unwrap_or(text));
        }
        if !changed {
            continue;
        }
        let Ok(out) = out.into_iter().map(HeaderValue::try_from).collect::<Result<Vec<_>, _>>() else { continue };
        parts.headers.remove(name);
        for v in out {
            parts.headers.append(name, v);
        }
    }
}

/// An absolute URL or path with its path in NFC, if that changes it.
async fn url(lib: &Library, text: &str) -> Option<String> {
    let uri = text.parse::<Uri>().ok()?;
    let path = nfc(lib, uri.path()).await?;
    Some(match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}{path}"),
        _ => path,
    })
}

/// An `If` header with the URLs of its Resource-Tags (the `<…>` outside lists) in
/// NFC, if that changes any; a header that does not parse, or has more tags than a
/// valid one can (each tags a list of at least one of the guard's bounded conditions),
/// is left to the guard, so no header makes more than that many look-ups.
async fn resource_tags(lib: &Library, text: &str) -> Option<String> {
    if text.matches('<').count() > super::guard::MAX_IF_CONDITIONS {
        return None;
    }
    let (mut out, mut changed, mut rest) = (String::with_capacity(text.len()), false, text);
    while let Some(i) = rest.find(['<', '(']) {
        out.push_str(&rest[..i]);
        let close = if rest[i..].starts_with('(') { ')' } else { '>' };
        let end = i + rest[i..].find(close)? + 1;
        let part = &rest[i..end];
        match (close, url(lib, &part[1..part.len() - 1]).await) {
            ('>', Some(tag)) => {
                out.push('<');
                out.push_str(&tag);
                out.push('>');
                changed = true;
            }
            _ => out.push_str(part),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The NFC form of a percent-encoded URL path, re-encoded; `None` if it is in NFC
/// already, is not UTF-8, or names something in `lib` as it is.
async fn nfc(lib: &Library, raw: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().ok()?;
    if is_nfc_quick(decoded.chars()) == IsNormalized::Yes {
        return None;
    }
    let composed: String = decoded.nfc().collect();
    if composed == decoded {
        return None;
    }
    if exists(lib, raw).await {
        return None;
    }
    let mut out = String::with_capacity(composed.len() * 3);
    for (i, segment) in composed.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode_into(&mut out, segment.as_bytes());
    }
    Some(out)
}

/// Whether the URL path `raw` names a file or folder in `lib` as it is spelled.
async fn exists(lib: &Library, raw: &str) -> bool {
    let Ok(mut path) = dav_server::davpath::DavPath::new(raw) else { return false };
    if path.set_prefix(lib.prefix()).is_err() {
        return false;
    }
    match rel(&path) {
        Ok(p) => lib.storage.stat(&p).await.is_ok(),
        Err(_) => false,
    }
}
