//! The Art. 30 register of processing activities ("RoPA"): the catalog laid out per activity the
//! way a supervisory authority asks for it, with category names, articles and transfer flags
//! filled in, plus warnings for the gaps that make the record incomplete or the processing
//! questionable (no legal basis, no retention period, an unsafeguarded transfer, ...).
//!
//! Building the register never fails: a catalog with gaps still has a register, and the gaps are
//! what the warnings are for. The catalog is validated on the way in, so references normally
//! resolve; where one does not (the caller passed an incomplete lookup) the entry shows the bare
//! code and a warning says so, rather than the register quietly losing a line.

use super::model::{
    is_eea_country, Activity, Category, LegalBasis, Organisation, ProcessingForOthers,
    RecipientKind, Sensitivity, SpecialCategoryGround, System, TransferSafeguard,
};
use super::text::Text;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The register as a whole.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub organisation: Option<Organisation>,
    /// RFC 3339.
    pub generated_at: String,
    pub activities: Vec<RegisterEntry>,
    pub warnings: Vec<Warning>,
    /// The processor's record (Art. 30(2)): what the organisation processes for others.
    #[serde(default)]
    pub processing_for_others: Vec<ProcessingForOthers>,
}

/// One processing activity as the register shows it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterEntry {
    pub key: String,
    pub name: Text,
    pub description: Option<Text>,
    pub purposes: Vec<Text>,
    pub legal_basis: Option<LegalBasis>,
    /// "Art. 6(1)(b)" and so on.
    pub legal_basis_article: Option<String>,
    pub legal_basis_detail: Option<String>,
    pub special_category_ground: Option<SpecialCategoryGround>,
    /// "Art. 9(2)(a)" and so on.
    pub special_category_ground_article: Option<String>,
    pub criminal_data_basis: Option<String>,
    /// The law that prescribes the BSN here (UAVG art. 46).
    pub bsn_law: Option<String>,
    pub data_subjects: Vec<String>,
    pub categories: Vec<RegisterCategory>,
    pub recipients: Vec<RegisterRecipient>,
    pub security_measures: Vec<Text>,
    pub source: Option<Text>,
    pub automated_decision_logic: Option<Text>,
    pub systems: Vec<RegisterSystem>,
}

/// A category of data an activity uses. Names are empty and `sensitivity` is `None` only when
/// the code was missing from the lookup (which is also reported as a warning).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterCategory {
    pub code: String,
    pub name_nl: String,
    pub name_en: String,
    pub sensitivity: Option<Sensitivity>,
    pub retention: Option<Text>,
}

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRecipient {
    pub name: String,
    pub kind: RecipientKind,
    pub country: String,
    pub outside_eea: bool,
    pub safeguard: Option<TransferSafeguard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
}

/// A system an activity's data lives in. Name and owner are empty only when the key was missing
/// from the systems passed in (also reported as a warning).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterSystem {
    pub key: String,
    /// Its name as the catalog gives it, in Dutch and English.
    pub name: Text,
    pub owner: String,
    pub processor: Option<String>,
    /// Where it is hosted (ISO 3166-1 alpha-2), when the catalog says.
    #[serde(default)]
    pub hosting_country: Option<String>,
}

/// A gap in the record. `activity` or `system` names the object, `field` the place within it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub activity: Option<String>,
    pub system: Option<String>,
    /// The key of an entry of the processor's record (Art. 30(2)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_others: Option<String>,
    pub field: String,
    pub code: WarningCode,
    pub message: String,
}

/// What kind of gap a [`Warning`] is; stable, for filtering and for clients to translate.
#[derive(
    utoipa::ToSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// No Art. 6(1) basis.
    NoLegalBasis,
    /// A category without retention period or criteria (Art. 30(1)(f)).
    NoRetention,
    /// Art. 9 data without an Art. 9(2) ground.
    NoSpecialCategoryGround,
    /// Art. 10 data without a stated basis.
    NoCriminalDataBasis,
    /// A national identification number (BSN) used without naming the law that prescribes it
    /// (UAVG art. 46), whatever the legal basis.
    NationalIdWithoutNamedLaw,
    /// No categories of data subjects (Art. 30(1)(c)).
    NoDataSubjects,
    /// No categories of personal data (Art. 30(1)(c)).
    NoCategories,
    /// No recipients although a linked system is run by a processor, itself a recipient
    /// (Art. 4(9), 30(1)(d)).
    NoRecipients,
    /// No general description of the security measures (Art. 30(1)(g), 32(1)).
    NoSecurityMeasures,
    /// A recipient or a processor's transfer outside the EEA without a transfer safeguard
    /// (Art. 30(1)(e), 30(2)(c), 44-46).
    TransferWithoutSafeguard,
    /// A system hosted outside the EEA with no linked activity recording that transfer and its
    /// safeguard (Art. 30(1)(e), 44-46).
    HostingWithoutTransfer,
    /// A processor's record entry without the controllers it processes for (Art. 30(2)(a)).
    NoControllers,
    /// A processor's record entry without the categories of processing (Art. 30(2)(b)).
    NoCategoriesOfProcessing,
    /// An activity not linked to any system, so a request would find none of its data.
    NoSystems,
    /// A system holds a category that no activity linked to it accounts for.
    UncoveredHolding,
    /// A category or system the lookups passed to [`build_register`] do not contain.
    UnknownReference,
}

/// Lays out the register and finds its gaps.
///
/// `categories` must hold every category the activities refer to, built-ins included (keyed by
/// code); `systems` every system, since a system no activity covers is itself a warning.
/// Activities keep the order given; warnings are sorted: activities' first, by key, then systems',
/// by key, and within one object by code.
pub fn build_register(
    organisation: Option<Organisation>,
    activities: &[Activity],
    categories: &BTreeMap<String, Category>,
    systems: &[System],
    generated_at: String,
) -> Register {
    let systems_by_key: BTreeMap<&str, &System> =
        systems.iter().map(|s| (s.key.as_str(), s)).collect();
    let mut warnings = Vec::new();
    let entries = activities
        .iter()
        .map(|activity| {
            warnings.extend(activity_warnings(activity, categories, &systems_by_key));
            entry(activity, categories, &systems_by_key)
        })
        .collect();
    for system in systems {
        warnings.extend(holding_warnings(system, activities));
        warnings.extend(hosting_warning(system, activities));
    }
    // Stable sort: within one object and code, warnings stay in field order as generated.
    warnings.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    Register {
        organisation,
        generated_at,
        activities: entries,
        warnings,
        processing_for_others: Vec::new(),
    }
}

impl Register {
    /// Adds the processor's record (Art. 30(2)) and its gaps, after the controller's.
    pub fn with_processing_for_others(mut self, entries: Vec<ProcessingForOthers>) -> Self {
        let mut warnings: Vec<Warning> = entries.iter().flat_map(for_others_warnings).collect();
        warnings.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        self.warnings.extend(warnings);
        self.processing_for_others = entries;
        self
    }
}

/// Activities' warnings first, then systems', then the processor's record's; by key, then code.
fn sort_key(warning: &Warning) -> (u8, &str, WarningCode) {
    match (&warning.activity, &warning.system, &warning.for_others) {
        (Some(activity), _, _) => (0, activity.as_str(), warning.code),
        (None, Some(system), _) => (1, system.as_str(), warning.code),
        (None, None, Some(entry)) => (2, entry.as_str(), warning.code),
        (None, None, None) => (3, "", warning.code),
    }
}

fn entry(
    activity: &Activity,
    categories: &BTreeMap<String, Category>,
    systems: &BTreeMap<&str, &System>,
) -> RegisterEntry {
    RegisterEntry {
        key: activity.key.clone(),
        name: activity.name.clone(),
        description: activity.description.clone(),
        purposes: activity.purposes.clone(),
        legal_basis: activity.legal_basis,
        legal_basis_article: activity.legal_basis.map(|b| b.article().to_string()),
        legal_basis_detail: activity.legal_basis_detail.clone(),
        special_category_ground: activity.special_category_ground,
        special_category_ground_article: activity
            .special_category_ground
            .map(|g| g.article().to_string()),
        criminal_data_basis: activity.criminal_data_basis.clone(),
        bsn_law: activity.bsn_law.clone(),
        data_subjects: activity.data_subjects.clone(),
        categories: activity
            .categories
            .iter()
            .map(|used| {
                let known = categories.get(&used.category);
                RegisterCategory {
                    code: used.category.clone(),
                    name_nl: known.map(|c| c.name_nl.clone()).unwrap_or_default(),
                    name_en: known.map(|c| c.name_en.clone()).unwrap_or_default(),
                    sensitivity: known.map(|c| c.sensitivity),
                    retention: used.retention.clone(),
                }
            })
            .collect(),
        recipients: activity
            .recipients
            .iter()
            .map(|r| RegisterRecipient {
                name: r.name.clone(),
                kind: r.kind,
                country: r.country.clone(),
                outside_eea: r.outside_eea(),
                safeguard: r.safeguard,
                description: r.description.clone(),
            })
            .collect(),
        security_measures: activity.security_measures.clone(),
        source: activity.source.clone(),
        automated_decision_logic: activity.automated_decision_logic.clone(),
        systems: activity
            .systems
            .iter()
            .map(|key| {
                let known = systems.get(key.as_str());
                RegisterSystem {
                    key: key.clone(),
                    name: known.map_or_else(|| Text::from(""), |s| s.name.clone()),
                    owner: known.map(|s| s.owner.clone()).unwrap_or_default(),
                    processor: known.and_then(|s| s.processor.clone()),
                    hosting_country: known.and_then(|s| s.hosting_country.clone()),
                }
            })
            .collect(),
    }
}

/// Blank counts as missing: a register must not pass a whitespace retention period as filled in.
fn is_missing(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

fn is_missing_text(value: &Option<Text>) -> bool {
    value
        .as_ref()
        .is_none_or(|v| v.default_text().trim().is_empty())
}

fn activity_warnings(
    activity: &Activity,
    categories: &BTreeMap<String, Category>,
    systems: &BTreeMap<&str, &System>,
) -> Vec<Warning> {
    let key = activity.key.as_str();
    let mut warnings = Vec::new();
    let mut warn = |field: String, code: WarningCode, message: String| {
        warnings.push(Warning {
            activity: Some(key.to_string()),
            system: None,
            for_others: None,
            field,
            code,
            message,
        });
    };

    if activity.legal_basis.is_none() {
        warn(
            "legal_basis".into(),
            WarningCode::NoLegalBasis,
            format!("processing '{key}' has no legal basis (Art. 6(1))"),
        );
    }
    let gaps = [
        (
            "data_subjects",
            WarningCode::NoDataSubjects,
            activity.data_subjects.is_empty(),
            "categories of data subjects (Art. 30(1)(c))",
        ),
        (
            "categories",
            WarningCode::NoCategories,
            activity.categories.is_empty(),
            "categories of personal data (Art. 30(1)(c))",
        ),
        (
            "security_measures",
            WarningCode::NoSecurityMeasures,
            activity.security_measures.is_empty(),
            "description of the security measures (Art. 30(1)(g))",
        ),
    ];
    for (field, code, _, missing) in gaps.into_iter().filter(|gap| gap.2) {
        warn(
            field.into(),
            code,
            format!("processing '{key}' records no {missing}"),
        );
    }
    if let Some(processor) = unlisted_processor(activity, systems) {
        warn(
            "recipients".into(),
            WarningCode::NoRecipients,
            format!(
                "processing '{key}' records no recipients (Art. 30(1)(d)), yet its data is processed by '{processor}', a recipient (Art. 4(9))"
            ),
        );
    }

    let mut special = Vec::new();
    let mut criminal = Vec::new();
    for (index, used) in activity.categories.iter().enumerate() {
        let code = used.category.as_str();
        if is_missing_text(&used.retention) {
            warn(
                format!("categories[{index}].retention"),
                WarningCode::NoRetention,
                format!(
                    "processing '{key}' has no retention period for data category '{code}' (Art. 30(1)(f))"
                ),
            );
        }
        match categories.get(code).map(|c| c.sensitivity) {
            None => warn(
                format!("categories[{index}].category"),
                WarningCode::UnknownReference,
                format!(
                    "processing '{key}' refers to unknown data category '{code}' (Art. 30(1)(c))"
                ),
            ),
            Some(Sensitivity::Special) => special.push(code),
            Some(Sensitivity::Criminal) => criminal.push(code),
            Some(Sensitivity::NationalId) => {
                if is_missing(&activity.bsn_law) {
                    warn(
                        "bsn_law".into(),
                        WarningCode::NationalIdWithoutNamedLaw,
                        format!(
                            "processing '{key}' uses national identification number '{code}' without naming the law that prescribes it (bsn_law); UAVG art. 46 allows it only where a law prescribes it"
                        ),
                    );
                }
            }
            Some(Sensitivity::Normal) => {}
        }
    }
    if !special.is_empty() && activity.special_category_ground.is_none() {
        warn(
            "special_category_ground".into(),
            WarningCode::NoSpecialCategoryGround,
            format!(
                "processing '{key}' uses special category data ({}) without an exception of Art. 9(2)",
                quoted_list(&special)
            ),
        );
    }
    if !criminal.is_empty() && is_missing(&activity.criminal_data_basis) {
        warn(
            "criminal_data_basis".into(),
            WarningCode::NoCriminalDataBasis,
            format!(
                "processing '{key}' uses criminal data ({}) without a stated basis (Art. 10; UAVG art. 31-33)",
                quoted_list(&criminal)
            ),
        );
    }

    for (index, recipient) in activity.recipients.iter().enumerate() {
        if recipient.outside_eea() && recipient.safeguard.is_none() {
            warn(
                format!("recipients[{index}].safeguard"),
                WarningCode::TransferWithoutSafeguard,
                format!(
                    "processing '{key}' transfers data to '{}' in {}, outside the EEA, without a transfer safeguard ({TRANSFER_ARTICLES})",
                    recipient.name, recipient.country
                ),
            );
        }
    }

    if activity.systems.is_empty() {
        warn(
            "systems".into(),
            WarningCode::NoSystems,
            format!(
                "processing '{key}' is not linked to any system, so a request will not find its data (Art. 15-20 need all of it; Art. 30(1)(c))"
            ),
        );
    }
    for (index, system) in activity.systems.iter().enumerate() {
        if !systems.contains_key(system.as_str()) {
            warn(
                format!("systems[{index}]"),
                WarningCode::UnknownReference,
                format!("processing '{key}' refers to unknown system '{system}' (Art. 30(1)(c))"),
            );
        }
    }
    warnings
}

/// A processor of a linked system, when the activity lists no recipient at all. An activity
/// without recipients is not a gap in itself (data kept in house has none), but a processor is a
/// recipient, so its absence is.
fn unlisted_processor<'a>(
    activity: &Activity,
    systems: &BTreeMap<&str, &'a System>,
) -> Option<&'a str> {
    if !activity.recipients.is_empty() {
        return None;
    }
    activity
        .systems
        .iter()
        .filter_map(|key| systems.get(key.as_str()))
        .find_map(|system| system.processor.as_deref())
}

/// One warning per category a system holds that no activity linked to the system uses: data
/// kept without a recorded purpose, basis or retention period.
fn holding_warnings(system: &System, activities: &[Activity]) -> Vec<Warning> {
    let covered: HashSet<&str> = activities
        .iter()
        .filter(|a| a.systems.contains(&system.key))
        .flat_map(|a| a.categories.iter().map(|c| c.category.as_str()))
        .collect();
    let mut uncovered: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for holding in &system.holdings {
        if !covered.contains(holding.category.as_str()) {
            uncovered
                .entry(&holding.category)
                .or_default()
                .insert(&holding.location);
        }
    }
    uncovered
        .into_iter()
        .map(|(category, locations)| Warning {
            activity: None,
            system: Some(system.key.clone()),
            for_others: None,
            field: "holdings".into(),
            code: WarningCode::UncoveredHolding,
            message: format!(
                "system '{}' holds data category '{category}' ({}) but no processing activity linked to it covers that category, so it has no recorded purpose (Art. 30(1)(b), (c))",
                system.key,
                locations.into_iter().collect::<Vec<_>>().join(", ")
            ),
        })
        .collect()
}

/// The articles a transfer outside the EEA answers to.
const TRANSFER_ARTICLES: &str = "Art. 30(1)(e), 44-46";

/// A system hosted outside the EEA sends every byte it holds there: some activity linked to it
/// must record that transfer, as a recipient in that country with a safeguard.
fn hosting_warning(system: &System, activities: &[Activity]) -> Option<Warning> {
    let country = system.hosting_country.as_deref()?;
    if is_eea_country(country) {
        return None;
    }
    let recorded = activities
        .iter()
        .filter(|a| a.systems.contains(&system.key))
        .flat_map(|a| &a.recipients)
        .any(|r| r.country == country && r.safeguard.is_some());
    (!recorded).then(|| Warning {
        activity: None,
        system: Some(system.key.clone()),
        for_others: None,
        field: "hosting_country".into(),
        code: WarningCode::HostingWithoutTransfer,
        message: format!(
            "system '{}' is hosted in {country}, outside the EEA, but no processing activity linked to it records that transfer with a safeguard ({TRANSFER_ARTICLES})",
            system.key
        ),
    })
}

/// The gaps of one entry of the processor's record, each naming its point of Art. 30(2).
fn for_others_warnings(entry: &ProcessingForOthers) -> Vec<Warning> {
    let key = entry.key.as_str();
    let warning = |field: String, code: WarningCode, message: String| Warning {
        activity: None,
        system: None,
        for_others: Some(key.to_string()),
        field,
        code,
        message,
    };
    let gaps = [
        (
            "controllers",
            WarningCode::NoControllers,
            entry.controllers.is_empty(),
            "controllers it processes for (Art. 30(2)(a))",
        ),
        (
            "categories_of_processing",
            WarningCode::NoCategoriesOfProcessing,
            entry.categories_of_processing.is_empty(),
            "categories of processing (Art. 30(2)(b))",
        ),
        (
            "security_measures",
            WarningCode::NoSecurityMeasures,
            entry.security_measures.is_empty(),
            "description of the security measures (Art. 30(2)(d))",
        ),
    ];
    let mut warnings: Vec<Warning> = gaps
        .into_iter()
        .filter(|gap| gap.2)
        .map(|(field, code, _, missing)| {
            warning(
                field.into(),
                code,
                format!("processing for others '{key}' records no {missing}"),
            )
        })
        .collect();
    for (index, transfer) in entry.transfers.iter().enumerate() {
        if transfer.outside_eea() && transfer.safeguard.is_none() {
            warnings.push(warning(
                format!("transfers[{index}].safeguard"),
                WarningCode::TransferWithoutSafeguard,
                format!(
                    "processing for others '{key}' transfers data to '{}' in {}, outside the EEA, without a transfer safeguard (Art. 30(2)(c), 44-46)",
                    transfer.recipient, transfer.country
                ),
            ));
        }
    }
    warnings
}

fn quoted_list(codes: &[&str]) -> String {
    codes
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

// --- CSV ----------------------------------------------------------------------------------------

const CSV_HEADER: [&str; 21] = [
    "key",
    "name",
    "description",
    "purposes",
    "legal_basis",
    "legal_basis_article",
    "legal_basis_detail",
    "special_category_ground",
    "special_category_ground_article",
    "criminal_data_basis",
    "data_subjects",
    "categories",
    "recipients",
    "security_measures",
    "source",
    "automated_decision_logic",
    "systems",
    "warnings",
    "controller",
    "dpo",
    "record",
];

/// The last column: which record a row belongs to, the controller's or the processor's.
const CONTROLLER_RECORD: &str = "Art. 30(1)";
const PROCESSOR_RECORD: &str = "Art. 30(2)";

const LIST_SEPARATOR: &str = "; ";

/// The register as CSV for a spreadsheet: one row per activity, lists joined with "; ",
/// categories as `code (retention)`, recipients as `name [country, outside EEA: safeguard]`, and
/// the activity's warnings in their column. System-level warnings have no row of their own;
/// they are in [`Register::warnings`]. The processor's record (Art. 30(2)) follows, one row per
/// entry in the same columns (categories of processing as purposes, transfers as recipients,
/// the controllers processed for as controller), told apart by the `record` column.
pub fn register_to_csv(register: &Register) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER)?;
    // Art. 30(1)(a) belongs to every activity: a spreadsheet row must stand on its own.
    let controller = register
        .organisation
        .as_ref()
        .map(controller_cell)
        .unwrap_or_default();
    let dpo = register
        .organisation
        .as_ref()
        .map(dpo_cell)
        .unwrap_or_default();
    for entry in &register.activities {
        let warnings: Vec<&str> = register
            .warnings
            .iter()
            .filter(|w| w.activity.as_deref() == Some(entry.key.as_str()))
            .map(|w| w.message.as_str())
            .collect();
        let opt = |value: &Option<String>| value.clone().unwrap_or_default();
        // One cell per field: a text per language gives its default-language version.
        let text = |value: &Option<Text>| value.as_ref().map(Text::to_string).unwrap_or_default();
        let texts = |values: &[Text]| {
            values
                .iter()
                .map(Text::to_string)
                .collect::<Vec<_>>()
                .join(LIST_SEPARATOR)
        };
        let record: [String; 21] = [
            entry.key.clone(),
            entry.name.to_string(),
            text(&entry.description),
            texts(&entry.purposes),
            entry
                .legal_basis
                .map(|b| b.as_str().to_string())
                .unwrap_or_default(),
            opt(&entry.legal_basis_article),
            opt(&entry.legal_basis_detail),
            entry
                .special_category_ground
                .map(|g| g.as_str().to_string())
                .unwrap_or_default(),
            opt(&entry.special_category_ground_article),
            opt(&entry.criminal_data_basis),
            entry.data_subjects.join(LIST_SEPARATOR),
            entry
                .categories
                .iter()
                .map(category_cell)
                .collect::<Vec<_>>()
                .join(LIST_SEPARATOR),
            entry
                .recipients
                .iter()
                .map(recipient_cell)
                .collect::<Vec<_>>()
                .join(LIST_SEPARATOR),
            texts(&entry.security_measures),
            text(&entry.source),
            text(&entry.automated_decision_logic),
            entry
                .systems
                .iter()
                .map(|s| s.key.as_str())
                .collect::<Vec<_>>()
                .join(LIST_SEPARATOR),
            warnings.join(LIST_SEPARATOR),
            controller.clone(),
            dpo.clone(),
            CONTROLLER_RECORD.into(),
        ];
        writer.write_record(&record)?;
    }
    for entry in &register.processing_for_others {
        let warnings: Vec<&str> = register
            .warnings
            .iter()
            .filter(|w| w.for_others.as_deref() == Some(entry.key.as_str()))
            .map(|w| w.message.as_str())
            .collect();
        let transfers: Vec<String> = entry
            .transfers
            .iter()
            .map(|t| {
                let safeguard = t.safeguard.map_or("no safeguard", |s| s.as_str());
                format!("{} [{}, outside EEA: {safeguard}]", t.recipient, t.country)
            })
            .collect();
        let empty = String::new;
        let record: [String; 21] = [
            entry.key.clone(),
            entry.name.clone(),
            entry.description.clone().unwrap_or_default(),
            entry.categories_of_processing.join(LIST_SEPARATOR),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            transfers.join(LIST_SEPARATOR),
            entry.security_measures.join(LIST_SEPARATOR),
            empty(),
            empty(),
            empty(),
            warnings.join(LIST_SEPARATOR),
            processor_controller_cell(entry, &controller),
            dpo.clone(),
            PROCESSOR_RECORD.into(),
        ];
        writer.write_record(&record)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    // Every cell came from a `String`, so the bytes are UTF-8; the error arm is unreachable in
    // practice but costs nothing to keep honest.
    String::from_utf8(bytes)
        .map_err(|e| csv::Error::from(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// The controller with its address and contact, its joint controllers (Art. 26) and its EU
/// representative (Art. 27).
fn controller_cell(organisation: &Organisation) -> String {
    let mut parts = vec![organisation.name.clone()];
    parts.extend(organisation.address.clone());
    parts.push(organisation.contact_email.clone());
    let mut cell = parts.join(", ");
    if !organisation.joint_controllers.is_empty() {
        cell.push_str(&format!(
            "{LIST_SEPARATOR}joint controllers: {}",
            organisation.joint_controllers.join(", ")
        ));
    }
    if let Some(representative) = &organisation.eu_representative {
        cell.push_str(&format!(
            "{LIST_SEPARATOR}EU representative: {representative}"
        ));
    }
    cell
}

/// Art. 30(2)(a): the controllers processed for, with their contacts, representatives and
/// DPOs, and the processor itself.
fn processor_controller_cell(entry: &ProcessingForOthers, processor: &str) -> String {
    let controllers: Vec<String> = entry
        .controllers
        .iter()
        .map(|c| {
            let mut parts = vec![c.name.clone(), c.contact.clone()];
            parts.extend(
                c.representative
                    .as_ref()
                    .map(|r| format!("representative: {r}")),
            );
            parts.extend(c.dpo.as_ref().map(|d| format!("DPO: {d}")));
            parts.join(", ")
        })
        .collect();
    format!(
        "on behalf of: {}{LIST_SEPARATOR}processor: {processor}",
        controllers.join(" | ")
    )
}

fn dpo_cell(organisation: &Organisation) -> String {
    [
        organisation.dpo_name.as_deref(),
        organisation.dpo_email.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

fn category_cell(category: &RegisterCategory) -> String {
    match category.retention.as_ref().map(Text::default_text) {
        Some(retention) if !retention.trim().is_empty() => {
            format!("{} ({retention})", category.code)
        }
        _ => category.code.clone(),
    }
}

fn recipient_cell(recipient: &RegisterRecipient) -> String {
    if recipient.outside_eea {
        let safeguard = recipient.safeguard.map_or("no safeguard", |s| s.as_str());
        format!(
            "{} [{}, outside EEA: {safeguard}]",
            recipient.name, recipient.country
        )
    } else {
        format!("{} [{}]", recipient.name, recipient.country)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{
        builtin_categories, ActivityCategory, CatalogDocument, ConnectorKind, Holding,
        IdentifierKind, Origin, Recipient, Validate,
    };
    use crate::vocabulary::Language;

    const EXAMPLE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/catalog.yaml"
    ));
    const MUNICIPAL: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/gemeente.yaml"
    ));
    const NOW: &str = "2026-11-23T10:00:00Z";

    fn lookup(document: &CatalogDocument) -> BTreeMap<String, Category> {
        builtin_categories()
            .into_iter()
            .chain(document.categories.iter().cloned())
            .map(|c| (c.code.clone(), c))
            .collect()
    }

    fn register_of(document: &CatalogDocument) -> Register {
        build_register(
            document.organisation.clone(),
            &document.activities,
            &lookup(document),
            &document.systems,
            NOW.to_string(),
        )
    }

    /// One system, one activity using what it holds, and nothing missing.
    fn clean() -> CatalogDocument {
        CatalogDocument {
            organisation: None,
            categories: Vec::new(),
            systems: vec![System {
                key: "crm".into(),
                name: "CRM".into(),
                description: None,
                owner: "Klantenservice".into(),
                hosting: None,
                processor: Some("Hosting B.V.".into()),
                identifier_kinds: vec![IdentifierKind::Email],
                connector: ConnectorKind::Manual,
                holdings: vec![Holding {
                    category: "contact".into(),
                    location: "customers.email".into(),
                    origin: Origin::Provided,
                }],
                sql: None,
                hosting_country: None,
                http: None,
                owner_email: None,
            }],
            activities: vec![Activity {
                key: "customer_service".into(),
                name: "Klantenservice".into(),
                description: None,
                purposes: vec!["Answering questions".into()],
                legal_basis: Some(LegalBasis::Contract),
                legal_basis_detail: None,
                special_category_ground: None,
                criminal_data_basis: None,
                bsn_law: None,
                data_subjects: vec!["Customers".into()],
                categories: vec![ActivityCategory {
                    category: "contact".into(),
                    retention: Some("2 years after the contract ends".into()),
                }],
                recipients: vec![Recipient {
                    name: "Hosting B.V.".into(),
                    kind: RecipientKind::Processor,
                    country: "NL".into(),
                    safeguard: None,
                    description: None,
                }],
                security_measures: vec!["Encryption at rest".into()],
                source: None,
                automated_decision_logic: None,
                systems: vec!["crm".into()],
            }],
            processing_for_others: vec![],
        }
    }

    fn codes(register: &Register) -> Vec<WarningCode> {
        register.warnings.iter().map(|w| w.code).collect()
    }

    /// Adds `code` to the clean activity (and to the system, so that only the intended warning
    /// fires).
    fn with_category(code: &str) -> CatalogDocument {
        let mut document = clean();
        document.activities[0].categories.push(ActivityCategory {
            category: code.into(),
            retention: Some("1 year".into()),
        });
        document
    }

    #[test]
    fn a_clean_catalog_has_no_warnings() {
        let document = clean();
        assert_eq!(document.validate(), Ok(()));
        assert_eq!(register_of(&document).warnings, []);
    }

    #[test]
    fn the_example_catalog_has_no_warnings() {
        let document: CatalogDocument = serde_yaml::from_str(EXAMPLE).expect("parses");
        let register = register_of(&document);
        assert_eq!(register.warnings, [], "{:#?}", register.warnings);
        assert_eq!(register.activities.len(), document.activities.len());
    }

    #[test]
    fn the_municipal_example_is_valid_and_has_no_warnings() {
        let document: CatalogDocument = serde_yaml::from_str(MUNICIPAL).expect("parses");
        assert_eq!(document.validate(), Ok(()));
        let register = register_of(&document);
        assert_eq!(register.warnings, [], "{:#?}", register.warnings);
        // Every activity that uses the BSN names the law that prescribes it.
        let with_bsn: Vec<&RegisterEntry> = register
            .activities
            .iter()
            .filter(|a| a.categories.iter().any(|c| c.code == "bsn"))
            .collect();
        assert_eq!(with_bsn.len(), 4);
        assert!(with_bsn.iter().all(|a| a.bsn_law.is_some()));
    }

    #[test]
    fn no_legal_basis() {
        let mut document = clean();
        document.activities[0].legal_basis = None;
        let register = register_of(&document);
        assert_eq!(codes(&register), [WarningCode::NoLegalBasis]);
        let warning = &register.warnings[0];
        assert_eq!(warning.activity.as_deref(), Some("customer_service"));
        assert_eq!(warning.field, "legal_basis");
        assert_eq!(
            warning.message,
            "processing 'customer_service' has no legal basis (Art. 6(1))"
        );
    }

    #[test]
    fn no_retention() {
        let mut document = clean();
        document.activities[0].categories[0].retention = None;
        let register = register_of(&document);
        assert_eq!(codes(&register), [WarningCode::NoRetention]);
        assert_eq!(register.warnings[0].field, "categories[0].retention");
        assert!(register.warnings[0].message.contains("'contact'"));
    }

    #[test]
    fn special_category_without_ground() {
        let register = register_of(&with_category("special_health"));
        assert_eq!(codes(&register), [WarningCode::NoSpecialCategoryGround]);
        assert!(register.warnings[0].message.contains("'special_health'"));

        let mut grounded = with_category("special_health");
        grounded.activities[0].special_category_ground = Some(SpecialCategoryGround::HealthCare);
        let register = register_of(&grounded);
        assert_eq!(register.warnings, []);
        let entry = &register.activities[0];
        assert_eq!(
            entry.special_category_ground_article.as_deref(),
            Some("Art. 9(2)(h)")
        );
        assert_eq!(entry.categories[1].sensitivity, Some(Sensitivity::Special));
    }

    #[test]
    fn criminal_data_without_basis() {
        let register = register_of(&with_category("criminal"));
        assert_eq!(codes(&register), [WarningCode::NoCriminalDataBasis]);
        assert_eq!(register.warnings[0].field, "criminal_data_basis");

        let mut based = with_category("criminal");
        based.activities[0].criminal_data_basis =
            Some("UAVG art. 33(4)(c): own use to assess a request".into());
        assert_eq!(register_of(&based).warnings, []);
    }

    #[test]
    fn bsn_needs_a_named_law_whatever_the_basis() {
        // A legal obligation that names no BSN law is still a gap.
        let mut unnamed = with_category("bsn");
        unnamed.activities[0].legal_basis = Some(LegalBasis::LegalObligation);
        let register = register_of(&unnamed);
        assert_eq!(codes(&register), [WarningCode::NationalIdWithoutNamedLaw]);
        assert_eq!(register.warnings[0].field, "bsn_law");
        assert!(register.warnings[0].message.contains("UAVG art. 46"));

        // A municipality's public task with the law named is not.
        let mut prescribed = with_category("bsn");
        prescribed.activities[0].legal_basis = Some(LegalBasis::PublicTask);
        prescribed.activities[0].bsn_law =
            Some("Wet algemene bepalingen burgerservicenummer, art. 10".into());
        let register = register_of(&prescribed);
        assert_eq!(register.warnings, []);
        assert!(register.activities[0].bsn_law.is_some());
    }

    #[test]
    fn an_empty_record_warns_per_missing_part_with_its_article() {
        let mut document = clean();
        let activity = &mut document.activities[0];
        activity.data_subjects.clear();
        activity.categories.clear();
        activity.recipients.clear();
        activity.security_measures.clear();
        let register = register_of(&document);
        assert_eq!(
            codes(&register)[..4],
            [
                WarningCode::NoDataSubjects,
                WarningCode::NoCategories,
                WarningCode::NoRecipients,
                WarningCode::NoSecurityMeasures
            ]
        );
        for warning in &register.warnings[..4] {
            assert!(
                warning.message.contains("Art. 30(1)"),
                "{}",
                warning.message
            );
        }

        // Data kept in house has no recipients, and that is no gap.
        document.systems[0].processor = None;
        assert!(!codes(&register_of(&document)).contains(&WarningCode::NoRecipients));
    }

    #[test]
    fn transfer_outside_the_eea_without_safeguard() {
        let mut document = clean();
        document.activities[0].recipients.push(Recipient {
            name: "Clickmetrics Inc.".into(),
            kind: RecipientKind::Processor,
            country: "US".into(),
            safeguard: None,
            description: None,
        });
        let register = register_of(&document);
        assert_eq!(codes(&register), [WarningCode::TransferWithoutSafeguard]);
        assert_eq!(register.warnings[0].field, "recipients[1].safeguard");
        assert!(register.warnings[0]
            .message
            .contains("'Clickmetrics Inc.' in US"));
        assert!(register.activities[0].recipients[1].outside_eea);
        assert!(!register.activities[0].recipients[0].outside_eea);

        document.activities[0].recipients[1].safeguard =
            Some(TransferSafeguard::StandardContractualClauses);
        assert_eq!(register_of(&document).warnings, []);
    }

    #[test]
    fn hosting_outside_the_eea_needs_a_recorded_transfer() {
        let mut document = clean();
        document.systems[0].hosting_country = Some("US".into());
        let register = register_of(&document);
        assert_eq!(codes(&register), [WarningCode::HostingWithoutTransfer]);
        let warning = &register.warnings[0];
        assert_eq!(
            (warning.system.as_deref(), warning.field.as_str()),
            (Some("crm"), "hosting_country")
        );
        assert!(warning.message.contains("Art. 30(1)(e), 44-46"));
        assert_eq!(
            register.activities[0].systems[0].hosting_country.as_deref(),
            Some("US")
        );

        // Recorded without a safeguard it is still a gap, the recipient's.
        document.activities[0].recipients.push(Recipient {
            name: "Cloud Inc.".into(),
            kind: RecipientKind::Processor,
            country: "US".into(),
            safeguard: None,
            description: None,
        });
        assert_eq!(
            codes(&register_of(&document)),
            [
                WarningCode::TransferWithoutSafeguard,
                WarningCode::HostingWithoutTransfer
            ]
        );
        document.activities[0].recipients[1].safeguard = Some(TransferSafeguard::AdequacyDecision);
        assert_eq!(register_of(&document).warnings, []);
        // Hosting inside the EEA is no transfer.
        document.systems[0].hosting_country = Some("DE".into());
        document.activities[0].recipients.pop();
        assert_eq!(register_of(&document).warnings, []);
    }

    #[test]
    fn the_processor_record_warns_per_missing_point_of_article_30_2() {
        let entry: crate::catalog::model::ProcessingForOthers = serde_yaml::from_str(
            "
key: hosting_for_schools
name: Hosting for schools
controllers:
  - {name: Stichting Scholen Noord, contact: privacy@scholen.example, dpo: fg@scholen.example}
categories_of_processing: [Hosting and back-up of the pupil administration]
transfers:
  - {recipient: Backup Inc., country: US, safeguard: standard_contractual_clauses}
security_measures: [Encryption at rest]
",
        )
        .expect("parses");
        assert_eq!(entry.validate(), Ok(()));
        let register = register_of(&clean()).with_processing_for_others(vec![entry.clone()]);
        assert_eq!(register.warnings, []);
        assert_eq!(register.processing_for_others, std::slice::from_ref(&entry));
        let text = register_to_csv(&register).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][20], "Art. 30(1)");
        let row = &rows[1];
        assert_eq!((&row[0], &row[20]), ("hosting_for_schools", "Art. 30(2)"));
        assert_eq!(&row[3], "Hosting and back-up of the pupil administration");
        assert_eq!(
            &row[12],
            "Backup Inc. [US, outside EEA: standard_contractual_clauses]"
        );
        assert!(row[18].starts_with(
            "on behalf of: Stichting Scholen Noord, privacy@scholen.example, DPO: fg@scholen.example"
        ));

        let mut empty = entry;
        empty.controllers.clear();
        empty.categories_of_processing.clear();
        empty.security_measures.clear();
        empty.transfers[0].safeguard = None;
        let register = register_of(&clean()).with_processing_for_others(vec![empty]);
        assert_eq!(
            codes(&register),
            [
                WarningCode::NoSecurityMeasures,
                WarningCode::TransferWithoutSafeguard,
                WarningCode::NoControllers,
                WarningCode::NoCategoriesOfProcessing,
            ]
        );
        for warning in &register.warnings {
            assert_eq!(warning.for_others.as_deref(), Some("hosting_for_schools"));
            assert!(
                warning.message.contains("Art. 30(2)("),
                "{}",
                warning.message
            );
        }
    }

    #[test]
    fn every_warning_names_its_article() {
        let mut document = with_category("special_health");
        let activity = &mut document.activities[0];
        activity.legal_basis = None;
        activity.data_subjects.clear();
        activity.security_measures.clear();
        activity.categories[0].retention = None;
        activity.categories.push(ActivityCategory {
            category: "criminal".into(),
            retention: Some("1 year".into()),
        });
        activity.categories.push(ActivityCategory {
            category: "bsn".into(),
            retention: Some("1 year".into()),
        });
        activity.categories.push(ActivityCategory {
            category: "nonsense".into(),
            retention: Some("1 year".into()),
        });
        activity.recipients = vec![Recipient {
            name: "Cloud Inc.".into(),
            kind: RecipientKind::Processor,
            country: "US".into(),
            safeguard: None,
            description: None,
        }];
        activity.systems.push("missing".into());
        let mut unlinked = document.activities[0].clone();
        unlinked.key = "unlinked".into();
        unlinked.systems.clear();
        unlinked.recipients.clear();
        document.activities.push(unlinked);
        document.systems[0].hosting_country = Some("CN".into());
        document.systems[0].holdings.push(Holding {
            category: "location".into(),
            location: "cells".into(),
            origin: Origin::Observed,
        });
        let register = register_of(&document);
        assert!(register.warnings.len() >= 12, "{:#?}", register.warnings);
        for warning in &register.warnings {
            let message = &warning.message;
            assert!(
                message.contains("Art. ") || message.contains("art. "),
                "{:?} names no article: {message}",
                warning.code
            );
        }
    }

    #[test]
    fn activity_without_systems() {
        let mut document = clean();
        document.activities[0].systems.clear();
        let register = register_of(&document);
        // The system's holding is now covered by nothing either.
        assert_eq!(
            codes(&register),
            [WarningCode::NoSystems, WarningCode::UncoveredHolding]
        );
        assert_eq!(register.warnings[0].field, "systems");
    }

    #[test]
    fn holding_not_covered_by_a_linked_activity() {
        let mut document = clean();
        document.systems[0].holdings.push(Holding {
            category: "location".into(),
            location: "customers.last_cell".into(),
            origin: Origin::Observed,
        });
        document.systems[0].holdings.push(Holding {
            category: "location".into(),
            location: "customers.home_area".into(),
            origin: Origin::Inferred,
        });
        // Covered by an activity, but one not linked to this system: still a gap.
        let mut other = document.activities[0].clone();
        other.key = "network_planning".into();
        other.systems = vec![];
        other.categories = vec![ActivityCategory {
            category: "location".into(),
            retention: Some("1 year".into()),
        }];
        document.activities.push(other);
        let register = register_of(&document);
        let uncovered: Vec<&Warning> = register
            .warnings
            .iter()
            .filter(|w| w.code == WarningCode::UncoveredHolding)
            .collect();
        assert_eq!(uncovered.len(), 1, "one warning per category");
        let warning = uncovered[0];
        assert_eq!(warning.system.as_deref(), Some("crm"));
        assert_eq!(warning.activity, None);
        assert_eq!(warning.field, "holdings");
        assert!(warning.message.contains("'location'"));
        assert!(warning
            .message
            .contains("customers.home_area, customers.last_cell"));
    }

    #[test]
    fn unknown_references_are_reported_not_dropped() {
        let mut document = clean();
        document.activities[0].categories[0].category = "foo".into();
        document.activities[0].systems.push("bar".into());
        let register = register_of(&document);
        let unknown: Vec<&str> = register
            .warnings
            .iter()
            .filter(|w| w.code == WarningCode::UnknownReference)
            .map(|w| w.field.as_str())
            .collect();
        assert_eq!(unknown, ["categories[0].category", "systems[1]"]);
        let entry = &register.activities[0];
        assert_eq!(entry.categories[0].code, "foo");
        assert_eq!(entry.categories[0].sensitivity, None);
        assert_eq!(entry.systems[1].key, "bar");
    }

    #[test]
    fn warnings_are_sorted() {
        let mut document = clean();
        let mut second = document.activities[0].clone();
        second.key = "analytics".into();
        second.legal_basis = None;
        second.categories[0].retention = None;
        document.activities[0].legal_basis = None;
        document.activities.push(second);
        document.systems[0].holdings.push(Holding {
            category: "usage".into(),
            location: "logs".into(),
            origin: Origin::Observed,
        });
        let register = register_of(&document);
        let order: Vec<(Option<&str>, Option<&str>, WarningCode)> = register
            .warnings
            .iter()
            .map(|w| (w.activity.as_deref(), w.system.as_deref(), w.code))
            .collect();
        assert_eq!(
            order,
            [
                (Some("analytics"), None, WarningCode::NoLegalBasis),
                (Some("analytics"), None, WarningCode::NoRetention),
                (Some("customer_service"), None, WarningCode::NoLegalBasis),
                (None, Some("crm"), WarningCode::UncoveredHolding),
            ]
        );
        // Activities keep the order they were given in.
        assert_eq!(register.activities[0].key, "customer_service");
    }

    #[test]
    fn entries_carry_names_and_articles() {
        let document: CatalogDocument = serde_yaml::from_str(EXAMPLE).expect("parses");
        let register = register_of(&document);
        assert_eq!(register.generated_at, NOW);
        let billing = register
            .activities
            .iter()
            .find(|a| a.key == "billing_invoicing")
            .expect("billing activity");
        assert_eq!(billing.legal_basis_article.as_deref(), Some("Art. 6(1)(b)"));
        assert_eq!(billing.categories[2].name_en, "Financial data");
        assert_eq!(
            billing.systems[0].name.get(Language::Nl),
            "Facturatiesysteem (rating & billing)"
        );
        assert_eq!(
            billing.systems[0].name.get(Language::En),
            "Billing system (rating & billing)"
        );
        assert_eq!(
            billing.systems[0].processor.as_deref(),
            Some("Noordhost B.V.")
        );
        let json = serde_json::to_value(&register).expect("serialises");
        assert_eq!(json["activities"][0]["legal_basis"], "contract");
        assert_eq!(
            json["activities"][0]["categories"][0]["sensitivity"],
            "normal"
        );
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_activity() {
        let document: CatalogDocument = serde_yaml::from_str(EXAMPLE).expect("parses");
        let register = register_of(&document);
        let text = register_to_csv(&register).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        assert_eq!(header, CSV_HEADER);
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .collect::<Result<_, _>>()
            .expect("rows parse");
        assert_eq!(rows.len(), document.activities.len());
        let analytics = rows
            .iter()
            .find(|r| &r[0] == "web_analytics")
            .expect("web analytics row");
        assert_eq!(
            &analytics[12],
            "Clickmetrics Inc. [US, outside EEA: standard_contractual_clauses]"
        );
        assert_eq!(
            &analytics[11],
            "usage (14 maanden na het bezoek); location (14 maanden na het bezoek)"
        );
        assert_eq!(&analytics[17], "");
        assert_eq!(
            &analytics[18],
            "Telco Noord B.V., Postbus 4120, 9701 EC Groningen, Nederland, privacy@telconoord.example"
        );
        assert!(
            analytics[19].contains("Hoekstra") && analytics[19].contains("fg@telconoord.example")
        );
    }

    #[test]
    fn csv_names_joint_controllers_and_the_eu_representative() {
        let mut document: CatalogDocument = serde_yaml::from_str(EXAMPLE).expect("parses");
        let organisation = document.organisation.as_mut().expect("set");
        organisation.joint_controllers = vec!["Telco Zuid B.V.".into()];
        organisation.eu_representative = Some("EU Rep B.V., Utrecht".into());
        let text = register_to_csv(&register_of(&document)).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let row = reader.records().next().expect("a row").expect("parses");
        assert!(
            row[18].contains("joint controllers: Telco Zuid B.V."),
            "{}",
            &row[18]
        );
        assert!(row[18].contains("EU representative: EU Rep B.V., Utrecht"));
    }

    #[test]
    fn csv_escapes_commas_quotes_and_lists_warnings() {
        let mut document = clean();
        document.activities[0].name = "Service, \"premium\" line".into();
        document.activities[0].purposes = vec!["One, two".into(), "Three".into()];
        document.activities[0].legal_basis = None;
        document.activities[0].categories[0].retention = None;
        document.activities[0].recipients.push(Recipient {
            name: "Acme, Inc.".into(),
            kind: RecipientKind::Controller,
            country: "US".into(),
            safeguard: None,
            description: None,
        });
        let register = register_of(&document);
        let text = register_to_csv(&register).expect("csv");
        assert!(
            text.contains("\"Service, \"\"premium\"\" line\""),
            "quotes doubled and field quoted: {text}"
        );
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .collect::<Result<_, _>>()
            .expect("rows parse");
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.len(), CSV_HEADER.len());
        assert_eq!(&row[1], "Service, \"premium\" line");
        assert_eq!(&row[3], "One, two; Three");
        assert_eq!(&row[4], "");
        assert_eq!(&row[11], "contact");
        assert_eq!(
            &row[12],
            "Hosting B.V. [NL]; Acme, Inc. [US, outside EEA: no safeguard]"
        );
        let warnings: Vec<&str> = row[17].split("; ").collect();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("no legal basis"));
    }

    #[test]
    fn csv_of_an_empty_register_is_just_the_header() {
        let register = register_of(&CatalogDocument::default());
        let text = register_to_csv(&register).expect("csv");
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("key,name,description,purposes,"));
        assert!(text
            .trim_end()
            .ends_with(",systems,warnings,controller,dpo,record"));
    }
}
