//! Reading the audit trail. There is deliberately no route that changes or removes an event.

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::{Page, Paginated};
use super::AppState;
use crate::audit::{AuditEvent, Verification};
use crate::auth::Permission;
use actix_web::web;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    object_type: Option<String>,
    object_id: Option<String>,
}

#[utoipa::path(get, path = "/audit/events", tag = "audit", params(Page, EventFilter), responses((status = 200, description = "The trail, newest first", body = Paginated<AuditEvent>)))]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Page,
    filter: web::Query<EventFilter>,
) -> Result<web::Json<Paginated<AuditEvent>>, ApiError> {
    user.require(Permission::ReadAudit)?;
    let EventFilter {
        object_type,
        object_id,
    } = filter.into_inner();
    let object = match (object_type, object_id) {
        (Some(t), Some(i)) => Some((t, i)),
        (None, None) => None,
        (None, Some(_)) => {
            return Err(ApiError::InvalidField {
                field: "object_type".into(),
                message: "required together with object_id".into(),
            })
        }
        (Some(_), None) => {
            return Err(ApiError::InvalidField {
                field: "object_id".into(),
                message: "required together with object_type".into(),
            })
        }
    };
    let events = crate::audit::list(&state.store, object, page.offset(), page.per_page).await?;
    Ok(web::Json(Paginated {
        items: events.items,
        page: page.page,
        per_page: page.per_page,
        total: events.total,
    }))
}

#[utoipa::path(get, path = "/audit/verify", tag = "audit", responses((status = 200, description = "Whether the chain holds, and its first broken link", body = Verification)))]
pub async fn verify(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Verification>, ApiError> {
    user.require(Permission::ReadAudit)?;
    let verification = crate::audit::verify_chain(&state.store).await?;
    Ok(web::Json(verification))
}
