//! What agents add to a package by hand: files and notes attached to the tasks of systems loket
//! cannot search itself (a scanned letter, an export from a supplier's portal, what they wrote
//! down), and what they withhold from the package (Art. 15(4): others' data), with a reason.
//!
//! Attachments are personal data: their names are sealed with the data key and their bytes are
//! sealed as a stream under the package keys, like packages. Reasons are sealed too, because they
//! may name the third party being protected.

use super::{blobs, PackageService};
use crate::audit::{self, Change};
use crate::db::models::packages::{AttachmentRow, RedactionRow};
use crate::db::models::requests::TaskRow;
use crate::error::{Error, FieldError, Result};
use crate::ids::{AttachmentId, RequestId, TaskId};
use crate::requests::case::Case;
use crate::requests::owners::OwnerStatement;
use crate::requests::Staff;
use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Where attachment names are sealed (and their associated data).
pub const NAME_PLACE: &str = "attachments.name";
pub use crate::db::models::packages::REDACTION_REASON_PLACE as REASON_PLACE;
/// The largest attachment taken.
pub const MAX_ATTACHMENT_BYTES: usize = 25 * 1024 * 1024;
const MAX_NAME: usize = 200;
const MAX_REASON: usize = 2_000;

/// Where an attachment's bytes are sealed and stored.
pub fn attachment_place(id: &str) -> String {
    format!("attachments/{id}")
}

/// A new attachment: the bytes and what they are.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub task_id: TaskId,
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub task_id: TaskId,
    pub system: Option<String>,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
}

/// What to withhold: a table, a column (optionally of one row) of a system, or an attachment.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRedaction {
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    pub row_key: Option<String>,
    #[serde(default)]
    pub attachment: Option<AttachmentId>,
    pub reason: String,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Redaction {
    pub id: String,
    pub system: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub row_key: Option<String>,
    pub attachment: Option<AttachmentId>,
    pub reason: String,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
}

impl PackageService {
    /// Seals and stores a file or note attached to a task of the request.
    pub async fn attach(
        &self,
        staff: Staff,
        request_id: RequestId,
        new: NewAttachment,
    ) -> Result<Attachment> {
        check_attachment(&new)?;
        let cipher = self.keys.cipher().await?;
        let service = self.clone();
        self.requests
            .store
            .write(move |conn| {
                let case = Case::load(conn, &request_id)?;
                case.expect_open()?;
                let task = task_of(&case, &new.task_id)?;
                let row = AttachmentRow {
                    id: AttachmentId::generate(),
                    request_id: request_id.clone(),
                    task_id: task.id.clone(),
                    system_key: task.system_key.clone(),
                    name_enc: service.requests.cipher.encrypt(NAME_PLACE, new.name.trim()),
                    content_type: new.content_type.clone(),
                    size_bytes: new.bytes.len() as i64,
                    created_by: staff.username.to_string(),
                    created_at: crate::db::now(),
                };
                store_sealed(conn, &cipher, &row, &new.bytes)?;
                audit::record(
                    conn,
                    &staff.actor(),
                    Change {
                        action: "request.attachment.added",
                        object_type: "request",
                        object_id: &case.row.reference,
                        summary: format!(
                            "attachment {} ({} bytes, {}) to task {} of system {}",
                            row.id,
                            row.size_bytes,
                            row.content_type,
                            row.task_id,
                            row.system_key.as_deref().unwrap_or("-")
                        ),
                    },
                )?;
                service.attachment_view(row)
            })
            .await
    }

    /// The owner's answer through the link of an owner task (`requests::owners`): the task is
    /// closed with the statement as evidence, and the files are sealed as attachments of the
    /// task, like an agent's, all in one transaction.
    pub async fn complete_owner_task(
        &self,
        token: String,
        statement: OwnerStatement,
        files: Vec<NewAttachment>,
    ) -> Result<()> {
        for file in &files {
            check_attachment(file)?;
        }
        let total: usize = files.iter().map(|f| f.bytes.len()).sum();
        if total > MAX_ATTACHMENT_BYTES {
            return Err(Error::invalid(
                "files",
                format!("at most {MAX_ATTACHMENT_BYTES} bytes in all"),
            ));
        }
        let cipher = self.keys.cipher().await?;
        let service = self.clone();
        self.requests
            .store
            .write(move |conn| {
                let (task, owner) =
                    service
                        .requests
                        .complete_by_owner(conn, &token, &statement, files.len())?;
                for file in files {
                    let row = AttachmentRow {
                        id: AttachmentId::generate(),
                        request_id: task.request_id.clone(),
                        task_id: task.id.clone(),
                        system_key: task.system_key.clone(),
                        name_enc: service
                            .requests
                            .cipher
                            .encrypt(NAME_PLACE, file.name.trim()),
                        content_type: file.content_type.clone(),
                        size_bytes: file.bytes.len() as i64,
                        created_by: owner.clone(),
                        created_at: crate::db::now(),
                    };
                    store_sealed(conn, &cipher, &row, &file.bytes)?;
                }
                Ok(())
            })
            .await
    }

    pub async fn attachments(&self, request_id: RequestId) -> Result<Vec<Attachment>> {
        self.of_request(request_id, AttachmentRow::of_request, Self::attachment_view)
            .await
    }

    /// Records that something is withheld from the request's packages, and why.
    pub async fn withhold(
        &self,
        staff: Staff,
        request_id: RequestId,
        new: NewRedaction,
    ) -> Result<Redaction> {
        check_redaction(&new)?;
        let service = self.clone();
        self.requests
            .store
            .write(move |conn| {
                let case = Case::load(conn, &request_id)?;
                case.expect_open()?;
                service.check_target(conn, &request_id, &new)?;
                let row = RedactionRow {
                    id: crate::ids::new_id(),
                    request_id: request_id.clone(),
                    system_key: new.system.clone(),
                    table_name: new.table.clone(),
                    column_name: new.column.clone(),
                    row_key: new.row_key.clone(),
                    attachment_id: new.attachment.clone(),
                    reason_enc: service
                        .requests
                        .cipher
                        .encrypt(REASON_PLACE, new.reason.trim()),
                    created_by: staff.username.to_string(),
                    created_at: crate::db::now(),
                };
                row.insert(conn)?;
                audit::record(
                    conn,
                    &staff.actor(),
                    Change {
                        action: "request.redaction.added",
                        object_type: "request",
                        object_id: &case.row.reference,
                        summary: format!("withheld from packages: {}", describe(&row)),
                    },
                )?;
                service.redaction_view(row)
            })
            .await
    }

    pub async fn redactions(&self, request_id: RequestId) -> Result<Vec<Redaction>> {
        self.of_request(request_id, RedactionRow::of_request, Self::redaction_view)
            .await
    }

    /// Takes a redaction back; packages built from now on give what it withheld.
    pub async fn unwithhold(
        &self,
        staff: Staff,
        request_id: RequestId,
        redaction_id: String,
    ) -> Result<()> {
        self.requests
            .store
            .write(move |conn| {
                let case = Case::load(conn, &request_id)?;
                case.expect_open()?;
                if !RedactionRow::delete(conn, &request_id, &redaction_id)? {
                    return Err(Error::not_found(format!("redaction '{redaction_id}'")));
                }
                audit::record(
                    conn,
                    &staff.actor(),
                    Change {
                        action: "request.redaction.removed",
                        object_type: "request",
                        object_id: &case.row.reference,
                        summary: format!("redaction {redaction_id} taken back"),
                    },
                )?;
                Ok(())
            })
            .await
    }

    /// The system, table and column exist in the catalog's mapping, or the attachment in the
    /// request: a misspelt redaction must not silently let through what it was meant to hold.
    fn check_target(
        &self,
        conn: &mut crate::db::DbConnection,
        request_id: &RequestId,
        new: &NewRedaction,
    ) -> Result<()> {
        if let Some(attachment) = &new.attachment {
            let known = AttachmentRow::of_request(conn, request_id)?
                .iter()
                .any(|a| &a.id == attachment);
            return if known {
                Ok(())
            } else {
                Err(Error::invalid(
                    "attachment",
                    "is not an attachment of this request",
                ))
            };
        }
        let system_key = new.system.as_deref().unwrap_or_default();
        let system = crate::catalog::model::System::load(conn, system_key)?.ok_or_else(|| {
            Error::invalid("system", format!("no system is called {system_key:?}"))
        })?;
        use crate::catalog::Item;
        let table_name = new.table.as_deref().unwrap_or_default();
        let table = system
            .sql
            .as_ref()
            .and_then(|mapping| mapping.table(table_name))
            .ok_or_else(|| {
                Error::invalid(
                    "table",
                    format!("system {system_key} has no mapped table {table_name:?}"),
                )
            })?;
        if let Some(column) = &new.column {
            if !table.exported_columns().contains(&column.as_str()) || *column == table.key {
                return Err(Error::invalid(
                    "column",
                    format!("table {table_name} has no personal-data column {column:?}"),
                ));
            }
        }
        Ok(())
    }

    fn attachment_view(&self, row: AttachmentRow) -> Result<Attachment> {
        Ok(Attachment {
            name: self.attachment_name(&row)?,
            id: row.id,
            task_id: row.task_id,
            system: row.system_key,
            content_type: row.content_type,
            size_bytes: row.size_bytes,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }

    fn redaction_view(&self, row: RedactionRow) -> Result<Redaction> {
        Ok(Redaction {
            reason: self
                .requests
                .cipher
                .decrypt(REASON_PLACE, &row.reason_enc)
                .context(REASON_PLACE)?,
            id: row.id,
            system: row.system_key,
            table: row.table_name,
            column: row.column_name,
            row_key: row.row_key,
            attachment: row.attachment_id,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }
}

/// Seals an attachment's bytes under the package keys and stores them, then the row that points
/// at them, in the caller's transaction.
fn store_sealed(
    conn: &mut crate::db::DbConnection,
    cipher: &crate::crypto::Cipher,
    row: &AttachmentRow,
    bytes: &[u8],
) -> Result<()> {
    let place = attachment_place(&row.id);
    let sealing = |e: crate::crypto::stream::StreamError| {
        Error::Internal(anyhow::Error::new(e).context("sealing the attachment"))
    };
    let mut sealer = cipher
        .sealer(&place, blobs::BlobWriter::new(conn, &place))
        .map_err(sealing)?;
    std::io::Write::write_all(&mut sealer, bytes)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("sealing the attachment")))?;
    sealer.finish().map_err(sealing)?.1.finish()?;
    row.insert(conn)?;
    Ok(())
}

fn task_of<'c>(case: &'c Case, task_id: &TaskId) -> Result<&'c TaskRow> {
    let task = case
        .tasks
        .iter()
        .find(|t| t.id == *task_id)
        .ok_or_else(|| Error::invalid("task", format!("no task '{task_id}' in this request")))?;
    if task.system_key.is_none() {
        return Err(Error::invalid(
            "task",
            "attach to the task of the system the file comes from",
        ));
    }
    Ok(task)
}

fn check_attachment(new: &NewAttachment) -> Result<()> {
    let mut errors = Vec::new();
    let name = new.name.trim();
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            format!("give the file's name, 1 to {MAX_NAME} characters"),
        ));
    }
    if new.bytes.is_empty() {
        errors.push(FieldError::new("body", "the file is empty"));
    }
    if new.bytes.len() > MAX_ATTACHMENT_BYTES {
        errors.push(FieldError::new(
            "body",
            format!("at most {MAX_ATTACHMENT_BYTES} bytes"),
        ));
    }
    crate::error::all_valid(errors)
}

fn check_redaction(new: &NewRedaction) -> Result<()> {
    let mut errors = Vec::new();
    let reason = new.reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON {
        errors.push(FieldError::new(
            "reason",
            format!("say why, 1 to {MAX_REASON} characters: the package and the letter give it"),
        ));
    }
    match (&new.attachment, &new.system, &new.table) {
        (Some(_), None, None) if new.column.is_none() && new.row_key.is_none() => {}
        (Some(_), _, _) => errors.push(FieldError::new(
            "attachment",
            "withhold an attachment on its own, without system, table, column or row_key",
        )),
        (None, None, _) => errors.push(FieldError::new(
            "system",
            "name the system (with table and optionally column), or an attachment",
        )),
        (None, Some(_), None) => errors.push(FieldError::new("table", "is required with system")),
        (None, Some(_), Some(_)) => {
            if new.row_key.is_some() && new.column.is_none() {
                errors.push(FieldError::new(
                    "column",
                    "is required with row_key: withhold a field of one record",
                ));
            }
        }
    }
    crate::error::all_valid(errors)
}

fn describe(row: &RedactionRow) -> String {
    match &row.attachment_id {
        Some(id) => format!("attachment {id}"),
        None => format!(
            "{}.{}{}{}",
            row.system_key.as_deref().unwrap_or("-"),
            row.table_name.as_deref().unwrap_or("-"),
            row.column_name
                .as_deref()
                .map(|c| format!(".{c}"))
                .unwrap_or_default(),
            row.row_key
                .as_deref()
                .map(|_| " (one record)")
                .unwrap_or_default()
        ),
    }
}
