//! The access and portability answer (Art. 15, Art. 20): where the person's data was found, and
//! the copy that must go with the answer (Art. 15(3), gdpr-rules.md section 1).
//!
//! The answer's Art. 15(1) facts cover exactly the systems where data of the person was found:
//! a search task recorded as `found` (by an agent or a connector run), rows in the request's
//! ready package, or a document an agent attached. A search recorded as `not_found` adds
//! nothing, so a person of whom nothing was found is told so, as a complete answer.
//!
//! No answer goes out without the copy: a ready package, an attachment, a copy recorded as sent
//! by post, or every search recorded as `not_found`.

use super::case::Case;
use super::view::RequestView;
use super::{RequestService, Staff};
use crate::db::models::packages::{AttachmentRow, PackageRow, RedactionRow};
use crate::db::DbConnection;
use crate::error::{ConflictCode, Error, Result};
use crate::ids::RequestId;
use crate::vocabulary::PackageState;
use crate::vocabulary::{RequestKind, SearchOutcome, TaskKind, TaskState};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::BTreeSet;

/// `{"version", "sent_by_post_on"}`: the copy of the data went by post on that day.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyByPost {
    pub version: i32,
    pub sent_by_post_on: NaiveDate,
}

/// Where data of the person was found, and what the searches still lack.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Catalog keys of the systems where data was found.
    pub found: BTreeSet<String>,
    /// Whether a package the person can still download is ready.
    pub package_ready: bool,
    /// Documents attached to the request's tasks.
    pub attachments: usize,
    /// Export tasks still open, by system.
    pub open_searches: Vec<String>,
    /// Systems that could not be searched.
    pub not_reachable: Vec<String>,
}

/// What the copy of a request is made of so far: its packages (newest first), the documents
/// attached to its tasks and what was withheld. Read once for everything one answer needs (the
/// check that it may go, the copy, the facts and the letter each look at them).
#[derive(Debug, Clone, Default)]
pub struct Deliverables {
    pub packages: Vec<PackageRow>,
    pub attachments: Vec<AttachmentRow>,
    pub redactions: Vec<RedactionRow>,
}

impl Deliverables {
    /// Each read only where the request's row is marked as having some (a request registered
    /// by this very call has none).
    pub fn of(conn: &mut DbConnection, case: &Case) -> Result<Self> {
        Ok(Deliverables {
            packages: case.packages(conn)?,
            attachments: case.attachments(conn)?,
            redactions: case.redactions(conn)?,
        })
    }

    /// The newest package the person can still download.
    pub fn ready_package(&self) -> Option<&PackageRow> {
        let now = crate::db::now();
        self.packages.iter().find(|p| {
            p.state == PackageState::Ready && p.expires_at > now && p.downloads < p.max_downloads
        })
    }
}

/// How the copy reaches the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copy {
    Package,
    Attachment,
    ByPost(NaiveDate),
    /// Every system was searched and none holds data of the person.
    NothingFound,
}

/// Whether a request of `kind` is answered with a copy of the data.
pub fn answers_with_copy(kind: RequestKind) -> bool {
    matches!(kind, RequestKind::Access | RequestKind::Portability)
}

impl RequestService {
    /// Where data of the person was found, from the search tasks, the newest ready package and
    /// the attachments.
    pub(crate) fn findings(&self, case: &Case, deliverables: &Deliverables) -> Findings {
        let mut findings = Findings::default();
        for task in case.tasks.iter().filter(|t| t.kind == TaskKind::ExportData) {
            let system = task.system_key.clone().unwrap_or_default();
            match (task.state, task.outcome) {
                (TaskState::Open, _) => findings.open_searches.push(system),
                (_, Some(SearchOutcome::Found)) => {
                    findings.found.insert(system);
                }
                (_, Some(SearchOutcome::NotReachable)) => findings.not_reachable.push(system),
                (_, Some(SearchOutcome::NotFound)) => {}
                // Closed before outcomes were recorded: done counts as found, as it did then.
                (TaskState::Done, None) => {
                    findings.found.insert(system);
                }
                (_, None) => {}
            }
        }
        if let Some(package) = deliverables.ready_package() {
            findings.package_ready = true;
            let contents = package.summary();
            findings.found.extend(
                contents
                    .rows
                    .into_iter()
                    .filter(|(_, tables)| tables.values().any(|rows| *rows > 0))
                    .map(|(system, _)| system),
            );
        }
        findings.attachments = deliverables.attachments.len();
        findings.found.extend(
            deliverables
                .attachments
                .iter()
                .filter_map(|a| a.system_key.clone()),
        );
        findings
    }

    /// The copy that goes with the answer, or a conflict naming what is missing.
    pub(crate) fn copy_for_answer(&self, case: &Case, deliverables: &Deliverables) -> Result<Copy> {
        let findings = self.findings(case, deliverables);
        if findings.package_ready {
            return Ok(Copy::Package);
        }
        if findings.attachments > 0 {
            return Ok(Copy::Attachment);
        }
        if let Some(day) = case.row.copy_sent_by_post_on {
            return Ok(Copy::ByPost(day));
        }
        let mut missing = Vec::new();
        if !findings.open_searches.is_empty() {
            missing.push(format!(
                "the search of {} (record what it found)",
                findings.open_searches.join(", ")
            ));
        }
        if !findings.not_reachable.is_empty() {
            missing.push(format!(
                "a search of {}, which could not be reached",
                findings.not_reachable.join(", ")
            ));
        }
        if missing.is_empty() && findings.found.is_empty() {
            return Ok(Copy::NothingFound);
        }
        if !findings.found.is_empty() {
            missing.push(format!(
                "the copy of what was found in {}: build a package, attach the documents, or record the copy sent by post (POST /api/v1/requests/{{id}}/copy)",
                findings.found.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Err(Error::conflict(
            ConflictCode::Other,
            format!(
                "no answer without the copy of the data (Art. 15(3)); missing: {}",
                missing.join("; ")
            ),
        ))
    }

    /// The answer letter states the Art. 15(1) facts loket compiles from the register for the
    /// systems where data was found; sending it closes that task, naming those systems.
    pub(crate) fn compile_access_facts(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        deliverables: &Deliverables,
    ) -> Result<()> {
        let found = self.findings(case, deliverables).found;
        let evidence = if found.is_empty() {
            "no data found in any system: the answer says so, without facts".to_string()
        } else {
            format!(
                "compiled from the register for the systems where data was found: {}",
                found.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        self.close_task(
            conn,
            case,
            staff,
            TaskKind::CompileAccessFacts,
            TaskState::Done,
            &evidence,
        )
    }

    /// Records that the copy of the data was sent by post on a day, for an answer without a
    /// package.
    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    pub async fn record_copy_by_post(
        &self,
        staff: Staff,
        request_id: RequestId,
        copy: CopyByPost,
    ) -> Result<RequestView> {
        self.on_case(
            staff.actor(),
            request_id,
            copy.version,
            move |_, _, case| {
                case.expect_open()?;
                if !answers_with_copy(case.kind()) {
                    return Err(Error::conflict(ConflictCode::Other, format!(
                        "only an access or portability answer comes with a copy; this is a {} request",
                        case.kind()
                    )));
                }
                let received = super::dutch_date(case.row.received_at);
                let today = super::today();
                if copy.sent_by_post_on > today || copy.sent_by_post_on < received {
                    return Err(Error::invalid(
                        "sent_by_post_on",
                        format!("must lie between the receipt ({received}) and today ({today})"),
                    ));
                }
                case.row.copy_sent_by_post_on = Some(copy.sent_by_post_on);
                Ok(format!("copy of the data sent by post on {}", copy.sent_by_post_on))
            },
        )
        .await
    }
}
