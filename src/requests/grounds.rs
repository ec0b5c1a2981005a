//! The ground of a request where the law asks for one, and lifting a restriction.
//!
//! An erasure records its Art. 17(1) ground (a)-(f), a restriction its Art. 18(1) ground
//! (a)-(d) (gdpr-rules.md section 1). Lifting a restriction is a privacy officer's decision with
//! a reason; the person is told before it is lifted (Art. 18(3)), so loket queues the notice
//! first and only then un-restricts the rows through the connectors. A lift that stopped after
//! the notice (a connector failed) is finished by asking again; the notice is not sent twice.

use super::case::Case;
use super::requester::{check_texts, Requester};
use super::view::RequestView;
use super::{RequestService, Staff};
use crate::audit::{self, Change};
use crate::catalog::model::{IdentifierKind, System};
use crate::connectors::TableCounts;
use crate::db::models::kept::GroundRow;
use crate::db::DbConnection;
use crate::error::{ConflictCode, Error, Result};
use crate::ids::RequestId;
use crate::mail::letters::LetterKind;
use crate::vocabulary::{RequestKind, TaskKind, TaskState};
use anyhow::Context;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

const NOTE_PLACE: &str = "request_grounds.note";
const LIFT_REASON_PLACE: &str = "request_grounds.lift_reason";
const MAX_TEXT: usize = 2000;

/// Why a person may have their data erased (Art. 17(1)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum ErasureGround {
    /// (a) no longer necessary for the purposes.
    NoLongerNecessary,
    /// (b) consent withdrawn and no other legal ground.
    ConsentWithdrawn,
    /// (c) an objection under Art. 21.
    Objection,
    /// (d) unlawfully processed.
    UnlawfullyProcessed,
    /// (e) a legal obligation to erase.
    LegalObligation,
    /// (f) collected from a child for an information society service.
    ChildInformationSociety,
}

/// Why a person may have processing restricted (Art. 18(1)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum RestrictionGround {
    /// (a) the accuracy is contested, while it is checked.
    AccuracyContested,
    /// (b) unlawful, and the person opposes erasure.
    UnlawfulErasureOpposed,
    /// (c) no longer needed, but the person needs it for legal claims.
    NeededForLegalClaims,
    /// (d) an objection is pending.
    ObjectionPending,
}

/// `{"ground": "consent_withdrawn", "note": "…"}`.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordGround {
    pub ground: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// `{"reason": "…"}`: why the restriction ends.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiftRestriction {
    pub reason: String,
}

/// A request's ground and lift as the desk shows them.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct GroundView {
    pub ground: Option<String>,
    /// `Art. 17(1)(b)`.
    pub article: Option<String>,
    pub note: Option<String>,
    pub recorded_by: Option<String>,
    pub recorded_at: Option<NaiveDateTime>,
    pub lift_reason: Option<String>,
    /// When the Art. 18(3) notice was queued, before the lift.
    pub lift_noticed_at: Option<NaiveDateTime>,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<NaiveDateTime>,
}

/// The article of `ground` for a request of `kind`, or the error naming the field.
/// The article a `ground` of a `kind` of request is taken from; only kinds that
/// [`RequestKind::has_ground`] have one.
fn article_of(kind: RequestKind, ground: &str) -> Result<String> {
    fn letter_of<T: Copy + PartialEq + strum::VariantArray>(value: T) -> char {
        let index = T::VARIANTS.iter().position(|v| *v == value).unwrap_or(0);
        char::from(b'a' + u8::try_from(index).unwrap_or(0))
    }
    fn expected<T: strum::VariantArray + Copy + Into<&'static str>>() -> String {
        T::VARIANTS
            .iter()
            .map(|v| (*v).into())
            .collect::<Vec<&str>>()
            .join(", ")
    }
    let unknown = |article: &str, expected: String| {
        Error::invalid(
            "ground",
            format!("'{ground}' is not a ground of {article} GDPR (expected {expected})"),
        )
    };
    match kind {
        RequestKind::Erasure => ground
            .parse::<ErasureGround>()
            .map(|g| format!("Art. 17(1)({})", letter_of(g)))
            .map_err(|_| unknown("Art. 17(1)", expected::<ErasureGround>())),
        RequestKind::Restriction => ground
            .parse::<RestrictionGround>()
            .map(|g| format!("Art. 18(1)({})", letter_of(g)))
            .map_err(|_| unknown("Art. 18(1)", expected::<RestrictionGround>())),
        other => Err(Error::invalid(
            "ground",
            format!("only an erasure (Art. 17(1)) or restriction (Art. 18(1)) request has a ground; this is a {other} request"),
        )),
    }
}

fn check_length(field: &str, text: &str) -> Result<()> {
    if text.chars().count() > MAX_TEXT {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

/// What the lift works on: the person's identifiers and the systems whose restrict task ran.
struct Lift {
    identifiers: Vec<(IdentifierKind, String)>,
    systems: Vec<System>,
}

impl RequestService {
    /// Records (or replaces) the request's Art. 17(1) or Art. 18(1) ground.
    pub async fn record_ground(
        &self,
        staff: Staff,
        request_id: RequestId,
        body: RecordGround,
    ) -> Result<RequestView> {
        check_texts(&[
            ("ground", Some(&body.ground)),
            ("note", body.note.as_deref()),
        ])?;
        let ground = body.ground.trim().to_string();
        let note = body
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if let Some(note) = note {
            check_length("note", note)?;
        }
        let note_enc = note.map(|n| self.cipher.encrypt(NOTE_PLACE, n));
        let service = self.clone();
        self.store
            .write(move |conn| {
                let mut case = Case::load(conn, &request_id)?;
                let article = article_of(case.kind(), &ground)?;
                let mut row = GroundRow::of(conn, case.id())?.unwrap_or_else(|| GroundRow {
                    request_id: case.id().clone(),
                    ..GroundRow::default()
                });
                row.ground = Some(ground);
                row.note_enc = note_enc;
                row.recorded_by = Some(staff.username.to_string());
                row.recorded_at = Some(crate::db::now());
                row.save(conn)?;
                // As the database marked the stored row; the view below is built from this one.
                case.row.has_ground = true;
                audit::record(
                    conn,
                    &staff.actor(),
                    Change {
                        action: "request.ground.recorded",
                        object_type: "request",
                        object_id: &case.row.reference,
                        summary: format!("ground recorded: {article}"),
                    },
                )?;
                service.view_in(conn, &case)
            })
            .await
    }

    /// Lifts a restriction: queues the Art. 18(3) notice, then un-restricts the person's rows in
    /// every system a restrict task ran on, and records both.
    pub async fn lift_restriction(
        &self,
        staff: Staff,
        request_id: RequestId,
        body: LiftRestriction,
    ) -> Result<RequestView> {
        check_texts(&[("reason", Some(&body.reason))])?;
        let reason = body.reason.trim().to_string();
        if reason.is_empty() {
            return Err(Error::invalid(
                "reason",
                "say why the restriction ends (why its ground of Art. 18(1) no longer applies)",
            ));
        }
        check_length("reason", &reason)?;
        let service = self.clone();
        let (id, actor) = (request_id.clone(), staff.clone());
        let lift = self
            .store
            .write(move |conn| service.notify_lift(conn, &id, &actor, &reason))
            .await?;
        (self.mail_queued)();
        let outcome = self.unrestrict(lift).await?;
        let service = self.clone();
        self.store
            .write(move |conn| {
                let case = Case::load(conn, &request_id)?;
                let mut row =
                    GroundRow::of(conn, case.id())?.context("a noticed lift lost its record")?;
                row.lifted_by = Some(staff.username.to_string());
                row.lifted_at = Some(crate::db::now());
                row.save(conn)?;
                audit::record(
                    conn,
                    &staff.actor(),
                    Change {
                        action: "request.restriction.lifted",
                        object_type: "request",
                        object_id: &case.row.reference,
                        summary: format!(
                            "restriction lifted after the Art. 18(3) notice: {outcome}"
                        ),
                    },
                )?;
                service.view_in(conn, &case)
            })
            .await
    }

    /// Checks the lift can be done and queues the notice, once.
    fn notify_lift(
        &self,
        conn: &mut DbConnection,
        request_id: &RequestId,
        staff: &Staff,
        reason: &str,
    ) -> Result<Lift> {
        let case = Case::load(conn, request_id)?;
        let kind = case.kind();
        if kind != RequestKind::Restriction {
            return Err(Error::conflict(
                ConflictCode::Other,
                format!("only a restriction is lifted; this is a {kind} request"),
            ));
        }
        let mut row = GroundRow::of(conn, case.id())?.unwrap_or_else(|| GroundRow {
            request_id: case.id().clone(),
            ..GroundRow::default()
        });
        if row.lifted_at.is_some() {
            return Err(Error::conflict(
                ConflictCode::AlreadyDone,
                "the restriction was lifted already",
            ));
        }
        let mut systems = Vec::new();
        for task in case
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::RestrictData && t.state == TaskState::Done)
        {
            systems.extend(self.systems_of(conn, task)?);
        }
        if systems.is_empty() {
            return Err(Error::conflict(
                ConflictCode::Other,
                "no restrict_data task is done: nothing is restricted to lift",
            ));
        }
        if row.lift_noticed_at.is_none() {
            let extras = super::letters::Extras::default();
            if self
                .queue_letter(conn, &case, LetterKind::RestrictionLiftNotice, &extras)?
                .is_none()
            {
                return Err(Error::conflict(
                    ConflictCode::NoEmail,
                    "the person has no e-mail address on file: the Art. 18(3) notice must go by post before the lift",
                ));
            }
            row.lift_reason_enc = Some(self.cipher.encrypt(LIFT_REASON_PLACE, reason));
            row.lift_noticed_at = Some(crate::db::now());
            row.save(conn)?;
            audit::record(
                conn,
                &staff.actor(),
                Change {
                    action: "request.restriction.lift_noticed",
                    object_type: "request",
                    object_id: &case.row.reference,
                    summary: "Art. 18(3) notice queued before lifting the restriction".into(),
                },
            )?;
        }
        let requester = Requester::open(&self.cipher, &case.row)?;
        Ok(Lift {
            identifiers: requester.search_identifiers(),
            systems,
        })
    }

    /// Un-restricts the person's rows in every reachable system; a manual system is left to a
    /// person. `billing: billing_accounts 1 | ticketing: by hand`.
    async fn unrestrict(&self, lift: Lift) -> Result<String> {
        let connectors = self.connectors.clone();
        tokio::task::spawn_blocking(move || {
            let mut parts = Vec::new();
            for system in &lift.systems {
                if !connectors.reaches(system) {
                    parts.push(format!("{}: by hand", system.key));
                    continue;
                }
                let failed = |e: crate::connectors::ConnectorError| Error::Connector {
                    system: system.key.clone(),
                    message: e.to_string(),
                };
                let mut connector = connectors.open(system).map_err(failed)?;
                let tables: Vec<String> = connector
                    .mapping()
                    .tables
                    .iter()
                    .filter(|t| t.restricted_column.is_some())
                    .map(|t| t.name.clone())
                    .collect();
                let mut counts = TableCounts::new();
                for table in tables {
                    let rows = connector
                        .unrestrict(&lift.identifiers, &table)
                        .map_err(failed)?;
                    counts.insert(table, rows);
                }
                let list: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
                parts.push(format!("{}: un-restricted {}", system.key, list.join(", ")));
            }
            Ok(parts.join(" | "))
        })
        .await
        .context("the connector thread failed")?
    }

    /// The request's ground and lift, opened for staff.
    pub(super) fn ground_view(
        &self,
        conn: &mut DbConnection,
        case: &Case,
    ) -> Result<Option<GroundView>> {
        let Some(row) = GroundRow::of(conn, case.id())? else {
            return Ok(None);
        };
        let open = |place: &str, value: &Option<String>| {
            self.cipher
                .decrypt_opt(place, value.as_deref())
                .with_context(|| place.to_string())
        };
        let article = match &row.ground {
            Some(ground) => Some(article_of(case.kind(), ground)?),
            None => None,
        };
        Ok(Some(GroundView {
            article,
            note: open(NOTE_PLACE, &row.note_enc)?,
            lift_reason: open(LIFT_REASON_PLACE, &row.lift_reason_enc)?,
            ground: row.ground,
            recorded_by: row.recorded_by,
            recorded_at: row.recorded_at,
            lift_noticed_at: row.lift_noticed_at,
            lifted_by: row.lifted_by,
            lifted_at: row.lifted_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grounds_name_their_article_and_point() {
        assert_eq!(
            article_of(RequestKind::Erasure, "consent_withdrawn").unwrap(),
            "Art. 17(1)(b)"
        );
        assert_eq!(
            article_of(RequestKind::Erasure, "child_information_society").unwrap(),
            "Art. 17(1)(f)"
        );
        assert_eq!(
            article_of(RequestKind::Restriction, "objection_pending").unwrap(),
            "Art. 18(1)(d)"
        );
        assert!(article_of(RequestKind::Restriction, "consent_withdrawn").is_err());
        assert!(article_of(RequestKind::Access, "consent_withdrawn").is_err());
    }

    /// The view reads a request's ground only where its kind has one: the two must agree.
    #[test]
    fn only_the_kinds_with_a_ground_take_one() {
        use strum::VariantArray;
        let some_ground = |kind: RequestKind| match kind {
            RequestKind::Restriction => "objection_pending",
            _ => "consent_withdrawn",
        };
        for kind in RequestKind::VARIANTS {
            assert_eq!(
                article_of(*kind, some_ground(*kind)).is_ok(),
                kind.has_ground(),
                "{kind}"
            );
        }
    }
}
