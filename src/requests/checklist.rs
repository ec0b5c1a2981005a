//! The agent's checklist. CONTRACT (stub): types and signature fixed; implemented by the
//! checklist work.

use super::model::{RequestKind, TaskKind};
use crate::catalog::model::{Activity, Category, IdentifierKind, System};
use crate::policies::Policies;
use chrono::NaiveDate;

/// The catalog as the checklist needs it.
#[derive(Debug, Clone, Default)]
pub struct CatalogSnapshot {
    pub systems: Vec<System>,
    pub activities: Vec<Activity>,
    pub categories: Vec<Category>,
}

pub struct ChecklistInput<'a> {
    pub kind: RequestKind,
    pub catalog: &'a CatalogSnapshot,
    pub policies: &'a Policies,
    pub today: NaiveDate,
    /// The identifier kinds the requester gave (e-mail, customer number, phone, name).
    pub identifiers: &'a [IdentifierKind],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDraft {
    pub kind: TaskKind,
    pub title_nl: String,
    pub title_en: String,
    pub system_key: Option<String>,
    pub activity_key: Option<String>,
    /// The category codes the task is about (e.g. what is kept under an exception).
    pub categories: Vec<String>,
    pub recipient: Option<String>,
    pub legal_exception: Option<String>,
    pub keep_until: Option<NaiveDate>,
}

pub fn generate(input: &ChecklistInput<'_>) -> Vec<TaskDraft> {
    let draft = |kind: TaskKind| TaskDraft {
        kind,
        title_nl: kind.to_string(),
        title_en: kind.to_string(),
        system_key: None,
        activity_key: None,
        categories: Vec::new(),
        recipient: None,
        legal_exception: None,
        keep_until: None,
    };
    let _ = input;
    vec![
        draft(TaskKind::ConfirmReceipt),
        draft(TaskKind::VerifyIdentity),
        draft(TaskKind::SendAnswer),
    ]
}
