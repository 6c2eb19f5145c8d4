//! XML text, written by hand where an answer or request is built as a string (WebDAV
//! errors and multistatus answers, S3 request bodies).

/// Escapes text content (also `"` and `'`, so the same text is safe in attributes).
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}
