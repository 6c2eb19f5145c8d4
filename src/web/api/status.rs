//! Readiness.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::Gatehouse;

pub fn router() -> Router<Gatehouse> {
    Router::new().route("/api/v1/status", get(status))
}

/// The server is up and ready.
#[derive(Serialize, ToSchema)]
pub(super) struct Ready {
    #[schema(example = "operational")]
    status: &'static str,
}

#[utoipa::path(
    get,
    path = "/api/v1/status",
    tag = "server",
    security(()),
    responses((status = 200, description = "The server is ready", body = Ready))
)]
pub(super) async fn status() -> Json<Ready> {
    Json(Ready { status: "operational" })
}
