//! Liveness and readiness probes for load balancers and orchestrators.

use super::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

/// `GET /healthz`: the process is up and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers, so requests can be served.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok()
            .json(json!({ "status": "ready", "database": state.store.backend().to_string() })),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(
                json!({ "status": "unavailable", "database": state.store.backend().to_string() }),
            )
        }
    }
}
