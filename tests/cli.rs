//! The admin CLI, run as a real process on the same database as a running server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Db, spawn, stderr, stdout};
use reqwest::StatusCode;
use serde_json::Value;

async fn users_add_mod_show_rm_round_trip_while_the_server_runs(db: Db) {
    let t = spawn(db).await;
    let out = t.cli(&[
        "users",
        "add",
        "frank",
        "--password",
        "frank-password-1",
        "--name",
        "Frank",
        "--email",
        "f@example.com",
        "--webdav",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let created: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(created["username"], "frank");
    assert_eq!(created["webdav"], true);
    assert_eq!(created["role"], "user");

    // The running server sees the new account at once.
    let token = t.login("frank", "frank-password-1").await;
    assert_eq!(t.get("/api/v1/session", &token).await.body["user"]["name"], "Frank");

    let out = t.cli(&["users", "mod", "frank", "--role", "admin", "--no-webdav", "--name", "Frank F."]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Frank F."), "a table by default: {}", stdout(&out));
    let me = t.get("/api/v1/session", &token).await;
    assert_eq!(me.body["user"]["role"], "admin");
    assert_eq!(me.body["user"]["webdav"], false);

    let out = t.cli(&["users", "show", "FRANK", "--csv"]);
    assert!(out.status.success());
    let csv = stdout(&out);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("UID,Username,Name,Email,Role"));
    assert!(lines.next().unwrap().contains(",frank,Frank F.,f@example.com,admin,"));

    let out = t.cli(&["users", "ls", "--md"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("| UID | Username |"));
    assert_eq!(stdout(&out).lines().count(), 4, "header, rule, admin, frank");

    let out = t.cli(&["users", "ls", "--json"]);
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    // rm asks for confirmation: without a terminal and without --yes nothing happens.
    let out = t.cli(&["users", "rm", "frank"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yes"));
    assert_eq!(t.get("/api/v1/session", &token).await.status, StatusCode::OK);
    let out = t.cli(&["users", "rm", "frank", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.get("/api/v1/session", &token).await.status, StatusCode::UNAUTHORIZED);
    let out = t.cli(&["users", "show", "frank"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not found"));
}

async fn cli_errors_are_clear_and_exit_non_zero(db: Db) {
    let t = spawn(db).await;
    let cases: &[(&[&str], &str)] = &[
        (&["users", "show", "ghost"], "user \"ghost\" not found"),
        (&["users", "add", "Admin", "--password", "long-enough-1"], "is taken"),
        (&["users", "add", "weak", "--password", "short"], "at least 8 characters"),
        (&["users", "add", "bad name", "--password", "long-enough-1"], "username may only contain"),
        (&["users", "add", "x", "--password", "long-enough-1", "--role", "root"], "role must be one of"),
        (&["users", "mod", "admin", "--role", "user"], "last admin"),
        (&["users", "rm", "admin", "--yes"], "last admin"),
        (&["passwd", "ghost", "--password", "long-enough-1"], "not found"),
    ];
    for (args, expected) in cases {
        let out = t.cli(args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    // Nothing of the above changed anything.
    let list: Value = serde_json::from_str(&stdout(&t.cli(&["users", "ls", "--json"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["role"], "admin");
}

async fn passwd_reads_a_piped_password_and_ends_web_sessions(db: Db) {
    let t = spawn(db).await;
    t.cli(&["users", "add", "gina", "--password", "gina-password-1"]);
    let token = t.login("gina", "gina-password-1").await;
    let out = t.cli_with_stdin(&["passwd", "gina"], "gina-password-2\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.get("/api/v1/session", &token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.login_reply("gina", "gina-password-1").await.status, StatusCode::UNAUTHORIZED);
    t.login("gina", "gina-password-2").await;
    // The password never shows up in the output or the event log.
    assert!(!stdout(&out).contains("gina-password-2"));
    let audit = t.cli(&["audit", "logins", "gina", "--json"]);
    assert!(audit.status.success());
    let events: Value = serde_json::from_str(&stdout(&audit)).unwrap();
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"password.reset") && kinds.contains(&"login.ok"), "{kinds:?}");
    assert!(!stdout(&audit).contains("gina-password"));
}

/// A new app password with full access for ivy.
async fn app_password_of(t: &common::TestApp, password: &str) -> String {
    t.app_password("ivy", password, "*", 0).await["access_token"].as_str().unwrap().to_owned()
}

/// Whether an app password of `user` still logs in.
async fn app_password_works(t: &common::TestApp, user: &str, app: &str) -> bool {
    t.get_basic("/api/v1/session", user, app).await.status == StatusCode::OK
}

async fn cli_resets_revoke_app_passwords_unless_kept(db: Db) {
    let t = spawn(db).await;
    t.cli(&["users", "add", "ivy", "--password", "ivy-password-1"]);

    // `passwd`: all sessions end and app passwords are revoked.
    let web = t.login("ivy", "ivy-password-1").await;
    let first = app_password_of(&t, "ivy-password-1").await;
    let out = t.cli_with_stdin(&["passwd", "ivy", "--json"], "ivy-password-2\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let reply: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(reply["app_passwords_revoked"], 1, "{reply}");
    assert_eq!(t.get("/api/v1/session", &web).await.status, StatusCode::UNAUTHORIZED);
    assert!(!app_password_works(&t, "ivy", &first).await);

    // `passwd --keep-app-passwords`: web sessions end, app passwords stay.
    let web = t.login("ivy", "ivy-password-2").await;
    let second = app_password_of(&t, "ivy-password-2").await;
    let out = t.cli_with_stdin(&["passwd", "ivy", "--keep-app-passwords"], "ivy-password-3\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("app passwords kept"), "{}", stdout(&out));
    assert_eq!(t.get("/api/v1/session", &web).await.status, StatusCode::UNAUTHORIZED);
    assert!(app_password_works(&t, "ivy", &second).await);

    // `users mod --password`: the same default, the same choice.
    let out = t.cli(&["users", "mod", "ivy", "--password", "ivy-password-4", "--keep-app-passwords"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(app_password_works(&t, "ivy", &second).await);
    let out = t.cli(&["users", "mod", "ivy", "--password", "ivy-password-5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!app_password_works(&t, "ivy", &second).await);
    let out = t.cli(&["users", "mod", "ivy", "--keep-app-passwords"]);
    assert!(!out.status.success(), "--keep-app-passwords needs --password");
    assert!(stderr(&out).contains("--password"), "{}", stderr(&out));
    t.login("ivy", "ivy-password-5").await;

    let audit = t.cli(&["audit", "logins", "ivy", "--json"]);
    let events: Value = serde_json::from_str(&stdout(&audit)).unwrap();
    let resets: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["event"] == "password.reset").collect();
    assert_eq!(resets.len(), 4, "{resets:?}");
    assert!(resets.iter().all(|e| e["actor"] == "cli"), "{resets:?}");
    assert_eq!(resets.iter().filter(|e| e["detail"].as_str().unwrap().contains("app passwords kept")).count(), 2);
}

/// On a terminal the password is asked for twice and never echoed. `script` gives the
/// command a real pseudo-terminal; what it prints is exactly what a person would see.
async fn passwd_on_a_terminal_asks_twice_without_echo(db: Db) {
    use std::io::Write as _;
    let t = spawn(db).await;
    t.cli(&["users", "add", "hana", "--password", "hana-password-1"]);
    let command = format!(
        "GATEHOUSE_DATA_DIR='{}' GATEHOUSE_DATABASE_URL='{}' '{}' passwd hana",
        t.data_dir.display(),
        t.database_url,
        env!("CARGO_BIN_EXE_gatehouse")
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The terminal's output, read as it comes: each answer is typed only once its prompt
    // shows, however long the command takes to get there.
    let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (screen, mut out) = (screen.clone(), child.stdout.take().unwrap());
        std::thread::spawn(move || {
            use std::io::Read as _;
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                screen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let wait_for = |text: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !screen.lock().unwrap().contains(text) {
            assert!(std::time::Instant::now() < deadline, "no {text:?}: {}", screen.lock().unwrap());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    for prompt in ["New password for hana:", "Repeat it:"] {
        wait_for(prompt);
        // The prompt is printed just before echo is switched off.
        std::thread::sleep(std::time::Duration::from_millis(200));
        stdin.write_all(b"hana-terminal-pass\n").unwrap();
    }
    wait_for("password changed for hana");
    drop(stdin);
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
    let screen = screen.lock().unwrap().clone();
    assert!(screen.contains("New password for hana:") && screen.contains("Repeat it:"), "{screen}");
    assert!(screen.contains("password changed for hana"), "{screen}");
    assert!(!screen.contains("hana-terminal-pass"), "the password is not echoed: {screen}");
    t.login("hana", "hana-terminal-pass").await;
}

async fn the_first_start_bootstraps_an_admin_once(db: Db) {
    let t = spawn(db).await;
    // spawn() bootstrapped `admin`; a second bootstrap is a no-op.
    assert_eq!(t.app.bootstrap_admin(None).await.unwrap(), None);
    let list: Value = serde_json::from_str(&stdout(&t.cli(&["users", "ls", "--json"]))).unwrap();
    assert_eq!(list[0]["username"], "admin");
    assert_eq!(list[0]["super_admin"], true);
    assert_eq!(list[0]["webdav"], true);
}

on_both_databases!(
    users_add_mod_show_rm_round_trip_while_the_server_runs,
    cli_errors_are_clear_and_exit_non_zero,
    passwd_reads_a_piped_password_and_ends_web_sessions,
    cli_resets_revoke_app_passwords_unless_kept,
    passwd_on_a_terminal_asks_twice_without_echo,
    the_first_start_bootstraps_an_admin_once,
);

/// Issue 18: `users mod NAME --webdav --password short` set webdav and then failed.
/// Every flag is checked before anything is written.
async fn users_mod_checks_every_flag_before_it_writes(db: Db) {
    let t = spawn(db).await;
    t.create_user("kim", "kim-password-1", serde_json::json!({})).await;
    let out = t.cli(&["users", "mod", "kim", "--webdav", "--name", "Kim", "--password", "short"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));
    let shown: Value = serde_json::from_str(&stdout(&t.cli(&["users", "show", "kim", "--json"]))).unwrap();
    assert_eq!((shown["webdav"].as_bool(), shown["name"].as_str()), (Some(false), Some("")), "{shown}");
    let out = t.cli(&["users", "mod", "kim", "--webdav", "--name", "Kim\u{202E}gpj.exe"]);
    assert!(!out.status.success());
    let shown: Value = serde_json::from_str(&stdout(&t.cli(&["users", "show", "kim", "--json"]))).unwrap();
    assert_eq!(shown["webdav"], false, "{shown}");
    // The old password still works: nothing was written.
    assert_eq!(t.login_reply("kim", "kim-password-1").await.status, StatusCode::OK);
}

/// Issue 18: `users add` run while the first `start` migrates a new database waits for
/// it instead of failing. Several processes open one new data folder at once.
async fn processes_opening_a_new_database_at_once_all_succeed(db: Db) {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let url = common::fresh_database(db, &data).await;
        let children: Vec<_> = (0..4)
            .map(|i| {
                std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
                    .args(["users", "add", &format!("user{i}"), "--password", "a-good-password-1"])
                    .env("GATEHOUSE_DATA_DIR", &data)
                    .env("GATEHOUSE_DATABASE_URL", &url)
                    .env_remove("GATEHOUSE_SECRET_KEY")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", stderr(&out));
        }
    }
}

on_both_databases!(users_mod_checks_every_flag_before_it_writes, processes_opening_a_new_database_at_once_all_succeed);
