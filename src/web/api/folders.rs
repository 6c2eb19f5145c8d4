//! Which folders of the library an account reaches (README, "Who sees which files"):
//! `/api/v1/users/{uid}/folders`. Admins share and unshare folders; anyone may read
//! their own list, which is what Settings > Account shows. Homes are set with the
//! `home` field of the users API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::access::Level;
use crate::domain::policy::Actor;
use crate::service::Gatehouse;
use crate::store::StoredGrant;
use crate::web::api::openapi::{AdminErrors, Done, ErrorBody, JsonBodyErrors, LoginErrors};
use crate::web::auth::{WebAdmin, WebUser};
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, ApiPath, ApiQuery, Meta};

pub fn router() -> Router<Gatehouse> {
    Router::new().route("/api/v1/users/{uid}/folders", get(list).put(share).delete(unshare))
}

/// What a grant lets its holder do in its folder.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    /// List and download.
    Read,
    /// Read, and add new files and folders; never change what exists.
    Append,
    /// Everything.
    Write,
}

impl From<Level> for AccessLevel {
    fn from(l: Level) -> Self {
        match l {
            Level::Read => AccessLevel::Read,
            Level::Append => AccessLevel::Append,
            Level::Write => AccessLevel::Write,
        }
    }
}

/// Whether a grant is one of the account's home folders or a folder shared with it.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GrantKind {
    Home,
    Shared,
}

/// A folder an account reaches. Admins reach the whole library whatever is listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FolderGrant {
    /// The folder, as WebDAV clients name it (`/originals/family/`; `/` is the whole library).
    #[schema(example = "/originals/family/")]
    pub path: String,
    pub access: AccessLevel,
    pub kind: GrantKind,
}

impl From<&StoredGrant> for FolderGrant {
    fn from(g: &StoredGrant) -> Self {
        FolderGrant {
            path: g.grant.path.to_string(),
            access: g.grant.level.into(),
            kind: if g.home { GrantKind::Home } else { GrantKind::Shared },
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{uid}/folders",
    tag = "folders",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
    ),
    responses(
        (status = 200, description = "The user's home folders and the folders shared with them (one's own, or anyone's as admin)", body = [FolderGrant]),
        AdminErrors,
        (status = 404, description = "No such user", body = ErrorBody),
        LoginErrors,
    )
)]
async fn list(
    State(app): State<Gatehouse>,
    web: WebUser,
    ApiPath(uid): ApiPath<String>,
) -> Result<Json<Vec<FolderGrant>>, ApiError> {
    let user = app.view_user(Actor::User(&web.user), &uid).await?;
    let grants = app.grants(Some(&user.username)).await?;
    Ok(Json(grants.iter().map(FolderGrant::from).collect()))
}

/// The levels a folder is shared with.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum ShareAccess {
    Read,
    Write,
}

#[derive(Deserialize, ToSchema)]
struct ShareBody {
    /// A folder under `/originals/` or `/import/` (or `/`, the whole library).
    #[schema(min_length = 1, max_length = 1024, example = "/originals/family/")]
    path: String,
    access: ShareAccess,
}

#[utoipa::path(
    put,
    path = "/api/v1/users/{uid}/folders",
    tag = "folders",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
    ),
    request_body = ShareBody,
    responses(
        (status = 200, description = "Shared (a folder already shared gets the new access); it takes effect on the user's next request", body = FolderGrant),
        AdminErrors,
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "The path is not a folder of the library, or the access is not read or write", body = ErrorBody),
        LoginErrors,
        JsonBodyErrors,
    )
)]
async fn share(
    State(app): State<Gatehouse>,
    admin: WebAdmin,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiJson(b): ApiJson<ShareBody>,
) -> Result<Json<FolderGrant>, ApiError> {
    let user = app.view_user(Actor::User(&admin.user), &uid).await?;
    let path = named_folder(&b.path)?;
    let level = match b.access {
        ShareAccess::Read => Level::Read,
        ShareAccess::Write => Level::Write,
    };
    let grant = app.share_folder(Actor::User(&admin.user), path, &user.username, level, &meta).await?;
    Ok(Json(FolderGrant { path: grant.path.to_string(), access: grant.level.into(), kind: GrantKind::Shared }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UnshareQuery {
    /// The folder to take back, as it was shared (`/originals/family/`).
    #[param(min_length = 1, max_length = 1024)]
    path: String,
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{uid}/folders",
    tag = "folders",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("uid" = String, Path, description = "The user's uid"),
        UnshareQuery,
    ),
    responses(
        (status = 200, description = "Taken back; the user's next request no longer reaches it", body = Done),
        AdminErrors,
        (status = 404, description = "No such user, or the folder was not granted to them", body = ErrorBody),
        (status = 422, description = "The path is not a folder of the library", body = ErrorBody),
        LoginErrors,
    )
)]
async fn unshare(
    State(app): State<Gatehouse>,
    admin: WebAdmin,
    Meta(meta): Meta,
    ApiPath(uid): ApiPath<String>,
    ApiQuery(q): ApiQuery<UnshareQuery>,
) -> Result<Json<Done>, ApiError> {
    let user = app.view_user(Actor::User(&admin.user), &uid).await?;
    app.unshare_folder(Actor::User(&admin.user), named_folder(&q.path)?, &user.username, &meta).await?;
    Ok(Json(Done { status: "unshared".to_owned() }))
}

/// A folder path as sent: an empty one is refused, never read as `/` (the whole library).
fn named_folder(path: &str) -> Result<&str, ApiError> {
    if path.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "a folder path is required (/ is the whole library)",
        ));
    }
    Ok(path)
}
