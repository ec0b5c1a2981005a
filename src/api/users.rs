//! Account management for admins.

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::{Json, Page, Paginated};
use super::AppState;
use crate::auth::{NewUser, Permission, Role, User};
use crate::ids::Username;
use actix_web::http::StatusCode;
use actix_web::web;
use serde::Deserialize;

#[utoipa::path(get, path = "/users", tag = "users", params(Page), responses((status = 200, description = "The accounts", body = Paginated<User>)))]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Page,
) -> Result<web::Json<Paginated<User>>, ApiError> {
    user.require(Permission::ManageUsers)?;
    let users = state.users.list().await?;
    Ok(web::Json(Paginated::from_vec(users, page)))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUser, responses((status = 201, description = "The account is created", body = User), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<NewUser>,
) -> Result<(web::Json<User>, StatusCode), ApiError> {
    user.require(Permission::ManageUsers)?;
    let created = state.users.create(user.actor(), body.0).await?;
    Ok((web::Json(created), StatusCode::CREATED))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    active: Option<bool>,
    role: Option<Role>,
    /// Where the reminder digest goes; `""` removes the address.
    email: Option<String>,
    /// The language of the reminder digest: `nl` (the default) or `en`.
    language: Option<String>,
}

/// `PATCH /api/v1/users/{username}` with `{"active": false}` disables an account, with
/// `{"role": "agent"}` gives it another role; either revokes its tokens and sessions.
#[utoipa::path(patch, path = "/users/{username}", tag = "users", params(("username" = Username, Path, description = "The account's user name")), request_body = UserChange, responses((status = 200, description = "The account as changed", body = User), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    username: web::Path<Username>,
    body: Json<UserChange>,
) -> Result<web::Json<User>, ApiError> {
    user.require(Permission::ManageUsers)?;
    let UserChange {
        active,
        role,
        email,
        language,
    } = body.0;
    if active.is_none() && role.is_none() && email.is_none() && language.is_none() {
        return Err(ApiError::InvalidField {
            field: "body".into(),
            message: "give active, role, email or language".into(),
        });
    }
    let username = String::from(username.into_inner());
    let mut changed = None;
    if email.is_some() || language.is_some() {
        changed = Some(
            state
                .users
                .set_contact(user.actor(), username.clone(), email, language)
                .await?,
        );
    }
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
    // Neither given: nothing was changed.
    changed
        .map(web::Json)
        .ok_or_else(|| ApiError::InvalidField {
            field: "body".into(),
            message: "give active, role or both".into(),
        })
}
