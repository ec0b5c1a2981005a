//! The agent's checklist: the tasks a request needs, derived from its kind, the catalog and the
//! policies (gdpr-rules.md sections 1 and 3).
//!
//! [`generate`] is pure and deterministic: the same request, catalog, policies and day give the
//! same tasks in the same order, so a checklist can be regenerated and compared. The order is the
//! order of the work: confirm receipt, verify identity, the tasks per system or activity, the
//! Art. 19 notifications, the Art. 15 facts, and last the answer.
//!
//! Every task has a Dutch and an English title that says what to do, where and on what ground;
//! titles name category and identifier kinds, never the requester's own data.

use crate::catalog::model::{
    builtin_categories, Activity, IdentifierKind, LegalBasis, Origin, RecipientKind, System,
};
use crate::policies::{Policies, RetentionRule};
use crate::vocabulary::{Language, RequestKind, TaskKind};
use chrono::NaiveDate;
use std::collections::HashMap;

pub use crate::catalog::CatalogSnapshot;

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

/// The tasks for one request, in working order.
pub fn generate(input: &ChecklistInput<'_>) -> Vec<TaskDraft> {
    let context = Context::new(input);
    let mut tasks = vec![confirm_receipt(), verify_identity()];
    tasks.extend(context.right_tasks());
    if input.kind.notifies_recipients() {
        tasks.extend(context.notify_recipients());
    }
    if input.kind == RequestKind::Access {
        tasks.push(compile_access_facts());
    }
    tasks.push(send_answer(input.kind));
    tasks
}

impl TaskDraft {
    pub(super) fn new(kind: TaskKind, title_nl: String, title_en: String) -> Self {
        TaskDraft {
            kind,
            title_nl,
            title_en,
            system_key: None,
            activity_key: None,
            categories: Vec::new(),
            recipient: None,
            legal_exception: None,
            keep_until: None,
        }
    }

    fn on_system(mut self, system: &System, categories: Vec<String>) -> Self {
        self.system_key = Some(system.key.clone());
        self.categories = categories;
        self
    }

    fn on_activity(mut self, activity: &Activity) -> Self {
        self.activity_key = Some(activity.key.clone());
        self.categories = activity
            .categories
            .iter()
            .map(|c| c.category.clone())
            .collect();
        self
    }
}

// --- the tasks every request has ----------------------------------------------------------------

fn confirm_receipt() -> TaskDraft {
    TaskDraft::new(
        TaskKind::ConfirmReceipt,
        "Bevestig de ontvangst, met de uiterste antwoorddatum en de statuslink".into(),
        "Confirm receipt, with the due date and the status link".into(),
    )
}

/// Identity is checked with what the organisation already has; asking for an ID copy by default
/// is what the AP fined a Dutch publisher for (gdpr-rules.md section 3).
fn verify_identity() -> TaskDraft {
    TaskDraft::new(
        TaskKind::VerifyIdentity,
        "Controleer de identiteit met wat al bekend is: een bestaande inlog of een code naar het \
         e-mailadres of telefoonnummer in het dossier; vraag niet standaard om een kopie van een \
         identiteitsbewijs"
            .into(),
        "Verify identity with what is on file: an existing login or a code sent to the e-mail \
         address or phone number on file; do not ask for a copy of an ID document by default"
            .into(),
    )
}

fn compile_access_facts() -> TaskDraft {
    TaskDraft::new(
        TaskKind::CompileAccessFacts,
        "Stel de gegevens van art. 15 lid 1 AVG samen uit het register: doeleinden, categorieën, \
         ontvangers (buiten de EER gemarkeerd), bewaartermijnen, de andere rechten, het klachtrecht \
         bij de Autoriteit Persoonsgegevens, de bron en de logica van geautomatiseerde besluiten"
            .into(),
        "Compile the Art. 15(1) GDPR facts from the register: purposes, categories, recipients \
         (non-EEA flagged), retention periods, the other rights, the right to complain to the \
         Autoriteit Persoonsgegevens, the source and the logic of automated decisions"
            .into(),
    )
}

fn send_answer(kind: RequestKind) -> TaskDraft {
    let (right_nl, right_en) = right_names(kind);
    let article = kind.article();
    TaskDraft::new(
        TaskKind::SendAnswer,
        format!(
            "Verstuur het antwoord op het verzoek om {right_nl} ({} AVG)",
            article.replace("Art.", "art.")
        ),
        format!("Send the answer to the {right_en} request ({article} GDPR)"),
    )
}

/// The right's name inside a sentence, in Dutch and English: "het verzoek om {nl}".
pub(crate) fn right_names(kind: RequestKind) -> (&'static str, &'static str) {
    match kind {
        RequestKind::Access => ("inzage", "access"),
        RequestKind::Rectification => ("rectificatie", "rectification"),
        RequestKind::Erasure => ("wissing", "erasure"),
        RequestKind::Restriction => ("beperking van de verwerking", "restriction"),
        RequestKind::Portability => ("overdraagbaarheid", "portability"),
        RequestKind::Objection => ("bezwaar", "objection"),
        RequestKind::HumanReview => ("menselijke tussenkomst", "human review"),
    }
}

// --- the tasks of the right exercised -----------------------------------------------------------

/// The input with the category names looked up once.
struct Context<'a> {
    input: &'a ChecklistInput<'a>,
    /// Category code -> (Dutch, English) name, lower-cased for use inside a sentence.
    category_names: HashMap<String, (String, String)>,
}

impl<'a> Context<'a> {
    fn new(input: &'a ChecklistInput<'a>) -> Self {
        // The snapshot's own names win; the built-in taxonomy covers a snapshot without it.
        let category_names = builtin_categories()
            .iter()
            .chain(&input.catalog.categories)
            .map(|c| {
                let names = (lower_first(&c.name_nl), lower_first(&c.name_en));
                (c.code.clone(), names)
            })
            .collect();
        Context {
            input,
            category_names,
        }
    }

    fn catalog(&self) -> &'a CatalogSnapshot {
        self.input.catalog
    }

    fn right_tasks(&self) -> Vec<TaskDraft> {
        match self.input.kind {
            RequestKind::Access => self.per_system(Self::export_all),
            RequestKind::Portability => self.per_system(Self::export_portable),
            RequestKind::Rectification => self.per_system(Self::correct),
            RequestKind::Restriction => self.per_system(Self::restrict),
            RequestKind::Erasure => self.per_system(Self::erase),
            RequestKind::Objection => self.stop_processing(),
            RequestKind::HumanReview => self.review_decisions(),
        }
    }

    /// The tasks `task` makes for each system that holds personal data, in catalog order.
    fn per_system(&self, task: fn(&Self, &System, &Search) -> Vec<TaskDraft>) -> Vec<TaskDraft> {
        self.catalog()
            .systems
            .iter()
            .filter(|system| !system.holdings.is_empty())
            .flat_map(|system| task(self, system, &Search::of(system, self.input.identifiers)))
            .collect()
    }

    fn export_all(&self, system: &System, search: &Search) -> Vec<TaskDraft> {
        let task = TaskDraft::new(
            TaskKind::ExportData,
            format!(
                "{} en exporteer alles wat het over de persoon bevat",
                search.nl
            ),
            format!("{} and export everything it holds on the person", search.en),
        );
        vec![task.on_system(system, held_categories(system))]
    }

    /// Art. 20 covers only what the person provided or what was observed of them (not what was
    /// inferred), and only where the processing rests on consent or a contract.
    fn export_portable(&self, system: &System, search: &Search) -> Vec<TaskDraft> {
        let portable_bases = [LegalBasis::Consent, LegalBasis::Contract];
        let portable: Vec<String> = distinct(
            system
                .holdings
                .iter()
                .filter(|holding| holding.origin != Origin::Inferred)
                .filter(|holding| {
                    self.activities_using(system).any(|activity| {
                        activity
                            .legal_basis
                            .is_some_and(|basis| portable_bases.contains(&basis))
                            && uses_category(activity, &holding.category)
                    })
                })
                .map(|holding| holding.category.as_str()),
        );
        if portable.is_empty() {
            return Vec::new();
        }
        let (names_nl, names_en) = self.category_list(&portable);
        let task = TaskDraft::new(
            TaskKind::ExportData,
            format!(
                "{} en exporteer machineleesbaar (JSON of CSV): {names_nl}",
                search.nl
            ),
            format!(
                "{} and export machine-readable (JSON or CSV): {names_en}",
                search.en
            ),
        );
        vec![task.on_system(system, portable)]
    }

    fn correct(&self, system: &System, search: &Search) -> Vec<TaskDraft> {
        let task = TaskDraft::new(
            TaskKind::CorrectData,
            format!(
                "{} en corrigeer of vul aan wat de persoon aanwijst",
                search.nl
            ),
            format!(
                "{} and correct or complete what the person points out",
                search.en
            ),
        );
        vec![task.on_system(system, held_categories(system))]
    }

    fn restrict(&self, system: &System, search: &Search) -> Vec<TaskDraft> {
        let task = TaskDraft::new(
            TaskKind::RestrictData,
            format!(
                "{} en beperk de verwerking: alleen bewaren, niet gebruiken tot de beperking \
                 wordt opgeheven",
                search.nl
            ),
            format!(
                "{} and restrict processing: store only, do not use until the restriction is lifted",
                search.en
            ),
        );
        vec![task.on_system(system, held_categories(system))]
    }

    /// Erase what the system holds, except what a law obliges keeping (Art. 17(3)(b)): that part
    /// is kept, not restricted, each row until its own duty ends. Data used for a legal obligation without a rule that
    /// sets the period is kept too, and the task asks for the period, because erasing it might
    /// break the law while keeping it a little longer can be corrected.
    fn erase(&self, system: &System, search: &Search) -> Vec<TaskDraft> {
        let mut kept: Vec<String> = Vec::new();
        let mut keep_tasks = Vec::new();
        for rule in self.duties_of(system) {
            let codes = claim(rule.categories_in(self.catalog()), &mut kept);
            if codes.is_empty() {
                continue;
            }
            keep_tasks.push(if has_mapped_table(system, rule) {
                self.keep_under_rule(system, rule, codes)
            } else {
                self.review_rule(system, rule, codes)
            });
        }
        for activity in self.activities_using(system) {
            if activity.legal_basis != Some(LegalBasis::LegalObligation) {
                continue;
            }
            let used = held_categories(system)
                .into_iter()
                .filter(|code| uses_category(activity, code))
                .collect();
            let codes = claim(used, &mut kept);
            if !codes.is_empty() {
                keep_tasks.push(self.keep_without_rule(system, activity, codes));
            }
        }
        let rest = claim(held_categories(system), &mut kept);
        let mut tasks = Vec::new();
        if !rest.is_empty() {
            let (names_nl, names_en) = self.category_list(&rest);
            let task = TaskDraft::new(
                TaskKind::EraseData,
                format!("{} en wis: {names_nl}", search.nl),
                format!("{} and erase: {names_en}", search.en),
            );
            tasks.push(task.on_system(system, rest));
        }
        tasks.extend(keep_tasks);
        tasks
    }

    /// The rules with a legal duty on `system`, the longest first: where two rules cover the
    /// same data, the task of the longer one claims it (a run keeps each row until the later
    /// of its ends).
    fn duties_of(&self, system: &System) -> Vec<&'a RetentionRule> {
        let mut duties: Vec<_> = self
            .input
            .policies
            .retention
            .iter()
            .filter(|rule| rule.legal_duty && rule.system == system.key)
            .collect();
        duties.sort_by_key(|rule| std::cmp::Reverse(rule.keep.after(self.input.today)));
        duties
    }

    /// Each kept row ends on its own date, the rule's `counted_from` in that row plus `keep`
    /// (an invoice of 2026: 31 December 2033), so the task gives the criterion; running it
    /// records every row's end and erases the rows whose duty has already ended.
    fn keep_under_rule(
        &self,
        system: &System,
        rule: &RetentionRule,
        codes: Vec<String>,
    ) -> TaskDraft {
        let (basis_nl, basis_en) = (rule.basis(Language::Nl), rule.basis(Language::En));
        let (names_nl, names_en) = self.category_list(&codes);
        // The column the period counts from, by the mapping's labels where it has them: the
        // agent reads "'Einde boekjaar' (Facturen)", not `invoices.fiscal_year_end`.
        let mapped = |table: &str, column: &str, language| {
            let table_of = system.sql.as_ref().and_then(|m| m.table(table));
            let table_label = table_of
                .and_then(|t| t.label.as_ref())
                .map(|l| l.get(language));
            let column_label = table_of
                .and_then(|t| t.labels.get(column))
                .map(|l| l.get(language));
            match (table_label, column_label) {
                (Some(table), Some(column)) => format!("'{column}' ({table})"),
                _ => format!("{table}.{column}"),
            }
        };
        let (start_nl, start_en) = match (&rule.table, &rule.counted_from) {
            (Some(table), Some(column)) => (
                format!("{} van elke rij", mapped(table, column, Language::Nl)),
                format!("each row's {}", mapped(table, column, Language::En)),
            ),
            _ => (
                "het begin van de termijn (vast te stellen per gegeven)".to_string(),
                "the start of the period (to be set per item)".to_string(),
            ),
        };
        let mut task = TaskDraft::new(
            TaskKind::KeepUnderException,
            format!(
                "Bewaar {names_nl} in {}, elk gegeven tot {} na {start_nl}; wis wat al vervallen is \
                 (uitzondering art. 17 lid 3 sub b AVG, {basis_nl})",
                system.name.get(Language::Nl),
                rule.keep.dutch()
            ),
            format!(
                "Keep {names_en} in {}, each item until {} after {start_en}; erase what has already \
                 expired (exception Art. 17(3)(b) GDPR, {basis_en})",
                system.name.get(Language::En),
                rule.keep
            ),
        )
        .on_system(system, codes);
        task.activity_key = rule.activity.clone();
        task.legal_exception = Some(format!("Art. 17(3)(b) AVG/GDPR; {basis_nl}"));
        task
    }

    /// A rule that keeps data by law but names no table loket reaches in the system: no run
    /// can find its rows or their ends, so a person reviews what it keeps, keeps it by hand and
    /// sets the end (the task is done when that is recorded).
    fn review_rule(&self, system: &System, rule: &RetentionRule, codes: Vec<String>) -> TaskDraft {
        let (basis_nl, basis_en) = (rule.basis(Language::Nl), rule.basis(Language::En));
        let (names_nl, names_en) = self.category_list(&codes);
        let mut task = TaskDraft::new(
            TaskKind::ReviewRetention,
            format!(
                "Beoordeel wat bewaarregel {} in {} bewaart: {names_nl} vallen onder een wettelijke \
                 bewaarplicht, maar de regel noemt geen tabel die loket in {} bereikt; bewaar ze met \
                 de hand, elk gegeven tot {} na het begin van zijn termijn, leg het einde vast en wis \
                 wat al vervallen is (uitzondering art. 17 lid 3 sub b AVG, {basis_nl})",
                rule.name,
                system.name.get(Language::Nl),
                system.name.get(Language::Nl),
                rule.keep.dutch()
            ),
            format!(
                "Review what retention rule {} keeps in {}: {names_en} fall under a legal duty to \
                 keep, but the rule names no table loket reaches in {}; keep them by hand, each item \
                 until {} after the start of its period, record the end and erase what has already \
                 expired (exception Art. 17(3)(b) GDPR, {basis_en})",
                rule.name,
                system.name.get(Language::En),
                system.name.get(Language::En),
                rule.keep
            ),
        )
        .on_system(system, codes);
        task.activity_key = rule.activity.clone();
        task.legal_exception = Some(format!("Art. 17(3)(b) AVG/GDPR; {basis_nl}"));
        task
    }

    fn keep_without_rule(
        &self,
        system: &System,
        activity: &Activity,
        codes: Vec<String>,
    ) -> TaskDraft {
        let (names_nl, names_en) = self.category_list(&codes);
        let mut task = TaskDraft::new(
            TaskKind::KeepUnderException,
            format!(
                "Stel de bewaartermijn vast en bewaar tot dan: {names_nl} in {} vallen onder een \
                 wettelijke plicht ('{}'), maar geen bewaarregel in policies/ legt de termijn vast \
                 (uitzondering art. 17 lid 3 sub b AVG)",
                system.name.get(Language::Nl),
                activity.name.get(Language::Nl)
            ),
            format!(
                "Set the retention period and keep until then: {names_en} in {} fall under a \
                 legal obligation ('{}'), but no retention rule in policies/ sets the period \
                 (exception Art. 17(3)(b) GDPR)",
                system.name.get(Language::En),
                activity.name.get(Language::En)
            ),
        )
        .on_system(system, codes);
        task.activity_key = Some(activity.key.clone());
        task.legal_exception = Some(format!(
            "Art. 17(3)(b) AVG/GDPR; {} {}",
            LegalBasis::LegalObligation.article(),
            activity.name.get(Language::Nl)
        ));
        task
    }

    /// Art. 21(1): processing on legitimate interests or a public task stops unless compelling
    /// grounds override; Art. 21(2): direct marketing always stops.
    fn stop_processing(&self) -> Vec<TaskDraft> {
        let tasks: Vec<TaskDraft> = self
            .catalog()
            .activities
            .iter()
            .filter_map(|activity| {
                let (nl, en) = if is_direct_marketing(activity) {
                    (
                        "art. 21 lid 2 AVG: bezwaar tegen direct marketing wordt altijd gehonoreerd",
                        "Art. 21(2) GDPR: an objection to direct marketing is always honoured",
                    )
                } else if matches!(
                    activity.legal_basis,
                    Some(LegalBasis::LegitimateInterests | LegalBasis::PublicTask)
                ) {
                    (
                        "art. 21 lid 1 AVG: tenzij dwingende gerechtvaardigde gronden zwaarder \
                         wegen; leg de afweging vast",
                        "Art. 21(1) GDPR: unless compelling legitimate grounds override; record \
                         the balancing",
                    )
                } else {
                    return None;
                };
                let task = TaskDraft::new(
                    TaskKind::StopProcessing,
                    format!(
                        "Stop '{}' voor deze persoon in {} ({nl})",
                        activity.name.get(Language::Nl),
                        self.system_names(activity, Language::Nl)
                    ),
                    format!(
                        "Stop '{}' for this person in {} ({en})",
                        activity.name.get(Language::En),
                        self.system_names(activity, Language::En)
                    ),
                );
                Some(task.on_activity(activity))
            })
            .collect();
        if !tasks.is_empty() {
            return tasks;
        }
        vec![TaskDraft::new(
            TaskKind::StopProcessing,
            "Het register noemt geen verwerking waartegen bezwaar kan (art. 21 AVG: gerechtvaardigd \
             belang, algemeen belang of direct marketing): ga na wat de persoon bedoelt en leg het \
             uit in het antwoord"
                .into(),
            "The register lists no processing open to objection (Art. 21 GDPR: legitimate \
             interests, public task or direct marketing): find out what the person means and \
             explain it in the answer"
                .into(),
        )]
    }

    /// Art. 22(3): a person who can change the outcome reviews each automated decision.
    fn review_decisions(&self) -> Vec<TaskDraft> {
        let tasks: Vec<TaskDraft> = self
            .catalog()
            .activities
            .iter()
            .filter(|activity| activity.automated_decision_logic.is_some())
            .map(|activity| {
                TaskDraft::new(
                    TaskKind::ReviewDecision,
                    format!(
                        "Laat een medewerker die de uitkomst kan wijzigen het geautomatiseerde \
                         besluit van '{}' beoordelen; de persoon mag zijn standpunt geven \
                         (art. 22 lid 3 AVG)",
                        activity.name.get(Language::Nl)
                    ),
                    format!(
                        "Have a person who can change the outcome review the automated decision \
                         of '{}'; the person may give their view (Art. 22(3) GDPR)",
                        activity.name.get(Language::En)
                    ),
                )
                .on_activity(activity)
            })
            .collect();
        if !tasks.is_empty() {
            return tasks;
        }
        vec![TaskDraft::new(
            TaskKind::ReviewDecision,
            "Het register noemt geen geautomatiseerde besluiten: ga na welk besluit de persoon \
             bedoelt, laat het door een medewerker beoordelen en vul het register aan"
                .into(),
            "The register lists no automated decisions: find out which decision the person means, \
             have a person review it and complete the register"
                .into(),
        )]
    }

    /// Art. 19: one notification per recipient, named once however many activities share it.
    ///
    /// A public authority that receives data under a legal obligation (the tax authority under
    /// fiscal law) is not a recipient in the sense of Art. 4(9) and is not notified; the same
    /// authority receiving data on another basis is.
    fn notify_recipients(&self) -> Vec<TaskDraft> {
        let (action_nl, action_en) = match self.input.kind {
            RequestKind::Rectification => ("rectificatie", "rectification"),
            RequestKind::Restriction => ("beperking", "restriction"),
            _ => ("wissing", "erasure"),
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut tasks = Vec::new();
        for activity in &self.catalog().activities {
            let under_legal_obligation = activity.legal_basis == Some(LegalBasis::LegalObligation);
            for recipient in &activity.recipients {
                let exempt =
                    recipient.kind == RecipientKind::PublicAuthority && under_legal_obligation;
                if exempt || seen.contains(&recipient.name.as_str()) {
                    continue;
                }
                seen.push(&recipient.name);
                let name = &recipient.name;
                let (nl, en) = if recipient.kind == RecipientKind::Processor {
                    (
                        format!("Geef verwerker {name} opdracht de {action_nl} ook door te voeren (art. 19 en 28 AVG)"),
                        format!("Instruct processor {name} to carry out the {action_en} too (Art. 19 and 28 GDPR)"),
                    )
                } else {
                    (
                        format!("Meld de {action_nl} aan ontvanger {name} (art. 19 AVG)"),
                        format!("Notify recipient {name} of the {action_en} (Art. 19 GDPR)"),
                    )
                };
                let mut task = TaskDraft::new(TaskKind::NotifyRecipient, nl, en);
                task.recipient = Some(name.clone());
                tasks.push(task);
            }
        }
        tasks
    }

    /// The activities whose data lives (partly) in `system`.
    fn activities_using<'s>(&self, system: &'s System) -> impl Iterator<Item = &'a Activity> + 's
    where
        'a: 's,
    {
        self.catalog()
            .activities
            .iter()
            .filter(move |activity| activity.systems.contains(&system.key))
    }

    /// The names of the systems `activity` uses, in `language`: a task title names systems as
    /// the agent knows them, not by their keys.
    fn system_names(&self, activity: &Activity, language: Language) -> String {
        let names: Vec<&str> = activity
            .systems
            .iter()
            .map(|key| self.catalog().system_name(key, language))
            .collect();
        names.join(", ")
    }

    /// "contactgegevens en financiële gegevens" / "contact details and financial data".
    fn category_list(&self, codes: &[String]) -> (String, String) {
        let names = |dutch: bool| -> Vec<String> {
            codes
                .iter()
                .map(|code| match self.category_names.get(code) {
                    Some((nl, en)) => if dutch { nl } else { en }.clone(),
                    None => code.clone(),
                })
                .collect()
        };
        (
            join_words(&names(true), "en"),
            join_words(&names(false), "and"),
        )
    }
}

/// How to find the person in a system: the identifiers given that the system can search by, or
/// which ones to ask for when none of them fits.
struct Search {
    nl: String,
    en: String,
}

impl Search {
    fn of(system: &System, given: &[IdentifierKind]) -> Self {
        let (nl_name, en_name) = (system.name.get(Language::Nl), system.name.get(Language::En));
        let usable: Vec<IdentifierKind> = system
            .identifier_kinds
            .iter()
            .copied()
            .filter(|kind| given.contains(kind))
            .collect();
        if !usable.is_empty() {
            let (nl, en) = identifier_list(&usable);
            return Search {
                nl: format!("Zoek in {nl_name} op {nl}"),
                en: format!("Search {en_name} by {en}"),
            };
        }
        if system.identifier_kinds.is_empty() {
            return Search {
                nl: format!(
                    "Zoek in {nl_name} (het register noemt niet waarop; vraag het {})",
                    system.owner
                ),
                en: format!(
                    "Search {en_name} (the register does not say by what; ask {})",
                    system.owner
                ),
            };
        }
        let (nl, en) = identifier_list(&system.identifier_kinds);
        Search {
            nl: format!("Zoek in {nl_name} (vraag eerst om {nl}: de aanvrager gaf geen daarvan)"),
            en: format!("Search {en_name} (first ask for {en}: the requester gave none of these)"),
        }
    }
}

/// "klantnummer of e-mailadres" / "customer number or e-mail address".
fn identifier_list(kinds: &[IdentifierKind]) -> (String, String) {
    let (nl, en): (Vec<String>, Vec<String>) = kinds
        .iter()
        .map(|kind| {
            let (nl, en) = identifier_names(*kind);
            (nl.to_string(), en.to_string())
        })
        .unzip();
    (join_words(&nl, "of"), join_words(&en, "or"))
}

fn identifier_names(kind: IdentifierKind) -> (&'static str, &'static str) {
    match kind {
        IdentifierKind::Email => ("e-mailadres", "e-mail address"),
        IdentifierKind::CustomerNumber => ("klantnummer", "customer number"),
        IdentifierKind::Phone => ("telefoonnummer", "phone number"),
        IdentifierKind::Name => ("naam", "name"),
        IdentifierKind::AccountId => ("accountnummer", "account ID"),
        IdentifierKind::Address => ("adres", "address"),
        IdentifierKind::IpAddress => ("IP-adres", "IP address"),
        IdentifierKind::DeviceId => ("apparaat- of cookie-ID", "device or cookie ID"),
        IdentifierKind::EmployeeNumber => ("personeelsnummer", "employee number"),
        IdentifierKind::Bsn => ("burgerservicenummer", "citizen service number"),
    }
}

/// The catalog has no field for it, so an activity is direct marketing when its key, name or a
/// purpose says "marketing"; a wrong guess errs towards honouring the objection.
pub(crate) fn is_direct_marketing(activity: &Activity) -> bool {
    let purposes = activity
        .purposes
        .iter()
        .flat_map(|p| [Language::Nl, Language::En].map(|l| p.get(l)));
    let names = [Language::Nl, Language::En].map(|l| activity.name.get(l));
    std::iter::once(activity.key.as_str())
        .chain(names)
        .chain(purposes)
        .any(|text| text.to_lowercase().contains("marketing"))
}

fn uses_category(activity: &Activity, code: &str) -> bool {
    activity.categories.iter().any(|c| c.category == code)
}

/// The category codes `system` holds, each once, in the order of its holdings.
/// Whether the rule's table is one the system's SQL mapping lists, so a run finds its rows.
fn has_mapped_table(system: &System, rule: &RetentionRule) -> bool {
    rule.table.as_deref().is_some_and(|table| {
        system
            .sql
            .as_ref()
            .is_some_and(|mapping| mapping.table(table).is_some())
    })
}

fn held_categories(system: &System) -> Vec<String> {
    distinct(
        system
            .holdings
            .iter()
            .map(|holding| holding.category.as_str()),
    )
}

fn distinct<'s>(codes: impl Iterator<Item = &'s str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for code in codes {
        if !out.iter().any(|seen| seen == code) {
            out.push(code.to_string());
        }
    }
    out
}

/// The codes of `wanted` not yet in `taken`, which are then taken.
fn claim(wanted: Vec<String>, taken: &mut Vec<String>) -> Vec<String> {
    let fresh: Vec<String> = wanted
        .into_iter()
        .filter(|code| !taken.contains(code))
        .collect();
    taken.extend(fresh.iter().cloned());
    fresh
}

/// "a, b en c".
fn join_words(words: &[String], conjunction: &str) -> String {
    match words {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// "Financiële gegevens" -> "financiële gegevens", for a name inside a sentence.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::testing::{example_catalog, shipped_policies};
    use crate::policies::Period;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    const GIVEN: &[IdentifierKind] = &[IdentifierKind::Email, IdentifierKind::CustomerNumber];

    fn checklist_with(
        kind: RequestKind,
        catalog: &CatalogSnapshot,
        policies: &Policies,
    ) -> Vec<TaskDraft> {
        generate(&ChecklistInput {
            kind,
            catalog,
            policies,
            today: today(),
            identifiers: GIVEN,
        })
    }

    fn checklist(kind: RequestKind) -> Vec<TaskDraft> {
        checklist_with(kind, &example_catalog(), &shipped_policies())
    }

    fn kinds(tasks: &[TaskDraft]) -> Vec<TaskKind> {
        tasks.iter().map(|task| task.kind).collect()
    }

    /// The tasks of `kind` on `system`.
    fn on<'t>(tasks: &'t [TaskDraft], kind: TaskKind, system: &str) -> Vec<&'t TaskDraft> {
        tasks
            .iter()
            .filter(|task| task.kind == kind && task.system_key.as_deref() == Some(system))
            .collect()
    }

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|code| code.to_string()).collect()
    }

    /// The seven systems of the example catalog all hold personal data.
    const SYSTEMS: usize = 7;
    /// Distinct recipients of the example catalog, less the tax authority (Art. 4(9)).
    const RECIPIENTS: usize = 7;

    #[test]
    fn every_kind_gives_its_tasks_in_working_order() {
        use TaskKind::*;
        let frame = |middle: Vec<TaskKind>| {
            [
                vec![ConfirmReceipt, VerifyIdentity],
                middle,
                vec![SendAnswer],
            ]
            .concat()
        };
        let repeat = |kind: TaskKind, n: usize| vec![kind; n];
        let expected = [
            (
                RequestKind::Access,
                frame([repeat(ExportData, SYSTEMS), vec![CompileAccessFacts]].concat()),
            ),
            // call_recordings rests on legitimate interests only: nothing portable there.
            (
                RequestKind::Portability,
                frame(repeat(ExportData, SYSTEMS - 1)),
            ),
            (
                RequestKind::Rectification,
                frame(
                    [
                        repeat(CorrectData, SYSTEMS),
                        repeat(NotifyRecipient, RECIPIENTS),
                    ]
                    .concat(),
                ),
            ),
            (
                RequestKind::Restriction,
                frame(
                    [
                        repeat(RestrictData, SYSTEMS),
                        repeat(NotifyRecipient, RECIPIENTS),
                    ]
                    .concat(),
                ),
            ),
            (
                RequestKind::Erasure,
                frame(
                    [
                        // crm, then billing: its fiscal records kept, its traffic data erased.
                        vec![EraseData, EraseData, KeepUnderException],
                        repeat(EraseData, SYSTEMS - 2),
                        repeat(NotifyRecipient, RECIPIENTS),
                    ]
                    .concat(),
                ),
            ),
            (RequestKind::Objection, frame(repeat(StopProcessing, 2))),
            (RequestKind::HumanReview, frame(vec![ReviewDecision])),
        ];
        for (kind, tasks) in expected {
            assert_eq!(kinds(&checklist(kind)), tasks, "{kind}");
        }
    }

    #[test]
    fn the_same_input_gives_the_same_checklist() {
        for kind in <RequestKind as strum::VariantArray>::VARIANTS {
            assert_eq!(checklist(*kind), checklist(*kind));
        }
    }

    #[test]
    fn identity_is_verified_with_what_is_on_file() {
        let tasks = checklist(RequestKind::Access);
        let verify = &tasks[1];
        assert_eq!(verify.kind, TaskKind::VerifyIdentity);
        assert!(
            verify.title_en.contains("existing login"),
            "{}",
            verify.title_en
        );
        assert!(verify.title_en.contains("on file"));
        assert!(verify
            .title_en
            .contains("do not ask for a copy of an ID document"));
        assert!(verify.title_nl.contains("geen") || verify.title_nl.contains("niet standaard"));
    }

    #[test]
    fn erasure_keeps_fiscal_data_under_the_exception_and_erases_the_rest() {
        let tasks = checklist(RequestKind::Erasure);
        let kept = on(&tasks, TaskKind::KeepUnderException, "billing");
        assert_eq!(kept.len(), 1, "{tasks:#?}");
        let kept = kept[0];
        assert!(kept.categories.contains(&"financial".to_string()));
        assert_eq!(
            kept.categories,
            codes(&["identity", "contact", "financial", "contract_details"])
        );
        // Each invoice's end counts from its own fiscal year end, not from the request.
        assert_eq!(kept.keep_until, None);
        assert_eq!(
            kept.legal_exception.as_deref(),
            Some("Art. 17(3)(b) AVG/GDPR; AWR art. 52; BW 2:10")
        );
        assert_eq!(kept.activity_key.as_deref(), Some("fiscal_records"));
        assert!(
            kept.title_nl.starts_with("Bewaar identificatiegegevens, contactgegevens, financiële gegevens en contractgegevens in Facturatiesysteem (rating & billing), elk gegeven tot 7 jaar na 'Einde boekjaar' (Facturen) van elke rij; wis wat al vervallen is (uitzondering art. 17 lid 3 sub b AVG, AWR art. 52"),
            "{}",
            kept.title_nl
        );
        assert!(
            kept.title_en.starts_with("Keep identity data, contact details, financial data and contract details in Billing system (rating & billing), each item until 7 years after each row's 'End of financial year' (Invoices)"),
            "{}",
            kept.title_en
        );
        assert!(!kept.title_nl.contains("Beperk") && !kept.title_en.contains("Restrict"));

        let erased = on(&tasks, TaskKind::EraseData, "billing");
        assert_eq!(erased.len(), 1);
        assert_eq!(erased[0].categories, codes(&["usage_cdr"]));
        assert!(
            erased[0]
                .title_en
                .contains("erase: traffic data (call detail records)"),
            "{}",
            erased[0].title_en
        );

        let crm = on(&tasks, TaskKind::EraseData, "crm");
        assert_eq!(
            crm[0].categories,
            codes(&[
                "contact",
                "identity",
                "contract_details",
                "communication_content"
            ])
        );
        assert!(tasks.iter().all(|t| t.kind != TaskKind::KeepUnderException
            || t.system_key.as_deref() == Some("billing")));
    }

    #[test]
    fn a_legal_obligation_without_a_rule_is_kept_and_asks_for_the_period() {
        let tasks = checklist_with(
            RequestKind::Erasure,
            &example_catalog(),
            &Policies::default(),
        );
        let kept = on(&tasks, TaskKind::KeepUnderException, "billing");
        assert_eq!(kept.len(), 1, "{tasks:#?}");
        assert_eq!(kept[0].keep_until, None);
        assert_eq!(kept[0].activity_key.as_deref(), Some("fiscal_records"));
        assert_eq!(
            kept[0].categories,
            codes(&["identity", "contact", "financial", "contract_details"])
        );
        assert!(
            kept[0].title_en.contains("no retention rule"),
            "{}",
            kept[0].title_en
        );
        assert!(
            kept[0].title_nl.contains("Stel de bewaartermijn vast"),
            "{}",
            kept[0].title_nl
        );
        assert!(kept[0]
            .legal_exception
            .as_deref()
            .unwrap()
            .starts_with("Art. 17(3)(b)"));
        assert_eq!(
            on(&tasks, TaskKind::EraseData, "billing")[0].categories,
            codes(&["usage_cdr"])
        );
    }

    #[test]
    fn overlapping_duties_keep_the_data_until_the_later_date() {
        let mut policies = shipped_policies();
        let mut longer = policies.rule("fiscal_records").unwrap().clone();
        longer.name = "disputed_invoices".into();
        longer.categories = codes(&["financial"]);
        longer.keep = Period::Years(10);
        longer.legal_basis = Some("BW 3:307".into());
        policies.retention.push(longer);
        let tasks = checklist_with(RequestKind::Erasure, &example_catalog(), &policies);
        let kept = on(&tasks, TaskKind::KeepUnderException, "billing");
        assert_eq!(kept.len(), 2, "{kept:#?}");
        assert_eq!(kept[0].categories, codes(&["financial"]));
        assert!(
            kept[0].title_en.contains("until 10 years after"),
            "{}",
            kept[0].title_en
        );
        assert_eq!(
            kept[1].categories,
            codes(&["identity", "contact", "contract_details"])
        );
    }

    #[test]
    fn a_system_fully_under_a_duty_gets_no_erase_task() {
        let mut policies = shipped_policies();
        let fiscal = policies
            .retention
            .iter_mut()
            .find(|r| r.name == "fiscal_records")
            .unwrap();
        fiscal.activity = None;
        fiscal.categories.clear();
        let tasks = checklist_with(RequestKind::Erasure, &example_catalog(), &policies);
        assert!(on(&tasks, TaskKind::EraseData, "billing").is_empty());
        let kept = on(&tasks, TaskKind::KeepUnderException, "billing");
        assert_eq!(kept.len(), 1);
        assert!(kept[0].categories.contains(&"usage_cdr".to_string()));
    }

    #[test]
    fn portability_leaves_out_inferred_data_and_other_bases() {
        let tasks = checklist(RequestKind::Portability);
        let analytics = on(&tasks, TaskKind::ExportData, "web_analytics");
        assert_eq!(analytics.len(), 1);
        assert_eq!(analytics[0].categories, codes(&["usage"]));
        assert!(
            !analytics[0].title_en.contains("location"),
            "{}",
            analytics[0].title_en
        );
        assert!(
            analytics[0]
                .title_en
                .contains("machine-readable (JSON or CSV): usage and behaviour"),
            "{}",
            analytics[0].title_en
        );
        assert!(on(&tasks, TaskKind::ExportData, "call_recordings").is_empty());
        assert_eq!(
            on(&tasks, TaskKind::ExportData, "billing")[0].categories,
            codes(&[
                "identity",
                "contact",
                "financial",
                "contract_details",
                "usage_cdr"
            ])
        );
    }

    #[test]
    fn search_titles_use_the_identifiers_given_or_say_which_are_needed() {
        let tasks = checklist(RequestKind::Access);
        let crm = on(&tasks, TaskKind::ExportData, "crm")[0];
        assert!(
            crm.title_nl
                .starts_with("Zoek in KlantBeeld CRM op klantnummer of e-mailadres en exporteer"),
            "{}",
            crm.title_nl
        );
        assert!(
            crm.title_en.starts_with(
                "Search KlantBeeld CRM by customer number or e-mail address and export"
            ),
            "{}",
            crm.title_en
        );
        let billing = on(&tasks, TaskKind::ExportData, "billing")[0];
        assert!(
            billing
                .title_en
                .starts_with("Search Billing system (rating & billing) by customer number and"),
            "{}",
            billing.title_en
        );
        let analytics = on(&tasks, TaskKind::ExportData, "web_analytics")[0];
        assert!(
            analytics.title_en.starts_with("Search Web statistics telconoord.example (first ask for device or cookie ID or IP address: the requester gave none of these)"),
            "{}",
            analytics.title_en
        );
    }

    #[test]
    fn recipients_are_notified_once_each_except_authorities_under_a_legal_duty() {
        let tasks = checklist(RequestKind::Erasure);
        let recipients: Vec<&str> = tasks
            .iter()
            .filter_map(|task| task.recipient.as_deref())
            .collect();
        assert_eq!(
            recipients,
            [
                "Noordhost B.V.",
                "Incassobureau Noorderzon B.V.",
                "Van der Meer & Bakker Accountants",
                "Stichting Geschillencommissie voor Consumentenzaken",
                "Belwolk B.V.",
                "Postfach Versand GmbH",
                "Clickmetrics Inc.",
            ]
        );
        let processor = tasks
            .iter()
            .find(|t| t.recipient.as_deref() == Some("Noordhost B.V."))
            .unwrap();
        assert!(
            processor
                .title_en
                .starts_with("Instruct processor Noordhost B.V. to carry out the erasure"),
            "{}",
            processor.title_en
        );
        let controller = tasks
            .iter()
            .find(|t| t.recipient.as_deref() == Some("Incassobureau Noorderzon B.V."))
            .unwrap();
        assert_eq!(
            controller.title_nl,
            "Meld de wissing aan ontvanger Incassobureau Noorderzon B.V. (art. 19 AVG)"
        );
        assert!(checklist(RequestKind::Access)
            .iter()
            .all(|t| t.recipient.is_none()));
    }

    #[test]
    fn objection_stops_direct_marketing_and_legitimate_interests() {
        let tasks = checklist(RequestKind::Objection);
        let stops: Vec<(&str, &str)> = tasks
            .iter()
            .filter(|t| t.kind == TaskKind::StopProcessing)
            .map(|t| (t.activity_key.as_deref().unwrap(), t.title_en.as_str()))
            .collect();
        assert_eq!(stops.len(), 2, "{stops:#?}");
        assert_eq!(stops[0].0, "call_recording");
        assert!(stops[0].1.contains("Art. 21(1)"), "{}", stops[0].1);
        assert_eq!(stops[1].0, "direct_marketing");
        assert!(
            stops[1].1.contains("Art. 21(2)") && stops[1].1.contains("always"),
            "{}",
            stops[1].1
        );
    }

    #[test]
    fn human_review_follows_the_automated_decisions_of_the_catalog() {
        let tasks = checklist(RequestKind::HumanReview);
        let review = &tasks[2];
        assert_eq!(review.activity_key, None);
        assert!(
            review.title_en.contains("lists no automated decisions"),
            "{}",
            review.title_en
        );

        let mut catalog = example_catalog();
        let activity = catalog
            .activities
            .iter_mut()
            .find(|a| a.key == "billing_invoicing")
            .unwrap();
        activity.automated_decision_logic =
            Some("Credit check score below 40 refuses a handset plan.".into());
        let tasks = checklist_with(RequestKind::HumanReview, &catalog, &shipped_policies());
        assert_eq!(
            kinds(&tasks)[2..4],
            [TaskKind::ReviewDecision, TaskKind::SendAnswer]
        );
        assert_eq!(tasks[2].activity_key.as_deref(), Some("billing_invoicing"));
        assert!(
            tasks[2].title_nl.contains("'Facturatie en incasso'"),
            "{}",
            tasks[2].title_nl
        );
    }

    #[test]
    fn the_answer_names_the_right() {
        let tasks = checklist(RequestKind::Erasure);
        let answer = tasks.last().unwrap();
        assert_eq!(
            answer.title_nl,
            "Verstuur het antwoord op het verzoek om wissing (art. 17 AVG)"
        );
        assert_eq!(
            answer.title_en,
            "Send the answer to the erasure request (Art. 17 GDPR)"
        );
    }

    #[test]
    fn words_are_joined_as_in_a_sentence() {
        let words = codes(&["a", "b", "c"]);
        assert_eq!(join_words(&words, "en"), "a, b en c");
        assert_eq!(join_words(&words[..1], "and"), "a");
        assert_eq!(lower_first("Financiële gegevens"), "financiële gegevens");
    }
}
