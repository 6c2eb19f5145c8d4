//! OAuth2 clients and access tokens (docs/design.md, "OAuth2 clients and access tokens";
//! README's `auth` and `clients` commands), through the real CLI and HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Db, Reply, TestApp, spawn, stderr, stdout};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn cli_json(t: &TestApp, args: &[&str]) -> Value {
    let out = t.cli(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

async fn form_token(t: &TestApp, fields: &[(&str, &str)]) -> Reply {
    Reply::read(t.client.post(t.url("/api/v1/oauth/token")).form(fields).send().await.unwrap()).await
}

async fn clients_get_tokens_by_form_basic_or_json(db: Db) {
    let t = spawn(db).await;
    let c = cli_json(&t, &["clients", "add", "-n", "Prometheus", "-s", "metrics", "-e", "600", "-t", "5", "--json"]);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    assert!(id.starts_with("cs") && secret.len() >= 32);
    assert_eq!(c["scope"], "metrics");
    let stored: String =
        sqlx::query_scalar("SELECT secret_hash FROM clients").fetch_one(t.app.store.pool()).await.unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains(secret));
    // The secret is shown once: `show` does not have it.
    assert!(cli_json(&t, &["clients", "show", id, "--json"]).get("client_secret").is_none());

    let by_form =
        form_token(&t, &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)]).await;
    assert_eq!(by_form.status, StatusCode::OK, "{}", by_form.text);
    assert_eq!(by_form.body["token_type"], "Bearer");
    assert_eq!(by_form.body["scope"], "metrics");
    assert_eq!(by_form.body["expires_in"], 600);
    let token = by_form.body["access_token"].as_str().unwrap();
    let metrics = t.client.get(t.url("/api/v1/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    assert!(text.contains("gatehouse_users 1\n"), "{text}");
    assert!(text.contains("gatehouse_sessions{kind=\"client\"} 1\n"), "{text}");
    let who = t.get("/api/v1/session", token).await;
    assert_eq!(who.body["client_id"], id);
    assert!(who.body["user"].is_null());
    assert_eq!(t.get("/api/v1/users", token).await.status, StatusCode::FORBIDDEN);

    let basic = Reply::read(
        t.client
            .post(t.url("/api/v1/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "metrics read")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(basic.status, StatusCode::OK, "{}", basic.text);
    assert_eq!(basic.body["scope"], "metrics read", "a requested scope narrows");
    let json_body = t
        .call(
            Method::POST,
            "/api/v1/oauth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret})),
        )
        .await;
    assert_eq!(json_body.status, StatusCode::OK);
}

async fn oauth_errors_follow_rfc_6749(db: Db) {
    let t = spawn(db).await;
    let c = cli_json(&t, &["clients", "add", "-n", "sync", "-s", "metrics webdav", "--json"]);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let wrong =
        form_token(&t, &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", "nope")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error(), "invalid_client");
    assert!(wrong.body["error_description"].is_string());
    let unknown =
        form_token(&t, &[("grant_type", "client_credentials"), ("client_id", "csnope"), ("client_secret", secret)])
            .await;
    assert_eq!(unknown.error(), "invalid_client");
    let wider = form_token(
        &t,
        &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret), ("scope", "*")],
    )
    .await;
    assert_eq!(wider.status, StatusCode::BAD_REQUEST);
    assert_eq!(wider.error(), "invalid_scope");
    let bogus = form_token(
        &t,
        &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret), ("scope", "root")],
    )
    .await;
    assert_eq!(bogus.error(), "invalid_scope");
    let grant = form_token(&t, &[("grant_type", "authorization_code"), ("code", "x")]).await;
    assert_eq!(grant.status, StatusCode::BAD_REQUEST);
    assert_eq!(grant.error(), "unsupported_grant_type");
    let missing = form_token(&t, &[("client_id", id)]).await;
    assert_eq!(missing.error(), "invalid_request");
    let no_secret = form_token(&t, &[("grant_type", "client_credentials"), ("client_id", id)]).await;
    assert_eq!(no_secret.error(), "invalid_client");
}

async fn the_oldest_tokens_past_the_limit_are_revoked(db: Db) {
    // Tokens are ordered by when they were issued: the frozen clock moves between them.
    let clock = gatehouse::clock::ManualClock::at(common::unix_now());
    let t = common::spawn_with_clock(db, &clock, |_| {}).await;
    let c = cli_json(&t, &["clients", "add", "-n", "limited", "-s", "metrics", "-t", "2", "--json"]);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let r =
            form_token(&t, &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)]).await;
        tokens.push(r.body["access_token"].as_str().unwrap().to_owned());
        clock.advance(2);
    }
    assert_eq!(t.get("/api/v1/session", &tokens[0]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get("/api/v1/session", &tokens[1]).await.status, StatusCode::OK);
    assert_eq!(t.get("/api/v1/session", &tokens[2]).await.status, StatusCode::OK);

    // Disabling the client revokes its tokens and stops new ones; deleting removes it.
    cli_json(&t, &["clients", "mod", id, "--disable", "--json"]);
    assert_eq!(t.get("/api/v1/session", &tokens[2]).await.status, StatusCode::UNAUTHORIZED);
    let r = form_token(&t, &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)]).await;
    assert_eq!(r.error(), "invalid_client");
    let regenerated = cli_json(&t, &["clients", "mod", id, "--enable", "--regenerate", "--json"]);
    let new_secret = regenerated["client_secret"].as_str().unwrap();
    let old =
        form_token(&t, &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)]).await;
    assert_eq!(old.error(), "invalid_client");
    let new =
        form_token(&t, &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", new_secret)]).await;
    assert_eq!(new.status, StatusCode::OK);
    let token = new.body["access_token"].as_str().unwrap();
    let out = t.cli(&["clients", "rm", id, "--yes"]);
    assert!(out.status.success());
    assert_eq!(t.get("/api/v1/session", token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(cli_json(&t, &["clients", "ls", "--json"]), json!([]));
}

async fn cli_auth_makes_app_passwords_and_access_tokens(db: Db) {
    let t = spawn(db).await;
    t.create_user("bob", "bob-password-1", json!({"webdav": true})).await;
    let app = cli_json(&t, &["auth", "add", "bob", "-n", "rclone", "-s", "webdav", "-e", "3600", "--json"]);
    let secret = app["access_token"].as_str().unwrap();
    assert_eq!(secret.len(), 27);
    assert_eq!(app["scope"], "webdav");
    assert_eq!(app["expires_in"], 3600);
    assert_eq!(t.get_basic("/api/v1/session", "bob", secret).await.status, StatusCode::FORBIDDEN, "webdav only");

    let token = cli_json(&t, &["auth", "add", "-n", "monitoring", "-s", "metrics", "--json"]);
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(t.get("/api/v1/metrics", access).await.status, StatusCode::OK);
    assert!(t.get("/api/v1/session", access).await.body["user"].is_null());

    // The table prints the secret once, in its own column.
    let table = t.cli(&["auth", "add", "bob", "-n", "phone", "-s", "*"]);
    assert!(stdout(&table).contains("App Password"));
    let listed = cli_json(&t, &["auth", "ls", "--json"]);
    assert_eq!(
        listed.as_array().unwrap().len(),
        4,
        "three credentials made here and the admin web session create_user opened: {listed}"
    );
    let ls = t.cli(&["auth", "ls", "--user", "bob", "--kind", "app_password", "--csv"]);
    assert_eq!(stdout(&ls).lines().count(), 3, "header + rclone + phone");
    assert!(!stdout(&ls).contains(secret));

    let id = app["session_id"].as_str().unwrap();
    assert_eq!(cli_json(&t, &["auth", "show", id, "--json"])["name"], "rclone");
    assert!(t.cli(&["auth", "rm", id]).status.success());
    assert_eq!(t.get_basic("/api/v1/session", "bob", secret).await.status, StatusCode::UNAUTHORIZED);
    assert!(!t.cli(&["auth", "rm", id]).status.success(), "already gone");
    assert!(!t.cli(&["auth", "reset"]).status.success(), "asks for --yes");
    assert!(t.cli(&["auth", "reset", "--yes"]).status.success());
    assert_eq!(t.get("/api/v1/metrics", access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(cli_json(&t, &["auth", "ls", "--json"]), json!([]));
    // Bad input is refused with a clear message.
    let out = t.cli(&["auth", "add", "bob", "-n", "x", "-s", "everything"]);
    assert!(!out.status.success() && stderr(&out).contains("unknown scope"));
    let out = t.cli(&["auth", "add", "ghost", "-n", "x"]);
    assert!(!out.status.success() && stderr(&out).contains("not found"));
}

async fn the_authorization_server_describes_itself(db: Db) {
    let t = common::spawn_with(db, |s| s.public_url = Some("https://photos.example.com/".parse().unwrap())).await;
    // Every URL in it comes from the public URL, never from the Host header.
    let r = t.client.get(t.url("/.well-known/oauth-authorization-server")).header("Host", "evil.example").send().await;
    let r = common::Reply::read(r.unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.text.contains("evil.example"), "{}", r.text);
    let base = "https://photos.example.com";
    assert_eq!(r.body["issuer"], base);
    assert_eq!(r.body["token_endpoint"], format!("{base}/api/v1/oauth/token"));
    assert_eq!(r.body["revocation_endpoint"], format!("{base}/api/v1/oauth/revoke"));
    assert!(r.body["grant_types_supported"].as_array().unwrap().contains(&json!("client_credentials")));
    assert!(r.body["scopes_supported"].as_array().unwrap().contains(&json!("webdav")));
    // Without a public URL, the address the server listens on.
    let t = spawn(db).await;
    let r = t.client.get(t.url("/.well-known/oauth-authorization-server")).header("Host", "evil.example").send().await;
    let r = common::Reply::read(r.unwrap()).await;
    assert_eq!(r.body["issuer"], format!("http://{}", t.app.settings.listen));
}

async fn metrics_need_the_metrics_scope_and_an_admin(db: Db) {
    let t = spawn(db).await;
    t.create_user("bob", "bob-password-1", json!({})).await;
    let admin = t.admin_token().await;
    assert_eq!(t.get("/api/v1/metrics", &admin).await.status, StatusCode::OK);
    let bob = t.login("bob", "bob-password-1").await;
    assert_eq!(t.get("/api/v1/metrics", &bob).await.status, StatusCode::FORBIDDEN);
    let admin_app = t.app_password("admin", common::ADMIN_PASSWORD, "metrics", 0).await;
    let r = t.get_basic("/api/v1/metrics", "admin", admin_app["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("# TYPE gatehouse_logins_total counter"));
    let admin_dav = t.app_password("admin", common::ADMIN_PASSWORD, "webdav", 0).await;
    let r = t.get_basic("/api/v1/metrics", "admin", admin_dav["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(t.call(Method::GET, "/api/v1/metrics", None, None).await.status, StatusCode::UNAUTHORIZED);
}

on_both_databases!(
    clients_get_tokens_by_form_basic_or_json,
    oauth_errors_follow_rfc_6749,
    the_oldest_tokens_past_the_limit_are_revoked,
    cli_auth_makes_app_passwords_and_access_tokens,
    the_authorization_server_describes_itself,
    metrics_need_the_metrics_scope_and_an_admin,
);
