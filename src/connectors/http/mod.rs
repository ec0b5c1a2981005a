//! `connector: http`: services reached over HTTP (ticketing, CRM, marketing), described
//! declaratively in the catalog ([`HttpDefinition`]) and driven like the SQL connectors: locate,
//! export, erase (or anonymise), restrict and correct a person's records.
//!
//! **Blocking**, like [`super::SqlConnector`]: call it from a blocking thread.
//!
//! A 429 or 503 is retried (at most [`ATTEMPTS`] times) after its `Retry-After`, or an
//! exponential backoff without one; any other failure ends the operation. Errors name the
//! system, the operation and the request as written in the definition (`DELETE /users/{id}`),
//! never a URL with values filled in, a response body or a secret: those may hold personal data.

mod check;

pub use check::check_file;

// The definition is part of the catalog's language (a system's `http:`); the connector drives it.
pub use crate::catalog::http::{Auth, Call, HttpDefinition, Method, Pagination, OPERATIONS};

use super::{ConnectorError, TableCounts};
use crate::catalog::model::IdentifierKind;
use crate::config::Secret;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The column that holds a whole record in a package, for an export request without `fields`.
pub const WHOLE_RECORD: &str = "record";
/// Tries per request when the service asks loket to slow down.
pub const ATTEMPTS: u32 = 4;
/// The longest `Retry-After` loket waits; a service asking more fails the run, which can be
/// retried later.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Pages followed at most per request: a service that always answers "next" cannot loop forever.
const MAX_PAGES: usize = 1000;

type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// Where secrets come from: the configuration's `[connector_secrets]` (names compared without
/// case, as environment-sourced configuration lowercases them), then the environment.
#[derive(Clone, Default)]
pub struct SecretSource {
    configured: BTreeMap<String, Secret>,
}

impl SecretSource {
    pub fn new(configured: &BTreeMap<String, Secret>) -> Self {
        SecretSource {
            configured: configured
                .iter()
                .map(|(name, secret)| (name.to_lowercase(), secret.clone()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.configured
            .get(&name.to_lowercase())
            .map(|secret| secret.expose().to_string())
            .or_else(|| std::env::var(name).ok())
    }
}

/// A connection to one HTTP system.
pub struct HttpConnector {
    system: String,
    definition: HttpDefinition,
    base_url: String,
    client: reqwest::blocking::Client,
    /// `Authorization` header value, resolved once (an OAuth2 token is fetched on opening).
    authorization: Option<String>,
}

impl std::fmt::Debug for HttpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConnector")
            .field("system", &self.system)
            .finish_non_exhaustive()
    }
}

/// What a definition lacks to run: (field, message), fields relative to the definition.
pub fn missing_secrets(
    definition: &HttpDefinition,
    secrets: &SecretSource,
) -> Vec<(String, String)> {
    definition
        .auth
        .iter()
        .flat_map(Auth::secrets)
        .filter(|(_, name)| secrets.get(name).is_none())
        .map(|(field, name)| {
            (
                field,
                format!(
                    "secret {name} is not configured (connector_secrets.{name} in the configuration, or the environment variable {name})"
                ),
            )
        })
        .collect()
}

impl HttpConnector {
    /// Resolves the secrets and builds the client; `base_url` overrides the definition's.
    pub fn open(
        system: &str,
        definition: HttpDefinition,
        base_url: Option<&str>,
        secrets: &SecretSource,
    ) -> Result<Self> {
        let missing = missing_secrets(&definition, secrets);
        if let Some((field, message)) = missing.into_iter().next() {
            return Err(ConnectorError::Definition {
                system: system.to_string(),
                field: format!("http.{field}"),
                message,
            });
        }
        let timeout = Duration::from_secs(definition.timeout_seconds.unwrap_or(30));
        let client = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("loket/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Connect {
                system: system.to_string(),
                reason: e.to_string(),
            })?;
        let base_url = base_url
            .unwrap_or(&definition.base_url)
            .trim_end_matches('/')
            .to_string();
        let secret = |name: &str| secrets.get(name).unwrap_or_default();
        let mut connector = HttpConnector {
            system: system.to_string(),
            base_url,
            client,
            authorization: None,
            definition,
        };
        connector.authorization = match connector.definition.auth.clone() {
            None => None,
            Some(Auth::Bearer { token }) => Some(format!("Bearer {}", secret(&token))),
            Some(Auth::Basic { username, password }) => {
                use base64::Engine;
                let pair = format!("{}:{}", secret(&username), secret(&password));
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            Some(Auth::Oauth2ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
            }) => Some(format!(
                "Bearer {}",
                connector.oauth2_token(
                    &token_url,
                    &secret(&client_id),
                    &secret(&client_secret),
                    scope
                )?
            )),
        };
        Ok(connector)
    }

    pub fn system(&self) -> &str {
        &self.system
    }

    pub fn definition(&self) -> &HttpDefinition {
        &self.definition
    }

    /// The names of what an export holds, in the order of the export's requests.
    pub fn export_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for call in self.calls("export") {
            let name = call.records_name();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The export's record sets as package tables: (name, id field, columns with the id first).
    /// Without `fields`, a record is given whole, as one `record` column.
    pub fn export_tables(definition: &HttpDefinition) -> Vec<(String, String, Vec<String>)> {
        let mut tables: Vec<(String, String, Vec<String>)> = Vec::new();
        for call in definition.operations.get("export").into_iter().flatten() {
            let name = call.records_name();
            if tables.iter().any(|(known, _, _)| *known == name) {
                continue;
            }
            let key = call.id_field().to_string();
            let mut columns = vec![key.clone()];
            if call.fields.is_empty() {
                columns.push(WHOLE_RECORD.into());
            }
            columns.extend(call.fields.iter().filter(|f| **f != key).cloned());
            tables.push((name, key, columns));
        }
        tables
    }

    /// Makes the harmless `check` request and, for each GET locate or export request that
    /// needs no located record, a search with sample identifiers: every `records` path must be
    /// in its response. Problems as (field relative to the definition, message).
    pub fn check(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let fill = Fill::sample();
        let check = self.definition.check.clone();
        if let Err(error) = self.records_of("check", &check, &fill, 1) {
            problems.push((problem_field("check", &error), error));
        }
        for operation in ["locate", "export"] {
            for (index, call) in self.calls(operation).into_iter().enumerate() {
                if call.method != Method::Get || call.per_record() {
                    continue;
                }
                if let Err(error) = self.records_of(operation, &call, &fill, 1) {
                    let field = format!("operations.{operation}[{index}]");
                    problems.push((problem_field(&field, &error), error));
                }
            }
        }
        problems
    }

    /// The person's records found by `locate`, by name, each with its id.
    pub fn locate(&self, identifiers: &[(IdentifierKind, String)]) -> Result<Located> {
        let fill = Fill::person(identifiers);
        let mut located = Located::default();
        let mut searched = false;
        for (index, call) in self.calls("locate").into_iter().enumerate() {
            if !fill.can_fill(&call) {
                continue;
            }
            searched = true;
            let records = self
                .records_of("locate", &call, &fill, MAX_PAGES)
                .map_err(|message| self.failed("locate", &call, message))?;
            let id_field = call.id_field().to_string();
            for record in &records {
                let Some(id) = record.get(&id_field).and_then(scalar_text) else {
                    return Err(ConnectorError::Definition {
                        system: self.system.clone(),
                        field: format!("http.operations.locate[{index}].id"),
                        message: format!("a located record has no `{id_field}`"),
                    });
                };
                if !located.ids.contains(&id) {
                    located.ids.push(id);
                }
            }
            *located.counts.entry(call.records_name()).or_default() += records.len() as u64;
        }
        if !searched {
            return Err(ConnectorError::NoIdentifier {
                system: self.system.clone(),
            });
        }
        Ok(located)
    }

    /// The person's records, by name: `{"users": […], "tickets": […]}`.
    pub fn export(
        &self,
        identifiers: &[(IdentifierKind, String)],
    ) -> Result<BTreeMap<String, Vec<Value>>> {
        let located = self.locate(identifiers)?;
        let mut exported: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for call in self.calls("export") {
            let mut records = Vec::new();
            for fill in Fill::person(identifiers).for_call(&call, &located.ids) {
                records.extend(
                    self.records_of("export", &call, &fill, MAX_PAGES)
                        .map_err(|message| self.failed("export", &call, message))?,
                );
            }
            exported
                .entry(call.records_name())
                .or_default()
                .extend(records);
        }
        Ok(exported)
    }

    /// Runs `operation` (`erase`, `anonymise` or `restrict`) on the person's located records;
    /// returns what was found, by name. Nothing located, nothing done.
    pub fn apply(
        &self,
        operation: &str,
        identifiers: &[(IdentifierKind, String)],
        correction: Option<(&str, &str)>,
    ) -> Result<TableCounts> {
        let located = self.locate(identifiers)?;
        if located.ids.is_empty() {
            return Ok(located.counts);
        }
        let calls = self.calls(operation);
        if calls.is_empty() {
            return Err(ConnectorError::Definition {
                system: self.system.clone(),
                field: "http.operations".into(),
                message: format!("the definition has no `{operation}` operation"),
            });
        }
        let mut person = Fill::person(identifiers);
        if let Some((column, value)) = correction {
            person.values.insert("column".into(), column.to_string());
            person.values.insert("value".into(), value.to_string());
        }
        for call in calls {
            for fill in person.for_call(&call, &located.ids) {
                self.send(&call, &fill, None)
                    .map_err(|message| self.failed(operation, &call, message))?;
            }
        }
        Ok(located.counts)
    }

    /// Whether the definition has an operation.
    pub fn has(&self, operation: &str) -> bool {
        self.definition.operations.contains_key(operation)
    }

    fn calls(&self, operation: &str) -> Vec<Call> {
        self.definition
            .operations
            .get(operation)
            .cloned()
            .unwrap_or_default()
    }

    fn failed(&self, operation: &str, call: &Call, message: String) -> ConnectorError {
        ConnectorError::Http {
            system: self.system.clone(),
            step: format!("{operation} ({})", call.describe()),
            message,
        }
    }

    /// Every record of a request, following its pagination for at most `pages` pages.
    fn records_of(
        &self,
        _operation: &str,
        call: &Call,
        fill: &Fill,
        pages: usize,
    ) -> std::result::Result<Vec<Value>, String> {
        let mut records = Vec::new();
        let mut page = Page::First;
        for _ in 0..pages {
            let response = self.send(call, fill, Some(&page))?;
            let Some(path) = &call.records else {
                return Ok(records);
            };
            let found = at_path(&response, path)
                .ok_or_else(|| format!("{NO_RECORDS} `{path}` (the records path)"))?;
            let fetched = match found {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                other => vec![other.clone()],
            };
            let count = fetched.len();
            records.extend(fetched);
            page = match &call.pagination {
                None => break,
                Some(Pagination::Offset { limit, .. }) => {
                    if count < *limit as usize {
                        break;
                    }
                    Page::Offset(records.len())
                }
                Some(Pagination::Cursor { next, .. }) => {
                    match at_path(&response, next).and_then(scalar_text) {
                        Some(cursor) if !cursor.is_empty() => Page::Cursor(cursor),
                        _ => break,
                    }
                }
                Some(Pagination::NextLink { next }) => match at_path(&response, next) {
                    Some(Value::String(url)) if !url.is_empty() => Page::Link(url.clone()),
                    _ => break,
                },
            };
        }
        Ok(records)
    }

    /// One request (with its retries); the parsed JSON body, or null when there is none.
    fn send(
        &self,
        call: &Call,
        fill: &Fill,
        page: Option<&Page>,
    ) -> std::result::Result<Value, String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.request(call, fill, page)?;
            let response = match request.send() {
                Ok(response) => response,
                Err(error) if error.is_timeout() => {
                    return Err("the service did not answer in time".into())
                }
                Err(error) if error.is_connect() => {
                    return Err("cannot connect to the service".into())
                }
                Err(_) => return Err("the request failed".into()),
            };
            let status = response.status();
            let succeeded = if call.success.is_empty() {
                status.is_success()
            } else {
                call.success.contains(&status.as_u16())
            };
            if succeeded {
                let text = response
                    .text()
                    .map_err(|_| "the response could not be read".to_string())?;
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text)
                    .map_err(|_| "the response is not JSON".to_string());
            }
            let slow_down = status.as_u16() == 429 || status.as_u16() == 503;
            if slow_down && attempt < ATTEMPTS {
                std::thread::sleep(retry_after(&response, attempt));
                continue;
            }
            let mut message = format!("the service answered {status}");
            if slow_down {
                message.push_str(&format!(" {attempt} times; try again later"));
            }
            return Err(message);
        }
    }

    fn request(
        &self,
        call: &Call,
        fill: &Fill,
        page: Option<&Page>,
    ) -> std::result::Result<reqwest::blocking::RequestBuilder, String> {
        let method = match call.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut body = call.body.as_ref().map(|body| fill.json(body));
        let mut query: Vec<(String, String)> = call
            .query
            .iter()
            .map(|(name, value)| (name.clone(), fill.text(value)))
            .collect();
        let url = match page {
            Some(Page::Link(url)) => {
                // A next link is the service's own: it already holds the query.
                query.clear();
                url.clone()
            }
            _ => format!("{}{}", self.base_url, fill.path(&call.path)),
        };
        match (page, &call.pagination) {
            (
                Some(Page::Offset(offset)),
                Some(Pagination::Offset {
                    param,
                    limit_param,
                    limit,
                }),
            ) => {
                query.push((param.clone(), offset.to_string()));
                query.push((limit_param.clone(), limit.to_string()));
            }
            (
                Some(Page::First),
                Some(Pagination::Offset {
                    param,
                    limit_param,
                    limit,
                }),
            ) => {
                query.push((param.clone(), "0".into()));
                query.push((limit_param.clone(), limit.to_string()));
            }
            (Some(Page::Cursor(cursor)), Some(Pagination::Cursor { param, .. })) => {
                match body.as_mut() {
                    Some(Value::Object(fields)) => {
                        fields.insert(param.clone(), Value::String(cursor.clone()));
                    }
                    _ => query.push((param.clone(), cursor.clone())),
                }
            }
            _ => {}
        }
        let mut request = self
            .client
            .request(method, &url)
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(&query);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Ok(request)
    }

    fn oauth2_token(
        &self,
        token_url: &str,
        client_id: &str,
        client_secret: &str,
        scope: Option<String>,
    ) -> Result<String> {
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", client_id.to_string()),
            ("client_secret", client_secret.to_string()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let failed = |message: &str| ConnectorError::Http {
            system: self.system.clone(),
            step: "sign-in (OAuth2 client credentials)".into(),
            message: message.to_string(),
        };
        let response = self
            .client
            .post(token_url)
            .form(&form)
            .send()
            .map_err(|_| failed("the token request failed"))?;
        if !response.status().is_success() {
            return Err(failed(&format!(
                "the token endpoint answered {}",
                response.status()
            )));
        }
        let body: Value = response
            .json()
            .map_err(|_| failed("the token response is not JSON"))?;
        body.get("access_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| failed("the token response has no access_token"))
    }
}

/// What `locate` found: record counts by name and the records' ids.
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub counts: TableCounts,
    pub ids: Vec<String>,
}

enum Page {
    First,
    Offset(usize),
    Cursor(String),
    Link(String),
}

/// The values placeholders are filled with.
#[derive(Clone)]
struct Fill {
    values: BTreeMap<String, String>,
}

impl Fill {
    fn person(identifiers: &[(IdentifierKind, String)]) -> Self {
        Fill {
            values: identifiers
                .iter()
                .filter(|(_, value)| !value.trim().is_empty())
                .map(|(kind, value)| (kind.as_str().to_string(), value.trim().to_string()))
                .collect(),
        }
    }

    /// Harmless sample identifiers for `connectors check`: nobody has them.
    fn sample() -> Self {
        let values = [
            ("email", "loket-check@example.invalid"),
            ("customer_number", "LOKET-CHECK"),
            ("phone", "0000000000"),
        ];
        Fill {
            values: values
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn can_fill(&self, call: &Call) -> bool {
        call.placeholders()
            .iter()
            .all(|name| name == "id" || self.values.contains_key(name))
    }

    /// One fill per located id when the request is per record, else this one.
    fn for_call(&self, call: &Call, ids: &[String]) -> Vec<Fill> {
        if !self.can_fill(call) {
            return Vec::new();
        }
        if !call.per_record() {
            return vec![self.clone()];
        }
        ids.iter()
            .map(|id| {
                let mut fill = self.clone();
                fill.values.insert("id".into(), id.clone());
                fill
            })
            .collect()
    }

    fn text(&self, template: &str) -> String {
        self.replace(template, |value| value.to_string())
    }

    /// Values in a path are percent-encoded: an e-mail address holds `@` and `+`.
    fn path(&self, template: &str) -> String {
        self.replace(template, percent_encode)
    }

    fn json(&self, template: &Value) -> Value {
        match template {
            Value::String(text) => Value::String(self.text(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.json(v)).collect()),
            // Keys too: a correction names the field it sets (`{"{column}": "{value}"}`).
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.text(k), self.json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn replace(&self, template: &str, encode: impl Fn(&str) -> String) -> String {
        let mut out = template.to_string();
        for (name, value) in &self.values {
            out = out.replace(&format!("{{{name}}}"), &encode(value));
        }
        out
    }
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A missing records path is the `records` field's fault; anything else the request's.
fn problem_field(call: &str, error: &str) -> String {
    if error.starts_with(NO_RECORDS) {
        format!("{call}.records")
    } else {
        call.to_string()
    }
}

const NO_RECORDS: &str = "the response has no";

/// The value at a dotted path (`paging.next.after`).
fn at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .filter(|part| !part.is_empty())
        .try_fold(value, |current, part| current.get(part))
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// `Retry-After` in seconds (capped), or 1, 2, 4 … seconds without one.
fn retry_after(response: &reqwest::blocking::Response, attempt: u32) -> Duration {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or_else(|| Duration::from_secs(1 << (attempt - 1).min(4)))
        .min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_nested_values_and_placeholders_are_encoded_in_paths() {
        let value = serde_json::json!({"paging": {"next": {"after": "42"}}});
        assert_eq!(
            at_path(&value, "paging.next.after"),
            Some(&Value::from("42"))
        );
        assert_eq!(at_path(&value, "paging.previous"), None);
        let fill = Fill::person(&[(IdentifierKind::Email, "jan+x@example.nl".into())]);
        assert_eq!(fill.path("/users/{email}"), "/users/jan%2Bx%40example.nl");
        assert_eq!(fill.text("email:{email}"), "email:jan+x@example.nl");
    }
}
