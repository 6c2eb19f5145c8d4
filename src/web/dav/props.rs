//! Dead properties (PROPPATCH) for one request: kept in the database, read once per
//! folder — a PROPFIND Depth 1 asks for the folder and all its entries in one query.

use std::collections::{HashMap, HashSet};

use dav_server::fs::{DavProp, FsError, FsResult};

use super::library::parent_key;
use crate::store::{DavPropStore as _, DeadProp, Store};

/// What this request has read from the property table.
#[derive(Debug, Default)]
pub struct PropCache {
    /// Resources whose properties are known.
    known: HashSet<String>,
    /// Folders whose entries' properties are all known.
    listed: HashSet<String>,
    props: HashMap<String, Vec<DeadProp>>,
}

impl PropCache {
    /// The cached properties of `key`, if known.
    pub fn get(&self, key: &str) -> Option<Vec<DeadProp>> {
        if self.known.contains(key) || self.listed.contains(&parent_key(key)) {
            return Some(self.props.get(key).cloned().unwrap_or_default());
        }
        None
    }

    pub fn is_listed(&self, folder: &str) -> bool {
        self.listed.contains(folder)
    }

    /// Records a query's answer for `key` (and its entries, with `children`).
    pub fn fill(&mut self, key: &str, children: bool, rows: Vec<DeadProp>) {
        self.known.insert(key.to_owned());
        if children {
            self.listed.insert(key.to_owned());
        }
        for row in rows {
            self.props.entry(row.path.clone()).or_default().push(row);
        }
    }

    /// Forgets everything (after a change).
    pub fn clear(&mut self) {
        *self = PropCache::default();
    }
}

/// Loads the properties of `key` (and with `children`, of its entries).
pub async fn load(store: &Store, root: &str, key: &str, children: bool) -> FsResult<Vec<DeadProp>> {
    store.dav_props(root, key, children).await.map_err(db_error)
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

/// Database failures become a server error (logged), never a panic.
pub fn db_error(e: crate::store::StoreError) -> FsError {
    tracing::error!(error = %e, "WebDAV property or lock store failed");
    FsError::GeneralFailure
}
