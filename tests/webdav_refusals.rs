//! A refused WebDAV request changes nothing (issue 10, docs/design.md, "Errors and bad input"): a table over every
//! method and every refusal reason — permission, lock, library root, bad Destination,
//! bad header or body — each checked against a snapshot of the library on disk and of
//! the property and lock tables, which must be identical before and after.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::{Db, TestApp, spawn};
use reqwest::StatusCode;
use serde_json::json;
use webdav_util::{DAV_PASSWORD, DAV_USER, app_password, dav, dav_user};

/// Everything a request could change: files (contents, mode, mtime), folders, dead
/// properties and locks.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    files: Vec<FileRow>,
    props: Vec<(String, String, String, String, String, String)>,
    locks: Vec<LockRow>,
}

/// A path, and for a file its contents, mode and modification time.
type FileRow = (String, Option<(Vec<u8>, u32, i64)>);
type LockRow = (String, String, String, Option<String>, Option<String>, Option<i64>, Option<i64>, i64, i64);

fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<FileRow>) {
    use std::os::unix::fs::MetadataExt as _;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.push((format!("{rel}/"), None));
            walk(root, &path, out);
        } else {
            out.push((
                rel,
                Some((std::fs::read(&path).unwrap(), meta.mode(), meta.mtime_nsec() + meta.mtime() * 1_000_000_000)),
            ));
        }
    }
}

async fn snapshot(t: &TestApp) -> Snapshot {
    let mut files = Vec::new();
    if common::backend() == common::Backend::Folder {
        walk(&t.data_dir, &t.data_dir.join("originals"), &mut files);
        walk(&t.data_dir, &t.data_dir.join("import"), &mut files);
    } else {
        for (path, file) in webdav_util::snapshot(t).await {
            let at = |m: std::time::SystemTime| m.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
            match file {
                None => files.push((format!("{path}/"), None)),
                Some((data, modified)) => files.push((path, Some((data, 0, at(modified))))),
            }
        }
    }
    files.sort();
    let pool = t.app.store.pool();
    let props = sqlx::query_as("SELECT root, path, namespace, name, prefix, xml FROM dav_props ORDER BY 1, 2, 3, 4")
        .fetch_all(pool)
        .await
        .unwrap();
    let locks = sqlx::query_as(
        "SELECT token, root, path, principal, owner, timeout_secs, expires_at, shared, deep FROM dav_locks ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    Snapshot { files, props, locks }
}

const CAROL: &str = "carol";
const CAROL_PASSWORD: &str = "carol-password-1";

/// A library with files, folders, a dead property and two of carol's locks; the
/// tokens of those locks.
async fn furnish(t: &TestApp) -> (String, String) {
    dav_user(t).await;
    t.create_user(CAROL, CAROL_PASSWORD, json!({ "webdav": true })).await;
    webdav_util::whole_library(t, CAROL).await;
    t.create_user("dave", "dave-password-1", json!({ "webdav": false })).await;
    let bob = |m: &str, p: &str| dav(t, m, p, DAV_USER, DAV_PASSWORD);
    for folder in ["/originals/keep", "/originals/keep/sub", "/originals/lockdir"] {
        assert_eq!(bob("MKCOL", folder).send().await.unwrap().status(), 201, "{folder}");
    }
    for file in ["/originals/top.txt", "/originals/keep/a.txt", "/originals/keep/sub/b.txt", "/originals/locked.txt"] {
        assert_eq!(bob("PUT", file).body(format!("content of {file}")).send().await.unwrap().status(), 201);
    }
    assert_eq!(bob("PUT", "/originals/lockdir/c.txt").body("c").send().await.unwrap().status(), 201);
    assert_eq!(bob("PUT", "/import/i.txt").body("i").send().await.unwrap().status(), 201);
    let patch = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:tag>kept</Z:tag></D:prop></D:set></D:propertyupdate>"#;
    assert_eq!(bob("PROPPATCH", "/originals/keep").body(patch).send().await.unwrap().status(), 207);
    let lock = |path: &'static str, depth: &'static str| async move {
        let body = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>carol</D:owner></D:lockinfo>"#;
        let r = dav(t, "LOCK", path, CAROL, CAROL_PASSWORD).header("depth", depth).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200, "LOCK {path}");
        r.headers()["lock-token"].to_str().unwrap().trim_matches(['<', '>']).to_owned()
    };
    (lock("/originals/locked.txt", "0").await, lock("/originals/lockdir", "infinity").await)
}

/// One refused request: who sends it, the method, path, headers and body, and the
/// status it must get.
struct Case {
    who: (&'static str, String),
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
    status: u16,
}

fn case(who: (&'static str, &str), method: &'static str, path: &str, status: u16) -> Case {
    Case { who: (who.0, who.1.to_owned()), method, path: path.to_owned(), headers: vec![], body: String::new(), status }
}

impl Case {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }
    fn dest(self, path: &str) -> Case {
        self.header("destination", path.to_owned())
    }
    fn body(mut self, body: impl Into<String>) -> Case {
        self.body = body.into();
        self
    }
}

const PROPPATCH: &str = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:tag>changed</Z:tag></D:prop></D:set></D:propertyupdate>"#;
const LOCKINFO: &str = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;

/// A PROPPATCH that sets only a file's time (answered by gatehouse, not dav-server).
const TIME_PATCH: &str = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:lastmodified>1600000000</D:lastmodified></D:prop></D:set></D:propertyupdate>"#;
/// A lock token no lock ever had.
const UNKNOWN_TOKEN: &str = "urn:uuid:00000000-0000-4000-8000-000000000000";

/// The token of a lock bob took on `/originals/top.txt` and released.
async fn released_token(t: &TestApp) -> String {
    let r = dav(t, "LOCK", "/originals/top.txt", DAV_USER, DAV_PASSWORD).body(LOCKINFO).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = r.headers()["lock-token"].to_str().unwrap().trim_matches(['<', '>']).to_owned();
    let r = dav(t, "UNLOCK", "/originals/top.txt", DAV_USER, DAV_PASSWORD)
        .header("lock-token", format!("<{token}>"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    token
}

/// Writes whose `If` names a lock token that is not live, or an entity tag that is not
/// the resource's, and time-only PROPPATCHes whose HTTP preconditions fail: 412
/// (RFC 4918 §10.4, issue 18: "stale and unknown lock tokens in `If` give 412; every
/// write, time-only PROPPATCH included, honours `If-Match`, `If-Unmodified-Since` and `If`").
fn precondition_cases(stale: &str) -> Vec<Case> {
    let bob = (DAV_USER, DAV_PASSWORD);
    let stale_list = format!("(<{stale}>)");
    let unknown = format!("(<{UNKNOWN_TOKEN}>)");
    vec![
        case(bob, "PUT", "/originals/top.txt", 412).header("if", &stale_list).body("x"),
        case(bob, "PUT", "/originals/new.txt", 412).header("if", &unknown).body("x"),
        case(bob, "PUT", "/originals/top.txt", 412)
            .header("if", format!("</originals/top.txt> {stale_list}"))
            .body("x"),
        case(bob, "PUT", "/originals/top.txt", 412).header("if", r#"([""not-its-tag""])"#).body("x"),
        case(bob, "DELETE", "/originals/keep", 412).header("if", &stale_list),
        case(bob, "MOVE", "/originals/top.txt", 412).dest("/originals/t2.txt").header("if", &unknown),
        case(bob, "COPY", "/originals/top.txt", 412).dest("/originals/t2.txt").header("if", &stale_list),
        case(bob, "MKCOL", "/originals/newdir", 412).header("if", &unknown),
        case(bob, "PROPPATCH", "/originals/keep", 412).header("if", &stale_list).body(PROPPATCH),
        case(bob, "PROPPATCH", "/originals/top.txt", 412).header("if", &stale_list).body(TIME_PATCH),
        case(bob, "LOCK", "/originals/top.txt", 412).header("if", &stale_list).body(LOCKINFO),
        case(bob, "LOCK", "/originals/top.txt", 412).header("if", &stale_list),
        case(bob, "PROPPATCH", "/originals/top.txt", 412).header("if-match", "\"not-its-tag\"").body(TIME_PATCH),
        case(bob, "PROPPATCH", "/originals/top.txt", 412).header("if-none-match", "*").body(TIME_PATCH),
        case(bob, "PROPPATCH", "/originals/top.txt", 412)
            .header("if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT")
            .body(TIME_PATCH),
        // A time-only PROPPATCH of a file carol locked, without her token.
        case(bob, "PROPPATCH", "/originals/locked.txt", 423).body(TIME_PATCH),
    ]
}

fn cases(read_only: &str, carol_file: &str, carol_dir: &str) -> Vec<Case> {
    let bob = (DAV_USER, DAV_PASSWORD);
    let ro = (DAV_USER, read_only);
    let dave = ("dave", "dave-password-1");
    let mut all = Vec::new();
    // Permission: a read-only credential, a user without WebDAV, a wrong password.
    for who in [ro, dave] {
        let status = 403;
        all.extend([
            case(who, "PUT", "/originals/top.txt", status).body("overwritten"),
            case(who, "PUT", "/originals/new.txt", status).body("new"),
            case(who, "DELETE", "/originals/keep", status),
            case(who, "DELETE", "/originals/top.txt", status),
            case(who, "MKCOL", "/originals/newdir", status),
            case(who, "COPY", "/originals/keep", status).dest("/originals/keep2"),
            case(who, "MOVE", "/originals/keep", status).dest("/originals/keep2"),
            case(who, "PROPPATCH", "/originals/keep", status).body(PROPPATCH),
            case(who, "LOCK", "/originals/top.txt", status).body(LOCKINFO),
            case(who, "UNLOCK", "/originals/locked.txt", status).header("lock-token", format!("<{carol_file}>")),
        ]);
    }
    all.push(case((DAV_USER, "wrong-password"), "DELETE", "/originals/keep", 401));
    // Locks held by carol.
    let token = |t: &str| format!("(<{t}>)");
    all.extend([
        case(bob, "PUT", "/originals/locked.txt", 423).body("x"),
        case(bob, "DELETE", "/originals/locked.txt", 423),
        case(bob, "DELETE", "/originals/lockdir", 423),
        case(bob, "MOVE", "/originals/lockdir", 423).dest("/originals/moved"),
        case(bob, "MOVE", "/originals/top.txt", 423).dest("/originals/locked.txt"),
        case(bob, "COPY", "/originals/top.txt", 423).dest("/originals/lockdir/new.txt"),
        case(bob, "PROPPATCH", "/originals/locked.txt", 423).body(PROPPATCH),
        case(bob, "MKCOL", "/originals/lockdir/new", 423),
        case(bob, "PUT", "/originals/lockdir/c.txt", 423).body("x"),
        case(bob, "LOCK", "/originals/locked.txt", 423).body(LOCKINFO),
        // Her tokens do not work for bob: not to write, not to unlock, not to refresh.
        case(bob, "UNLOCK", "/originals/locked.txt", 403).header("lock-token", format!("<{carol_file}>")),
        case(bob, "UNLOCK", "/originals/lockdir", 403).header("lock-token", format!("<{carol_dir}>")),
        case(bob, "PUT", "/originals/locked.txt", 403).header("if", token(carol_file)).body("x"),
        case(bob, "DELETE", "/originals/lockdir", 403).header("if", token(carol_dir)),
        case(bob, "LOCK", "/originals/locked.txt", 403).header("if", token(carol_file)),
        case(bob, "PROPPATCH", "/originals/locked.txt", 403).header("if", token(carol_file)).body(PROPPATCH),
    ]);
    // Library roots, in every spelling.
    for root in ["/originals", "/originals/", "/import", "/import/"] {
        let lib = root.trim_end_matches('/');
        all.extend([
            case(bob, "DELETE", root, 403),
            case(bob, "MOVE", root, 403).dest(&format!("{lib}/moved")),
            case(bob, "COPY", root, 403).dest(&format!("{lib}/copy")),
        ]);
    }
    all.extend([
        case(bob, "MOVE", "/originals/keep", 403).dest("/originals/"),
        case(bob, "MOVE", "/originals/keep", 403).dest("/originals"),
        case(bob, "COPY", "/originals/top.txt", 403).dest("/originals/"),
        case(bob, "MOVE", "/originals/keep", 403).dest("/originals/keep/sub/inside"),
        case(bob, "COPY", "/originals/keep", 403).dest("/originals/keep/sub"),
        case(bob, "MOVE", "/originals/top.txt", 403).dest("/originals/top.txt"),
        case(bob, "COPY", "/originals/keep/", 403).dest("/originals/keep"),
    ]);
    // Bad Destination.
    all.extend([
        case(bob, "MOVE", "/originals/keep", 502).dest("http://evil.example/originals/x"),
        case(bob, "COPY", "/originals/keep", 403).dest("/import/keep"),
        case(bob, "MOVE", "/originals/keep", 403).dest("/etc/keep"),
        case(bob, "MOVE", "/originals/keep", 400).dest("/originals/../keep"),
        case(bob, "MOVE", "/originals/keep", 400).dest("not a url"),
        case(bob, "MOVE", "/originals/keep", 400),
        case(bob, "COPY", "/originals/top.txt", 412).dest("/originals/keep/a.txt").header("overwrite", "F"),
    ]);
    // Bad headers and bodies.
    all.extend([
        case(bob, "DELETE", "/originals/keep", 400).header("depth", "0"),
        case(bob, "DELETE", "/originals/keep", 400).header("depth", "2"),
        case(bob, "MOVE", "/originals/keep", 400).header("depth", "0").dest("/originals/k2"),
        case(bob, "COPY", "/originals/keep", 400).header("depth", "1").dest("/originals/k2"),
        case(bob, "PUT", "/originals/top.txt", 400).header("if", "garbage").body("x"),
        case(bob, "DELETE", "/originals/keep", 400).header("if", "(<unclosed"),
        case(bob, "PUT", "/originals/top.txt", 400).header("x-oc-mtime", "yesterday").body("x"),
        case(bob, "UNLOCK", "/originals/locked.txt", 400).header("lock-token", carol_file.to_owned()),
        case(bob, "UNLOCK", "/originals/locked.txt", 400),
        case(bob, "PROPPATCH", "/originals/keep", 400).body("<not-xml"),
        case(bob, "PROPPATCH", "/originals/keep", 400).body(format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000))),
        case(bob, "LOCK", "/originals/top.txt", 400).body("<D:lockinfo xmlns:D=\"DAV:\">"),
        case(bob, "LOCK", "/originals/top.txt", 413).body("<a>".repeat(30_000)),
        case(bob, "MKCOL", "/originals/withbody", 415).body("<x/>"),
        case(bob, "MKCOL", "/originals/missing/child", 409),
        case(bob, "MKCOL", "/originals/keep", 405),
        case(bob, "PUT", "/originals/top.txt/below", 409).body("x"),
    ]);
    all
}

async fn a_refused_request_changes_nothing(db: Db) {
    let t = spawn(db).await;
    let (carol_file, carol_dir) = furnish(&t).await;
    let read_only = app_password(&t, "read webdav").await;
    let stale = released_token(&t).await;
    let before = snapshot(&t).await;
    assert!(before.files.len() == 9 && before.props.len() == 1 && before.locks.len() == 2, "{before:?}");
    for c in cases(&read_only, &carol_file, &carol_dir).into_iter().chain(precondition_cases(&stale)) {
        let mut req = dav(&t, c.method, &c.path, c.who.0, &c.who.1);
        for (name, value) in &c.headers {
            req = req.header(*name, value);
        }
        let resp = req.body(c.body.clone()).send().await.unwrap();
        let what = format!("{} {} {:?} as {}", c.method, c.path, c.headers, c.who.0);
        let status = resp.status();
        let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        assert_eq!(status.as_u16(), c.status, "{what}: {text}");
        assert!(content_type.as_deref().unwrap_or("").starts_with("application/xml"), "{what}: {content_type:?}");
        assert!(text.contains("<D:error") && text.contains(r#"xmlns:D="DAV:""#), "{what}: {text}");
        assert_eq!(snapshot(&t).await, before, "{what} changed something");
    }
    // The same requests by their owners do change things: the table is not vacuous.
    let r = dav(&t, "UNLOCK", "/originals/locked.txt", CAROL, CAROL_PASSWORD)
        .header("lock-token", format!("<{carol_file}>"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = dav(&t, "DELETE", "/originals/keep", DAV_USER, DAV_PASSWORD).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(webdav_util::kind(&t, "originals/keep").await, None);
    assert_ne!(snapshot(&t).await, before);
}

async fn locks_belong_to_their_owner_and_admins_may_break_them(db: Db) {
    let t = spawn(db).await;
    let (carol_file, carol_dir) = furnish(&t).await;
    // Carol writes through her own lock and refreshes it.
    let r = dav(&t, "PUT", "/originals/locked.txt", CAROL, CAROL_PASSWORD)
        .header("if", format!("(<{carol_file}>)"))
        .body("carol's")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = dav(&t, "LOCK", "/originals/locked.txt", CAROL, CAROL_PASSWORD)
        .header("if", format!("(<{carol_file}>)"))
        .header("timeout", "Second-600")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Bob cannot remove it; an admin can (and it is gone for everyone).
    let unlock = |who: &'static str, pw: &'static str, token: String| {
        dav(&t, "UNLOCK", "/originals/lockdir", who, pw).header("lock-token", format!("<{token}>")).send()
    };
    assert_eq!(unlock(DAV_USER, DAV_PASSWORD, carol_dir.clone()).await.unwrap().status(), 403);
    t.sql("UPDATE users SET webdav = 1").await;
    assert_eq!(unlock("admin", common::ADMIN_PASSWORD, carol_dir.clone()).await.unwrap().status(), 204);
    let r = dav(&t, "PUT", "/originals/lockdir/c.txt", DAV_USER, DAV_PASSWORD).body("bob's").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // An admin still cannot write through another's lock.
    let r = dav(&t, "PUT", "/originals/locked.txt", "admin", common::ADMIN_PASSWORD)
        .header("if", format!("(<{carol_file}>)"))
        .body("admin's")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(webdav_util::read_file(&t, "originals/locked.txt").await.unwrap(), b"carol's");
}

async fn locks_belong_to_their_owner_across_instances(db: Db) {
    let t = spawn(db).await;
    let (carol_file, _) = furnish(&t).await;
    let other = t.sibling().await;
    let r = dav(&other, "UNLOCK", "/originals/locked.txt", DAV_USER, DAV_PASSWORD)
        .header("lock-token", format!("<{carol_file}>"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = dav(&other, "UNLOCK", "/originals/locked.txt", CAROL, CAROL_PASSWORD)
        .header("lock-token", format!("<{carol_file}>"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

on_every_backend!(
    a_refused_request_changes_nothing,
    locks_belong_to_their_owner_and_admins_may_break_them,
    locks_belong_to_their_owner_across_instances,
);
