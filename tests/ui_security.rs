//! Web security of the UI: the page headers (CSP without inline scripts, no framing),
//! escaping of user-supplied text, the CSRF token pages hand to their scripts, and the
//! size and types of the static assets. Runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod ui;

use common::{ADMIN_PASSWORD, Db, spawn};
use gatehouse::web::ui::{ASSETS, CONTENT_SECURITY_POLICY};
use reqwest::{Method, StatusCode};
use serde_json::json;
use ui::{cookie_call, no_inline_handlers_or_styles, page, scripts_are_external};

async fn pages_carry_strict_security_headers(db: Db) {
    let t = spawn(db).await;
    t.create_user("bob", "bob-password-1", json!({})).await;
    let admin = t.admin_token().await;
    let bob = t.login("bob", "bob-password-1").await;
    let pages = [
        page(&t, "/login", None).await,
        page(&t, "/settings/account", Some(&admin)).await,
        page(&t, "/admin/users", Some(&admin)).await,
        page(&t, "/admin/users", Some(&bob)).await,
    ];
    for p in &pages {
        let csp = p.header("content-security-policy");
        assert_eq!(csp, CONTENT_SECURITY_POLICY);
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
        assert_eq!(p.header("x-frame-options"), "DENY");
        assert_eq!(p.header("x-content-type-options"), "nosniff");
        assert_eq!(p.header("referrer-policy"), "no-referrer");
        assert_eq!(p.header("cache-control"), "no-store");
        assert!(p.header("content-type").starts_with("text/html; charset=utf-8"));
        assert!(scripts_are_external(&p.html), "inline script in {}", p.html);
        assert!(no_inline_handlers_or_styles(&p.html), "inline handler or style in {}", p.html);
        assert!(!p.html.contains("src=\"http") && !p.html.contains("href=\"http"), "nothing from other sites");
    }
    // The API keeps its JSON errors; pages' errors stay HTML.
    let missing = t.call(Method::GET, "/no-such-page", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "not_found");
    assert!(missing.headers.get("content-security-policy").is_none());
}

async fn user_supplied_text_is_escaped(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let admin_uid = t.uid_of(&admin).await;
    let xss = "<img src=x onerror=alert(1)>";
    let r = t.call(Method::PUT, &format!("/api/v1/users/{admin_uid}"), Some(&admin), Some(json!({"name": xss}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    t.create_user(
        "bob",
        "bob-password-1",
        json!({"name": "<script>alert(1)</script>", "email": "x\"onmouseover=\"alert(1)@example.com"}),
    )
    .await;
    let body = json!({"grant_type": "password", "client_name": "<b>sync</b>", "scope": "webdav", "expires_in": 0,
                      "username": "admin", "password": ADMIN_PASSWORD});
    assert_eq!(t.call(Method::POST, "/api/v1/oauth/token", Some(&admin), Some(body)).await.status, StatusCode::OK);

    let account = page(&t, "/settings/account", Some(&admin)).await;
    assert!(account.html.contains("&lt;img src=x onerror=alert(1)&gt;"), "the name shows as text");
    assert!(!account.html.contains("<img src=x"));
    assert!(account.html.contains("&lt;b&gt;sync&lt;") && !account.html.contains("<b>sync"));
    let users = page(&t, "/admin/users", Some(&admin)).await;
    assert!(users.html.contains("&lt;script&gt;alert(1)&lt;"));
    assert!(!users.html.contains("<script>alert"));
    assert!(users.html.contains("x&quot;onmouseover=&quot;alert(1)@example.com"));
    assert!(!users.html.contains("\"onmouseover=\""));
    for p in [&account, &users] {
        assert!(scripts_are_external(&p.html) && no_inline_handlers_or_styles(&p.html));
    }
}

async fn the_pages_csrf_token_is_the_one_the_api_requires(db: Db) {
    let t = spawn(db).await;
    let first = t.admin_token().await;
    let second = t.admin_token().await;
    let uid = t.uid_of(&first).await;
    let path = format!("/api/v1/users/{uid}");
    let token = page(&t, "/settings/account", Some(&first)).await.csrf_token();
    let other = page(&t, "/settings/account", Some(&second)).await.csrf_token();
    assert_ne!(token, other, "a token per session");
    let change = json!({"name": "Admin"});
    assert_eq!(cookie_call(&t, Method::PUT, &path, &first, None, change.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(cookie_call(&t, Method::PUT, &path, &first, Some("x"), change.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(cookie_call(&t, Method::PUT, &path, &first, Some(&other), change.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(cookie_call(&t, Method::PUT, &path, &first, Some(&token), change).await, StatusCode::OK);
    // Logout from the page is a state change too.
    let gone = cookie_call(&t, Method::DELETE, "/api/v1/session", &first, None, json!({})).await;
    assert_eq!(gone, StatusCode::FORBIDDEN);
    assert_eq!(
        cookie_call(&t, Method::DELETE, "/api/v1/session", &first, Some(&token), json!({})).await,
        StatusCode::OK
    );
    assert_eq!(page(&t, "/settings/account", Some(&first)).await.status, StatusCode::SEE_OTHER);
}

async fn assets_are_served_with_their_types(db: Db) {
    let t = spawn(db).await;
    let login = page(&t, "/login", None).await;
    for (name, content_type, body) in ASSETS {
        let r = t.client.get(t.url(&format!("/assets/{name}?v=1"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert_eq!(r.headers()["content-type"], *content_type);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.text().await.unwrap(), *body);
    }
    for linked in login.html.split("&#x2f;assets&#x2f;").skip(1) {
        let name = linked.split('?').next().unwrap();
        assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name} is linked but not served");
    }
    for bad in ["/assets/nope.js", "/assets/%2e%2e%2fCargo.toml", "/assets/"] {
        let r = t.call(Method::GET, bad, None, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
    }
}

#[test]
fn the_whole_uis_javascript_and_css_stay_under_100_kb() {
    let total: usize =
        ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js") || n.ends_with(".css")).map(|(_, _, b)| b.len()).sum();
    assert!(total < 100 * 1024, "JS + CSS is {total} bytes");
}

on_both_databases!(
    pages_carry_strict_security_headers,
    user_supplied_text_is_escaped,
    the_pages_csrf_token_is_the_one_the_api_requires,
    assets_are_served_with_their_types,
);
