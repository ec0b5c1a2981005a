//! The HTTP layer: thin handlers that check the caller's permission, read the input and call
//! the domain. No SQL here, and no business rules.

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod desk;
pub mod error;
pub mod extract;
pub mod grounds;
pub mod guide;
pub mod health;
pub mod keeps;
pub mod openapi;
pub mod owners;
pub mod packages;
pub mod permissions;
pub mod public;
pub mod requests;
pub mod retention;
pub mod users;
pub mod webhooks;

use crate::auth::{TokenService, UserService};
use crate::db::Store;
use crate::packages::{PackageKeys, PackageService};
use crate::requests::RequestService;
use crate::retention::SweepService;
use actix_web::web;
use error::ApiError;

/// What handlers share: the store and the domain services built on it.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub users: UserService,
    pub tokens: TokenService,
    pub requests: RequestService,
    pub sweeps: SweepService,
    pub packages: PackageService,
    /// Outgoing webhook subscriptions and their deliveries (admins).
    pub webhooks: crate::webhooks::WebhookService,
}

impl AppState {
    pub fn new(
        store: Store,
        tokens: TokenService,
        requests: RequestService,
        sweeps: SweepService,
    ) -> Self {
        let keys = PackageKeys::new(store.clone(), requests.cipher.clone());
        Self {
            packages: PackageService::new(requests.clone(), keys),
            users: UserService::new(store.clone()),
            webhooks: crate::webhooks::WebhookService::new(store.clone(), requests.cipher.clone()),
            store,
            tokens,
            requests,
            sweeps,
        }
    }
}

/// Settings of the HTTP layer itself.
#[derive(Clone)]
pub struct ApiConfig {
    /// The rate limit of the public routes, shared by all workers of this process.
    pub public_rate_limit: public::RateLimit,
}

impl ApiConfig {
    pub fn new(public_requests_per_minute: u32) -> Self {
        ApiConfig {
            public_rate_limit: public::rate_limit(public_requests_per_minute),
        }
    }
}

/// Registers every route. Used by the server and by the integration tests alike.
pub fn configure(cfg: &mut web::ServiceConfig, api: &ApiConfig) {
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
    // actix tries the routes in the order they are registered and matches every pattern with a
    // `{segment}` by a regular expression, without looking at its fixed start first (a profile
    // of the public status call found 8% of the machine in route matching). So the API, which
    // carries the traffic, comes before the desk's pages; within it the calls made most (a
    // person's status, a request and its parts) come first. No two of these groups can match
    // the same path, so the order changes nothing but the time a match takes.
    .service(
        web::scope("/api/v1")
            .configure(|cfg| public::configure(cfg, &api.public_rate_limit))
            .configure(requests::configure)
            .configure(grounds::configure)
            .configure(keeps::configure)
            .configure(packages::configure)
            .route("/auth/token", web::post().to(auth::issue_token))
            .route("/auth/sign-out", web::post().to(auth::sign_out))
            .route("/openapi.json", web::get().to(openapi::serve))
            .service(
                web::resource("/users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create)),
            )
            .route("/users/{username}", web::patch().to(users::update))
            .configure(catalog::configure)
            .route("/audit/events", web::get().to(audit::list))
            .route("/audit/verify", web::get().to(audit::verify))
            .configure(guide::configure)
            .configure(retention::configure)
            .configure(webhooks::configure),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .service(
        web::resource("/status/{token}")
            .wrap(actix_governor::Governor::new(&api.public_rate_limit))
            .route(web::get().to(public::status_page)),
    )
    .configure(|cfg| desk::configure(cfg, &api.public_rate_limit))
    .configure(|cfg| packages::configure_public(cfg, &api.public_rate_limit))
    .configure(|cfg| owners::configure_public(cfg, &api.public_rate_limit))
    .default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::NoRoute)
    }));
}

/// Middleware: a NUL in the path or query is answered with 422 before any route (or the
/// store) sees it.
pub async fn refuse_nul_in_address(
    request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    extract::refuse_nul_in_uri(request.uri())?;
    next.call(request).await
}
