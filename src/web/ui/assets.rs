//! The UI's static files (CSS, plain JavaScript, the icon), embedded in the binary and
//! served under `/assets/NAME`. Pages link them as `/assets/NAME?v=HASH`, so a new
//! build is never masked by a cached copy and the files can be cached for long.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// Name, content type and contents of every asset.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("../../../assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../../assets/app.js")),
    ("login.js", "text/javascript; charset=utf-8", include_str!("../../../assets/login.js")),
    ("account.js", "text/javascript; charset=utf-8", include_str!("../../../assets/account.js")),
    ("twofactor.js", "text/javascript; charset=utf-8", include_str!("../../../assets/twofactor.js")),
    ("passkeys.js", "text/javascript; charset=utf-8", include_str!("../../../assets/passkeys.js")),
    ("admin.js", "text/javascript; charset=utf-8", include_str!("../../../assets/admin.js")),
    ("icon.svg", "image/svg+xml", include_str!("../../../assets/icon.svg")),
];

/// A short hash of all assets: the cache-busting `?v=` of every link.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    for (name, _, body) in ASSETS {
        h.update(name.as_bytes());
        h.update(body.as_bytes());
    }
    h.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
});

/// The versioned URLs templates link to.
#[derive(Debug, Clone, Serialize)]
pub struct AssetUrls {
    pub css: String,
    pub app_js: String,
    pub login_js: String,
    pub account_js: String,
    pub twofactor_js: String,
    pub passkeys_js: String,
    pub admin_js: String,
    pub icon: String,
}

pub fn urls() -> AssetUrls {
    let v = VERSION.as_str();
    let url = |name: &str| format!("/assets/{name}?v={v}");
    AssetUrls {
        css: url("app.css"),
        app_js: url("app.js"),
        login_js: url("login.js"),
        account_js: url("account.js"),
        twofactor_js: url("twofactor.js"),
        passkeys_js: url("passkeys.js"),
        admin_js: url("admin.js"),
        icon: url("icon.svg"),
    }
}

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return crate::web::error::ApiError::not_found("asset").into_response();
    };
    let mut resp = (StatusCode::OK, *body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=604800"));
    resp
}
