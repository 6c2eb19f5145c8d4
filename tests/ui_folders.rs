//! The pages' part of folder grants: Settings > Account lists the folders one reaches
//! and each app password's folder and access; Admin > Users has the forms that share,
//! unshare and change a home, which work through the API with the page's CSRF token.
//! Runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod ui;

use common::{Db, spawn};
use reqwest::{Method, StatusCode};
use serde_json::json;
use ui::{cookie_call, no_inline_handlers_or_styles, page, scripts_are_external};

/// The `<section>` of `html` whose heading has the id `title_id`.
fn section<'a>(html: &'a str, title_id: &str) -> &'a str {
    let start = html.find(&format!("aria-labelledby=\"{title_id}\"")).unwrap_or_else(|| panic!("no {title_id}"));
    let end = html[start..].find("</section>").unwrap();
    &html[start..start + end]
}

/// `text` as the templates write it: auto-escaping writes `/` as `&#x2f;`.
fn esc(text: &str) -> String {
    text.replace('/', "&#x2f;")
}

async fn the_account_page_lists_the_folders_one_reaches(db: Db) {
    let t = spawn(db).await;
    let admin = t.admin_token().await;
    let bob = t.create_user("bob", "bob-password-1", json!({"webdav": true})).await;
    let carol = t.create_user("carol", "carol-password-1", json!({})).await;
    let bob_uid = bob["uid"].as_str().unwrap();
    let share = json!({"path": "/originals/family/", "access": "read"});
    let r = t.call(Method::PUT, &format!("/api/v1/users/{bob_uid}/folders"), Some(&admin), Some(share)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let web = t.login("bob", "bob-password-1").await;
    let p = page(&t, "/settings/account", Some(&web)).await;
    assert_eq!(p.status, StatusCode::OK);
    let folders = section(&p.html, "folders-title");
    assert!(folders.contains(">Folders you can reach</h2>"));
    for (path, access) in
        [("/originals/bob/", "Read and write"), ("/import/bob/", "Read and write"), ("/originals/family/", "Read")]
    {
        let cell = format!("<code>{}</code></td>\n            <td data-label=\"Access\">{access}</td>", esc(path));
        assert!(folders.contains(&cell), "{path} with {access}: {folders}");
    }
    assert_eq!(folders.matches("<code>").count(), 3, "nothing else: {folders}");
    assert!(!folders.contains("carol"));

    // Without WebDAV, the page says what the list is for; carol reaches only her home.
    let carol_web = t.login("carol", "carol-password-1").await;
    let p = page(&t, "/settings/account", Some(&carol_web)).await;
    let folders = section(&p.html, "folders-title");
    assert!(folders.contains("once an administrator allows WebDAV"), "{folders}");
    assert!(folders.contains(&format!("<code>{}</code>", esc("/originals/carol/"))) && !folders.contains("family"));
    assert_eq!(carol["webdav"], false);

    // An admin reaches the whole library.
    let p = page(&t, "/settings/account", Some(&admin)).await;
    let folders = section(&p.html, "folders-title");
    let whole = format!("<code>{}</code> <span class=\"muted small\">the whole library</span>", esc("/"));
    assert!(folders.contains(&whole), "{folders}");
    assert_eq!(folders.matches("<code>").count(), 1);
}

async fn apps_and_devices_make_and_list_app_passwords_limited_to_a_folder(db: Db) {
    let t = spawn(db).await;
    t.create_user("bob", "bob-password-1", json!({"webdav": true})).await;
    let web = t.login("bob", "bob-password-1").await;
    for (name, extra) in
        [("Phone backup", json!({"path": "/originals/bob/phone/", "access": "append"})), ("Laptop", json!({}))]
    {
        let mut body = json!({"grant_type": "password", "client_name": name, "scope": "webdav",
                              "username": "bob", "password": "bob-password-1"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let r = t.call(Method::POST, "/api/v1/oauth/token", Some(&web), Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let p = page(&t, "/settings/account", Some(&web)).await;
    let start = p.html.find("id=\"apps-table\"").unwrap();
    let table = &p.html[start..start + p.html[start..].find("</table>").unwrap()];
    assert!(table.contains("<th scope=\"col\">Folder</th>"));
    let phone = table.split("<tr").find(|r| r.contains("Phone backup")).unwrap();
    let limit = format!("<code>{}</code> <span class=\"badge\">Add only</span>", esc("/originals/bob/phone/"));
    assert!(phone.contains(&limit), "{phone}");
    let laptop = table.split("<tr").find(|r| r.contains("Laptop")).unwrap();
    assert!(laptop.contains("All your folders"), "{laptop}");

    // The form offers the folder and the three levels.
    let form = &p.html[p.html.find("id=\"apps-generate-form\"").unwrap()..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(form.contains("<label for=\"app-folder\">"));
    for option in [
        "<option value=\"\" selected>All the scope allows</option>",
        "<option value=\"read\">Read</option>",
        "<option value=\"append\">Add only</option>",
        "<option value=\"write\">Read and write</option>",
    ] {
        assert!(form.contains(option), "{option}");
    }
    assert!(scripts_are_external(&p.html) && no_inline_handlers_or_styles(&p.html));
    let script = t.client.get(t.url("/assets/account.js")).send().await.unwrap().text().await.unwrap();
    assert!(script.contains("body.path = folder") && script.contains("body.access = access"));
}

async fn the_user_details_share_unshare_and_change_the_home_with_the_pages_csrf_token(db: Db) {
    let t = spawn(db).await;
    let bob = t.create_user("bob", "bob-password-1", json!({"webdav": true})).await;
    let bob_uid = bob["uid"].as_str().unwrap();
    let admin = t.admin_token().await;
    let p = page(&t, "/admin/users", Some(&admin)).await;
    assert_eq!(p.status, StatusCode::OK);
    let folders = section(&p.html, "user-folders-title");
    for part in [
        "id=\"user-folders\"",
        "<form id=\"user-home-form\"",
        "<label for=\"user-home\">Home folder</label>",
        "<form id=\"user-share-form\"",
        "<option value=\"read\" selected>Read</option><option value=\"write\">Read and write</option>",
        ">Share</button>",
        ">Change home</button>",
    ] {
        assert!(folders.contains(part), "{part}");
    }
    assert!(p.html.contains("<label for=\"new-home\">Home folder"), "Add user takes a home too");
    assert!(scripts_are_external(&p.html) && no_inline_handlers_or_styles(&p.html));
    let script = t.client.get(t.url("/assets/admin.js")).send().await.unwrap().text().await.unwrap();
    assert!(script.contains("'/folders?path=' + encodeURIComponent(g.path)"), "unshare goes through the API");

    // What the dialog's script sends, with the cookie: refused without the page's token.
    let csrf = p.csrf_token();
    let folders_url = format!("/api/v1/users/{bob_uid}/folders");
    let share = json!({"path": "/originals/family/", "access": "write"});
    let refused = cookie_call(&t, Method::PUT, &folders_url, &admin, None, share.clone()).await;
    assert_eq!(refused, StatusCode::FORBIDDEN);
    let listed = t.get(&folders_url, &admin).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2, "only the home rows: {}", listed.text);
    assert_eq!(cookie_call(&t, Method::PUT, &folders_url, &admin, Some(&csrf), share).await, StatusCode::OK);
    let unshare = format!("{folders_url}?path=%2Foriginals%2Ffamily%2F");
    assert_eq!(cookie_call(&t, Method::DELETE, &unshare, &admin, None, json!({})).await, StatusCode::FORBIDDEN);
    assert_eq!(t.get(&folders_url, &admin).await.body.as_array().unwrap().len(), 3);
    assert_eq!(cookie_call(&t, Method::DELETE, &unshare, &admin, Some(&csrf), json!({})).await, StatusCode::OK);
    let home = json!({"home": "family/bob"});
    let user_url = format!("/api/v1/users/{bob_uid}");
    assert_eq!(cookie_call(&t, Method::PUT, &user_url, &admin, Some(&csrf), home).await, StatusCode::OK);
    let listed = t.get(&folders_url, &admin).await;
    let paths: Vec<&str> = listed.body.as_array().unwrap().iter().map(|g| g["path"].as_str().unwrap()).collect();
    assert_eq!(paths.len(), 2);
    assert!(paths.contains(&"/originals/family/bob/") && paths.contains(&"/import/family/bob/"), "{paths:?}");

    // A user's page has none of it, and the admin's own is refused to them.
    let web = t.login("bob", "bob-password-1").await;
    assert_eq!(page(&t, "/admin/users", Some(&web)).await.status, StatusCode::FORBIDDEN);
    let own = page(&t, "/settings/account", Some(&web)).await;
    assert!(!own.html.contains("user-share-form"));
    let csrf = own.csrf_token();
    let share = json!({"path": "/originals/", "access": "write"});
    assert_eq!(cookie_call(&t, Method::PUT, &folders_url, &web, Some(&csrf), share).await, StatusCode::FORBIDDEN);
}

on_both_databases!(
    the_account_page_lists_the_folders_one_reaches,
    apps_and_devices_make_and_list_app_passwords_limited_to_a_folder,
    the_user_details_share_unshare_and_change_the_home_with_the_pages_csrf_token,
);
