//! Templates: compiled once from the files under `templates/` (embedded in the binary)
//! and rendered with auto-escaping, which minijinja applies to names ending in `.html`.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Every template, by name. Names end in `.html`, so every `{{ … }}` is HTML-escaped.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    ("login.html", include_str!("../../../templates/login.html")),
    ("account.html", include_str!("../../../templates/account.html")),
    ("account_dialogs.html", include_str!("../../../templates/account_dialogs.html")),
    ("admin_users.html", include_str!("../../../templates/admin_users.html")),
    ("admin_dialogs.html", include_str!("../../../templates/admin_dialogs.html")),
    ("error.html", include_str!("../../../templates/error.html")),
];

/// The compiled templates, or why they did not compile (then every page is a 500).
static ENV: LazyLock<Result<Environment<'static>, String>> = LazyLock::new(|| build().map_err(|e| e.to_string()));

fn build() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// Renders `name` with `ctx` into an HTML answer with `status`.
pub fn page(status: StatusCode, name: &str, ctx: &impl Serialize) -> Response {
    let rendered = match ENV.as_ref() {
        Ok(env) => env.get_template(name).and_then(|t| t.render(Serde(ctx))).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    match rendered {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, template = name, "page could not be rendered");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>The page could not be shown.".to_owned(),
            )
        }
    }
}

/// A small page saying what went wrong (403, 404, 500) — HTML, not the API's JSON.
pub fn error_page(site_title: &str, status: StatusCode, message: &str) -> Response {
    #[derive(Serialize)]
    struct Ctx<'a> {
        site_title: &'a str,
        status: u16,
        title: &'a str,
        message: &'a str,
        asset: super::assets::AssetUrls,
    }
    let title = status.canonical_reason().unwrap_or("Error");
    let ctx = Ctx { site_title, status: status.as_u16(), title, message, asset: super::assets::urls() };
    page(status, "error.html", &ctx)
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_escapes() {
        let env = build().unwrap();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
        assert!(TEMPLATES.iter().all(|(n, _)| n.ends_with(".html")), "auto-escaping needs the .html name");
    }
}
