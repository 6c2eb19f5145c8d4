//! The authorisation matrix (docs/design.md, "Authorization matrix"): every route of the API and WebDAV ×
//! every credential state, with the expected status in one readable table. A new route
//! must be added here; `every_api_route_is_in_the_matrix` checks the API router's source
//! against this table. (The pages have their own matrix in `ui_matrix.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_PASSWORD, Db, Reply, TestApp, spawn, stderr, stdout};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The credential states, in the order of the table's columns.
#[rustfmt::skip]
const COLUMNS: &[&str] = &[
    "anon",     // no credentials at all
    "pending",  // a 2FA user's right password without the code: no token was issued
    "web",      // bob's web session (Bearer)
    "other",    // carol's web session, on bob's resources
    "pw",       // bob's account password over HTTP Basic (2FA off)
    "2fa-pw",   // frank's account password over Basic while frank has 2FA on
    "app:dav",  // bob's app password, scope webdav (Basic)
    "app:all",  // bob's app password, scope * (Basic)
    "app:met",  // bob's app password, scope metrics (Basic)
    "app:ses",  // bob's app password, scope sessions (Basic)
    "expired",  // bob's app password past its expiry
    "revoked",  // bob's app password after revocation
    "disabled", // dave's web session after an admin disabled dave
    "deleted",  // erin's web session after an admin deleted erin
    "token",    // an access token without a user, scope * (CLI)
    "client",   // an OAuth2 client's token, scope metrics
    "adm-met",  // the admin's app password, scope metrics
    "admin",    // the admin's web session (last: it changes things)
];

/// Route × credential → expected status. `{bob}` is bob's uid, `{victim}` another user.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, &str)] = &[
    //                                                       ano pen web oth pw  2fa dav all met ses exp rev dis del tok cli amt adm
    ("GET", "/api/v1/status",                                "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200"),
    ("GET", "/.well-known/oauth-authorization-server",       "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200"),
    ("GET", "/api/v1/openapi.json",                          "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200"),
    ("GET", "/api/v1/session",                               "401 401 200 200 200 401 403 200 200 200 401 401 401 401 200 200 200 200"),
    ("GET", "/api/v1/users",                                 "401 401 403 403 403 401 403 403 403 403 401 401 401 401 403 403 403 200"),
    ("POST", "/api/v1/users",                                "401 401 403 403 403 401 403 403 403 403 401 401 401 401 403 403 403 201"),
    ("GET", "/api/v1/users/{bob}",                           "401 401 200 403 403 401 403 403 403 403 401 401 401 401 403 403 403 200"),
    ("PUT", "/api/v1/users/{bob}",                           "401 401 200 403 403 401 403 403 403 403 401 401 401 401 403 403 403 200"),
    ("DELETE", "/api/v1/users/{victim}",                     "401 401 403 403 403 401 403 403 403 403 401 401 401 401 403 403 403 200"),
    ("PUT", "/api/v1/users/{bob}/password",                  "401 401 422 403 403 401 403 403 403 403 401 401 401 401 403 403 403 200"),
    ("GET", "/api/v1/users/{bob}/sessions",                  "401 401 200 403 403 401 403 403 403 403 401 401 401 401 403 403 403 200"),
    ("DELETE", "/api/v1/users/{bob}/sessions/sessnothere",   "401 401 404 403 403 401 403 403 403 403 401 401 401 401 403 403 403 404"),
    ("GET", "/api/v1/users/{bob}/events",                    "401 401 200 403 403 401 403 403 403 403 401 401 401 401 403 403 403 200"),
    ("GET", "/api/v1/users/{bob}/folders",                   "401 401 200 403 403 401 403 403 403 403 401 401 401 401 403 403 403 200"),
    ("PUT", "/api/v1/users/{bob}/folders",                   "401 401 403 403 403 401 403 403 403 403 401 401 401 401 403 403 403 200"),
    ("DELETE", "/api/v1/users/{bob}/folders?path=/originals/nothere/", "401 401 403 403 403 401 403 403 403 403 401 401 401 401 403 403 403 404"),
    ("GET", "/api/v1/users/{bob}/passcode",                  "401 401 404 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("POST", "/api/v1/users/{bob}/passcode",                 "401 401 422 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("POST", "/api/v1/users/{bob}/passcode/confirm",         "401 401 404 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("POST", "/api/v1/users/{bob}/passcode/activate",        "401 401 404 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("POST", "/api/v1/users/{bob}/passcode/deactivate",      "401 401 422 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    // Passkeys: this server has no public URL, so passkeys are off (409) for whoever may ask.
    ("GET", "/api/v1/users/{bob}/passkeys",                  "401 401 200 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("POST", "/api/v1/users/{bob}/passkeys/register/start",  "401 401 409 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("POST", "/api/v1/users/{bob}/passkeys/register/finish", "401 401 409 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("POST", "/api/v1/users/{bob}/passkeys/sessnothere/activate", "401 401 409 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("PUT", "/api/v1/users/{bob}/passkeys/sessnothere",      "401 401 404 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("DELETE", "/api/v1/users/{bob}/passkeys/sessnothere",   "401 401 404 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("POST", "/api/v1/session/passkey/start",                "409 409 409 409 409 409 409 409 409 409 409 409 409 409 409 409 409 409"),
    ("POST", "/api/v1/session/passkey/finish",               "409 409 409 409 409 409 409 409 409 409 409 409 409 409 409 409 409 409"),
    ("POST", "/api/v1/oauth/token",                          "401 401 422 403 403 401 403 403 403 403 401 401 401 401 403 403 403 403"),
    ("POST", "/api/v1/oauth/revoke",                         "401 401 404 404 403 401 403 403 403 403 401 401 401 401 403 403 403 404"),
    ("GET", "/api/v1/metrics",                               "401 401 403 403 403 401 403 403 403 403 401 401 401 401 200 200 200 200"),
    ("PROPFIND", "/",                                        "401 401 207 403 207 401 207 207 403 403 401 401 401 401 403 403 403 207"),
    ("OPTIONS", "/",                                         "401 401 200 403 200 401 200 200 403 403 401 401 401 401 403 403 403 200"),
    ("PROPFIND", "/originals/",                              "401 401 207 403 207 401 207 207 403 403 401 401 401 401 403 403 403 207"),
    ("PUT", "/originals/bob/matrix-{col}.txt",               "401 401 201 403 201 401 201 201 403 403 401 401 401 401 403 403 403 201"),
    ("GET", "/originals/bob/matrix-{col}.txt",               "401 401 200 403 200 401 200 200 403 403 401 401 401 401 403 403 403 200"),
    ("DELETE", "/api/v1/session",                            "401 401 200 200 400 401 403 200 200 200 401 401 401 401 200 200 200 200"),
];

/// What each route gets as its body: harmless values that pass validation where the
/// caller is allowed (wrong passwords, unknown ids) so a 2xx/4xx shows the decision.
fn body_for(method: &str, path: &str, column: usize) -> Option<Value> {
    match (method, path) {
        ("POST", "/api/v1/users") => Some(json!({"username": format!("made{column}"), "password": "made-password-1"})),
        ("PUT", "/api/v1/users/{bob}") => Some(json!({"name": "Bob"})),
        ("PUT", "/api/v1/users/{bob}/folders") => Some(json!({"path": "/originals/family/", "access": "read"})),
        ("PUT", "/api/v1/users/{bob}/password") => {
            Some(json!({"old_password": "wrong-old-password", "new_password": "bob-password-1"}))
        }
        ("POST", "/api/v1/users/{bob}/passcode") => Some(json!({"type": "totp", "password": "wrong-password"})),
        ("POST", "/api/v1/users/{bob}/passcode/confirm") => Some(json!({"code": "000000"})),
        ("POST", "/api/v1/users/{bob}/passcode/deactivate") => Some(json!({"password": "wrong-password"})),
        ("POST", "/api/v1/oauth/token") => {
            Some(json!({"grant_type": "password", "client_name": "m", "scope": "webdav",
                                                       "username": "bob", "password": "wrong-password"}))
        }
        ("POST", "/api/v1/oauth/revoke") => Some(json!({"token": "sessnothere"})),
        ("POST", "/api/v1/users/{bob}/passkeys/register/start") => {
            Some(json!({"name": "x", "password": "wrong-password"}))
        }
        ("POST", "/api/v1/users/{bob}/passkeys/register/finish") => {
            Some(json!({"challenge_id": "nope", "credential": {
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}}}))
        }
        ("PUT", "/api/v1/users/{bob}/passkeys/sessnothere") => Some(json!({"name": "x"})),
        ("DELETE", "/api/v1/users/{bob}/passkeys/sessnothere") => Some(json!({"password": "wrong-password"})),
        ("POST", "/api/v1/session/passkey/start") => Some(json!({})),
        ("POST", "/api/v1/session/passkey/finish") => Some(json!({"challenge_id": "nope", "credential": {
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA"}}})),
        _ => None,
    }
}

/// How a column presents itself.
enum Cred {
    None,
    Bearer(String),
    Basic(String, String),
}

fn cli_json(t: &TestApp, args: &[&str]) -> Value {
    let out = t.cli(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

async fn arrange(t: &TestApp) -> (Vec<Cred>, String, String) {
    let admin = t.admin_token().await;
    let uid = |v: Value| v["uid"].as_str().unwrap().to_owned();
    let bob = uid(t.create_user("bob", "bob-password-1", json!({"webdav": true})).await);
    t.create_user("carol", "carol-password-1", json!({})).await;
    let dave = uid(t.create_user("dave", "dave-password-1", json!({})).await);
    let erin = uid(t.create_user("erin", "erin-password-1", json!({})).await);
    let victim = uid(t.create_user("victim", "victim-password-1", json!({})).await);
    t.create_user("frank", "frank-password-1", json!({})).await;
    t.enable_2fa("frank", "frank-password-1").await;
    let pending = t.login_reply("frank", "frank-password-1").await;
    assert_eq!(pending.error(), "passcode required");
    assert!(pending.body.get("access_token").is_none());

    let app = |scope: &'static str| async move {
        let v = t.app_password("bob", "bob-password-1", scope, 0).await;
        Cred::Basic("bob".into(), v["access_token"].as_str().unwrap().to_owned())
    };
    let expired = t.app_password("bob", "bob-password-1", "*", 3600).await;
    t.sql(&format!(
        "UPDATE sessions SET expires_at = created_at - 1 WHERE id = '{}'",
        expired["session_id"].as_str().unwrap()
    ))
    .await;
    let revoked = t.app_password("bob", "bob-password-1", "*", 0).await;
    let bob_web = t.login("bob", "bob-password-1").await;
    let r = t
        .call(Method::POST, "/api/v1/oauth/revoke", Some(&bob_web), Some(json!({"token": revoked["session_id"]})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let dave_web = t.login("dave", "dave-password-1").await;
    t.call(Method::PUT, &format!("/api/v1/users/{dave}"), Some(&admin), Some(json!({"can_login": false}))).await;
    let erin_web = t.login("erin", "erin-password-1").await;
    t.call(Method::DELETE, &format!("/api/v1/users/{erin}"), Some(&admin), None).await;
    let token = cli_json(t, &["auth", "add", "-n", "matrix", "-s", "*", "--json"]);
    let client = cli_json(t, &["clients", "add", "-n", "matrix", "-s", "metrics", "--json"]);
    let client_token = Reply::read(
        t.client
            .post(t.url("/api/v1/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client["client_id"].as_str().unwrap()),
                ("client_secret", client["client_secret"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let admin_metrics = t.app_password("admin", ADMIN_PASSWORD, "metrics", 0).await;

    let creds = vec![
        Cred::None,
        Cred::None,
        Cred::Bearer(bob_web),
        Cred::Bearer(t.login("carol", "carol-password-1").await),
        Cred::Basic("bob".into(), "bob-password-1".into()),
        Cred::Basic("frank".into(), "frank-password-1".into()),
        app("webdav").await,
        app("*").await,
        app("metrics").await,
        app("sessions").await,
        Cred::Basic("bob".into(), expired["access_token"].as_str().unwrap().to_owned()),
        Cred::Basic("bob".into(), revoked["access_token"].as_str().unwrap().to_owned()),
        Cred::Bearer(dave_web),
        Cred::Bearer(erin_web),
        Cred::Bearer(token["access_token"].as_str().unwrap().to_owned()),
        Cred::Bearer(client_token.body["access_token"].as_str().unwrap().to_owned()),
        Cred::Basic("admin".into(), admin_metrics["access_token"].as_str().unwrap().to_owned()),
        Cred::Bearer(admin),
    ];
    (creds, bob, victim)
}

async fn every_route_answers_every_credential_as_the_table_says(db: Db) {
    let t = spawn(db).await;
    let (creds, bob, victim) = arrange(&t).await;
    assert_eq!(creds.len(), COLUMNS.len());
    let mut mismatches = Vec::new();
    // Column by column: the last route (logout) and the admin column change state.
    for (col, cred) in creds.iter().enumerate() {
        for (method, path, expected) in MATRIX {
            let want: Vec<u16> = expected.split_whitespace().map(|s| s.parse().unwrap()).collect();
            assert_eq!(want.len(), COLUMNS.len(), "row {method} {path} has a cell per column");
            let url = path.replace("{bob}", &bob).replace("{victim}", &victim).replace("{col}", &col.to_string());
            let mut req = t.client.request(method.parse::<Method>().unwrap(), t.url(&url));
            if *method == "PROPFIND" {
                req = req.header("Depth", "1");
            }
            if *method == "PUT" && path.starts_with("/originals/") {
                req = req.body(format!("written as {}", COLUMNS[col]));
            }
            req = match cred {
                Cred::None => req,
                Cred::Bearer(tok) => req.bearer_auth(tok),
                Cred::Basic(u, p) => req.basic_auth(u, Some(p)),
            };
            if let Some(b) = body_for(method, path, col) {
                req = req.json(&b);
            }
            let r = Reply::read(req.send().await.unwrap()).await;
            if r.status.as_u16() != want[col] {
                mismatches.push(format!(
                    "{method} {path} as {}: got {}, want {} ({})",
                    COLUMNS[col],
                    r.status.as_u16(),
                    want[col],
                    r.text
                ));
            }
            if r.status.is_client_error() || r.status.is_server_error() {
                // The API answers JSON; WebDAV answers RFC 4918 <D:error> XML.
                let dav = path.starts_with("/originals")
                    || path.starts_with("/import")
                    || (*path == "/" && matches!(*method, "PROPFIND" | "OPTIONS"));
                if dav {
                    assert!(r.text.contains("<D:error"), "{method} {path} as {}: XML error body", COLUMNS[col]);
                } else {
                    assert!(r.body["error"].is_string(), "{method} {path} as {}: JSON error body", COLUMNS[col]);
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{} cells differ:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// Every route the router knows must have a row: probing an unlisted path gives 404
/// and a listed one never does for the admin — but a new route could slip in. So the
/// list of API route patterns in the source is compared with the table.
#[test]
fn every_api_route_is_in_the_matrix() {
    let mut in_source = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir("src/web/api").unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix(".route(\"") else { continue };
            let path = rest.split('"').next().unwrap().to_owned();
            let methods = ["get(", "post(", "put(", "delete("];
            for m in methods.iter().filter(|m| rest.contains(*m)) {
                in_source.insert((m.trim_end_matches('(').to_uppercase(), path.clone()));
            }
        }
    }
    // A query (`?path=…`) is part of a row's request, not of the route.
    let normalise = |p: &str| {
        p.split('?')
            .next()
            .unwrap()
            .replace("{bob}", "{uid}")
            .replace("{victim}", "{uid}")
            .replace("sessnothere", "{id}")
    };
    let in_matrix: std::collections::BTreeSet<(String, String)> =
        MATRIX.iter().map(|(m, p, _)| (m.to_string(), normalise(p))).collect();
    let missing: Vec<_> = in_source.difference(&in_matrix).collect();
    assert!(missing.is_empty(), "routes without a row in the matrix: {missing:?}");
}

on_both_databases!(every_route_answers_every_credential_as_the_table_says);
