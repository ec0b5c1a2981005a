//! The print view of a letter, for a person without an e-mail address: the letter as loket
//! would send it, on an A4 sheet with the organisation's name and address and the person's
//! address block, so the agent prints it, posts it and records the day on the request page.
//!
//! It is a `POST` from the letter form (with the session's CSRF token) because the agent's own
//! text goes into the letter, and that text belongs in no address bar or access log. Nothing is
//! stored.

use super::session::DeskUser;
use super::{ok, Lang, PageResult};
use crate::api::error::ApiError;
use crate::auth::Permission;
use crate::ids::RequestId;
use crate::requests::lifecycle::LetterRequest;
use actix_web::{web, HttpRequest};

#[derive(serde::Deserialize)]
pub struct PrintForm {
    letter: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

/// `POST /desk/requests/{id}/letters/print`
pub async fn print_letter(
    state: web::Data<crate::api::AppState>,
    user: DeskUser,
    request: HttpRequest,
    id: web::Path<RequestId>,
    body: web::Bytes,
) -> PageResult {
    user.require(Permission::ReadRequests)?;
    let form: PrintForm = crate::api::extract::parse_form(&body)?;
    if !super::session::csrf_matches(&user.csrf, &form.csrf) {
        return Err(ApiError::CsrfRejected.into());
    }
    let letter = form.letter.parse().map_err(|_| ApiError::InvalidField {
        field: "letter".into(),
        message: "unknown letter (expected one of the letter kinds)".into(),
    })?;
    let message = form.message.filter(|m| !m.trim().is_empty());
    let id = id.into_inner();
    let view = state.requests.get(id.clone()).await?;
    let preview = state
        .requests
        .preview_letter(id, LetterRequest { letter, message })
        .await?;
    let english = preview.language == crate::vocabulary::Language::En;
    let sheet = Sheet {
        subject: preview.subject,
        body: preview.body,
    };
    render(&state, &request, view, sheet, english).await
}

/// `GET /desk/requests/{id}/letters/{letter}/print`: a letter that went out (by e-mail, or
/// queued), on the A4 sheet as it was written. A `GET`: the letter's id is no personal data.
pub async fn print_sent_letter(
    state: web::Data<crate::api::AppState>,
    user: DeskUser,
    request: HttpRequest,
    path: web::Path<(RequestId, String)>,
) -> PageResult {
    user.require(Permission::ReadRequests)?;
    let (id, letter_id) = path.into_inner();
    let view = state.requests.get(id.clone()).await?;
    let (entry, body) = state.requests.letter(id, letter_id).await?;
    let english = entry.language == "en";
    let sheet = Sheet {
        subject: entry.subject,
        body,
    };
    render(&state, &request, view, sheet, english).await
}

/// What the sheet prints: the letter's subject and text.
#[derive(serde::Serialize)]
struct Sheet {
    subject: String,
    body: String,
}

/// The A4 sheet: the organisation's name and address at the top, the person's address block,
/// place and date, the reference, then the letter.
async fn render(
    state: &crate::api::AppState,
    request: &HttpRequest,
    view: crate::requests::view::RequestView,
    letter: Sheet,
    english: bool,
) -> PageResult {
    let organisation = crate::catalog::get_organisation(&state.store).await?;
    // "Stationsplein 1, 3511 ED Utrecht": one line each on the sheet; the town (after the
    // postcode) dates the letter.
    let address_lines: Vec<String> = organisation
        .as_ref()
        .and_then(|o| o.address.as_deref())
        .map(|a| {
            a.split(',')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let place = address_lines.iter().find_map(|line| {
        let mut words = line.split_whitespace();
        let postcode = words.next()?;
        if postcode.len() != 4 || !postcode.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let town: Vec<&str> = words
            .skip_while(|w| w.len() == 2 && w.chars().all(|c| c.is_ascii_uppercase()))
            .collect();
        (!town.is_empty()).then(|| town.join(" "))
    });
    ok(
        "print.html",
        minijinja::context! {
            r => view,
            letter => letter,
            organisation => organisation,
            address_lines => address_lines,
            place => place,
            today => super::spell_day(crate::requests::today(), english),
            lang => if english { "en" } else { "nl" },
            desk_lang => Lang::of(request).code(),
        },
    )
}
