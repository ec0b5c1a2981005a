//! Retention over HTTP, for privacy officers: the record of sweeps, a sweep run now (a dry run
//! unless asked otherwise), and legal holds.

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::{Items, Json, Page, Paginated};
use super::AppState;
use crate::auth::Permission;
use crate::retention::holds::LegalHold;
use crate::retention::sweep::RuleReport;
use crate::retention::{NewLegalHold, SweepOptions, SweepRun};
use actix_web::http::StatusCode;
use actix_web::web;
use serde::Deserialize;

/// Runs kept in view; older ones stay in the database and on the audit trail.
const RUNS_SHOWN: i64 = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/retention/runs", web::get().to(runs))
        .route("/retention/sweeps", web::post().to(sweep_now))
        .service(
            web::resource("/retention/holds")
                .route(web::get().to(holds))
                .route(web::post().to(place_hold)),
        )
        .route("/retention/holds/{id}", web::delete().to(lift_hold));
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RunsQuery {
    /// Only the runs of this rule.
    rule: Option<String>,
    // Read by `Page`.
    #[serde(rename = "page")]
    #[param(ignore)]
    _page: Option<String>,
    #[serde(rename = "per_page")]
    #[param(ignore)]
    _per_page: Option<String>,
}

#[utoipa::path(get, path = "/retention/runs", tag = "retention", params(Page, RunsQuery), responses((status = 200, description = "The sweep runs, newest first", body = Paginated<SweepRun>)))]
async fn runs(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Page,
    query: web::Query<RunsQuery>,
) -> Result<web::Json<Paginated<SweepRun>>, ApiError> {
    user.require(Permission::ManageRetention)?;
    let runs = state
        .sweeps
        .runs(query.into_inner().rule, RUNS_SHOWN)
        .await?;
    Ok(web::Json(Paginated::from_vec(runs, page)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SweepRequest {
    /// A dry run unless the caller says `false`: changing data must be meant.
    #[serde(default = "yes")]
    #[schema(default = true)]
    dry_run: bool,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    system: Option<String>,
}

fn yes() -> bool {
    true
}

/// Sweeps now and answers with one report per rule when it is done.
#[utoipa::path(post, path = "/retention/sweeps", tag = "retention", request_body = SweepRequest, responses((status = 200, description = "One report per rule", body = SweepReports), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn sweep_now(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<SweepRequest>,
) -> Result<web::Json<SweepReports>, ApiError> {
    user.require(Permission::ManageRetention)?;
    let body = body.0;
    let options = SweepOptions {
        dry_run: body.dry_run,
        rule: body.rule,
        system: body.system,
        actor: Some(user.actor()),
        ..SweepOptions::default()
    };
    let reports = state.sweeps.sweep(options, |_| {}).await?;
    Ok(web::Json(SweepReports { rules: reports }))
}

/// What a sweep did (or, in a dry run, would do): one report per rule.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct SweepReports {
    rules: Vec<RuleReport>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct HoldsQuery {
    /// Lifted holds too.
    #[serde(default)]
    include_lifted: bool,
}

#[utoipa::path(get, path = "/retention/holds", tag = "retention", params(HoldsQuery), responses((status = 200, description = "Legal holds", body = Items<LegalHold>)))]
async fn holds(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<HoldsQuery>,
) -> Result<web::Json<Items<LegalHold>>, ApiError> {
    user.require(Permission::ManageRetention)?;
    let holds = state.sweeps.holds(query.include_lifted).await?;
    Ok(web::Json(Items { items: holds }))
}

#[utoipa::path(post, path = "/retention/holds", tag = "retention", request_body = NewLegalHold, responses((status = 201, description = "The hold is placed", body = LegalHold)))]
async fn place_hold(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<NewLegalHold>,
) -> Result<(web::Json<LegalHold>, StatusCode), ApiError> {
    user.require(Permission::ManageRetention)?;
    let hold = state.sweeps.place_hold(user.actor(), body.0).await?;
    Ok((web::Json(hold), StatusCode::CREATED))
}

#[utoipa::path(delete, path = "/retention/holds/{id}", tag = "retention", responses((status = 200, description = "The hold is lifted", body = LegalHold), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn lift_hold(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
) -> Result<web::Json<LegalHold>, ApiError> {
    user.require(Permission::ManageRetention)?;
    let hold = state
        .sweeps
        .lift_hold(user.actor(), id.into_inner())
        .await?;
    Ok(web::Json(hold))
}
