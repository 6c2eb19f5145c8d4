//! What a PROPFIND answer lists, and whether it is what the model says an account may
//! see there.

use std::collections::BTreeMap;

use super::{Holder, Library, Standing, join};

/// The entries of a PROPFIND answer: path (relative to `/originals`) and last-modified.
pub fn entries(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let root = xmltree::Element::parse(body).map_err(|e| format!("not XML: {e}"))?;
    let mut out = BTreeMap::new();
    for resp in root.children.iter().filter_map(|c| c.as_element()).filter(|e| e.name == "response") {
        let href = resp.get_child("href").and_then(|h| h.get_text()).unwrap_or_default().into_owned();
        let path = href.split_once("/originals").map(|(_, p)| p.trim_matches('/').to_owned());
        let path = path.ok_or_else(|| format!("an entry outside /originals: {href}"))?;
        let modified = resp
            .children
            .iter()
            .filter_map(|c| c.as_element())
            .filter_map(|ps| ps.get_child("prop")?.get_child("getlastmodified")?.get_text())
            .next()
            .unwrap_or_default()
            .into_owned();
        out.insert(path, modified);
    }
    Ok(out)
}

/// A Depth 1 listing of `dir` shows exactly what the model says `h` may see there, and
/// of the folders above its grants, no time of anyone's changes.
pub fn check_listing(lib: &Library, h: &Holder, dir: &str, body: &[u8]) -> Result<(), String> {
    let got = entries(body)?;
    let mut want: Vec<String> = vec![dir.to_owned()];
    want.extend(lib.children(dir).into_iter().map(|n| join(dir, &n)).filter(|p| h.standing(p) != Standing::Outside));
    want.sort();
    let shown: Vec<String> = got.keys().cloned().collect();
    if shown != want {
        return Err(format!("listing of /originals/{dir} shows {shown:?}, the model {want:?}"));
    }
    for (p, modified) in &got {
        if h.standing(p) == Standing::Above && !modified.contains("1970") {
            return Err(format!("{p} above the grants shows the time {modified}"));
        }
    }
    Ok(())
}
