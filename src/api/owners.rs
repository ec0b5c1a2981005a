//! The system owner's form behind the link in their mail (`/taak/{token}`, issue #22): no
//! account, the token is the credential. `GET` shows what to do; `POST` (a plain HTML form,
//! `multipart/form-data` for the files) closes the task with the owner's statement. A wrong token
//! is `404`, an expired or replaced link `410`, a used link `409`, each a page saying so in Dutch
//! and English. Rate-limited like the other public pages, which with 256-bit tokens stops
//! guessing.

use super::extract::read_body;
use super::AppState;
use crate::error::{Error, FieldError};
use crate::packages::attachments::{NewAttachment, MAX_ATTACHMENT_BYTES};
use crate::requests::owners::{OwnerForm, OwnerStatement};
use crate::vocabulary::{Language, SearchOutcome};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

/// The most files one answer carries.
const MAX_FILES: usize = 10;

pub fn configure_public(cfg: &mut web::ServiceConfig, rate_limit: &super::public::RateLimit) {
    cfg.service(
        web::resource("/taak/{token}")
            .wrap(actix_governor::Governor::new(rate_limit))
            .route(web::get().to(form))
            .route(web::post().to(submit)),
    );
}

#[derive(Debug, serde::Deserialize)]
struct LangQuery {
    #[serde(default)]
    lang: Option<Language>,
}

async fn form(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<LangQuery>,
    request: HttpRequest,
) -> HttpResponse {
    let token = token.into_inner();
    let org = super::public::organisation(&state).await;
    match state.requests.owner_form(token.clone()).await {
        Ok(form) => {
            let en = query.lang.unwrap_or(form.language) == Language::En;
            page(
                org.clone(),
                StatusCode::OK,
                Some(&form),
                Page::Form,
                en,
                &token,
                &[],
            )
        }
        Err(error) => refused(org.clone(), &error, english(&request, query.lang), &token),
    }
}

async fn submit(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<LangQuery>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let token = token.into_inner();
    let org = super::public::organisation(&state).await;
    let en = english(&request, query.lang);
    let answer = match read_answer(&request, payload).await {
        Ok(answer) => answer,
        Err(error) => return refused(org.clone(), &error, en, &token),
    };
    let (statement, files) = answer;
    match state
        .packages
        .complete_owner_task(token.clone(), statement, files)
        .await
    {
        Ok(()) => page(
            org.clone(),
            StatusCode::OK,
            None,
            Page::Thanks,
            en,
            &token,
            &[],
        ),
        Err(Error::Invalid(errors)) => {
            // The form again, with what to fix next to it.
            match state.requests.owner_form(token.clone()).await {
                Ok(form) => page(
                    org.clone(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&form),
                    Page::Form,
                    en,
                    &token,
                    &errors,
                ),
                Err(error) => refused(org.clone(), &error, en, &token),
            }
        }
        Err(error) => refused(org.clone(), &error, en, &token),
    }
}

/// The language of a page without a usable link: as asked, else the browser's.
fn english(request: &HttpRequest, asked: Option<Language>) -> bool {
    match asked {
        Some(language) => language == Language::En,
        None => super::public::prefers_english(request),
    }
}

async fn read_answer(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<(OwnerStatement, Vec<NewAttachment>), Error> {
    let content_type = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = read_body(payload, MAX_ATTACHMENT_BYTES + 256 * 1024)
        .await
        .map_err(|_| {
            Error::invalid(
                "files",
                format!("at most {MAX_ATTACHMENT_BYTES} bytes in all"),
            )
        })?;
    let parts = if content_type.starts_with("multipart/form-data") {
        multipart::parse(&content_type, &body)
            .ok_or_else(|| Error::invalid("body", "send the form from the page"))?
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .map_err(|_| Error::invalid("body", "send the form from the page"))?
            .into_iter()
            .map(|(name, value)| multipart::Part {
                name,
                file_name: None,
                content_type: None,
                data: value.into_bytes(),
            })
            .collect()
    };
    let mut statement = OwnerStatement::default();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for part in parts {
        if let Some(file_name) = part.file_name {
            // A file input left empty still sends a part, without a name or bytes.
            if file_name.is_empty() && part.data.is_empty() {
                continue;
            }
            files.push(NewAttachment {
                task_id: Default::default(),
                name: file_name,
                content_type: part
                    .content_type
                    .filter(|t| !t.is_empty() && t.len() <= 200)
                    .unwrap_or_else(|| "application/octet-stream".into()),
                bytes: part.data,
            });
            continue;
        }
        let Ok(text) = String::from_utf8(part.data) else {
            errors.push(FieldError::new(part.name, "must be text"));
            continue;
        };
        if text.contains('\0') {
            errors.push(FieldError::new(
                part.name,
                "must not contain NUL characters",
            ));
            continue;
        }
        match part.name.as_str() {
            "searched" => statement.searched = text,
            "found" => statement.found = text,
            "did" => statement.did = text,
            "outcome" if text.is_empty() => {}
            "outcome" => match text.parse::<SearchOutcome>() {
                Ok(outcome) => statement.outcome = Some(outcome),
                Err(_) => errors.push(FieldError::new("outcome", "found or not_found")),
            },
            "rows" if text.trim().is_empty() => {}
            "rows" => match text.trim().parse::<i64>() {
                Ok(rows) => statement.rows = Some(rows),
                Err(_) => errors.push(FieldError::new("rows", "a number")),
            },
            _ => {}
        }
    }
    if files.len() > MAX_FILES {
        errors.push(FieldError::new(
            "files",
            format!("at most {MAX_FILES} files"),
        ));
    }
    crate::error::all_valid(errors)?;
    Ok((statement, files))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Page {
    Form,
    Thanks,
    NotFound,
    Used,
    Gone,
    Invalid,
    Failed,
}

/// The page for an error: which sentence and which status.
fn refused(
    org: Option<crate::catalog::model::Organisation>,
    error: &Error,
    en: bool,
    token: &str,
) -> HttpResponse {
    let (code, kind) = match error {
        Error::NotFound { .. } => (StatusCode::NOT_FOUND, Page::NotFound),
        Error::Conflict { .. } => (StatusCode::CONFLICT, Page::Used),
        Error::Gone(_) => (StatusCode::GONE, Page::Gone),
        Error::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, Page::Invalid),
        _ => {
            tracing::error!(%error, "an owner task page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Page::Failed)
        }
    };
    let errors = match error {
        Error::Invalid(errors) => errors.as_slice(),
        _ => &[],
    };
    page(org, code, None, kind, en, token, errors)
}

fn page(
    org: Option<crate::catalog::model::Organisation>,
    code: StatusCode,
    form: Option<&OwnerForm>,
    kind: Page,
    en: bool,
    token: &str,
    errors: &[FieldError],
) -> HttpResponse {
    let errors: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    super::public::render_page(
        code,
        "owner_task.html",
        org,
        minijinja::context! {
            form => form,
            page => kind,
            en => en,
            errors => errors,
            action => format!("/taak/{token}?lang={}", if en { "en" } else { "nl" }),
        },
    )
}

/// Just enough of `multipart/form-data` (RFC 7578) for one HTML form: parts split at the
/// boundary, each with its name, file name and type.
pub(crate) mod multipart {
    pub struct Part {
        pub name: String,
        pub file_name: Option<String>,
        pub content_type: Option<String>,
        pub data: Vec<u8>,
    }

    /// The parts of `body`, or `None` when it is not the multipart body its type says.
    pub fn parse(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
        let boundary = content_type
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()?
            .trim_matches('"');
        if boundary.is_empty() {
            return None;
        }
        let delimiter = format!("--{boundary}").into_bytes();
        let mut parts = Vec::new();
        let mut rest = &body[find(body, &delimiter)? + delimiter.len()..];
        loop {
            if rest.starts_with(b"--") {
                return Some(parts);
            }
            rest = rest.strip_prefix(b"\r\n")?;
            let end = find(rest, &[b"\r\n", delimiter.as_slice()].concat())?;
            parts.push(part(&rest[..end])?);
            rest = &rest[end + 2 + delimiter.len()..];
        }
    }

    fn part(raw: &[u8]) -> Option<Part> {
        let split = find(raw, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..split]).ok()?;
        let mut part = Part {
            name: String::new(),
            file_name: None,
            content_type: None,
            data: raw[split + 4..].to_vec(),
        };
        for line in head.split("\r\n") {
            let (header, value) = line.split_once(':')?;
            match header.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in value.split(';').skip(1) {
                        let (key, value) = param.trim().split_once('=')?;
                        let value = value.trim().trim_matches('"').to_string();
                        match key {
                            "name" => part.name = value,
                            "filename" => part.file_name = Some(value),
                            _ => {}
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        Some(part)
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_form_with_a_text_and_a_file_splits_into_its_parts() {
            let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"did\"\r\n\r\nverwijderd\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n\x00\x01\r\n--XyZ--\r\n";
            let parts = super::parse("multipart/form-data; boundary=XyZ", body).unwrap();
            assert_eq!(parts.len(), 2);
            assert_eq!(parts[0].name, "did");
            assert_eq!(parts[0].data, b"verwijderd");
            assert_eq!(parts[1].file_name.as_deref(), Some("scan.pdf"));
            assert_eq!(parts[1].content_type.as_deref(), Some("application/pdf"));
            assert_eq!(parts[1].data, b"%PDF\r\n\x00\x01");
            assert!(super::parse("multipart/form-data; boundary=XyZ", b"nonsense").is_none());
            assert!(super::parse("multipart/form-data", body).is_none());
        }
    }
}
