//! Signing in, and the extractor every protected route starts with.

use super::desk::session;
use super::error::ApiError;
use super::extract::Json;
use super::AppState;
use crate::audit::Actor;
use crate::auth::{Permission, TokenError, User};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use anyhow::Context;
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};

/// The signed-in user of this request, checked against the database on every request so that a
/// disabled account or a changed role takes effect at once, not when its token expires.
///
/// A client signs in with a bearer token; the web desk's pages call the same API with their
/// session cookie instead, and then every change must carry the session's CSRF token in the
/// `X-CSRF-Token` header.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl CurrentUser {
    /// Fails with 403 unless the user's role grants `permission`.
    pub fn require(&self, permission: Permission) -> Result<&Self, ApiError> {
        if self.0.role.allows(permission) {
            Ok(self)
        } else {
            Err(ApiError::Forbidden)
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::User {
            username: self.0.username.to_string(),
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Already signed in and authorised by the middleware that runs before the route.
        if let Some(user) = req.extensions().get::<CurrentUser>().cloned() {
            return Box::pin(async move { Ok(user) });
        }
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let credential = credential_of(req);
        Box::pin(async move {
            let state = state.ok_or(ApiError::Unauthenticated(
                "authentication is not configured",
            ))?;
            let (user_id, epoch) = match credential {
                Credential::Bearer(token) => {
                    let claims = state.tokens.verify(&token).map_err(token_error)?;
                    (claims.sub, claims.ep)
                }
                Credential::Session { cookie, csrf } => {
                    let claims = state.tokens.verify_session(&cookie).map_err(token_error)?;
                    if let Some(given) = csrf {
                        if !session::csrf_matches(&claims.csrf, &given) {
                            return Err(ApiError::CsrfRejected);
                        }
                    }
                    (claims.sub, claims.ep)
                }
                Credential::None => {
                    return Err(ApiError::Unauthenticated(
                        "missing bearer token (Authorization: Bearer …)",
                    ))
                }
            };
            let user = state
                .users
                .find_active(user_id)
                .await?
                .ok_or(ApiError::Unauthenticated(
                    "the account is disabled or removed",
                ))?;
            if user.session_epoch != epoch {
                return Err(ApiError::Unauthenticated(
                    "the token was revoked (signed out, or the account changed)",
                ));
            }
            Ok(CurrentUser(user))
        })
    }
}

fn token_error(error: TokenError) -> ApiError {
    match error {
        TokenError::Expired => ApiError::Unauthenticated("the token has expired"),
        TokenError::Invalid => ApiError::Unauthenticated("the token is not valid"),
    }
}

/// How a request says who sends it.
enum Credential {
    Bearer(String),
    /// The desk's session cookie; `csrf` is what a changing request sent as its CSRF token
    /// (empty when it sent none), `None` for a request that changes nothing.
    Session {
        cookie: String,
        csrf: Option<String>,
    },
    None,
}

fn credential_of(req: &HttpRequest) -> Credential {
    if let Some(token) = bearer_token(req) {
        return Credential::Bearer(token);
    }
    match req.cookie(session::SESSION_COOKIE) {
        Some(cookie) => Credential::Session {
            cookie: cookie.value().to_string(),
            csrf: session::changes_data(req.method()).then(|| session::csrf_header(req)),
        },
        None => Credential::None,
    }
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
        Some(token.trim().to_string())
    } else {
        None
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    role: crate::auth::Role,
}

/// `POST /api/v1/auth/token`: exchanges a username and password for an access token.
#[utoipa::path(post, path = "/auth/token", tag = "auth", request_body = Credentials, security(()), responses((status = 200, description = "An access token", body = TokenResponse), (status = 401, description = "Wrong username or password", body = crate::api::openapi::ErrorBody), (status = 429, description = "Too many failed attempts (`Retry-After`)", body = crate::api::openapi::ErrorBody)))]
pub async fn issue_token(
    state: web::Data<AppState>,
    request: HttpRequest,
    credentials: Json<Credentials>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let Credentials { username, password } = credentials.0;
    if username.is_empty() || username.len() > 64 {
        return Err(ApiError::InvalidField {
            field: "username".into(),
            message: "must be 1-64 characters".into(),
        });
    }
    if password.is_empty() || password.len() > crate::auth::password::MAX_LENGTH {
        return Err(ApiError::InvalidField {
            field: "password".into(),
            message: "must not be empty".into(),
        });
    }
    let user = state
        .users
        .authenticate(username, password, peer_address(&request))
        .await?;
    let access_token = state
        .tokens
        .issue(&user.id, &user.username, user.role, user.session_epoch)
        .context("could not sign token")?;
    Ok(web::Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_seconds(),
        role: user.role,
    }))
}

/// `POST /api/v1/auth/sign-out`: revokes every token and desk session of the caller.
#[utoipa::path(post, path = "/auth/sign-out", tag = "auth", responses((status = 204, description = "Every token and desk session of the caller is revoked")))]
pub async fn sign_out(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    state
        .users
        .revoke_sessions(user.actor(), user.0.id.clone())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The address sign-in attempts are counted against: the connection's peer. Behind a proxy
/// every client shares the proxy's address, so throttle there as well.
pub fn peer_address(request: &HttpRequest) -> String {
    request
        .peer_addr()
        .map(|peer| peer.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}
