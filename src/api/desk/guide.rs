//! The agent's guide and the readiness report in the desk (issue 21).

use super::session::DeskUser;
use super::{ok, staff_context, Lang, PageResult};
use crate::api::guide::{guide_page, parse_kind};
use crate::api::AppState;
use crate::auth::Permission;
use crate::catalog::model::System;
use actix_web::{web, HttpRequest};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    q: Option<String>,
}

/// `GET /desk/guide?q=…`: the guide's kinds, narrowed by the search box.
pub async fn index(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
    query: web::Query<Search>,
) -> PageResult {
    user.require(Permission::ReadGuide)?;
    let q: String = query
        .q
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(crate::guide::MAX_SAID)
        .collect();
    let guide = &state.requests.policies().guide;
    let kinds: Vec<&str> = guide.search(&q).into_iter().map(|k| k.as_str()).collect();
    let lang = Lang::of(&request);
    let hand_over: Vec<_> = guide
        .hand_over
        .iter()
        .map(|h| (h.when.get(lang.language()), h.to.get(lang.language())))
        .collect();
    ok(
        "guide.html",
        minijinja::context! {
            q => q,
            kinds => kinds,
            version => guide.version,
            hand_over => hand_over,
            ..staff_context(&user, lang, "guide")
        },
    )
}

/// `GET /desk/guide/{kind}`: one kind's page, with what the catalog says in plain words.
pub async fn kind(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
    kind: web::Path<String>,
) -> PageResult {
    user.require(Permission::ReadGuide)?;
    let kind = parse_kind(&kind)?;
    let lang = Lang::of(&request);
    let page = guide_page(&state, kind, lang.language()).await?;
    ok(
        "guide_kind.html",
        minijinja::context! {
            g => page,
            ..staff_context(&user, lang, "guide")
        },
    )
}

/// `GET /desk/readiness`: the readiness report, print-friendly, with the trend.
pub async fn readiness(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
) -> PageResult {
    user.require(Permission::ReadRegister)?;
    let report = crate::readiness::current(&state.sweeps).await?;
    let trend = crate::readiness::trend(&state.store).await?;
    let lang = Lang::of(&request);
    // The report holds keys and codes; the page names what they stand for.
    let systems = crate::catalog::list::<System>(&state.store).await?;
    let activity_names: BTreeMap<&str, &str> = report
        .activities
        .iter()
        .map(|a| (a.key.as_str(), a.name.get(lang.language())))
        .collect();
    ok(
        "readiness.html",
        minijinja::context! {
            system_names => super::agent::system_names(&systems, lang),
            category_names => super::agent::category_names(&state, lang).await?,
            activity_names => activity_names,
            report => report,
            trend => trend,
            keeps_snapshots => user.user.role.allows(Permission::KeepReadinessSnapshots),
            ..staff_context(&user, lang, "readiness")
        },
    )
}
