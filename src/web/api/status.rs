//! Readiness.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::service::Gatehouse;

pub fn router() -> Router<Gatehouse> {
    Router::new().route("/api/v1/status", get(status))
}

async fn status() -> Json<Value> {
    Json(json!({ "status": "operational" }))
}
