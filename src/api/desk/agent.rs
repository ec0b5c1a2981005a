//! The agent's pages: the queue sorted by due date, the new-request form for a caller on the
//! line, and a request with its checklist, identity step, letters, packages and timeline.

use super::session::DeskUser;
use super::{ok, staff_context, Lang, PageResult};
use crate::api::AppState;
use crate::auth::Permission;
use crate::mail::letters::LetterKind;
use crate::requests::first_line::Visibility;
use crate::requests::model::{
    Channel, RefusalGround, RequestKind, RequestState, VerificationMethod,
};
use crate::requests::overview::QueueFilter;
use actix_web::{web, HttpRequest};
use serde::Deserialize;
use strum::VariantArray;

/// How many requests the queue shows at once; the API pages through the rest.
const QUEUE_LENGTH: i64 = 200;

#[derive(Deserialize)]
pub struct QueueQuery {
    /// `closed` shows the answered, refused and withdrawn requests instead of the open ones.
    show: Option<String>,
}

/// `GET /desk`: open requests, the one due first on top, with overdue and due-this-week marked.
pub async fn queue(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
    query: web::Query<QueueQuery>,
) -> PageResult {
    user.require(Permission::ReadRequestStatus)?;
    let closed = query.show.as_deref() == Some("closed");
    let states = RequestState::VARIANTS
        .iter()
        .copied()
        .filter(|s| s.is_closed() == closed)
        .collect();
    let filter = QueueFilter {
        states,
        team: Visibility::of(&user.user).team(),
        ..QueueFilter::default()
    };
    let queue = state.requests.queue(filter, 0, QUEUE_LENGTH).await?;
    let today = crate::requests::today();
    ok(
        "queue.html",
        minijinja::context! {
            items => queue.items,
            total => queue.total,
            closed => closed,
            today => today.to_string(),
            week_end => (today + chrono::TimeDelta::days(7)).to_string(),
            ..staff_context(&user, Lang::of(&request), "queue")
        },
    )
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
    id: web::Path<String>,
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
    let letter_kinds = [
        crate::requests::letters::answer_letter(view.kind),
        LetterKind::ClarificationQuestion,
    ];
    ok(
        "request.html",
        minijinja::context! {
            r => view,
            letters => letters,
            timeline => timeline,
            reachable => reachable,
            packages => packages,
            letter_kinds => letter_kinds.iter().map(|k| <&str>::from(*k)).collect::<Vec<_>>(),
            methods => names(VerificationMethod::VARIANTS),
            grounds => names(RefusalGround::VARIANTS),
            can_work => user.user.role.allows(Permission::WorkRequests),
            ..staff_context(&user, Lang::of(&request), "queue")
        },
    )
}

/// The wire names of a vocabulary, for the options of a select.
pub(super) fn names<T: Copy + Into<&'static str>>(values: &[T]) -> Vec<&'static str> {
    values.iter().map(|v| (*v).into()).collect()
}
