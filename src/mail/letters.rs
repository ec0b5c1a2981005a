//! The letters loket writes to people, rendered from the templates in `templates/mail/`.
//!
//! Each letter is one template per language (`templates/mail/{nl,en}/{kind}.txt`) that extends the
//! language's frame (`_letter.txt`: greeting, signature, reference) and fills two blocks: `subject`
//! and `content`. The templates are compiled into the binary, so loket runs from any directory.
//! Rendering is strict: a misspelt variable or a missing required value (`|required`) is an
//! error, never a letter with a hole in it.

use crate::catalog::model::OrganisationKind;
use crate::vocabulary::{vocabulary, Language, RefusalGround, RequestKind};
use chrono::{Datelike, NaiveDate};
use minijinja::{Environment, ErrorKind, State, UndefinedBehavior, Value};
use serde::Serialize;
use std::sync::LazyLock;

vocabulary! {
    /// A letter loket writes to a person; one template per language.
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
        /// Art. 18(3): the person is told before a restriction is lifted.
        RestrictionLiftNotice,
        /// The person withdrew their request: confirmed, so a withdrawal they did not make shows.
        WithdrawalConfirmation,
    }
}

impl LetterKind {
    /// Letters that carry the agent's own words (`message`) and cannot go out without them:
    /// a question, an extension's reason, an outcome. Kept in step with the templates' use of
    /// `|required("message")` by a test.
    pub fn needs_message(self) -> bool {
        matches!(
            self,
            LetterKind::ClarificationQuestion
                | LetterKind::ExtensionNotice
                | LetterKind::RectificationOutcome
                | LetterKind::RestrictionOutcome
                | LetterKind::ObjectionOutcome
                | LetterKind::HumanReviewOutcome
        )
    }

    /// Letters that tell the person their address stays on the marketing suppression list
    /// (`suppressed`); for the others the list is not looked up. Kept in step with the
    /// templates by a test.
    pub fn mentions_suppression(self) -> bool {
        matches!(self, LetterKind::ErasureConfirmation)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OrganisationInfo {
    /// Private or public body: decides the judicial remedy a refusal names (`_remedies.txt`).
    pub kind: OrganisationKind,
    pub name: String,
    /// The public body's organ that takes the besluit and hears the bezwaar.
    pub decision_body: Option<String>,
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
    /// What the recipient does with the data, in the letter's language.
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActivityFacts {
    pub name: String,
    pub purposes: Vec<String>,
    pub legal_basis: Option<String>,
    pub categories: Vec<CategoryFact>,
    pub recipients: Vec<RecipientFact>,
    /// The third party or source the catalog names for the activity's data.
    pub source: Option<String>,
    /// How the data came to be, per the catalog's origin of the data found: `provided`,
    /// `observed`, `inferred`.
    pub origins: Vec<String>,
    pub automated_decision_logic: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemOutcome {
    pub system: String,
    pub note: Option<String>,
    /// What the search found: `found`, `not_found` or `not_reachable` (access, portability).
    pub outcome: Option<String>,
    pub rows: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeptData {
    pub system: String,
    pub categories: Vec<String>,
    pub exception: String,
    /// Kept for legal claims (a legal hold, Art. 17(3)(e)): the letter says that and no more.
    pub legal_claims: bool,
    /// The latest end of the kept rows; each goes as soon as its own period ends.
    pub until: Option<NaiveDate>,
    /// Without an end date: how long each item is kept, in the letter's language.
    pub criterion: Option<String>,
}

/// Everything a letter may say. Each letter uses what it needs; values a letter cannot do without
/// are checked when it renders (`code` for the verification code, `message` for the question,
/// the extension reason and the outcomes, `refusal` for the refusal).
#[derive(Debug, Clone, Serialize)]
pub struct LetterContext {
    /// The controller: named in the signature, with its contact address and DPO.
    pub organisation: OrganisationInfo,
    /// For the greeting; a formal greeting without a name when unknown.
    pub requester_name: Option<String>,
    /// Who the letter goes to instead of the person, named in the greeting; the letter names
    /// the person (the child) it is about.
    pub representative: Option<RepresentativeInfo>,
    /// The request's reference, in every subject and letter.
    pub reference: String,
    /// The right exercised, named (with its article) in the letters about the request.
    pub kind: RequestKind,
    pub received_on: NaiveDate,
    /// The (possibly extended) due date: in the receipt confirmation and the extension notice.
    pub due_on: NaiveDate,
    /// The due date lies before the day the letter is written (a request registered late).
    pub due_passed: bool,
    /// The signed status-page link of the receipt confirmation.
    pub status_url: Option<String>,
    /// The one-time code and its lifetime (verification code).
    pub code: Option<String>,
    pub code_valid_minutes: Option<i64>,
    /// The agent's text: the question (clarification), the reason (extension), the outcome
    /// (rectification, restriction, objection, human review), how the copy is provided (access,
    /// portability).
    pub message: Option<String>,
    pub refusal: Option<RefusalInfo>,
    /// What the answer refuses and why, approved by a privacy officer: the letter adds the
    /// judicial remedy (access, portability, rectification, objection).
    pub partial_refusal: Option<String>,
    /// The Art. 15(1) facts per processing activity (access answer).
    pub facts: Vec<ActivityFacts>,
    /// The systems searched, with their result (access, portability).
    pub systems_searched: Vec<SystemOutcome>,
    /// Where data was erased, and what was kept under an exception (erasure confirmation).
    pub erased: Vec<SystemOutcome>,
    pub kept: Vec<KeptData>,
    /// The recipients told of the change (Art. 19).
    pub recipients_notified: Vec<String>,
    /// Whether the erasure answer names them: the person asked (Art. 19) or the policy says so.
    pub recipients_named: bool,
    /// The download link of the package with the data (access, portability).
    pub package: Option<PackageLink>,
    /// What was withheld from the package, and why (Art. 15(4)).
    pub withheld: Vec<WithheldFact>,
    /// The e-mail address is on the marketing suppression list (as a keyed hash) after an
    /// erasure, so that no mail is sent to it again.
    pub suppressed: bool,
    /// The day the copy of the data went by post (access, portability without a package).
    pub copy_sent_by_post_on: Option<NaiveDate>,
    /// The ground of the extension (`complexity`, `number_of_requests`).
    pub extension_ground: Option<String>,
}

/// A representative as a letter addresses them.
#[derive(Debug, Clone, Serialize)]
pub struct RepresentativeInfo {
    pub name: String,
    /// A parent or guardian exercising the rights of a child under 16.
    pub for_child: bool,
}

/// The signed link to a package, as a letter gives it.
#[derive(Debug, Clone, Serialize)]
pub struct PackageLink {
    pub url: String,
    pub expires_on: NaiveDate,
    pub max_downloads: i32,
    /// A passphrase is needed too, given by another channel.
    pub passphrase: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WithheldFact {
    pub what: String,
    pub reason: String,
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
    /// The mail settings cannot work (bad From address, unusable SMTP host, …).
    #[error("mail configuration: {0}")]
    Config(String),
    /// The delivery worker needs a running tokio runtime.
    #[error("the mail worker must be started inside a tokio runtime")]
    NoRuntime,
    /// The worker task ended abnormally (it panicked or was cancelled).
    #[error("the mail worker ended abnormally: {0}")]
    Worker(String),
}

/// Renders the subject and body of `kind` in `language`.
pub fn render(
    kind: LetterKind,
    language: Language,
    context: &LetterContext,
) -> Result<RenderedLetter, MailError> {
    let name = template_name(kind, language);
    let failed = |error: minijinja::Error| MailError::Template(name.clone(), describe(&error));
    let env = ENVIRONMENT
        .as_ref()
        .map_err(|error| MailError::Template(name.clone(), error.clone()))?;
    let template = env.get_template(&name).map_err(failed)?;
    let values =
        minijinja::context! { language => language.as_str(), ..Value::from_serialize(context) };
    // Evaluating the template once sets up its blocks; each part is then rendered on its own.
    let mut captured = template
        .render_captured_to(values, std::io::sink())
        .map_err(failed)?;
    let (subject, body) = captured
        .with_state_mut(|state| Ok((state.render_block("subject")?, state.render_block("body")?)))
        .map_err(failed)?;
    Ok(RenderedLetter {
        subject: one_line(&subject),
        body: tidy(&body),
    })
}

fn template_name(kind: LetterKind, language: Language) -> String {
    format!("{}/{}.txt", language.as_str(), kind)
}

/// The error with its cause chain, which says which filter or variable failed.
fn describe(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Optional paragraphs that are left out may leave blank lines behind: keep at most one between
/// paragraphs, none at either end, and end with a newline.
fn tidy(body: &str) -> String {
    let mut text = String::with_capacity(body.len());
    let mut blank_lines = 0;
    for line in body.trim().lines().map(str::trim_end) {
        blank_lines = if line.is_empty() { blank_lines + 1 } else { 0 };
        if blank_lines <= 1 {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// A subject is one header line: no line breaks, no surrounding blanks.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lists the template files under `templates/mail/`, embedded at compile time.
macro_rules! embedded_templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/mail/", $name)))),*]
    };
}

/// Every template, in both languages: the frame, shared paragraphs and one file per letter kind.
const TEMPLATES: &[(&str, &str)] = embedded_templates!(
    "nl/_letter.txt",
    "nl/_dpo.txt",
    "nl/_right.txt",
    "nl/_contact.txt",
    "nl/_complaint.txt",
    "nl/_court.txt",
    "nl/_partial.txt",
    "nl/_appeal.txt",
    "nl/_remedies.txt",
    "nl/_notified.txt",
    "nl/_erasure_notified.txt",
    "nl/_systems.txt",
    "nl/_package.txt",
    "nl/receipt_confirmation.txt",
    "nl/verification_code.txt",
    "nl/clarification_question.txt",
    "nl/extension_notice.txt",
    "nl/access_answer.txt",
    "nl/portability_answer.txt",
    "nl/erasure_confirmation.txt",
    "nl/rectification_outcome.txt",
    "nl/restriction_outcome.txt",
    "nl/objection_outcome.txt",
    "nl/human_review_outcome.txt",
    "nl/refusal.txt",
    "nl/restriction_lift_notice.txt",
    "nl/withdrawal_confirmation.txt",
    "en/_letter.txt",
    "en/_dpo.txt",
    "en/_right.txt",
    "en/_contact.txt",
    "en/_complaint.txt",
    "en/_court.txt",
    "en/_partial.txt",
    "en/_appeal.txt",
    "en/_remedies.txt",
    "en/_notified.txt",
    "en/_erasure_notified.txt",
    "en/_systems.txt",
    "en/_package.txt",
    "en/receipt_confirmation.txt",
    "en/verification_code.txt",
    "en/clarification_question.txt",
    "en/extension_notice.txt",
    "en/access_answer.txt",
    "en/portability_answer.txt",
    "en/erasure_confirmation.txt",
    "en/rectification_outcome.txt",
    "en/restriction_outcome.txt",
    "en/objection_outcome.txt",
    "en/human_review_outcome.txt",
    "en/refusal.txt",
    "en/restriction_lift_notice.txt",
    "en/withdrawal_confirmation.txt",
);

/// Built once. A template that does not parse is kept as an error (reported on every render)
/// rather than a panic at startup; the unit tests render every template, so it cannot ship.
static ENVIRONMENT: LazyLock<Result<Environment<'static>, String>> =
    LazyLock::new(build_environment);

fn build_environment() -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Plain-text letters: a line holding only a tag leaves no blank line behind.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Shared paragraphs (`_complaint.txt`, …) end with their own line break.
    env.set_keep_trailing_newline(true);
    // Plain text, not HTML: names like "O'Brien & Zn." must arrive as written.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_filter("long_date", long_date);
    env.add_filter("required", required);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|error| format!("{name}: {}", describe(&error)))?;
    }
    Ok(env)
}

/// `2026-03-05` as "5 maart 2026" or "5 March 2026", in the letter's language.
fn long_date(state: &State, value: String) -> Result<String, minijinja::Error> {
    let date = NaiveDate::parse_from_str(&value, "%Y-%m-%d").map_err(|_| {
        minijinja::Error::new(ErrorKind::InvalidOperation, format!("not a date: {value}"))
    })?;
    let dutch = state
        .lookup("language")
        .is_some_and(|language| language.as_str() == Some("nl"));
    Ok(written_date(
        date,
        if dutch { Language::Nl } else { Language::En },
    ))
}

/// A date as a letter writes it: "5 maart 2026" or "5 March 2026".
pub fn written_date(date: NaiveDate, language: Language) -> String {
    let months = match language {
        Language::Nl => &MONTHS_NL,
        Language::En => &MONTHS_EN,
    };
    format!(
        "{} {} {}",
        date.day(),
        months[date.month0() as usize],
        date.year()
    )
}

const MONTHS_NL: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Fails the render when a value the letter cannot do without (the code, the question) is
/// missing, instead of printing "none" to the person.
fn required(value: Value, what: String) -> Result<Value, minijinja::Error> {
    if value.is_none() || value.is_undefined() {
        Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("this letter needs `{what}`, which is missing"),
        ))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// A context as the requests work fills it: every list and option in use.
    fn context() -> LetterContext {
        LetterContext {
            organisation: OrganisationInfo {
                kind: OrganisationKind::Private,
                name: "Fietsenwinkel De Spaak B.V.".into(),
                decision_body: None,
                address: Some("Kerkstraat 1, 1234 AB Utrecht".into()),
                contact_email: "privacy@despaak.nl".into(),
                dpo_name: Some("Mr. A. de Vries".into()),
                dpo_email: Some("fg@despaak.nl".into()),
            },
            requester_name: Some("Jan Jansen".into()),
            representative: None,
            reference: "AVG-2026-0042".into(),
            kind: RequestKind::Access,
            received_on: date("2026-08-31"),
            due_on: date("2026-09-30"),
            status_url: Some("https://loket.example/status/abc.def".into()),
            code: Some("483920".into()),
            code_valid_minutes: Some(30),
            message: Some("We need to check three archives.".into()),
            refusal: Some(RefusalInfo {
                ground: RefusalGround::ManifestlyUnfoundedOrExcessive,
                reason: "You sent the same request 40 times this week.".into(),
            }),
            facts: vec![ActivityFacts {
                name: "Customer administration".into(),
                purposes: vec!["Delivering orders".into(), "Invoicing".into()],
                legal_basis: Some("Art. 6(1)(b) contract".into()),
                categories: vec![
                    CategoryFact {
                        name: "Contact details".into(),
                        retention: Some("2 years after the last order".into()),
                    },
                    CategoryFact {
                        name: "Usage logs".into(),
                        retention: None,
                    },
                ],
                recipients: vec![
                    RecipientFact {
                        name: "PostNL".into(),
                        kind: "processor".into(),
                        country: "NL".into(),
                        outside_eea: false,
                        safeguard: None,
                        description: None,
                    },
                    RecipientFact {
                        name: "MailCloud Inc.".into(),
                        kind: "processor".into(),
                        country: "US".into(),
                        outside_eea: true,
                        safeguard: Some("Standard contractual clauses".into()),
                        description: None,
                    },
                ],
                source: Some("Credit agency Acme".into()),
                origins: vec!["provided".into(), "observed".into()],
                automated_decision_logic: Some("A credit score decides the payment terms.".into()),
            }],
            systems_searched: vec![
                SystemOutcome {
                    system: "CRM".into(),
                    note: None,
                    outcome: Some("found".into()),
                    rows: Some(3),
                },
                SystemOutcome {
                    system: "Webshop".into(),
                    note: None,
                    outcome: Some("not_found".into()),
                    rows: None,
                },
            ],
            erased: vec![SystemOutcome {
                system: "Newsletter".into(),
                note: None,
                outcome: None,
                rows: None,
            }],
            kept: vec![KeptData {
                system: "Accounting".into(),
                categories: vec!["Invoices".into()],
                exception: "Art. 17(3)(b), AWR art. 52: 7 years fiscal retention".into(),
                legal_claims: false,
                until: Some(date("2033-12-31")),
                criterion: None,
            }],
            recipients_notified: vec!["PostNL".into()],
            recipients_named: true,
            package: Some(PackageLink {
                url: "https://loket.example/packages/abc.def.ghi".into(),
                expires_on: date("2026-10-14"),
                max_downloads: 3,
                passphrase: true,
            }),
            withheld: vec![WithheldFact {
                what: "CRM, interactions, field summary".into(),
                reason: "It names another customer.".into(),
            }],
            suppressed: false,
            due_passed: false,
            partial_refusal: None,
            copy_sent_by_post_on: None,
            extension_ground: Some("complexity".into()),
        }
    }

    fn render_ok(kind: LetterKind, language: Language, context: &LetterContext) -> RenderedLetter {
        render(kind, language, context).unwrap_or_else(|e| panic!("{kind} {language}: {e}"))
    }

    /// `needs_message` and `mentions_suppression` say what the templates do: a letter without
    /// `message` fails to render exactly when it needs one, and `suppressed` changes exactly
    /// the letters that mention the suppression list.
    #[test]
    fn letter_kinds_say_what_their_templates_use() {
        let mut without = context();
        without.message = None;
        let mut suppressed = context();
        suppressed.suppressed = true;
        for &kind in LetterKind::VARIANTS {
            for language in [Language::Nl, Language::En] {
                assert_eq!(
                    render(kind, language, &without).is_err(),
                    kind.needs_message(),
                    "{kind} {language}"
                );
                let differs =
                    render_ok(kind, language, &suppressed) != render_ok(kind, language, &context());
                assert_eq!(differs, kind.mentions_suppression(), "{kind} {language}");
            }
        }
    }

    #[test]
    fn every_kind_renders_in_both_languages_with_greeting_reference_and_signature() {
        let context = context();
        for &kind in LetterKind::VARIANTS {
            for language in [Language::Nl, Language::En] {
                let letter = render_ok(kind, language, &context);
                assert!(
                    letter.subject.contains("AVG-2026-0042"),
                    "{kind} {language}"
                );
                assert!(!letter.subject.contains('\n'));
                let body = &letter.body;
                assert!(body.contains("Jan Jansen"), "{kind} {language}: greeting");
                assert!(body.contains("AVG-2026-0042"), "{kind} {language}");
                assert!(
                    body.contains("Fietsenwinkel De Spaak B.V."),
                    "{kind} {language}"
                );
                assert!(body.contains("privacy@despaak.nl"), "{kind} {language}");
                assert!(
                    body.contains("Mr. A. de Vries (fg@despaak.nl)"),
                    "{kind} {language}"
                );
                assert!(!body.contains("none"), "{kind} {language}: a hole\n{body}");
                assert!(!body.contains("\n\n\n"), "{kind} {language}: gap\n{body}");
            }
        }
    }

    #[test]
    fn a_sparse_context_leaves_no_holes_or_gaps() {
        let mut context = context();
        context.organisation.address = None;
        context.organisation.dpo_name = None;
        context.status_url = None;
        context.facts.clear();
        context.systems_searched.clear();
        context.erased.clear();
        context.kept.clear();
        context.recipients_notified.clear();
        for &kind in LetterKind::VARIANTS {
            for language in [Language::Nl, Language::En] {
                let body = render_ok(kind, language, &context).body;
                assert!(!body.contains("none"), "{kind} {language}: a hole\n{body}");
                assert!(!body.contains("\n\n\n"), "{kind} {language}: gap\n{body}");
                assert!(
                    body.contains("fg@despaak.nl"),
                    "{kind} {language}: DPO e-mail alone"
                );
            }
        }
    }

    #[test]
    fn paragraphs_are_separated_by_one_blank_line() {
        let body = render_ok(LetterKind::Refusal, Language::En, &context()).body;
        assert!(body.contains("(autoriteitpersoonsgegevens.nl).\n\nYou may also go to court"));
        assert!(body.contains("UAVG).\n\nIf you have questions"));
        assert!(body.ends_with("Your reference: AVG-2026-0042\n"));
    }

    #[test]
    fn greeting_without_a_name_and_signature_without_dpo() {
        let mut context = context();
        context.requester_name = None;
        context.organisation.dpo_name = None;
        context.organisation.dpo_email = None;
        let nl = render_ok(LetterKind::ReceiptConfirmation, Language::Nl, &context);
        assert!(nl.body.starts_with("Geachte heer, mevrouw,"));
        assert!(!nl.body.contains("Functionaris"));
        let en = render_ok(LetterKind::ReceiptConfirmation, Language::En, &context);
        assert!(en.body.starts_with("Dear Sir or Madam,"));
    }

    #[test]
    fn receipt_confirmation_has_dates_status_link_and_is_free() {
        let nl = render_ok(LetterKind::ReceiptConfirmation, Language::Nl, &context());
        assert!(nl.body.contains("31 augustus 2026"));
        assert!(nl.body.contains("30 september 2026"));
        assert!(nl.body.contains("https://loket.example/status/abc.def"));
        assert!(nl.body.contains("gratis"));
        assert!(nl.body.contains("inzage"));
        let en = render_ok(LetterKind::ReceiptConfirmation, Language::En, &context());
        assert!(en.body.contains("31 August 2026"));
        assert!(en.body.contains("30 September 2026"));
        assert!(en.body.contains("free of charge"));
        assert!(en.body.contains("Article 15"));
    }

    #[test]
    fn verification_code_needs_the_code() {
        let en = render_ok(LetterKind::VerificationCode, Language::En, &context());
        assert!(en.body.contains("483920"));
        assert!(en.body.contains("30 minutes"));
        assert!(en.body.contains("ignore"));
        let mut without = context();
        without.code = None;
        let error = render(LetterKind::VerificationCode, Language::Nl, &without).unwrap_err();
        assert!(error.to_string().contains("code"), "{error}");
    }

    #[test]
    fn clarification_and_extension_carry_the_message() {
        let nl = render_ok(LetterKind::ClarificationQuestion, Language::Nl, &context());
        assert!(nl.body.contains("We need to check three archives."));
        assert!(nl.body.contains("staat de termijn"));
        let en = render_ok(LetterKind::ExtensionNotice, Language::En, &context());
        assert!(en.body.contains("We need to check three archives."));
        assert!(en.body.contains("30 September 2026"));
        assert!(en.body.contains("Article 12(3)"));
        assert!(en.body.contains("Autoriteit Persoonsgegevens"));
        let mut without = context();
        without.message = None;
        assert!(render(LetterKind::ExtensionNotice, Language::En, &without).is_err());
    }

    #[test]
    fn access_answer_has_every_article_15_fact() {
        for language in [Language::Nl, Language::En] {
            let body = render_ok(LetterKind::AccessAnswer, language, &context()).body;
            for fact in [
                "Delivering orders; Invoicing",
                "Contact details: 2 years after the last order",
                "Usage logs: ",
                "PostNL (processor, NL)",
                "MailCloud Inc. (processor, US)",
                "Standard contractual clauses",
                "Credit agency Acme",
                "A credit score decides the payment terms.",
                "- Webshop: ",
                "- CRM: ",
                "We need to check three archives.",
                "Autoriteit Persoonsgegevens",
            ] {
                assert!(body.contains(fact), "{language}: {fact}\n{body}");
            }
            for article in ["16", "17", "18", "20", "21"] {
                assert!(body.contains(article), "{language}: Art. {article}");
            }
        }
        let en = render_ok(LetterKind::AccessAnswer, Language::En, &context()).body;
        assert!(en.contains("MailCloud Inc. (processor, US) - OUTSIDE THE EUROPEAN ECONOMIC AREA"));
        assert!(!en.contains("PostNL (processor, NL) - OUTSIDE"));
        let nl = render_ok(LetterKind::AccessAnswer, Language::Nl, &context()).body;
        assert!(
            nl.contains("MailCloud Inc. (processor, US) - BUITEN DE EUROPESE ECONOMISCHE RUIMTE")
        );
    }

    #[test]
    fn answers_carry_the_package_link_and_what_was_withheld() {
        for kind in [LetterKind::AccessAnswer, LetterKind::PortabilityAnswer] {
            for language in [Language::Nl, Language::En] {
                let body = render_ok(kind, language, &context()).body;
                for part in [
                    "https://loket.example/packages/abc.def.ghi",
                    "14 ",
                    "3 ",
                    "- CRM, interactions, field summary: It names another customer.",
                    "15",
                ] {
                    assert!(body.contains(part), "{kind} {language}: {part}\n{body}");
                }
            }
        }
        let mut without = context();
        without.package = None;
        without.withheld.clear();
        let body = render_ok(LetterKind::AccessAnswer, Language::En, &without).body;
        assert!(!body.contains("/packages/"));
        assert!(!body.contains("withheld"));
    }

    #[test]
    fn portability_answer_is_machine_readable() {
        let en = render_ok(LetterKind::PortabilityAnswer, Language::En, &context()).body;
        assert!(en.contains("structured, commonly used and machine-readable"));
        assert!(en.contains("CRM: data about you found (3 records)"));
        let nl = render_ok(LetterKind::PortabilityAnswer, Language::Nl, &context()).body;
        assert!(nl.contains("machineleesbare"));
    }

    #[test]
    fn erasure_confirmation_says_what_was_kept_why_and_until_when() {
        let en = render_ok(LetterKind::ErasureConfirmation, Language::En, &context()).body;
        assert!(en.contains("- Newsletter"));
        assert!(en.contains("Accounting: Invoices"));
        assert!(en.contains("AWR art. 52"));
        assert!(en.contains("Kept until: 31 December 2033 at the latest"));
        assert!(en.contains("Article 19"));
        assert!(en.contains("- PostNL"));
        assert!(
            en.contains("district court"),
            "kept data is a partial refusal"
        );
        let nl = render_ok(LetterKind::ErasureConfirmation, Language::Nl, &context()).body;
        assert!(nl.contains("Bewaard tot: uiterlijk 31 december 2033"));
        // Under a legal hold the letter gives the ground of Art. 17(3)(e), never the case.
        let mut held = context();
        held.kept[0].legal_claims = true;
        held.kept[0].exception = "Art. 17(3)(e) AVG/GDPR; legal hold".into();
        held.kept[0].until = None;
        let nl = render_ok(LetterKind::ErasureConfirmation, Language::Nl, &held).body;
        assert!(
            nl.contains("rechtsvordering (artikel 17, lid 3, onder e AVG)"),
            "{nl}"
        );
        assert!(!nl.contains("legal hold"), "{nl}");
        let en = render_ok(LetterKind::ErasureConfirmation, Language::En, &held).body;
        assert!(en.contains("defence of legal claims"), "{en}");
        let mut suppressed = context();
        suppressed.suppressed = true;
        let nl = render_ok(LetterKind::ErasureConfirmation, Language::Nl, &suppressed).body;
        assert!(nl.contains("geen reclame meer"), "{nl}");
        assert!(
            !render_ok(LetterKind::ErasureConfirmation, Language::Nl, &context())
                .body
                .contains("geen reclame meer")
        );
        let mut all_erased = context();
        all_erased.kept.clear();
        let en = render_ok(LetterKind::ErasureConfirmation, Language::En, &all_erased).body;
        assert!(!en.contains("Kept until"));
        assert!(!en.contains("district court"));
    }

    #[test]
    fn outcomes_carry_message_and_notified_recipients() {
        for kind in [
            LetterKind::RectificationOutcome,
            LetterKind::RestrictionOutcome,
            LetterKind::ObjectionOutcome,
            LetterKind::HumanReviewOutcome,
        ] {
            let en = render_ok(kind, Language::En, &context()).body;
            assert!(en.contains("We need to check three archives."), "{kind}");
            assert!(en.contains("- PostNL"), "{kind}");
        }
        let en = render_ok(LetterKind::RestrictionOutcome, Language::En, &context()).body;
        assert!(en.contains("tell you before we lift the restriction"));
        let nl = render_ok(LetterKind::RestrictionOutcome, Language::Nl, &context()).body;
        assert!(nl.contains("Voordat wij de beperking opheffen"));
    }

    #[test]
    fn refusal_explains_ground_and_names_the_ap_and_the_court() {
        let grounds = [
            (
                RefusalGround::IdentityNotEstablished,
                "Article 12(6)",
                "Artikel 11, lid 2",
            ),
            (
                RefusalGround::ManifestlyUnfoundedOrExcessive,
                "Article 12(5)",
                "artikel 12, lid 5",
            ),
            (
                RefusalGround::LegalException,
                "Article 17(3)",
                "artikel 17, lid 3",
            ),
            (
                RefusalGround::NoDataProcessed,
                "do not process any",
                "geen persoonsgegevens",
            ),
        ];
        for (ground, english, dutch) in grounds {
            let mut context = context();
            context.refusal.as_mut().unwrap().ground = ground;
            let en = render_ok(LetterKind::Refusal, Language::En, &context).body;
            assert!(en.contains(english), "{ground}\n{en}");
            assert!(en.contains("You sent the same request 40 times this week."));
            assert!(en.contains("Autoriteit Persoonsgegevens (autoriteitpersoonsgegevens.nl)"));
            assert!(en.contains("within six weeks"));
            assert!(en.contains("Article 35"));
            let nl = render_ok(LetterKind::Refusal, Language::Nl, &context).body;
            assert!(
                nl.to_lowercase().contains(&dutch.to_lowercase()),
                "{ground}\n{nl}"
            );
            assert!(nl.contains("autoriteitpersoonsgegevens.nl"));
            assert!(nl.contains("binnen zes weken"));
            assert!(nl.contains("rechtbank"));
        }
        let mut without = context();
        without.refusal = None;
        assert!(render(LetterKind::Refusal, Language::En, &without).is_err());
    }

    #[test]
    fn the_source_follows_the_origin_of_the_data() {
        let en = render_ok(LetterKind::AccessAnswer, Language::En, &context()).body;
        assert!(
            en.contains("Source: received from you; recorded when you used our services; obtained from: Credit agency Acme"),
            "{en}"
        );
        assert!(en.contains("- CRM: data about you found (3 records)"));
        assert!(en.contains("- Webshop: no data about you found"));
        let mut inferred = context();
        inferred.facts[0].origins = vec!["inferred".into()];
        inferred.facts[0].source = None;
        let nl = render_ok(LetterKind::AccessAnswer, Language::Nl, &inferred).body;
        assert!(
            nl.contains("Bron: door ons afgeleid uit andere gegevens over u\n"),
            "{nl}"
        );
        assert!(!nl.contains("van u zelf ontvangen"), "{nl}");
    }

    #[test]
    fn nothing_found_is_a_complete_answer_and_a_posted_copy_is_named() {
        let mut nothing = context();
        nothing.facts.clear();
        nothing.package = None;
        nothing.withheld.clear();
        nothing.message = None;
        let nl = render_ok(LetterKind::AccessAnswer, Language::Nl, &nothing).body;
        assert!(
            nl.contains("Wij verwerken geen persoonsgegevens van u."),
            "{nl}"
        );
        assert!(!nl.contains("wijzen uw verzoek af"));
        assert!(!nl.contains("rechtbank"));
        let mut posted = context();
        posted.copy_sent_by_post_on = Some(date("2026-09-02"));
        let nl = render_ok(LetterKind::AccessAnswer, Language::Nl, &posted).body;
        assert!(nl.contains("op 2 september 2026 per post gestuurd"), "{nl}");
    }

    #[test]
    fn a_late_receipt_confirmation_says_the_due_date_has_passed() {
        let mut late = context();
        late.due_passed = true;
        let nl = render_ok(LetterKind::ReceiptConfirmation, Language::Nl, &late).body;
        assert!(nl.contains("ontvangen op 31 augustus 2026"), "{nl}");
        assert!(
            nl.contains("uiterlijk op 30 september 2026 moeten beantwoorden. Die datum is voorbij"),
            "{nl}"
        );
        assert!(!nl.contains("Wij beantwoorden uw verzoek uiterlijk op"));
        let en = render_ok(LetterKind::ReceiptConfirmation, Language::En, &late).body;
        assert!(en.contains("That date has passed"), "{en}");
    }

    #[test]
    fn the_extension_notice_names_the_ground_of_the_law() {
        let nl = render_ok(LetterKind::ExtensionNotice, Language::Nl, &context()).body;
        assert!(
            nl.contains("De reden: de complexiteit van uw verzoek."),
            "{nl}"
        );
        let mut many = context();
        many.extension_ground = Some("number_of_requests".into());
        let en = render_ok(LetterKind::ExtensionNotice, Language::En, &many).body;
        assert!(
            en.contains("The reason: the number of requests we have received."),
            "{en}"
        );
    }

    #[test]
    fn a_partial_refusal_carries_its_reasons_and_both_remedies() {
        let mut partial = context();
        partial.partial_refusal =
            Some("Direct marketing stopt; het opnemen van gesprekken niet.".into());
        for kind in [
            LetterKind::AccessAnswer,
            LetterKind::PortabilityAnswer,
            LetterKind::RectificationOutcome,
            LetterKind::ObjectionOutcome,
        ] {
            let nl = render_ok(kind, Language::Nl, &partial).body;
            assert!(nl.contains("gedeeltelijk af"), "{kind}\n{nl}");
            assert!(nl.contains("het opnemen van gesprekken niet"), "{kind}");
            assert!(nl.contains("Autoriteit Persoonsgegevens"), "{kind}");
            assert!(
                nl.contains("binnen zes weken") && nl.contains("rechtbank"),
                "{kind}\n{nl}"
            );
            let en = render_ok(kind, Language::En, &partial).body;
            assert!(
                en.contains("partly") && en.contains("district court"),
                "{kind}\n{en}"
            );
            let full = render_ok(kind, Language::Nl, &context()).body;
            assert!(
                !full.contains("rechtbank"),
                "{kind}: no court clause without a refusal"
            );
        }
    }

    #[test]
    fn a_representative_is_greeted_and_the_child_named() {
        let mut context = context();
        context.representative = Some(RepresentativeInfo {
            name: "Els Jansen".into(),
            for_child: true,
        });
        let nl = render_ok(LetterKind::ReceiptConfirmation, Language::Nl, &context).body;
        assert!(nl.starts_with("Beste Els Jansen,"), "{nl}");
        assert!(
            nl.contains("als wettelijk vertegenwoordiger van uw kind Jan Jansen"),
            "{nl}"
        );
        context.representative.as_mut().unwrap().for_child = false;
        let en = render_ok(LetterKind::AccessAnswer, Language::En, &context).body;
        assert!(en.starts_with("Dear Els Jansen,"), "{en}");
        assert!(en.contains("on behalf of Jan Jansen"), "{en}");
    }

    #[test]
    fn a_public_bodys_refusal_is_a_besluit_open_to_bezwaar() {
        let mut context = context();
        context.organisation.kind = OrganisationKind::PublicBody;
        context.organisation.decision_body =
            Some("het college van burgemeester en wethouders van De Spaak".into());
        let nl = render_ok(LetterKind::Refusal, Language::Nl, &context).body;
        assert!(nl.contains("artikel 34 Uitvoeringswet AVG"), "{nl}");
        assert!(nl.contains("binnen zes weken"));
        assert!(nl.contains("bezwaar maken bij het college van burgemeester en wethouders"));
        assert!(nl.contains("naar Kerkstraat 1, 1234 AB Utrecht"));
        assert!(
            nl.contains("de Autoriteit Persoonsgegevens")
                || nl.contains("Autoriteit Persoonsgegevens")
        );
        assert!(!nl.contains("rechtbank"), "no petition to the court: {nl}");
        let en = render_ok(LetterKind::Refusal, Language::En, &context).body;
        assert!(en.contains("Article 34"), "{en}");
        assert!(en.contains("objection (bezwaar) with het college"));
        assert!(!en.contains("Article 35"));
    }

    #[test]
    fn plain_text_is_not_html_escaped() {
        let mut context = context();
        context.requester_name = Some("Anne O'Brien & Zn. <x>".into());
        let letter = render_ok(LetterKind::ReceiptConfirmation, Language::En, &context);
        assert!(letter.body.contains("Anne O'Brien & Zn. <x>"));
    }
}
