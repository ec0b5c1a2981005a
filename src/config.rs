//! Configuration: built-in defaults, then `loket.toml` (optional), then `LOKET_*` environment
//! variables, each overriding the one before. With nothing set, loket runs on 127.0.0.1:8080 with
//! a SQLite file in `./data`.
//!
//! Secrets (the token signing key and the data-encryption key) come from the config or the
//! environment. On the embedded default only, missing secrets are generated once into a key file
//! readable by its owner alone, so a fresh clone works; production sets its own.

use base64::Engine;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The URL schemes an SQL connector accepts.
/// Where the policy files are read from unless configured otherwise.
pub const DEFAULT_POLICIES_DIR: &str = "policies";

/// `http(s)://` is the base URL of a `connector: http` system, replacing its definition's.
pub const CONNECTOR_SCHEMES: &[&str] = &[
    "sqlite://",
    "postgres://",
    "postgresql://",
    "mysql://",
    "https://",
    "http://",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A secret value: usable, never printed.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub bind: String,
    /// Where the embedded database, the generated key file and later outgoing mail live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; defaults to `sqlite://{data_dir}/loket.db`.
    pub database_url: Option<Secret>,
    /// Connections in the pool.
    pub pool_size: u32,
    /// HMAC key for access tokens, at least 32 bytes.
    pub jwt_secret: Option<Secret>,
    /// AES-256 key for requesters' personal data at rest, base64 of 32 bytes. New values are
    /// encrypted with it.
    pub data_key: Option<Secret>,
    /// Earlier data keys, still used to read what was encrypted before a rotation.
    pub old_data_keys: Vec<Secret>,
    /// HMAC key (base64 of 32 bytes) for the lookup index of e-mail addresses, customer numbers
    /// and phone numbers. Derived from `data_key` when not set: set it before rotating the data
    /// key, or earlier requests can no longer be found by those identifiers.
    pub index_key: Option<Secret>,
    /// HMAC key (base64 of 32 bytes) for the `keyed_hash` anonymisation of retention rules.
    /// Derived from `data_key` when not set; set it before rotating the data key, or values
    /// anonymised after the rotation no longer group with those before it.
    pub anonymise_key: Option<Secret>,
    /// HMAC key (base64 of 32 bytes) of the audit chain and its checkpoints. Derived from
    /// `data_key` when not set; set it before rotating the data key, or the chain written before
    /// the rotation no longer verifies. Never stored in the database.
    #[serde(default)]
    pub audit_key: Option<Secret>,
    /// How long an access token is valid; an agent's shift by default.
    pub token_ttl_minutes: i64,
    /// `pretty` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Where people reach loket: the base of links in letters (status pages, downloads).
    pub public_url: String,
    /// The directory of policy files (`*.yaml`); `serve` refuses to start on an invalid one.
    /// When it is the default (`policies`) and does not exist, the shipped policies are used.
    pub policies_dir: PathBuf,
    /// Requests per minute one IP address may make to the public routes (web form, codes,
    /// status pages).
    pub public_requests_per_minute: u32,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// Limits on password checks and failed sign-ins (`[sign_in]`).
    #[serde(default)]
    pub sign_in: crate::auth::guard::SignInSettings,
    /// Connection URL of each `connector: sql` system, by system key
    /// (`LOKET_CONNECTORS__CRM=postgres://…`). Kept here, never in the catalog, and never logged:
    /// a URL usually carries a password.
    #[serde(default)]
    pub connectors: BTreeMap<String, Secret>,
    /// Secrets `connector: http` definitions name (`LOKET_CONNECTOR_SECRETS__ZENDESK_API_TOKEN`);
    /// a name not here is read from the environment variable of that name.
    #[serde(default)]
    pub connector_secrets: BTreeMap<String, Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// Write each message as an `.eml` file into `mail.dir` (the embedded default).
    File,
    /// Send through an SMTP server.
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP; only for a relay on the same host or in tests.
    None,
    /// Upgrade with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailSettings {
    /// The From header of every letter.
    pub from: String,
    pub transport: MailTransportKind,
    /// For the file transport; defaults to `{data_dir}/mail`.
    pub dir: Option<PathBuf>,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret>,
    /// How long one SMTP conversation may take before it counts as a failed attempt.
    pub smtp_timeout_secs: u64,
    /// How often the outbox worker looks for mail to deliver (it is also woken on enqueue).
    pub poll_interval_ms: u64,
    /// Attempts before a message is marked failed and left for a person to look at.
    pub max_attempts: i32,
    /// First retry delay in milliseconds; doubles per attempt up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            from: "loket <privacy@localhost>".into(),
            transport: MailTransportKind::File,
            dir: None,
            smtp_host: "localhost".into(),
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_secs: 30,
            poll_interval_ms: 1000,
            // 5 s doubling to an hour: ten attempts span about four hours.
            max_attempts: 10,
            backoff_base_ms: 5_000,
            backoff_max_ms: 3_600_000,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            pool_size: 8,
            jwt_secret: None,
            data_key: None,
            old_data_keys: Vec::new(),
            index_key: None,
            anonymise_key: None,
            audit_key: None,
            token_ttl_minutes: 8 * 60,
            log_format: LogFormat::Pretty,
            max_body_bytes: 1024 * 1024,
            public_url: "http://127.0.0.1:8080".into(),
            policies_dir: PathBuf::from(DEFAULT_POLICIES_DIR),
            public_requests_per_minute: 10,
            mail: MailSettings::default(),
            sign_in: Default::default(),
            connectors: BTreeMap::new(),
            connector_secrets: BTreeMap::new(),
        }
    }
}

/// The secrets loket runs with, resolved from settings or the key file.
#[derive(Clone)]
pub struct Secrets {
    pub jwt_secret: Vec<u8>,
    pub data_key: [u8; 32],
    pub old_data_keys: Vec<[u8; 32]>,
    pub index_key: [u8; 32],
    /// The key of retention rules' `keyed_hash` anonymisation.
    pub anonymise_key: [u8; 32],
    /// The key of the audit chain and its checkpoints.
    pub audit_key: [u8; 32],
}

impl Secrets {
    /// The cipher of the data keys. It is made here, not in `crypto`, because the configuration
    /// already uses `crypto` to derive its keys: `crypto` knows nothing of the configuration.
    pub fn cipher(&self) -> crate::crypto::Cipher {
        crate::crypto::Cipher::new(&self.data_key, &self.old_data_keys, self.index_key)
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(***)")
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    jwt_secret: String,
    data_key: String,
}

impl Settings {
    /// Whether loket uses the policies built into the binary: the default directory is not here
    /// (a binary started outside the repository). A directory named on purpose must exist.
    pub fn uses_shipped_policies(&self) -> bool {
        self.policies_dir == Path::new(DEFAULT_POLICIES_DIR) && !self.policies_dir.is_dir()
    }

    /// Loads settings from `config_file` (if given, it must exist; otherwise `loket.toml` is read
    /// when present) and the environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )))
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("loket.toml")),
        }
        // `LOKET_MAIL__SMTP_HOST` sets `mail.smtp_host`; single underscores stay part of the name.
        figment = figment.merge(Env::prefixed("LOKET_").ignore(&["CONFIG"]).split("__"));
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.pool_size == 0 || self.pool_size > 200 {
            return Err(ConfigError::Invalid("pool_size must be 1-200".into()));
        }
        if self.token_ttl_minutes < 1 || self.token_ttl_minutes > 7 * 24 * 60 {
            return Err(ConfigError::Invalid(
                "token_ttl_minutes must be between 1 and 10080 (a week)".into(),
            ));
        }
        self.validate_connectors()
    }

    /// Names only the system in errors: the URL may hold a password.
    fn validate_connectors(&self) -> Result<(), ConfigError> {
        for (system, url) in &self.connectors {
            if !crate::catalog::model::is_valid_key(system) {
                return Err(ConfigError::Invalid(format!(
                    "connectors: '{system}' is not a system key"
                )));
            }
            let url = url.expose();
            if !CONNECTOR_SCHEMES
                .iter()
                .any(|scheme| url.starts_with(scheme))
            {
                return Err(ConfigError::Invalid(format!(
                    "connectors.{system}: the URL must start with one of {}",
                    CONNECTOR_SCHEMES.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The connection URL of a system's SQL connector, if configured.
    pub fn connector_url(&self, system: &str) -> Option<&Secret> {
        self.connectors.get(system)
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!("sqlite://{}", self.data_dir.join("loket.db").display()),
        }
    }

    pub fn uses_embedded_database(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.mail
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("mail"))
    }

    pub fn key_file_path(&self) -> PathBuf {
        self.data_dir.join("loket.keys")
    }

    /// Resolves the secrets. Returns them and, when they came from a generated key file, a warning
    /// for the operator.
    pub fn secrets(&self) -> Result<(Secrets, Option<String>), ConfigError> {
        if let (Some(jwt), Some(key)) = (&self.jwt_secret, &self.data_key) {
            return Ok((
                self.with_extra_keys(parse_secrets(jwt.expose(), key.expose())?)?,
                None,
            ));
        }
        if !self.uses_embedded_database() {
            // Several instances share one PostgreSQL database; a key generated on one machine
            // would not be known to the others.
            return Err(ConfigError::Invalid(
                "set jwt_secret and data_key (LOKET_JWT_SECRET, LOKET_DATA_KEY) when using PostgreSQL"
                    .into(),
            ));
        }
        let path = self.key_file_path();
        let file = load_or_create_key_file(&path)?;
        let jwt = self
            .jwt_secret
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or(file.jwt_secret);
        let key = self
            .data_key
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or(file.data_key);
        let warning = format!(
            "using secrets from the key file {} (generated for the embedded default); production must set LOKET_JWT_SECRET and LOKET_DATA_KEY",
            path.display()
        );
        Ok((
            self.with_extra_keys(parse_secrets(&jwt, &key)?)?,
            Some(warning),
        ))
    }

    /// Adds the keys for reading older data and for the lookup index.
    fn with_extra_keys(&self, mut secrets: Secrets) -> Result<Secrets, ConfigError> {
        secrets.old_data_keys = self
            .old_data_keys
            .iter()
            .map(|key| decode_key("old_data_keys", key.expose()))
            .collect::<Result<_, _>>()?;
        if let Some(index_key) = &self.index_key {
            secrets.index_key = decode_key("index_key", index_key.expose())?;
        }
        if let Some(anonymise_key) = &self.anonymise_key {
            secrets.anonymise_key = decode_key("anonymise_key", anonymise_key.expose())?;
        }
        if let Some(audit_key) = &self.audit_key {
            secrets.audit_key = decode_key("audit_key", audit_key.expose())?;
        }
        Ok(secrets)
    }
}

/// A 32-byte key given as base64.
fn decode_key(name: &str, value: &str) -> Result<[u8; 32], ConfigError> {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| ConfigError::Invalid(format!("{name} must be base64 of exactly 32 bytes")))
}

fn parse_secrets(jwt_secret: &str, data_key: &str) -> Result<Secrets, ConfigError> {
    if jwt_secret.len() < 32 {
        return Err(ConfigError::Invalid(
            "jwt_secret must be at least 32 bytes".into(),
        ));
    }
    let key = decode_key("data_key", data_key)?;
    Ok(Secrets {
        jwt_secret: jwt_secret.as_bytes().to_vec(),
        data_key: key,
        old_data_keys: Vec::new(),
        index_key: crate::crypto::derive_index_key(&key),
        anonymise_key: crate::crypto::derive_anonymise_key(&key),
        audit_key: crate::crypto::derive_audit_key(&key),
    })
}

fn load_or_create_key_file(path: &Path) -> Result<KeyFile, ConfigError> {
    let io_error = |source| ConfigError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            ConfigError::Invalid(format!("key file {} is not valid: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let file = KeyFile {
                jwt_secret: random_base64(48),
                data_key: random_base64(32),
            };
            if let Some(dir) = path.parent() {
                create_private_dir(dir).map_err(io_error)?;
            }
            write_private(path, &serde_json::to_vec_pretty(&file).unwrap_or_default())
                .map_err(io_error)?;
            Ok(file)
        }
        Err(e) => Err(io_error(e)),
    }
}

/// The data directory holds the database and keys: only loket's own user may read it.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Restricts the data directory (an existing one too) to loket's own user: 0700 on it and its
/// directories, 0600 on its files, one level of directories deep (mail, packages). Returns what
/// could not be restricted, for the operator to fix.
pub fn restrict_data_dir(path: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    restrict(path, 0o700, &mut problems);
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let inner = entry.path();
        if inner.is_dir() {
            restrict(&inner, 0o700, &mut problems);
            for file in std::fs::read_dir(&inner).into_iter().flatten().flatten() {
                if file.path().is_file() {
                    restrict(&file.path(), 0o600, &mut problems);
                }
            }
        } else if inner.is_file() {
            restrict(&inner, 0o600, &mut problems);
        }
    }
    problems
}

fn restrict(path: &Path, mode: u32, problems: &mut Vec<String>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777);
        if current.as_ref().is_ok_and(|current| *current == mode) {
            return;
        }
        if let Err(error) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
            problems.push(format!(
                "{} could not be set to {mode:o}: {error}",
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        problems.push("file permissions are not restricted on this platform".into());
    }
}

/// Creates the file readable and writable by its owner only, failing if it already exists so
/// that two processes starting at once never overwrite each other's key.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn random_base64(bytes: usize) -> String {
    use rand::RngCore;
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    base64::engine::general_purpose::STANDARD.encode(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_generated_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let (first, warning) = settings.secrets().unwrap();
        assert!(warning.is_some());
        let (second, _) = settings.secrets().unwrap();
        assert_eq!(first.jwt_secret, second.jwt_secret);
        assert_eq!(first.data_key, second.data_key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(settings.key_file_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn postgres_without_secrets_is_refused() {
        let settings = Settings {
            database_url: Some(Secret::new("postgres://localhost/loket")),
            ..Settings::default()
        };
        assert!(settings.secrets().is_err());
    }

    #[test]
    fn bad_secrets_are_refused() {
        assert!(parse_secrets("short", "AAAA").is_err());
        assert!(parse_secrets(&"x".repeat(32), "bm90IDMyIGJ5dGVz").is_err());
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(parse_secrets(&"x".repeat(32), &key).is_ok());
    }

    #[test]
    // figment's own test helper fixes the closure's error type; nothing to shrink here.
    #[allow(clippy::result_large_err)]
    fn connector_urls_come_from_the_environment_and_stay_hidden() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LOKET_CONNECTORS__CRM", "postgres://crm:hunter2@db/crm");
            let settings = Settings::load(None).expect("settings load");
            let url = settings.connector_url("crm").expect("crm connector");
            assert_eq!(url.expose(), "postgres://crm:hunter2@db/crm");
            assert!(!format!("{settings:?}").contains("hunter2"));
            Ok(())
        });
    }

    #[test]
    fn bad_connector_settings_are_refused_without_showing_the_url() {
        let mut settings = Settings::default();
        settings
            .connectors
            .insert("crm".into(), Secret::new("oracle://crm:hunter2@db"));
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("connectors.crm"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        settings.connectors.clear();
        settings
            .connectors
            .insert("users; DROP TABLE x".into(), Secret::new("sqlite://x.db"));
        assert!(settings.validate().is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let settings = Settings {
            jwt_secret: Some(Secret::new("super-secret-value-that-must-not-leak")),
            ..Settings::default()
        };
        assert!(!format!("{settings:?}").contains("super-secret"));
    }
}
