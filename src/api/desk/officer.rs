//! The privacy officer's pages: approvals waiting, the dashboard with its weekly chart, the
//! catalog and Art. 30 register with their gaps, and the retention rules with their sweep runs.

use super::session::DeskUser;
use super::{chart, ok, staff_context, Lang, PageResult};
use crate::api::AppState;
use crate::auth::Permission;
use crate::catalog::model::{Activity, System};
use crate::catalog::text::Text;
use crate::policies::RetentionRule;
use crate::requests::overview::QueueFilter;
use crate::vocabulary::RequestState;
use actix_web::{web, HttpRequest};
use std::collections::BTreeMap;

/// How many sweep runs the retention page lists.
const RUNS_SHOWN: i64 = 30;

/// `GET /desk/approvals`: proposed outcomes, above all refusals, waiting for an officer.
pub async fn approvals(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
) -> PageResult {
    user.require(Permission::ApproveRequests)?;
    let filter = QueueFilter {
        states: vec![RequestState::AwaitingApproval],
        ..QueueFilter::default()
    };
    let waiting = state.requests.queue(filter, 0, 200).await?;
    let mut requests = Vec::with_capacity(waiting.items.len());
    for item in waiting.items {
        requests.push(state.requests.get(item.id).await?);
    }
    ok(
        "approvals.html",
        minijinja::context! {
            requests => requests,
            ..staff_context(&user, Lang::of(&request), "approvals")
        },
    )
}

/// `GET /desk/dashboard`: the figures of `/api/v1/stats` and the weekly chart.
pub async fn dashboard(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
) -> PageResult {
    user.require(Permission::ApproveRequests)?;
    let stats = state.requests.stats().await?;
    let lang = Lang::of(&request);
    let chart = chart::weekly(&stats.weeks, lang);
    ok(
        "dashboard.html",
        minijinja::context! {
            stats => stats,
            chart => minijinja::Value::from_safe_string(chart),
            ..staff_context(&user, lang, "dashboard")
        },
    )
}

/// Deliveries shown per subscription on the webhooks page.
const DELIVERIES_SHOWN: i64 = 10;

/// `GET /desk/webhooks`: the outgoing webhook subscriptions (administrators), each with its
/// latest deliveries, and the form to add one; never a secret.
pub async fn webhooks(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
) -> PageResult {
    user.require(Permission::ManageWebhooks)?;
    let mut subscriptions = Vec::new();
    for subscription in state.webhooks.list().await? {
        let (deliveries, total) = state
            .webhooks
            .deliveries(Some(subscription.id.clone()), 0, DELIVERIES_SHOWN)
            .await?;
        subscriptions.push(minijinja::context! {
            subscription => subscription,
            deliveries => deliveries,
            total => total,
        });
    }
    ok(
        "webhooks.html",
        minijinja::context! {
            subscriptions => subscriptions,
            events => crate::webhooks::WebhookEvent::expected(),
            ..staff_context(&user, Lang::of(&request), "webhooks")
        },
    )
}

/// `GET /desk/catalog`: the systems, the activities and the register's gaps.
pub async fn catalog(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
) -> PageResult {
    user.require(Permission::ReadRegister)?;
    let systems = crate::catalog::list::<System>(&state.store).await?;
    let activities = crate::catalog::list::<Activity>(&state.store).await?;
    let register = crate::catalog::register(&state.store).await?;
    let lang = Lang::of(&request);
    // The register's messages are English: the Dutch page says what to do in Dutch.
    let gaps_nl: Vec<String> = register
        .warnings
        .iter()
        .map(|w| crate::readiness::remedy_nl_line(w.code))
        .collect();
    let activity_names: BTreeMap<&str, &str> = activities
        .iter()
        .map(|a| (a.key.as_str(), a.name.get(lang.language())))
        .collect();
    ok(
        "catalog.html",
        minijinja::context! {
            gaps_nl => gaps_nl,
            activity_names => activity_names,
            system_names => super::agent::system_names(&systems, lang),
            category_names => super::agent::category_names(&state, lang).await?,
            systems => systems,
            activities => activities,
            register => register,
            ..staff_context(&user, lang, "catalog")
        },
    )
}

/// `GET /desk/retention`: the rules in force and the latest sweep runs, with a dry-run button.
pub async fn retention(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
) -> PageResult {
    user.require(Permission::ManageRetention)?;
    let runs = state.sweeps.runs(None, RUNS_SHOWN).await?;
    let rules = state.sweeps.policies().retention.clone();
    let lang = Lang::of(&request);
    let systems = crate::catalog::list::<System>(&state.store).await?;
    // A period as the policy file writes it is English ("7 years"): the Dutch page spells it.
    let periods_nl: BTreeMap<&str, String> = rules
        .iter()
        .map(|rule| (rule.name.as_str(), rule.keep.dutch()))
        .collect();
    let language = lang.language();
    let in_language = |text: fn(&RetentionRule) -> Option<&Text>| -> BTreeMap<&str, &str> {
        rules
            .iter()
            .filter_map(|rule| Some((rule.name.as_str(), text(rule)?.get(language))))
            .collect()
    };
    ok(
        "retention.html",
        minijinja::context! {
            system_names => super::agent::system_names(&systems, lang),
            descriptions => in_language(|rule| Some(&rule.description)),
            legal_bases => in_language(|rule| rule.legal_basis.as_ref()),
            periods_nl => periods_nl,
            rules => rules,
            runs => runs,
            ..staff_context(&user, lang, "retention")
        },
    )
}
