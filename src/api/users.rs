//! Account management for admins.

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::{Json, Page, Paginated};
use super::AppState;
use crate::auth::{NewUser, Permission};
use actix_web::{web, HttpResponse};
use serde::Deserialize;

pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Page,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageUsers)?;
    let users = state.users.list().await?;
    Ok(HttpResponse::Ok().json(Paginated::from_vec(users, page)))
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<NewUser>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageUsers)?;
    let created = state.users.create(user.actor(), body.0).await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    active: bool,
}

/// `PATCH /api/v1/users/{username}` with `{"active": false}` disables an account.
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    username: web::Path<String>,
    body: Json<UserChange>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageUsers)?;
    let changed = state
        .users
        .set_active(user.actor(), username.into_inner(), body.0.active)
        .await?;
    Ok(HttpResponse::Ok().json(changed))
}
