//! Login sessions over real HTTP (docs/design.md, "Login"), on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_PASSWORD, Db, Reply, spawn};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn login_returns_a_token_that_works_in_every_transport(db: Db) {
    let t = spawn(db).await;
    let r = t.login_reply("admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["scope"], "*");
    assert_eq!(r.body["user"]["username"], "admin");
    assert!(r.body["session_id"].as_str().unwrap().starts_with("sess"));
    assert!(r.body["expires_in"].as_i64().unwrap() > 86_400);
    assert!(r.body["user"].get("password_hash").is_none());
    let token = r.body["access_token"].as_str().unwrap();
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

    let bearer = t.get("/api/v1/session", token).await;
    assert_eq!(bearer.status, StatusCode::OK);
    assert_eq!(bearer.body["user"]["username"], "admin");
    let header = t.client.get(t.url("/api/v1/session")).header("X-Auth-Token", token).send().await.unwrap();
    assert_eq!(header.status(), StatusCode::OK);
    let by_cookie = t
        .client
        .get(t.url("/api/v1/session"))
        .header("Cookie", format!("theme=dark; gatehouse_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
    // The username is case-insensitive.
    t.login("ADMIN", ADMIN_PASSWORD).await;
}

async fn wrong_password_and_unknown_user_get_the_same_answer(db: Db) {
    let t = spawn(db).await;
    let wrong = t.login_reply("admin", "not-the-password").await;
    let unknown = t.login_reply("nobody", "not-the-password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, json!({"error": "invalid credentials", "message": "Invalid username or password"}));
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.body, wrong.body);
    assert!(wrong.headers.get("set-cookie").is_none());
    // Input that cannot be anyone's says what is wrong with it (the black-box attack got
    // "username and password are required" for a long name).
    let long = t.login_reply(&"a".repeat(300), "not-the-password").await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(long.body["message"], "no username is longer than 256 bytes");
    let empty = t.login_reply("", "not-the-password").await;
    assert_eq!(empty.body["message"], "username and password are required");
}

async fn timed_failed_login(t: &common::TestApp, user: &str) -> Duration {
    let start = Instant::now();
    let r = t.login_reply(user, "not-the-password").await;
    let took = start.elapsed();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    took
}

/// An unknown user is checked against a dummy Argon2 hash: without it, the answer would
/// come ~30x faster and tell an attacker which accounts exist. Attempts alternate so
/// both sides see the same machine load; medians tame the noise. Each attempt names
/// another account, so the brute-force delays (tested elsewhere) stay out of the way.
async fn unknown_user_costs_as_much_as_a_wrong_password(db: Db) {
    let t = spawn(db).await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..7 {
        let name = format!("member{i}");
        t.create_user(&name, "member-password-1", json!({})).await;
        known.push(timed_failed_login(&t, &name).await);
        unknown.push(timed_failed_login(&t, &format!("stranger{i}")).await);
    }
    known.sort();
    unknown.sort();
    let ratio = unknown[3].as_secs_f64() / known[3].as_secs_f64();
    assert!((0.33..3.0).contains(&ratio), "unknown {:?} vs known {:?}", unknown[3], known[3]);
}

async fn logout_ends_the_session_at_once(db: Db) {
    let t = spawn(db).await;
    let token = t.admin_token().await;
    let other = t.admin_token().await;
    let out = t.call(Method::DELETE, "/api/v1/session", Some(&token), None).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = t.get("/api/v1/session", &token).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.error(), "unauthorized");
    assert_eq!(t.get("/api/v1/session", &other).await.status, StatusCode::OK, "other sessions live on");
    assert_eq!(t.call(Method::DELETE, "/api/v1/session", Some(&token), None).await.status, StatusCode::UNAUTHORIZED);
}

async fn expired_and_idle_sessions_are_refused(db: Db) {
    let t = spawn(db).await;
    let expired = t.admin_token().await;
    let idle = t.admin_token().await;
    let fresh = t.admin_token().await;
    // Age the rows as the passing of time would: one past its absolute expiry, one
    // unused for longer than the idle timeout (3 days).
    let expired_id = t.get("/api/v1/session", &expired).await.body["session_id"].as_str().unwrap().to_owned();
    let idle_id = t.get("/api/v1/session", &idle).await.body["session_id"].as_str().unwrap().to_owned();
    let n = t.sql(&format!("UPDATE sessions SET expires_at = created_at - 1 WHERE id = '{expired_id}'")).await;
    assert_eq!(n, 1);
    let n = t.sql(&format!("UPDATE sessions SET last_active = last_active - 4 * 86400 WHERE id = '{idle_id}'")).await;
    assert_eq!(n, 1);
    assert_eq!(t.get("/api/v1/session", &expired).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get("/api/v1/session", &idle).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get("/api/v1/session", &fresh).await.status, StatusCode::OK);
}

async fn activity_keeps_a_session_alive(db: Db) {
    let t = spawn(db).await;
    let token = t.admin_token().await;
    let id = t.get("/api/v1/session", &token).await.body["session_id"].as_str().unwrap().to_owned();
    // Two days without use, then a request: last_active moves, so the idle clock restarts.
    t.sql(&format!("UPDATE sessions SET last_active = last_active - 2 * 86400 WHERE id = '{id}'")).await;
    assert_eq!(t.get("/api/v1/session", &token).await.status, StatusCode::OK);
    t.sql(&format!("UPDATE sessions SET last_active = last_active - 2 * 86400 WHERE id = '{id}'")).await;
    assert_eq!(t.get("/api/v1/session", &token).await.status, StatusCode::OK);
}

async fn garbage_tokens_are_plain_401s(db: Db) {
    let t = spawn(db).await;
    for token in ["", "x", "not a token at all", &"A".repeat(300), "sessabc", "ééééééééééééééééééé"]
    {
        let resp = t.client.get(t.url("/api/v1/session")).header("X-Auth-Token", token.as_bytes()).send().await;
        let r = Reply::read(resp.unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(r.error(), "unauthorized");
    }
    let r = Reply::read(t.client.get(t.url("/api/v1/session")).header("Authorization", "Bearer").send().await.unwrap())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn tokens_are_stored_only_as_hashes(db: Db) {
    let t = spawn(db).await;
    let token = t.admin_token().await;
    let hashes: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_all(t.app.store.pool()).await.unwrap();
    assert!(!hashes.is_empty());
    assert!(hashes.iter().all(|h| h.len() == 64 && *h != token));
    assert!(hashes.contains(&gatehouse::domain::token::token_hash(&token)));
}

async fn a_disabled_or_deleted_user_loses_every_session(db: Db) {
    let t = spawn(db).await;
    let bob = t.create_user("bob", "bob-password-1", json!({})).await;
    let uid = bob["uid"].as_str().unwrap();
    let admin = t.admin_token().await;
    let bob_token = t.login("bob", "bob-password-1").await;
    let r = t.call(Method::PUT, &format!("/api/v1/users/{uid}"), Some(&admin), Some(json!({"can_login": false}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(t.get("/api/v1/session", &bob_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.login_reply("bob", "bob-password-1").await.status, StatusCode::UNAUTHORIZED);

    t.call(Method::PUT, &format!("/api/v1/users/{uid}"), Some(&admin), Some(json!({"can_login": true}))).await;
    let bob_token = t.login("bob", "bob-password-1").await;
    let r = t.call(Method::DELETE, &format!("/api/v1/users/{uid}"), Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(t.get("/api/v1/session", &bob_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.login_reply("bob", "bob-password-1").await.status, StatusCode::UNAUTHORIZED);
}

async fn login_events_are_recorded(db: Db) {
    let t = spawn(db).await;
    t.login_reply("admin", "wrong-password").await;
    let token = t.admin_token().await;
    let me = t.get("/api/v1/session", &token).await;
    let uid = me.body["user"]["uid"].as_str().unwrap();
    let events = t.get(&format!("/api/v1/users/{uid}/events"), &token).await;
    assert_eq!(events.status, StatusCode::OK);
    let kinds: Vec<&str> = events.body.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds[..2], ["login.ok", "login.failed"]);
    assert!(!events.text.contains("wrong-password"), "no secrets in the log");
    assert!(!events.text.contains(ADMIN_PASSWORD));
}

on_both_databases!(
    login_returns_a_token_that_works_in_every_transport,
    wrong_password_and_unknown_user_get_the_same_answer,
    unknown_user_costs_as_much_as_a_wrong_password,
    logout_ends_the_session_at_once,
    expired_and_idle_sessions_are_refused,
    activity_keeps_a_session_alive,
    garbage_tokens_are_plain_401s,
    tokens_are_stored_only_as_hashes,
    a_disabled_or_deleted_user_loses_every_session,
    login_events_are_recorded,
);
