//! Packages over HTTP: for staff, building, listing and revoking a request's packages, attaching
//! files and notes to its tasks and withholding data; for the person, the page behind the link in
//! the answer letter and the download itself; for everyone, the package format's JSON Schema.

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::{read_body, Json};
use super::public::{self, prefers_english};
use super::AppState;
use crate::auth::Permission;
use crate::catalog::model::Organisation;
use crate::error::Error;
use crate::ids::{PackageId, RequestId, TaskId};
use crate::packages::attachments::{
    Attachment, NewAttachment, NewRedaction, Redaction, MAX_ATTACHMENT_BYTES,
};
use crate::packages::download::Landing;
use crate::packages::{NewPackage, Package};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

/// The staff routes, under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/requests/{id}/packages")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .route(
        "/requests/{id}/packages/{package}",
        web::delete().to(revoke),
    )
    .service(
        web::resource("/requests/{id}/attachments")
            .route(web::get().to(attachments))
            .route(web::post().to(attach)),
    )
    .service(
        web::resource("/requests/{id}/redactions")
            .route(web::get().to(redactions))
            .route(web::post().to(withhold)),
    )
    .route(
        "/requests/{id}/redactions/{redaction}",
        web::delete().to(unwithhold),
    )
    .route("/packages/schema", web::get().to(schema));
}

/// The person's routes: the page behind the link, and the download (a form post from it),
/// under the public rate limit (which, with the passphrase's attempt limit, stops guessing).
pub fn configure_public(cfg: &mut web::ServiceConfig, rate_limit: &super::public::RateLimit) {
    cfg.service(
        web::resource("/packages/{token}")
            .wrap(actix_governor::Governor::new(rate_limit))
            .route(web::get().to(landing))
            .route(web::post().to(download)),
    );
}

#[utoipa::path(post, path = "/requests/{id}/packages", tag = "packages", params(("id" = RequestId, Path, description = "The request's id")), request_body = NewPackage, responses((status = 201, description = "The package is built", body = Package), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<NewPackage>,
) -> Result<(web::Json<Package>, StatusCode), ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let package = state
        .packages
        .create(staff, id.into_inner(), body.0)
        .await?;
    Ok((web::Json(package), StatusCode::CREATED))
}

#[utoipa::path(get, path = "/requests/{id}/packages", tag = "packages", params(("id" = RequestId, Path, description = "The request's id")), responses((status = 200, description = "The request's packages, newest first", body = Vec<Package>)))]
async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
) -> Result<web::Json<Vec<Package>>, ApiError> {
    user.require(Permission::ReadRequests)?;
    Ok(web::Json(state.packages.list(id.into_inner()).await?))
}

#[utoipa::path(delete, path = "/requests/{id}/packages/{package}", tag = "packages", responses((status = 200, description = "Revoked; its content is deleted", body = Package), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn revoke(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(RequestId, PackageId)>,
) -> Result<web::Json<Package>, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let (id, package) = path.into_inner();
    Ok(web::Json(state.packages.revoke(staff, id, package).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AttachQuery {
    /// The task (of a system loket cannot reach) the file belongs to.
    task: TaskId,
    /// The file's name.
    name: String,
}

/// The file is the raw body; its type is the Content-Type; task and name are in the query.
#[utoipa::path(post, path = "/requests/{id}/attachments", tag = "packages", request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file; its `Content-Type` is kept"), params(("id" = RequestId, Path, description = "The request's id"), AttachQuery), responses((status = 201, description = "The file is attached, sealed", body = Attachment), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn attach(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    query: web::Query<AttachQuery>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<(web::Json<Attachment>, StatusCode), ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let content_type = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .unwrap_or("application/octet-stream")
        .to_string();
    let bytes = read_body(payload, MAX_ATTACHMENT_BYTES).await?;
    let query = query.into_inner();
    let attachment = state
        .packages
        .attach(
            staff,
            id.into_inner(),
            NewAttachment {
                task_id: query.task,
                name: query.name,
                content_type,
                bytes,
            },
        )
        .await?;
    Ok((web::Json(attachment), StatusCode::CREATED))
}

#[utoipa::path(get, path = "/requests/{id}/attachments", tag = "packages", params(("id" = RequestId, Path, description = "The request's id")), responses((status = 200, description = "The request's attachments", body = Vec<Attachment>)))]
async fn attachments(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
) -> Result<web::Json<Vec<Attachment>>, ApiError> {
    user.require(Permission::ReadRequests)?;
    Ok(web::Json(
        state.packages.attachments(id.into_inner()).await?,
    ))
}

#[utoipa::path(post, path = "/requests/{id}/redactions", tag = "packages", params(("id" = RequestId, Path, description = "The request's id")), request_body = NewRedaction, responses((status = 201, description = "Withheld from the packages", body = Redaction), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn withhold(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
    body: Json<NewRedaction>,
) -> Result<(web::Json<Redaction>, StatusCode), ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let redaction = state
        .packages
        .withhold(staff, id.into_inner(), body.0)
        .await?;
    Ok((web::Json(redaction), StatusCode::CREATED))
}

#[utoipa::path(get, path = "/requests/{id}/redactions", tag = "packages", params(("id" = RequestId, Path, description = "The request's id")), responses((status = 200, description = "What is withheld", body = Vec<Redaction>)))]
async fn redactions(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequestId>,
) -> Result<web::Json<Vec<Redaction>>, ApiError> {
    user.require(Permission::ReadRequests)?;
    Ok(web::Json(state.packages.redactions(id.into_inner()).await?))
}

#[utoipa::path(delete, path = "/requests/{id}/redactions/{redaction}", tag = "packages", responses((status = 204, description = "The redaction is taken back"), (status = 409, description = "In conflict with the current state", body = crate::api::openapi::ErrorBody)))]
async fn unwithhold(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(RequestId, String)>,
) -> Result<HttpResponse, ApiError> {
    let staff = user.staff(Permission::WorkRequests)?;
    let (id, redaction) = path.into_inner();
    state.packages.unwithhold(staff, id, redaction).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/packages/schema", tag = "packages", security(()), responses((status = 200, description = "The JSON Schema of `package.json`", content_type = "application/schema+json", body = Object)))]
async fn schema() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/schema+json")
        .body(crate::packages::document::SCHEMA)
}

// --- the person's pages ----------------------------------------------------------------------

async fn landing(
    state: web::Data<AppState>,
    token: web::Path<String>,
    request: HttpRequest,
) -> HttpResponse {
    let token = token.into_inner();
    let organisation = super::public::organisation(&state).await;
    match state.packages.landing(token.clone()).await {
        Ok(landing) => {
            let english = landing.language == "en";
            page(
                StatusCode::OK,
                Some(&landing),
                None,
                english,
                &token,
                organisation,
            )
        }
        Err(error) => refused(&error, prefers_english(&request), &token, organisation),
    }
}

#[derive(Deserialize)]
struct DownloadForm {
    #[serde(default)]
    passphrase: Option<String>,
}

async fn download(
    state: web::Data<AppState>,
    token: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let token = token.into_inner();
    let english = prefers_english(&request);
    let Ok(form) = serde_urlencoded::from_bytes::<DownloadForm>(&body) else {
        let error = Error::invalid("body", "send the form from the download page");
        return refused(&error, english, &token, public::organisation(&state).await);
    };
    match state
        .packages
        .download(token.clone(), form.passphrase)
        .await
    {
        Ok(download) => {
            let body = futures_util::stream::unfold(download.body, |mut body| async move {
                body.recv()
                    .await
                    .map(|chunk| (chunk.map(web::Bytes::from), body))
            });
            HttpResponse::Ok()
                .content_type("application/zip")
                .insert_header((
                    actix_web::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", download.file_name),
                ))
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Referrer-Policy", "no-referrer"))
                .insert_header(("X-Package-Size", download.size_bytes.to_string()))
                .streaming(body)
        }
        Err(error) => refused(&error, english, &token, public::organisation(&state).await),
    }
}

/// The page again, with what went wrong and the status code of the error.
fn refused(
    error: &Error,
    english: bool,
    token: &str,
    organisation: Option<Organisation>,
) -> HttpResponse {
    let code = match error {
        Error::Gone(_) => StatusCode::GONE,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        _ => {
            tracing::error!(%error, "a package page failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let message = (!code.is_server_error()).then(|| person_message(error, english));
    page(code, None, message, english, token, organisation)
}

/// What went wrong, for the person, in the page's language: the download errors are written
/// for the API and in English.
fn person_message(error: &Error, english: bool) -> &'static str {
    let (nl, en) = match error {
        Error::Gone(why) if why.contains("as often as allowed") => (
            "Dit pakket is zo vaak gedownload als mocht. Vraag ons om een nieuw pakket.",
            "This package has been downloaded as often as allowed. Ask us for a new one.",
        ),
        Error::Gone(_) => (
            "Deze downloadlink is verlopen. Vraag ons om een nieuw pakket.",
            "This download link has expired. Ask us for a new package.",
        ),
        Error::Forbidden(why) if why.contains("passphrase") => (
            "Het wachtwoord klopt niet. Typ het wachtwoord dat wij u apart gaven.",
            "The passphrase is not correct. Type the passphrase we gave you separately.",
        ),
        Error::Invalid(fields) if fields.iter().any(|f| f.field == "passphrase") => (
            "Vul het wachtwoord in dat wij u apart gaven.",
            "Fill in the passphrase we gave you separately.",
        ),
        Error::Invalid(_) => (
            "Gebruik de knop op deze pagina om te downloaden.",
            "Use the button on this page to download.",
        ),
        _ => (
            "Deze downloadlink is niet geldig.",
            "This download link is not valid.",
        ),
    };
    if english {
        en
    } else {
        nl
    }
}

fn page(
    code: StatusCode,
    landing: Option<&Landing>,
    message: Option<&str>,
    english: bool,
    token: &str,
    organisation: Option<Organisation>,
) -> HttpResponse {
    public::render_page(
        code,
        "package.html",
        organisation,
        minijinja::context! {
            landing => landing,
            message => message,
            en => english,
            action => format!("/packages/{token}"),
        },
    )
}
