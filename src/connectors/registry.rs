//! Which catalog systems loket can reach, and opening a connector to one: the system's SQL
//! mapping comes from the catalog, its connection URL from the configuration, and the
//! anonymisation key from loket's secrets. Sweeps and request tasks both open connectors here.
//!
//! Connections are pooled per system: a task, a package build or a sweep checks one out
//! ([`Connectors::open`]) and it goes back when the [`Checkout`] is dropped. Connecting (and
//! reading the schema of the mapped tables) cost more than the lookups of a whole access
//! request; a pooled connection is reused only while its mapping is the catalog's, no
//! statement on it failed, and it has been idle less than [`MAX_IDLE`].

use super::http::{HttpConnector, SecretSource};
use super::{ConnectorError, SqlConnector};
use crate::catalog::model::{ConnectorKind, System};
use crate::config::Secret;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Idle connections kept per system: one per blocking worker that usually runs connector work
/// at the same time; more would only hold the organisation's connection slots.
const IDLE_PER_SYSTEM: usize = 4;
/// How long an idle connection is kept: the schema read at connect time may have changed.
const MAX_IDLE: Duration = Duration::from_secs(300);

/// The configured connection URLs and the `keyed_hash` key; cheap to clone.
#[derive(Clone, Default)]
pub struct Connectors {
    urls: Arc<BTreeMap<String, Secret>>,
    hash_key: Arc<[u8; 32]>,
    pools: Arc<Mutex<BTreeMap<String, SystemPool>>>,
    /// The secrets HTTP definitions name (`[connector_secrets]`, then the environment).
    secrets: SecretSource,
}

/// One system's idle connections and what was done through them.
#[derive(Default)]
struct SystemPool {
    idle: Vec<(SqlConnector, Instant)>,
    usage: Usage,
}

/// Statements run and connections made to one system since start: what shows that a package
/// reads each system once and that tasks reuse connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub connections: u64,
    pub statements: u64,
}

/// A connector checked out of its system's pool; derefs to [`SqlConnector`] and goes back to
/// the pool when dropped.
pub struct Checkout {
    connector: Option<SqlConnector>,
    pools: Arc<Mutex<BTreeMap<String, SystemPool>>>,
}

impl std::ops::Deref for Checkout {
    type Target = SqlConnector;
    fn deref(&self) -> &SqlConnector {
        self.connector.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Checkout {
    fn deref_mut(&mut self) -> &mut SqlConnector {
        self.connector.as_mut().expect("present until dropped")
    }
}

impl std::fmt::Debug for Checkout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.connector.fmt(f)
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let Some(connector) = self.connector.take() else {
            return;
        };
        let Ok(mut pools) = self.pools.lock() else {
            return;
        };
        let pool = pools.entry(connector.system().to_string()).or_default();
        pool.usage.statements += connector.take_statements();
        // A connection on which a statement failed may be broken or inside a failed
        // transaction: it is closed rather than handed to the next task.
        if !connector.failed_before() && pool.idle.len() < IDLE_PER_SYSTEM {
            pool.idle.push((connector, Instant::now()));
        }
    }
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
            pools: Arc::default(),
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

    /// Statements run and connections made to `system` since start, by connectors given back.
    pub fn usage(&self, system: &str) -> Usage {
        self.pools
            .lock()
            .map(|pools| pools.get(system).map(|pool| pool.usage).unwrap_or_default())
            .unwrap_or_default()
    }

    /// A connector to `system`: an idle pooled one when it still fits the catalog's mapping,
    /// otherwise a new connection (blocking: call from a blocking thread).
    pub fn open(&self, system: &System) -> Result<Checkout, ConnectorError> {
        let pooled = self.pools.lock().ok().and_then(|mut pools| {
            let pool = pools.get_mut(&system.key)?;
            while let Some((connector, since)) = pool.idle.pop() {
                let fits = Some(connector.mapping()) == system.sql.as_ref()
                    && system.connector == ConnectorKind::Sql
                    && self.urls.contains_key(&system.key);
                if fits && since.elapsed() < MAX_IDLE {
                    return Some(connector);
                }
            }
            None
        });
        let connector = match pooled {
            Some(connector) => connector,
            None => {
                let connector = self.connect(system)?;
                if let Ok(mut pools) = self.pools.lock() {
                    pools
                        .entry(system.key.clone())
                        .or_default()
                        .usage
                        .connections += 1;
                }
                connector
            }
        };
        Ok(Checkout {
            connector: Some(connector),
            pools: self.pools.clone(),
        })
    }

    /// A new connection to `system`.
    fn connect(&self, system: &System) -> Result<SqlConnector, ConnectorError> {
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
