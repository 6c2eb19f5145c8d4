//! Hostile and unusual WebDAV input (issue 10): bodies nested far beyond any stack,
//! PROPFIND depths, and stored properties in odd namespaces — the server answers each
//! with a clear 4xx or a well-formed, namespace-valid multistatus, and lives on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::{Db, TestApp, spawn};
use futures_util::StreamExt as _;
use reqwest::StatusCode;
use webdav_util::{bob, dav_user};

async fn send(t: &TestApp, method: &str, path: &str, headers: &[(&str, &str)], body: String) -> (u16, String) {
    let mut req = bob(t, method, path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.body(body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn still_answers(t: &TestApp) {
    let status = t.client.get(t.url("/api/v1/status")).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    let (code, text) = send(t, "PROPFIND", "/originals/", &[("depth", "1")], String::new()).await;
    assert_eq!(code, 207, "{text}");
}

async fn deeply_nested_bodies_are_refused_and_the_server_lives(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    for method in ["PROPFIND", "PROPPATCH", "LOCK"] {
        // 20,000 levels in 60 KB: ten times what overflowed a worker's stack.
        for (open, close) in [("<a>", "</a>"), ("<D:a xmlns:D=\"DAV:\">", "</D:a>"), ("<a>", "")] {
            let levels = (60_000 / (open.len() + close.len())).min(20_000);
            assert!(levels > 2_000);
            let body = format!("{}{}", open.repeat(levels), close.repeat(levels));
            let (code, text) = send(&t, method, "/originals/", &[("depth", "0")], body).await;
            if open.contains("xmlns") {
                // A declaration at every level is refused for its declarations, counted
                // in the bytes before any parsing (413), which is cheaper still.
                assert_eq!(code, 413, "{method} {open}: {text}");
                assert!(text.contains("too-many-namespaces"), "{text}");
            } else {
                assert_eq!(code, 400, "{method} {open}: {text}");
            }
            assert!(text.contains("<D:error"), "{text}");
        }
        // Deeper still: refused for its size, before any parsing. (Small enough for the
        // loopback buffers to take whole, so the answer is not lost to a reset.)
        let body = "<a>".repeat(40_000);
        let (code, _) = send(&t, method, "/originals/", &[("depth", "0")], body).await;
        assert_eq!(code, 413, "{method}");
        // Entity expansion (a DTD) is refused outright.
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE D:propfind [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><D:propfind xmlns:D="DAV:"><D:prop><D:x>&b;</D:x></D:prop></D:propfind>"#;
        let (code, _) = send(&t, method, "/originals/", &[("depth", "0")], laughs.into()).await;
        assert_eq!(code, 400, "{method}");
        still_answers(&t).await;
    }
}

async fn propfind_depth_follows_rfc4918(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    assert_eq!(bob(&t, "PUT", "/originals/f.txt").body("12345").send().await.unwrap().status(), 201);
    // No Depth means infinity: a file's own properties…
    let (code, text) = send(&t, "PROPFIND", "/originals/f.txt", &[], String::new()).await;
    assert_eq!(code, 207, "{text}");
    assert!(text.contains("<D:getcontentlength>5</D:getcontentlength>"), "{text}");
    // …and on a folder, its entries, as Nextcloud answers (issue 19: "Answer a folder's
    // PROPFIND without Depth (or with `infinity`) as Nextcloud's server does: as Depth
    // 1, bounded and streamed, never the whole tree").
    assert_eq!(bob(&t, "MKCOL", "/originals/sub/").send().await.unwrap().status(), 201);
    assert_eq!(bob(&t, "PUT", "/originals/sub/deep.txt").body("x").send().await.unwrap().status(), 201);
    let (_, depth_one) = send(&t, "PROPFIND", "/originals/", &[("depth", "1")], String::new()).await;
    for headers in [&[][..], &[("depth", "infinity")][..], &[("depth", "Infinity")][..]] {
        let (code, text) = send(&t, "PROPFIND", "/originals/", headers, String::new()).await;
        assert_eq!(code, 207, "{headers:?}");
        assert_eq!(text.matches("<D:response>").count(), 3, "the folder, f.txt and sub/: {text}");
        assert!(!text.contains("deep.txt"), "never below the first level: {text}");
        assert_eq!(text.matches("<D:href>").count(), depth_one.matches("<D:href>").count());
    }
    for bad in ["2", "one", "", "0,1", "-1"] {
        let (code, text) = send(&t, "PROPFIND", "/originals/", &[("depth", bad)], String::new()).await;
        assert_eq!(code, 400, "Depth {bad:?}: {text}");
    }
}

/// Every element in `xml` (namespace-aware parse: an unbound prefix fails it).
fn parse(xml: &str) -> xmltree::Element {
    xmltree::Element::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("not namespace-valid XML ({e}): {xml}"))
}

/// The (namespace, name) of the properties in the propstats of `resp` with `status`.
fn props_with_status(ms: &xmltree::Element, status: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for resp in ms.children.iter().filter_map(|n| n.as_element()) {
        for ps in resp.children.iter().filter_map(|n| n.as_element()).filter(|e| e.name == "propstat") {
            let st = ps.get_child(("status", "DAV:")).and_then(|s| s.get_text()).unwrap_or_default().into_owned();
            if !st.contains(status) {
                continue;
            }
            if let Some(prop) = ps.get_child(("prop", "DAV:")) {
                for p in prop.children.iter().filter_map(|n| n.as_element()) {
                    out.push((p.namespace.clone().unwrap_or_default(), p.name.clone()));
                }
            }
        }
    }
    out
}

async fn multistatus_is_namespace_valid_whatever_was_stored(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    assert_eq!(bob(&t, "MKCOL", "/originals/d").send().await.unwrap().status(), 201);
    assert_eq!(bob(&t, "PUT", "/originals/d/f.txt").body("x").send().await.unwrap().status(), 201);
    let patch = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>
        <plain xmlns="">no namespace</plain>
        <y xmlns="urn:y">default <b>nested</b></y>
        <Z:q xmlns:Z="urn:q" Z:attr="a&quot;b">&lt;&amp;&gt;</Z:q>
        <D:displayname>Shown &amp; named</D:displayname>
        </D:prop></D:set></D:propertyupdate>"#;
    for path in ["/originals/d", "/originals/d/f.txt"] {
        let (code, text) = send(&t, "PROPPATCH", path, &[], patch.into()).await;
        assert_eq!(code, 207, "{text}");
        let ms = parse(&text);
        assert_eq!(props_with_status(&ms, "200").len(), 4, "{text}");
    }
    // Reserved namespaces cannot be set (they would make every later answer invalid).
    for reserved in [
        r#"<xml:lang>x</xml:lang>"#,
        r#"<X:p xmlns:X="http://www.w3.org/2000/xmlns/">x</X:p>"#,
        r#"<p xmlns="http://www.w3.org/XML/1998/namespace">x</p>"#,
    ] {
        let body = format!(
            r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>{reserved}<ok xmlns="urn:ok">1</ok></D:prop></D:set></D:propertyupdate>"#
        );
        let (code, text) = send(&t, "PROPPATCH", "/originals/d/f.txt", &[], body).await;
        assert!(code == 400 || code == 207, "{reserved}: {code} {text}");
        if code == 207 {
            let ms = parse(&text);
            assert!(props_with_status(&ms, "200").is_empty(), "{reserved}: {text}");
        }
    }
    // Every way of asking: the fast path (Depth 0/1, allprop or named) and dav-server's
    // (propname, unknown DAV: properties, a locked resource).
    let named = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><plain xmlns=""/><y xmlns="urn:y"/><Z:q xmlns:Z="urn:q"/><U:nothing xmlns:U="urn:u"/><none xmlns=""/></D:prop></D:propfind>"#;
    let named_dav = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:no-such-live/><plain xmlns=""/><U:nothing xmlns:U="urn:u"/><none xmlns=""/></D:prop></D:propfind>"#;
    let bodies = [
        String::new(),
        r#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#.to_owned(),
        r#"<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>"#.to_owned(),
        named.to_owned(),
        named_dav.to_owned(),
    ];
    let check = |text: &str, body: &str| {
        let ms = parse(text);
        let found = props_with_status(&ms, "200");
        if body.contains("allprop") || body.is_empty() {
            assert!(found.contains(&(String::new(), "plain".into())), "{text}");
            assert!(found.contains(&("urn:q".into(), "q".into())), "{text}");
        }
        if body.contains("urn:u") {
            let missing = props_with_status(&ms, "404");
            assert!(missing.contains(&("urn:u".into(), "nothing".into())), "{text}");
            assert!(missing.contains(&(String::new(), "none".into())), "{text}");
            assert!(found.contains(&(String::new(), "plain".into())), "{text}");
            if body.contains("no-such-live") {
                assert!(missing.contains(&("DAV:".into(), "no-such-live".into())), "{text}");
            }
        }
    };
    for locked in [false, true] {
        if locked {
            let lock = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;
            let (code, text) = send(&t, "LOCK", "/originals/d", &[("depth", "infinity")], lock.into()).await;
            assert_eq!(code, 200, "{text}");
        }
        for body in &bodies {
            for (path, depth) in [("/originals/d", "0"), ("/originals/d", "1"), ("/originals/d/f.txt", "0")] {
                let (code, text) = send(&t, "PROPFIND", path, &[("depth", depth)], body.clone()).await;
                assert_eq!(code, 207, "{path} {depth} {body}: {text}");
                check(&text, body);
            }
        }
    }
}

async fn a_folder_of_thousands_answers_every_entry_in_one_valid_multistatus(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    webdav_util::make_dir(&t, "originals/many").await;
    const FILES: usize = 2_500; // more than two of the answer's batches
    let writes = (0..FILES).map(|i| {
        let t = &t;
        async move {
            webdav_util::write_file(t, &format!("originals/many/photo {i:04}.jpg"), i.to_string().as_bytes()).await
        }
    });
    futures_util::stream::iter(writes).buffer_unordered(16).collect::<Vec<()>>().await;
    let patch = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:tag xmlns:Z="urn:z">t</Z:tag></D:prop></D:set></D:propertyupdate>"#;
    let (code, text) = send(&t, "PROPPATCH", "/originals/many/photo%201999.jpg", &[], patch.into()).await;
    assert_eq!(code, 207, "{text}");
    let body = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><Z:tag xmlns:Z="urn:z"/><U:nothing xmlns:U="urn:u"/></D:prop></D:propfind>"#;
    let (code, text) = send(&t, "PROPFIND", "/originals/many/", &[("depth", "1")], body.into()).await;
    assert_eq!(code, 207);
    let ms = parse(&text);
    let responses: Vec<_> = ms.children.iter().filter_map(|n| n.as_element()).collect();
    assert_eq!(responses.len(), FILES + 1);
    let missing = props_with_status(&ms, "404");
    assert_eq!(missing.iter().filter(|(ns, n)| ns == "urn:u" && n == "nothing").count(), FILES + 1);
    let found = props_with_status(&ms, "200");
    assert_eq!(found.iter().filter(|(ns, _)| ns == "urn:z").count(), 1, "the one stored property");
    assert_eq!(found.iter().filter(|(_, n)| n == "getcontentlength").count(), FILES);
}

/// The status and the whole text of the answer to a raw request.
async fn raw_answer(t: &TestApp, head: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(20), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no answer: {text:?}"));
    (code, text)
}

/// Found by the black-box attack: `Transfer-Encoding: gzip, chunked` was taken, and
/// the still-compressed bytes stored as the file. Only `chunked` frames a body (else
/// 501), on WebDAV and on the API, before anything reads the body, and nothing is
/// written.
async fn only_chunked_alone_frames_a_body(db: Db) {
    let t = spawn(db).await;
    dav_user(&t).await;
    let chunked = b"5\r\nhello\r\n0\r\n\r\n";
    let cases = [
        ("Transfer-Encoding: gzip, chunked\r\n", 501),
        ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 501),
    ];
    for (framing, status) in cases {
        let head =
            webdav_util::raw_head(&t, "PUT", "/originals/framed.txt", &format!("{framing}Connection: close\r\n"));
        let (code, text) = raw_answer(&t, &head, chunked).await;
        assert_eq!(code, status, "{framing}");
        assert!(text.contains("<D:error"), "WebDAV refuses in RFC 4918 XML: {text}");
        let api = format!(
            "POST /api/v1/session HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{framing}Connection: close\r\n\r\n",
            t.addr
        );
        let (code, text) = raw_answer(&t, &api, chunked).await;
        assert_eq!(code, status, "API {framing}");
        assert!(text.contains("\"error\""), "the API refuses in JSON: {text}");
    }
    assert_eq!(bob(&t, "GET", "/originals/framed.txt").send().await.unwrap().status(), 404, "nothing was written");
    let head = webdav_util::raw_head(
        &t,
        "PUT",
        "/originals/framed.txt",
        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
    );
    assert_eq!(webdav_util::raw_status(&t, &head, chunked).await, 201, "chunked alone is fine");
    assert_eq!(bob(&t, "GET", "/originals/framed.txt").send().await.unwrap().text().await.unwrap(), "hello");
}

on_every_backend!(
    only_chunked_alone_frames_a_body,
    a_folder_of_thousands_answers_every_entry_in_one_valid_multistatus,
    deeply_nested_bodies_are_refused_and_the_server_lives,
    propfind_depth_follows_rfc4918,
    multistatus_is_namespace_valid_whatever_was_stored,
);
