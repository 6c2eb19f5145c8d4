//! Folder grants through the JSON API (README, "Who sees which files"): admins share,
//! unshare and set homes; users read their own list; app passwords are limited to a
//! folder and a level within what their owner reaches; and each change holds on the
//! very next WebDAV request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use common::{Db, Reply, TestApp, spawn};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use webdav_util::{dav, whole_library};

fn folders_url(uid: &str) -> String {
    format!("/api/v1/users/{uid}/folders")
}

/// The user's folders as `(path, access, kind)`, read by `token`.
async fn folders(t: &TestApp, uid: &str, token: &str) -> Vec<(String, String, String)> {
    let r = t.get(&folders_url(uid), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut rows: Vec<_> =
        r.body.as_array().unwrap().iter().map(|g| (s(&g["path"]), s(&g["access"]), s(&g["kind"]))).collect();
    rows.sort();
    rows
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn row(path: &str, access: &str, kind: &str) -> (String, String, String) {
    (path.to_owned(), access.to_owned(), kind.to_owned())
}

async fn share(t: &TestApp, token: &str, uid: &str, path: &str, access: &str) -> Reply {
    t.call(Method::PUT, &folders_url(uid), Some(token), Some(json!({"path": path, "access": access}))).await
}

async fn unshare(t: &TestApp, token: &str, uid: &str, path: &str) -> Reply {
    let url = format!("{}?path={}", folders_url(uid), urlencode(path));
    t.call(Method::DELETE, &url, Some(token), None).await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn admins_share_and_unshare_and_users_read_only_their_own(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let bob = s(&t.create_user("bob", "bob-password-1", json!({"webdav": true})).await["uid"]);
    let carol = s(&t.create_user("carol", "carol-password-1", json!({})).await["uid"]);
    let homes = vec![row("/import/bob/", "write", "home"), row("/originals/bob/", "write", "home")];
    assert_eq!(folders(&t, &bob, &admin).await, homes, "a new account has its home in each library");

    let r = share(&t, &admin, &bob, "/originals/family/", "read").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"path": "/originals/family/", "access": "read", "kind": "shared"}));
    // The path is named as everyone names it: slashes folded, the trailing one added.
    let r = share(&t, &admin, &bob, "import//scans", "write").await;
    assert_eq!(r.body["path"], "/import/scans/", "{}", r.text);
    let mut want = homes.clone();
    want.extend([row("/import/scans/", "write", "shared"), row("/originals/family/", "read", "shared")]);
    want.sort();
    let bob_web = t.login("bob", "bob-password-1").await;
    assert_eq!(folders(&t, &bob, &bob_web).await, want, "bob reads his own list");
    assert_eq!(folders(&t, &bob, &admin).await, want);

    // Sharing again changes the access; nothing is listed twice.
    assert_eq!(share(&t, &admin, &bob, "/originals/family", "write").await.status, StatusCode::OK);
    let listed = folders(&t, &bob, &admin).await;
    assert!(listed.contains(&row("/originals/family/", "write", "shared")), "{listed:?}");
    assert_eq!(listed.len(), 4);

    // Not an admin: cannot share, unshare, or read another's list; nothing changes.
    let before = folders(&t, &bob, &admin).await;
    for r in [
        share(&t, &bob_web, &bob, "/originals/carol/", "write").await,
        share(&t, &bob_web, &carol, "/originals/family/", "read").await,
        unshare(&t, &bob_web, &bob, "/originals/family/").await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.error(), "forbidden");
    }
    assert_eq!(t.get(&folders_url(&carol), &bob_web).await.status, StatusCode::FORBIDDEN);
    assert_eq!(folders(&t, &bob, &admin).await, before);
    // An app password, even with every scope, is no admin's web login.
    let app = t.app_password("admin", common::ADMIN_PASSWORD, "*", 0).await;
    let r = share(&t, app["access_token"].as_str().unwrap(), &bob, "/originals/x/", "read").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = unshare(&t, &admin, &bob, "/originals/family/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "unshared");
    assert!(!folders(&t, &bob, &admin).await.iter().any(|g| g.0 == "/originals/family/"));
    let again = unshare(&t, &admin, &bob, "/originals/family/").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "nothing left to take back");
    assert_eq!(again.error(), "not_found");

    for r in [
        share(&t, &admin, "unothere", "/originals/family/", "read").await,
        unshare(&t, &admin, "unothere", "/originals/family/").await,
        t.get(&folders_url("unothere"), &admin).await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
}

async fn bad_paths_and_access_levels_are_refused_and_change_nothing(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let bob = s(&t.create_user("bob", "bob-password-1", json!({"webdav": true})).await["uid"]);
    let before = folders(&t, &bob, &admin).await;
    for path in [
        "/originals/../import/",
        "/originals/a/./b/",
        "..",
        "/etc/passwd",
        "/photos/family/",
        "/Originals/family/",
        "/originals/a\u{7}b/",
        "",
    ] {
        let r = share(&t, &admin, &bob, path, "read").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path:?}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().contains("folder path"), "{path:?}: says why: {}", r.text);
        let r = unshare(&t, &admin, &bob, path).await;
        assert!(r.status.is_client_error(), "unshare {path:?}: {}", r.status);
    }
    let long = format!("/originals/{}/", "a".repeat(1100));
    assert_eq!(share(&t, &admin, &bob, &long, "read").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    for access in ["append", "admin", "READ", "", "delete"] {
        let r = share(&t, &admin, &bob, "/originals/family/", access).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{access:?}: {}", r.text);
    }
    let r = t.call(Method::PUT, &folders_url(&bob), Some(&admin), Some(json!({"path": "/originals/x/"}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "access is required");
    let r = t.call(Method::DELETE, &folders_url(&bob), Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "path is required: {}", r.text);
    assert!(r.body["error"].is_string(), "a JSON error");
    assert_eq!(folders(&t, &bob, &admin).await, before, "no refused request changed anything");
}

async fn homes_are_chosen_at_creation_and_changed_by_admins_after_validation(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let alice = t
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "alice", "password": "alice-password-1", "home": "family/alice"})),
        )
        .await;
    assert_eq!(alice.status, StatusCode::CREATED, "{}", alice.text);
    let alice = s(&alice.body["uid"]);
    assert_eq!(
        folders(&t, &alice, &admin).await,
        vec![row("/import/family/alice/", "write", "home"), row("/originals/family/alice/", "write", "home")]
    );

    // A bad home refuses the whole creation: no account is made.
    for home in ["../x", "a/./b", "a\u{1}b", "", " "] {
        let r = t
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&admin),
                Some(json!({"username": "mallory", "password": "mallory-password-1", "home": home})),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{home:?}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().starts_with("home:"), "{}", r.text);
    }
    let users = t.get("/api/v1/users", &admin).await;
    assert!(!users.text.contains("mallory"), "nothing was written");

    let user_url = format!("/api/v1/users/{alice}");
    let r = t.call(Method::PUT, &user_url, Some(&admin), Some(json!({"home": "/"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["username"], "alice", "the user's record is the answer");
    assert_eq!(folders(&t, &alice, &admin).await, vec![row("/", "write", "home")]);

    // A bad home refuses the whole change, other fields too; an empty one is no `/`.
    for home in ["a/../b", ""] {
        let r = t.call(Method::PUT, &user_url, Some(&admin), Some(json!({"home": home, "name": "Alice"}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{home:?}: {}", r.text);
        assert_eq!(t.get(&user_url, &admin).await.body["name"], "", "the name was not changed either");
    }
    assert_eq!(folders(&t, &alice, &admin).await, vec![row("/", "write", "home")]);
    let r = t.call(Method::PUT, &user_url, Some(&admin), Some(json!({"home": "alice"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t.call(Method::PUT, &user_url, Some(&admin), Some(json!({"home": " "}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a blank home never widens to the whole library");
    assert_eq!(folders(&t, &alice, &admin).await.len(), 2);

    // Home and another field together.
    let r = t.call(Method::PUT, &user_url, Some(&admin), Some(json!({"home": "alice", "name": "Alice"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "Alice");
    assert_eq!(
        folders(&t, &alice, &admin).await,
        vec![row("/import/alice/", "write", "home"), row("/originals/alice/", "write", "home")]
    );

    // Only admins choose homes, their own included; a user's own name change still works.
    let own = t.login("alice", "alice-password-1").await;
    let r = t.call(Method::PUT, &user_url, Some(&own), Some(json!({"home": "/", "name": "Al"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(t.get(&user_url, &admin).await.body["name"], "Alice", "nothing was written");
    assert_eq!(folders(&t, &alice, &admin).await.len(), 2);
    let r = t.call(Method::PUT, &user_url, Some(&own), Some(json!({"name": "Al"}))).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Makes an app password of `bob` limited to `path` and `access`; the raw answer.
async fn limited(t: &TestApp, web: &str, scope: &str, limit: Value) -> Reply {
    let mut body = json!({"grant_type": "password", "client_name": "phone", "scope": scope,
                          "username": "bob", "password": "bob-password-1"});
    body.as_object_mut().unwrap().extend(limit.as_object().unwrap().clone());
    t.call(Method::POST, "/api/v1/oauth/token", Some(web), Some(body)).await
}

async fn app_passwords_are_limited_to_what_their_owner_reaches(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let bob = s(&t.create_user("bob", "bob-password-1", json!({"webdav": true})).await["uid"]);
    share(&t, &admin, &bob, "/originals/family/", "read").await;
    let web = t.login("bob", "bob-password-1").await;

    let r = limited(&t, &web, "webdav", json!({"path": "/originals/bob/phone", "access": "append"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["path"], "/originals/bob/phone/");
    assert_eq!(r.body["access"], "append");
    let phone = s(&r.body["access_token"]);
    let put = |path: &str, body: &str| dav(&t, "PUT", path, "bob", &phone).body(body.to_owned());
    assert_eq!(put("/originals/bob/phone/a.jpg", "one").send().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(
        put("/originals/bob/phone/a.jpg", "two").send().await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "add only: never overwrite"
    );
    let get = dav(&t, "GET", "/originals/bob/phone/a.jpg", "bob", &phone).send().await.unwrap();
    assert_eq!(get.text().await.unwrap(), "one");
    let elsewhere = put("/originals/bob/elsewhere.jpg", "x").send().await.unwrap().status();
    assert!(elsewhere.is_client_error(), "outside its folder: {elsewhere}");
    let listed = t.get(&format!("/api/v1/users/{bob}/sessions?type=app_password"), &web).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    // What bob does not have cannot be asked for; each refusal says why and makes nothing.
    for (scope, limit, says) in [
        ("webdav", json!({"path": "/originals/carol/", "access": "read"}), "at most what its account"),
        ("webdav", json!({"path": "/originals/family/", "access": "append"}), "at most what its account"),
        ("webdav", json!({"path": "/originals/family/", "access": "write"}), "at most what its account"),
        ("webdav", json!({"path": "/originals/bob/", "access": "delete"}), "read, write or append"),
        ("webdav", json!({"path": "/originals/bob/../carol/", "access": "read"}), "folder path"),
        ("webdav", json!({"path": "/originals/bob/"}), "go together"),
        ("webdav", json!({"access": "read"}), "go together"),
        ("metrics", json!({"path": "/originals/bob/", "access": "read"}), "webdav scope"),
    ] {
        let r = limited(&t, &web, scope, limit.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{limit}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().contains(says), "{limit}: {}", r.text);
    }
    let listed = t.get(&format!("/api/v1/users/{bob}/sessions?type=app_password"), &web).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "no refused request made an app password");

    // Within a read share: read is fine. As a form, as PhotoSync-like clients send it.
    let r = limited(&t, &web, "webdav", json!({"path": "/originals/family/", "access": "read"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let form = t
        .client
        .post(t.url("/api/v1/oauth/token"))
        .bearer_auth(&web)
        .form(&[
            ("grant_type", "password"),
            ("client_name", "form"),
            ("scope", "webdav"),
            ("password", "bob-password-1"),
            ("path", "/import/bob/"),
            ("access", "write"),
        ])
        .send()
        .await
        .unwrap();
    let form = Reply::read(form).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert_eq!(form.body["path"], "/import/bob/");
    // Without a limit the answer is as it always was.
    let plain = limited(&t, &web, "webdav", json!({})).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(plain.body.get("path").is_none() && plain.body.get("access").is_none(), "{}", plain.text);
}

async fn a_change_made_by_the_api_holds_on_the_very_next_webdav_request(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let bob = s(&t.create_user("bob", "bob-password-1", json!({"webdav": true})).await["uid"]);
    let carol = s(&t.create_user("carol", "carol-password-1", json!({"webdav": true})).await["uid"]);
    whole_library(&t, "carol").await;
    let as_admin = |method: &str, path: &str| dav(&t, method, path, "admin", common::ADMIN_PASSWORD);
    assert_eq!(as_admin("MKCOL", "/originals/family/").send().await.unwrap().status(), StatusCode::CREATED);
    let admin_put = as_admin("PUT", "/originals/family/photo.jpg").body("family");
    assert_eq!(admin_put.send().await.unwrap().status(), StatusCode::CREATED);
    let status = |user: &'static str, password: &'static str, method: &'static str, path: &'static str| {
        let t = &t;
        async move {
            let mut req = dav(t, method, path, user, password);
            if method == "PUT" {
                req = req.body(format!("{user} was here"));
            }
            req.send().await.unwrap().status()
        }
    };
    let bob_get = || status("bob", "bob-password-1", "GET", "/originals/family/photo.jpg");
    let bob_put = || status("bob", "bob-password-1", "PUT", "/originals/family/photo.jpg");
    let missing = status("bob", "bob-password-1", "GET", "/originals/family/nothere.jpg").await;
    assert_eq!(bob_get().await, missing, "outside his grants, bob cannot tell that it exists");

    assert_eq!(share(&t, &admin, &bob, "/originals/family/", "read").await.status, StatusCode::OK);
    assert_eq!(bob_get().await, StatusCode::OK, "the share holds on the next request");
    assert_eq!(bob_put().await, StatusCode::FORBIDDEN, "read only");
    assert_eq!(share(&t, &admin, &bob, "/originals/family/", "write").await.status, StatusCode::OK);
    assert!(bob_put().await.is_success(), "now he may change it");
    assert_eq!(unshare(&t, &admin, &bob, "/originals/family/").await.status, StatusCode::OK);
    assert_eq!(bob_get().await, missing, "unshared: gone on the next request");

    // A smaller home, set through the users API, holds at once too.
    let carol_get = || status("carol", "carol-password-1", "GET", "/originals/family/photo.jpg");
    assert_eq!(carol_get().await, StatusCode::OK);
    let r = t.call(Method::PUT, &format!("/api/v1/users/{carol}"), Some(&admin), Some(json!({"home": "carol"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(carol_get().await, missing);
    assert_eq!(status("carol", "carol-password-1", "PUT", "/originals/carol/mine.jpg").await, StatusCode::CREATED);
}

on_both_databases!(
    admins_share_and_unshare_and_users_read_only_their_own,
    bad_paths_and_access_levels_are_refused_and_change_nothing,
    homes_are_chosen_at_creation_and_changed_by_admins_after_validation,
    app_passwords_are_limited_to_what_their_owner_reaches,
    a_change_made_by_the_api_holds_on_the_very_next_webdav_request,
);
