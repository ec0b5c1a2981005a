//! The agent's pages: the queue sorted by due date, the new-request form for a caller on the
//! line, and a request with its checklist, identity step, letters, packages and timeline.

use super::session::DeskUser;
use super::{ok, staff_context, DeskError, Lang, PageResult};
use crate::api::AppState;
use crate::auth::Permission;
use crate::catalog::model::{Category, System};
use crate::ids::{RequestId, Username};
use crate::mail::letters::LetterKind;
use crate::requests::first_line::Visibility;
use crate::requests::overview::QueueFilter;
use crate::vocabulary::{
    Channel, ExtensionGround, PauseReason, QuestionChannel, RefusalGround, RequestKind,
    RequestState, TaskKind, TaskState, VerificationMethod,
};
use actix_web::{web, HttpRequest};
use serde::Deserialize;
use std::collections::BTreeMap;
use strum::VariantArray;

/// How many requests the queue shows at once; the API pages through the rest.
const QUEUE_LENGTH: i64 = 200;

#[derive(Deserialize)]
pub struct QueueQuery {
    /// `closed` shows the answered, refused and withdrawn requests instead of the open ones.
    show: Option<String>,
    /// A reference, e-mail address, customer number, phone number or part of a name.
    q: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    /// `me`, `none` or a username.
    assignee: Option<String>,
    /// `on`: only requests past their due date.
    overdue: Option<String>,
}

/// `GET /desk`: open requests, the one due first on top, with overdue and due-this-week marked,
/// narrowed by the search box and the filters.
pub async fn queue(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
    query: web::Query<QueueQuery>,
) -> PageResult {
    user.require(Permission::ReadRequestStatus)?;
    let query = query.into_inner();
    let closed = query.show.as_deref() == Some("closed");
    fn chosen(value: &Option<String>) -> Option<&str> {
        value.as_deref().filter(|v| !v.is_empty())
    }
    let kind = chosen(&query.kind).and_then(|k| k.parse::<RequestKind>().ok());
    let states = match chosen(&query.state).and_then(|s| s.parse::<RequestState>().ok()) {
        Some(one) => vec![one],
        None => RequestState::VARIANTS
            .iter()
            .copied()
            .filter(|s| s.is_closed() == closed)
            .collect(),
    };
    let today = crate::requests::today();
    let overdue = query.overdue.as_deref() == Some("on");
    let (assignee, unassigned) = match chosen(&query.assignee) {
        Some("me") => (Some(user.user.username.clone()), false),
        Some("none") => (None, true),
        Some(name) => (Some(Username::from(name)), false),
        None => (None, false),
    };
    let filter = QueueFilter {
        states,
        kind,
        assignee,
        unassigned,
        due_before: overdue.then_some(today),
        search: query.q.clone(),
        team: Visibility::of(&user.user).team(),
        ..QueueFilter::default()
    };
    let queue = state.requests.queue(filter, 0, QUEUE_LENGTH).await?;
    let people = people(&state).await?;
    let items: Vec<minijinja::Value> = queue
        .items
        .iter()
        .map(|item| {
            minijinja::context! {
                days_left => (item.due_on - today).num_days(),
                assignee_name => item.assignee.as_ref().map(|a| display_name(&people, a)),
                ..minijinja::Value::from_serialize(item)
            }
        })
        .collect();
    ok(
        "queue.html",
        minijinja::context! {
            items => items,
            total => queue.total,
            closed => closed,
            q => query.q.unwrap_or_default(),
            kind => query.kind.unwrap_or_default(),
            state => query.state.unwrap_or_default(),
            assignee => query.assignee.unwrap_or_default(),
            overdue => overdue,
            kinds => names(RequestKind::VARIANTS),
            states => names(RequestState::VARIANTS),
            people => people.iter().map(|(u, n)| minijinja::context! { username => u, name => n }).collect::<Vec<_>>(),
            ..staff_context(&user, Lang::of(&request), "queue")
        },
    )
}

/// Staff by username with the name they go by, for the pages that name who did what.
pub(super) async fn people(state: &AppState) -> Result<Vec<(String, String)>, DeskError> {
    Ok(state
        .users
        .list()
        .await?
        .into_iter()
        .map(|u| {
            let name = if u.display_name.trim().is_empty() {
                u.username.to_string()
            } else {
                u.display_name
            };
            (u.username.into(), name)
        })
        .collect())
}

/// The name a colleague goes by; their username when the account is gone.
pub(super) fn display_name(people: &[(String, String)], username: &str) -> String {
    people
        .iter()
        .find(|(u, _)| u == username)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| username.to_string())
}

/// `GET /desk/requests/new`: the intake form; it posts to `POST /api/v1/requests`.
pub async fn new_request(user: DeskUser, request: HttpRequest) -> PageResult {
    user.require(Permission::RegisterRequests)?;
    ok(
        "new_request.html",
        minijinja::context! {
            kinds => names(RequestKind::VARIANTS),
            channels => names(Channel::VARIANTS),
            methods => names(VerificationMethod::VARIANTS),
            ..staff_context(&user, Lang::of(&request), "new")
        },
    )
}

/// `GET /desk/requests/{id}`: everything about one request and every action on it.
pub async fn request_page(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
    id: web::Path<RequestId>,
) -> PageResult {
    user.require(Permission::ReadRequestStatus)?;
    let id = id.into_inner();
    let visibility = Visibility::of(&user.user);
    state
        .requests
        .check_visible(&visibility, id.clone())
        .await?;
    if visibility != Visibility::All || !user.user.role.allows(Permission::ReadRequests) {
        // The first line sees the status only: no file, tasks, letters or packages.
        return ok(
            "partner_request.html",
            minijinja::context! {
                s => state.requests.status(id).await?,
                methods => names(VerificationMethod::VARIANTS),
                ..staff_context(&user, Lang::of(&request), "queue")
            },
        );
    }
    let view = state.requests.get(id.clone()).await?;
    let letters = state.requests.letters(id.clone()).await?;
    let timeline = state.requests.timeline(id.clone()).await?;
    let reachable = state.requests.reachable_systems().await?;
    let packages = if matches!(view.kind, RequestKind::Access | RequestKind::Portability) {
        Some(state.packages.list(id).await?)
    } else {
        None
    };
    // The letters an agent sends by themselves; a refusal goes out with its approval.
    let answer = crate::requests::letters::answer_letter(view.kind);
    let letter_kinds = [answer, LetterKind::ClarificationQuestion];
    let lang = Lang::of(&request);
    let english = lang == Lang::En;
    let people = people(&state).await?;
    let timeline = super::timeline::lines(&timeline, &view.tasks, &people, english);
    // One numbering everywhere: the checklist counts from 1, as the timeline and errors do.
    let done = view
        .tasks
        .iter()
        .filter(|t| t.state != TaskState::Open)
        .count();
    let next = view
        .tasks
        .iter()
        .find(|t| t.state == TaskState::Open)
        .map(|t| t.position + 1);
    let answer_sent = view
        .tasks
        .iter()
        .any(|t| t.kind == TaskKind::SendAnswer && t.state != TaskState::Open);
    // Letters go by e-mail when there is an address, else by post (the print view).
    let by_post = view.requester.email.is_none()
        && view
            .representative
            .as_ref()
            .is_none_or(|rep| rep.email.is_none());
    let assignee_name = view.assignee.as_ref().map(|a| display_name(&people, a));
    let category_names = category_names(&state, lang).await?;
    let systems = crate::catalog::list::<System>(&state.store).await?;
    let columns = correctable_columns(&systems, &category_names);
    // A task names its system by the catalog's name in the agent's language, not by its key.
    let system_names = system_names(&systems, lang);
    // Who closed a task or checked the identity, by name rather than username.
    let person_names: BTreeMap<&str, &str> = people
        .iter()
        .map(|(username, name)| (username.as_str(), name.as_str()))
        .collect();
    // Systems whose owner a task can be sent to (issue #22), with the owner's address.
    let owners: BTreeMap<&str, &str> = systems
        .iter()
        .filter_map(|s| Some((s.key.as_str(), s.owner_email.as_deref()?)))
        .collect();
    let today = crate::requests::today();
    ok(
        "request.html",
        minijinja::context! {
            letters => letters,
            timeline => timeline,
            progress => minijinja::context! { done => done, total => view.tasks.len(), next => next },
            answer_letter => <&str>::from(answer),
            category_names => category_names,
            system_names => system_names,
            person_names => person_names,
            columns => columns,
            answer_sent => answer_sent,
            by_post => by_post,
            assignee_name => assignee_name,
            people => people.iter().map(|(u, n)| minijinja::context! { username => u, name => n }).collect::<Vec<_>>(),
            today => today.to_string(),
            received_on => crate::requests::dutch_date(view.received_at).to_string(),
            days_left => (view.due_on - today).num_days(),
            pause_reasons => names(PauseReason::VARIANTS),
            question_channels => names(QuestionChannel::VARIANTS),
            extension_grounds => names(ExtensionGround::VARIANTS),
            r => view,
            reachable => reachable,
            owners => owners,
            packages => packages,
            letter_kinds => letter_kinds.iter().map(|k| <&str>::from(*k)).collect::<Vec<_>>(),
            methods => names(VerificationMethod::VARIANTS),
            grounds => names(RefusalGround::VARIANTS),
            can_work => user.user.role.allows(Permission::WorkRequests),
            ..staff_context(&user, lang, "queue")
        },
    )
}

/// The catalog's category names in the page's language, by code: pages name categories as
/// people know them, never by their codes.
pub(super) async fn category_names(
    state: &AppState,
    lang: Lang,
) -> Result<BTreeMap<String, String>, DeskError> {
    let categories = crate::catalog::list::<Category>(&state.store).await?;
    Ok(categories
        .into_iter()
        .map(|c| {
            let name = match lang {
                Lang::Nl => c.name_nl,
                Lang::En => c.name_en,
            };
            (c.code, name)
        })
        .collect())
}

/// The systems' names in the page's language, by key.
pub(super) fn system_names(systems: &[System], lang: Lang) -> BTreeMap<String, String> {
    systems
        .iter()
        .map(|s| (s.key.clone(), s.name.get(lang.language()).to_string()))
        .collect()
}

/// Per system, the personal-data columns a correction can set, named by the category of data
/// the catalog says they hold ("E-mailadres — customers.email"), so an agent picks instead of
/// typing table and column names.
fn correctable_columns(
    systems: &[System],
    category_names: &BTreeMap<String, String>,
) -> BTreeMap<String, Vec<minijinja::Value>> {
    systems
        .iter()
        .filter_map(|system| Some((system, system.sql.as_ref()?)))
        .map(|(system, mapping)| {
            let options = mapping
                .tables
                .iter()
                .flat_map(|table| {
                    table.columns.iter().map(move |column| {
                        let place = format!("{}.{column}", table.name);
                        let category = system
                            .holdings
                            .iter()
                            .find(|h| h.location.split(',').any(|l| l.trim() == place))
                            .map(|h| {
                                category_names
                                    .get(&h.category)
                                    .cloned()
                                    .unwrap_or_else(|| h.category.clone())
                            });
                        let label = match category {
                            Some(name) => format!("{name} — {place}"),
                            None => place.clone(),
                        };
                        minijinja::context! { value => place, label => label }
                    })
                })
                .collect();
            (system.key.clone(), options)
        })
        .collect()
}

/// The wire names of a vocabulary, for the options of a select.
pub(super) fn names<T: Copy + Into<&'static str>>(values: &[T]) -> Vec<&'static str> {
    values.iter().map(|v| (*v).into()).collect()
}
