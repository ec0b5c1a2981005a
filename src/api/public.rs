//! The routes a person uses without an account: the web form, confirming it with the code from
//! the e-mail, and the status page behind the signed link. Rate-limited per IP address.

use super::error::ApiError;
use super::extract::Json;
use super::AppState;
use crate::requests::public::{PublicRequest, PublicStatus, Submitted};
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::NotUntil;
use actix_governor::{
    Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, PeerIpKeyExtractor,
};
use actix_web::dev::ServiceRequest;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::Deserialize;
use std::sync::LazyLock;

/// Limits by the caller's IP address (IPv6 by /56), answering over the limit with loket's JSON
/// error body and a Retry-After header. Behind a load balancer every caller shares its address:
/// put the limit on the balancer instead, or raise `public_requests_per_minute`.
#[derive(Debug, Clone, Copy)]
pub struct PerIp;

impl KeyExtractor for PerIp {
    type Key = <PeerIpKeyExtractor as KeyExtractor>::Key;
    type KeyExtractionError = <PeerIpKeyExtractor as KeyExtractor>::KeyExtractionError;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        PeerIpKeyExtractor.extract(req)
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        mut response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative
            .wait_time_from(DefaultClock::default().now())
            .as_secs()
            .max(1);
        response
            .insert_header(("Retry-After", wait.to_string()))
            .json(serde_json::json!({
                "error": "rate_limited",
                "message": format!("too many requests from this address; try again in {wait} s"),
            }))
    }
}

/// The rate limit of the public routes: `per_minute` requests, all of which may come at once.
pub fn rate_limit(
    per_minute: u32,
) -> GovernorConfig<PerIp, actix_governor::governor::middleware::NoOpMiddleware<QuantaInstant>> {
    let per_minute = per_minute.max(1);
    GovernorConfigBuilder::default()
        .key_extractor(PerIp)
        // Nanoseconds, so even the largest setting leaves a period above zero.
        .nanoseconds_per_request(60_000_000_000 / u64::from(per_minute))
        .burst_size(per_minute)
        .finish()
        .expect("a positive period and burst size make a valid rate limit")
}

/// The rate limit of the routes a person uses without an account.
pub type RateLimit =
    GovernorConfig<PerIp, actix_governor::governor::middleware::NoOpMiddleware<QuantaInstant>>;

/// Mounts `/public/…` under the API scope, limited by `config`.
pub fn configure(cfg: &mut web::ServiceConfig, config: &RateLimit) {
    cfg.service(
        web::scope("/public")
            .wrap(Governor::new(config))
            .route("/requests", web::post().to(submit))
            .route("/requests/{reference}/confirm", web::post().to(confirm))
            .route("/status/{token}", web::get().to(status_json)),
    );
}

#[utoipa::path(post, path = "/public/requests", tag = "public", request_body = PublicRequest, security(()), responses((status = 202, description = "Kept apart until the code sent to the address comes back", body = Submitted), (status = 429, description = "Too many requests from this address (`Retry-After`)", body = crate::api::openapi::ErrorBody)))]
async fn submit(
    state: web::Data<AppState>,
    body: Json<PublicRequest>,
) -> Result<HttpResponse, ApiError> {
    let submitted = state.requests.submit_public(body.0).await?;
    Ok(HttpResponse::Accepted().json(submitted))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Confirmation {
    code: String,
}

#[utoipa::path(post, path = "/public/requests/{reference}/confirm", tag = "public", request_body = Confirmation, security(()), responses((status = 200, description = "Confirmed; the receipt confirmation is sent", body = PublicStatus), (status = 410, description = "The code expired", body = crate::api::openapi::ErrorBody), (status = 429, description = "Too many tries", body = crate::api::openapi::ErrorBody)))]
async fn confirm(
    state: web::Data<AppState>,
    reference: web::Path<String>,
    body: Json<Confirmation>,
) -> Result<web::Json<PublicStatus>, ApiError> {
    let status = state
        .requests
        .confirm_public(reference.into_inner(), body.0.code)
        .await?;
    Ok(web::Json(status))
}

#[utoipa::path(get, path = "/public/status/{token}", tag = "public", security(()), responses((status = 200, description = "State and due date only", body = PublicStatus), (status = 429, description = "Too many requests from this address", body = crate::api::openapi::ErrorBody)))]
async fn status_json(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<web::Json<PublicStatus>, ApiError> {
    let status = state.requests.public_status(token.into_inner()).await?;
    Ok(web::Json(status))
}

/// `GET /status/{token}`: the page the link in the receipt confirmation opens. It shows the
/// state and the due date, and nothing else about the request.
pub async fn status_page(
    state: web::Data<AppState>,
    token: web::Path<String>,
    request: HttpRequest,
) -> HttpResponse {
    let english = prefers_english(&request);
    let status = state.requests.public_status(token.into_inner()).await;
    let (code, status) = match status {
        Ok(status) => (actix_web::http::StatusCode::OK, Some(status)),
        Err(_) => (actix_web::http::StatusCode::NOT_FOUND, None),
    };
    render_page(
        code,
        "status.html",
        organisation(&state).await,
        minijinja::context! { status => status, en => english },
    )
}

/// The controller, for the name and privacy contact every public page carries; a page still
/// renders without it (before a catalog is loaded, or when the store cannot be read).
pub(super) async fn organisation(state: &AppState) -> Option<crate::catalog::model::Organisation> {
    crate::catalog::get_organisation(&state.store)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "the organisation could not be read for a public page");
            None
        })
}

/// A page for a person: never cached or passed on as a referrer, since its address is a
/// personal link. It names the organisation and its privacy contact.
pub(super) fn render_page(
    code: actix_web::http::StatusCode,
    template: &str,
    organisation: Option<crate::catalog::model::Organisation>,
    context: minijinja::Value,
) -> HttpResponse {
    let context = minijinja::context! { organisation => organisation, ..context };
    match PAGES
        .get_template(template)
        .and_then(|page| page.render(context))
    {
        Ok(html) => HttpResponse::build(code)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .body(html),
        Err(error) => {
            tracing::error!(%error, template, "a page could not be rendered");
            HttpResponse::InternalServerError().finish()
        }
    }
}

pub(crate) fn prefers_english(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|first| first.trim().to_lowercase().starts_with("en"))
}

/// `{{ status.due_on | day }}`: "2 december 2026"; a stored time (UTC) as "2 december 2026,
/// 14:05" in Amsterdam; in the page's language.
fn day(state: &minijinja::State, value: String) -> String {
    use crate::vocabulary::Language;
    let language = if state.lookup("en").is_some_and(|en| en.is_true()) {
        Language::En
    } else {
        Language::Nl
    };
    if let Ok(at) = chrono::NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M:%S%.f") {
        let local = crate::requests::dutch_time(at);
        let date = crate::mail::letters::written_date(local.date(), language);
        return format!("{date}, {}", local.format("%H:%M"));
    }
    match chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d") {
        Ok(date) => crate::mail::letters::written_date(date, language),
        Err(_) => value,
    }
}

static PAGES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    env.add_filter("day", day);
    for (name, source) in [
        (
            "_organisation.html",
            include_str!("../../templates/pages/_organisation.html"),
        ),
        (
            "status.html",
            include_str!("../../templates/pages/status.html"),
        ),
        (
            "package.html",
            include_str!("../../templates/pages/package.html"),
        ),
        (
            "owner_task.html",
            include_str!("../../templates/pages/owner_task.html"),
        ),
    ] {
        env.add_template(name, source)
            .expect("the page templates are valid");
    }
    env
});
