//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! attributes and the `ToSchema` derives on the types they read and answer with, so a client can
//! be generated from it and a contract tester can run against it. Served at
//! `/api/v1/openapi.json` and kept in the repository as `openapi.json` (`loket openapi`
//! writes it; a test fails when the two drift).

use super::{
    audit, auth, catalog, grounds, guide, keeps, packages, public, requests, retention, users,
    webhooks,
};
use crate::error::FieldError;
use actix_web::HttpResponse;
use std::sync::LazyLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The name of the security scheme every staff route requires.
pub const BEARER: &str = "bearer";

/// The body of every error answer (written in `error.rs`, the one place errors become HTTP).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the JSON that `error.rs` writes; never built itself.
pub struct ErrorBody {
    /// What went wrong, for programs: `not_found`, `validation_failed`, `conflict`,
    /// `unauthenticated`, `forbidden`, `bad_request`, `rate_limited`, `internal_error`, …
    error: String,
    /// What went wrong, for people.
    message: String,
    /// The input field at fault (a JSON path such as `requester.email`), when one is.
    field: Option<String>,
    /// Every invalid field, when validation found several.
    errors: Option<Vec<FieldError>>,
    /// The system whose connector failed (`502`).
    system: Option<String>,
    /// A stable code for the particular conflict or refusal, when there is one.
    code: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "loket",
        description = "The HTTP API of loket, a desk for GDPR/AVG data-subject requests. Staff \
                       routes take `Authorization: Bearer <token>` from `POST /api/v1/auth/token`; \
                       the routes under `/public` are for the person, without an account. Every \
                       error answers with the `ErrorBody` JSON."
    ),
    paths(
        auth::issue_token,
        auth::sign_out,
        users::list,
        users::create,
        users::update,
        catalog::doc::categories::list,
        catalog::doc::categories::create,
        catalog::doc::categories::get,
        catalog::doc::categories::replace,
        catalog::doc::categories::delete,
        catalog::doc::systems::list,
        catalog::doc::systems::create,
        catalog::doc::systems::get,
        catalog::doc::systems::replace,
        catalog::doc::systems::delete,
        catalog::doc::activities::list,
        catalog::doc::activities::create,
        catalog::doc::activities::get,
        catalog::doc::activities::replace,
        catalog::doc::activities::delete,
        catalog::doc::processing_for_others::list,
        catalog::doc::processing_for_others::create,
        catalog::doc::processing_for_others::get,
        catalog::doc::processing_for_others::replace,
        catalog::doc::processing_for_others::delete,
        catalog::get_organisation,
        catalog::put_organisation,
        catalog::export,
        catalog::ropa,
        audit::list,
        audit::verify,
        requests::list,
        requests::create,
        requests::get,
        requests::assign,
        requests::transition,
        requests::verify_identity,
        requests::start_pause,
        requests::end_pause,
        requests::extend,
        requests::copy_by_post,
        requests::update_task,
        requests::run_task,
        requests::send_to_owner,
        requests::add_comment,
        requests::letters,
        requests::send_letter,
        requests::preview,
        requests::stats,
        requests::create_call,
        requests::answer_by_post,
        requests::preview_run,
        keeps::choose_keep,
        keeps::wants_recipients,
        guide::index,
        guide::recognise,
        guide::page,
        guide::readiness,
        guide::snapshots,
        guide::snapshot,
        grounds::record_ground,
        grounds::lift_restriction,
        retention::runs,
        retention::sweep_now,
        retention::holds,
        retention::place_hold,
        retention::lift_hold,
        packages::list,
        packages::create,
        packages::revoke,
        packages::attachments,
        packages::attach,
        packages::redactions,
        packages::withhold,
        packages::unwithhold,
        packages::schema,
        public::submit,
        public::confirm,
        public::status_json,
        webhooks::list,
        webhooks::create,
        webhooks::get,
        webhooks::replace,
        webhooks::delete,
        webhooks::deliveries,
        serve,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
    security(("bearer" = [])),
)]
struct ApiV1;

/// What holds for every operation, added once here instead of on each handler: the bearer
/// scheme, and the error answers any route can give (each with the `ErrorBody`).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `POST /api/v1/auth/token`. (The web desk's pages \
                         call the same routes with their session cookie and `X-CSRF-Token`.)",
                    ))
                    .build(),
            ),
        );
        for (status, description) in COMMON_ERRORS {
            components
                .responses
                .insert(error_name(status), error_response(description).into());
        }
        for operation in operations(openapi) {
            let has_body = operation.request_body.is_some();
            for (status, _) in COMMON_ERRORS {
                let body_only = matches!(*status, "413" | "415");
                if (body_only && !has_body) || operation.responses.responses.contains_key(*status) {
                    continue;
                }
                operation.responses.responses.insert(
                    status.to_string(),
                    Ref::new(format!("#/components/responses/{}", error_name(status))).into(),
                );
            }
        }
    }
}

/// The errors any route may answer with; a handler documents the rest (409, 410, 429, 502).
const COMMON_ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "The body or query could not be read (malformed JSON or query string)",
    ),
    ("401", "No valid token (`WWW-Authenticate: Bearer`)"),
    ("403", "The caller's role does not allow this"),
    ("404", "No such object, or no such route"),
    ("413", "The body is larger than the configured limit"),
    ("415", "The body is not `Content-Type: application/json`"),
    (
        "422",
        "A field is missing, unknown or invalid; `field` names it",
    ),
    ("500", "A fault on the server; the detail is in its log"),
    (
        "503",
        "The database is unreachable, or the server is busy (`Retry-After`)",
    ),
];

fn error_name(status: &str) -> String {
    format!("Error{status}")
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// The whole document, with every path under `/api/v1` as actix mounts them.
pub fn document() -> Document {
    let mut document = ApiV1::openapi();
    let paths = std::mem::take(&mut document.paths.paths);
    document.paths.paths = paths
        .into_iter()
        .map(|(path, item)| (format!("/api/v1{path}"), item))
        .collect();
    unique_operation_ids(&mut document);
    local_date_times(document)
}

/// loket writes its timestamps as UTC without an offset (`2026-12-03T14:48:02.168679`, chrono's
/// `NaiveDateTime`), which is not an RFC 3339 `date-time`; the document says what is sent, as
/// a pattern that also admits the offset an input may carry.
fn local_date_times(document: Document) -> Document {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                if map.get("format").and_then(|f| f.as_str()) == Some("date-time") {
                    map.remove("format");
                    map.insert("pattern".into(), DATE_TIME_PATTERN.into());
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(document).expect("the document serialises");
    walk(&mut value);
    serde_json::from_value(value).expect("the document reads back")
}

/// A date and time in UTC, `YYYY-MM-DDTHH:MM:SS[.ffffff]`, with an optional offset on input.
const DATE_TIME_PATTERN: &str =
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$";

/// The document as `openapi.json` holds it: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

/// Handlers in different modules share names (`list`, `create`); a client generator needs each
/// operation id once, so a shared one is prefixed with the operation's tag (`users_list`).
fn unique_operation_ids(document: &mut Document) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for operation in operations(document) {
        if let Some(id) = &operation.operation_id {
            *seen.entry(id.clone()).or_default() += 1;
        }
    }
    for operation in operations(document) {
        let shared = operation
            .operation_id
            .as_ref()
            .is_some_and(|id| seen[id] > 1);
        if shared {
            let tag = operation
                .tags
                .iter()
                .flatten()
                .next()
                .cloned()
                .unwrap_or_default();
            operation.operation_id = operation
                .operation_id
                .take()
                .map(|id| format!("{tag}_{id}"));
        }
    }
}

fn operations(
    document: &mut Document,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    document.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    })
}

static DOCUMENT: LazyLock<String> = LazyLock::new(document_json);

/// `GET /api/v1/openapi.json`: this document, for anyone (it holds no data).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}
