//! Outgoing webhooks over HTTP, for administrators: the subscriptions (the secret is accepted,
//! never returned) and what became of their deliveries.

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::{Json, Page, Paginated};
use super::AppState;
use crate::auth::Permission;
use crate::webhooks::{Delivery, Subscription, SubscriptionInput};
use actix_web::{web, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/webhooks/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::delete().to(delete)),
    )
    .route("/webhooks/{id}/deliveries", web::get().to(deliveries));
}

#[utoipa::path(get, path = "/webhooks", tag = "webhooks", params(Page), responses((status = 200, description = "The subscriptions, oldest first, without their secrets", body = Paginated<Subscription>)))]
async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Page,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageWebhooks)?;
    let all = state.webhooks.list().await?;
    Ok(HttpResponse::Ok().json(Paginated::from_vec(all, page)))
}

#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = SubscriptionInput, responses((status = 201, description = "The subscription (its secret is not shown again)", body = Subscription), (status = 422, description = "A field is invalid: `url`, `secret`, `events[i]`", body = crate::api::openapi::ErrorBody)))]
async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<SubscriptionInput>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageWebhooks)?;
    let created = state.webhooks.create(user.actor(), body.0).await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", responses((status = 200, description = "The subscription, without its secret", body = Subscription), (status = 404, description = "No such subscription", body = crate::api::openapi::ErrorBody)))]
async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageWebhooks)?;
    let found = state.webhooks.get(id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(found))
}

#[utoipa::path(put, path = "/webhooks/{id}", tag = "webhooks", request_body = SubscriptionInput, responses((status = 200, description = "The subscription as changed; without `secret` the old one stays", body = Subscription), (status = 404, description = "No such subscription", body = crate::api::openapi::ErrorBody), (status = 422, description = "A field is invalid", body = crate::api::openapi::ErrorBody)))]
async fn replace(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    body: Json<SubscriptionInput>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageWebhooks)?;
    let changed = state
        .webhooks
        .update(user.actor(), id.into_inner(), body.0)
        .await?;
    Ok(HttpResponse::Ok().json(changed))
}

#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", responses((status = 204, description = "The subscription and its deliveries are gone"), (status = 404, description = "No such subscription", body = crate::api::openapi::ErrorBody)))]
async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageWebhooks)?;
    state.webhooks.delete(user.actor(), id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", params(Page), responses((status = 200, description = "The subscription's deliveries, newest first: status, attempts, last error", body = Paginated<Delivery>), (status = 404, description = "No such subscription", body = crate::api::openapi::ErrorBody)))]
async fn deliveries(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    page: Page,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageWebhooks)?;
    let (items, total) = state
        .webhooks
        .deliveries(Some(id.into_inner()), page.offset(), page.per_page)
        .await?;
    Ok(HttpResponse::Ok().json(Paginated {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    }))
}
