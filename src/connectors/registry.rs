//! Which catalog systems loket can reach, and opening a connector to one: the system's SQL
//! mapping comes from the catalog, its connection URL from the configuration, and the
//! anonymisation key from loket's secrets. Sweeps and request tasks both open connectors here.

use super::http::{HttpConnector, SecretSource};
use super::{ConnectorError, SqlConnector};
use crate::catalog::model::{ConnectorKind, System};
use crate::config::Secret;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The configured connection URLs and the `keyed_hash` key; cheap to clone.
#[derive(Clone, Default)]
pub struct Connectors {
    urls: Arc<BTreeMap<String, Secret>>,
    hash_key: Arc<[u8; 32]>,
    /// The secrets HTTP definitions name (`[connector_secrets]`, then the environment).
    secrets: SecretSource,
}

impl std::fmt::Debug for Connectors {
    // URLs carry passwords: only which systems are configured is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors")
            .field("systems", &self.urls.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Connectors {
    pub fn new(urls: BTreeMap<String, Secret>, hash_key: [u8; 32]) -> Self {
        Connectors {
            urls: Arc::new(urls),
            hash_key: Arc::new(hash_key),
            secrets: SecretSource::default(),
        }
    }

    /// The configured secrets HTTP definitions name.
    pub fn with_http_secrets(mut self, secrets: &BTreeMap<String, Secret>) -> Self {
        self.secrets = SecretSource::new(secrets);
        self
    }

    /// Whether `system` is reached over HTTP: `connector: http` with a definition. Its secrets
    /// are checked when it is opened, so a missing one is an error that names it.
    pub fn reaches_http(&self, system: &System) -> bool {
        system.connector == ConnectorKind::Http && system.http.is_some()
    }

    /// Whether a checklist task on `system` can run through a connector of either kind.
    pub fn reaches_any(&self, system: &System) -> bool {
        self.reaches(system) || self.reaches_http(system)
    }

    /// Opens the HTTP connector of `system` (blocking: an OAuth2 sign-in is a request). The
    /// configuration's `connectors.<key>` URL, when set, replaces the definition's base URL.
    pub fn open_http(&self, system: &System) -> Result<HttpConnector, ConnectorError> {
        let Some(definition) = system.http.clone().filter(|_| self.reaches_http(system)) else {
            return Err(ConnectorError::NotReachable {
                system: system.key.clone(),
                reason: "the catalog gives it no HTTP definition (connector: http)".into(),
            });
        };
        let base_url = self.urls.get(&system.key).map(Secret::expose);
        HttpConnector::open(&system.key, definition, base_url, &self.secrets)
    }

    /// Checks every `connector: http` system of `systems`: its secrets are configured, the
    /// harmless `check` request succeeds, and the records paths are in the responses. Per
    /// system, the problems as (field of the system, message) (blocking).
    pub fn check_http(&self, systems: &[System]) -> Vec<(String, Vec<(String, String)>)> {
        systems
            .iter()
            .filter(|system| self.reaches_http(system))
            .map(|system| {
                let problems = match self.open_http(system) {
                    Ok(connector) => connector
                        .check()
                        .into_iter()
                        .map(|(field, message)| (format!("http.{field}"), message))
                        .collect(),
                    Err(ConnectorError::Definition { field, message, .. }) => {
                        let mut problems = vec![(field, message)];
                        if let Some(definition) = &system.http {
                            // Every missing secret, not only the first.
                            problems = super::http::missing_secrets(definition, &self.secrets)
                                .into_iter()
                                .map(|(field, message)| (format!("http.{field}"), message))
                                .collect();
                        }
                        problems
                    }
                    Err(error) => vec![("http".to_string(), error.to_string())],
                };
                (system.key.clone(), problems)
            })
            .collect()
    }

    /// Whether `system` can be reached: `connector: sql`, a mapping, and a configured URL.
    pub fn reaches(&self, system: &System) -> bool {
        system.connector == ConnectorKind::Sql
            && system.sql.is_some()
            && self.urls.contains_key(&system.key)
    }

    /// Connects to every reachable system of `systems` and checks that the mapped tables and
    /// columns exist: per system, nothing or what is wrong (blocking).
    pub fn check_all(&self, systems: &[System]) -> Vec<(String, Result<(), ConnectorError>)> {
        systems
            .iter()
            .filter(|system| system.connector == ConnectorKind::Sql)
            .map(|system| {
                let checked = self
                    .open(system)
                    .and_then(|mut connector| connector.check());
                (system.key.clone(), checked)
            })
            .collect()
    }

    /// Connects to `system` (blocking: call from a blocking thread).
    pub fn open(&self, system: &System) -> Result<SqlConnector, ConnectorError> {
        let not_reachable = |reason: &str| ConnectorError::NotReachable {
            system: system.key.clone(),
            reason: reason.to_string(),
        };
        if system.connector != ConnectorKind::Sql {
            return Err(not_reachable(
                "the catalog gives it no SQL connector (connector: manual)",
            ));
        }
        let Some(mapping) = &system.sql else {
            return Err(not_reachable("the catalog has no `sql:` mapping for it"));
        };
        let Some(url) = self.urls.get(&system.key) else {
            return Err(not_reachable(&format!(
                "no connection URL configured (connectors.{} or LOKET_CONNECTORS__{})",
                system.key,
                system.key.to_uppercase()
            )));
        };
        Ok(
            SqlConnector::open(&system.key, url.expose(), mapping.clone())?
                .with_hash_key(self.hash_key.as_slice()),
        )
    }
}
