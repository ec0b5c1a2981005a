//! Request extractors that turn bad input into errors naming the field, instead of actix's
//! plain-text defaults.

use super::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// A JSON body, read with a size limit and deserialised with the path of the failing field.
#[derive(Debug)]
pub struct Json<T>(pub T);

/// The largest body a JSON route reads, set by configuration.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(1024 * 1024);
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let bytes = body.await.map_err(|_| ApiError::TooLarge { limit })?;
            if bytes.len() > limit {
                return Err(ApiError::TooLarge { limit });
            }
            parse_json(&bytes).map(Json)
        })
    }
}

/// Deserialises `bytes`, mapping syntax errors to 400 and type errors to 422 with the field path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = result.map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = strip_position(&inner.to_string());
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::InvalidField {
                field: field_path(&path, &message),
                message,
            },
            _ => ApiError::BadRequest {
                field: None,
                message: format!("malformed JSON: {message}"),
            },
        }
    })?;
    deserializer.end().map_err(|e| ApiError::BadRequest {
        field: None,
        message: format!("malformed JSON: {}", strip_position(&e.to_string())),
    })?;
    refuse_nul_in_json(bytes)?;
    Ok(value)
}

/// What loket says of a value holding a character no store keeps (PostgreSQL refuses NUL in
/// text, and a NUL cut short by one layer but not the next is a classic way to smuggle input).
const NUL_MESSAGE: &str = "must not contain NUL characters (\\u0000)";

fn nul_error(field: String) -> ApiError {
    ApiError::InvalidField {
        field,
        message: NUL_MESSAGE.into(),
    }
}

/// In JSON a NUL can only be written `\u0000`; only when that text occurs is the body walked to
/// name the field that holds it (keys included).
fn refuse_nul_in_json(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    match nul_path(&value, String::new()) {
        Some(path) => Err(nul_error(if path.is_empty() {
            "body".into()
        } else {
            path
        })),
        None => Ok(()),
    }
}

/// The path of the first string (or key) in `value` that holds a NUL, written like serde's.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) if text.contains('\0') => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_path(item, format!("{path}[{index}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(here.replace('\0', ""))
            } else {
                nul_path(item, here)
            }
        }),
        _ => None,
    }
}

/// A form body (`application/x-www-form-urlencoded`), refused with the field's name when a
/// value holds a NUL.
pub fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(bytes).map_err(|e| malformed("form", e))?;
    refuse_nul_in_pairs(&pairs)?;
    serde_urlencoded::from_bytes(bytes).map_err(|e| malformed("form", e))
}

fn malformed(what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest {
        field: None,
        message: format!("malformed {what}: {error}"),
    }
}

fn refuse_nul_in_pairs(pairs: &[(String, String)]) -> Result<(), ApiError> {
    match pairs
        .iter()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
    {
        Some((name, _)) => Err(nul_error(name.replace('\0', ""))),
        None => Ok(()),
    }
}

/// Refuses a NUL anywhere in the address before routing: in the path (named `path`, since
/// the route and its parameter names are not known yet) or in a query parameter (by name).
pub fn refuse_nul_in_uri(uri: &actix_web::http::Uri) -> Result<(), ApiError> {
    let has_nul = |text: &str| text.to_ascii_lowercase().contains("%00");
    if has_nul(uri.path()) {
        return Err(nul_error("path".into()));
    }
    match uri.query() {
        Some(query) if has_nul(query) => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(query).map_err(|e| malformed("query string", e))?;
            refuse_nul_in_pairs(&pairs)
        }
        _ => Ok(()),
    }
}

/// serde reports a missing field on the object that should hold it; the field itself is only in
/// the message, between backticks. (An unknown field is already in the path.)
fn field_path(path: &str, message: &str) -> String {
    let named = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let parent = if path == "." { "" } else { path };
    match (named, parent) {
        (Some(name), "") => name.to_string(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "") => "body".to_string(),
        (None, parent) => parent.to_string(),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// `?page=N&per_page=M`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// From 1 (the default).
    #[param(required = false, minimum = 1, maximum = 1_000_000)]
    pub page: i64,
    /// From 1 to 200 (50 by default).
    #[param(required = false, minimum = 1, maximum = 200)]
    pub per_page: i64,
}

impl Page {
    pub const MAX_PER_PAGE: i64 = 200;

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

#[derive(Deserialize)]
struct RawPage {
    page: Option<String>,
    per_page: Option<String>,
}

impl FromRequest for Page {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_page(req.query_string()))
    }
}

fn parse_page(query: &str) -> Result<Page, ApiError> {
    let raw: RawPage = serde_urlencoded::from_str(query).map_err(|e| ApiError::BadRequest {
        field: None,
        message: format!("malformed query string: {e}"),
    })?;
    let number = |value: Option<String>, field: &str, default: i64, max: i64| match value {
        None => Ok(default),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::InvalidField {
                field: field.to_string(),
                message: format!("must be a whole number from 1 to {max}"),
            }),
        },
    };
    Ok(Page {
        page: number(raw.page, "page", 1, 1_000_000)?,
        per_page: number(raw.per_page, "per_page", 50, Page::MAX_PER_PAGE)?,
    })
}

/// A page of results as every list route returns it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Paginated<T: serde::Serialize> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

impl<T: serde::Serialize> Paginated<T> {
    /// Pages a list already in memory (catalog lists are small: tens or hundreds of entries).
    pub fn from_vec(all: Vec<T>, page: Page) -> Self {
        let total = all.len() as i64;
        let items = all
            .into_iter()
            .skip(page.offset() as usize)
            .take(page.per_page as usize)
            .collect();
        Paginated {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
        }
    }
}

/// The whole of a short list, as `{"items": [...]}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Items<T: serde::Serialize> {
    pub items: Vec<T>,
}

/// `201 Created`: the new object as JSON, and its address in `Location`.
#[derive(Debug)]
pub struct Created<T> {
    location: String,
    body: T,
}

impl<T> Created<T> {
    pub fn at(location: String, body: T) -> Self {
        Created { location, body }
    }
}

impl<T: serde::Serialize> actix_web::Responder for Created<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> actix_web::HttpResponse {
        actix_web::HttpResponse::Created()
            .insert_header((actix_web::http::header::LOCATION, self.location))
            .json(self.body)
    }
}

/// Reads a raw body (an uploaded file) of at most `limit` bytes, stopping as soon as it is
/// larger, so an oversized upload is refused without being held in memory.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest {
            field: Some("body".into()),
            message: format!("the upload broke off: {e}"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        items: Vec<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        code: String,
    }

    fn field_of(json: &str) -> (u16, Option<String>) {
        use actix_web::ResponseError;
        match parse_json::<Outer>(json.as_bytes()) {
            Ok(_) => (200, None),
            Err(e) => {
                let field = match &e {
                    ApiError::InvalidField { field, .. } => Some(field.clone()),
                    _ => None,
                };
                (e.status_code().as_u16(), field)
            }
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(field_of(r#"{"items": []}"#), (422, Some("name".into())));
        assert_eq!(
            field_of(r#"{"name": "x", "items": [{"code": "a"}, {}]}"#),
            (422, Some("items[1].code".into()))
        );
        assert_eq!(
            field_of(r#"{"name": 5, "items": []}"#),
            (422, Some("name".into()))
        );
        assert_eq!(
            field_of(r#"{"name": "x", "items": [], "extra": 1}"#),
            (422, Some("extra".into()))
        );
        assert_eq!(field_of(r#"{"name": "x", "#), (400, None));
        assert_eq!(
            field_of(r#"{"name": "x", "items": []} trailing"#),
            (400, None)
        );
    }

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        assert_eq!(
            field_of(r#"{"name": "a\u0000b", "items": []}"#),
            (422, Some("name".into()))
        );
        assert_eq!(
            field_of(r#"{"name": "x", "items": [{"code": "ok"}, {"code": "\u0000"}]}"#),
            (422, Some("items[1].code".into()))
        );
        assert_eq!(
            field_of(r#"{"name": "a\\u0000 is text, not NUL", "items": []}"#),
            (200, None)
        );
        let form = parse_form::<std::collections::HashMap<String, String>>(b"username=a%00b");
        assert!(matches!(form, Err(ApiError::InvalidField { field, .. }) if field == "username"));
        let uri: actix_web::http::Uri = "/x?page=1&q=a%00".parse().unwrap();
        assert!(
            matches!(refuse_nul_in_uri(&uri), Err(ApiError::InvalidField { field, .. }) if field == "q")
        );
        let uri: actix_web::http::Uri = "/api/v1/requests/a%00b".parse().unwrap();
        assert!(
            matches!(refuse_nul_in_uri(&uri), Err(ApiError::InvalidField { field, .. }) if field == "path")
        );
    }

    #[test]
    fn pagination_is_validated() {
        assert_eq!(
            parse_page("").unwrap(),
            Page {
                page: 1,
                per_page: 50
            }
        );
        assert_eq!(
            parse_page("page=3&per_page=10").unwrap(),
            Page {
                page: 3,
                per_page: 10
            }
        );
        assert!(parse_page("page=0").is_err());
        assert!(parse_page("per_page=201").is_err());
        assert!(parse_page("page=abc").is_err());
    }
}
