//! The letters of a request: which ones fit it, what goes into them (from the request, its
//! checklist and the catalog), and queueing them in the outbox inside the request's transaction.

use super::answer::Deliverables;
use super::case::Case;
use super::kept::KeepException;
use super::requester::{open, place, Representative, RepresentativeKind};
use super::view::split_codes;
use super::RequestService;
use crate::catalog::model::{Activity, Organisation, OrganisationKind, Origin};
use crate::catalog::terms;
use crate::catalog::text::Text;
use crate::catalog::CatalogSnapshot;
use crate::db::models::outbox::OutboxRow;
use crate::db::models::packages::PackageRow;
use crate::db::models::packages::REDACTION_REASON_PLACE;
use crate::db::notices::{ChangeNotices, Token, Topic};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::mail::letters::{
    self as mail_letters, ActivityFacts, CategoryFact, KeptData, LetterContext, LetterKind,
    OrganisationInfo, RecipientFact, RefusalInfo, RenderedLetter, RepresentativeInfo,
    SystemOutcome,
};
use crate::mail::letters::{PackageLink, WithheldFact};
use crate::mail::outbox::{self, NewMail};
use crate::vocabulary::{Language, RequestKind, TaskKind, TaskState};
use anyhow::Context;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// What the caller adds to a letter beyond what loket knows.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The agent's own words: the question, the reason for an extension, the outcome.
    pub message: Option<String>,
    pub code: Option<String>,
    pub code_valid_minutes: Option<i64>,
    pub refusal: Option<RefusalInfo>,
    /// Whether to include a fresh status link.
    pub status_link: bool,
    /// What an approved answer refuses and why (a partial refusal).
    pub partial_refusal: Option<String>,
}

/// The answer letter that closes a request of `kind`.
pub fn answer_letter(kind: RequestKind) -> LetterKind {
    match kind {
        RequestKind::Access => LetterKind::AccessAnswer,
        RequestKind::Portability => LetterKind::PortabilityAnswer,
        RequestKind::Erasure => LetterKind::ErasureConfirmation,
        RequestKind::Rectification => LetterKind::RectificationOutcome,
        RequestKind::Restriction => LetterKind::RestrictionOutcome,
        RequestKind::Objection => LetterKind::ObjectionOutcome,
        RequestKind::HumanReview => LetterKind::HumanReviewOutcome,
    }
}

/// A rendered letter and where it would go.
#[derive(utoipa::ToSchema, Debug, Clone, serde::Serialize)]
pub struct Preview {
    pub letter: LetterKind,
    pub language: Language,
    /// The e-mail address on file, or `None` when the letter must go by post.
    pub recipient: Option<String>,
    pub subject: String,
    pub body: String,
}

impl RequestService {
    /// Renders `letter` for the case as it stands.
    pub(crate) fn render_letter(
        &self,
        conn: &mut DbConnection,
        case: &Case,
        letter: LetterKind,
        extras: &Extras,
    ) -> Result<Preview> {
        let catalog = self.catalog.get(conn)?;
        let deliverables = Deliverables::of(conn, case)?;
        self.render_letter_with(conn, &catalog, &deliverables, case, letter, extras)
    }

    /// [`Self::render_letter`] with the catalog and the request's deliverables already read in
    /// this piece of work.
    pub(crate) fn render_letter_with(
        &self,
        conn: &mut DbConnection,
        catalog: &CatalogSnapshot,
        deliverables: &Deliverables,
        case: &Case,
        letter: LetterKind,
        extras: &Extras,
    ) -> Result<Preview> {
        if letter.needs_message() && extras.message.is_none() {
            return Err(Error::invalid(
                "message",
                format!("a {letter} letter needs your own words: the question, reason or outcome"),
            ));
        }
        let language = case.row.language;
        let context = self.letter_context(conn, catalog, deliverables, case, extras, letter)?;
        let RenderedLetter { subject, body } = mail_letters::render(letter, language, &context)
            .with_context(|| format!("rendering the {letter} letter"))?;
        Ok(Preview {
            letter,
            language,
            recipient: self.letter_recipient(case)?,
            subject,
            body,
        })
    }

    /// Where letters go: to the representative when one acts for the person (a parent for a
    /// child under 16 exercises the child's rights), otherwise to the person; `None` by post.
    fn letter_recipient(&self, case: &Case) -> Result<Option<String>> {
        match Representative::open(&self.cipher, &case.row)? {
            Some(representative) => Ok(representative.email),
            None => open(&self.cipher, place::EMAIL, &case.row.email_enc),
        }
    }

    /// Renders and queues `letter` when the person has an e-mail address on file; returns the
    /// outbox id, or `None` when the letter must go by post (the preview shows it).
    pub(crate) fn queue_letter(
        &self,
        conn: &mut DbConnection,
        case: &Case,
        letter: LetterKind,
        extras: &Extras,
    ) -> Result<Option<String>> {
        let preview = self.render_letter(conn, case, letter, extras)?;
        self.queue_rendered(conn, case, &preview)
    }

    /// [`Self::queue_letter`] with the request's deliverables already read (the answer, whose
    /// checks read them first).
    pub(crate) fn queue_letter_with(
        &self,
        conn: &mut DbConnection,
        deliverables: &Deliverables,
        case: &Case,
        letter: LetterKind,
        extras: &Extras,
    ) -> Result<Option<String>> {
        let catalog = self.catalog.get(conn)?;
        let preview =
            self.render_letter_with(conn, &catalog, deliverables, case, letter, extras)?;
        self.queue_rendered(conn, case, &preview)
    }

    /// Queues a letter rendered before (outside the write transaction, say); as
    /// [`Self::queue_letter`].
    pub(crate) fn queue_rendered(
        &self,
        conn: &mut DbConnection,
        case: &Case,
        preview: &Preview,
    ) -> Result<Option<String>> {
        let Some(row) = self.outbox_row(case, preview) else {
            return Ok(None);
        };
        row.insert(conn)?;
        Ok(Some(row.id))
    }

    /// The outbox row that queues a rendered letter, or `None` when it must go by post.
    pub(crate) fn outbox_row(&self, case: &Case, preview: &Preview) -> Option<OutboxRow> {
        let recipient = preview.recipient.as_deref()?;
        Some(outbox::letter_row(
            &self.cipher,
            NewMail {
                request_id: Some(case.id()),
                letter: preview.letter,
                language: preview.language,
                recipient,
                subject: &preview.subject,
                body: &preview.body,
            },
        ))
    }

    fn letter_context(
        &self,
        conn: &mut DbConnection,
        catalog: &CatalogSnapshot,
        deliverables: &Deliverables,
        case: &Case,
        extras: &Extras,
        letter: LetterKind,
    ) -> Result<LetterContext> {
        let language = case.row.language;
        let organisation = self.organisation_info(catalog.organisation.clone());
        let names = CategoryNames::new(catalog, language);
        let system_name = |key: &Option<String>| {
            let key = key.as_deref().unwrap_or_default();
            catalog.system_name(key, language).to_string()
        };
        let done = |kind: TaskKind| {
            case.tasks
                .iter()
                .filter(move |t| t.kind == kind && t.state == TaskState::Done)
        };
        // Where data was erased, never the agent's evidence: that is internal text (who ran the
        // connector, row counts per table, hashes).
        let erased = |task: &crate::db::models::requests::TaskRow| SystemOutcome {
            system: system_name(&task.system_key),
            note: None,
            outcome: None,
            rows: None,
        };
        // What each search found, never the agent's evidence: that is internal text.
        let searched: Vec<SystemOutcome> = done(TaskKind::ExportData)
            .map(|t| SystemOutcome {
                system: system_name(&t.system_key),
                note: None,
                outcome: t.outcome.map(|o| o.to_string()),
                rows: t.found_rows,
            })
            .collect();
        let kind = case.kind();
        let facts = if kind == RequestKind::Access {
            let found = self.findings(case, deliverables).found;
            activity_facts(catalog, &found, &names)
        } else {
            Vec::new()
        };
        Ok(LetterContext {
            organisation,
            requester_name: open(&self.cipher, place::NAME, &case.row.name_enc)?,
            representative: Representative::open(&self.cipher, &case.row)?.map(|r| {
                RepresentativeInfo {
                    name: r.name,
                    for_child: r.kind == Some(RepresentativeKind::LegalRepresentative),
                }
            }),
            reference: case.row.reference.clone(),
            kind,
            received_on: super::dutch_date(case.row.received_at),
            due_on: case.row.due_on,
            due_passed: case.row.due_on < super::today(),
            status_url: if extras.status_link {
                Some(self.status_url(case.id())?)
            } else {
                None
            },
            code: extras.code.clone(),
            code_valid_minutes: extras.code_valid_minutes,
            message: extras.message.clone(),
            refusal: extras.refusal.clone(),
            partial_refusal: extras.partial_refusal.clone(),
            facts,
            systems_searched: searched,
            copy_sent_by_post_on: case.row.copy_sent_by_post_on,
            extension_ground: case.row.extension_ground.map(|g| g.to_string()),
            erased: done(TaskKind::EraseData).map(erased).collect(),
            kept: case
                .tasks
                .iter()
                .filter(|t| {
                    (t.kind == TaskKind::KeepUnderException || t.kind == TaskKind::ReviewRetention)
                        && t.state == TaskState::Done
                })
                .map(|t| KeptData {
                    system: system_name(&t.system_key),
                    categories: split_codes(&t.categories)
                        .iter()
                        .map(|code| names.name(code))
                        .collect(),
                    exception: self.keep_reason(t, language),
                    legal_claims: t.legal_exception.as_deref().is_some_and(|e| {
                        e.starts_with(super::kept::KeepException::LegalClaims.article())
                    }),
                    until: t.keep_until,
                    criterion: self.keep_criterion(t, language),
                })
                .collect(),
            recipients_notified: done(TaskKind::NotifyRecipient)
                .filter_map(|t| t.recipient.clone())
                .collect(),
            recipients_named: self.names_recipients(conn, case)?,
            package: self.package_link(deliverables)?,
            withheld: self.withheld(deliverables, catalog, language)?,
            // Every receipt and answer would otherwise look the address up for nothing.
            suppressed: letter.mentions_suppression() && self.is_suppressed(conn, case)?,
        })
    }

    /// The retention rule with a legal duty behind a keep task, if a rule sets it.
    fn keep_rule(
        &self,
        task: &crate::db::models::requests::TaskRow,
    ) -> Option<&crate::policies::RetentionRule> {
        self.policies.retention.iter().find(|rule| {
            rule.legal_duty
                && Some(&rule.system) == task.system_key.as_ref()
                && (task.activity_key.is_none() || rule.activity == task.activity_key)
        })
    }

    /// Why data is kept, as the person reads it: the exception of Art. 17(3) in the letter's
    /// language and the law behind the duty ("AWR art. 52"), never the task's recorded text,
    /// which mixes languages and may name internal keys.
    fn keep_reason(
        &self,
        task: &crate::db::models::requests::TaskRow,
        language: Language,
    ) -> String {
        let exception = task
            .legal_exception
            .as_deref()
            .and_then(KeepException::of_recorded)
            .unwrap_or(KeepException::LegalObligation);
        let described = exception.describe(language);
        match self
            .keep_rule(task)
            .and_then(|rule| rule.legal_basis.as_ref())
            .map(|law| law.get(language))
        {
            Some(law) if exception != KeepException::LegalClaims => format!("{described}; {law}"),
            _ => described.to_string(),
        }
    }

    /// How long a keep task's rule keeps each item, for a letter without an end date: "7 jaar
    /// na het begin van de termijn van elk gegeven".
    fn keep_criterion(
        &self,
        task: &crate::db::models::requests::TaskRow,
        language: Language,
    ) -> Option<String> {
        let rule = self.keep_rule(task)?;
        Some(match language {
            Language::Nl => format!(
                "{} na het begin van de bewaartermijn van elk gegeven",
                rule.keep.dutch()
            ),
            Language::En => format!(
                "{} after the start of each item's retention period",
                rule.keep
            ),
        })
    }

    /// The link to the newest package of the request that can still be downloaded.
    fn package_link(&self, deliverables: &Deliverables) -> Result<Option<PackageLink>> {
        let Some(package) = deliverables.ready_package() else {
            return Ok(None);
        };
        Ok(Some(PackageLink {
            url: download_url(&self.links, &self.public_url, package)?,
            expires_on: super::dutch_date(package.expires_at),
            max_downloads: package.max_downloads,
            passphrase: package.passphrase_hash.is_some(),
        }))
    }

    /// What agents withheld from the request's packages, named for the person: the system and,
    /// where the catalog mapping gives them, the labels of the table and column; never the
    /// database's own names.
    fn withheld(
        &self,
        deliverables: &Deliverables,
        catalog: &CatalogSnapshot,
        language: Language,
    ) -> Result<Vec<WithheldFact>> {
        deliverables
            .redactions
            .iter()
            .map(|row| {
                let system = row
                    .system_key
                    .as_deref()
                    .and_then(|key| catalog.systems.iter().find(|s| s.key == key));
                let what = withheld_what(
                    system,
                    row.attachment_id.is_some(),
                    row.table_name.as_deref(),
                    row.column_name.as_deref(),
                    language,
                );
                let reason = self
                    .cipher
                    .decrypt(REDACTION_REASON_PLACE, &row.reason_enc)
                    .context(REDACTION_REASON_PLACE)?;
                Ok(WithheldFact { what, reason })
            })
            .collect()
    }

    /// The controller as letters and packages name it: the catalog's organisation, or the sender.
    pub(crate) fn organisation_info(&self, organisation: Option<Organisation>) -> OrganisationInfo {
        match organisation {
            Some(o) => OrganisationInfo {
                kind: o.kind,
                name: o.name,
                decision_body: o.decision_body,
                address: o.address,
                contact_email: o.contact_email,
                dpo_name: o.dpo_name,
                dpo_email: o.dpo_email,
            },
            // Before the catalog names the controller, letters are signed with the sender.
            None => OrganisationInfo {
                kind: OrganisationKind::default(),
                name: mailbox_name(&self.mail_from),
                decision_body: None,
                address: None,
                contact_email: mailbox_address(&self.mail_from),
                dpo_name: None,
                dpo_email: None,
            },
        }
    }
}

/// A withheld part of the copy as the person reads it: "een document", "CRM: Contactmomenten,
/// Samenvatting". Tables and columns appear only by their labels in the catalog mapping.
fn withheld_what(
    system: Option<&crate::catalog::model::System>,
    document: bool,
    table: Option<&str>,
    column: Option<&str>,
    language: Language,
) -> String {
    let nl = language == Language::Nl;
    if document {
        return match system {
            Some(system) if nl => format!("een document in {}", system.name.get(language)),
            Some(system) => format!("a document in {}", system.name.get(language)),
            None if nl => "een document".into(),
            None => "a document".into(),
        };
    }
    let Some(system) = system else {
        return if nl {
            "een deel van uw gegevens"
        } else {
            "part of your data"
        }
        .into();
    };
    let mapped = system.sql.as_ref().and_then(|m| m.table(table?));
    let labels: Vec<&str> = [
        mapped
            .and_then(|t| t.label.as_ref())
            .map(|l| l.get(language)),
        mapped
            .zip(column)
            .and_then(|(t, c)| t.labels.get(c))
            .map(|l| l.get(language)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let name = system.name.get(language);
    if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {}", labels.join(", "))
    }
}

pub use crate::catalog::load_catalog;

/// The download link of a package, for its answer letter.
pub fn download_url(
    links: &crate::auth::TokenService,
    public_url: &str,
    package: &PackageRow,
) -> Result<String> {
    let token = links
        .issue_download_link(
            super::DOWNLOAD_LINK_AUDIENCE,
            &package.id,
            package.expires_at.and_utc().timestamp(),
            package.max_downloads,
        )
        .context("could not sign a download link")?;
    Ok(format!("{public_url}/packages/{token}"))
}

/// The catalog as last read, with the stamp it was read under, shared by a service's clones:
/// intake and letters read it many times a second and it changes a few times a year. While the
/// store's notices vouch for the copy (PostgreSQL with its listener, see
/// [`crate::db::notices`]) it is used as it is; otherwise every use checks the stamp (one
/// single-row read), so a change made by another instance sharing the store is seen at once.
#[derive(Debug, Clone, Default)]
pub struct CatalogCache {
    kept: Arc<Mutex<Option<Stamped>>>,
    notices: Arc<ChangeNotices>,
}

/// A catalog snapshot, the stamp it was read under, and the notices' token of that moment.
type Stamped = (i64, Option<Token>, Arc<CatalogSnapshot>);

impl CatalogCache {
    /// A cache that trusts its copy while `notices` say the catalog did not change.
    pub fn watching(notices: Arc<ChangeNotices>) -> Self {
        CatalogCache {
            kept: Arc::default(),
            notices,
        }
    }

    /// The catalog as stored now: the cached copy while the notices vouch for it or the stamp
    /// is unchanged, else read again.
    pub fn get(&self, conn: &mut DbConnection) -> Result<Arc<CatalogSnapshot>> {
        if let Some((_, Some(token), snapshot)) = &*self.lock() {
            if self.notices.is_current(Topic::Catalog, *token) {
                return Ok(snapshot.clone());
            }
        }
        // The token and the stamp first: a change committed between them and the catalog's
        // reads then only costs a reload next time, never a stale copy kept as current.
        let token = self.notices.token(Topic::Catalog);
        let stamp = crate::db::models::catalog::stamp(conn)?;
        let unchanged = match &mut *self.lock() {
            Some((cached, kept_under, snapshot)) if *cached == stamp => {
                *kept_under = token;
                Some(snapshot.clone())
            }
            _ => None,
        };
        if let Some(snapshot) = unchanged {
            return Ok(snapshot);
        }
        let snapshot = Arc::new(load_catalog(conn)?);
        *self.lock() = Some((stamp, token, snapshot.clone()));
        Ok(snapshot)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Stamped>> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Category names in the letter's language.
struct CategoryNames {
    names: HashMap<String, String>,
    language: Language,
}

impl CategoryNames {
    fn new(catalog: &CatalogSnapshot, language: Language) -> Self {
        CategoryNames {
            language,
            names: catalog
                .categories
                .iter()
                .map(|c| {
                    let name = match language {
                        Language::Nl => &c.name_nl,
                        Language::En => &c.name_en,
                    };
                    (c.code.clone(), name.clone())
                })
                .collect(),
        }
    }

    fn name(&self, code: &str) -> String {
        self.names
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_string())
    }
}

/// The Art. 15(1) facts of the activities carried by a system where data of the person was
/// found, each with the origins of what those systems hold for it; none when nothing was found.
fn activity_facts(
    catalog: &CatalogSnapshot,
    found: &BTreeSet<String>,
    names: &CategoryNames,
) -> Vec<ActivityFacts> {
    catalog
        .activities
        .iter()
        .filter(|a| a.systems.iter().any(|s| found.contains(s)))
        .map(|a| {
            let mut facts = facts_of(a, names);
            facts.origins = origins_of(catalog, a, |system| found.contains(system));
            facts
        })
        .collect()
}

/// Where the data of an activity comes from, per the catalog's origin of each holding (provided,
/// observed, inferred) on the systems `counts` keeps, in that order.
fn origins_of(
    catalog: &CatalogSnapshot,
    activity: &Activity,
    counts: impl Fn(&str) -> bool,
) -> Vec<String> {
    let held: Vec<Origin> = catalog
        .systems
        .iter()
        .filter(|s| activity.systems.contains(&s.key) && counts(&s.key))
        .flat_map(|s| &s.holdings)
        .filter(|h| activity.categories.iter().any(|c| c.category == h.category))
        .map(|h| h.origin)
        .collect();
    [Origin::Provided, Origin::Observed, Origin::Inferred]
        .into_iter()
        .filter(|o| held.contains(o))
        .map(|o| {
            serde_json::to_value(o)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
        })
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default()
}

/// The Art. 15(1) facts of every activity in `language`, with the systems that carry it (for
/// packages, which give the facts of the systems where data of the person was found).
pub fn facts_by_activity(
    catalog: &CatalogSnapshot,
    language: Language,
) -> Vec<(ActivityFacts, Vec<String>)> {
    let names = CategoryNames::new(catalog, language);
    catalog
        .activities
        .iter()
        .map(|a| {
            let mut facts = facts_of(a, &names);
            facts.origins = origins_of(catalog, a, |_| true);
            (facts, a.systems.clone())
        })
        .collect()
}

/// The facts of one activity in the letter's language, in the law's own words: never a code of
/// the catalog's vocabularies.
fn facts_of(a: &Activity, names: &CategoryNames) -> ActivityFacts {
    let language = names.language;
    let text = |text: &Option<Text>| text.as_ref().map(|t| t.get(language).to_string());
    ActivityFacts {
        name: a.name.get(language).to_string(),
        purposes: a
            .purposes
            .iter()
            .map(|p| p.get(language).to_string())
            .collect(),
        legal_basis: a.legal_basis.map(|b| terms::basis(b, language)),
        categories: a
            .categories
            .iter()
            .map(|c| CategoryFact {
                name: names.name(&c.category),
                retention: text(&c.retention),
            })
            .collect(),
        recipients: a
            .recipients
            .iter()
            .map(|r| RecipientFact {
                name: r.name.clone(),
                kind: terms::recipient_kind(r.kind, language).to_string(),
                country: terms::country(&r.country, language),
                outside_eea: r.outside_eea(),
                safeguard: r
                    .safeguard
                    .map(|s| terms::safeguard(s, language).to_string()),
                description: text(&r.description),
            })
            .collect(),
        source: text(&a.source),
        origins: Vec::new(),
        automated_decision_logic: text(&a.automated_decision_logic),
    }
}

/// `loket <privacy@example.nl>` -> `loket`; a bare address names itself.
fn mailbox_name(mailbox: &str) -> String {
    match mailbox.split_once('<') {
        Some((name, _)) if !name.trim().is_empty() => name.trim().trim_matches('"').to_string(),
        _ => mailbox_address(mailbox),
    }
}

fn mailbox_address(mailbox: &str) -> String {
    match mailbox.split_once('<') {
        Some((_, rest)) => rest.trim_end_matches('>').trim().to_string(),
        None => mailbox.trim().to_string(),
    }
}
