//! Account management for admins.

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::{Json, Page, Paginated};
use super::AppState;
use crate::auth::{NewUser, Permission, Role};
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
    active: Option<bool>,
    role: Option<Role>,
}

/// `PATCH /api/v1/users/{username}` with `{"active": false}` disables an account, with
/// `{"role": "agent"}` gives it another role; either revokes its tokens and sessions.
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    username: web::Path<String>,
    body: Json<UserChange>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageUsers)?;
    let UserChange { active, role } = body.0;
    if active.is_none() && role.is_none() {
        return Err(ApiError::InvalidField {
            field: "body".into(),
            message: "give active, role or both".into(),
        });
    }
    let username = username.into_inner();
    let mut changed = None;
    if let Some(role) = role {
        changed = Some(
            state
                .users
                .set_role(user.actor(), username.clone(), role)
                .await?,
        );
    }
    if let Some(active) = active {
        changed = Some(
            state
                .users
                .set_active(user.actor(), username, active)
                .await?,
        );
    }
    Ok(HttpResponse::Ok().json(changed))
}
