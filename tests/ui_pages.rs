//! The web UI's pages (docs/design.md, "Web UI pages"): who may see them, where everyone else
//! is sent, and what each page shows. Runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod ui;

use common::{ADMIN_PASSWORD, Db, TestApp, spawn};
use reqwest::{Method, StatusCode};
use serde_json::json;
use ui::page;

/// Makes an app password for `username` from its web session; returns the password.
async fn app_password(t: &TestApp, web: &str, username: &str, password: &str, name: &str, scope: &str) -> String {
    let body = json!({"grant_type": "password", "client_name": name, "scope": scope, "expires_in": 0,
                      "username": username, "password": password});
    let r = t.call(Method::POST, "/api/v1/oauth/token", Some(web), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_owned()
}

async fn visitors_without_a_web_session_are_sent_to_the_login_page(db: Db) {
    let t = spawn(db).await;
    let home = page(&t, "/", None).await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), "/login");
    for path in ["/settings/account", "/admin/users"] {
        let p = page(&t, path, None).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(p.location(), format!("/login?next={path}"));
        let made_up = page(&t, path, Some("not-a-session-token")).await;
        assert_eq!(made_up.status, StatusCode::SEE_OTHER, "{path} with a made-up cookie");
    }
    let login = page(&t, "/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.header("content-type").starts_with("text/html"));
    assert!(login.html.contains("id=\"login-form\""));

    // An app password is not a web login, whatever its scope and however it is sent.
    let admin = t.admin_token().await;
    let full = app_password(&t, &admin, "admin", ADMIN_PASSWORD, "sync", "*").await;
    let as_cookie = page(&t, "/settings/account", Some(&full)).await;
    assert_eq!(as_cookie.status, StatusCode::SEE_OTHER);
    gatehouse::library::install_tls();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let as_bearer = client.get(t.url("/settings/account")).bearer_auth(&full).send().await.unwrap();
    assert_eq!(as_bearer.status(), StatusCode::SEE_OTHER);
    assert_eq!(as_bearer.headers()["location"], "/login?next=/settings/account");

    // A session that was logged out no longer opens the pages.
    assert_eq!(page(&t, "/settings/account", Some(&admin)).await.status, StatusCode::OK);
    assert_eq!(t.call(Method::DELETE, "/api/v1/session", Some(&admin), None).await.status, StatusCode::OK);
    assert_eq!(page(&t, "/settings/account", Some(&admin)).await.status, StatusCode::SEE_OTHER);
}

async fn logged_in_visitors_go_straight_to_their_pages(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    for (path, to) in [
        ("/", "/settings/account"),
        ("/login", "/settings/account"),
        ("/login?next=/admin/users", "/admin/users"),
        ("/login?next=//evil.example/", "/settings/account"),
        ("/login?next=https://evil.example/", "/settings/account"),
        ("/login?next=%ZZ", "/settings/account"),
    ] {
        let p = page(&t, path, Some(&admin)).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(p.location(), to, "{path}");
    }
    // Anonymous: the form remembers only our own pages as the way back.
    let back = page(&t, "/login?next=/admin/users", None).await;
    assert!(back.html.contains("data-next=\"&#x2f;admin&#x2f;users\""), "{}", back.html);
    let evil = page(&t, "/login?next=//evil.example/", None).await;
    assert!(!evil.html.contains("evil.example"));
}

async fn the_account_page_shows_the_visitors_own_security(db: Db) {
    let t = spawn(db).await;
    t.create_user("bob", "bob-password-1", json!({"name": "Bob", "webdav": true})).await;
    t.create_user("carol", "carol-password-1", json!({})).await;
    let bob = t.login("bob", "bob-password-1").await;
    let _phone = t.login("bob", "bob-password-1").await;
    app_password(&t, &bob, "bob", "bob-password-1", "PhotoSync", "webdav").await;

    let p = page(&t, "/settings/account", Some(&bob)).await;
    assert_eq!(p.status, StatusCode::OK);
    for button in ["Change Password", "2-Factor Authentication", "Apps and Devices", "Connect via WebDAV", "Logout"] {
        assert!(p.html.contains(&format!(">{button}</button>")), "button {button}");
    }
    assert!(p.html.contains("id=\"twofactor-status\">Disabled"));
    assert!(p.html.contains("PhotoSync") && p.html.contains(">WebDAV</span>"));
    assert!(p.html.contains("This browser"));
    assert_eq!(p.html.matches("data-revoke=").count(), 2, "the other session and the app password");
    assert!(p.html.contains("Logged in"), "security events are listed");
    assert!(p.html.contains("data-webdav-path=\"/originals/\""));
    assert!(p.html.contains("data-webdav-path=\"/import/\""));
    assert!(!p.html.contains("carol"), "nobody else's data");
    assert!(!p.html.contains(">Users</a>"), "no admin navigation for a user");

    let carol = t.enable_2fa("carol", "carol-password-1").await;
    let p = page(&t, "/settings/account", Some(&carol.token)).await;
    assert!(p.html.contains("id=\"twofactor-status\">Enabled"));
    assert!(p.html.contains(">Deactivate</button>"));
    assert!(p.html.contains("2FA enabled"), "the event is listed");
}

async fn only_admins_see_the_users_page(db: Db) {
    let t = spawn(db).await;
    t.create_user("bob", "bob-password-1", json!({"name": "Bob Builder", "webdav": true})).await;
    t.create_user("carol", "carol-password-1", json!({"email": "carol@example.com"})).await;
    t.enable_2fa("carol", "carol-password-1").await;

    let bob = t.login("bob", "bob-password-1").await;
    let refused = page(&t, "/admin/users", Some(&bob)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.header("content-type").starts_with("text/html"), "an HTML page, not the API's JSON");
    assert!(refused.html.contains("Only admins"));

    let admin = t.admin_token().await;
    let all = page(&t, "/admin/users", Some(&admin)).await;
    assert_eq!(all.status, StatusCode::OK);
    for name in ["@admin", "@bob", "@carol", "Bob Builder", "carol@example.com", ">Add user</button>"] {
        assert!(all.html.contains(name), "{name}");
    }
    assert_eq!(all.html.matches("data-user=").count(), 3);
    assert_eq!(all.html.matches("badge-ok\">On<").count(), 1, "carol has 2FA");
    let found = page(&t, "/admin/users?q=CAR", Some(&admin)).await;
    assert!(found.html.contains("@carol") && !found.html.contains("@bob"));
    let none = page(&t, "/admin/users?q=nobody", Some(&admin)).await;
    assert!(none.html.contains("No users match"));
    let junk = page(&t, "/admin/users?q=%ZZ", Some(&admin)).await;
    assert_eq!(junk.status, StatusCode::OK);
}

/// A mistyped address in a browser gets a page with a way back; API clients and
/// anything under /api/ keep getting JSON.
async fn unknown_addresses_get_a_page_in_a_browser_and_json_elsewhere(db: Db) {
    let t = spawn(db).await;
    let p = page(&t, "/settings/acount", None).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.header("content-type").starts_with("text/html"), "{}", p.header("content-type"));
    assert!(p.html.contains("Error 404") && p.html.contains("href=\"/\""), "{}", p.html);
    assert!(p.header("content-security-policy").contains("default-src 'none'"));
    let api = page(&t, "/api/v1/nothing-here", None).await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(api.header("content-type").starts_with("application/json"));
    let script = t.client.get(t.url("/settings/acount")).send().await.unwrap();
    assert_eq!(script.status(), StatusCode::NOT_FOUND);
    assert_eq!(script.json::<serde_json::Value>().await.unwrap()["error"], "not_found");
}

/// The attributes of the `<input>` whose id is `id` (values as written in the HTML).
fn input_attrs(html: &str, id: &str) -> std::collections::HashMap<String, String> {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no element #{id}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    assert!(tag.starts_with("<input"), "#{id} is an input: {tag}");
    let mut attrs = std::collections::HashMap::new();
    let mut rest = &tag["<input".len()..];
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].split_whitespace().last().unwrap().to_owned();
        let value_end = rest[eq + 2..].find('"').unwrap();
        attrs.insert(name, rest[eq + 2..eq + 2 + value_end].to_owned());
        rest = &rest[eq + 2 + value_end + 1..];
    }
    attrs
}

/// Checks that the input `id` carries exactly `expected` among the validating
/// attributes (maxlength, minlength, pattern, type), and nothing stricter.
fn assert_rules(html: &str, id: &str, expected: &[(&str, String)]) {
    let attrs = input_attrs(html, id);
    for key in ["maxlength", "minlength", "pattern"] {
        let want = expected.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
        assert_eq!(attrs.get(key).map(String::as_str), want, "#{id} {key}");
    }
    assert_ne!(attrs.get("type").map(String::as_str), Some("email"), "#{id}: type=email is stricter than the server");
}

async fn the_forms_render_the_servers_field_rules(db: Db) {
    use gatehouse::domain::fields::{
        APP_NAME_MAX, EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_PATTERN,
    };
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let max = |n: usize| ("maxlength", n.to_string());
    let min = |n: usize| ("minlength", n.to_string());
    let password = [min(PASSWORD_MIN), max(PASSWORD_MAX)];

    let account = page(&t, "/settings/account", Some(&admin)).await.html;
    assert_rules(&account, "profile-name", &[max(NAME_MAX)]);
    assert_rules(&account, "profile-email", &[max(EMAIL_MAX)]);
    assert_rules(&account, "pw-new", &password);
    assert_rules(&account, "pw-repeat", &password);
    assert_rules(&account, "app-name", &[max(APP_NAME_MAX)]);
    assert!(account.contains(&format!("At least {PASSWORD_MIN} characters.")));
    assert_eq!(input_attrs(&account, "pw-revoke-apps")["type"], "checkbox");

    let users = page(&t, "/admin/users", Some(&admin)).await.html;
    assert_rules(&users, "new-username", &[max(USERNAME_MAX), ("pattern", USERNAME_PATTERN.to_owned())]);
    assert_rules(&users, "new-name", &[max(NAME_MAX)]);
    assert_rules(&users, "new-email", &[max(EMAIL_MAX)]);
    assert_rules(&users, "new-password", &password);
    assert_rules(&users, "user-name", &[max(NAME_MAX)]);
    assert_rules(&users, "user-email", &[max(EMAIL_MAX)]);
    assert_rules(&users, "user-new-password", &password);
    assert_eq!(input_attrs(&users, "user-keep-apps")["type"], "checkbox");
    assert!(!account.contains("type=\"email\"") && !users.contains("type=\"email\""));

    // The values at those edges are what the API accepts.
    let username = format!("a{}", "-".repeat(USERNAME_MAX - 1));
    let body = json!({"username": username, "password": "p".repeat(PASSWORD_MIN), "name": "é".repeat(NAME_MAX),
                      "email": format!("ü+{}@b", "x".repeat(EMAIL_MAX - 5))});
    let r = t.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = json!({"username": format!("{username}x"), "password": "p".repeat(PASSWORD_MIN)});
    let r = t.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "one past the edge: {}", r.text);
}

on_both_databases!(
    the_forms_render_the_servers_field_rules,
    visitors_without_a_web_session_are_sent_to_the_login_page,
    logged_in_visitors_go_straight_to_their_pages,
    the_account_page_shows_the_visitors_own_security,
    only_admins_see_the_users_page,
    unknown_addresses_get_a_page_in_a_browser_and_json_elsewhere,
);
