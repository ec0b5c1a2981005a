//! Legal holds: a person whose data must stay as it is (litigation, an investigation by the
//! authorities, a disputed invoice), whatever the retention period says. A privacy officer places
//! a hold on an identifier, for one system or for all; sweeps skip the person's rows until the
//! hold is lifted.
//!
//! The identifier is stored as its keyed lookup hash and sealed (AES-256-GCM, as a requester's
//! own details are), the reason sealed too, so the list of holds does not itself become a
//! register of persons in dispute: nothing shows the identifier, and only a sweep opens it, in
//! memory, to find the held person's rows through the organisation's indexes.

use super::owners::identifier_index;
use super::SweepService;
use crate::audit::{self, Actor, Change};
use crate::catalog::model::IdentifierKind;
use crate::db;
use crate::db::models::catalog::find_system;
use crate::db::models::sweeps::LegalHoldRow;
use crate::error::{all_valid, ConflictCode, Error, FieldError, Result};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

const MAX_IDENTIFIER: usize = 320;
const MAX_REASON: usize = 2000;

/// A hold to place.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLegalHold {
    /// The system the hold is about; absent for every system.
    #[serde(default)]
    pub system: Option<String>,
    pub identifier_kind: IdentifierKind,
    pub identifier: String,
    /// Why, in words: the case, the authority, the reference.
    pub reason: String,
}

/// A hold as shown: never the identifier itself.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct LegalHold {
    pub id: String,
    pub system: Option<String>,
    pub identifier_kind: String,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: NaiveDateTime,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<NaiveDateTime>,
}

impl NewLegalHold {
    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        let identifier = self.identifier.trim();
        if identifier.is_empty() {
            errors.push(FieldError::new("identifier", "must not be empty"));
        } else if identifier.chars().count() > MAX_IDENTIFIER {
            errors.push(FieldError::new(
                "identifier",
                format!("at most {MAX_IDENTIFIER} characters"),
            ));
        }
        let reason = self.reason.trim();
        if reason.is_empty() {
            errors.push(FieldError::new(
                "reason",
                "say why the data must be kept (the case, the authority, a reference)",
            ));
        } else if reason.chars().count() > MAX_REASON {
            errors.push(FieldError::new(
                "reason",
                format!("at most {MAX_REASON} characters"),
            ));
        }
        all_valid(errors)
    }
}

impl SweepService {
    /// Places a hold; from now on no sweep touches the person's rows (in that system).
    pub async fn place_hold(&self, actor: Actor, hold: NewLegalHold) -> Result<LegalHold> {
        hold.validate()?;
        let now = db::now();
        let row = LegalHoldRow {
            id: crate::ids::new_id(),
            system_key: hold.system.clone(),
            identifier_kind: hold.identifier_kind.as_str().to_string(),
            identifier_index: identifier_index(
                &self.cipher,
                hold.identifier_kind,
                hold.identifier.trim(),
            ),
            reason_enc: self
                .cipher
                .encrypt(LegalHoldRow::REASON_PLACE, hold.reason.trim()),
            placed_by: actor.to_string(),
            placed_at: now,
            lifted_by: None,
            lifted_at: None,
            identifier_enc: Some(
                self.cipher
                    .encrypt(LegalHoldRow::IDENTIFIER_PLACE, hold.identifier.trim()),
            ),
        };
        let stored = row.clone();
        self.store
            .write(move |conn| {
                if let Some(system) = &stored.system_key {
                    if find_system(conn, system)?.is_none() {
                        return Err(Error::invalid(
                            "system",
                            format!("no system {system:?} in the catalog"),
                        ));
                    }
                }
                stored.insert(conn)?;
                audit::record(
                    conn,
                    &actor,
                    Change {
                        action: "legal_hold.placed",
                        object_type: "legal_hold",
                        object_id: &stored.id,
                        summary: format!(
                            "legal hold on a {} in {}",
                            stored.identifier_kind,
                            stored.system_key.as_deref().unwrap_or("every system")
                        ),
                    },
                )?;
                Ok(())
            })
            .await?;
        self.show_hold(row)
    }

    /// Holds in force, or all of them.
    pub async fn holds(&self, include_lifted: bool) -> Result<Vec<LegalHold>> {
        let rows = self
            .store
            .read(move |conn| LegalHoldRow::list(conn, include_lifted))
            .await?;
        rows.into_iter().map(|row| self.show_hold(row)).collect()
    }

    /// Lifts a hold; sweeps process the person's expired rows again from their next run.
    pub async fn lift_hold(&self, actor: Actor, id: String) -> Result<LegalHold> {
        let now = db::now();
        let row = self
            .store
            .write(move |conn| {
                let Some(row) = LegalHoldRow::find(conn, &id)? else {
                    return Err(Error::not_found("legal hold"));
                };
                if !LegalHoldRow::lift(conn, &id, &actor.to_string(), now)? {
                    return Err(Error::conflict(
                        ConflictCode::AlreadyDone,
                        "the legal hold was lifted already",
                    ));
                }
                // What an erasure kept only for this hold is due for erasure from today; the
                // next sweep of its system erases it (rows a legal duty keeps longer stay).
                let due = crate::db::models::kept::KeptRowRow::release_hold(
                    conn,
                    &row.identifier_index,
                    row.system_key.as_deref(),
                    crate::requests::kept::KeepException::LegalClaims.as_str(),
                    now.date(),
                )?;
                audit::record(
                    conn,
                    &actor,
                    Change {
                        action: "legal_hold.lifted",
                        object_type: "legal_hold",
                        object_id: &id,
                        summary: format!(
                            "legal hold on a {} in {} lifted; {due} kept row(s) due for erasure",
                            row.identifier_kind,
                            row.system_key.as_deref().unwrap_or("every system")
                        ),
                    },
                )?;
                Ok(LegalHoldRow {
                    lifted_by: Some(actor.to_string()),
                    lifted_at: Some(now),
                    ..row
                })
            })
            .await?;
        self.show_hold(row)
    }

    fn show_hold(&self, row: LegalHoldRow) -> Result<LegalHold> {
        let reason = row.reason(&self.cipher)?;
        Ok(LegalHold {
            id: row.id,
            system: row.system_key,
            identifier_kind: row.identifier_kind,
            reason,
            placed_by: row.placed_by,
            placed_at: row.placed_at,
            lifted_by: row.lifted_by,
            lifted_at: row.lifted_at,
        })
    }
}
