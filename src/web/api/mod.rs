//! The JSON API under `/api/v1`: each feature module exports its routes.

mod folders;
mod metrics;
mod oauth;
pub mod openapi;
mod passcode;
mod passkeys;
mod session;
mod status;
mod users;

use axum::Router;

use crate::service::Gatehouse;

pub fn router() -> Router<Gatehouse> {
    Router::new()
        .merge(status::router())
        .merge(session::router())
        .merge(users::router())
        .merge(folders::router())
        .merge(passcode::router())
        .merge(passkeys::router())
        .merge(oauth::router())
        .merge(metrics::router())
        .merge(openapi::router())
}
