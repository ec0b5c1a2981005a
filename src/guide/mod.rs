//! The agent's guide (issue 21): for each kind of request, how a caller typically says it, what
//! the agent can answer on the spot, what to register, how identity is checked on the phone and
//! when to hand over — Dutch first, English too.
//!
//! The texts are policy (`guide:` in `policies/guide.yaml`), written and versioned by the privacy
//! officers with the other policies. What the agent can answer about the data (which systems hold
//! what, why, how long, shared with whom) is not written there but generated from the catalog and
//! the retention rules each time, so it stays true when the catalog changes.
//!
//! Recognising a request is a transparent word list per kind, no model: the suggestion names the
//! words it matched, and the agent confirms.

use crate::catalog::model::{ConnectorKind, Sensitivity};
use crate::catalog::CatalogSnapshot;
pub use crate::policies::guide::{GuidePolicy, HandOver, KindGuide, Text, Texts};
use crate::policies::Policies;
use crate::vocabulary::{Language, RequestKind};
use serde::Serialize;
use std::collections::BTreeSet;

/// A kind the caller's words suggest, with the words that matched.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub kind: RequestKind,
    pub matched: Vec<String>,
}

/// The most characters of a caller's words the recogniser reads.
pub const MAX_SAID: usize = 2000;

// The guide's behaviour on the policy's texts; the texts themselves are policy
// (`crate::policies::guide`).
impl GuidePolicy {
    /// The kinds `said` suggests, most matched words first; each with the words that matched.
    pub fn recognise(&self, said: &str) -> Vec<Suggestion> {
        let said: String = said
            .chars()
            .take(MAX_SAID)
            .collect::<String>()
            .to_lowercase();
        let words = normalise(&said);
        let mut found: Vec<Suggestion> = self
            .kinds
            .iter()
            .filter_map(|(kind, guide)| {
                let matched: BTreeSet<String> = guide
                    .words
                    .all()
                    .filter(|word| matches(&words, word))
                    .cloned()
                    .collect();
                (!matched.is_empty()).then(|| Suggestion {
                    kind: *kind,
                    matched: matched.into_iter().collect(),
                })
            })
            .collect();
        found.sort_by(|a, b| {
            b.matched
                .len()
                .cmp(&a.matched.len())
                .then(a.kind.cmp(&b.kind))
        });
        found
    }

    /// The kinds whose guide mentions every word of `query` (a search box): sayings, words and
    /// texts in both languages.
    pub fn search(&self, query: &str) -> Vec<RequestKind> {
        let terms: Vec<String> = normalise(&query.to_lowercase())
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        if terms.is_empty() {
            return self.kinds.keys().copied().collect();
        }
        let mut hits: Vec<RequestKind> =
            self.recognise(query).into_iter().map(|s| s.kind).collect();
        for (kind, guide) in &self.kinds {
            let text = normalise(
                &[
                    guide.sayings.all().cloned().collect::<Vec<_>>().join(" "),
                    guide.words.all().cloned().collect::<Vec<_>>().join(" "),
                    [&guide.answer, &guide.register, &guide.identity]
                        .iter()
                        .map(|t| format!("{} {}", t.nl, t.en))
                        .collect::<Vec<_>>()
                        .join(" "),
                    kind.as_str().replace('_', " "),
                ]
                .join(" ")
                .to_lowercase(),
            );
            if terms.iter().all(|t| matches(&text, t)) && !hits.contains(kind) {
                hits.push(*kind);
            }
        }
        hits
    }
}

/// Letters and digits only, single spaces, with a space on either side, so a word matches at a
/// word's start: " verwijder" in " mijn nummer verwijderen ".
fn normalise(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    format!(
        " {} ",
        spaced.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

fn matches(normalised: &str, word: &str) -> bool {
    let word = normalise(&word.to_lowercase());
    // The trailing space is dropped: a word matches the start of a longer word.
    normalised.contains(word.trim_end())
}

/// What the agent can say about one system, in plain words, from the catalog and the rules.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemFacts {
    pub key: String,
    pub name: String,
    /// The kinds of data it holds, by name.
    pub holds: Vec<String>,
    /// Why: the activities it serves, with their legal basis in words.
    pub why: Vec<String>,
    /// How long, per retention rule ("7 jaar (AWR art. 52; BW 2:10), wettelijke plicht"), else
    /// the catalog's period.
    pub how_long: Vec<String>,
    /// With whom the data is shared.
    pub shared_with: Vec<String>,
    /// Whether loket reaches the system itself; otherwise its owner searches it by hand.
    pub reachable: bool,
    pub owner: String,
    /// Special-category or criminal data: the privacy officer handles it.
    pub sensitive: bool,
    /// What an erasure must keep because a law says so.
    pub kept_by_law: Vec<String>,
}

/// The catalog's facts, per system holding personal data, in `language`.
pub fn system_facts(
    catalog: &CatalogSnapshot,
    policies: &Policies,
    language: Language,
) -> Vec<SystemFacts> {
    let nl = language == Language::Nl;
    let category = |code: &str| {
        catalog
            .categories
            .iter()
            .find(|c| c.code == code)
            .map(|c| {
                if nl {
                    c.name_nl.clone()
                } else {
                    c.name_en.clone()
                }
            })
            .unwrap_or_else(|| code.to_string())
    };
    catalog
        .systems
        .iter()
        .filter(|s| !s.holdings.is_empty())
        .map(|system| {
            let activities: Vec<_> = catalog
                .activities
                .iter()
                .filter(|a| a.systems.contains(&system.key))
                .collect();
            let mut holds: Vec<String> = Vec::new();
            let mut sensitive = false;
            for holding in &system.holdings {
                let name = category(&holding.category);
                if !holds.contains(&name) {
                    holds.push(name);
                }
                sensitive |= catalog.categories.iter().any(|c| {
                    c.code == holding.category
                        && matches!(c.sensitivity, Sensitivity::Special | Sensitivity::Criminal)
                });
            }
            let why = activities
                .iter()
                .map(|a| match a.legal_basis {
                    Some(basis) => format!(
                        "{} ({})",
                        a.name.get(language),
                        crate::catalog::privacy::basis_name(basis, language)
                    ),
                    None => a.name.get(language).to_string(),
                })
                .collect();
            let rules: Vec<_> = policies
                .retention
                .iter()
                .filter(|r| r.system == system.key)
                .collect();
            let period = |rule: &crate::policies::RetentionRule| {
                let keep = if nl {
                    rule.keep.dutch()
                } else {
                    rule.keep.to_string()
                };
                let names: Vec<String> = rule.categories.iter().map(|c| category(c)).collect();
                let what = if names.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", names.join(", "))
                };
                let basis = rule
                    .legal_basis
                    .as_ref()
                    .map(|b| format!(" ({b})"))
                    .unwrap_or_default();
                format!("{what}{keep}{basis}")
            };
            let mut how_long: Vec<String> = rules.iter().map(|r| period(r)).collect();
            if how_long.is_empty() {
                // No rule yet: the catalog's own words, so the agent is not left without an answer.
                for activity in &activities {
                    for used in &activity.categories {
                        if let Some(retention) = &used.retention {
                            let line = format!("{}: {retention}", category(&used.category));
                            if !how_long.contains(&line) {
                                how_long.push(line);
                            }
                        }
                    }
                }
            }
            let kept_by_law = rules
                .iter()
                .filter(|r| r.legal_duty)
                .map(|r| period(r))
                .collect();
            let mut shared_with: Vec<String> = Vec::new();
            for recipient in activities.iter().flat_map(|a| &a.recipients) {
                if !shared_with.contains(&recipient.name) {
                    shared_with.push(recipient.name.clone());
                }
            }
            SystemFacts {
                key: system.key.clone(),
                name: system.name.get(language).to_string(),
                holds,
                why,
                how_long,
                shared_with,
                reachable: system.connector == ConnectorKind::Sql,
                owner: system.owner.clone(),
                sensitive,
                kept_by_law,
            }
        })
        .collect()
}

/// One kind's page of the guide, in one language.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct GuidePage {
    pub kind: RequestKind,
    pub version: u32,
    pub sayings: Vec<String>,
    pub words: Vec<String>,
    pub answer: String,
    pub register: String,
    pub identity: String,
    pub hand_over: Vec<HandOverLine>,
    /// What the agent can say about the data, per system, from the catalog.
    pub systems: Vec<SystemFacts>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct HandOverLine {
    pub when: String,
    pub to: String,
}

impl GuidePolicy {
    /// The page for `kind`, or `None` when the policies have no guide for it.
    pub fn page(
        &self,
        kind: RequestKind,
        systems: Vec<SystemFacts>,
        language: Language,
    ) -> Option<GuidePage> {
        let guide = self.kinds.get(&kind)?;
        Some(GuidePage {
            kind,
            version: self.version,
            sayings: guide.sayings.get(language).to_vec(),
            words: guide.words.get(language).to_vec(),
            answer: guide.answer.get(language).to_string(),
            register: guide.register.get(language).to_string(),
            identity: guide.identity.get(language).to_string(),
            hand_over: self
                .hand_overs(kind)
                .into_iter()
                .map(|h| HandOverLine {
                    when: h.when.get(language).to_string(),
                    to: h.to.get(language).to_string(),
                })
                .collect(),
            systems,
        })
    }
}

/// The catalog's facts as they stand in the store now.
pub async fn current_facts(
    store: &crate::db::Store,
    policies: &Policies,
    language: Language,
) -> crate::error::Result<Vec<SystemFacts>> {
    let catalog = store.read(crate::catalog::load_catalog).await?;
    Ok(system_facts(&catalog, policies, language))
}

/// Records a guide the audit trail has not seen yet (a new version, or new texts under the old
/// one), so every change of the guide a privacy officer ships is on the record, with its
/// version and digest; the text itself is in the versioned policy files. Returns whether it was
/// new.
pub async fn record_version(
    store: &crate::db::Store,
    guide: &GuidePolicy,
) -> crate::error::Result<bool> {
    let version = guide.version;
    let digest = guide.digest();
    let object_id = format!("{version}@{digest}");
    store
        .write(move |conn| {
            if crate::db::models::first_line::audit_event_exists(
                conn,
                "guide.loaded",
                "guide",
                &object_id,
            )? {
                return Ok(false);
            }
            crate::audit::record(
                conn,
                &crate::audit::Actor::System("policies"),
                crate::audit::Change {
                    action: "guide.loaded",
                    object_type: "guide",
                    object_id: &object_id,
                    summary: format!("agent's guide version {version} in use (texts {digest})"),
                },
            )?;
            Ok(true)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> GuidePolicy {
        crate::policies::testing::shipped_policies().guide
    }

    #[test]
    fn a_caller_asking_what_is_held_and_to_delete_a_number_is_access_and_erasure() {
        let found = shipped().recognise(
            "ik wil weten wat jullie van mij hebben en dat jullie mijn nummer verwijderen",
        );
        let kinds: Vec<_> = found.iter().map(|s| s.kind).collect();
        assert!(kinds.contains(&RequestKind::Access), "{found:?}");
        assert!(kinds.contains(&RequestKind::Erasure), "{found:?}");
        assert_eq!(kinds.len(), 2, "nothing else: {found:?}");
        assert!(shipped()
            .recognise("Please delete my account")
            .iter()
            .any(|s| s.kind == RequestKind::Erasure));
        assert!(shipped().recognise("goedemiddag").is_empty());
    }

    #[test]
    fn every_kind_has_a_guide_with_words_in_both_languages() {
        let guide = shipped();
        for kind in <RequestKind as strum::VariantArray>::VARIANTS {
            let entry = guide
                .kinds
                .get(kind)
                .unwrap_or_else(|| panic!("{kind} has a guide"));
            assert!(
                !entry.words.nl.is_empty() && !entry.words.en.is_empty(),
                "{kind}"
            );
        }
        assert!(guide.problems().is_empty());
    }

    #[test]
    fn any_change_to_the_texts_changes_the_digest() {
        let guide = shipped();
        assert_eq!(
            guide.digest(),
            shipped().digest(),
            "the same guide, the same digest"
        );
        assert_eq!(guide.digest().len(), 12);
        let mut changed = shipped();
        let erasure = changed.kinds.get_mut(&RequestKind::Erasure).unwrap();
        erasure.words.nl.push("wissen alstublieft".into());
        assert_ne!(changed.digest(), guide.digest());
    }

    #[test]
    fn the_example_catalog_answers_in_plain_dutch() {
        let facts = system_facts(
            &crate::policies::testing::example_catalog(),
            &crate::policies::testing::shipped_policies(),
            Language::Nl,
        );
        let billing = facts.iter().find(|f| f.key == "billing").unwrap();
        assert!(
            billing.how_long.iter().any(|l| l.contains("7 jaar")),
            "{billing:?}"
        );
        assert!(!billing.kept_by_law.is_empty());
    }
}
