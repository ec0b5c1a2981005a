//! The agent's guide and the readiness report over HTTP (issue 21): thin handlers over
//! [`crate::guide`] and [`crate::readiness`].

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::Items;
use super::AppState;
use crate::auth::Permission;
use crate::guide::{GuidePage, Suggestion};
use crate::readiness::{Report, Snapshot};
use crate::vocabulary::{Language, RequestKind};
use actix_web::http::StatusCode;
use actix_web::web;
use serde::{Deserialize, Serialize};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/guide", web::get().to(index))
        .route("/guide/recognise", web::get().to(recognise))
        .route("/guide/{kind}", web::get().to(page))
        .route("/readiness", web::get().to(readiness))
        .service(
            web::resource("/readiness/snapshots")
                .route(web::get().to(snapshots))
                .route(web::post().to(snapshot)),
        );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuideQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    lang: Option<Language>,
}

/// The guide's kinds that match a search, with the guide's version.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GuideIndex {
    pub version: u32,
    pub kinds: Vec<RequestKind>,
}

/// What the caller's words suggest, most matched words first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Suggestions {
    pub suggestions: Vec<Suggestion>,
}

/// `GET /guide?q=…`: the kinds whose guide matches the search (all without `q`).
#[utoipa::path(get, path = "/guide", tag = "guide", responses((status = 200, description = "The agent's guide: every kind of request, searchable with `q`", body = GuideIndex)))]
async fn index(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<GuideQuery>,
) -> Result<web::Json<GuideIndex>, ApiError> {
    user.require(Permission::ReadGuide)?;
    let guide = &state.requests.policies().guide;
    let q = query.q.as_deref().unwrap_or("");
    check_length("q", q)?;
    Ok(web::Json(GuideIndex {
        version: guide.version,
        kinds: guide.search(q),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Said {
    text: String,
}

/// `GET /guide/recognise?text=…`: the kinds the caller's words suggest, with the words matched.
#[utoipa::path(get, path = "/guide/recognise", tag = "guide", responses((status = 200, description = "The kinds of request the caller's words suggest, with the words that matched", body = Suggestions)))]
async fn recognise(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<Said>,
) -> Result<web::Json<Suggestions>, ApiError> {
    user.require(Permission::ReadGuide)?;
    check_length("text", &query.text)?;
    let suggestions = state.requests.policies().guide.recognise(&query.text);
    Ok(web::Json(Suggestions { suggestions }))
}

/// `GET /guide/{kind}?lang=nl|en`: one kind's page, with the catalog's facts.
#[utoipa::path(get, path = "/guide/{kind}", tag = "guide", responses((status = 200, description = "The guide for one kind of request, from the catalog", body = GuidePage), (status = 404, description = "The policies have no guide for this kind", body = crate::api::openapi::ErrorBody)))]
async fn page(
    state: web::Data<AppState>,
    user: CurrentUser,
    kind: web::Path<String>,
    query: web::Query<GuideQuery>,
) -> Result<web::Json<GuidePage>, ApiError> {
    user.require(Permission::ReadGuide)?;
    let kind = parse_kind(&kind)?;
    let language = query.lang.unwrap_or(Language::Nl);
    Ok(web::Json(guide_page(&state, kind, language).await?))
}

/// One kind's page; 404 when the policies have no guide for it.
pub async fn guide_page(
    state: &AppState,
    kind: RequestKind,
    language: Language,
) -> Result<GuidePage, ApiError> {
    let policies = state.requests.policies();
    let facts = crate::guide::current_facts(&state.store, policies, language).await?;
    policies
        .guide
        .page(kind, facts, language)
        .ok_or_else(|| crate::error::Error::not_found(format!("guide for {kind}")).into())
}

pub fn parse_kind(kind: &str) -> Result<RequestKind, ApiError> {
    kind.parse().map_err(|_| ApiError::InvalidField {
        field: "kind".into(),
        message: format!("unknown kind (expected {})", RequestKind::expected()),
    })
}

fn check_length(field: &str, text: &str) -> Result<(), ApiError> {
    if text.chars().count() > crate::guide::MAX_SAID {
        return Err(ApiError::InvalidField {
            field: field.into(),
            message: format!("must be at most {} characters", crate::guide::MAX_SAID),
        });
    }
    Ok(())
}

/// `GET /readiness`: the readiness report as it stands now.
#[utoipa::path(get, path = "/readiness", tag = "readiness", responses((status = 200, description = "The readiness report: scores per area and the last steps", body = Report)))]
async fn readiness(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Report>, ApiError> {
    user.require(Permission::ReadRegister)?;
    let report = crate::readiness::current(&state.sweeps).await?;
    Ok(web::Json(report))
}

/// `GET /readiness/snapshots`: the kept snapshots, newest first (the trend).
#[utoipa::path(get, path = "/readiness/snapshots", tag = "readiness", responses((status = 200, description = "The kept readiness snapshots, newest first", body = Items<Snapshot>)))]
async fn snapshots(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Items<Snapshot>>, ApiError> {
    user.require(Permission::ReadRegister)?;
    let items = crate::readiness::trend(&state.store).await?;
    Ok(web::Json(Items { items }))
}

/// `POST /readiness/snapshots`: keeps the report as it stands now.
#[utoipa::path(post, path = "/readiness/snapshots", tag = "readiness", responses((status = 201, description = "A snapshot of the readiness report is kept", body = Snapshot)))]
async fn snapshot(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<(web::Json<Snapshot>, StatusCode), ApiError> {
    user.require(Permission::KeepReadinessSnapshots)?;
    let report = crate::readiness::current(&state.sweeps).await?;
    let snapshot =
        crate::readiness::take_snapshot(&state.store, &report, "on_demand", user.actor()).await?;
    Ok((web::Json(snapshot), StatusCode::CREATED))
}
