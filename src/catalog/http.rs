//! What a `connector: http` system looks like in the catalog: a base URL, how loket signs in,
//! a harmless request to check access, and per operation the requests to make. Secrets are
//! named here and looked up in the configuration or the environment, never written here.

use crate::catalog::model::IdentifierKind;
use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The operations a definition may describe. `locate` finds the person's records (and their
/// ids, for the other operations' `{id}`); `anonymise` stands in for `erase` where a service
/// cannot delete.
pub const OPERATIONS: &[&str] = &[
    "locate",
    "export",
    "erase",
    "anonymise",
    "restrict",
    "correct",
];

/// The placeholders a request may use besides the identifier kinds: the id of a located
/// record, and for `correct` the field and its new value.
const RECORD_PLACEHOLDERS: &[&str] = &["id", "column", "value"];

/// A system reached over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpDefinition {
    /// `https://acme.zendesk.com/api/v2`; the configuration's `connectors.<key>` replaces it
    /// (the organisation's own subdomain, or a test's mock).
    pub base_url: String,
    /// `auth: {bearer: {token: NAME}}`: one-key maps, as YAML writes them without tags.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_yaml::with::singleton_map"
    )]
    pub auth: Option<Auth>,
    /// Per request; 30 seconds when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// A harmless request `loket connectors check` makes to verify access.
    pub check: Call,
    /// The requests of each operation, in order, by operation name ([`OPERATIONS`]).
    pub operations: BTreeMap<String, Vec<Call>>,
}

/// How loket signs in. Each value names a secret: an entry of the configuration's
/// `[connector_secrets]` or, failing that, an environment variable of that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    Bearer {
        token: String,
    },
    Basic {
        username: String,
        password: String,
    },
    Oauth2ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
}

impl Auth {
    /// (field, secret name) of every secret the authentication needs.
    pub fn secrets(&self) -> Vec<(String, &str)> {
        match self {
            Auth::Bearer { token } => vec![("auth.bearer.token".into(), token.as_str())],
            Auth::Basic { username, password } => vec![
                ("auth.basic.username".into(), username.as_str()),
                ("auth.basic.password".into(), password.as_str()),
            ],
            Auth::Oauth2ClientCredentials {
                client_id,
                client_secret,
                ..
            } => vec![
                (
                    "auth.oauth2_client_credentials.client_id".into(),
                    client_id.as_str(),
                ),
                (
                    "auth.oauth2_client_credentials.client_secret".into(),
                    client_secret.as_str(),
                ),
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// One request. `{email}`, `{customer_number}`, `{phone}` (the person's identifiers), `{id}`
/// (each located record: the request is made once per record), `{column}` and `{value}`
/// (a correction) may appear in the path, query values and body strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// What the records are called in evidence and packages (`tickets`); the last part of
    /// `records` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub method: Method,
    /// Relative to the base URL: `/users/{id}.json`.
    pub path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// A JSON body (sent with `Content-Type: application/json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Dotted path to the list of records in the response (`results`, `data.items`); a path
    /// to one object counts as one record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
    /// export: the fields of each record a package gives, in order (nested values as JSON);
    /// the whole record as one `record` column when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// The field of a record that is its id; `id` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_yaml::with::singleton_map"
    )]
    pub pagination: Option<Pagination>,
    /// The statuses that mean success; any 2xx when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub success: Vec<u16>,
}

/// How to ask for the next page of records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// `?offset=0&limit=100`, then `offset=100`, … until a page holds fewer than `limit`.
    Offset {
        param: String,
        limit_param: String,
        limit: u32,
    },
    /// The response's `next` path holds a cursor, sent back as `param` (in the body when the
    /// request has one, else in the query) until it is absent.
    Cursor { param: String, next: String },
    /// The response's `next` path holds the full URL of the next page until it is null.
    NextLink { next: String },
}

impl Call {
    /// The placeholders in the path, query values and body strings.
    pub fn placeholders(&self) -> Vec<String> {
        let mut found = Vec::new();
        collect_placeholders(&self.path, &mut found);
        for value in self.query.values() {
            collect_placeholders(value, &mut found);
        }
        if let Some(body) = &self.body {
            visit_strings(body, &mut |text| collect_placeholders(text, &mut found));
            visit_keys(body, &mut |key| collect_placeholders(key, &mut found));
        }
        found.sort();
        found.dedup();
        found
    }

    /// Whether the request is made once per located record.
    pub fn per_record(&self) -> bool {
        self.placeholders().iter().any(|p| p == "id")
    }

    /// The identifier kinds the request needs.
    pub fn identifier_kinds(&self) -> Vec<IdentifierKind> {
        self.placeholders()
            .iter()
            .filter_map(|name| identifier_kind(name))
            .collect()
    }

    /// What its records are called.
    pub fn records_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| {
                self.records
                    .as_deref()
                    .and_then(|path| path.rsplit('.').next())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "records".into())
    }

    /// The field of a record that is its id.
    pub fn id_field(&self) -> &str {
        self.id.as_deref().unwrap_or("id")
    }

    /// `GET /users/{id}.json`: the request as written, never with values filled in.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }
}

fn identifier_kind(name: &str) -> Option<IdentifierKind> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

fn collect_placeholders(text: &str, found: &mut Vec<String>) {
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        found.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
}

fn visit_strings(value: &serde_json::Value, visit: &mut dyn FnMut(&str)) {
    match value {
        serde_json::Value::String(text) => visit(text),
        serde_json::Value::Array(items) => items.iter().for_each(|v| visit_strings(v, visit)),
        serde_json::Value::Object(map) => map.values().for_each(|v| visit_strings(v, visit)),
        _ => {}
    }
}

fn visit_keys(value: &serde_json::Value, visit: &mut dyn FnMut(&str)) {
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|v| visit_keys(v, visit)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| {
            visit(k);
            visit_keys(v, visit)
        }),
        _ => {}
    }
}

/// A secret's name: an environment variable's (`ZENDESK_API_TOKEN`).
fn is_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('A'..='Z'))
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

impl HttpDefinition {
    /// Checks the definition on its own; fields relative to it (`operations.delete_all`).
    /// `identifier_kinds` are the system's: a request may use only those.
    pub fn validate(&self, identifier_kinds: &[IdentifierKind]) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut add = |field: String, message: String| errors.push(FieldError::new(field, message));
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            add(
                "base_url".into(),
                "must start with https:// (or http:// on loopback)".into(),
            );
        }
        if let Some(auth) = &self.auth {
            for (field, name) in auth.secrets() {
                if !is_secret_name(name) {
                    add(
                        field,
                        "must name a secret (capitals, digits and _, like ZENDESK_API_TOKEN); the secret itself belongs in the configuration or the environment, never in the catalog".into(),
                    );
                }
            }
            if let Auth::Oauth2ClientCredentials { token_url, .. } = auth {
                if !token_url.starts_with("https://") && !token_url.starts_with("http://") {
                    add(
                        "auth.oauth2_client_credentials.token_url".into(),
                        "must be a URL".into(),
                    );
                }
            }
        }
        if self.timeout_seconds == Some(0) {
            add("timeout_seconds".into(), "must be at least 1".into());
        }
        check_call("check", &self.check, identifier_kinds, false, &mut add);
        if !self.operations.contains_key("locate") {
            add(
                "operations".into(),
                "a `locate` operation is required: it finds the person's records".into(),
            );
        }
        for (name, calls) in &self.operations {
            let field = format!("operations.{name}");
            if !OPERATIONS.contains(&name.as_str()) {
                add(
                    field,
                    format!(
                        "unknown operation '{name}' (expected one of {})",
                        OPERATIONS.join(", ")
                    ),
                );
                continue;
            }
            if calls.is_empty() {
                add(field.clone(), "must list at least one request".into());
            }
            for (index, call) in calls.iter().enumerate() {
                let field = format!("{field}[{index}]");
                check_call(&field, call, identifier_kinds, name != "locate", &mut add);
                if name == "export" && call.records.is_none() {
                    add(
                        format!("{field}.records"),
                        "an export request must say where its records are in the response".into(),
                    );
                }
                if name == "locate" && call.records.is_none() {
                    add(
                        format!("{field}.records"),
                        "a locate request must say where the records are in the response".into(),
                    );
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn check_call(
    field: &str,
    call: &Call,
    identifier_kinds: &[IdentifierKind],
    may_use_records: bool,
    add: &mut impl FnMut(String, String),
) {
    if !call.path.starts_with('/') {
        add(format!("{field}.path"), "must start with /".into());
    }
    for placeholder in call.placeholders() {
        let known = match identifier_kind(&placeholder) {
            Some(kind) => identifier_kinds.contains(&kind),
            None => may_use_records && RECORD_PLACEHOLDERS.contains(&placeholder.as_str()),
        };
        if !known {
            add(
                format!("{field}.path"),
                format!("unknown placeholder {{{placeholder}}} (an identifier kind of the system, or {{id}}, {{column}}, {{value}} outside locate and check)"),
            );
        }
    }
    if call
        .success
        .iter()
        .any(|status| !(100..600).contains(status))
    {
        add(format!("{field}.success"), "must list HTTP statuses".into());
    }
    if let Some(Pagination::Offset { limit: 0, .. }) = &call.pagination {
        add(
            format!("{field}.pagination.offset.limit"),
            "must be at least 1".into(),
        );
    }
    if call.pagination.is_some() && call.records.is_none() {
        add(
            format!("{field}.pagination"),
            "paginates records: give `records` too".into(),
        );
    }
}
