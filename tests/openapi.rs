//! The OpenAPI document (`/api/v1/openapi.json`) describes every route of the JSON API:
//! a route added without its `#[utoipa::path]` annotation fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::{Db, spawn};
use reqwest::StatusCode;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Every `(method, path)` that the API's routers register, read from their source:
/// `.route("PATH", get(a).post(b))`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/api");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (at, _) in source.match_indices(".route(\"") {
            let rest = &source[at + ".route(".len()..];
            let path = rest[1..].split('"').next().unwrap();
            // The arguments of `.route(…)`, up to its closing parenthesis.
            let mut depth = 1;
            let end = rest.find(|c| {
                depth += i32::from(c == '(') - i32::from(c == ')');
                depth == 0
            });
            let args = &rest[..end.unwrap()];
            let mut found = false;
            for method in METHODS {
                for prefix in [" ", "."] {
                    if args.contains(&format!("{prefix}{method}(")) {
                        routes.insert((method.to_owned(), path.to_owned()));
                        found = true;
                    }
                }
            }
            assert!(found, "no method found for the route {path}: {args}");
        }
    }
    routes
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

async fn the_document_describes_every_api_route(db: Db) {
    let t = spawn(db).await;
    let r = t.client.get(t.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "an OpenAPI 3 document");

    let source = routes_in_source();
    assert!(source.len() >= 20, "the route scan found the routers: {source:?}");
    let documented = operations(&doc);
    let missing: Vec<_> = source.difference(&documented).collect();
    assert!(missing.is_empty(), "routes without documentation (add #[utoipa::path]): {missing:?}");
    let stale: Vec<_> = documented.difference(&source).collect();
    assert!(stale.is_empty(), "documented operations that no router serves: {stale:?}");
}

async fn every_operation_documents_its_errors_and_credentials(db: Db) {
    let t = spawn(db).await;
    let doc: Value = t.client.get(t.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], "gatehouse_session");
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error", "message"]));

    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][&method];
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} has a success answer");
        let secured = op["security"].as_array().unwrap().iter().any(|s| s.get("bearer").is_some());
        if secured {
            for status in ["401", "403"] {
                let body = &responses.get(status).unwrap_or_else(|| panic!("{method} {path} documents {status}"));
                assert_eq!(
                    body["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

on_both_databases!(the_document_describes_every_api_route, every_operation_documents_its_errors_and_credentials);
