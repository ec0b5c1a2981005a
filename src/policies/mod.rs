//! Policies as files. CONTRACT (stub): the types and signatures here are fixed; the loader,
//! validation and shipped files are implemented by the policy work.

use crate::requests::model::RequestKind;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct Policies {
    pub requests: RequestPolicy,
    pub retention: Vec<RetentionRule>,
}

#[derive(Debug, Clone)]
pub struct RequestPolicy {
    /// Request kinds whose completion a privacy officer must approve (refusals always need it).
    pub approval_required_for: Vec<RequestKind>,
    /// How long the status link in the receipt confirmation stays valid.
    pub status_link_days: i64,
    /// How long a one-time code sent to confirm an e-mail address stays valid.
    pub verification_code_minutes: i64,
}

#[derive(Debug, Clone)]
pub struct RetentionRule {
    pub name: String,
    pub system: String,
    pub activity: Option<String>,
    pub categories: Vec<String>,
    pub keep: Period,
    pub legal_basis: Option<String>,
    pub legal_duty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(u32),
    Weeks(u32),
    Months(u32),
    Years(u32),
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{0}")]
    Invalid(String),
}

impl Policies {
    pub fn load_dir(_dir: &Path) -> Result<Self, PolicyError> {
        Ok(Policies {
            requests: RequestPolicy {
                approval_required_for: Vec::new(),
                status_link_days: 120,
                verification_code_minutes: 30,
            },
            retention: Vec::new(),
        })
    }

    pub fn needs_approval(&self, kind: RequestKind) -> bool {
        self.requests.approval_required_for.contains(&kind)
    }
}
