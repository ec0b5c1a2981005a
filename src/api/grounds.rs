//! A request's Art. 17(1) or Art. 18(1) ground, and lifting a restriction (Art. 18(3)).

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::Json;
use super::AppState;
use crate::auth::Permission;
use crate::ids::RequestId;
use crate::requests::grounds::{LiftRestriction, RecordGround};
use crate::requests::view::RequestView;
use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/requests/{id}/ground", web::put().to(record_ground))
        .route(
            "/requests/{id}/restriction/lift",
            web::post().to(lift_restriction),
        );
}

#[utoipa::path(put, path = "/requests/{id}/ground", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = RecordGround, responses((status = 200, description = "The ground is recorded", body = RequestView), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn record_ground(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<RecordGround>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .record_ground(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}

/// A decision for a privacy officer: an agent may not lift a restriction.
#[utoipa::path(post, path = "/requests/{id}/restriction/lift", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = LiftRestriction, responses((status = 200, description = "The restriction is lifted", body = RequestView), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn lift_restriction(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<LiftRestriction>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::ApproveRequests)?;
    let view = state
        .requests
        .lift_restriction(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}
