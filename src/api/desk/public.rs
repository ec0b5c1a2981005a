//! The person's own pages: the request form and the page to confirm it with the e-mailed code.
//! Both post to the public JSON API (`/api/v1/public/…`), which needs no session and so no CSRF
//! token: it is rate-limited and takes only JSON, which no other site's form can send.

use super::{ok, Lang, PageResult};
use crate::vocabulary::RequestKind;
use actix_web::{web, HttpRequest};
use strum::VariantArray;

/// The page language for a person: their choice if they made one, else their browser's first
/// language if it is English, else Dutch.
fn person_lang(request: &HttpRequest) -> Lang {
    if request.cookie(super::LANGUAGE_COOKIE).is_some() {
        Lang::of(request)
    } else if crate::api::public::prefers_english(request) {
        Lang::En
    } else {
        Lang::Nl
    }
}

/// `GET /verzoek`
pub async fn request_form(
    state: web::Data<crate::api::AppState>,
    request: HttpRequest,
) -> PageResult {
    ok(
        "public_form.html",
        minijinja::context! {
            lang => person_lang(&request).code(),
            kinds => super::agent::names(RequestKind::VARIANTS),
            organisation => crate::catalog::get_organisation(&state.store).await?,
        },
    )
}

/// Which language the privacy statement is asked in: `?lang=en`, else as the person's pages.
#[derive(Debug, serde::Deserialize)]
pub struct StatementQuery {
    #[serde(default)]
    lang: Option<crate::vocabulary::Language>,
}

/// `GET /privacy`: the privacy statement (Art. 13/14) written from the catalog, for anyone.
pub async fn privacy_statement(
    state: web::Data<crate::api::AppState>,
    request: HttpRequest,
    query: web::Query<StatementQuery>,
) -> PageResult {
    use crate::catalog::privacy::{statement, Format};
    let language = query.lang.unwrap_or(person_lang(&request).language());
    let register = crate::catalog::register(&state.store).await?;
    Ok(actix_web::HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(statement(&register, language, Format::Html)))
}

/// `GET /verzoek/{reference}`: where the form sends the person once it is in. The reference
/// goes into the form's API path, so only the shape loket gives references is accepted.
pub async fn confirm_form(
    state: web::Data<crate::api::AppState>,
    request: HttpRequest,
    reference: web::Path<String>,
) -> PageResult {
    if !is_reference(&reference) {
        return Err(crate::api::error::ApiError::NoRoute.into());
    }
    ok(
        "public_confirm.html",
        minijinja::context! {
            lang => person_lang(&request).code(),
            reference => reference.into_inner(),
            organisation => crate::catalog::get_organisation(&state.store).await?,
        },
    )
}

/// `AVG-2026-K7Q2M9XP`: letters, digits and dashes, not too long.
fn is_reference(text: &str) -> bool {
    (1..=40).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_references_reach_the_confirmation_form() {
        assert!(super::is_reference("AVG-2026-K7Q2M9XP"));
        assert!(!super::is_reference("../../auth/token"));
        assert!(!super::is_reference("AVG-2026\\"));
        assert!(!super::is_reference(""));
    }
}
