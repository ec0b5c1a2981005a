//! The HTTP layer: thin handlers that check the caller's permission, read the input and call
//! the domain. No SQL here, and no business rules.

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod error;
pub mod extract;
pub mod health;
pub mod users;

use crate::auth::{TokenService, UserService};
use crate::db::Store;
use actix_web::web;
use error::ApiError;

/// What handlers share: the store and the domain services built on it.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub users: UserService,
    pub tokens: TokenService,
}

impl AppState {
    pub fn new(store: Store, tokens: TokenService) -> Self {
        Self {
            users: UserService::new(store.clone()),
            store,
            tokens,
        }
    }
}

/// Registers every route. Used by the server and by the integration tests alike.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|error, _| {
        ApiError::BadRequest {
            field: None,
            message: format!("malformed query string: {error}"),
        }
        .into()
    }))
    .app_data(web::PathConfig::default().error_handler(|error, _| {
        ApiError::BadRequest {
            field: None,
            message: format!("malformed path: {error}"),
        }
        .into()
    }))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .service(
        web::scope("/api/v1")
            .route("/auth/token", web::post().to(auth::issue_token))
            .service(
                web::resource("/users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create)),
            )
            .route("/users/{username}", web::patch().to(users::update))
            .configure(catalog::configure)
            .route("/audit/events", web::get().to(audit::list))
            .route("/audit/verify", web::get().to(audit::verify)),
    )
    .default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::NoRoute)
    }));
}
