//! Requests over HTTP for staff: intake, the queue, one request, its lifecycle, checklist and
//! letters, and the statistics.

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::{Created, Items, Json, Page, Paginated};
use super::AppState;
use crate::auth::Permission;
use crate::ids::{RequestId, TaskId, Username};
use crate::mail::outbox::OutboxEntry;
use crate::requests::answer::CopyByPost;
use crate::requests::first_line::{NewCall, RequestStatus, Visibility};
use crate::requests::intake::NewRequest;
use crate::requests::letters::Preview;
use crate::requests::lifecycle::{
    AnswerByPost, Assignment, EndPause, Extension, LetterRequest, StartPause, Transition,
    VerifyIdentity,
};
use crate::requests::overview::{QueueFilter, Stats};
use crate::requests::run::{RunPreview, RunTask};
use crate::requests::tasks::TaskUpdate;
use crate::requests::view::{RequestSummary, RequestView};
use crate::requests::Staff;
use crate::vocabulary::{RequestKind, RequestState};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use serde::{Deserialize, Serialize};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/requests")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .route("/requests/calls", web::post().to(create_call))
    .service(
        web::resource("/requests/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(assign)),
    )
    .route("/requests/{id}/transition", web::post().to(transition))
    .route("/requests/{id}/identity", web::post().to(verify_identity))
    .route("/requests/{id}/pauses", web::post().to(start_pause))
    .route("/requests/{id}/pauses/end", web::post().to(end_pause))
    .route("/requests/{id}/extension", web::post().to(extend))
    .route("/requests/{id}/copy", web::post().to(copy_by_post))
    .route("/requests/{id}/answer/post", web::post().to(answer_by_post))
    .route("/requests/{id}/tasks/{task}", web::patch().to(update_task))
    .route("/requests/{id}/tasks/{task}/run", web::post().to(run_task))
    .route(
        "/requests/{id}/tasks/{task}/owner",
        web::post().to(send_to_owner),
    )
    .route(
        "/requests/{id}/tasks/{task}/run/preview",
        web::post().to(preview_run),
    )
    .route(
        "/requests/{id}/tasks/{task}/comments",
        web::post().to(add_comment),
    )
    .service(
        web::resource("/requests/{id}/letters")
            .route(web::get().to(letters))
            .route(web::post().to(send_letter)),
    )
    .route("/requests/{id}/letters/preview", web::post().to(preview))
    .route("/stats", web::get().to(stats));
}

impl CurrentUser {
    /// The signed-in user as the request domain sees them, once `permission` is checked.
    pub(super) fn staff(&self, permission: Permission) -> Result<Staff, ApiError> {
        self.require(permission)?;
        Ok(Staff {
            username: self.0.username.clone(),
            role: self.0.role,
        })
    }
}

#[utoipa::path(post, path = "/requests", tag = "requests", request_body = NewRequest, responses((status = 201, description = "Registered, with its checklist and due date", body = RequestView, headers(("Location" = String, description = "The new request's address"))), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<NewRequest>,
) -> Result<Created<Shown>, ApiError> {
    let staff = user.staff(Permission::RegisterRequests)?;
    let created = state.requests.register(staff, body.0).await?;
    let location = format!("/api/v1/requests/{}", created.id);
    let shown = Shown::of(&state, &Visibility::of(&user.0), created).await?;
    Ok(Created::at(location, shown))
}

/// A request as the caller may see it: in full, or only where it stands for a partner agent
/// (`RequestStatus`).
#[derive(Serialize)]
#[serde(untagged)]
enum Shown {
    Full(Box<RequestView>),
    Status(Box<RequestStatus>),
}

impl Shown {
    async fn of(
        state: &AppState,
        visibility: &Visibility,
        view: RequestView,
    ) -> Result<Shown, ApiError> {
        Ok(match visibility {
            Visibility::All => Shown::Full(Box::new(view)),
            Visibility::Team(_) => Shown::Status(Box::new(state.requests.status(view.id).await?)),
        })
    }
}

/// The requests registered in one call, and the first one's id so a client (the desk) can go
/// on to it as after one request.
#[derive(Serialize)]
struct CallRegistered {
    id: Option<RequestId>,
    items: Vec<Shown>,
}

/// `POST /requests/calls`: one request per kind the caller asked for, linked, in one
/// transaction. Answers `{"items": [...]}` (a partner gets the statuses only).
#[utoipa::path(post, path = "/requests/calls", tag = "requests", request_body = Object, responses((status = 201, description = "One request per kind the caller asked for, linked"), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn create_call(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<NewCall>,
) -> Result<(web::Json<CallRegistered>, StatusCode), ApiError> {
    let staff = user.staff(Permission::RegisterRequests)?;
    let created = state.requests.register_call(staff, body.0).await?;
    let id = created.first().map(|v| v.id.clone());
    let visibility = Visibility::of(&user.0);
    let mut items = Vec::new();
    for view in created {
        items.push(Shown::of(&state, &visibility, view).await?);
    }
    Ok((web::Json(CallRegistered { id, items }), StatusCode::CREATED))
}

#[utoipa::path(get, path = "/requests/{id}", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), responses((status = 200, description = "The request in full (a partner agent gets its status only)", body = RequestView)))]
async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
) -> Result<web::Json<Shown>, ApiError> {
    user.require(Permission::ReadRequestStatus)?;
    let id = id.into_inner();
    let visibility = Visibility::of(&user.0);
    state
        .requests
        .check_visible(&visibility, id.clone())
        .await?;
    if visibility == Visibility::All && user.0.role.allows(Permission::ReadRequests) {
        Ok(web::Json(Shown::Full(Box::new(
            state.requests.get(id).await?,
        ))))
    } else {
        Ok(web::Json(Shown::Status(Box::new(
            state.requests.status(id).await?,
        ))))
    }
}

#[utoipa::path(get, path = "/requests", tag = "requests", params(Page, RawQueueFilter), responses((status = 200, description = "The queue, soonest due first", body = Paginated<RequestSummary>)))]
async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Page,
    request: HttpRequest,
) -> Result<web::Json<Paginated<RequestSummary>>, ApiError> {
    user.require(Permission::ReadRequestStatus)?;
    let mut filter = parse_queue_filter(request.query_string())?;
    filter.team = Visibility::of(&user.0).team();
    let queue = state
        .requests
        .queue(filter, page.offset(), page.per_page)
        .await?;
    Ok(web::Json(Paginated {
        items: queue.items,
        page: page.page,
        per_page: page.per_page,
        total: queue.total,
    }))
}

/// `?state=received,in_progress&kind=erasure&assignee=anna&due_before=2026-12-01&email=…&q=…`
/// (also `customer_number`, `phone`, `bsn`: found through their lookup hashes);
/// `page` and `per_page` belong to [`Page`].
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RawQueueFilter {
    /// States, comma-separated: `received,in_progress`.
    state: Option<String>,
    kind: Option<String>,
    assignee: Option<String>,
    due_before: Option<String>,
    email: Option<String>,
    customer_number: Option<String>,
    phone: Option<String>,
    /// A reference, e-mail address, customer number, phone number or part of a name.
    q: Option<String>,
    /// `true`: only requests no one is assigned to.
    unassigned: Option<String>,
    bsn: Option<String>,
    #[allow(dead_code)]
    #[param(ignore)]
    page: Option<String>,
    #[allow(dead_code)]
    #[param(ignore)]
    per_page: Option<String>,
}

fn parse_queue_filter(query: &str) -> Result<QueueFilter, ApiError> {
    let raw: RawQueueFilter =
        serde_urlencoded::from_str(query).map_err(|e| ApiError::BadRequest {
            field: None,
            message: format!("malformed query string: {e}"),
        })?;
    let invalid = |field: &str, message: String| ApiError::InvalidField {
        field: field.into(),
        message,
    };
    let states = match raw.state.as_deref() {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                s.trim().parse::<RequestState>().map_err(|_| {
                    invalid(
                        "state",
                        format!(
                            "unknown state '{s}' (expected {})",
                            RequestState::expected()
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let kind = raw
        .kind
        .map(|k| {
            k.parse::<RequestKind>().map_err(|_| {
                invalid(
                    "kind",
                    format!("unknown kind '{k}' (expected {})", RequestKind::expected()),
                )
            })
        })
        .transpose()?;
    let due_before = raw
        .due_before
        .map(|d| {
            chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| invalid("due_before", "must be a date: YYYY-MM-DD".into()))
        })
        .transpose()?;
    Ok(QueueFilter {
        states,
        kind,
        assignee: raw.assignee.map(Username::from),
        due_before,
        email: raw.email,
        customer_number: raw.customer_number,
        phone: raw.phone,
        search: raw.q,
        unassigned: match raw.unassigned.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(invalid("unassigned", "must be true or false".into())),
        },
        bsn: raw.bsn,
        team: None,
    })
}

#[utoipa::path(patch, path = "/requests/{id}", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = Assignment, responses((status = 200, description = "Assigned", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn assign(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<Assignment>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .assign(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}

#[utoipa::path(post, path = "/requests/{id}/transition", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = Transition, responses((status = 200, description = "Moved to the new state", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn transition(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<Transition>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .transition(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}

#[utoipa::path(post, path = "/requests/{id}/identity", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = VerifyIdentity, responses((status = 200, description = "Identity recorded as verified", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn verify_identity(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<VerifyIdentity>,
) -> Result<web::Json<Shown>, ApiError> {
    let staff = user.staff(Permission::RegisterRequests)?;
    let id = id.into_inner();
    let visibility = Visibility::of(&user.0);
    state
        .requests
        .check_visible(&visibility, id.clone())
        .await?;
    let view = state.requests.verify_identity(staff, id, body.0).await?;
    Ok(web::Json(Shown::of(&state, &visibility, view).await?))
}

#[utoipa::path(post, path = "/requests/{id}/pauses", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = StartPause, responses((status = 200, description = "The clock stands still", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn start_pause(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<StartPause>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .start_pause(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}

#[utoipa::path(post, path = "/requests/{id}/copy", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = CopyByPost, responses((status = 200, description = "The copy by post is recorded", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn copy_by_post(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<CopyByPost>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .record_copy_by_post(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}

/// The answer letter was printed and posted: completes the send-answer step.
#[utoipa::path(post, path = "/requests/{id}/answer/post", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = Object, responses((status = 200, description = "The answer was sent by post: the send step is done", body = RequestView), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn answer_by_post(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<AnswerByPost>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .record_answer_by_post(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}

#[utoipa::path(post, path = "/requests/{id}/pauses/end", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = EndPause, responses((status = 200, description = "The clock runs again", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn end_pause(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<EndPause>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .end_pause(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}

#[utoipa::path(post, path = "/requests/{id}/extension", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = Extension, responses((status = 200, description = "Extended by two months", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn extend(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<Extension>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let view = state
        .requests
        .extend(staff, id.into_inner(), body.0)
        .await?;
    Ok(web::Json(view))
}

#[utoipa::path(patch, path = "/requests/{id}/tasks/{task}", tag = "requests", request_body = TaskUpdate, responses((status = 200, description = "The task changed", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn update_task(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(RequestId, TaskId)>,
    body: Json<TaskUpdate>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let (id, task) = path.into_inner();
    let view = state.requests.update_task(staff, id, task, body.0).await?;
    Ok(web::Json(view))
}

/// Runs the task through its system's connector and closes it with the outcome as evidence.
#[utoipa::path(post, path = "/requests/{id}/tasks/{task}/run", tag = "requests", request_body = RunTask, responses((status = 200, description = "Run and closed with the outcome as evidence", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody), (status = 502, description = "The system's connector failed; `system` names it", body = crate::api::openapi::ErrorBody)))]
async fn run_task(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(RequestId, TaskId)>,
    body: Json<RunTask>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let (id, task) = path.into_inner();
    let view = state.requests.run_task(staff, id, task, body.0).await?;
    Ok(web::Json(view))
}

/// Sends an open task on a system loket cannot reach to the system's owner (`owner_email` in
/// the catalog): a mail through the outbox with a single-use, expiring link to a form.
#[utoipa::path(post, path = "/requests/{id}/tasks/{task}/owner", tag = "requests", request_body = crate::requests::owners::OwnerSend, responses((status = 201, description = "The link is on its way to the owner; earlier open links of the task are revoked", body = crate::requests::owners::OwnerLink), (status = 409, description = "The task changed since `version` was read, is closed, its system is reachable by loket or has no owner_email", body = crate::api::openapi::ErrorBody)))]
async fn send_to_owner(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(RequestId, TaskId)>,
    body: Json<crate::requests::owners::OwnerSend>,
) -> Result<(web::Json<crate::requests::owners::OwnerLink>, StatusCode), ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let (id, task) = path.into_inner();
    let link = state
        .requests
        .send_to_owner(staff, id, task, body.0)
        .await?;
    Ok((web::Json(link), StatusCode::CREATED))
}

/// A dry run: what running the task would do, counted per table; nothing changes.
#[utoipa::path(post, path = "/requests/{id}/tasks/{task}/run/preview", tag = "requests", request_body = RunTask, responses((status = 200, description = "What the run would do per table, counted; nothing changes", body = RunPreview), (status = 502, description = "The system could not be reached", body = crate::api::openapi::ErrorBody), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn preview_run(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(RequestId, TaskId)>,
    body: Json<RunTask>,
) -> Result<web::Json<RunPreview>, ApiError> {
    user.require(Permission::WorkRequests)?;
    let (id, task) = path.into_inner();
    let preview = state.requests.preview_run(id, task, body.0).await?;
    Ok(web::Json(preview))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewComment {
    body: String,
}

#[utoipa::path(post, path = "/requests/{id}/tasks/{task}/comments", tag = "requests", request_body = NewComment, responses((status = 201, description = "The comment is added", body = RequestView)))]
async fn add_comment(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(RequestId, TaskId)>,
    body: Json<NewComment>,
) -> Result<(web::Json<RequestView>, StatusCode), ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let (id, task) = path.into_inner();
    let view = state
        .requests
        .add_comment(staff, id, task, body.0.body)
        .await?;
    Ok((web::Json(view), StatusCode::CREATED))
}

#[utoipa::path(get, path = "/requests/{id}/letters", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), responses((status = 200, description = "The letters in the outbox with their delivery status", body = Items<OutboxEntry>)))]
async fn letters(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
) -> Result<web::Json<Items<OutboxEntry>>, ApiError> {
    user.require(Permission::ReadRequests)?;
    let entries = state.requests.letters(id.into_inner()).await?;
    Ok(web::Json(Items { items: entries }))
}

/// `{"letter": KIND, "message"?: TEXT, "version": N}`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SendLetter {
    version: i32,
    letter: crate::mail::letters::LetterKind,
    #[serde(default)]
    message: Option<String>,
}

#[utoipa::path(post, path = "/requests/{id}/letters", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = SendLetter, responses((status = 200, description = "The letter is queued", body = RequestView), (status = 409, description = "The request changed since `version` was read, or this step is not allowed in its state", body = crate::api::openapi::ErrorBody)))]
async fn send_letter(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<SendLetter>,
) -> Result<web::Json<RequestView>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let SendLetter {
        version,
        letter,
        message,
    } = body.0;
    let view = state
        .requests
        .send_letter(
            staff,
            id.into_inner(),
            version,
            LetterRequest { letter, message },
        )
        .await?;
    Ok(web::Json(view))
}

#[utoipa::path(post, path = "/requests/{id}/letters/preview", tag = "requests", params(("id" = RequestId, Path, description = "The request's id")), request_body = LetterRequest, responses((status = 200, description = "The letter as it would be sent; nothing is stored", body = Preview)))]
async fn preview(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<LetterRequest>,
) -> Result<web::Json<Preview>, ApiError> {
    user.require(Permission::ReadRequests)?;
    let preview = state
        .requests
        .preview_letter(id.into_inner(), body.0)
        .await?;
    Ok(web::Json(preview))
}

#[utoipa::path(get, path = "/stats", tag = "requests", responses((status = 200, description = "The figures of the desk", body = Stats)))]
async fn stats(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<web::Json<Stats>, ApiError> {
    user.require(Permission::ReadRequests)?;
    Ok(web::Json(state.requests.stats().await?))
}
