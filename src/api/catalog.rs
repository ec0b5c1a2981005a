//! The catalog over HTTP: the same five handlers serve categories, systems and activities.

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::{Json, Page, Paginated};
use super::AppState;
use crate::auth::Permission;
use crate::catalog::model::{
    Activity, CatalogDocument, Category, Organisation, ProcessingForOthers, System,
};
use crate::catalog::ropa::Register;
use crate::catalog::{self, Item};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Mounts `/catalog/{plural}` and `/catalog/{plural}/{key}` for one kind of item.
fn resource<T: Item + Serialize + DeserializeOwned>(cfg: &mut web::ServiceConfig, plural: &str) {
    cfg.service(
        web::resource(format!("/catalog/{plural}"))
            .route(web::get().to(list::<T>))
            .route(web::post().to(create::<T>)),
    )
    .service(
        web::resource(format!("/catalog/{plural}/{{key}}"))
            .route(web::get().to(get::<T>))
            .route(web::put().to(replace::<T>))
            .route(web::delete().to(delete::<T>)),
    );
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    resource::<Category>(cfg, "categories");
    resource::<System>(cfg, "systems");
    resource::<Activity>(cfg, "activities");
    resource::<ProcessingForOthers>(cfg, "processing-for-others");
    cfg.service(
        web::resource("/catalog/organisation")
            .route(web::get().to(get_organisation))
            .route(web::put().to(put_organisation)),
    )
    .route("/catalog/export", web::get().to(export))
    .route("/ropa", web::get().to(ropa));
}

async fn list<T: Item + Serialize>(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Page,
) -> Result<web::Json<Paginated<T>>, ApiError> {
    user.require(Permission::ReadCatalog)?;
    let items = catalog::list::<T>(&state.store).await?;
    Ok(web::Json(Paginated::from_vec(items, page)))
}

async fn get<T: Item + Serialize>(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: web::Path<String>,
) -> Result<web::Json<T>, ApiError> {
    user.require(Permission::ReadCatalog)?;
    let item = catalog::get::<T>(&state.store, key.into_inner()).await?;
    Ok(web::Json(item))
}

async fn create<T: Item + Serialize + DeserializeOwned>(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<T>,
) -> Result<(web::Json<T>, StatusCode), ApiError> {
    user.require(Permission::EditCatalog)?;
    let item = catalog::create(&state.store, user.actor(), body.0).await?;
    Ok((web::Json(item), StatusCode::CREATED))
}

async fn replace<T: Item + Serialize + DeserializeOwned>(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: web::Path<String>,
    body: Json<T>,
) -> Result<web::Json<T>, ApiError> {
    user.require(Permission::EditCatalog)?;
    let item = catalog::replace(&state.store, user.actor(), key.into_inner(), body.0).await?;
    Ok(web::Json(item))
}

async fn delete<T: Item>(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::EditCatalog)?;
    catalog::delete::<T>(&state.store, user.actor(), key.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/catalog/organisation", tag = "catalog", responses((status = 200, description = "The controller", body = Organisation)))]
async fn get_organisation(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Organisation>, ApiError> {
    user.require(Permission::ReadCatalog)?;
    match catalog::get_organisation(&state.store).await? {
        Some(organisation) => Ok(web::Json(organisation)),
        None => Err(crate::error::Error::not_found("organisation").into()),
    }
}

#[utoipa::path(put, path = "/catalog/organisation", tag = "catalog", request_body = Organisation, responses((status = 200, description = "The controller as stored", body = Organisation)))]
async fn put_organisation(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<Organisation>,
) -> Result<web::Json<Organisation>, ApiError> {
    user.require(Permission::EditCatalog)?;
    let organisation = catalog::put_organisation(&state.store, user.actor(), body.0).await?;
    Ok(web::Json(organisation))
}

/// `GET /api/v1/catalog/export`: the whole catalog as JSON, in the import format.
#[utoipa::path(get, path = "/catalog/export", tag = "catalog", responses((status = 200, description = "The whole catalog in the import format", body = CatalogDocument)))]
async fn export(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<CatalogDocument>, ApiError> {
    user.require(Permission::ReadCatalog)?;
    Ok(web::Json(catalog::export(&state.store).await?))
}

/// `GET /api/v1/ropa`: the Art. 30 register as JSON, or CSV with `?format=csv` or
/// `Accept: text/csv`.
#[utoipa::path(get, path = "/ropa", tag = "catalog", params(("format" = Option<String>, Query, description = "`json` (the default) or `csv`")), responses((status = 200, description = "The Art. 30 register with its warnings", content((Register = "application/json"), (String = "text/csv")))))]
async fn ropa(
    state: web::Data<AppState>,
    user: CurrentUser,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ReadRegister)?;
    let register = catalog::register(&state.store).await?;
    if wants_csv(&request)? {
        let csv = catalog::ropa::register_to_csv(&register).context("CSV rendering failed")?;
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"ropa.csv\""))
            .insert_header(("X-Loket-Warnings", register.warnings.len().to_string()))
            .body(csv))
    } else {
        Ok(HttpResponse::Ok().json(register))
    }
}

fn wants_csv(request: &HttpRequest) -> Result<bool, ApiError> {
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(request.query_string()).map_err(|e| ApiError::BadRequest {
            field: None,
            message: format!("malformed query string: {e}"),
        })?;
    match query
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
    {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(_) => Err(ApiError::InvalidField {
            field: "format".into(),
            message: "must be json or csv".into(),
        }),
        None => Ok(request
            .headers()
            .get(actix_web::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv"))),
    }
}

/// The OpenAPI operations of the generic handlers above, one module per kind of item (a
/// generic fn cannot carry one `#[utoipa::path]` per path it is mounted at).
pub(super) mod doc {
    macro_rules! item_paths {
        ($module:ident, $item:ty, $list:literal, $one:literal, [$l:literal, $c:literal, $g:literal, $r:literal, $d:literal]) => {
            #[allow(dead_code)] // Stubs that carry the documentation only.
            pub mod $module {
                use crate::api::extract::{Page, Paginated};
                #[allow(unused_imports)]
                use crate::catalog::model::*;

                #[utoipa::path(get, path = $list, operation_id = $l, tag = "catalog", params(Page), responses((status = 200, description = "The items", body = Paginated<$item>)))]
                pub fn list() {}
                #[utoipa::path(post, path = $list, operation_id = $c, tag = "catalog", request_body = $item, responses((status = 201, description = "The item is created", body = $item), (status = 409, description = "The key is taken", body = crate::api::openapi::ErrorBody)))]
                pub fn create() {}
                #[utoipa::path(get, path = $one, operation_id = $g, tag = "catalog", params(("key" = String, Path, description = "The item's key or code")), responses((status = 200, description = "The item", body = $item)))]
                pub fn get() {}
                #[utoipa::path(put, path = $one, operation_id = $r, tag = "catalog", params(("key" = String, Path, description = "The item's key or code")), request_body = $item, responses((status = 200, description = "The item as stored", body = $item), (status = 409, description = "Built in, or the key differs", body = crate::api::openapi::ErrorBody)))]
                pub fn replace() {}
                #[utoipa::path(delete, path = $one, operation_id = $d, tag = "catalog", params(("key" = String, Path, description = "The item's key or code")), responses((status = 204, description = "Deleted"), (status = 409, description = "Built in, or still in use", body = crate::api::openapi::ErrorBody)))]
                pub fn delete() {}
            }
        };
    }
    item_paths!(
        categories,
        Category,
        "/catalog/categories",
        "/catalog/categories/{key}",
        [
            "list_categories",
            "create_category",
            "get_category",
            "replace_category",
            "delete_category"
        ]
    );
    item_paths!(
        processing_for_others,
        ProcessingForOthers,
        "/catalog/processing-for-others",
        "/catalog/processing-for-others/{key}",
        [
            "list_processing_for_others",
            "create_processing_for_others",
            "get_processing_for_others",
            "replace_processing_for_others",
            "delete_processing_for_others"
        ]
    );
    item_paths!(
        systems,
        System,
        "/catalog/systems",
        "/catalog/systems/{key}",
        [
            "list_systems",
            "create_system",
            "get_system",
            "replace_system",
            "delete_system"
        ]
    );
    item_paths!(
        activities,
        Activity,
        "/catalog/activities",
        "/catalog/activities/{key}",
        [
            "list_activities",
            "create_activity",
            "get_activity",
            "replace_activity",
            "delete_activity"
        ]
    );
}
