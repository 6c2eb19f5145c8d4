//! The one gate every WebDAV XML body passes before anything builds a tree of it.
//! dav-server and the PROPFIND fast path parse bodies with `xmltree`, which recurses
//! once per nesting level: a 14 KB body of 2,000 nested elements overflowed a worker's
//! stack and aborted the process. Here a streaming reader (no recursion) walks the body
//! once and refuses it when it is too deep, has too many elements, declares a DTD
//! (entity expansion), names a namespace or an element longer than the caps of
//! [`props`](super::props), or is not well-formed XML — so what reaches a parser is
//! small. `xmltree` also keeps a copy of every namespace in scope with each element: a
//! 59 KB body of 4,000 elements in one 20 KB namespace took over 200 MB to parse, so
//! the namespace bytes copied that way are capped too ([`MAX_NAMESPACE_COPIES`]). The
//! reader itself hands over every namespace in scope with each element, so the
//! *number* of declarations is capped before it reads anything
//! ([`MAX_NAMESPACE_DECLARATIONS`]: 3,000 one-letter declarations in scope of 100
//! elements, 61 KB, took a second of CPU), and so is the number of namespaces in scope
//! summed over the elements ([`MAX_NAMESPACE_ENTRIES`]).

use std::cell::RefCell;

use axum::http::StatusCode;
use xml::reader::{ParserConfig, XmlEvent};

use super::error::DavError;
use super::props::{MAX_NAME, MAX_NAMESPACE};

/// Largest XML body read (dav-server's own limit).
pub const MAX_BODY: usize = 65_536;
/// Deepest element nesting accepted. Real clients send 4–6 levels; property values
/// a few more.
pub const MAX_DEPTH: usize = 64;
/// Most elements in one body (a PROPFIND of every known property is ~60).
pub const MAX_ELEMENTS: usize = 10_000;

/// Most bytes of namespace URIs a tree of the body may copy: over all elements, the
/// URIs in scope at each (what `xmltree` stores with every element).
pub const MAX_NAMESPACE_COPIES: usize = 4 << 20;

/// Most namespace declarations (`xmlns` attributes) in one body. Clients declare a
/// handful; one on every property of a PROPFIND of every known property is ~60.
pub const MAX_NAMESPACE_DECLARATIONS: usize = 128;

/// Most namespaces in scope summed over all elements (each element sees at least the
/// three built-in ones): what the reader and a tree copy, counted in entries.
pub const MAX_NAMESPACE_ENTRIES: usize = 100_000;

/// Why a body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooLarge,
    TooDeep,
    TooManyElements,
    Doctype,
    Malformed,
    LongNamespace,
    LongName,
    NamespaceCopies,
    TooManyNamespaces,
}

impl Refusal {
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::TooLarge
            | Refusal::LongNamespace
            | Refusal::LongName
            | Refusal::NamespaceCopies
            | Refusal::TooManyNamespaces => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The RFC 4918 `<D:error>` answer, with our code for the caps.
    pub fn answer(self) -> DavError {
        let mut e = DavError::new(self.status(), self.message());
        match self {
            Refusal::LongNamespace => e.code = "property-namespace-too-long",
            Refusal::LongName => e.code = "property-name-too-long",
            Refusal::NamespaceCopies => e.code = "namespaces-too-large",
            Refusal::TooManyNamespaces => e.code = "too-many-namespaces",
            _ => {}
        }
        e
    }

    pub fn message(self) -> String {
        match self {
            Refusal::TooLarge => format!("The XML body is larger than {MAX_BODY} bytes"),
            Refusal::TooDeep => format!("The XML body nests elements deeper than {MAX_DEPTH} levels"),
            Refusal::TooManyElements => format!("The XML body has more than {MAX_ELEMENTS} elements"),
            Refusal::Doctype => "The XML body may not contain a document type declaration".to_owned(),
            Refusal::Malformed => "The body is not well-formed XML".to_owned(),
            Refusal::LongNamespace => format!("A namespace in the XML body is longer than {MAX_NAMESPACE} bytes"),
            Refusal::LongName => format!("An element name in the XML body is longer than {MAX_NAME} bytes"),
            Refusal::NamespaceCopies => format!(
                "The XML body's namespaces, times its elements, exceed {MAX_NAMESPACE_COPIES} bytes; \
                 declare fewer or shorter namespaces"
            ),
            Refusal::TooManyNamespaces => format!(
                "The XML body declares more than {MAX_NAMESPACE_DECLARATIONS} namespaces, or has more than \
                 {MAX_NAMESPACE_ENTRIES} namespaces in scope over its elements; declare each namespace once"
            ),
        }
    }
}

/// Checks `body` (already read, at most [`MAX_BODY`] bytes). An empty body passes:
/// whether a method needs one is the method's business.
pub fn check(body: &[u8]) -> Result<(), Refusal> {
    if body.len() > MAX_BODY {
        return Err(Refusal::TooLarge);
    }
    if body.iter().all(u8::is_ascii_whitespace) || recently_accepted(body) {
        return Ok(());
    }
    // Counted in the bytes, before the reader builds the namespaces in scope of each
    // element: a declaration cannot be written without the literal `xmlns` (XML has no
    // escapes in names), so this never undercounts.
    if body.windows(5).filter(|w| w == b"xmlns").count() > MAX_NAMESPACE_DECLARATIONS {
        return Err(Refusal::TooManyNamespaces);
    }
    scan(body)?;
    remember(body);
    Ok(())
}

fn scan(body: &[u8]) -> Result<(), Refusal> {
    let reader = ParserConfig::new()
        .max_entity_expansion_length(0)
        .max_entity_expansion_depth(1)
        .ignore_comments(true)
        .create_reader(body);
    let (mut depth, mut elements, mut copies, mut entries) = (0usize, 0usize, 0usize, 0usize);
    for event in reader {
        match event.map_err(|_| Refusal::Malformed)? {
            XmlEvent::Doctype { .. } => return Err(Refusal::Doctype),
            XmlEvent::StartElement { name, namespace, .. } => {
                if name.local_name.len() > MAX_NAME {
                    return Err(Refusal::LongName);
                }
                let mut in_scope = 0usize;
                for (_, uri) in &namespace {
                    if uri.len() > MAX_NAMESPACE {
                        return Err(Refusal::LongNamespace);
                    }
                    in_scope += uri.len();
                }
                copies += in_scope;
                if copies > MAX_NAMESPACE_COPIES {
                    return Err(Refusal::NamespaceCopies);
                }
                entries += namespace.0.len();
                if entries > MAX_NAMESPACE_ENTRIES {
                    return Err(Refusal::TooManyNamespaces);
                }
                depth += 1;
                elements += 1;
                if depth > MAX_DEPTH {
                    return Err(Refusal::TooDeep);
                }
                if elements > MAX_ELEMENTS {
                    return Err(Refusal::TooManyElements);
                }
            }
            XmlEvent::EndElement { .. } => depth = depth.saturating_sub(1),
            XmlEvent::EndDocument => break,
            _ => {}
        }
    }
    Ok(())
}

/// Sync apps send the same small body with every request; the last few accepted ones
/// are remembered per thread, so checking them again costs one comparison.
const REMEMBERED: usize = 8;
const REMEMBERED_SIZE: usize = 4096;

thread_local! {
    static ACCEPTED: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

fn recently_accepted(body: &[u8]) -> bool {
    body.len() <= REMEMBERED_SIZE && ACCEPTED.with_borrow(|seen| seen.iter().any(|b| b == body))
}

fn remember(body: &[u8]) {
    if body.len() > REMEMBERED_SIZE {
        return;
    }
    ACCEPTED.with_borrow_mut(|seen| {
        if seen.len() == REMEMBERED {
            seen.remove(0);
        }
        seen.push(body.to_vec());
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "<a xmlns=\"DAV:\">".repeat(levels), "</a>".repeat(levels))
    }

    #[test]
    fn ordinary_bodies_pass() {
        for body in [
            "",
            "  \r\n",
            r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#,
            r#"<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x"><y>z</y><!-- c --></x></prop></set></propertyupdate>"#,
        ] {
            assert_eq!(check(body.as_bytes()), Ok(()), "{body}");
        }
        assert_eq!(check(nested(MAX_DEPTH).as_bytes()), Ok(()));
    }

    #[test]
    fn deep_wide_huge_and_dtd_bodies_are_refused() {
        assert_eq!(check(nested(MAX_DEPTH + 1).as_bytes()), Err(Refusal::TooDeep));
        let deep = format!("{}{}", "<a>".repeat(3_000), "</a>".repeat(3_000));
        assert_eq!(check(deep.as_bytes()), Err(Refusal::TooDeep));
        assert_eq!(check(nested(3_000).as_bytes()), Err(Refusal::TooManyNamespaces), "counted first, cheaper");
        let unclosed = "<a>".repeat(1_000_000);
        assert_eq!(check(unclosed.as_bytes()), Err(Refusal::TooLarge));
        let wide = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS));
        assert_eq!(check(wide.as_bytes()), Err(Refusal::TooManyElements));
        let long_ns = format!(r#"<a xmlns="urn:{}"/>"#, "n".repeat(MAX_NAMESPACE));
        assert_eq!(check(long_ns.as_bytes()), Err(Refusal::LongNamespace));
        let long_name = format!("<{0}/>", "n".repeat(MAX_NAME + 1));
        assert_eq!(check(long_name.as_bytes()), Err(Refusal::LongName));
        // 9 declarations of 1,000 bytes in scope of 500 elements: 4.5 MB of copies.
        let decls: String = (0..9).map(|i| format!(r#" xmlns:p{i}="urn:{i}{}""#, "n".repeat(994))).collect();
        let copied = format!("<a{decls}>{}</a>", "<b/>".repeat(499));
        assert_eq!(check(copied.as_bytes()), Err(Refusal::NamespaceCopies));
        let fine = format!(r#"<a xmlns="urn:{}">{}</a>"#, "n".repeat(1_000), "<b/>".repeat(256));
        assert_eq!(check(fine.as_bytes()), Ok(()));
        // Issue 17's attack: 3,000 one-letter declarations in scope of 100 elements.
        let decls: String = (0..3_000).map(|i| format!(r#" xmlns:p{i}="u""#)).collect();
        let many = format!(r#"<propfind xmlns="DAV:"{decls}><prop>{}</prop></propfind>"#, "<a/>".repeat(98));
        assert_eq!(check(many.as_bytes()), Err(Refusal::TooManyNamespaces));
        let just: String =
            (0..MAX_NAMESPACE_DECLARATIONS).map(|i| format!(r#"<p{i}:x xmlns:p{i}="urn:{i}"/>"#)).collect();
        assert_eq!(check(format!("<prop>{just}</prop>").as_bytes()), Ok(()), "one on each of 128 properties");
        let over = format!(r#"<prop xmlns:z="urn:z">{just}</prop>"#);
        assert_eq!(check(over.as_bytes()), Err(Refusal::TooManyNamespaces));
        // Few declarations, many elements in their scope: counted in entries too.
        let decls: String = (0..100).map(|i| format!(r#" xmlns:p{i}="u""#)).collect();
        let wide = format!("<a{decls}>{}</a>", "<b/>".repeat(1_500));
        assert_eq!(check(wide.as_bytes()), Err(Refusal::TooManyNamespaces));
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;">]><a>&l2;</a>"#;
        assert!(matches!(check(laughs.as_bytes()), Err(Refusal::Doctype | Refusal::Malformed)));
        for bad in ["<a>", "<a></b>", "not xml", "<a xmlns:p=\"\"><p:b/></a>", "<p:a/>", "\u{0}"] {
            assert_eq!(check(bad.as_bytes()), Err(Refusal::Malformed), "{bad}");
        }
    }

    #[test]
    fn a_remembered_body_is_still_the_same_body() {
        let good = br#"<propfind xmlns="DAV:"><allprop/></propfind>"#;
        assert_eq!(check(good), Ok(()));
        assert_eq!(check(good), Ok(()));
        let mut longer = good.to_vec();
        longer.extend_from_slice(b"<x>");
        assert_eq!(check(&longer), Err(Refusal::Malformed));
    }
}
