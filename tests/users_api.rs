//! The users API (docs/design.md, "Users") and its guardrails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_PASSWORD, Db, spawn};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn admins_manage_users_and_users_only_themselves(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let bob = t.create_user("bob", "bob-password-1", json!({"name": "Bob", "email": "bob@example.com"})).await;
    let carol = t.create_user("carol", "carol-password-1", json!({"webdav": true})).await;
    assert_eq!(bob["role"], "user");
    assert_eq!(bob["auth_method"], "default");
    assert_eq!(carol["webdav"], true);
    let bob_uid = bob["uid"].as_str().unwrap();
    let carol_uid = carol["uid"].as_str().unwrap();

    let all = t.get("/api/v1/users", &admin).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body.as_array().unwrap().len(), 3);
    let found = t.get("/api/v1/users?q=EXAMPLE.com", &admin).await;
    assert_eq!(found.body.as_array().unwrap().len(), 1);
    assert_eq!(found.body[0]["username"], "bob");
    let none = t.get("/api/v1/users?q=%25", &admin).await;
    assert_eq!(none.body.as_array().unwrap().len(), 0, "LIKE wildcards are literal");

    let bob_token = t.login("bob", "bob-password-1").await;
    assert_eq!(t.get("/api/v1/users", &bob_token).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.get(&format!("/api/v1/users/{bob_uid}"), &bob_token).await.status, StatusCode::OK);
    let other = t.get(&format!("/api/v1/users/{carol_uid}"), &bob_token).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(other.error(), "forbidden");
    for path in [format!("/api/v1/users/{carol_uid}/sessions"), format!("/api/v1/users/{carol_uid}/events")] {
        assert_eq!(t.get(&path, &bob_token).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let create = t
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&bob_token),
            Some(json!({"username": "eve", "password": "eve-password-1"})),
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    let del = t.call(Method::DELETE, &format!("/api/v1/users/{carol_uid}"), Some(&bob_token), None).await;
    assert_eq!(del.status, StatusCode::FORBIDDEN);

    // Own name and email: yes. Own role or flags: no.
    let own = t
        .call(Method::PUT, &format!("/api/v1/users/{bob_uid}"), Some(&bob_token), Some(json!({"name": "Robert"})))
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body["name"], "Robert");
    for patch in [json!({"role": "admin"}), json!({"webdav": true}), json!({"super_admin": true})] {
        let r = t.call(Method::PUT, &format!("/api/v1/users/{bob_uid}"), Some(&bob_token), Some(patch.clone())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{patch}");
    }
    let still = t.get(&format!("/api/v1/users/{bob_uid}"), &admin).await;
    assert_eq!(still.body["role"], "user");
    assert_eq!(still.body["webdav"], false);

    // Admin changes bob; anonymous callers get 401.
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/users/{bob_uid}"),
            Some(&admin),
            Some(json!({"role": "guest", "webdav": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["role"], "guest");
    assert_eq!(t.call(Method::GET, "/api/v1/users", None, None).await.status, StatusCode::UNAUTHORIZED);
}

async fn usernames_are_unique_regardless_of_case(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    t.create_user("Dora", "dora-password-1", json!({})).await;
    let r = t
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "dORA", "password": "other-password-1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error(), "conflict");
    let r = t
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "Admin", "password": "other-password-1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Once deleted, the name is free again.
    let dora = t.get("/api/v1/users?q=dora", &admin).await.body[0]["uid"].as_str().unwrap().to_owned();
    assert_eq!(
        t.call(Method::DELETE, &format!("/api/v1/users/{dora}"), Some(&admin), None).await.status,
        StatusCode::OK
    );
    t.create_user("dora", "dora-password-2", json!({})).await;
}

async fn password_change_ends_the_other_sessions(db: Db) {
    let t = spawn(db).await;
    let bob = t.create_user("bob", "bob-password-1", json!({})).await;
    let uid = bob["uid"].as_str().unwrap();
    let here = t.login("bob", "bob-password-1").await;
    let elsewhere = t.login("bob", "bob-password-1").await;
    let path = format!("/api/v1/users/{uid}/password");

    let wrong = t
        .call(
            Method::PUT,
            &path,
            Some(&here),
            Some(json!({"old_password": "nope-nope", "new_password": "bob-password-2"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = t.call(Method::PUT, &path, Some(&here), Some(json!({"new_password": "bob-password-2"}))).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let weak = t
        .call(Method::PUT, &path, Some(&here), Some(json!({"old_password": "bob-password-1", "new_password": "short"})))
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.body["message"].as_str().unwrap().contains("at least 8"));
    assert_eq!(t.get("/api/v1/session", &elsewhere).await.status, StatusCode::OK, "failed changes end nothing");

    let ok = t
        .call(
            Method::PUT,
            &path,
            Some(&here),
            Some(json!({"old_password": "bob-password-1", "new_password": "bob-password-2"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(t.get("/api/v1/session", &here).await.status, StatusCode::OK, "the caller stays logged in");
    assert_eq!(t.get("/api/v1/session", &elsewhere).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.login_reply("bob", "bob-password-1").await.status, StatusCode::UNAUTHORIZED);
    t.login("bob", "bob-password-2").await;
}

async fn only_a_super_admin_resets_other_passwords(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let bob = t.create_user("bob", "bob-password-1", json!({})).await;
    let bob_uid = bob["uid"].as_str().unwrap();
    t.create_user("helper", "helper-password-1", json!({"role": "admin"})).await;
    let helper = t.login("helper", "helper-password-1").await;
    let bob_token = t.login("bob", "bob-password-1").await;
    let path = format!("/api/v1/users/{bob_uid}/password");

    let r = t.call(Method::PUT, &path, Some(&helper), Some(json!({"new_password": "reset-password-1"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a plain admin is not a super admin");
    let r = t.call(Method::PUT, &path, Some(&admin), Some(json!({"new_password": "reset-password-1"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(t.get("/api/v1/session", &bob_token).await.status, StatusCode::UNAUTHORIZED);
    t.login("bob", "reset-password-1").await;

    // Not even a super admin skips the old password for their own account.
    let me = t.get("/api/v1/session", &admin).await.body["user"]["uid"].as_str().unwrap().to_owned();
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/users/{me}/password"),
            Some(&admin),
            Some(json!({"new_password": "new-admin-pass"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    t.login("admin", ADMIN_PASSWORD).await;
}

async fn guardrails_protect_the_last_admin_and_the_caller(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let me = t.get("/api/v1/session", &admin).await.body["user"]["uid"].as_str().unwrap().to_owned();
    let me_path = format!("/api/v1/users/{me}");
    for patch in [json!({"role": "user"}), json!({"can_login": false})] {
        let r = t.call(Method::PUT, &me_path, Some(&admin), Some(patch.clone())).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{patch}");
        assert_eq!(r.error(), "guardrail");
    }
    let r = t.call(Method::DELETE, &me_path, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // With two admins, one can demote the other, and then not the last one.
    let second = t.create_user("second", "second-password-1", json!({"role": "admin", "super_admin": true})).await;
    let second_token = t.login("second", "second-password-1").await;
    let r = t.call(Method::PUT, &me_path, Some(&second_token), Some(json!({"role": "user"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second_path = format!("/api/v1/users/{}", second["uid"].as_str().unwrap());
    let r = t.call(Method::PUT, &second_path, Some(&second_token), Some(json!({"role": "user"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = t.call(Method::DELETE, &second_path, Some(&second_token), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let still = t.get(&second_path, &second_token).await;
    assert_eq!(still.body["role"], "admin");
}

async fn concurrent_demotions_leave_an_admin(db: Db) {
    let t = spawn(db).await;
    let a = t.admin_token().await;
    let a_uid = t.get("/api/v1/session", &a).await.body["user"]["uid"].as_str().unwrap().to_owned();
    let b = t.create_user("b-admin", "b-password-123", json!({"role": "admin", "super_admin": true})).await;
    let b_uid = b["uid"].as_str().unwrap().to_owned();
    let b_token = t.login("b-admin", "b-password-123").await;
    // Each admin demotes the other at the same moment: at most one may win.
    let (b_path, a_path) = (format!("/api/v1/users/{b_uid}"), format!("/api/v1/users/{a_uid}"));
    let (r1, r2) = tokio::join!(
        t.call(Method::PUT, &b_path, Some(&a), Some(json!({"role": "user"}))),
        t.call(Method::PUT, &a_path, Some(&b_token), Some(json!({"role": "user"}))),
    );
    let wins = [r1.status, r2.status].iter().filter(|s| **s == StatusCode::OK).count();
    assert!(wins <= 1, "{} / {}", r1.text, r2.text);
    let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND deleted_at IS NULL")
        .fetch_one(t.app.store.pool())
        .await
        .unwrap();
    assert!(admins >= 1);
}

async fn sessions_are_listed_and_revoked(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let bob = t.create_user("bob", "bob-password-1", json!({})).await;
    let uid = bob["uid"].as_str().unwrap();
    let first = t.login("bob", "bob-password-1").await;
    let second = t.login("bob", "bob-password-1").await;
    let list = t.get(&format!("/api/v1/users/{uid}/sessions"), &first).await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|s| s["kind"] == "web" && s.get("token_hash").is_none()));
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let other_id = items.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    let r = t.call(Method::DELETE, &format!("/api/v1/users/{uid}/sessions/{other_id}"), Some(&first), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(t.get("/api/v1/session", &second).await.status, StatusCode::UNAUTHORIZED);
    // An admin can list and revoke anyone's sessions; a missing id is a 404.
    let list = t.get(&format!("/api/v1/users/{uid}/sessions"), &admin).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let r = t.call(Method::DELETE, &format!("/api/v1/users/{uid}/sessions/sessnothere"), Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t.get(&format!("/api/v1/users/{uid}/sessions?type=bogus"), &admin).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

async fn unknown_users_are_404(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    for (method, path) in [
        (Method::GET, "/api/v1/users/unope"),
        (Method::PUT, "/api/v1/users/unope"),
        (Method::DELETE, "/api/v1/users/unope"),
        (Method::GET, "/api/v1/users/unope/sessions"),
    ] {
        let body = (method == Method::PUT).then(|| json!({"name": "x"}));
        let r = t.call(method.clone(), path, Some(&admin), body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {}", r.text);
        assert_eq!(r.error(), "not_found");
    }
}

/// The events of `uid` whose kind is `kind`, as the admin reads them.
async fn events_of(t: &common::TestApp, uid: &str, kind: &str) -> Vec<serde_json::Value> {
    let admin = t.admin_token().await;
    let r = t.get(&format!("/api/v1/users/{uid}/events"), &admin).await;
    r.body.as_array().unwrap().iter().filter(|e| e["event"] == kind).cloned().collect()
}

async fn an_admin_reset_ends_all_sessions_and_revokes_app_passwords_unless_kept(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let bob = t.create_user("bob", "bob-password-1", json!({"webdav": true})).await;
    let uid = bob["uid"].as_str().unwrap();
    let web = t.login("bob", "bob-password-1").await;
    let app = t.app_password("bob", "bob-password-1", "*", 0).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(t.get_basic("/api/v1/session", "bob", &app).await.status, StatusCode::OK);
    let path = format!("/api/v1/users/{uid}/password");

    // The default: an intruder's sessions and app passwords all end.
    let r = t.call(Method::PUT, &path, Some(&admin), Some(json!({"new_password": "reset-password-1"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["app_passwords_revoked"], 1);
    assert_eq!(r.body["sessions_ended"], 2, "both of bob's web logins");
    assert_eq!(t.get("/api/v1/session", &web).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get_basic("/api/v1/session", "bob", &app).await.status, StatusCode::UNAUTHORIZED);
    let list = t.get(&format!("/api/v1/users/{uid}/sessions"), &admin).await;
    assert_eq!(list.body, json!([]), "nothing of bob's is left");
    let reset = events_of(&t, uid, "password.reset").await;
    assert_eq!(reset.len(), 1, "{reset:?}");
    assert_eq!(reset[0]["actor"], "user:admin");
    assert!(reset[0]["detail"].as_str().unwrap().contains("app passwords revoked (1)"), "{reset:?}");

    // Kept on request: the web sessions still end, the app password works.
    let web = t.login("bob", "reset-password-1").await;
    let app = t.app_password("bob", "reset-password-1", "*", 0).await["access_token"].as_str().unwrap().to_owned();
    let body = json!({"new_password": "reset-password-2", "keep_app_passwords": true});
    let r = t.call(Method::PUT, &path, Some(&admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["app_passwords_revoked"], 0);
    assert_eq!(t.get("/api/v1/session", &web).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get_basic("/api/v1/session", "bob", &app).await.status, StatusCode::OK);
    let reset = events_of(&t, uid, "password.reset").await;
    assert!(reset.iter().any(|e| e["detail"].as_str().unwrap().contains("app passwords kept")), "{reset:?}");

    // A contradiction is refused and changes nothing.
    let body = json!({"new_password": "reset-password-3", "keep_app_passwords": true, "revoke_app_passwords": true});
    let r = t.call(Method::PUT, &path, Some(&admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    t.login("bob", "reset-password-2").await;
}

async fn an_own_change_keeps_app_passwords_unless_asked(db: Db) {
    let t = spawn(db).await;
    let bob = t.create_user("bob", "bob-password-1", json!({})).await;
    let uid = bob["uid"].as_str().unwrap();
    let here = t.login("bob", "bob-password-1").await;
    let app = t.app_password("bob", "bob-password-1", "*", 0).await["access_token"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/users/{uid}/password");

    let body = json!({"old_password": "bob-password-1", "new_password": "bob-password-2"});
    let r = t.call(Method::PUT, &path, Some(&here), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["app_passwords_revoked"], 0);
    assert_eq!(t.get_basic("/api/v1/session", "bob", &app).await.status, StatusCode::OK, "app passwords keep working");

    let body =
        json!({"old_password": "bob-password-2", "new_password": "bob-password-3", "revoke_app_passwords": true});
    let r = t.call(Method::PUT, &path, Some(&here), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["app_passwords_revoked"], 1);
    assert_eq!(t.get_basic("/api/v1/session", "bob", &app).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get("/api/v1/session", &here).await.status, StatusCode::OK, "the caller stays logged in");
    let changed = events_of(&t, uid, "password.changed").await;
    assert_eq!(changed.len(), 2);
    assert!(changed.iter().all(|e| e["actor"] == "user:bob"), "{changed:?}");
    assert!(changed[0]["detail"].as_str().unwrap().contains("app passwords revoked (1)"), "newest first: {changed:?}");
    assert!(changed[1]["detail"].as_str().unwrap().contains("app passwords kept"), "{changed:?}");
}

on_both_databases!(
    an_admin_reset_ends_all_sessions_and_revokes_app_passwords_unless_kept,
    an_own_change_keeps_app_passwords_unless_asked,
    admins_manage_users_and_users_only_themselves,
    usernames_are_unique_regardless_of_case,
    password_change_ends_the_other_sessions,
    only_a_super_admin_resets_other_passwords,
    guardrails_protect_the_last_admin_and_the_caller,
    concurrent_demotions_leave_an_admin,
    sessions_are_listed_and_revoked,
    unknown_users_are_404,
);

/// Issue 18, the small ones of the users API: a JSON body must be an object (serde
/// would take an array as a struct's fields by position); display names refuse
/// bidirectional overrides and zero-width characters; a non-admin listing users is told
/// that listing is what was refused.
async fn bodies_are_objects_names_are_visible_and_listing_says_why(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let uid = t.create_user("lou", "lou-password-1", json!({})).await["uid"].as_str().unwrap().to_owned();
    let r = t.call(Method::POST, "/api/v1/session", None, Some(json!(["lou", "lou-password-1"]))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("object"), "{}", r.text);
    let r = t.call(Method::PUT, &format!("/api/v1/users/{uid}"), Some(&admin), Some(json!(["Lou"]))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    for name in ["Lou\u{202E}nimda", "Lo\u{200B}u", "\u{2066}Lou\u{2069}", "Lou\u{FEFF}"] {
        let r = t.call(Method::PUT, &format!("/api/v1/users/{uid}"), Some(&admin), Some(json!({"name": name}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().contains("invisible"), "{}", r.text);
    }
    let r =
        t.call(Method::PUT, &format!("/api/v1/users/{uid}"), Some(&admin), Some(json!({"name": "Lou Łukasz"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let lou = t.login("lou", "lou-password-1").await;
    let r = t.get("/api/v1/users", &lou).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let message = r.body["message"].as_str().unwrap();
    assert!(message.contains("only admins may list users"), "{message}");
}

on_both_databases!(bodies_are_objects_names_are_visible_and_listing_says_why);
