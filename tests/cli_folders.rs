//! Issue 19 on the command line: `folders share|unshare|ls`, `users add|mod --home`
//! and `auth add --path --access`, run as the real binary on the database of a running
//! server, whose very next WebDAV request obeys what the command changed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::{Db, TestApp, spawn, stderr, stdout};
use reqwest::StatusCode;
use serde_json::{Value, json};
use webdav_util::{dav, make_dir, write_file};

/// Runs the CLI, expects success, and parses what it printed as JSON.
fn cli_json(t: &TestApp, args: &[&str]) -> Value {
    let out = t.cli(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&out)))
}

/// Runs the CLI, expects a failure whose message contains `expected`.
fn cli_refuses(t: &TestApp, args: &[&str], expected: &str) {
    let out = t.cli(args);
    assert!(!out.status.success(), "{args:?} should fail: {}", stdout(&out));
    assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
}

/// `username`'s grants as `(folder, access, kind)`, from `folders ls USERNAME --json`.
fn grants_of(t: &TestApp, username: &str) -> Vec<(String, String, String)> {
    let list = cli_json(t, &["folders", "ls", username, "--json"]);
    list.as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["username"], username, "{g}");
            let field = |k: &str| g[k].as_str().unwrap().to_owned();
            (field("folder"), field("access"), field("kind"))
        })
        .collect()
}

fn grant(folder: &str, access: &str, kind: &str) -> (String, String, String) {
    (folder.to_owned(), access.to_owned(), kind.to_owned())
}

/// The event names of `username`'s audit trail, newest first.
fn events_of(t: &TestApp, username: &str) -> Vec<(String, String)> {
    let events = cli_json(t, &["audit", "logins", username, "--json"]);
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap().to_owned(), e["detail"].as_str().unwrap().to_owned()))
        .collect()
}

async fn folders_share_ls_and_unshare_in_every_format(db: Db) {
    let t = spawn(db).await;
    t.create_user("alice", "alice-password-1", json!({ "webdav": true })).await;
    t.create_user("bob", "bob-password-1", json!({})).await;
    let homes = vec![grant("/import/alice/", "write", "home"), grant("/originals/alice/", "write", "home")];
    assert_eq!(grants_of(&t, "alice"), homes, "a new account gets its home in each library, home rows first");

    let shared = cli_json(&t, &["folders", "share", "/originals/family", "alice", "--access", "read", "--json"]);
    assert_eq!(
        shared,
        json!({ "username": "alice", "folder": "/originals/family/", "access": "read", "kind": "shared" })
    );
    // Sharing again changes the level of the one grant.
    let out = t.cli(&["folders", "share", "/originals/family/", "alice", "--access", "write"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("/originals/family/") && stdout(&out).contains("write"), "{}", stdout(&out));
    let out = t.cli(&["folders", "share", "/import/inbox/", "bob", "-a", "read"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("may not use WebDAV"), "bob lacks the flag: {}", stderr(&out));

    let mut expected = homes.clone();
    expected.push(grant("/originals/family/", "write", "shared"));
    assert_eq!(grants_of(&t, "alice"), expected);

    let table = stdout(&t.cli(&["folders", "ls"]));
    for cell in ["Username", "Folder", "Access", "Kind", "alice", "bob", "/import/inbox/", "shared", "home"] {
        assert!(table.contains(cell), "{cell} in {table}");
    }
    let csv = stdout(&t.cli(&["folders", "ls", "alice", "--csv"]));
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "Username,Folder,Access,Kind",
            "alice,/import/alice/,write,home",
            "alice,/originals/alice/,write,home",
            "alice,/originals/family/,write,shared",
        ],
    );
    let md = stdout(&t.cli(&["folders", "ls", "bob", "--md"]));
    assert_eq!(md.lines().next(), Some("| Username | Folder | Access | Kind |"));
    assert!(md.contains("| bob | /import/inbox/ | read | shared |"), "{md}");
    assert_eq!(md.lines().count(), 5, "header, rule, two home rows, one share: {md}");
    let everyone = cli_json(&t, &["folders", "ls", "--json"]);
    let users: Vec<&str> = everyone.as_array().unwrap().iter().map(|g| g["username"].as_str().unwrap()).collect();
    assert!(users.contains(&"admin") && users.contains(&"alice") && users.contains(&"bob"), "{users:?}");

    let gone = cli_json(&t, &["folders", "unshare", "/originals/family", "alice", "--json"]);
    assert_eq!(gone, json!({ "status": "unshared", "username": "alice", "folder": "/originals/family/" }));
    assert_eq!(grants_of(&t, "alice"), homes);
    let out = t.cli(&["folders", "unshare", "/import/inbox", "BOB"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "unshared /import/inbox/ from bob");

    let events = events_of(&t, "alice");
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(&kinds[..3], ["folder.unshared", "folder.shared", "folder.shared"], "{events:?}");
    assert_eq!(events[0].1, "/originals/family/");
    assert_eq!(events[1].1, "/originals/family/ write");
}

async fn folders_refusals_are_clear_and_change_nothing(db: Db) {
    let t = spawn(db).await;
    t.create_user("alice", "alice-password-1", json!({ "webdav": true })).await;
    t.cli(&["folders", "share", "/originals/family", "alice", "--access", "read"]);
    let before = cli_json(&t, &["folders", "ls", "--json"]);
    let cases: &[(&[&str], &str)] = &[
        (&["folders", "share", "/originals/../import", "alice", "--access", "read"], ". or .. segments"),
        (&["folders", "share", "/originals/a/./b", "alice", "--access", "read"], ". or .. segments"),
        (&["folders", "share", "/photos/a", "alice", "--access", "read"], "starts with /originals/ or /import/"),
        (&["folders", "share", "/originals/a\u{7}", "alice", "--access", "read"], "control characters"),
        (&["folders", "share", "/originals/a", "ghost", "--access", "read"], "user \"ghost\" not found"),
        (&["folders", "share", "/originals/a", "alice", "--access", "append"], "read or write"),
        (&["folders", "share", "/originals/a", "alice", "--access", "admin"], "access must be read or write"),
        (&["folders", "share", "/originals/a", "alice"], "--access"),
        (&["folders", "unshare", "/originals/a", "alice"], "alice has no grant on /originals/a/"),
        (&["folders", "unshare", "/originals/family", "ghost"], "user \"ghost\" not found"),
        (&["folders", "unshare", "../x", "alice"], ". or .. segments"),
        (&["folders", "ls", "ghost"], "user \"ghost\" not found"),
    ];
    for (args, expected) in cases {
        cli_refuses(&t, args, expected);
    }
    assert_eq!(cli_json(&t, &["folders", "ls", "--json"]), before, "no refusal changed a grant");
}

async fn users_add_and_mod_choose_the_home(db: Db) {
    let t = spawn(db).await;
    let created =
        cli_json(&t, &["users", "add", "dora", "--password", "dora-password-1", "--home", "family/dora", "--json"]);
    assert_eq!(created["home"], "family/dora", "{created}");
    let family =
        vec![grant("/import/family/dora/", "write", "home"), grant("/originals/family/dora/", "write", "home")];
    assert_eq!(grants_of(&t, "dora"), family);
    cli_refuses(&t, &["users", "add", "eve", "--password", "eve-password-1", "--home", "a/../b"], "--home");
    assert!(!t.cli(&["users", "show", "eve"]).status.success(), "a refused home creates no account");

    let changed = cli_json(&t, &["users", "mod", "dora", "--home", "/", "--json"]);
    assert_eq!(changed["home"], "/");
    assert_eq!(grants_of(&t, "dora"), [grant("/", "write", "home")]);
    let csv = stdout(&t.cli(&["users", "show", "dora", "--csv"]));
    assert!(csv.lines().next().unwrap().ends_with(",Home"), "{csv}");
    assert!(csv.lines().nth(1).unwrap().ends_with(",/"), "{csv}");

    // A share survives a home change; the home rows are replaced.
    t.cli(&["folders", "share", "/originals/trips", "dora", "--access", "read"]);
    let out = t.cli(&["users", "mod", "dora", "--home", "dora"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("Home") && table.lines().nth(3).unwrap().contains(" dora "), "a table: {table}");
    assert_eq!(
        grants_of(&t, "dora"),
        [
            grant("/import/dora/", "write", "home"),
            grant("/originals/dora/", "write", "home"),
            grant("/originals/trips/", "read", "shared"),
        ]
    );
    let listed = cli_json(&t, &["users", "ls", "--json"]);
    let dora = listed.as_array().unwrap().iter().find(|u| u["username"] == "dora").unwrap();
    assert_eq!(dora["home"], "dora");
    assert!(stdout(&t.cli(&["users", "ls"])).contains("Home"));

    // Every flag is checked before anything is written: a bad --home leaves the
    // WebDAV flag and the name as they were (issue 18, item 6).
    for bad in ["..", "a/./b", "x\u{1b}y"] {
        let out = t.cli(&["users", "mod", "dora", "--webdav", "--name", "Dora", "--home", bad]);
        assert!(!out.status.success(), "--home {bad:?}");
        assert!(stderr(&out).contains("--home"), "{}", stderr(&out));
    }
    let shown = cli_json(&t, &["users", "show", "dora", "--json"]);
    assert_eq!((&shown["webdav"], &shown["name"], &shown["home"]), (&json!(false), &json!(""), &json!("dora")));
    assert_eq!(grants_of(&t, "dora").len(), 3);

    let events = events_of(&t, "dora");
    let homes: Vec<&str> = events.iter().filter(|(k, _)| k == "folder.home_changed").map(|(_, d)| d.as_str()).collect();
    assert_eq!(homes, ["home /originals/dora/, /import/dora/", "home /"], "{events:?}");
}

async fn auth_add_narrows_app_passwords_within_what_the_owner_reaches(db: Db) {
    let t = spawn(db).await;
    t.create_user("alice", "alice-password-1", json!({ "webdav": true })).await;
    t.cli(&["folders", "share", "/originals/family", "alice", "--access", "read"]);

    let add = |extra: &[&str]| {
        let mut args = vec!["auth", "add", "alice", "-n", "phone", "-s", "webdav", "--json"];
        args.extend_from_slice(extra);
        cli_json(&t, &args)
    };
    let phone = add(&["--path", "/originals/alice/phone", "--access", "append"]);
    assert_eq!((&phone["folder"], &phone["access"]), (&json!("/originals/alice/phone/"), &json!("append")));
    let reader = add(&["--access", "read"]);
    assert_eq!((&reader["folder"], &reader["access"]), (&json!("/"), &json!("read")), "--access alone: all, read");
    let docs = add(&["--path", "/originals/alice/docs/"]);
    assert_eq!((&docs["folder"], &docs["access"]), (&json!("/originals/alice/docs/"), &json!("write")));
    let plain = add(&[]);
    assert_eq!((&plain["folder"], &plain["access"]), (&Value::Null, &Value::Null));
    let refused: &[(&[&str], &str)] = &[
        // --path alone asks for write, which the read share does not give.
        (&["--path", "/originals/family"], "alice cannot change /originals/family/"),
        (&["--path", "/originals/bob", "--access", "read"], "alice cannot read /originals/bob/"),
        (&["--path", "/originals/family/2026", "--access", "write"], "alice cannot change /originals/family/2026/"),
        (&["--path", "/originals/family", "--access", "append"], "alice cannot add files to /originals/family/"),
        (&["--path", "/originals", "--access", "read"], "alice cannot read /originals/"),
        (&["--path", "/originals/alice/../bob"], ". or .. segments"),
        (&["--path", "/elsewhere"], "starts with /originals/ or /import/"),
        (&["--access", "delete"], "access must be read, append or write"),
    ];
    for (extra, expected) in refused {
        let mut args = vec!["auth", "add", "alice", "-n", "x", "-s", "webdav"];
        args.extend_from_slice(extra);
        cli_refuses(&t, &args, expected);
    }
    cli_refuses(
        &t,
        &["auth", "add", "alice", "-n", "x", "-s", "metrics", "--access", "read"],
        "a folder limit is for app passwords with the webdav scope",
    );
    cli_refuses(&t, &["auth", "add", "-n", "token", "-s", "*", "--access", "read"], "name its USER");

    let listed = cli_json(&t, &["auth", "ls", "--user", "alice", "--json"]);
    let mut limits: Vec<(Value, Value)> =
        listed.as_array().unwrap().iter().map(|s| (s["folder"].clone(), s["access"].clone())).collect();
    limits.sort_by_key(|l| l.0.to_string());
    assert_eq!(
        limits,
        [
            (json!("/"), json!("read")),
            (json!("/originals/alice/docs/"), json!("write")),
            (json!("/originals/alice/phone/"), json!("append")),
            (Value::Null, Value::Null),
        ],
        "only the four allowed were made"
    );
    let csv = stdout(&t.cli(&["auth", "ls", "--user", "alice", "--csv"]));
    assert!(csv.lines().next().unwrap().starts_with("ID,User,Kind,Name,Scope,Folder,Access,"), "{csv}");
    assert!(csv.contains(",alice,app_password,phone,webdav,/originals/alice/phone/,append,"), "{csv}");
    assert!(csv.contains(",alice,app_password,phone,webdav,,,"), "an unlimited one has empty cells: {csv}");
    let md = stdout(&t.cli(&["auth", "ls", "--md"]));
    assert!(md.contains("| /originals/alice/docs/ | write |"), "{md}");
    let table = stdout(&t.cli(&["auth", "show", phone["session_id"].as_str().unwrap()]));
    assert!(table.contains("Folder") && table.contains("/originals/alice/phone/"), "{table}");

    let created = events_of(&t, "alice").into_iter().filter(|(k, _)| k == "app_password.created").count();
    assert_eq!(created, 4);
}

/// A grant changed by the CLI holds on the running server's very next request: no
/// cache outlives it, whether the server answers from SQLite or PostgreSQL.
async fn a_grant_made_by_the_cli_holds_on_the_next_webdav_request(db: Db) {
    let t = spawn(db).await;
    t.create_user("alice", "alice-password-1", json!({ "webdav": true })).await;
    make_dir(&t, "originals/family").await;
    write_file(&t, "originals/family/beach.jpg", b"waves").await;
    let alice = |method: &str, path: &str| dav(&t, method, path, "alice", "alice-password-1");
    let status = |r: reqwest::Response| r.status();

    // Warm whatever the server keeps, then change the grants under it.
    assert_eq!(status(alice("GET", "/originals/family/beach.jpg").send().await.unwrap()), StatusCode::NOT_FOUND);
    assert_eq!(
        status(alice("PUT", "/originals/family/new.jpg").body("x").send().await.unwrap()),
        StatusCode::FORBIDDEN
    );

    assert!(t.cli(&["folders", "share", "/originals/family", "alice", "--access", "read"]).status.success());
    let got = alice("GET", "/originals/family/beach.jpg").send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"waves");
    assert_eq!(
        status(alice("PUT", "/originals/family/new.jpg").body("x").send().await.unwrap()),
        StatusCode::FORBIDDEN
    );
    let listing = alice("PROPFIND", "/originals/").header("Depth", "1").send().await.unwrap();
    assert_eq!(listing.status().as_u16(), 207);
    let body = listing.text().await.unwrap();
    assert!(body.contains("/originals/family/"), "{body}");

    assert!(t.cli(&["folders", "share", "/originals/family", "alice", "--access", "write"]).status.success());
    assert_eq!(status(alice("PUT", "/originals/family/new.jpg").body("x").send().await.unwrap()), StatusCode::CREATED);

    // An app password narrowed by the CLI: add-only inside the share.
    let phone = cli_json(
        &t,
        &[
            "auth",
            "add",
            "alice",
            "-n",
            "phone",
            "-s",
            "webdav",
            "--path",
            "/originals/family",
            "--access",
            "append",
            "--json",
        ],
    );
    let app = phone["access_token"].as_str().unwrap().to_owned();
    let by_app = |method: &str, path: &str| dav(&t, method, path, "alice", &app);
    assert_eq!(
        status(by_app("PUT", "/originals/family/sunset.jpg").body("s").send().await.unwrap()),
        StatusCode::CREATED
    );
    assert_eq!(
        status(by_app("PUT", "/originals/family/beach.jpg").body("!").send().await.unwrap()),
        StatusCode::FORBIDDEN
    );
    assert_eq!(status(by_app("GET", "/originals/alice/").send().await.unwrap()), StatusCode::NOT_FOUND);

    // Unsharing narrows the owner and every app password of theirs at once.
    assert!(t.cli(&["folders", "unshare", "/originals/family", "alice"]).status.success());
    assert_eq!(status(alice("GET", "/originals/family/beach.jpg").send().await.unwrap()), StatusCode::NOT_FOUND);
    assert_eq!(status(by_app("GET", "/originals/family/beach.jpg").send().await.unwrap()), StatusCode::NOT_FOUND);

    // A home of / is the whole library; moving it back takes it away again.
    assert!(t.cli(&["users", "mod", "alice", "--home", "/"]).status.success());
    assert_eq!(status(alice("GET", "/originals/family/beach.jpg").send().await.unwrap()), StatusCode::OK);
    assert!(t.cli(&["users", "mod", "alice", "--home", "alice"]).status.success());
    assert_eq!(status(alice("GET", "/originals/family/beach.jpg").send().await.unwrap()), StatusCode::NOT_FOUND);
    assert_eq!(webdav_util::read_file(&t, "originals/family/beach.jpg").await.unwrap(), b"waves", "never overwritten");
}

on_both_databases!(
    folders_share_ls_and_unshare_in_every_format,
    folders_refusals_are_clear_and_change_nothing,
    users_add_and_mod_choose_the_home,
    auth_add_narrows_app_passwords_within_what_the_owner_reaches,
    a_grant_made_by_the_cli_holds_on_the_next_webdav_request,
);
