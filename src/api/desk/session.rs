//! Signing in to the desk: a session cookie (HttpOnly, SameSite, Secure over TLS) that holds a
//! signed session with its own CSRF token. Pages put the token in every form; the API accepts
//! the cookie only for changes that send the token back.

use super::{redirect, render, safe_next, DeskError, Lang};
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::auth::User;
use crate::error::Error;
use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use anyhow::Context;
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;

pub const SESSION_COOKIE: &str = "loket_session";
/// Holds the CSRF token of the sign-in form, before there is a session to hold it.
const SIGN_IN_COOKIE: &str = "loket_sign_in";
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// What a rejected change is told to send.
pub const CSRF_FIELD: &str = "X-CSRF-Token";
/// The hidden field of the desk's own forms.
const CSRF_FORM_FIELD: &str = "_csrf";

/// Whether a request with this method may change something, and so needs its CSRF token.
pub fn changes_data(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The CSRF token a request sent in its header; empty when it sent none.
pub fn csrf_header(req: &HttpRequest) -> String {
    req.headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Compares in constant time, so the answer's timing says nothing about how much matched.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    !a.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The staff member signed in to the desk, with the CSRF token of their session. A page that
/// asks for it sends a visitor without a valid session to the sign-in page.
#[derive(Debug, Clone)]
pub struct DeskUser {
    pub user: User,
    pub csrf: String,
}

impl FromRequest for DeskUser {
    type Error = DeskError;
    type Future = LocalBoxFuture<'static, Result<Self, DeskError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        Box::pin(async move {
            let sign_in = || DeskError::SignIn { next: next.clone() };
            let state = state.ok_or_else(sign_in)?;
            let claims = cookie
                .and_then(|cookie| state.tokens.verify_session(&cookie).ok())
                .ok_or_else(sign_in)?;
            let user = state
                .users
                .find_active(claims.sub)
                .await?
                .filter(|user| user.session_epoch == claims.ep)
                .ok_or_else(sign_in)?;
            Ok(DeskUser {
                user,
                csrf: claims.csrf,
            })
        })
    }
}

impl DeskUser {
    /// Fails with the 403 page unless the user's role grants `permission`.
    pub fn require(&self, permission: crate::auth::Permission) -> Result<&Self, DeskError> {
        if self.user.role.allows(permission) {
            Ok(self)
        } else {
            Err(ApiError::Forbidden.into())
        }
    }

    pub fn staff(
        &self,
        permission: crate::auth::Permission,
    ) -> Result<crate::requests::Staff, DeskError> {
        self.require(permission)?;
        Ok(crate::requests::Staff {
            username: self.user.username.clone(),
            role: self.user.role,
        })
    }
}

fn cookie<'c>(name: &'c str, value: String, request: &HttpRequest) -> Cookie<'c> {
    // Secure only over TLS (directly or behind a proxy that says so), or the browser would
    // drop it on a plain-HTTP desk on localhost.
    let secure = request.connection_info().scheme() == "https";
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `GET /desk/sign-in`: the form, with a fresh CSRF token in a cookie and in the form.
pub async fn sign_in_page(request: HttpRequest, query: web::Query<super::Next>) -> HttpResponse {
    sign_in_form(&request, StatusCode::OK, query.next.as_deref(), None)
}

fn sign_in_form(
    request: &HttpRequest,
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let token = random_token();
    let mut response = render(
        status,
        "sign_in.html",
        minijinja::context! {
            lang => Lang::of(request).code(),
            csrf => token.clone(),
            next => safe_next(next),
            error => error,
        },
    );
    let _ = response.add_cookie(&cookie(SIGN_IN_COOKIE, token, request));
    response
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
    next: Option<String>,
}

/// `POST /desk/sign-in`: checks the form's CSRF token against its cookie, then the password.
pub async fn sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: web::Bytes,
) -> Result<HttpResponse, DeskError> {
    let form: SignInForm = crate::api::extract::parse_form(&form)?;
    let expected = request
        .cookie(SIGN_IN_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if !csrf_matches(&expected, &form.csrf) {
        return Err(ApiError::CsrfRejected.into());
    }
    let lang = Lang::of(&request);
    let next = form.next.as_deref();
    if form.username.trim().is_empty() || form.password.is_empty() {
        let message = match lang {
            Lang::Nl => "Vul uw gebruikersnaam en wachtwoord in.",
            Lang::En => "Enter your username and password.",
        };
        return Ok(sign_in_form(
            &request,
            StatusCode::UNPROCESSABLE_ENTITY,
            next,
            Some(message),
        ));
    }
    let user = match state
        .users
        .authenticate(
            form.username.trim().to_string(),
            form.password,
            crate::api::auth::peer_address(&request),
        )
        .await
    {
        Ok(user) => user,
        Err(Error::InvalidCredentials) => {
            let message = match lang {
                Lang::Nl => "Gebruikersnaam of wachtwoord klopt niet.",
                Lang::En => "Wrong username or password.",
            };
            return Ok(sign_in_form(
                &request,
                StatusCode::UNAUTHORIZED,
                next,
                Some(message),
            ));
        }
        Err(refused @ (Error::TooManyAttempts { .. } | Error::Busy { .. })) => {
            return Ok(refused_sign_in(&request, lang, next, refused.into()));
        }
        Err(other) => return Err(other.into()),
    };
    let (token, _) = state
        .tokens
        .issue_session(&user.id, user.session_epoch)
        .context("could not sign the session")
        .map_err(crate::error::Error::from)?;
    let mut session = cookie(SESSION_COOKIE, token, &request);
    session.set_max_age(Duration::seconds(state.tokens.ttl_seconds()));
    // Lax, so a link to a request in an e-mail opens it signed in; changes still need the token.
    session.set_same_site(SameSite::Lax);
    let mut response = redirect(&safe_next(next));
    let mut spent = cookie(SIGN_IN_COOKIE, String::new(), &request);
    spent.make_removal();
    for cookie in [&session, &spent] {
        response
            .add_cookie(cookie)
            .context("setting the session cookie")
            .map_err(crate::error::Error::from)?;
    }
    tracing::info!(username = %user.username, "signed in to the desk");
    Ok(response)
}

/// The sign-in form again, with 429 (locked out) or 503 (busy) and when to try again.
fn refused_sign_in(
    request: &HttpRequest,
    lang: Lang,
    next: Option<&str>,
    refusal: ApiError,
) -> HttpResponse {
    use actix_web::ResponseError;
    let seconds = refusal.retry_after().unwrap_or(1);
    let message = match lang {
        Lang::Nl => format!("Te veel pogingen. Probeer het over {seconds} seconden opnieuw."),
        Lang::En => format!("Too many attempts. Try again in {seconds} seconds."),
    };
    let mut response = sign_in_form(request, refusal.status_code(), next, Some(&message));
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&seconds.to_string()) {
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, value);
    }
    response
}

/// `POST /desk/sign-out`: ends the session, in this browser and on the server (every session
/// and token of the account is revoked, so a copied cookie stops working too).
pub async fn sign_out(
    state: web::Data<AppState>,
    user: DeskUser,
    request: HttpRequest,
    form: web::Bytes,
) -> Result<HttpResponse, DeskError> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&form).unwrap_or_default();
    let given = fields
        .iter()
        .find(|(name, _)| name == CSRF_FORM_FIELD)
        .map(|(_, value)| value.as_str())
        .unwrap_or("");
    if !csrf_matches(&user.csrf, given) {
        return Err(ApiError::CsrfRejected.into());
    }
    state
        .users
        .revoke_sessions(
            crate::audit::Actor::User {
                username: user.user.username.to_string(),
            },
            user.user.id.clone(),
        )
        .await?;
    let mut gone = cookie(SESSION_COOKIE, String::new(), &request);
    gone.make_removal();
    let mut response = redirect("/desk/sign-in");
    response
        .add_cookie(&gone)
        .context("removing the session cookie")
        .map_err(crate::error::Error::from)?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_must_match_exactly() {
        assert!(csrf_matches("abc123", "abc123"));
        assert!(!csrf_matches("abc123", "abc124"));
        assert!(!csrf_matches("abc123", "abc12"));
        assert!(!csrf_matches("", ""), "no token is never a match");
        assert!(changes_data(&Method::POST) && changes_data(&Method::DELETE));
        assert!(!changes_data(&Method::GET));
    }
}
