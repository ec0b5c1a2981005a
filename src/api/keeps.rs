//! An erasure's keep choices under Art. 17(3) and the person's wish to know the recipients
//! (Art. 19).

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::Json;
use super::AppState;
use crate::auth::Permission;
use crate::ids::RequestId;
use crate::requests::choices::{NewKeepChoice, WantsRecipients};
#[allow(unused_imports)]
use crate::requests::view::RequestView;
use actix_web::http::StatusCode;
use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/requests/{id}/keeps", web::post().to(choose_keep))
        .route(
            "/requests/{id}/wants-recipients",
            web::put().to(wants_recipients),
        );
}

#[utoipa::path(post, path = "/requests/{id}/keeps", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = Object, responses((status = 201, description = "A keep under an Art. 17(3) exception is chosen", body = RequestView), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn choose_keep(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<NewKeepChoice>,
) -> Result<(web::Json<RequestView>, StatusCode), ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .choose_keep(staff, id.into_inner(), body.0)
        .await?;
    Ok((web::Json(view), StatusCode::CREATED))
}

#[utoipa::path(put, path = "/requests/{id}/wants-recipients", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = Object, responses((status = 200, description = "Whether the person asked who the recipients are (Art. 19)", body = RequestView), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn wants_recipients(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<WantsRecipients>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .record_wants_recipients(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}
