//! The web desk: server-rendered pages for agents and privacy officers, and the public request
//! form, in Dutch (default) and English.
//!
//! Pages only read. Every form that changes something is sent as JSON to the API by
//! `desk.js`, with the session's CSRF token in a header, so the JSON API stays the one way data
//! changes and its validation and field errors serve the desk too. The only forms the desk
//! handles itself are signing in and out.

pub mod agent;
mod chart;
pub mod errors;
pub mod guide;
mod labels;
pub mod officer;
mod print;
pub mod public;
pub mod session;
mod timeline;

use super::error::ApiError;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use session::DeskUser;
use std::sync::LazyLock;

pub fn configure(cfg: &mut web::ServiceConfig, public_rate_limit: &super::public::RateLimit) {
    cfg.route("/", web::get().to(|| async { redirect("/desk") }))
        .route("/desk/assets/{name}", web::get().to(asset))
        .route("/desk/language/{lang}", web::get().to(choose_language))
        .service(
            web::resource("/desk/sign-in")
                .route(web::get().to(session::sign_in_page))
                .route(web::post().to(session::sign_in)),
        )
        .route("/desk/sign-out", web::post().to(session::sign_out))
        .route("/desk", web::get().to(agent::queue))
        .route("/desk/requests/new", web::get().to(agent::new_request))
        .route("/desk/requests/{id}", web::get().to(agent::request_page))
        .route(
            "/desk/requests/{id}/letters/print",
            web::post().to(print::print_letter),
        )
        .route(
            "/desk/requests/{id}/letters/{letter}/print",
            web::get().to(print::print_sent_letter),
        )
        .route("/desk/approvals", web::get().to(officer::approvals))
        .route("/desk/dashboard", web::get().to(officer::dashboard))
        .route("/desk/catalog", web::get().to(officer::catalog))
        .route("/desk/retention", web::get().to(officer::retention))
        .route("/desk/webhooks", web::get().to(officer::webhooks))
        .route("/desk/guide", web::get().to(guide::index))
        .route("/desk/guide/{kind}", web::get().to(guide::kind))
        .route("/desk/readiness", web::get().to(guide::readiness))
        // The person's pages are limited like the public API they post to.
        .service(
            web::resource("/verzoek")
                .wrap(actix_governor::Governor::new(public_rate_limit))
                .route(web::get().to(public::request_form)),
        )
        .service(
            web::resource("/privacy")
                .wrap(actix_governor::Governor::new(public_rate_limit))
                .route(web::get().to(public::privacy_statement)),
        )
        .service(
            web::resource("/verzoek/{reference}")
                .wrap(actix_governor::Governor::new(public_rate_limit))
                .route(web::get().to(public::confirm_form)),
        );
}

/// What went wrong on a page: a visitor who must sign in first is sent there; anything else is
/// shown as a page with its status code (in both languages: the error may come before the
/// language is known).
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("sign in first")]
    SignIn { next: String },
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<crate::error::Error> for DeskError {
    fn from(error: crate::error::Error) -> Self {
        DeskError::Api(ApiError::Domain(error))
    }
}

impl ResponseError for DeskError {
    fn status_code(&self) -> StatusCode {
        match self {
            DeskError::SignIn { .. } => StatusCode::SEE_OTHER,
            DeskError::Api(error) => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            DeskError::SignIn { next } => {
                redirect(&format!("/desk/sign-in?next={}", encode_query_value(next)))
            }
            DeskError::Api(error) => {
                let status = error.status_code();
                let message = if status.is_server_error() {
                    tracing::error!(%error, "a desk page failed");
                    "the server could not complete this request; it has been logged".to_string()
                } else {
                    error.to_string()
                };
                render(
                    status,
                    "error.html",
                    minijinja::context! { status => status.as_u16(), message => message },
                )
            }
        }
    }
}

pub type PageResult = Result<HttpResponse, DeskError>;

/// The language of the pages: the visitor's choice (a cookie), else Dutch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Nl,
    En,
}

pub const LANGUAGE_COOKIE: &str = "loket_lang";

impl Lang {
    pub fn of(request: &HttpRequest) -> Lang {
        match request.cookie(LANGUAGE_COOKIE) {
            Some(cookie) if cookie.value() == "en" => Lang::En,
            _ => Lang::Nl,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// The domain's language of the pages: catalog texts are picked in it.
    pub fn language(self) -> crate::vocabulary::Language {
        match self {
            Lang::Nl => crate::vocabulary::Language::Nl,
            Lang::En => crate::vocabulary::Language::En,
        }
    }
}

/// `GET /desk/language/{nl|en}?next=…`: remembers the choice for a year and goes back.
async fn choose_language(
    lang: web::Path<String>,
    query: web::Query<Next>,
) -> Result<HttpResponse, DeskError> {
    let lang = match lang.as_str() {
        "nl" | "en" => lang.into_inner(),
        _ => {
            return Err(ApiError::InvalidField {
                field: "lang".into(),
                message: "must be nl or en".into(),
            }
            .into())
        }
    };
    let cookie = actix_web::cookie::Cookie::build(LANGUAGE_COOKIE, lang)
        .path("/")
        .max_age(actix_web::cookie::time::Duration::days(365))
        .same_site(actix_web::cookie::SameSite::Lax)
        .http_only(true)
        .finish();
    let mut response = redirect(&safe_next(query.next.as_deref()));
    response.add_cookie(&cookie).map_err(|e| {
        DeskError::Api(
            crate::error::Error::Internal(
                anyhow::Error::new(e).context("setting the language cookie"),
            )
            .into(),
        )
    })?;
    Ok(response)
}

#[derive(serde::Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Where to go after signing in or choosing a language: a path on this desk, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if (path.starts_with("/desk") || path.starts_with("/verzoek"))
                && !path.contains("//")
                && !path.contains('\\') =>
        {
            path.to_string()
        }
        _ => "/desk".to_string(),
    }
}

fn encode_query_value(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|pair| pair.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// What every staff page knows: who is signed in, in which language, the CSRF token its forms
/// send, and which part of the navigation is active.
pub fn staff_context(user: &DeskUser, lang: Lang, active: &str) -> minijinja::Value {
    use crate::auth::Permission;
    let role = user.user.role;
    minijinja::context! {
        lang => lang.code(),
        csrf => user.csrf.clone(),
        active => active,
        user => minijinja::context! {
            username => user.user.username.clone(),
            display_name => user.user.display_name.clone(),
            role => role.as_str(),
            approves => role.allows(Permission::ApproveRequests),
            reads_register => role.allows(Permission::ReadRegister),
            manages_retention => role.allows(Permission::ManageRetention),
            manages_webhooks => role.allows(Permission::ManageWebhooks),
            works_requests => role.allows(Permission::WorkRequests),
            team => user.user.team.clone(),
        },
    }
}

/// Renders a page with the headers every desk page carries: never cached (it shows personal
/// data), never framed, scripts only from the desk itself.
pub fn render(status: StatusCode, template: &str, context: minijinja::Value) -> HttpResponse {
    match TEMPLATES
        .get_template(template)
        .and_then(|page| page.render(context))
    {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("Referrer-Policy", "same-origin"))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .insert_header((
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ))
            .body(html),
        Err(error) => {
            tracing::error!(%error, template, "a desk page could not be rendered");
            HttpResponse::InternalServerError().finish()
        }
    }
}

pub fn ok(template: &str, context: minijinja::Value) -> PageResult {
    Ok(render(StatusCode::OK, template, context))
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    let (body, content_type) = match name.as_str() {
        "desk.css" => (include_str!("../../../templates/desk/desk.css"), "text/css"),
        "desk.js" => (
            include_str!("../../../templates/desk/desk.js"),
            "text/javascript",
        ),
        "guide.js" => (
            include_str!("../../../templates/desk/guide.js"),
            "text/javascript",
        ),
        _ => return ApiError::NoRoute.error_response(),
    };
    HttpResponse::Ok()
        .content_type(format!("{content_type}; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../../templates/desk/", $name)))),*]
    };
}

static TEMPLATES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    for (name, source) in templates![
        "base.html",
        "forms.html",
        "error.html",
        "sign_in.html",
        "queue.html",
        "new_request.html",
        "request.html",
        "approvals.html",
        "dashboard.html",
        "catalog.html",
        "catalog_for_others.html",
        "retention.html",
        "webhooks.html",
        "public_form.html",
        "public_confirm.html",
        "print.html",
        "request/_summary.html",
        "request/_work.html",
        "request/_checklist.html",
        "request/_letters.html",
        "request/_close.html",
        "request/_timeline.html",
        "guide.html",
        "guide_kind.html",
        "guide_search.html",
        "guide_intake.html",
        "readiness.html",
        "partner_request.html",
    ] {
        env.add_template(name, source)
            .expect("the desk templates are valid");
    }
    env.add_function("t", translate);
    env.add_function("label", labels::label);
    env.add_function("error_texts", |state: &minijinja::State| {
        minijinja::Value::from_safe_string(errors::texts_json(english(state)))
    });
    env.add_function("code_words", |state: &minijinja::State| {
        minijinja::Value::from_safe_string(labels::words_json(english(state)))
    });
    env.add_filter("when", when);
    env.add_filter("day", day);
    env.add_filter("text", text);
    env
});

/// `{{ a.name | text }}`: a catalog text (a plain string, or `{nl, en}`) in the page's
/// language, or in the other where it is not given in that one.
fn text(state: &minijinja::State, value: minijinja::Value) -> minijinja::Value {
    if value.as_str().is_some() || value.is_undefined() || value.is_none() {
        return value;
    }
    let (asked, other) = if english(state) {
        ("en", "nl")
    } else {
        ("nl", "en")
    };
    [asked, other]
        .into_iter()
        .filter_map(|language| value.get_attr(language).ok())
        .find(|text| !text.is_undefined() && !text.is_none())
        .unwrap_or(value)
}

fn english(state: &minijinja::State) -> bool {
    state
        .lookup("lang")
        .as_ref()
        .and_then(|l| l.as_str().map(|l| l == "en"))
        .unwrap_or(false)
}

/// `{{ t("Nederlands", "English") }}`: the text in the page's language.
fn translate(state: &minijinja::State, nl: String, en: String) -> String {
    match state.lookup("lang").as_ref().and_then(|l| l.as_str()) {
        Some("en") => en,
        _ => nl,
    }
}

const MONTHS: [(&str, &str); 12] = [
    ("januari", "January"),
    ("februari", "February"),
    ("maart", "March"),
    ("april", "April"),
    ("mei", "May"),
    ("juni", "June"),
    ("juli", "July"),
    ("augustus", "August"),
    ("september", "September"),
    ("oktober", "October"),
    ("november", "November"),
    ("december", "December"),
];

/// A stored time (UTC) as the clock in Amsterdam shows it, or a day as it is.
fn parse_moment(value: &str) -> Option<chrono::NaiveDateTime> {
    if let Ok(at) = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(crate::requests::dutch_time(at));
    }
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// "2 december 2026" (or "2 December 2026"), in Amsterdam for a stored time.
pub fn spell_day(date: chrono::NaiveDate, english: bool) -> String {
    use chrono::Datelike;
    let (nl, en) = MONTHS[date.month0() as usize];
    format!(
        "{} {} {}",
        date.day(),
        if english { en } else { nl },
        date.year()
    )
}

/// `{{ r.due_on | day }}`: "2 december 2026".
fn day(state: &minijinja::State, value: String) -> String {
    match parse_moment(&value) {
        Some(at) => spell_day(at.date(), english(state)),
        None => value,
    }
}

/// `{{ e.occurred_at | when }}`: "2 december 2026, 14:05", Amsterdam time. A stored time is
/// UTC without a zone; a time with one (RFC 3339, as the readiness report gives it) is taken
/// to UTC first.
fn when(state: &minijinja::State, value: String) -> String {
    let utc = chrono::NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(&value).map(|at| at.naive_utc()));
    match utc {
        Ok(at) => {
            let local = crate::requests::dutch_time(at);
            format!(
                "{}, {}",
                spell_day(local.date(), english(state)),
                local.format("%H:%M")
            )
        }
        Err(_) => day(state, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES.templates() {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
        assert!(TEMPLATES.get_template("request/_checklist.html").is_ok());
    }

    #[test]
    fn days_are_spelled_and_times_are_amsterdams() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(spell_day(day, false), "2 december 2026");
        assert_eq!(spell_day(day, true), "2 December 2026");
        // 23:30 UTC in winter is 00:30 the next day in Amsterdam.
        let at = parse_moment("2026-12-02T23:30:00").unwrap();
        assert_eq!(at.format("%Y-%m-%d %H:%M").to_string(), "2026-12-03 00:30");
    }

    #[test]
    fn only_paths_on_the_desk_are_followed() {
        assert_eq!(safe_next(Some("/desk/requests/1")), "/desk/requests/1");
        assert_eq!(safe_next(Some("https://evil.example/")), "/desk");
        assert_eq!(safe_next(Some("//evil.example/desk")), "/desk");
        assert_eq!(safe_next(Some("/desk//evil")), "/desk");
        assert_eq!(safe_next(Some("/desk\\evil")), "/desk");
        assert_eq!(safe_next(None), "/desk");
    }
}
