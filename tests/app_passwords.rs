//! App passwords (docs/design.md, "App passwords"): format, storage, scopes, what they can never
//! do, immediate revocation, sessions opened with them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Db, TestApp, oathtool, spawn};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn bob(t: &TestApp) -> String {
    t.create_user("bob", "bob-password-1", json!({"webdav": true})).await["uid"].as_str().unwrap().to_owned()
}

fn looks_like_app_password(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 4 && groups.iter().all(|g| g.len() == 6 && g.chars().all(|c| c.is_ascii_alphanumeric()))
}

async fn creation_rechecks_the_password_and_shows_the_secret_once(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let web = t.login("bob", "bob-password-1").await;
    let body = |pw: &str, scope: &str| {
        json!({"grant_type": "password", "client_name": "PhotoSync", "scope": scope, "expires_in": 86400,
               "username": "bob", "password": pw})
    };
    let r = t.call(Method::POST, "/api/v1/oauth/token", Some(&web), Some(body("wrong-pass", "webdav"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = t.call(Method::POST, "/api/v1/oauth/token", Some(&web), Some(body("bob-password-1", "webdav bogus"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body["message"].as_str().unwrap().contains("bogus"));
    let r =
        t.call(Method::POST, "/api/v1/oauth/token", Some(&web), Some(body("bob-password-1", "WebDAV, webdav"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let secret = r.body["access_token"].as_str().unwrap();
    assert!(looks_like_app_password(secret), "{secret}");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["client_name"], "PhotoSync");
    assert_eq!(r.body["scope"], "webdav");
    assert_eq!(r.body["expires_in"], 86400);
    let id = r.body["session_id"].as_str().unwrap();

    let list = t.get(&format!("/api/v1/users/{uid}/sessions?type=app_password"), &web).await;
    let items = list.body.as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["name"], "PhotoSync");
    assert_eq!(items[0]["scope"], "webdav");
    assert!(items[0]["created_at"].is_string() && items[0]["last_active"].is_string());
    assert!(items[0]["expires_at"].is_string());
    assert!(!list.text.contains(secret), "never shown again");
    let stored: String =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT token_hash FROM sessions WHERE id = '{id}'")))
            .fetch_one(t.app.store.pool())
            .await
            .unwrap();
    assert_eq!(stored, gatehouse::domain::token::token_hash(secret), "SHA-256 only");
    // Bad expiry values are refused.
    for bad in [json!(-5), json!(10), json!(400 * 86400), json!("soon")] {
        let mut b = body("bob-password-1", "webdav");
        b["expires_in"] = bad.clone();
        let r = t.call(Method::POST, "/api/v1/oauth/token", Some(&web), Some(b)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

async fn app_passwords_never_manage_the_account_whatever_their_scope(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let full = t.app_password("bob", "bob-password-1", "*", 0).await;
    let secret = full["access_token"].as_str().unwrap().to_owned();
    assert_eq!(t.get_basic("/api/v1/session", "bob", &secret).await.status, StatusCode::OK);
    assert_eq!(t.get("/api/v1/session", &secret).await.status, StatusCode::OK, "as Bearer too");
    let attempts = [
        (
            Method::PUT,
            format!("/api/v1/users/{uid}/password"),
            json!({"old_password": "bob-password-1", "new_password": "hijacked-pass-1"}),
        ),
        (Method::POST, format!("/api/v1/users/{uid}/passcode"), json!({"type": "totp", "password": "bob-password-1"})),
        (Method::POST, format!("/api/v1/users/{uid}/passcode/deactivate"), json!({"password": "bob-password-1"})),
        (Method::PUT, format!("/api/v1/users/{uid}"), json!({"name": "Mallory"})),
        (Method::POST, "/api/v1/users".to_owned(), json!({"username": "eve", "password": "eve-password-1"})),
        (
            Method::POST,
            "/api/v1/oauth/token".to_owned(),
            json!({"grant_type": "password", "client_name": "x", "scope": "*", "username": "bob", "password": "bob-password-1"}),
        ),
    ];
    for (method, path, body) in attempts {
        let bearer = t.call(method.clone(), &path, Some(&secret), Some(body.clone())).await;
        assert_eq!(bearer.status, StatusCode::FORBIDDEN, "{method} {path}: {}", bearer.text);
        let basic = t
            .client
            .request(method.clone(), t.url(&path))
            .basic_auth("bob", Some(&secret))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), StatusCode::FORBIDDEN, "{method} {path} (Basic)");
    }
    t.login("bob", "bob-password-1").await;
    let me = t.get("/api/v1/session", &secret).await;
    assert_eq!(me.body["user"]["name"], "", "nothing changed");
}

async fn a_webdav_app_password_cannot_use_the_api_or_log_in(db: Db) {
    let t = spawn(db).await;
    bob(&t).await;
    let dav = t.app_password("bob", "bob-password-1", "webdav", 0).await;
    let secret = dav["access_token"].as_str().unwrap();
    assert_eq!(t.get_basic("/api/v1/session", "bob", secret).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.get("/api/v1/session", secret).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.get_basic("/api/v1/metrics", "bob", secret).await.status, StatusCode::FORBIDDEN);
    let r = t.login_reply("bob", secret).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no UI login with a WebDAV app password");
    // Someone else's username with this app password: invalid.
    t.create_user("carol", "carol-password-1", json!({})).await;
    assert_eq!(t.get_basic("/api/v1/session", "carol", secret).await.status, StatusCode::UNAUTHORIZED);
}

async fn revocation_expiry_and_disabling_take_effect_at_once(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let web = t.login("bob", "bob-password-1").await;
    let a = t.app_password("bob", "bob-password-1", "*", 0).await;
    let b = t.app_password("bob", "bob-password-1", "*", 0).await;
    let c = t.app_password("bob", "bob-password-1", "*", 3600).await;
    let (sa, sb, sc) =
        (a["access_token"].as_str().unwrap(), b["access_token"].as_str().unwrap(), c["access_token"].as_str().unwrap());
    for s in [sa, sb, sc] {
        assert_eq!(t.get_basic("/api/v1/session", "bob", s).await.status, StatusCode::OK);
    }
    let r = t.call(Method::POST, "/api/v1/oauth/revoke", Some(&web), Some(json!({"token": sa}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(t.get_basic("/api/v1/session", "bob", sa).await.status, StatusCode::UNAUTHORIZED);
    // By session id, with a form body as RFC 7009 has it.
    let form = t
        .client
        .post(t.url("/api/v1/oauth/revoke"))
        .bearer_auth(&web)
        .form(&[("token", b["session_id"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(t.get_basic("/api/v1/session", "bob", sb).await.status, StatusCode::UNAUTHORIZED);
    // Expiry: the row's time has come.
    let id = c["session_id"].as_str().unwrap();
    t.sql(&format!("UPDATE sessions SET expires_at = created_at - 1 WHERE id = '{id}'")).await;
    assert_eq!(t.get_basic("/api/v1/session", "bob", sc).await.status, StatusCode::UNAUTHORIZED);

    // A password change leaves app passwords alone but kills the old password at once.
    let d = t.app_password("bob", "bob-password-1", "*", 0).await;
    let sd = d["access_token"].as_str().unwrap();
    let web = t.login("bob", "bob-password-1").await;
    assert_eq!(t.get_basic("/api/v1/session", "bob", "bob-password-1").await.status, StatusCode::OK);
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/users/{uid}/password"),
            Some(&web),
            Some(json!({"old_password": "bob-password-1", "new_password": "bob-password-2"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(t.get_basic("/api/v1/session", "bob", "bob-password-1").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get_basic("/api/v1/session", "bob", sd).await.status, StatusCode::OK);

    // Disabling the user stops everything on the next request.
    let admin = t.admin_token().await;
    t.call(Method::PUT, &format!("/api/v1/users/{uid}"), Some(&admin), Some(json!({"can_login": false}))).await;
    assert_eq!(t.get_basic("/api/v1/session", "bob", sd).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get_basic("/api/v1/session", "bob", "bob-password-2").await.status, StatusCode::UNAUTHORIZED);
}

async fn others_cannot_revoke_my_app_passwords(db: Db) {
    let t = spawn(db).await;
    bob(&t).await;
    t.create_user("carol", "carol-password-1", json!({})).await;
    let a = t.app_password("bob", "bob-password-1", "*", 0).await;
    let carol = t.login("carol", "carol-password-1").await;
    let r = t.call(Method::POST, "/api/v1/oauth/revoke", Some(&carol), Some(json!({"token": a["session_id"]}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t.call(Method::POST, "/api/v1/oauth/revoke", Some(&carol), Some(json!({"token": a["access_token"]}))).await;
    assert_eq!(r.status, StatusCode::OK, "RFC 7009: no hint");
    assert_eq!(t.get_basic("/api/v1/session", "bob", a["access_token"].as_str().unwrap()).await.status, StatusCode::OK);
    let admin = t.admin_token().await;
    let r = t.call(Method::POST, "/api/v1/oauth/revoke", Some(&admin), Some(json!({"token": a["session_id"]}))).await;
    assert_eq!(r.status, StatusCode::OK, "admins may");
    assert_eq!(
        t.get_basic("/api/v1/session", "bob", a["access_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn sessions_opened_with_an_app_password_keep_its_limits_and_die_with_it(db: Db) {
    let t = spawn(db).await;
    let uid = bob(&t).await;
    let parent = t.app_password("bob", "bob-password-1", "sessions", 0).await;
    let secret = parent["access_token"].as_str().unwrap();
    let r = t.login_reply("bob", secret).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["scope"], "sessions");
    let child = r.body["access_token"].as_str().unwrap();
    assert_eq!(t.get("/api/v1/session", child).await.status, StatusCode::OK);
    let change = t
        .call(
            Method::PUT,
            &format!("/api/v1/users/{uid}/password"),
            Some(child),
            Some(json!({"old_password": "bob-password-1", "new_password": "x-password-99"})),
        )
        .await;
    assert_eq!(change.status, StatusCode::FORBIDDEN, "restrictions carry over");
    let metrics_only = t.app_password("bob", "bob-password-1", "metrics", 0).await;
    assert_eq!(
        t.login_reply("bob", metrics_only["access_token"].as_str().unwrap()).await.status,
        StatusCode::FORBIDDEN
    );
    // Revoking the parent ends the child.
    let web = t.login("bob", "bob-password-1").await;
    t.call(Method::POST, "/api/v1/oauth/revoke", Some(&web), Some(json!({"token": secret}))).await;
    assert_eq!(t.get("/api/v1/session", child).await.status, StatusCode::UNAUTHORIZED);
}

async fn last_used_is_written_at_most_once_a_minute(db: Db) {
    let t = common::spawn_frozen(db).await;
    bob(&t).await;
    let a = t.app_password("bob", "bob-password-1", "*", 0).await;
    let (secret, id) = (a["access_token"].as_str().unwrap(), a["session_id"].as_str().unwrap());
    let read = || async {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT last_active FROM sessions WHERE id = '{id}'")))
            .fetch_one(t.app.store.pool())
            .await
            .unwrap()
    };
    t.sql(&format!("UPDATE sessions SET last_active = last_active - 30 WHERE id = '{id}'")).await;
    let before = read().await;
    t.get_basic("/api/v1/session", "bob", secret).await;
    assert_eq!(read().await, before, "30 s ago is recent enough: no write");
    t.sql(&format!("UPDATE sessions SET last_active = last_active - 90 WHERE id = '{id}'")).await;
    let stale = read().await;
    t.get_basic("/api/v1/session", "bob", secret).await;
    assert!(read().await > stale + 60, "a minute passed: written");
}

async fn a_2fa_user_syncs_with_an_app_password_only(db: Db) {
    let t = common::spawn_frozen(db).await;
    bob(&t).await;
    let a = t.app_password("bob", "bob-password-1", "webdav", 0).await;
    let tf = t.enable_2fa("bob", "bob-password-1").await;
    let r = t.get_basic("/api/v1/session", "bob", "bob-password-1").await;
    assert_eq!(r.error(), "app password required");
    // The app password made before 2FA keeps working (activation ends web sessions only).
    let secret = a["access_token"].as_str().unwrap();
    let dav = t.get_basic("/api/v1/metrics", "bob", secret).await;
    assert_eq!(dav.status, StatusCode::FORBIDDEN, "authenticated, just not allowed there");
    let code = oathtool(&tf.key, tf.confirmed_at + 30);
    assert_eq!(t.login_with_code("bob", "bob-password-1", &code).await.status, StatusCode::OK);
}

async fn malformed_credentials_are_401s(db: Db) {
    let t = spawn(db).await;
    bob(&t).await;
    let a = t.app_password("bob", "bob-password-1", "*", 0).await;
    let secret = a["access_token"].as_str().unwrap();
    let mut wrong_checksum = secret.to_owned();
    let last = wrong_checksum.pop().unwrap();
    wrong_checksum.push(if last == 'a' { 'b' } else { 'a' });
    for bad in [wrong_checksum.as_str(), "aaaaaa-bbbbbb-cccccc-dddddd", "", "-----"] {
        let r = t.get_basic("/api/v1/session", "bob", bad).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad:?}");
        assert_eq!(r.error(), "invalid credentials");
    }
    for header in ["Basic", "Basic ###", "Basic Ym9i", "Bearer", "Digest abc", &format!("Basic {}", "A".repeat(9000))] {
        let r = common::Reply::read(
            t.client.get(t.url("/api/v1/session")).header("Authorization", header).send().await.unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header:.20}");
        assert!(r.body["error"].is_string());
    }
    // The secret in the wrong place (a cookie that is not ours, a query string) does nothing.
    let r = t.client.get(t.url(&format!("/api/v1/session?access_token={secret}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = t.client.get(t.url("/api/v1/session")).header("Cookie", format!("session={secret}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// A PROPFIND of the library root with an app password, as a sync app sends it.
async fn sync_status(t: &TestApp, secret: &str) -> StatusCode {
    let req = t.client.request(Method::from_bytes(b"PROPFIND").unwrap(), t.url("/originals/"));
    req.basic_auth("bob", Some(secret)).header("Depth", "0").send().await.unwrap().status()
}

/// Token lookups are cached in memory for speed; no revoke may wait for that cache,
/// wherever it happens: the command line (another process), a second instance on the
/// same database, or disabling the user.
async fn a_password_in_use_stops_at_once_wherever_it_is_revoked(db: Db) {
    let t = spawn(db).await;
    bob(&t).await;
    let make = || async {
        let a = t.app_password("bob", "bob-password-1", "webdav", 0).await;
        (a["access_token"].as_str().unwrap().to_owned(), a["session_id"].as_str().unwrap().to_owned())
    };
    let (by_cli, by_cli_id) = make().await;
    let (by_sibling, _) = make().await;
    let (kept, _) = make().await;
    for secret in [&by_cli, &by_sibling, &kept] {
        for _ in 0..3 {
            assert_eq!(sync_status(&t, secret).await, StatusCode::MULTI_STATUS, "in use");
        }
    }

    assert!(t.cli(&["auth", "rm", &by_cli_id]).status.success());
    assert_eq!(sync_status(&t, &by_cli).await, StatusCode::UNAUTHORIZED, "revoked at the command line");
    assert_eq!(sync_status(&t, &kept).await, StatusCode::MULTI_STATUS, "the others keep working");

    let other = t.sibling().await;
    let web = other.login("bob", "bob-password-1").await;
    let r = other.call(Method::POST, "/api/v1/oauth/revoke", Some(&web), Some(json!({"token": by_sibling}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(sync_status(&t, &by_sibling).await, StatusCode::UNAUTHORIZED, "revoked on another instance");
    assert_eq!(sync_status(&t, &kept).await, StatusCode::MULTI_STATUS);

    assert!(t.cli(&["users", "mod", "bob", "--no-login"]).status.success());
    assert_eq!(sync_status(&t, &kept).await, StatusCode::UNAUTHORIZED, "the user was disabled");
}

on_both_databases!(
    creation_rechecks_the_password_and_shows_the_secret_once,
    app_passwords_never_manage_the_account_whatever_their_scope,
    a_webdav_app_password_cannot_use_the_api_or_log_in,
    revocation_expiry_and_disabling_take_effect_at_once,
    others_cannot_revoke_my_app_passwords,
    sessions_opened_with_an_app_password_keep_its_limits_and_die_with_it,
    last_used_is_written_at_most_once_a_minute,
    a_2fa_user_syncs_with_an_app_password_only,
    malformed_credentials_are_401s,
    a_password_in_use_stops_at_once_wherever_it_is_revoked,
);
