//! How a file from the library is handed to a browser, decided once for every path
//! that sends one (our GET/HEAD and dav-server's, full, partial or `304`): uploaded
//! files must never run script in the UI's origin (docs/design.md, "Errors and bad input").
//!
//! Every file carries `Content-Security-Policy: sandbox; default-src 'none'` — a sandbox
//! with no `allow-scripts` and no `allow-same-origin`, so even a page that renders runs
//! nothing and is a unique opaque origin without our cookies — and
//! `X-Content-Type-Options: nosniff`, so the browser keeps the type we name. Only types
//! a browser shows passively (a short list of images, video, audio, PDF and plain text)
//! are shown inline; anything else (HTML, XHTML, SVG, XML, JavaScript, unknown) is a
//! download (`Content-Disposition: attachment`, RFC 6266).

use axum::http::{HeaderMap, HeaderValue, header};

/// The sandbox every file is served in.
pub const SANDBOX: &str = "sandbox; default-src 'none'";

/// Images a browser shows as a picture and nothing more. Not SVG: it is a document
/// that can carry script.
const SAFE_IMAGES: [&str; 10] = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heic",
    "image/heif",
    "image/bmp",
    "image/tiff",
    "image/x-ms-bmp",
];

/// Whether a file of type `mime` is shown in the browser or downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Inline,
    Attachment,
}

/// The one decision: inline only for passive types, a download for everything else.
pub fn serving_policy(mime: &str) -> Disposition {
    let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let passive = SAFE_IMAGES.contains(&essence.as_str())
        || (essence.starts_with("video/") && essence.len() > 6)
        || (essence.starts_with("audio/") && essence.len() > 6)
        || essence == "application/pdf"
        || essence == "text/plain";
    if passive { Disposition::Inline } else { Disposition::Attachment }
}

/// Puts the serving headers for a file named `name` (the last path segment, decoded)
/// of type `mime` on an answer.
pub fn apply(headers: &mut HeaderMap, name: &[u8], mime: &str) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SANDBOX));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if serving_policy(mime) == Disposition::Attachment
        && let Ok(v) = HeaderValue::try_from(attachment(name))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
}

/// `attachment` with the file's name (RFC 6266 §4.3): a plain `filename` that every
/// client reads, with anything outside printable ASCII (and `"`, `\`, `%`) replaced, and
/// the exact name as `filename*=UTF-8''…` (RFC 8187) whenever the two differ.
pub fn attachment(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    let plain: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%') || c == ' ' { c } else { '_' })
        .collect();
    let plain = if plain.trim().is_empty() { "download".to_owned() } else { plain };
    let mut out = format!("attachment; filename=\"{plain}\"");
    if plain != name {
        out.push_str("; filename*=UTF-8''");
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_passive_types_are_shown_inline() {
        for inline in [
            "image/jpeg",
            "image/png",
            "image/webp",
            "image/heic",
            "video/mp4",
            "audio/mpeg",
            "application/pdf",
            "text/plain",
            "TEXT/PLAIN; charset=utf-8",
        ] {
            assert_eq!(serving_policy(inline), Disposition::Inline, "{inline}");
        }
        for download in [
            "text/html",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "application/javascript",
            "text/javascript",
            "application/octet-stream",
            "text/css",
            "multipart/x-mixed-replace",
            "video/",
            "",
        ] {
            assert_eq!(serving_policy(download), Disposition::Attachment, "{download}");
        }
    }

    #[test]
    fn attachment_names_follow_rfc_6266() {
        assert_eq!(attachment(b"page.html"), "attachment; filename=\"page.html\"");
        assert_eq!(attachment(b"a b&(c).svg"), "attachment; filename=\"a b&(c).svg\"");
        assert_eq!(
            attachment("é 日本.html".as_bytes()),
            "attachment; filename=\"_ __.html\"; filename*=UTF-8''%C3%A9%20%E6%97%A5%E6%9C%AC.html"
        );
        assert_eq!(
            attachment(b"q\"uo\\te%.js"),
            "attachment; filename=\"q_uo_te_.js\"; filename*=UTF-8''q%22uo%5Cte%25.js"
        );
        assert_eq!(attachment(b"a\r\nb"), "attachment; filename=\"a__b\"; filename*=UTF-8''a%0D%0Ab");
    }

    #[test]
    fn every_file_is_sandboxed_without_scripts_or_same_origin() {
        let mut h = HeaderMap::new();
        apply(&mut h, b"photo.jpg", "image/jpeg");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], SANDBOX);
        assert!(!SANDBOX.contains("allow-"));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!h.contains_key(header::CONTENT_DISPOSITION));
        apply(&mut h, b"x.svg", "image/svg+xml");
        assert_eq!(h[header::CONTENT_DISPOSITION], "attachment; filename=\"x.svg\"");
    }
}
