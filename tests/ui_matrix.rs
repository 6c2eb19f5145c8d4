//! Who gets which page: every UI route × every kind of credential a browser (or a
//! confused client) might present. Only a user's own web session opens the pages; an
//! app password, whatever its scope, an access token, the account password over Basic,
//! a disabled or deleted user's session are all sent to the login page. Complements
//! the API's table in `matrix.rs`. Runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Db, stderr, stdout};
use reqwest::header::{AUTHORIZATION, COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The credential states, in the order of the table's columns.
#[rustfmt::skip]
const COLUMNS: &[&str] = &[
    "anon",      // nothing
    "cookie",    // bob's web session in the session cookie (what the browser sends)
    "bearer",    // bob's web session as a bearer token
    "admin",     // the admin's web session in the cookie
    "pw",        // bob's account password over HTTP Basic
    "2fa-pw",    // frank's account password over Basic while frank has 2FA on
    "app:dav",   // bob's app password, scope webdav, over Basic
    "app:all",   // bob's app password, scope *, over Basic
    "app-cook",  // bob's app password, scope *, put in the session cookie
    "token",     // an access token without a user (CLI), bearer
    "disabled",  // dave's web session after an admin disabled dave (cookie)
    "deleted",   // erin's web session after an admin deleted erin (cookie)
    "wrong",     // a wrong password over Basic
];

/// Route × credential → expected answer: a status, or `login` / `account` for a 303
/// to that page.
#[rustfmt::skip]
const PAGES: &[(&str, &str)] = &[
    //                        anon    cookie   bearer   admin    pw     2fa-pw app:dav app:all app-cook token disabled deleted wrong
    ("/",                    "login   account  account  account  login  login  login   login   login    login login    login   login"),
    ("/login",               "200     account  account  account  200    200    200     200     200      200   200      200     200"),
    ("/settings/account",    "login   200      200      200      login  login  login   login   login    login login    login   login"),
    ("/admin/users",         "login   403      403      200      login  login  login   login   login    login login    login   login"),
    ("/assets/app.css",      "200     200      200      200      200    200    200     200     200      200   200      200     200"),
];

#[derive(Debug)]
enum Cred {
    None,
    Cookie(String),
    Bearer(String),
    Basic(String, String),
}

async fn every_page_answers_every_credential_as_the_table_says(db: Db) {
    let t = common::spawn(db).await;
    let admin = t.admin_token().await;
    let uid = |v: Value| v["uid"].as_str().unwrap().to_owned();
    t.create_user("bob", "bob-password-1", json!({"webdav": true})).await;
    let dave = uid(t.create_user("dave", "dave-password-1", json!({})).await);
    let erin = uid(t.create_user("erin", "erin-password-1", json!({})).await);
    t.create_user("frank", "frank-password-1", json!({})).await;
    t.enable_2fa("frank", "frank-password-1").await;
    let bob = t.login("bob", "bob-password-1").await;
    let app = |scope: &'static str| {
        let t = &t;
        async move { t.app_password("bob", "bob-password-1", scope, 0).await["access_token"].as_str().unwrap().to_owned() }
    };
    let (dav, all) = (app("webdav").await, app("*").await);
    let dave_web = t.login("dave", "dave-password-1").await;
    let erin_web = t.login("erin", "erin-password-1").await;
    let r =
        t.call(Method::PUT, &format!("/api/v1/users/{dave}"), Some(&admin), Some(json!({"can_login": false}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        t.call(Method::DELETE, &format!("/api/v1/users/{erin}"), Some(&admin), None).await.status,
        StatusCode::OK
    );
    let out = t.cli(&["auth", "add", "-n", "pages", "-s", "*", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token: Value = serde_json::from_str(&stdout(&out)).unwrap();

    let basic = |u: &str, p: &str| Cred::Basic(u.to_owned(), p.to_owned());
    let creds = [
        Cred::None,
        Cred::Cookie(bob.clone()),
        Cred::Bearer(bob),
        Cred::Cookie(admin),
        basic("bob", "bob-password-1"),
        basic("frank", "frank-password-1"),
        basic("bob", &dav),
        basic("bob", &all),
        Cred::Cookie(all.clone()),
        Cred::Bearer(token["access_token"].as_str().unwrap().to_owned()),
        Cred::Cookie(dave_web),
        Cred::Cookie(erin_web),
        basic("bob", "not-the-password"),
    ];
    assert_eq!(creds.len(), COLUMNS.len());

    gatehouse::library::install_tls();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut mismatches = Vec::new();
    for (path, row) in PAGES {
        let want: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(want.len(), COLUMNS.len(), "row {path} has a cell per column");
        for (col, cred) in creds.iter().enumerate() {
            let mut req = client.get(t.url(path)).header("accept", "text/html");
            req = match cred {
                Cred::None => req,
                Cred::Cookie(c) => req.header(COOKIE, format!("gatehouse_session={c}")),
                Cred::Bearer(b) => req.header(AUTHORIZATION, format!("Bearer {b}")),
                Cred::Basic(u, p) => req.basic_auth(u, Some(p)),
            };
            let resp = req.send().await.unwrap();
            let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let got = match (resp.status(), location.split('?').next().unwrap_or("")) {
                (StatusCode::SEE_OTHER, "/login") => "login".to_owned(),
                (StatusCode::SEE_OTHER, "/settings/account") => "account".to_owned(),
                (status, _) => status.as_u16().to_string(),
            };
            if got != want[col] {
                mismatches.push(format!("GET {path} as {}: got {got} ({location}), want {}", COLUMNS[col], want[col]));
            }
        }
    }
    assert!(mismatches.is_empty(), "{} cells differ:\n{}", mismatches.len(), mismatches.join("\n"));
}

on_both_databases!(every_page_answers_every_credential_as_the_table_says);
