//! Signed access tokens (JWT, HS256). Expiry, issuer and audience are all checked on the way in.

use super::Role;
use crate::ids::UserId;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "loket";
pub const AUDIENCE: &str = "loket-api";
/// The audience of the web desk's session cookie: a cookie is never a bearer token, nor the
/// other way round.
pub const SESSION_AUDIENCE: &str = "loket-desk";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: UserId,
    pub username: String,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The account's session epoch when the token was issued; a raised epoch revokes it.
    #[serde(default)]
    pub ep: i64,
}

/// The claims of a link sent to a person (a status page, later a download): bound to one object
/// and one purpose (the audience), never usable as an API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// A download link's limit on downloads, signed with the link so it cannot be raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dl: Option<i32>,
}

/// The claims of a web desk session (the `loket_session` cookie). The CSRF token is signed in,
/// so the server needs no session table to check it, and several instances behind a load
/// balancer accept each other's sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user's id.
    pub sub: UserId,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// What every form and every changing API call of this session must send back.
    pub csrf: String,
    /// The account's session epoch when the session began; a raised epoch ends it.
    #[serde(default)]
    pub ep: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
}

/// Issues and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_seconds: i64,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

impl TokenService {
    pub fn new(secret: &[u8], ttl_seconds: i64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_seconds,
        }
    }

    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    pub fn issue(
        &self,
        user_id: &UserId,
        username: &str,
        role: Role,
        epoch: i64,
    ) -> Result<String, TokenError> {
        let now = chrono::Utc::now().timestamp();
        self.sign(&Claims {
            sub: user_id.clone(),
            username: username.to_string(),
            role,
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            iat: now,
            exp: now + self.ttl_seconds,
            ep: epoch,
        })
    }

    /// Signs arbitrary claims; tests use it to make expired tokens.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.decode(token, AUDIENCE)
    }

    /// A desk session for `user_id`, as long-lived as an API token, with a fresh CSRF token.
    pub fn issue_session(
        &self,
        user_id: &UserId,
        epoch: i64,
    ) -> Result<(String, SessionClaims), TokenError> {
        use rand::RngCore;
        let mut csrf = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut csrf);
        let now = chrono::Utc::now().timestamp();
        let claims = SessionClaims {
            sub: user_id.clone(),
            iss: ISSUER.to_string(),
            aud: SESSION_AUDIENCE.to_string(),
            iat: now,
            exp: now + self.ttl_seconds,
            csrf: hex::encode(csrf),
            ep: epoch,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)?;
        Ok((token, claims))
    }

    pub fn verify_session(&self, token: &str) -> Result<SessionClaims, TokenError> {
        self.decode(token, SESSION_AUDIENCE)
    }

    /// A signed link token for `subject`, valid for `audience` only, for `ttl_seconds`.
    pub fn issue_link(
        &self,
        audience: &str,
        subject: &str,
        ttl_seconds: i64,
    ) -> Result<String, TokenError> {
        let expires = chrono::Utc::now().timestamp() + ttl_seconds;
        self.sign_link(audience, subject, expires, None)
    }

    /// A signed download link for `subject`, valid until `expires` (a Unix time) and for at most
    /// `max_downloads` downloads.
    pub fn issue_download_link(
        &self,
        audience: &str,
        subject: &str,
        expires: i64,
        max_downloads: i32,
    ) -> Result<String, TokenError> {
        self.sign_link(audience, subject, expires, Some(max_downloads))
    }

    fn sign_link(
        &self,
        audience: &str,
        subject: &str,
        expires: i64,
        max_downloads: Option<i32>,
    ) -> Result<String, TokenError> {
        encode(
            &Header::new(Algorithm::HS256),
            &LinkClaims {
                sub: subject.to_string(),
                iss: ISSUER.to_string(),
                aud: audience.to_string(),
                iat: chrono::Utc::now().timestamp(),
                exp: expires,
                dl: max_downloads,
            },
            &self.encoding,
        )
        .map_err(|_| TokenError::Invalid)
    }

    /// The subject of a link token issued for `audience`.
    pub fn verify_link(&self, audience: &str, token: &str) -> Result<String, TokenError> {
        self.decode::<LinkClaims>(token, audience)
            .map(|claims| claims.sub)
    }

    /// The subject and download limit of a download link issued for `audience`.
    pub fn verify_download_link(
        &self,
        audience: &str,
        token: &str,
    ) -> Result<(String, i32), TokenError> {
        let claims = self.decode::<LinkClaims>(token, audience)?;
        let limit = claims.dl.ok_or(TokenError::Invalid)?;
        Ok((claims.sub, limit))
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<T, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        decode::<T>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let service = TokenService::new(b"0123456789abcdef0123456789abcdef", 600);
        let token = service.issue(&"u1".into(), "anna", Role::Agent, 0).unwrap();
        let claims = service.verify(&token).unwrap();
        assert_eq!(claims.username, "anna");
        assert_eq!(claims.role, Role::Agent);

        let other = TokenService::new(b"another secret of thirty-two b!!", 600);
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));

        let mut expired = claims.clone();
        expired.iat -= 7200;
        expired.exp = chrono::Utc::now().timestamp() - 3600;
        let expired = service.sign(&expired).unwrap();
        assert_eq!(service.verify(&expired), Err(TokenError::Expired));

        let mut wrong_audience = claims;
        wrong_audience.aud = "someone-else".into();
        let wrong_audience = service.sign(&wrong_audience).unwrap();
        assert_eq!(service.verify(&wrong_audience), Err(TokenError::Invalid));
    }

    #[test]
    fn sessions_are_not_api_tokens() {
        let service = TokenService::new(b"0123456789abcdef0123456789abcdef", 600);
        let (cookie, claims) = service.issue_session(&"u1".into(), 0).unwrap();
        assert_eq!(service.verify_session(&cookie).unwrap(), claims);
        assert_eq!(claims.csrf.len(), 48);
        assert_eq!(service.verify(&cookie), Err(TokenError::Invalid));
        let api = service.issue(&"u1".into(), "anna", Role::Agent, 0).unwrap();
        assert_eq!(service.verify_session(&api), Err(TokenError::Invalid));
        let (_, other) = service.issue_session(&"u1".into(), 0).unwrap();
        assert_ne!(
            other.csrf, claims.csrf,
            "every session has its own CSRF token"
        );
    }

    #[test]
    fn links_are_bound_to_their_purpose() {
        let service = TokenService::new(b"0123456789abcdef0123456789abcdef", 600);
        let link = service.issue_link("loket-status", "request-1", 60).unwrap();
        assert_eq!(
            service.verify_link("loket-status", &link).unwrap(),
            "request-1"
        );
        assert_eq!(
            service.verify_link("loket-download", &link),
            Err(TokenError::Invalid)
        );
        assert_eq!(service.verify(&link), Err(TokenError::Invalid));
        let api = service.issue(&"u1".into(), "anna", Role::Agent, 0).unwrap();
        assert_eq!(
            service.verify_link("loket-status", &api),
            Err(TokenError::Invalid)
        );
        let expired = service
            .issue_link("loket-status", "request-1", -3600)
            .unwrap();
        assert_eq!(
            service.verify_link("loket-status", &expired),
            Err(TokenError::Expired)
        );
    }
}
