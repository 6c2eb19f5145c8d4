//! Dead properties (PROPPATCH): kept in the database, one resource at a time, within
//! the caps below — the one place the size of what a client may ask for or store is
//! decided. With them, one `<D:response>` of a PROPFIND answer is bounded (names asked
//! for × their length, properties per resource × value size), and the answer streams
//! one response after another ([`super::propfind`]), so no answer is held whole.

use std::collections::HashMap;
use std::io::Cursor;

use axum::http::StatusCode;
use dav_server::fs::{DavProp, FsError, FsResult};
use xmltree::Element;

use super::error::DavError;
use crate::store::{DavPropStore as _, DeadProp, PropQuota, Store};

/// Most properties one PROPFIND may name (`prop` and `include` together), or one
/// PROPPATCH may set and remove. A client asking for every property it knows sends ~60.
pub const MAX_PROPS_PER_REQUEST: usize = 256;
/// Longest namespace URI of a property, in bytes.
pub const MAX_NAMESPACE: usize = 1024;
/// Longest property name (the local part), in bytes.
pub const MAX_NAME: usize = 1024;
/// The most bytes of property names and namespaces one request names together (a
/// client asks for a few dozen short ones; an answer repeats them for every entry).
pub const MAX_NAMES_BYTES: usize = 8 * 1024;
/// Largest dead property, the element as stored, in bytes.
pub const MAX_VALUE: usize = 4096;
/// Most dead properties one resource may carry.
pub const MAX_PER_RESOURCE: i64 = 64;
/// Most bytes of dead properties one user may store, counted as
/// [`DeadProp::bytes`](crate::store::DeadProp::bytes) (namespace, name, value and a
/// fixed overhead per property). PROPPATCH and COPY both count.
pub const MAX_USER_BYTES: i64 = 1 << 20;

/// What user `owner` may still store.
pub fn quota(owner: &str) -> PropQuota<'_> {
    PropQuota { owner, max_bytes: MAX_USER_BYTES, max_per_resource: MAX_PER_RESOURCE }
}

/// What this request has read from the property table, by resource key.
#[derive(Debug, Default)]
pub struct PropCache {
    props: HashMap<String, Vec<DeadProp>>,
}

impl PropCache {
    /// The cached properties of `key`, if known.
    pub fn get(&self, key: &str) -> Option<Vec<DeadProp>> {
        self.props.get(key).cloned()
    }

    /// Records the properties of `key`.
    pub fn fill(&mut self, key: &str, rows: Vec<DeadProp>) {
        self.props.insert(key.to_owned(), rows);
    }

    /// Forgets everything (after a change).
    pub fn clear(&mut self) {
        *self = PropCache::default();
    }
}

/// Loads the properties of the one resource `key`.
pub async fn load(store: &Store, root: &str, key: &str) -> FsResult<Vec<DeadProp>> {
    store.dav_props(root, key).await.map_err(db_error)
}

fn too_large(code: &'static str, message: String) -> DavError {
    let mut e = DavError::new(StatusCode::PAYLOAD_TOO_LARGE, message);
    e.code = code;
    e
}

/// A write of dead properties that would take the user past [`MAX_USER_BYTES`]: 507
/// (RFC 4918 §11.5: the server cannot store what the request needs).
pub fn storage_full() -> DavError {
    let mut e = DavError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        format!("This would store more than {MAX_USER_BYTES} bytes of WebDAV properties for this account"),
    );
    e.code = "property-storage-full";
    e
}

/// A cap of this module a request goes past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Count,
    Namespace,
    Name,
    /// The names and namespaces of one request together.
    Names,
    Value,
}

impl Cap {
    /// The answer to a request past this cap: 413 with our code, before anything acts.
    pub fn refusal(self) -> DavError {
        match self {
            Cap::Count => too_large(
                "too-many-properties",
                format!("The request names more than {MAX_PROPS_PER_REQUEST} properties"),
            ),
            Cap::Namespace => too_large(
                "property-namespace-too-long",
                format!("A property namespace is longer than {MAX_NAMESPACE} bytes"),
            ),
            Cap::Name => {
                too_large("property-name-too-long", format!("A property name is longer than {MAX_NAME} bytes"))
            }
            Cap::Names => too_large(
                "property-names-too-long",
                format!("The properties one request names are longer than {MAX_NAMES_BYTES} bytes together"),
            ),
            Cap::Value => {
                too_large("property-value-too-large", format!("A property value is larger than {MAX_VALUE} bytes"))
            }
        }
    }
}

/// The property names of one request, counted against the caps as they are read.
#[derive(Debug, Default)]
pub struct Tally {
    count: usize,
    bytes: usize,
}

impl Tally {
    /// Counts one more name: how many, how long each, and how long all together —
    /// what an answer repeats for every resource it lists, so that a PROPFIND's answer
    /// stays proportionate to the folder rather than to what the body can name.
    pub fn add(&mut self, namespace: &str, name: &str) -> Result<(), Cap> {
        self.count += 1;
        self.bytes = self.bytes.saturating_add(namespace.len() + name.len());
        if self.count > MAX_PROPS_PER_REQUEST {
            return Err(Cap::Count);
        }
        if namespace.len() > MAX_NAMESPACE {
            return Err(Cap::Namespace);
        }
        if name.len() > MAX_NAME {
            return Err(Cap::Name);
        }
        if self.bytes > MAX_NAMES_BYTES {
            return Err(Cap::Names);
        }
        Ok(())
    }
}

/// Counts bytes written.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks a PROPPATCH body (already through [`super::xml::check`]) against the caps
/// before anything acts on it: how many properties, how long their names, how large
/// each value as it would be stored. A body that is not a `propertyupdate` is left to
/// dav-server to refuse.
pub fn check_patch(body: &[u8]) -> Result<(), DavError> {
    let Ok(root) = Element::parse(Cursor::new(body)) else { return Ok(()) };
    if root.name != "propertyupdate" {
        return Ok(());
    }
    let mut tally = Tally::default();
    for action in root.children.iter().filter_map(|n| n.as_element()) {
        let set = action.name == "set";
        for prop in action.children.iter().filter_map(|n| n.as_element()).filter(|e| e.name == "prop") {
            for p in prop.children.iter().filter_map(|n| n.as_element()) {
                tally.add(p.namespace.as_deref().unwrap_or_default(), &p.name).map_err(Cap::refusal)?;
                if set {
                    let mut size = Counter(0);
                    p.write(&mut size).map_err(|_| DavError::bad_request("The property cannot be stored"))?;
                    if size.0 > MAX_VALUE {
                        return Err(Cap::Value.refusal());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Refuses, before anything is copied, a COPY of `from` (and all below it) to `to` that
/// would take user `owner` past [`MAX_USER_BYTES`]: what is copied counts against the
/// one who copies, less what of theirs the copy replaces.
pub async fn check_copy(store: &Store, root: &str, owner: &str, from: &str, to: &str) -> Result<(), DavError> {
    let failed = store_failure;
    let copied = store.dav_prop_tree_bytes(root, from, None).await.map_err(failed)?;
    if copied == 0 {
        return Ok(());
    }
    let used = store.dav_prop_usage(owner).await.map_err(failed)?;
    let replaced = store.dav_prop_tree_bytes(root, to, Some(owner)).await.map_err(failed)?;
    if used.saturating_sub(replaced).saturating_add(copied) > MAX_USER_BYTES {
        return Err(storage_full());
    }
    Ok(())
}

/// A stored property as dav-server wants it.
pub fn to_dav(p: &DeadProp, content: bool) -> DavProp {
    DavProp {
        name: p.name.clone(),
        prefix: (!p.prefix.is_empty()).then(|| p.prefix.clone()),
        namespace: (!p.namespace.is_empty()).then(|| p.namespace.clone()),
        xml: content.then(|| p.xml.clone().into_bytes()),
    }
}

/// A property from PROPPATCH as stored; `None` if its XML is not text.
pub fn from_dav(key: &str, p: &DavProp) -> Option<DeadProp> {
    let xml = String::from_utf8(p.xml.clone().unwrap_or_default()).ok()?;
    Some(DeadProp {
        path: key.to_owned(),
        namespace: p.namespace.clone().unwrap_or_default(),
        name: p.name.clone(),
        prefix: p.prefix.clone().unwrap_or_default(),
        xml,
    })
}

/// Properties no one may set: names in the namespaces XML reserves for itself
/// (Namespaces in XML 1.0 §3). Stored, they would make every later answer invalid.
pub fn is_reserved(p: &DavProp) -> bool {
    const RESERVED: [&str; 2] = ["http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2000/xmlns/"];
    let prefix = p.prefix.as_deref().unwrap_or_default();
    RESERVED.contains(&p.namespace.as_deref().unwrap_or_default())
        || prefix.eq_ignore_ascii_case("xml")
        || prefix.eq_ignore_ascii_case("xmlns")
        || p.name.contains(':')
}

/// Whether stored property `p` is the one dav-server names.
pub fn same(p: &DeadProp, want: &DavProp) -> bool {
    p.name == want.name && p.namespace == want.namespace.clone().unwrap_or_default()
}

/// A database failure before anything acted: 503 (logged).
pub fn store_failure(e: crate::store::StoreError) -> DavError {
    tracing::error!(error = %e, "cannot read WebDAV properties or locks");
    DavError::new(StatusCode::SERVICE_UNAVAILABLE, "The property store cannot be read")
}

/// Database failures become a server error (logged), never a panic.
pub fn db_error(e: crate::store::StoreError) -> FsError {
    tracing::error!(error = %e, "WebDAV property or lock store failed");
    FsError::GeneralFailure
}
