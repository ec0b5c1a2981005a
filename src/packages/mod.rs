//! Access and portability packages: what a person gets in answer to "what do you have on me?"
//! (Art. 15) and "give me my data" (Art. 20).
//!
//! Building a package has three steps, so no store transaction is open while remote databases
//! are read:
//!
//! 1. **plan** (a read): the request is an access or portability request in progress with its
//!    identity verified; what goes in is worked out from the catalog ([`selection`]), the
//!    attachments of manual systems and what agents withheld ([`attachments`]);
//! 2. **build** (a blocking thread): the ZIP ([`document`]) is written through a sealer
//!    ([`crate::crypto::stream`], under the newest package key of [`keys`]) into numbered blobs
//!    in loket's database ([`blobs`]), a piece at a time, rows read from the connectors a page at
//!    a time: memory stays flat however much data the person has;
//! 3. **record** (a write): the package is marked ready with its counts, with the audit event
//!    `package.created`.
//!
//! The answer letter of the request carries a signed link to the newest ready package
//! ([`download`]); a download is counted and audited before a byte is sent, and the retention
//! sweep deletes packages past their expiry or download limit ([`spent`]).

pub mod attachments;
pub mod blobs;
pub mod document;
pub mod download;
pub mod keys;
pub mod selection;
pub mod spent;

pub use keys::{PackageKey, PackageKeys};

use crate::audit::{self, Change};
use crate::catalog::model::{IdentifierKind, System};
use crate::connectors::http::WHOLE_RECORD;
use crate::connectors::Checkout;
use crate::crypto::Cipher;
use crate::db::models::packages::{self as rows, AttachmentRow, PackageRow, RedactionRow};
use crate::db::DbConnection;
use crate::error::{ConflictCode, Error, Result};
use crate::ids::{PackageId, RequestId};
use crate::requests::case::Case;
use crate::requests::requester::Requester;
use crate::requests::run::Runner;
use crate::requests::{RequestService, Staff};
use crate::vocabulary::PackageState;
use crate::vocabulary::{Language, RequestKind};
use anyhow::Context;
use document::{AttachmentOutline, Outline, Source, Summary, SystemOutline, WithheldItem};
use selection::Withheld;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Days a download link works when the agent does not say.
pub const DEFAULT_EXPIRY_DAYS: i64 = 14;
pub const MAX_EXPIRY_DAYS: i64 = 30;
/// Downloads allowed when the agent does not say: a second try after a broken connection.
pub const DEFAULT_MAX_DOWNLOADS: i32 = 3;
pub const MAX_DOWNLOADS: i32 = 10;

/// How an agent asks for a package; the kind is the request's.
#[derive(utoipa::ToSchema, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPackage {
    /// Of the HTML summary and the markers; the request's language by default.
    #[serde(default)]
    pub language: Option<Language>,
    #[serde(default)]
    pub expires_in_days: Option<i64>,
    #[serde(default)]
    pub max_downloads: Option<i32>,
    /// Also protect the download with a one-time passphrase, given to the agent once, to pass on
    /// by another channel (a phone call, a text message).
    #[serde(default)]
    pub passphrase: bool,
}

impl NewPackage {
    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if let Some(days) = self.expires_in_days {
            if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
                errors.push(crate::error::FieldError::new(
                    "expires_in_days",
                    format!("must be 1 to {MAX_EXPIRY_DAYS}"),
                ));
            }
        }
        if let Some(downloads) = self.max_downloads {
            if !(1..=MAX_DOWNLOADS).contains(&downloads) {
                errors.push(crate::error::FieldError::new(
                    "max_downloads",
                    format!("must be 1 to {MAX_DOWNLOADS}"),
                ));
            }
        }
        crate::error::all_valid(errors)
    }
}

/// A package as agents see it: what it holds in counts, never the data.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Package {
    pub id: PackageId,
    pub request_id: RequestId,
    pub kind: String,
    pub language: String,
    pub state: String,
    pub key_id: Option<String>,
    pub sealed_bytes: i64,
    pub plain_bytes: i64,
    pub contents: Summary,
    pub passphrase_required: bool,
    pub max_downloads: i32,
    pub downloads: i32,
    pub expires_at: chrono::NaiveDateTime,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
    pub deleted_at: Option<chrono::NaiveDateTime>,
    pub deleted_reason: Option<String>,
    /// What the download link does now, for staff (the link itself is only in the letter):
    /// `building`, `usable`, `expired`, `used_up`, `deleted` or `failed`.
    pub link_state: &'static str,
    /// Downloads the link still allows.
    pub downloads_left: i32,
    /// Only in the answer to creating the package: shown once, stored only as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// The hook through which request handling builds a package by itself
/// (`requests.run_automatically`): a default package, made by the runner.
pub fn automatic_builder() -> crate::requests::BuildPackage {
    Arc::new(|requests, runner, request_id| {
        Box::pin(async move {
            let keys = PackageKeys::new(requests.store.clone(), requests.cipher.clone());
            let package = PackageService::new(requests, keys)
                .create_as(runner, request_id, NewPackage::default())
                .await?;
            Ok(package.id)
        })
    })
}

impl From<PackageRow> for Package {
    fn from(row: PackageRow) -> Self {
        Package {
            link_state: link_state(&row, crate::db::now()),
            downloads_left: (row.max_downloads - row.downloads).max(0),
            contents: row.summary(),
            passphrase_required: row.passphrase_hash.is_some(),
            id: row.id,
            request_id: row.request_id,
            kind: row.kind.to_string(),
            language: row.language.to_string(),
            state: row.state.to_string(),
            key_id: row.key_id,
            sealed_bytes: row.sealed_bytes,
            plain_bytes: row.plain_bytes,
            max_downloads: row.max_downloads,
            downloads: row.downloads,
            expires_at: row.expires_at,
            created_by: row.created_by,
            created_at: row.created_at,
            deleted_at: row.deleted_at,
            deleted_reason: row.deleted_reason,
            passphrase: None,
        }
    }
}

/// What the download link of `row` does at `now`.
fn link_state(row: &PackageRow, now: chrono::NaiveDateTime) -> &'static str {
    match row.state {
        PackageState::Building => "building",
        PackageState::Deleted => "deleted",
        PackageState::Failed => "failed",
        _ if row.expires_at <= now => "expired",
        _ if row.downloads >= row.max_downloads => "used_up",
        _ => "usable",
    }
}

/// Builds, lists and delivers packages; cheap to clone.
#[derive(Clone)]
pub struct PackageService {
    requests: RequestService,
    keys: PackageKeys,
}

impl std::fmt::Debug for PackageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackageService").finish_non_exhaustive()
    }
}

/// Everything a build needs, worked out before any connector is called.
struct Plan {
    /// Who builds it: the `package.created` event and the tasks it closes name them.
    runner: Runner,
    row: PackageRow,
    outline: Outline,
    identifiers: Vec<(IdentifierKind, String)>,
    systems: BTreeMap<String, System>,
}

impl PackageService {
    pub fn new(requests: RequestService, keys: PackageKeys) -> Self {
        PackageService { requests, keys }
    }

    pub fn keys(&self) -> &PackageKeys {
        &self.keys
    }

    /// Builds a package for the request, sealed and stored; returns it, with its one-time
    /// passphrase when one was asked for.
    pub async fn create(
        &self,
        staff: Staff,
        request_id: RequestId,
        new: NewPackage,
    ) -> Result<Package> {
        self.create_as(Runner::from(&staff), request_id, new).await
    }

    /// [`PackageService::create`] by `runner` (an agent, or loket itself). The transaction that
    /// records the package ready also closes the export tasks its read answers
    /// ([`RequestService::record_package_read`]).
    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    pub(crate) async fn create_as(
        &self,
        runner: Runner,
        request_id: RequestId,
        new: NewPackage,
    ) -> Result<Package> {
        new.validate()?;
        let passphrase = new.passphrase.then(one_time_passphrase);
        let given = passphrase.clone();
        let service = self.clone();
        let plan = self
            .requests
            .store
            .write(move |conn| {
                // Hashed here, on the blocking thread: argon2 takes a while on purpose.
                let passphrase_hash = given
                    .map(|p| {
                        crate::auth::password::hash(&download::normalise_passphrase(&p))
                            .context("hashing the passphrase")
                    })
                    .transpose()?;
                let plan = service.plan(conn, runner, &request_id, &new, passphrase_hash)?;
                plan.row.insert(conn)?;
                Ok::<_, Error>(plan)
            })
            .await?;
        let cipher = self.keys.cipher().await?;
        let service = self.clone();
        let id = plan.row.id.clone();
        let built = tokio::task::spawn_blocking(move || service.build(plan, &cipher))
            .await
            .context("building the package stopped")?;
        let mut package = match built {
            Ok(built) => built,
            Err(error) => {
                self.discard(&id, &error).await;
                return Err(error);
            }
        };
        package.passphrase = passphrase;
        Ok(package)
    }

    /// The packages of a request, newest first.
    pub async fn list(&self, request_id: RequestId) -> Result<Vec<Package>> {
        self.of_request(request_id, PackageRow::of_request, |_, row| {
            Ok(Package::from(row))
        })
        .await
    }

    /// What `load` finds for a request that exists, each made into what agents see.
    async fn of_request<R, V>(
        &self,
        request_id: RequestId,
        load: fn(&mut DbConnection, &str) -> std::result::Result<Vec<R>, crate::db::StoreError>,
        view: fn(&PackageService, R) -> Result<V>,
    ) -> Result<Vec<V>>
    where
        R: Send + 'static,
        V: Send + 'static,
    {
        let service = self.clone();
        self.requests
            .store
            .read(move |conn| {
                Case::load(conn, &request_id)?;
                load(conn, &request_id)?
                    .into_iter()
                    .map(|row| view(&service, row))
                    .collect()
            })
            .await
    }

    /// Deletes a package before its time (sent to the wrong address, replaced); audited.
    #[tracing::instrument(skip_all, fields(request_id = %request_id, package_id = %package_id))]
    pub async fn revoke(
        &self,
        staff: Staff,
        request_id: RequestId,
        package_id: PackageId,
    ) -> Result<Package> {
        self.requests
            .store
            .write(move |conn| {
                let row = PackageRow::find(conn, &package_id)?
                    .filter(|row| row.request_id == request_id)
                    .ok_or_else(|| Error::not_found(format!("package '{package_id}'")))?;
                if !spent::delete(conn, &row, "revoked by an agent", &staff.actor())? {
                    return Err(Error::conflict(
                        ConflictCode::AlreadyDone,
                        format!("the package is {} already", row.state),
                    ));
                }
                Ok(PackageRow::find(conn, &package_id)?.map(Package::from))
            })
            .await?
            .ok_or_else(|| Error::not_found("package"))
    }

    fn plan(
        &self,
        conn: &mut DbConnection,
        runner: Runner,
        request_id: &RequestId,
        new: &NewPackage,
        passphrase_hash: Option<String>,
    ) -> Result<Plan> {
        let case = Case::load(conn, request_id)?;
        case.expect_open()?;
        let kind = case.kind();
        if !matches!(kind, RequestKind::Access | RequestKind::Portability) {
            return Err(Error::conflict(
                ConflictCode::Other,
                format!(
                    "packages answer access and portability requests; this is a {kind} request"
                ),
            ));
        }
        if !case.row.identity_verified {
            return Err(Error::conflict(
                ConflictCode::Other,
                "verify the requester's identity first: sending someone else's data is a data breach",
            ));
        }
        let language = match new.language {
            Some(language) => language,
            None => case.row.language,
        };
        let now = crate::db::now();
        let days = new.expires_in_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
        let row = PackageRow {
            id: PackageId::generate(),
            request_id: request_id.clone(),
            kind,
            language,
            state: PackageState::Building,
            key_id: None,
            sealed_bytes: 0,
            plain_bytes: 0,
            contents: "{}".into(),
            passphrase_hash,
            failed_attempts: 0,
            max_downloads: new.max_downloads.unwrap_or(DEFAULT_MAX_DOWNLOADS),
            downloads: 0,
            expires_at: now + chrono::TimeDelta::days(days),
            created_by: runner.name.clone(),
            created_at: now,
            deleted_at: None,
            deleted_reason: None,
            builder: Some(format!(
                "{}-{}-build",
                crate::instance::this_host(),
                std::process::id()
            )),
        };
        let requester = Requester::open(&self.requests.cipher, &case.row)?;
        let identifiers = requester.search_identifiers();
        let catalog = self.requests.catalog.get(conn)?;
        let attachments = case.attachments(conn)?;
        let redactions = case.redactions(conn)?;
        let withheld = self.withheld_items(&redactions, &attachments)?;
        let mut systems = Vec::new();
        for system in &catalog.systems {
            let outline = self.system_outline(
                system,
                &catalog.activities,
                &row,
                &identifiers,
                &attachments,
                &redactions,
            )?;
            systems.extend(outline);
        }
        let facts = match kind {
            RequestKind::Access => crate::requests::letters::facts_by_activity(&catalog, language)
                .into_iter()
                .map(|(activity, systems)| document::Facts { activity, systems })
                .collect(),
            _ => Vec::new(),
        };
        let outline = Outline {
            id: row.id.clone(),
            kind,
            language,
            created_at: now,
            expires_at: row.expires_at,
            reference: case.row.reference.clone(),
            received_on: crate::requests::dutch_date(case.row.received_at),
            controller: self
                .requests
                .organisation_info(catalog.organisation.clone()),
            systems,
            facts,
            withheld,
        };
        Ok(Plan {
            runner,
            row,
            outline,
            identifiers,
            systems: catalog
                .systems
                .iter()
                .map(|system| (system.key.clone(), system.clone()))
                .collect(),
        })
    }

    /// One system as the package gives it, or `None` when it has nothing to give: a system
    /// loket reaches and can search by the requester's identifiers gives its tables; any system
    /// gives what agents attached to its tasks.
    fn system_outline(
        &self,
        system: &System,
        activities: &[crate::catalog::model::Activity],
        package: &PackageRow,
        identifiers: &[(IdentifierKind, String)],
        attachments: &[AttachmentRow],
        redactions: &[RedactionRow],
    ) -> Result<Option<SystemOutline>> {
        let (kind, language) = (package.kind, package.language);
        let connectors = &self.requests.connectors;
        let reached = connectors.reaches_any(system);
        let searchable = connectors.reaches_http(system)
            && crate::requests::run::http_searchable(system, identifiers)
            || system.sql.as_ref().is_some_and(|mapping| {
                mapping.tables.iter().any(|table| {
                    identifiers
                        .iter()
                        .any(|(kind, _)| table.identifiers.contains_key(kind))
                })
            });
        let mut tables = if reached && searchable && connectors.reaches_http(system) {
            selection::http_tables_of(system)
        } else if reached && searchable {
            selection::tables_of(system, activities, kind)
        } else {
            Vec::new()
        };
        for table in &mut tables {
            table.withheld = redactions
                .iter()
                .filter(|r| r.attachment_id.is_none())
                .filter(|r| r.system_key.as_deref() == Some(system.key.as_str()))
                .filter(|r| r.table_name.as_deref() == Some(table.name.as_str()))
                .map(|r| Withheld {
                    column: r.column_name.clone(),
                    row_key: r.row_key.clone(),
                })
                .collect();
        }
        let mut outlines = Vec::new();
        for (index, attachment) in attachments
            .iter()
            .filter(|a| a.system_key.as_deref() == Some(system.key.as_str()))
            .enumerate()
        {
            let name = self.attachment_name(attachment)?;
            let withheld = redactions
                .iter()
                .any(|r| r.attachment_id.as_deref() == Some(attachment.id.as_str()));
            outlines.push(AttachmentOutline {
                id: attachment.id.clone(),
                path: (!withheld).then(|| {
                    format!(
                        "attachments/{}/{}-{}",
                        system.key,
                        index + 1,
                        safe_file_name(&name)
                    )
                }),
                name,
                content_type: attachment.content_type.clone(),
                size_bytes: attachment.size_bytes,
            });
        }
        if !(reached && searchable) && outlines.is_empty() {
            return Ok(None);
        }
        // In the package's language: the summary shows it to the person.
        let note = match (reached, searchable, language) {
            (true, true, _) => None,
            (true, false, Language::Nl) => Some(
                "Dit systeem kon niet automatisch op uw gegevens worden doorzocht; een medewerker heeft er met de hand in gezocht.",
            ),
            (true, false, Language::En) => Some(
                "This system could not be searched for your data automatically; a member of staff searched it by hand.",
            ),
            (false, _, Language::Nl) => Some("Een medewerker heeft dit systeem met de hand doorzocht."),
            (false, _, Language::En) => Some("A member of staff searched this system by hand."),
        }
        .map(str::to_string);
        Ok(Some(SystemOutline {
            key: system.key.clone(),
            name: system.name.get(language).to_string(),
            searched: reached && searchable,
            note,
            tables,
            attachments: outlines,
        }))
    }

    /// Writes the package, then in one transaction stores its last piece, records it ready and
    /// settles the tasks its read answers; on a blocking thread.
    fn build(&self, plan: Plan, cipher: &Cipher) -> Result<Package> {
        self.requests
            .store
            .blocking(|conn| self.build_on(conn, plan, cipher))
    }

    fn build_on(&self, conn: &mut DbConnection, plan: Plan, cipher: &Cipher) -> Result<Package> {
        let place = package_place(&plan.row.id);
        let blobs = blobs::BlobWriter::new(conn, &place);
        let sealer = cipher.sealer(&place, blobs).map_err(stream_error)?;
        let mut source = LiveSource::new(self, cipher, &plan.identifiers, &plan.systems);
        let (summary, sealer) = document::write_package(sealer, &plan.outline, &mut source)?;
        let (plain_bytes, blobs) = sealer.finish().map_err(stream_error)?;
        let (sealed_bytes, last_piece) = blobs.finish_later();
        let contents = serde_json::to_string(&summary).context("package contents")?;
        let key_id = cipher.sealing_key_id().to_string();
        let read = source.read(&summary);
        let Plan {
            runner,
            mut row,
            outline,
            ..
        } = plan;
        crate::db::write_transaction(conn, |conn| {
            last_piece.store(conn)?;
            row.mark_ready(
                conn,
                &key_id,
                sealed_bytes as i64,
                plain_bytes as i64,
                contents,
            )?;
            audit::record(
                conn,
                &runner.actor,
                Change {
                    action: "package.created",
                    object_type: "request",
                    object_id: &outline.reference,
                    summary: format!(
                        "{} package {}: {} row(s) from {} system(s), {} attachment(s), {} item(s) withheld; sealed with key {key_id}; link valid until {} for {} download(s){}",
                        row.kind,
                        row.id,
                        summary.total_rows(),
                        summary.rows.len(),
                        summary.attachments,
                        summary.withheld,
                        row.expires_at.format("%Y-%m-%d %H:%M UTC"),
                        row.max_downloads,
                        if row.passphrase_hash.is_some() { ", with a passphrase" } else { "" },
                    ),
                },
            )?;
            self.requests
                .record_package_read(conn, &row.request_id, &row.id, &runner, &read)
        })?;
        Ok(Package::from(row))
    }

    /// A build that failed leaves nothing behind but its record, marked failed with the reason.
    async fn discard(&self, id: &str, error: &Error) {
        let id = id.to_string();
        let reason = match error {
            Error::Connector { system, .. } => format!("system {system} could not be read"),
            _ => "building failed".to_string(),
        };
        let result = self
            .requests
            .store
            .write(move |conn| {
                rows::delete_blobs(conn, &package_place(&id))?;
                PackageRow::mark_gone(conn, &id, PackageState::Failed, &reason, crate::db::now())?;
                Ok::<_, Error>(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "a failed package could not be cleaned up; the sweep will");
        }
    }

    fn withheld_items(
        &self,
        redactions: &[RedactionRow],
        attachments: &[AttachmentRow],
    ) -> Result<Vec<WithheldItem>> {
        redactions
            .iter()
            .map(|r| {
                let attachment = match &r.attachment_id {
                    Some(id) => attachments
                        .iter()
                        .find(|a| &a.id == id)
                        .map(|a| self.attachment_name(a))
                        .transpose()?,
                    None => None,
                };
                Ok(WithheldItem {
                    system: r.system_key.clone(),
                    table: r.table_name.clone(),
                    column: r.column_name.clone(),
                    row_key: r.row_key.clone(),
                    attachment,
                    reason: self
                        .requests
                        .cipher
                        .decrypt(rows::REDACTION_REASON_PLACE, &r.reason_enc)
                        .context(rows::REDACTION_REASON_PLACE)?,
                })
            })
            .collect()
    }

    fn attachment_name(&self, attachment: &AttachmentRow) -> Result<String> {
        self.requests
            .cipher
            .decrypt(attachments::NAME_PLACE, &attachment.name_enc)
            .context(attachments::NAME_PLACE)
            .map_err(Error::from)
    }
}

pub use crate::requests::SystemRead;

/// The most bytes of rows a build keeps between the first read of a table (for `package.json`)
/// and the second use (its CSV file). A person's rows are usually a few kilobytes; beyond this
/// the CSV reads the table again, so memory stays bounded however much data there is.
const KEPT_ROWS_BYTES: usize = 16 * 1024 * 1024;

/// Reads rows through the connectors (checked out when first needed) and attachments from the
/// store.
///
/// **Read once.** The package writes each table twice (JSON, then CSV); the rows of the first
/// read are kept, up to [`KEPT_ROWS_BYTES`] in all, and handed out again for the second, so each
/// table of each system is read once.
struct LiveSource<'a> {
    service: &'a PackageService,
    cipher: &'a Cipher,
    identifiers: &'a [(IdentifierKind, String)],
    systems: &'a BTreeMap<String, System>,
    open: BTreeMap<String, Checkout>,
    kept: BTreeMap<(String, String), Vec<String>>,
    kept_bytes: usize,
    /// Per system, the SHA-256 of the rows read from it.
    digests: BTreeMap<String, sha2::Sha256>,
    /// Tables read before: a table read again (its rows did not fit) is not hashed twice.
    hashed: std::collections::BTreeSet<(String, String)>,
    /// What each HTTP system exported, by record set: one export per system per package.
    exported: BTreeMap<String, BTreeMap<String, Vec<serde_json::Value>>>,
}

impl<'a> LiveSource<'a> {
    fn new(
        service: &'a PackageService,
        cipher: &'a Cipher,
        identifiers: &'a [(IdentifierKind, String)],
        systems: &'a BTreeMap<String, System>,
    ) -> Self {
        LiveSource {
            service,
            cipher,
            identifiers,
            systems,
            open: BTreeMap::new(),
            kept: BTreeMap::new(),
            kept_bytes: 0,
            digests: BTreeMap::new(),
            hashed: std::collections::BTreeSet::new(),
            exported: BTreeMap::new(),
        }
    }

    /// What was read of each system the package searched.
    fn read(&mut self, summary: &Summary) -> BTreeMap<String, SystemRead> {
        use sha2::Digest;
        summary
            .rows
            .iter()
            .map(|(system, tables)| {
                let digest = self.digests.remove(system).unwrap_or_default();
                let read = SystemRead {
                    rows: tables.clone(),
                    sha256: hex::encode(digest.finalize()),
                };
                (system.clone(), read)
            })
            .collect()
    }
}

impl Source for LiveSource<'_> {
    fn rows(
        &mut self,
        system: &str,
        table: &str,
        visit: &mut dyn FnMut(&str) -> std::io::Result<()>,
    ) -> Result<u64> {
        if let Some(rows) = self.kept.remove(&(system.to_string(), table.to_string())) {
            self.kept_bytes -= rows.iter().map(String::len).sum::<usize>();
            for row in &rows {
                visit(row).context("writing the package")?;
            }
            return Ok(rows.len() as u64);
        }
        let failed = |e: crate::connectors::ConnectorError| Error::Connector {
            system: system.to_string(),
            message: e.to_string(),
        };
        let definition = self
            .systems
            .get(system)
            .with_context(|| format!("system {system} left the catalog"))?;
        if self.service.requests.connectors.reaches_http(definition) {
            return self.http_rows(definition, table, visit);
        }
        if !self.open.contains_key(system) {
            let connector = self
                .service
                .requests
                .connectors
                .open(definition)
                .map_err(failed)?;
            self.open.insert(system.to_string(), connector);
        }
        let connector = self.open.get_mut(system).expect("opened above");
        let first = self.hashed.insert((system.to_string(), table.to_string()));
        let digest = self.digests.entry(system.to_string()).or_default();
        let mut rows = Some(Vec::new());
        let room = KEPT_ROWS_BYTES.saturating_sub(self.kept_bytes);
        let mut bytes = 0;
        let read = connector
            .export_rows(self.identifiers, table, &mut |row| {
                if first {
                    sha2::Digest::update(digest, row.as_bytes());
                    sha2::Digest::update(digest, b"\n");
                }
                if let Some(kept) = &mut rows {
                    bytes += row.len();
                    if bytes <= room {
                        kept.push(row.to_string());
                    } else {
                        rows = None;
                    }
                }
                visit(row)
            })
            .map_err(failed)?;
        if let Some(rows) = rows {
            self.kept_bytes += bytes;
            self.kept
                .insert((system.to_string(), table.to_string()), rows);
        }
        Ok(read)
    }

    fn attachment(&mut self, id: &str, out: &mut dyn std::io::Write) -> Result<u64> {
        let conn = self.service.requests.store.connection()?;
        let place = attachments::attachment_place(id);
        self.cipher
            .open_stream(&place, blobs::BlobReader::new(conn, &place), out)
            .map_err(stream_error)
    }
}

impl LiveSource<'_> {
    /// The records of one record set of an HTTP system, each with its whole self as
    /// [`WHOLE_RECORD`] for a set given without `fields`.
    fn http_rows(
        &mut self,
        system: &System,
        table: &str,
        visit: &mut dyn FnMut(&str) -> std::io::Result<()>,
    ) -> Result<u64> {
        if !self.exported.contains_key(&system.key) {
            let failed = |e: crate::connectors::ConnectorError| Error::Connector {
                system: system.key.clone(),
                message: e.to_string(),
            };
            let records = self
                .service
                .requests
                .connectors
                .open_http(system)
                .and_then(|connector| connector.export(self.identifiers))
                .map_err(failed)?;
            self.exported.insert(system.key.clone(), records);
        }
        let mut count = 0;
        for record in self.exported[&system.key].get(table).into_iter().flatten() {
            let mut row = match record {
                serde_json::Value::Object(fields) => fields.clone(),
                _ => serde_json::Map::new(),
            };
            row.insert(WHOLE_RECORD.into(), record.clone());
            let text = serde_json::to_string(&row).context("a package record")?;
            visit(&text).context("writing the package")?;
            count += 1;
        }
        Ok(count)
    }
}

/// A request's reference, which names it on the audit trail like every other request event.
fn reference_of(conn: &mut DbConnection, request_id: &RequestId) -> Result<String> {
    crate::db::models::requests::find_request(conn, request_id)?
        .map(|row| row.reference)
        .ok_or_else(|| Error::not_found(format!("request '{request_id}'")))
}

/// Where a package is sealed and stored: its blobs' owner and its associated data.
pub fn package_place(id: &str) -> String {
    format!("packages/{id}")
}

fn stream_error(error: crate::crypto::stream::StreamError) -> Error {
    Error::Internal(anyhow::Error::new(error).context("sealed stream"))
}

/// Four groups of four letters and digits, without look-alikes (0/O, 1/I/L): about 76 bits,
/// easy to read out over the phone.
fn one_time_passphrase() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut rng = rand::rngs::OsRng;
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A file name safe inside a ZIP on every system: letters, digits, dot, dash and underscore.
fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "attachment".into()
    } else {
        trimmed.chars().take(100).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrases_are_four_readable_groups() {
        let passphrase = one_time_passphrase();
        assert_eq!(passphrase.len(), 19);
        assert_eq!(passphrase.split('-').count(), 4);
        assert!(!passphrase.contains(['0', 'O', '1', 'I', 'L']));
        assert_ne!(passphrase, one_time_passphrase());
    }

    #[test]
    fn attachment_names_cannot_leave_their_folder() {
        assert_eq!(safe_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_file_name("brief aan klant.pdf"), "brief_aan_klant.pdf");
        assert_eq!(safe_file_name(""), "attachment");
    }
}
