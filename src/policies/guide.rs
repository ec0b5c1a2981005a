//! The `guide:` section of the policies (issue 21): the agent's texts per kind of request and the
//! words that recognise them, written and versioned by the privacy officers. Loaded and checked
//! with the other policies; what the guide does with them (recognising a caller's words, the
//! pages) is in `crate::guide`, above the policies.

use crate::vocabulary::{Language, RequestKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `guide:` section of the policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuidePolicy {
    /// Raised by the privacy officer on every change; shown on each page of the guide and in the
    /// audit event recorded when a new version is loaded.
    pub version: u32,
    #[serde(default)]
    pub kinds: BTreeMap<RequestKind, KindGuide>,
    /// When the agent hands over, whatever the kind.
    #[serde(default)]
    pub hand_over: Vec<HandOver>,
}

/// The guide for one kind of request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindGuide {
    /// How callers typically say it, in their own words.
    pub sayings: Texts,
    /// The words and phrases that suggest this kind (lower case; a word matches as the start of a
    /// word in what the caller said, so `verwijder` matches `verwijderen`).
    pub words: Texts,
    /// What the agent can say on the spot (the catalog's facts follow it).
    pub answer: Text,
    /// What to register.
    pub register: Text,
    /// How identity is checked on the phone.
    pub identity: Text,
}

/// One situation in which the agent involves the privacy officer or another department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandOver {
    pub when: Text,
    pub to: Text,
    /// The kinds it concerns; empty for every kind.
    #[serde(default)]
    pub kinds: Vec<RequestKind>,
}

/// A text in Dutch and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub nl: String,
    pub en: String,
}

impl Text {
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Nl => &self.nl,
            Language::En => &self.en,
        }
    }
}

/// Lists of texts in Dutch and English.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    #[serde(default)]
    pub nl: Vec<String>,
    #[serde(default)]
    pub en: Vec<String>,
}

impl Texts {
    pub fn get(&self, language: Language) -> &[String] {
        match language {
            Language::Nl => &self.nl,
            Language::En => &self.en,
        }
    }

    /// Both languages' texts, for matching words in either.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.nl.iter().chain(&self.en)
    }
}

impl GuidePolicy {
    /// A short digest of the guide's texts and words, recorded with its version: a change
    /// shipped without raising `version` is on the audit trail too.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        // Maps are ordered and lists keep their order, so the same guide gives the same digest.
        let text = serde_json::to_vec(self).unwrap_or_default();
        let hash = sha2::Sha256::digest(&text);
        hash.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    /// Problems with the section, as `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (kind, guide) in &self.kinds {
            for (n, word) in guide.words.all().enumerate() {
                if word.trim().is_empty() || *word != word.to_lowercase() {
                    problems.push((
                        format!("guide.kinds.{kind}.words"),
                        format!("word {} must be lower case and not empty", n + 1),
                    ));
                }
            }
        }
        problems
    }

    /// The hand-overs that concern `kind`.
    pub fn hand_overs(&self, kind: RequestKind) -> Vec<&HandOver> {
        self.hand_over
            .iter()
            .filter(|h| h.kinds.is_empty() || h.kinds.contains(&kind))
            .collect()
    }
}
