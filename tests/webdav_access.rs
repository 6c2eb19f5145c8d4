//! Every account sees only its part of the library (issue 19, README "Who sees which
//! files"): a table over method × access level (none, read, append, write, above only)
//! on folder and S3 and both databases, in which every refusal changes nothing and, for
//! an account without access, answers the same whether or not the path exists; listings
//! above the grants; path spellings that must not get around the rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::{Db, TestApp, spawn};
use gatehouse::domain::access::Level;
use gatehouse::domain::policy::Actor;
use gatehouse::service::RequestMeta;
use serde_json::json;
use webdav_util::{dav, raw_head, raw_status};

const PASSWORD: &str = "member-password-1";

/// The accounts of the table: each has its home, and the row folders at one level.
const LEVELS: [&str; 5] = ["none", "read", "append", "write", "above"];

/// One row: a method on a path inside the row's folder (`{f}`), with headers; the
/// status for each of [`LEVELS`].
struct Row {
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    want: [u16; 5],
}

const LOCK_BODY: &str = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;
const PROPPATCH_BODY: &str = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:tag xmlns:x="urn:t">v</x:tag></D:prop></D:set></D:propertyupdate>"#;

#[rustfmt::skip]
const ROWS: &[Row] = &[
    //                                                                           none read append write above
    Row { method: "GET", path: "{f}/f.txt", headers: &[], body: "",                  want: [404, 200, 200, 200, 404] },
    Row { method: "HEAD", path: "{f}/f.txt", headers: &[], body: "",                 want: [404, 200, 200, 200, 404] },
    Row { method: "PROPFIND", path: "{f}/", headers: &[("depth", "1")], body: "",    want: [404, 207, 207, 207, 207] },
    Row { method: "PROPFIND", path: "{f}/f.txt", headers: &[("depth", "0")], body: "", want: [404, 207, 207, 207, 404] },
    Row { method: "PUT", path: "{f}/new.txt", headers: &[], body: "new",             want: [403, 403, 201, 201, 403] },
    Row { method: "PUT", path: "{f}/f.txt", headers: &[], body: "overwritten",       want: [403, 403, 403, 204, 403] },
    Row { method: "MKCOL", path: "{f}/newdir", headers: &[], body: "",               want: [403, 403, 201, 201, 403] },
    Row { method: "DELETE", path: "{f}/f.txt", headers: &[], body: "",               want: [403, 403, 403, 204, 403] },
    Row { method: "DELETE", path: "{f}/", headers: &[], body: "",                    want: [403, 403, 403, 204, 403] },
    Row { method: "MOVE", path: "{f}/f.txt", headers: &[("destination", "{f}/g.txt")], body: "", want: [403, 403, 403, 201, 403] },
    Row { method: "MOVE", path: "{f}/f.txt", headers: &[("destination", "{home}/moved.txt")], body: "", want: [403, 403, 403, 201, 403] },
    Row { method: "MOVE", path: "{home}/moving.txt", headers: &[("destination", "{f}/mine.txt")], body: "", want: [403, 403, 403, 201, 403] },
    Row { method: "COPY", path: "{f}/f.txt", headers: &[("destination", "{home}/copied.txt")], body: "", want: [404, 201, 201, 201, 404] },
    Row { method: "COPY", path: "{home}/mine.txt", headers: &[("destination", "{f}/mine.txt")], body: "", want: [403, 403, 201, 201, 403] },
    // A folder that only leads to a grant holds others' files: never copied out
    // (found by the black-box attack: the copy took every file below).
    Row { method: "COPY", path: "{f}/", headers: &[("destination", "{home}/loot/")], body: "", want: [404, 201, 201, 201, 403] },
    Row { method: "COPY", path: "{home}/mine.txt", headers: &[("destination", "{f}/f.txt")], body: "", want: [403, 403, 403, 204, 403] },
    Row { method: "PROPPATCH", path: "{f}/f.txt", headers: &[], body: PROPPATCH_BODY, want: [403, 403, 403, 207, 403] },
    Row { method: "LOCK", path: "{f}/f.txt", headers: &[("timeout", "Second-60")], body: LOCK_BODY, want: [403, 403, 403, 200, 403] },
    Row { method: "LOCK", path: "{f}/unmapped.txt", headers: &[("timeout", "Second-60")], body: LOCK_BODY, want: [403, 403, 201, 201, 403] },
    Row { method: "LOCK", path: "{f}/", headers: &[("timeout", "Second-60"), ("depth", "infinity")], body: LOCK_BODY, want: [403, 403, 403, 200, 403] },
];

fn user(level: &str) -> String {
    format!("u-{level}")
}

/// The folder of row `i` in the column of `level`: each cell has its own.
fn cell_folder(i: usize, level: &str) -> String {
    format!("/originals/r{i}-{level}")
}

/// The account, looked up as the store has it.
async fn account(t: &TestApp, name: &str) -> gatehouse::domain::user::User {
    use gatehouse::store::UserStore as _;
    t.app.store.user_by_name(name).await.unwrap().unwrap()
}

async fn grant(t: &TestApp, path: &str, username: &str, level: Level) {
    t.app.share_folder(Actor::Operator, path, username, level, &RequestMeta::local()).await.unwrap();
}

/// The accounts, one per level, and for every row a folder with `f.txt` and `sub/`
/// inside, and a file in each account's home.
async fn furnish(t: &TestApp) {
    for level in LEVELS {
        t.create_user(&user(level), PASSWORD, json!({ "webdav": true })).await;
        let home = format!("originals/{}", user(level));
        webdav_util::make_dir(t, &home).await;
        webdav_util::write_file(t, &format!("{home}/mine.txt"), b"mine").await;
        webdav_util::write_file(t, &format!("{home}/moving.txt"), b"moving").await;
    }
    for i in 0..ROWS.len() {
        for level in LEVELS {
            let f = cell_folder(i, level);
            webdav_util::make_dir(t, &f[1..]).await;
            webdav_util::make_dir(t, &format!("{}/sub", &f[1..])).await;
            webdav_util::write_file(t, &format!("{}/f.txt", &f[1..]), b"first").await;
            // Shares are read or write; append is an app password's level (the append
            // account's every request comes through one). "above" reaches only a
            // folder below the cell's; "none" nothing.
            let u = user(level);
            match level {
                "read" => grant(t, &f, &u, Level::Read).await,
                "append" | "write" => grant(t, &f, &u, Level::Write).await,
                "above" => grant(t, &format!("{f}/sub"), &u, Level::Write).await,
                _ => {}
            }
        }
    }
}

/// The append account's credential: an app password limited to append on the library.
async fn append_password(t: &TestApp) -> String {
    use gatehouse::domain::access::{FolderPath, Grant};
    let u = user("append");
    let account = account(t, &u).await;
    let limit = Grant::new(FolderPath::root(), Level::Append);
    let meta = gatehouse::service::RequestMeta::local();
    let issued = t.app.create_app_password(&account, "phone", "webdav", Some(limit), 0, "test", &meta).await.unwrap();
    issued.secret
}

fn fill(s: &str, i: usize, level: &str) -> String {
    s.replace("{f}", &cell_folder(i, level)).replace("{home}", &format!("/originals/{}", user(level)))
}

/// `row` with its file swapped for one that does not exist, and for an account without
/// access, its folder too.
fn absent(row: &Row, level: &str) -> Row {
    let swap = |s: &'static str| -> &'static str {
        let s = s.replace("f.txt", "absent.txt");
        let s = if level == "none" { s.replace("{f}", "{f}-absent") } else { s };
        Box::leak(s.into_boxed_str())
    };
    let headers: Vec<(&'static str, &'static str)> =
        row.headers.iter().map(|(n, v)| (*n, if *n == "destination" { swap(v) } else { *v })).collect();
    Row {
        method: row.method,
        path: swap(row.path),
        headers: Box::leak(headers.into_boxed_slice()),
        body: row.body,
        want: row.want,
    }
}

/// Sends `row` as the account of `level`, on the folder of cell `i`.
async fn send(t: &TestApp, row: &Row, i: usize, level: &str, password: &str) -> (u16, String) {
    let username = user(level);
    let mut req = dav(t, row.method, &fill(row.path, i, level), &username, password);
    for (name, value) in row.headers {
        let value = if *name == "destination" { t.url(&fill(value, i, level)) } else { (*value).to_owned() };
        req = req.header(*name, value);
    }
    if !row.body.is_empty() {
        req = req.body(row.body);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// Files, properties and locks: everything a request of cell `i` in the column of
/// `level` could change (its folder and the account's home; all properties and locks).
async fn state(t: &TestApp, i: usize, level: &str) -> String {
    let (folder, home) = (cell_folder(i, level), format!("originals/{}", user(level)));
    let files = webdav_util::snapshot_of(t, &[&folder[1..], &home]).await;
    let pool = t.app.store.pool();
    let props: Vec<(String, String, String)> =
        sqlx::query_as("SELECT root, path, name FROM dav_props ORDER BY 1, 2, 3").fetch_all(pool).await.unwrap();
    let locks: Vec<(String, String)> =
        sqlx::query_as("SELECT root, path FROM dav_locks ORDER BY 1, 2").fetch_all(pool).await.unwrap();
    format!("{files:?}\n{props:?}\n{locks:?}")
}

async fn every_method_obeys_the_grants_and_a_refusal_changes_nothing(db: Db) {
    let t = spawn(db).await;
    furnish(&t).await;
    let append = append_password(&t).await;
    let mut wrong = Vec::new();
    for (i, row) in ROWS.iter().enumerate() {
        for (col, level) in LEVELS.iter().enumerate() {
            let password = if *level == "append" { append.as_str() } else { PASSWORD };
            let before = state(&t, i, level).await;
            let (status, body) = send(&t, row, i, level, password).await;
            let want = row.want[col];
            if status != want {
                wrong.push(format!("{} {} as {level}: got {status}, want {want}: {body}", row.method, row.path));
            }
            if status >= 400 {
                assert!(
                    row.method == "HEAD" || body.contains("<D:error"),
                    "{} {} as {level}: a refusal is an RFC 4918 error: {body}",
                    row.method,
                    row.path
                );
                assert_eq!(
                    state(&t, i, level).await,
                    before,
                    "{} {} as {level} was refused and changed something",
                    row.method,
                    row.path
                );
            }
        }
    }
    assert!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));
}

/// Outside its grants an account learns nothing: every method answers a path that
/// exists exactly as it answers one that does not.
async fn outside_its_grants_an_account_cannot_tell_what_exists(db: Db) {
    let t = spawn(db).await;
    furnish(&t).await;
    for (i, row) in ROWS.iter().enumerate() {
        if row.path.starts_with("{home}") {
            continue;
        }
        for level in ["none", "above"] {
            // Above its grants an account sees the folders leading to them: only what
            // lies outside is compared.
            if level == "above" && !row.path.contains("f.txt") {
                continue;
            }
            let existing = send(&t, row, i, level, PASSWORD).await;
            let missing = send(&t, &absent(row, level), i, level, PASSWORD).await;
            assert_eq!(
                existing, missing,
                "{} {} as {level}: an existing path answers differently",
                row.method, row.path
            );
        }
    }
}

/// Above its grants an account sees the folders that lead to them, and nothing else:
/// no other names, in any PROPFIND form, and no times of others' changes.
async fn listings_above_the_grants_show_only_the_way_to_them(db: Db) {
    let t = spawn(db).await;
    t.create_user("alice", PASSWORD, json!({ "webdav": true })).await;
    t.create_user("carl", PASSWORD, json!({ "webdav": true })).await;
    for path in ["originals/family", "originals/family/2026", "originals/family/2025", "originals/carl"] {
        webdav_util::make_dir(&t, path).await;
    }
    webdav_util::write_file(&t, "originals/family/2025/secret.jpg", b"x").await;
    webdav_util::write_file(&t, "originals/family/top.jpg", b"x").await;
    webdav_util::write_file(&t, "originals/carl/carls.jpg", b"x").await;
    webdav_util::write_file(&t, "originals/loose.jpg", b"x").await;
    grant(&t, "/originals/family/2026", "alice", Level::Read).await;
    let bodies = [
        "",
        r#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#,
        r#"<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>"#,
        r#"<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>"#,
    ];
    for body in bodies {
        for depth in ["0", "1", "infinity"] {
            for path in ["/originals/", "/originals/family/"] {
                let r = dav(&t, "PROPFIND", path, "alice", PASSWORD)
                    .header("depth", depth)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 207, "{path} depth {depth}");
                let text = r.text().await.unwrap();
                for hidden in ["carl", "loose", "2025", "secret", "top.jpg", "import"] {
                    assert!(!text.contains(hidden), "{path} depth {depth} {body}: {hidden} shown: {text}");
                }
                if depth != "0" && path == "/originals/" {
                    assert!(text.contains("/originals/alice/") && text.contains("/originals/family/"), "{text}");
                }
                if depth != "0" && path == "/originals/family/" {
                    assert!(text.contains("/originals/family/2026/"), "{text}");
                }
                if body.contains("getlastmodified") || body.contains("allprop") || body.is_empty() {
                    assert!(text.contains("01 Jan 1970"), "no time of others' changes above the grants: {text}");
                }
            }
        }
    }
    // The server's root shows both libraries (alice has a home in each) and no times.
    let r = dav(&t, "PROPFIND", "/", "alice", PASSWORD).header("depth", "1").send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("/originals/") && text.contains("/import/"), "{text}");
    // Inside the grant, everything is listed.
    webdav_util::write_file(&t, "originals/family/2026/a.jpg", b"a").await;
    let r =
        dav(&t, "PROPFIND", "/originals/family/2026/", "alice", PASSWORD).header("depth", "1").send().await.unwrap();
    assert!(r.text().await.unwrap().contains("a.jpg"));
}

/// Spellings of a path outside one's grants reach nothing: dot segments, doubled and
/// encoded slashes, encoded dots, another case, a decomposed name.
async fn no_spelling_of_a_path_gets_around_the_grants(db: Db) {
    let t = spawn(db).await;
    t.create_user("alice", PASSWORD, json!({ "webdav": true })).await;
    t.create_user("carl", PASSWORD, json!({ "webdav": true })).await;
    webdav_util::make_dir(&t, "originals/carl").await;
    webdav_util::make_dir(&t, "originals/caf\u{e9}").await;
    webdav_util::write_file(&t, "originals/carl/secret.jpg", b"carl's").await;
    webdav_util::write_file(&t, "originals/caf\u{e9}/x.jpg", b"x").await;
    grant(&t, "/originals/alice", "alice", Level::Write).await;
    let auth = |h: String| {
        h.replace(
            &webdav_util::basic(webdav_util::DAV_USER, webdav_util::DAV_PASSWORD),
            &webdav_util::basic("alice", PASSWORD),
        )
    };
    for path in [
        "/originals/alice/../carl/secret.jpg",
        "/originals/alice/%2e%2e/carl/secret.jpg",
        "/originals/alice%2F..%2Fcarl/secret.jpg",
        "//originals//carl//secret.jpg",
        "/originals/./carl/secret.jpg",
        "/originals/Carl/secret.jpg",
        "/Originals/carl/secret.jpg",
        "/originals/cafe%CC%81/x.jpg",
        "/originals/caf%C3%A9/x.jpg",
    ] {
        for method in ["GET", "DELETE", "PROPFIND"] {
            let head = auth(raw_head(&t, method, path, "Connection: close\r\nContent-Length: 0\r\n"));
            let status = raw_status(&t, &head, b"").await;
            assert!(matches!(status, 400 | 403 | 404), "{method} {path}: {status}");
        }
    }
    assert_eq!(webdav_util::read_file(&t, "originals/carl/secret.jpg").await.unwrap(), b"carl's");
    assert!(webdav_util::read_file(&t, "originals/caf\u{e9}/x.jpg").await.is_some());
}

/// An `If` header naming someone else's file tells nothing of it: a right entity tag,
/// a wrong one and a missing file answer alike (found by the black-box attack, which
/// watched a file it had lost access to through its old tag).
async fn an_if_header_cannot_watch_files_outside_the_grants(db: Db) {
    let t = spawn(db).await;
    t.create_user("alice", PASSWORD, json!({ "webdav": true })).await;
    webdav_util::make_dir(&t, "originals/carl").await;
    webdav_util::write_file(&t, "originals/carl/c.txt", b"carl's").await;
    grant(&t, "/originals/carl", "alice", Level::Read).await;
    let etag = dav(&t, "HEAD", "/originals/carl/c.txt", "alice", PASSWORD).send().await.unwrap();
    let etag = etag.headers()["etag"].to_str().unwrap().to_owned();
    t.app.unshare_folder(Actor::Operator, "/originals/carl", "alice", &RequestMeta::local()).await.unwrap();
    let mut answers = Vec::new();
    for (path, tag) in [
        ("/originals/carl/c.txt", etag.as_str()),
        ("/originals/carl/c.txt", "\"wrong\""),
        ("/originals/carl/missing.txt", etag.as_str()),
    ] {
        let r = dav(&t, "PUT", "/originals/alice/probe.txt", "alice", PASSWORD)
            .header("if", format!("<{}> ([{tag}])", t.url(path)))
            .body("x")
            .send()
            .await
            .unwrap();
        answers.push((r.status().as_u16(), r.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, 412, "{answers:?}");
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
}

/// A change of grants takes effect on the very next request.
async fn an_unshare_ends_access_at_the_next_request(db: Db) {
    let t = spawn(db).await;
    t.create_user("alice", PASSWORD, json!({ "webdav": true })).await;
    webdav_util::make_dir(&t, "originals/family").await;
    webdav_util::write_file(&t, "originals/family/a.jpg", b"a").await;
    let get = || dav(&t, "GET", "/originals/family/a.jpg", "alice", PASSWORD).send();
    assert_eq!(get().await.unwrap().status(), 404);
    grant(&t, "/originals/family", "alice", Level::Read).await;
    assert_eq!(get().await.unwrap().status(), 200);
    assert_eq!(dav(&t, "DELETE", "/originals/family/a.jpg", "alice", PASSWORD).send().await.unwrap().status(), 403);
    t.app.unshare_folder(Actor::Operator, "/originals/family", "alice", &RequestMeta::local()).await.unwrap();
    assert_eq!(get().await.unwrap().status(), 404);
    // A home moved elsewhere: the old one is out of reach at once.
    assert_eq!(
        dav(&t, "PUT", "/originals/alice/x.jpg", "alice", PASSWORD).body("x").send().await.unwrap().status(),
        201
    );
    t.app.set_home(Actor::Operator, "alice", "family", &RequestMeta::local()).await.unwrap();
    assert_eq!(dav(&t, "GET", "/originals/alice/x.jpg", "alice", PASSWORD).send().await.unwrap().status(), 404);
    assert_eq!(dav(&t, "GET", "/originals/family/a.jpg", "alice", PASSWORD).send().await.unwrap().status(), 200);
    // Made an admin: the whole library; an admin no more: back to the home.
    let uid = account(&t, "alice").await.uid;
    let admin = t.admin_token().await;
    let r = t
        .call(reqwest::Method::PUT, &format!("/api/v1/users/{uid}"), Some(&admin), Some(json!({"role": "admin"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(dav(&t, "GET", "/originals/alice/x.jpg", "alice", PASSWORD).send().await.unwrap().status(), 200);
    let r = t
        .call(reqwest::Method::PUT, &format!("/api/v1/users/{uid}"), Some(&admin), Some(json!({"role": "user"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(dav(&t, "GET", "/originals/alice/x.jpg", "alice", PASSWORD).send().await.unwrap().status(), 404);
}

on_every_backend!(
    every_method_obeys_the_grants_and_a_refusal_changes_nothing,
    outside_its_grants_an_account_cannot_tell_what_exists,
    listings_above_the_grants_show_only_the_way_to_them,
    no_spelling_of_a_path_gets_around_the_grants,
    an_unshare_ends_access_at_the_next_request,
    an_if_header_cannot_watch_files_outside_the_grants,
);
