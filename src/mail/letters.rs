//! The letters loket writes to people, rendered from the templates in `templates/mail/`.
//! CONTRACT (stub): the types below are fixed; `render` is implemented by the mail work.

use crate::requests::model::{Language, RefusalGround, RequestKind};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum LetterKind {
    ReceiptConfirmation,
    VerificationCode,
    ClarificationQuestion,
    ExtensionNotice,
    AccessAnswer,
    PortabilityAnswer,
    ErasureConfirmation,
    RectificationOutcome,
    RestrictionOutcome,
    ObjectionOutcome,
    HumanReviewOutcome,
    Refusal,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrganisationInfo {
    pub name: String,
    pub address: Option<String>,
    pub contact_email: String,
    pub dpo_name: Option<String>,
    pub dpo_email: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefusalInfo {
    pub ground: RefusalGround,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryFact {
    pub name: String,
    pub retention: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecipientFact {
    pub name: String,
    pub kind: String,
    pub country: String,
    pub outside_eea: bool,
    pub safeguard: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActivityFacts {
    pub name: String,
    pub purposes: Vec<String>,
    pub legal_basis: Option<String>,
    pub categories: Vec<CategoryFact>,
    pub recipients: Vec<RecipientFact>,
    pub source: Option<String>,
    pub automated_decision_logic: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemOutcome {
    pub system: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeptData {
    pub system: String,
    pub categories: Vec<String>,
    pub exception: String,
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LetterContext {
    pub organisation: OrganisationInfo,
    pub requester_name: Option<String>,
    pub reference: String,
    pub kind: RequestKind,
    pub received_on: NaiveDate,
    pub due_on: NaiveDate,
    pub status_url: Option<String>,
    pub code: Option<String>,
    pub code_valid_minutes: Option<i64>,
    pub message: Option<String>,
    pub refusal: Option<RefusalInfo>,
    pub facts: Vec<ActivityFacts>,
    pub systems_searched: Vec<SystemOutcome>,
    pub erased: Vec<SystemOutcome>,
    pub kept: Vec<KeptData>,
    pub recipients_notified: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedLetter {
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("letter template {0} could not be rendered: {1}")]
    Template(String, String),
}

pub fn render(
    kind: LetterKind,
    language: Language,
    context: &LetterContext,
) -> Result<RenderedLetter, MailError> {
    Ok(RenderedLetter {
        subject: format!("{kind} {language} {}", context.reference),
        body: serde_json::to_string_pretty(context).unwrap_or_default(),
    })
}
