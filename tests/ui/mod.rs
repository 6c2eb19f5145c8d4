//! Helpers for the web UI tests: page requests with the session cookie, without
//! following redirects, and small readers of the returned HTML.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::header::{COOKIE, HeaderMap};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

use crate::common::TestApp;

/// A page answer: status, headers and body text.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn location(&self) -> &str {
        self.header("location")
    }

    /// The CSRF token the page carries for its scripts.
    pub fn csrf_token(&self) -> String {
        let marker = r#"<meta name="csrf-token" content=""#;
        let start = self.html.find(marker).expect("page has a csrf-token meta tag") + marker.len();
        let end = self.html[start..].find('"').unwrap();
        self.html[start..start + end].to_owned()
    }
}

fn no_redirects() -> Client {
    gatehouse::library::install_tls();
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// `GET path` as a browser would send it: the session cookie if any, no redirects.
pub async fn page(t: &TestApp, path: &str, cookie: Option<&str>) -> Page {
    let mut req = no_redirects().get(t.url(path)).header("accept", "text/html");
    if let Some(c) = cookie {
        req = req.header(COOKIE, format!("gatehouse_session={c}"));
    }
    let resp = req.send().await.unwrap();
    Page { status: resp.status(), headers: resp.headers().clone(), html: resp.text().await.unwrap() }
}

/// A JSON API call authenticated by the cookie, with an optional CSRF header.
pub async fn cookie_call(
    t: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Value,
) -> StatusCode {
    let mut req =
        no_redirects().request(method, t.url(path)).header(COOKIE, format!("gatehouse_session={cookie}")).json(&body);
    if let Some(token) = csrf {
        req = req.header("x-csrf-token", token);
    }
    req.send().await.unwrap().status()
}

/// Every `<script>` element of the page loads a file: none has inline code.
pub fn scripts_are_external(html: &str) -> bool {
    html.split("<script").skip(1).all(|rest| {
        let (tag, after) = rest.split_once('>').unwrap_or((rest, ""));
        tag.contains(" src=") && after.starts_with("</script>")
    })
}

/// No inline event handlers (`onclick=`…) or `style=` attributes in any tag. Attribute
/// values are skipped: escaped user text inside them is not markup.
pub fn no_inline_handlers_or_styles(html: &str) -> bool {
    html.split('<').skip(1).all(|rest| {
        let tag = rest.split_once('>').map_or(rest, |(tag, _)| tag).to_ascii_lowercase();
        let names: String = tag.split('"').step_by(2).collect::<Vec<_>>().join(" ");
        names.split_whitespace().all(|attr| {
            let name = attr.split('=').next().unwrap_or("");
            name != "style" && !(name.starts_with("on") && name.len() > 2 && attr.contains('='))
        })
    })
}
