//! The catalog's domain types and their validation: the categories of personal data, the systems
//! that hold them and the processing activities that use them, which together make up the Art. 30
//! record of processing.
//!
//! The REST API (JSON) and catalog files (YAML, `loket catalog import/export`) read and write these
//! same serde types, so a file and an API body are interchangeable. Closed vocabularies are enums,
//! which lets serde itself refuse an unknown value with a message naming the allowed ones.
//!
//! Validation has two layers. [`Validate`] checks one object on its own (formats, lengths,
//! duplicates inside it); [`check_system_references`] and [`check_activity_references`] check
//! what it points to against whatever the caller knows to exist (the database, or a document).
//! A [`CatalogDocument`] does both against its own contents and the built-in taxonomy. Every rule
//! runs, so a person fixing a file sees all problems at once instead of one per attempt.

use super::text::Text;
use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

/// The most characters of a key or code.
pub const MAX_KEY_LEN: usize = 63;
/// The most characters of a name, owner, location or e-mail address.
pub const MAX_NAME_LEN: usize = 200;
/// The most characters of a description, detail or one entry of a list.
pub const MAX_TEXT_LEN: usize = 2000;
/// The most entries of any list inside one object.
pub const MAX_LIST_LEN: usize = 100;

/// Codes of the built-in taxonomy, seeded by the database migration. They are fixed: other
/// organisations' catalogs and loket's own rules refer to them.
pub const BUILTIN_CATEGORY_CODES: &[&str] = &[
    "contact",
    "identity",
    "financial",
    "communication_content",
    "usage",
    "location",
    "special_racial_ethnic_origin",
    "special_political_opinions",
    "special_religious_beliefs",
    "special_trade_union",
    "special_genetic",
    "special_biometric",
    "special_health",
    "special_sex_life",
    "criminal",
    "bsn",
];

/// The EEA: the 27 EU member states plus Iceland, Liechtenstein and Norway. Data may flow freely
/// within it; a transfer outside it needs a safeguard (Art. 44-49).
pub const EEA_COUNTRIES: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO",
];

// --- categories ---------------------------------------------------------------------------------

/// How strictly a category of data must be handled.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Normal,
    /// Art. 9(1): processing needs an Art. 9(2) ground as well as an Art. 6 basis.
    Special,
    /// Art. 10: criminal convictions and offences.
    Criminal,
    /// A number prescribed by law to identify a person, such as the BSN (UAVG art. 46).
    NationalId,
}

impl Sensitivity {
    /// The name as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Normal => "normal",
            Sensitivity::Special => "special",
            Sensitivity::Criminal => "criminal",
            Sensitivity::NationalId => "national_id",
        }
    }
}

/// A category of personal data (`contact`, `financial`, or an organisation's own).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub code: String,
    pub name_nl: String,
    pub name_en: String,
    #[serde(default)]
    pub description: Option<String>,
    pub sensitivity: Sensitivity,
}

/// The built-in taxonomy as the database migration seeds it, for building a register or checking
/// a document without a database.
pub fn builtin_categories() -> Vec<Category> {
    use Sensitivity::{Criminal, NationalId, Normal, Special};
    const ART_9: &str = "Art. 9(1) GDPR.";
    let seed: [(&str, &str, &str, &str, Sensitivity); 16] = [
        (
            "contact",
            "Contactgegevens",
            "Contact details",
            "Name, address, e-mail address, phone number.",
            Normal,
        ),
        (
            "identity",
            "Identificatiegegevens",
            "Identity data",
            "Date of birth, customer or account numbers, login names.",
            Normal,
        ),
        (
            "financial",
            "Financiële gegevens",
            "Financial data",
            "Bank account, payments, invoices, credit checks.",
            Normal,
        ),
        (
            "communication_content",
            "Inhoud van communicatie",
            "Communication content",
            "Content of e-mails, chats, letters, call recordings.",
            Normal,
        ),
        (
            "usage",
            "Gebruiks- en gedragsgegevens",
            "Usage and behaviour",
            "Logs, clicks, usage records, preferences derived from behaviour.",
            Normal,
        ),
        (
            "location",
            "Locatiegegevens",
            "Location data",
            "Location from devices, cell towers or IP addresses.",
            Normal,
        ),
        (
            "special_racial_ethnic_origin",
            "Ras of etnische afkomst",
            "Racial or ethnic origin",
            ART_9,
            Special,
        ),
        (
            "special_political_opinions",
            "Politieke opvattingen",
            "Political opinions",
            ART_9,
            Special,
        ),
        (
            "special_religious_beliefs",
            "Religieuze of levensbeschouwelijke overtuigingen",
            "Religious or philosophical beliefs",
            ART_9,
            Special,
        ),
        (
            "special_trade_union",
            "Lidmaatschap van een vakbond",
            "Trade union membership",
            ART_9,
            Special,
        ),
        (
            "special_genetic",
            "Genetische gegevens",
            "Genetic data",
            ART_9,
            Special,
        ),
        (
            "special_biometric",
            "Biometrische gegevens (identificatie)",
            "Biometric data for identification",
            ART_9,
            Special,
        ),
        (
            "special_health",
            "Gezondheidsgegevens",
            "Health data",
            ART_9,
            Special,
        ),
        (
            "special_sex_life",
            "Seksueel gedrag of seksuele gerichtheid",
            "Sex life or sexual orientation",
            ART_9,
            Special,
        ),
        (
            "criminal",
            "Strafrechtelijke gegevens",
            "Criminal convictions and offences",
            "Art. 10 GDPR.",
            Criminal,
        ),
        (
            "bsn",
            "Burgerservicenummer (BSN)",
            "Citizen service number (BSN)",
            "Only where a law prescribes it (UAVG art. 46).",
            NationalId,
        ),
    ];
    seed.into_iter()
        .map(
            |(code, name_nl, name_en, description, sensitivity)| Category {
                code: code.into(),
                name_nl: name_nl.into(),
                name_en: name_en.into(),
                description: Some(description.into()),
                sensitivity,
            },
        )
        .collect()
}

/// Whether `code` belongs to the built-in taxonomy.
pub fn is_builtin_category(code: &str) -> bool {
    BUILTIN_CATEGORY_CODES.contains(&code)
}

// --- systems ------------------------------------------------------------------------------------

/// How a person is found in a system.
#[derive(
    utoipa::ToSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Email,
    CustomerNumber,
    Phone,
    Name,
    AccountId,
    Address,
    IpAddress,
    DeviceId,
    EmployeeNumber,
    /// The citizen service number, only for a controller whose catalog names the law that
    /// allows it (UAVG art. 46).
    Bsn,
}

impl IdentifierKind {
    /// The form identifiers are compared in, so that one person written two ways is found once:
    /// e-mail addresses trimmed and in lower case, customer numbers without spaces in capitals,
    /// phone numbers as digits with the Dutch country code as a leading 0 (`+31 6 …`, `0031 6 …`
    /// and `06 …` are one number); a BSN as its digits; other kinds trimmed.
    pub fn normalise(self, value: &str) -> String {
        match self {
            IdentifierKind::Email => value.trim().to_lowercase(),
            IdentifierKind::CustomerNumber => value
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_uppercase(),
            IdentifierKind::Bsn => value.chars().filter(|c| c.is_ascii_digit()).collect(),
            IdentifierKind::Phone => {
                let digits: String = value.chars().filter(|c| c.is_ascii_digit()).collect();
                let international = value.trim_start().starts_with('+');
                if let Some(national) = digits.strip_prefix("31").filter(|_| international) {
                    format!("0{national}")
                } else if let Some(national) = digits.strip_prefix("0031") {
                    format!("0{national}")
                } else {
                    digits
                }
            }
            _ => value.trim().to_string(),
        }
    }

    /// The name policy files, the catalog and the API use (`customer_number`).
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Email => "email",
            IdentifierKind::CustomerNumber => "customer_number",
            IdentifierKind::Phone => "phone",
            IdentifierKind::Name => "name",
            IdentifierKind::AccountId => "account_id",
            IdentifierKind::Address => "address",
            IdentifierKind::IpAddress => "ip_address",
            IdentifierKind::DeviceId => "device_id",
            IdentifierKind::EmployeeNumber => "employee_number",
            IdentifierKind::Bsn => "bsn",
        }
    }
}

/// Where data came from; portability (Art. 20) covers provided and observed data, not inferred.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Given by the person (a form, a call).
    Provided,
    /// Recorded from the person's use of a service (usage logs, call detail records).
    Observed,
    /// Derived by the organisation (profiles, scores, segments).
    Inferred,
}

/// Whether loket can search a system itself or someone has to look by hand.
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    #[default]
    Manual,
    Sql,
    /// A service reached over HTTP, described by the system's `http:` definition.
    Http,
}

/// One category of data a system holds, and where.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holding {
    pub category: String,
    /// `table.field`, or a document type such as "signed contract (PDF)".
    pub location: String,
    pub origin: Origin,
}

/// An application or store holding personal data.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    pub key: String,
    /// Its name, in Dutch and English: letters and pages in either language name the system
    /// (a plain string is Dutch).
    pub name: Text,
    #[serde(default)]
    pub description: Option<Text>,
    pub owner: String,
    /// Where the owner of a system loket cannot reach is written to: a checklist task on the
    /// system can be sent there as a link to a form (issue #22). A team's address, not a person's
    /// private one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    #[serde(default)]
    pub hosting: Option<String>,
    #[serde(default)]
    pub processor: Option<String>,
    #[serde(default)]
    pub identifier_kinds: Vec<IdentifierKind>,
    #[serde(default)]
    pub connector: ConnectorKind,
    #[serde(default)]
    pub holdings: Vec<Holding>,
    /// Where a `connector: sql` system keeps a person's rows. The connection URL is not part of
    /// it: that is a secret from the configuration (`connectors.<key>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlMapping>,
    /// The country the system is hosted in (ISO 3166-1 alpha-2, `NL`): a host outside the EEA
    /// is a transfer, which an activity linked to the system must record with its safeguard
    /// (Art. 30(1)(e), 44-46). `hosting` says the same in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosting_country: Option<String>,
    /// How a `connector: http` system is reached. Secrets are named, never written, here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub http: Option<super::http::HttpDefinition>,
}

/// The tables of an SQL system that hold personal data, and how they find a person.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlMapping {
    pub tables: Vec<SqlTable>,
}

/// One table of an [`SqlMapping`]. A table finds a person by its own identifier columns, through
/// its parent (an invoice through its customer), or both.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlTable {
    pub name: String,
    /// The primary key column; rows are paged and addressed by it.
    pub key: String,
    /// The column holding each kind of identifier.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub identifiers: BTreeMap<IdentifierKind, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<SqlParent>,
    /// The columns with personal data: exported, corrected, anonymised.
    #[serde(default)]
    pub columns: Vec<String>,
    /// A boolean column set when processing is restricted (Art. 18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted_column: Option<String>,
    /// What the table holds, for people (the package summary, letters): "Bestellingen".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Text>,
    /// Column -> what it holds, for people: `email: {nl: E-mailadres, en: E-mail address}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, Text>,
    /// How the system writes each identifier column, where it always writes it one way: loket
    /// then writes the person's identifier the same way and compares with plain equality, which
    /// an ordinary index serves. Without it loket matches forgivingly (case, spaces, phone
    /// formats), with functions on the column that only an expression index serves.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stored: BTreeMap<IdentifierKind, StoredForm>,
    /// How an erasure request erases the person here when deleting the row would break keys that
    /// kept rows hold (a customer row that kept invoices refer to): these columns are anonymised
    /// with the retention strategies (`null`, `{fixed: …}`, `keyed_hash`) and the row stays.
    /// Empty: the rows are deleted. Every identifier column must be among them, or the person
    /// would still be found.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, Object>)]
    pub anonymise_on_erasure: BTreeMap<String, super::anonymise::AnonymiseStrategy>,
}

/// How a system writes an identifier in its column.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredForm {
    /// Exactly as the person gives it, trimmed (an account number `A-1`).
    AsGiven,
    /// In lower case (an e-mail address).
    LowerCase,
    /// In capitals without spaces (a customer number `TN-448812`).
    UpperNoSpaces,
    /// A phone number in E.164: `+31612345678`.
    E164,
    /// A Dutch phone number in national digits: `0612345678`.
    National,
}

impl StoredForm {
    /// Which identifier kinds the form can describe.
    fn suits(self, kind: IdentifierKind) -> bool {
        match self {
            StoredForm::AsGiven => true,
            StoredForm::LowerCase => kind == IdentifierKind::Email,
            StoredForm::UpperNoSpaces => matches!(
                kind,
                IdentifierKind::CustomerNumber | IdentifierKind::AccountId
            ),
            StoredForm::E164 | StoredForm::National => kind == IdentifierKind::Phone,
        }
    }

    /// `value`, given by a person, as the system would have written it.
    pub fn write(self, kind: IdentifierKind, value: &str) -> String {
        match self {
            StoredForm::AsGiven => value.trim().to_string(),
            StoredForm::LowerCase => value.trim().to_lowercase(),
            StoredForm::UpperNoSpaces => IdentifierKind::CustomerNumber.normalise(value),
            StoredForm::National => kind.normalise(value),
            StoredForm::E164 => {
                let national = IdentifierKind::Phone.normalise(value);
                match national.strip_prefix('0') {
                    Some(rest) if !rest.starts_with('0') => format!("+31{rest}"),
                    _ => format!("+{}", national.trim_start_matches('0')),
                }
            }
        }
    }
}

/// The foreign key from a child table to its parent's key.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlParent {
    pub table: String,
    pub column: String,
}

impl SqlTable {
    /// The columns an export gives of each row: the key, the identifier columns and the
    /// personal-data columns, each once, in that order.
    pub fn exported_columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = vec![self.key.as_str()];
        columns.extend(self.identifiers.values().map(String::as_str));
        columns.extend(self.columns.iter().map(String::as_str));
        let mut seen = std::collections::HashSet::new();
        columns.retain(|column| seen.insert(*column));
        columns
    }
}

impl SqlTable {
    /// The columns an erasure anonymises are personal-data columns of the table, and cover every
    /// identifier column: a row that still matches the person is not erased.
    fn check_anonymise_on_erasure(&self, errors: &mut Errors) {
        if self.anonymise_on_erasure.is_empty() {
            return;
        }
        for column in self.anonymise_on_erasure.keys() {
            let field = format!("anonymise_on_erasure.{column}");
            if !self.columns.contains(column) {
                errors.add(
                    field,
                    format!("'{column}' is not one of the table's personal-data columns"),
                );
            }
        }
        for column in self.identifiers.values() {
            if !self.anonymise_on_erasure.contains_key(column) {
                errors.add(
                    "anonymise_on_erasure",
                    format!(
                        "identifier column '{column}' must be anonymised too, or the person is still found"
                    ),
                );
            }
        }
    }
}

impl SqlMapping {
    pub fn table(&self, name: &str) -> Option<&SqlTable> {
        self.tables.iter().find(|t| t.name == name)
    }
}

impl SqlTable {
    /// Every column the mapping names in this table, each once, key first.
    pub fn named_columns(&self) -> Vec<&str> {
        let mut names: Vec<&str> = vec![self.key.as_str()];
        names.extend(self.identifiers.values().map(String::as_str));
        names.extend(self.parent.iter().map(|p| p.column.as_str()));
        names.extend(self.columns.iter().map(String::as_str));
        names.extend(self.restricted_column.as_deref());
        let mut seen = HashSet::new();
        names.retain(|name| seen.insert(*name));
        names
    }
}

// --- activities ---------------------------------------------------------------------------------

/// The lawful basis of a processing activity, Art. 6(1)(a)-(f).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    Consent,
    Contract,
    LegalObligation,
    VitalInterests,
    PublicTask,
    LegitimateInterests,
}

impl LegalBasis {
    pub fn article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "Art. 6(1)(a)",
            LegalBasis::Contract => "Art. 6(1)(b)",
            LegalBasis::LegalObligation => "Art. 6(1)(c)",
            LegalBasis::VitalInterests => "Art. 6(1)(d)",
            LegalBasis::PublicTask => "Art. 6(1)(e)",
            LegalBasis::LegitimateInterests => "Art. 6(1)(f)",
        }
    }

    /// The name as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "contract",
            LegalBasis::LegalObligation => "legal_obligation",
            LegalBasis::VitalInterests => "vital_interests",
            LegalBasis::PublicTask => "public_task",
            LegalBasis::LegitimateInterests => "legitimate_interests",
        }
    }
}

/// The exception to the Art. 9(1) ban that allows processing special category data, Art. 9(2)(a)-(j).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialCategoryGround {
    ExplicitConsent,
    EmploymentSocialSecurity,
    VitalInterests,
    NotForProfitBody,
    MadePublic,
    LegalClaims,
    SubstantialPublicInterest,
    HealthCare,
    PublicHealth,
    ArchivingResearch,
}

impl SpecialCategoryGround {
    pub fn article(self) -> &'static str {
        match self {
            SpecialCategoryGround::ExplicitConsent => "Art. 9(2)(a)",
            SpecialCategoryGround::EmploymentSocialSecurity => "Art. 9(2)(b)",
            SpecialCategoryGround::VitalInterests => "Art. 9(2)(c)",
            SpecialCategoryGround::NotForProfitBody => "Art. 9(2)(d)",
            SpecialCategoryGround::MadePublic => "Art. 9(2)(e)",
            SpecialCategoryGround::LegalClaims => "Art. 9(2)(f)",
            SpecialCategoryGround::SubstantialPublicInterest => "Art. 9(2)(g)",
            SpecialCategoryGround::HealthCare => "Art. 9(2)(h)",
            SpecialCategoryGround::PublicHealth => "Art. 9(2)(i)",
            SpecialCategoryGround::ArchivingResearch => "Art. 9(2)(j)",
        }
    }

    /// The name as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialCategoryGround::ExplicitConsent => "explicit_consent",
            SpecialCategoryGround::EmploymentSocialSecurity => "employment_social_security",
            SpecialCategoryGround::VitalInterests => "vital_interests",
            SpecialCategoryGround::NotForProfitBody => "not_for_profit_body",
            SpecialCategoryGround::MadePublic => "made_public",
            SpecialCategoryGround::LegalClaims => "legal_claims",
            SpecialCategoryGround::SubstantialPublicInterest => "substantial_public_interest",
            SpecialCategoryGround::HealthCare => "health_care",
            SpecialCategoryGround::PublicHealth => "public_health",
            SpecialCategoryGround::ArchivingResearch => "archiving_research",
        }
    }
}

/// The role of whoever receives the data; Art. 30 lists processors and other recipients alike,
/// but an erasure or rectification is passed on to them differently (Art. 19, Art. 28).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    Processor,
    Controller,
    PublicAuthority,
}

impl RecipientKind {
    /// The name as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientKind::Processor => "processor",
            RecipientKind::Controller => "controller",
            RecipientKind::PublicAuthority => "public_authority",
        }
    }
}

/// What makes a transfer outside the EEA lawful (Art. 45, 46(2)(c), 47, 49).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferSafeguard {
    AdequacyDecision,
    StandardContractualClauses,
    BindingCorporateRules,
    Derogation,
}

impl TransferSafeguard {
    /// The name as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferSafeguard::AdequacyDecision => "adequacy_decision",
            TransferSafeguard::StandardContractualClauses => "standard_contractual_clauses",
            TransferSafeguard::BindingCorporateRules => "binding_corporate_rules",
            TransferSafeguard::Derogation => "derogation",
        }
    }
}

/// Someone the data of an activity is disclosed to.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub name: String,
    pub kind: RecipientKind,
    /// ISO 3166-1 alpha-2, upper case (`NL`, `US`).
    pub country: String,
    #[serde(default)]
    pub safeguard: Option<TransferSafeguard>,
    /// What the recipient does with the data, for the person ("delivers your orders").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
}

impl Recipient {
    /// Whether disclosing to this recipient is a transfer outside the EEA.
    pub fn outside_eea(&self) -> bool {
        !is_eea_country(&self.country)
    }
}

/// Whether `country` (ISO 3166-1 alpha-2, upper case) is in the EEA.
pub fn is_eea_country(country: &str) -> bool {
    EEA_COUNTRIES.contains(&country)
}

/// A category of data an activity uses, with how long it is kept for that purpose.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityCategory {
    pub category: String,
    /// A period or the criteria that set it, e.g. "7 jaar (AWR art. 52)".
    #[serde(default)]
    pub retention: Option<Text>,
}

/// A processing activity: one purpose-bound use of personal data.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    pub key: String,
    /// Its name, in Dutch and English where letters go out in both (a plain string is Dutch).
    pub name: Text,
    #[serde(default)]
    pub description: Option<Text>,
    #[serde(default)]
    pub purposes: Vec<Text>,
    #[serde(default)]
    pub legal_basis: Option<LegalBasis>,
    #[serde(default)]
    pub legal_basis_detail: Option<String>,
    #[serde(default)]
    pub special_category_ground: Option<SpecialCategoryGround>,
    /// What allows processing criminal data here (Art. 10; UAVG art. 31-33).
    #[serde(default)]
    pub criminal_data_basis: Option<String>,
    /// The law that prescribes the BSN for this activity (UAVG art. 46), e.g. "Wabb art. 10".
    /// Without it the activity may not use the BSN, whatever its legal basis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bsn_law: Option<String>,
    #[serde(default)]
    pub data_subjects: Vec<String>,
    #[serde(default)]
    pub categories: Vec<ActivityCategory>,
    #[serde(default)]
    pub recipients: Vec<Recipient>,
    #[serde(default)]
    pub security_measures: Vec<Text>,
    /// Where the data comes from when not from the person (Art. 15(1)(g)).
    #[serde(default)]
    pub source: Option<Text>,
    /// The logic of automated decisions, if any (Art. 15(1)(h)).
    #[serde(default)]
    pub automated_decision_logic: Option<Text>,
    /// Keys of the systems the activity's data lives in.
    #[serde(default)]
    pub systems: Vec<String>,
}

// --- organisation and document ------------------------------------------------------------------

/// What kind of controller the organisation is. It decides the judicial remedy against a refusal:
/// a public body's decision is a *besluit* open to *bezwaar* under the Awb (UAVG art. 34); against
/// a private controller the person petitions the district court (UAVG art. 35).
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationKind {
    #[default]
    Private,
    PublicBody,
}

/// The controller and its data protection officer (Art. 30(1)(a)).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    #[serde(default)]
    pub kind: OrganisationKind,
    pub name: String,
    /// For a public body: the organ that takes the besluit and receives the bezwaar, as it signs,
    /// e.g. "het college van burgemeester en wethouders van Utrecht".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_body: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    pub contact_email: String,
    #[serde(default)]
    pub dpo_name: Option<String>,
    #[serde(default)]
    pub dpo_email: Option<String>,
    /// Controllers that decide on purposes and means together with this one (Art. 26).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joint_controllers: Vec<String>,
    /// The representative in the Union of a controller established outside it (Art. 27).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eu_representative: Option<String>,
}

/// The whole catalog as a document (YAML file or export). `categories` holds only the
/// organisation's own categories; the built-in ones are always there.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogDocument {
    #[serde(default)]
    pub organisation: Option<Organisation>,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub systems: Vec<System>,
    #[serde(default)]
    pub activities: Vec<Activity>,
    /// What the organisation processes as a processor, for other controllers (Art. 30(2)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processing_for_others: Vec<ProcessingForOthers>,
}

// --- validation ---------------------------------------------------------------------------------

/// Checks an object on its own; field paths in the errors are relative to the object.
pub trait Validate {
    fn validate(&self) -> Result<(), Vec<FieldError>>;
}

/// Whether `key` matches `^[a-z][a-z0-9_]{0,62}$`: safe in URLs, file names and SQL identifiers
/// alike, and stable enough to be referred to from other objects.
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some('a'..='z'))
        && key.len() <= MAX_KEY_LEN
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Deliberately loose: the address is only ever shown or written to, never parsed, so this
/// catches slips (a name in the wrong field) without refusing unusual but valid addresses.
fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_country_code(value: &str) -> bool {
    value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase())
}

/// Whether `name` matches `^[A-Za-z_][A-Za-z0-9_]{0,62}$`, so it can be put into SQL as a table
/// or column name. Anything else (quotes, spaces, `;`) is refused rather than escaped.
pub fn is_sql_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('A'..='Z' | 'a'..='z' | '_'))
        && name.len() <= MAX_KEY_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const SQL_IDENTIFIER_RULE: &str = "must be an SQL name: a letter or _, then letters, digits or _ \
     (at most 63 characters)";

const KEY_RULE: &str =
    "must start with a lower-case letter and contain only a-z, 0-9 and _ (at most 63 characters)";

/// Collects every error of one object.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    fn key(&mut self, field: &str, value: &str) {
        if !is_valid_key(value) {
            self.add(field, KEY_RULE);
        }
    }

    fn sql_identifier(&mut self, field: &str, value: &str) {
        if !is_sql_identifier(value) {
            self.add(field, SQL_IDENTIFIER_RULE);
        }
    }

    fn max_len(&mut self, field: &str, value: &str, max: usize) {
        let length = value.chars().count();
        if length > max {
            self.add(
                field,
                format!("must be at most {max} characters (got {length})"),
            );
        }
    }

    fn required(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "must not be empty");
        } else {
            self.max_len(field, value, max);
        }
    }

    /// A present but blank optional value is refused rather than taken as absent, so that the
    /// register never shows an empty retention period or source as if it were filled in.
    fn optional(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            if value.trim().is_empty() {
                self.add(field, "must not be blank; leave the field out instead");
            } else {
                self.max_len(field, value, max);
            }
        }
    }

    fn email(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.add(field, "must not be empty");
        } else if !is_email(value) {
            self.add(field, "must be an e-mail address");
        } else {
            self.max_len(field, value, MAX_NAME_LEN);
        }
    }

    fn country(&mut self, field: &str, country: &str) {
        if !is_country_code(country) {
            self.add(
                field,
                format!(
                    "must be an ISO 3166-1 alpha-2 country code in upper case, such as NL (got '{country}')"
                ),
            );
        }
    }

    fn list_len(&mut self, field: &str, length: usize) {
        if length > MAX_LIST_LEN {
            self.add(
                field,
                format!("must have at most {MAX_LIST_LEN} entries (got {length})"),
            );
        }
    }

    /// A list of free-text entries: each filled in, none too long, none repeated.
    fn texts(&mut self, field: &str, items: &[String]) {
        self.list_len(field, items.len());
        for (index, item) in items.iter().enumerate() {
            self.required(&format!("{field}[{index}]"), item, MAX_TEXT_LEN);
        }
        self.duplicates(field, items.iter().map(|item| item.trim()), |item| {
            format!("duplicate entry '{item}'")
        });
    }

    /// A text per language (or plain): each version given is filled in and not too long, and a
    /// `{}` without any language is refused.
    fn text(&mut self, field: &str, text: &Text, max: usize) {
        let parts = text.parts(field);
        if parts.is_empty() {
            self.add(field, "must give the text in nl, en or both");
        }
        for (field, value) in parts {
            self.required(&field, value, max);
        }
    }

    /// An optional text: as [`Errors::optional`] for each version given.
    fn optional_text(&mut self, field: &str, text: Option<&Text>, max: usize) {
        let Some(text) = text else { return };
        let parts = text.parts(field);
        if parts.is_empty() {
            self.add(field, "must give the text in nl, en or both");
        }
        for (field, value) in parts {
            self.optional(&field, Some(value), max);
        }
    }

    /// [`Errors::texts`] for texts per language; a repeat is the same text in every language.
    fn translated_texts(&mut self, field: &str, items: &[Text]) {
        self.list_len(field, items.len());
        for (index, item) in items.iter().enumerate() {
            self.text(&format!("{field}[{index}]"), item, MAX_TEXT_LEN);
        }
        self.duplicates(field, items.iter(), |item| {
            format!("duplicate entry '{}'", item.default_text().trim())
        });
    }

    /// Reports each repeat at its own index, pointing back at the first occurrence.
    fn duplicates<T: Eq + Hash>(
        &mut self,
        field: &str,
        items: impl IntoIterator<Item = T>,
        describe: impl Fn(&T) -> String,
    ) {
        let mut first: HashMap<T, usize> = HashMap::new();
        for (index, item) in items.into_iter().enumerate() {
            if let Some(earlier) = first.get(&item) {
                let message = format!("{} (already at {field}[{earlier}])", describe(&item));
                self.add(format!("{field}[{index}]"), message);
            } else {
                first.insert(item, index);
            }
        }
    }

    /// Takes over the errors of a nested object, with their paths under `prefix`.
    fn nested(&mut self, prefix: &str, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors.into_iter().map(|e| FieldError {
            field: format!("{prefix}.{}", e.field),
            message: e.message,
        }));
    }

    fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

impl Validate for Category {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.key("code", &self.code);
        errors.required("name_nl", &self.name_nl, MAX_NAME_LEN);
        errors.required("name_en", &self.name_en, MAX_NAME_LEN);
        errors.optional("description", self.description.as_deref(), MAX_TEXT_LEN);
        errors.into_result()
    }
}

impl Validate for System {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.key("key", &self.key);
        errors.text("name", &self.name, MAX_NAME_LEN);
        errors.optional_text("description", self.description.as_ref(), MAX_TEXT_LEN);
        errors.required("owner", &self.owner, MAX_NAME_LEN);
        if let Some(email) = &self.owner_email {
            errors.email("owner_email", email);
        }
        errors.optional("hosting", self.hosting.as_deref(), MAX_NAME_LEN);
        errors.optional("processor", self.processor.as_deref(), MAX_NAME_LEN);

        // Without a way to find a person in it, the system cannot answer a request.
        if self.identifier_kinds.is_empty() {
            errors.add(
                "identifier_kinds",
                "at least one identifier kind is required (how a person is found in this system)",
            );
        }
        errors.list_len("identifier_kinds", self.identifier_kinds.len());
        errors.duplicates("identifier_kinds", self.identifier_kinds.iter(), |kind| {
            format!("duplicate identifier kind '{}'", enum_name(*kind))
        });

        errors.list_len("holdings", self.holdings.len());
        for (index, holding) in self.holdings.iter().enumerate() {
            errors.required(
                &format!("holdings[{index}].category"),
                &holding.category,
                MAX_KEY_LEN,
            );
            errors.required(
                &format!("holdings[{index}].location"),
                &holding.location,
                MAX_NAME_LEN,
            );
        }
        errors.duplicates(
            "holdings",
            self.holdings
                .iter()
                .map(|h| (h.category.as_str(), h.location.trim())),
            |(category, location)| format!("duplicate holding of '{category}' at '{location}'"),
        );
        if let Some(mapping) = &self.sql {
            self.check_sql_mapping(mapping, &mut errors);
        }
        if let Some(country) = &self.hosting_country {
            errors.country("hosting_country", country);
        }
        self.check_http_definition(&mut errors);
        errors.into_result()
    }
}

impl System {
    /// A `connector: http` system has a definition, and only such a system has one.
    fn check_http_definition(&self, errors: &mut Errors) {
        match (&self.http, self.connector) {
            (None, ConnectorKind::Http) => errors.add(
                "http",
                "a system with `connector: http` needs an `http:` definition",
            ),
            (Some(_), kind) if kind != ConnectorKind::Http => errors.add(
                "http",
                "only a system with `connector: http` has an HTTP definition",
            ),
            (Some(definition), _) => {
                if let Err(nested) = definition.validate(&self.identifier_kinds) {
                    errors.nested("http", nested);
                }
            }
            (None, _) => {}
        }
    }

    /// The mapping on its own, and that it fits this system.
    fn check_sql_mapping(&self, mapping: &SqlMapping, errors: &mut Errors) {
        if self.connector != ConnectorKind::Sql {
            errors.add(
                "sql",
                "only a system with `connector: sql` has an SQL mapping",
            );
        }
        if let Err(nested) = mapping.validate() {
            errors.nested("sql", nested);
        }
        for (index, table) in mapping.tables.iter().enumerate() {
            for kind in table.identifiers.keys() {
                if !self.identifier_kinds.contains(kind) {
                    errors.add(
                        format!("sql.tables[{index}].identifiers.{}", enum_name(*kind)),
                        "is not one of the system's identifier_kinds",
                    );
                }
            }
        }
    }
}

impl Validate for SqlMapping {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        if self.tables.is_empty() {
            errors.add("tables", "at least one table is required");
        }
        errors.list_len("tables", self.tables.len());
        for (index, table) in self.tables.iter().enumerate() {
            if let Err(nested) = table.validate() {
                errors.nested(&format!("tables[{index}]"), nested);
            }
            if let Some(parent) = &table.parent {
                self.check_parent(index, parent, &mut errors);
            }
        }
        errors.duplicates(
            "tables",
            self.tables.iter().map(|t| t.name.as_str()),
            |name| format!("duplicate table '{name}'"),
        );
        errors.into_result()
    }
}

impl SqlMapping {
    /// The parent must be another mapped table, and following parents must end (no cycle), or
    /// no order of deleting children first exists.
    fn check_parent(&self, index: usize, parent: &SqlParent, errors: &mut Errors) {
        let field = format!("tables[{index}].parent.table");
        if self.table(&parent.table).is_none() {
            errors.add(
                field,
                format!("'{}' is not a table of this mapping", parent.table),
            );
            return;
        }
        let mut current = parent.table.as_str();
        for _ in 0..=self.tables.len() {
            if current == self.tables[index].name {
                errors.add(field, "parents form a cycle back to this table");
                return;
            }
            match self.table(current).and_then(|t| t.parent.as_ref()) {
                Some(next) => current = &next.table,
                None => return,
            }
        }
    }
}

impl Validate for SqlTable {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.sql_identifier("name", &self.name);
        errors.sql_identifier("key", &self.key);
        for (kind, column) in &self.identifiers {
            errors.sql_identifier(&format!("identifiers.{}", enum_name(*kind)), column);
        }
        if let Some(parent) = &self.parent {
            errors.sql_identifier("parent.table", &parent.table);
            errors.sql_identifier("parent.column", &parent.column);
        }
        if self.identifiers.is_empty() && self.parent.is_none() {
            errors.add(
                "identifiers",
                "a table needs identifier columns or a parent to find a person's rows",
            );
        }
        errors.list_len("columns", self.columns.len());
        for (index, column) in self.columns.iter().enumerate() {
            errors.sql_identifier(&format!("columns[{index}]"), column);
        }
        errors.duplicates("columns", self.columns.iter(), |column| {
            format!("duplicate column '{column}'")
        });
        if let Some(column) = &self.restricted_column {
            errors.sql_identifier("restricted_column", column);
        }
        for (kind, form) in &self.stored {
            let field = format!("stored.{}", enum_name(*kind));
            if !self.identifiers.contains_key(kind) {
                errors.add(&field, "the table has no identifier column of this kind");
            } else if !form.suits(*kind) {
                errors.add(
                    &field,
                    format!(
                        "'{}' does not describe a {}",
                        enum_name(*form),
                        enum_name(*kind)
                    ),
                );
            }
        }
        self.check_anonymise_on_erasure(&mut errors);
        errors.into_result()
    }
}

impl Validate for Activity {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.key("key", &self.key);
        errors.text("name", &self.name, MAX_NAME_LEN);
        errors.optional_text("description", self.description.as_ref(), MAX_TEXT_LEN);

        // Purpose limitation (Art. 5(1)(b)): processing without a stated purpose is not allowed
        // at all, unlike a missing legal basis, which the register reports as a gap to fill.
        if self.purposes.is_empty() {
            errors.add("purposes", "at least one purpose is required");
        }
        errors.translated_texts("purposes", &self.purposes);
        errors.optional(
            "legal_basis_detail",
            self.legal_basis_detail.as_deref(),
            MAX_TEXT_LEN,
        );
        errors.optional(
            "criminal_data_basis",
            self.criminal_data_basis.as_deref(),
            MAX_TEXT_LEN,
        );
        errors.optional("bsn_law", self.bsn_law.as_deref(), MAX_TEXT_LEN);
        errors.texts("data_subjects", &self.data_subjects);

        errors.list_len("categories", self.categories.len());
        for (index, category) in self.categories.iter().enumerate() {
            errors.required(
                &format!("categories[{index}].category"),
                &category.category,
                MAX_KEY_LEN,
            );
            errors.optional_text(
                &format!("categories[{index}].retention"),
                category.retention.as_ref(),
                MAX_TEXT_LEN,
            );
        }
        errors.duplicates(
            "categories",
            self.categories.iter().map(|c| c.category.as_str()),
            |code| format!("duplicate category '{code}'"),
        );

        errors.list_len("recipients", self.recipients.len());
        for (index, recipient) in self.recipients.iter().enumerate() {
            let field = format!("recipients[{index}]");
            errors.required(&format!("{field}.name"), &recipient.name, MAX_NAME_LEN);
            errors.optional_text(
                &format!("{field}.description"),
                recipient.description.as_ref(),
                MAX_TEXT_LEN,
            );
            if !is_country_code(&recipient.country) {
                errors.add(
                    format!("{field}.country"),
                    format!(
                        "must be an ISO 3166-1 alpha-2 country code in upper case, such as NL (got '{}')",
                        recipient.country
                    ),
                );
            } else if recipient.safeguard.is_some() && !recipient.outside_eea() {
                // Within the EEA there is no transfer, so a safeguard would misstate the record.
                errors.add(
                    format!("{field}.safeguard"),
                    format!(
                        "a transfer safeguard applies only outside the EEA, and '{}' is in the EEA",
                        recipient.country
                    ),
                );
            }
        }
        errors.duplicates(
            "recipients",
            self.recipients
                .iter()
                .map(|r| (r.name.trim(), r.country.as_str())),
            |(name, country)| format!("duplicate recipient '{name}' ({country})"),
        );

        errors.translated_texts("security_measures", &self.security_measures);
        errors.optional_text("source", self.source.as_ref(), MAX_TEXT_LEN);
        errors.optional_text(
            "automated_decision_logic",
            self.automated_decision_logic.as_ref(),
            MAX_TEXT_LEN,
        );

        errors.list_len("systems", self.systems.len());
        errors.duplicates("systems", self.systems.iter(), |key| {
            format!("duplicate system '{key}'")
        });
        errors.into_result()
    }
}

impl Validate for Organisation {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.required("name", &self.name, MAX_NAME_LEN);
        errors.optional("address", self.address.as_deref(), MAX_TEXT_LEN);
        errors.email("contact_email", &self.contact_email);
        errors.optional("dpo_name", self.dpo_name.as_deref(), MAX_NAME_LEN);
        if let Some(email) = &self.dpo_email {
            errors.email("dpo_email", email);
        }
        match (self.kind, self.decision_body.as_deref()) {
            (OrganisationKind::PublicBody, body) => {
                errors.required("decision_body", body.unwrap_or_default(), MAX_NAME_LEN)
            }
            (OrganisationKind::Private, Some(_)) => errors.add(
                "decision_body",
                "only a public body takes besluiten; remove it or set kind: public_body",
            ),
            (OrganisationKind::Private, None) => {}
        }
        errors.optional(
            "eu_representative",
            self.eu_representative.as_deref(),
            MAX_NAME_LEN,
        );
        for (index, name) in self.joint_controllers.iter().enumerate() {
            errors.required(&format!("joint_controllers[{index}]"), name, MAX_NAME_LEN);
        }
        errors.into_result()
    }
}

/// Names the holdings of `system` whose category `known_categories` does not know.
pub fn check_system_references(
    system: &System,
    known_categories: &dyn Fn(&str) -> bool,
) -> Vec<FieldError> {
    system
        .holdings
        .iter()
        .enumerate()
        .filter(|(_, holding)| !known_categories(&holding.category))
        .map(|(index, holding)| {
            FieldError::new(
                format!("holdings[{index}].category"),
                format!("unknown data category '{}'", holding.category),
            )
        })
        .collect()
}

/// Names the categories and systems of `activity` that the lookups do not know.
pub fn check_activity_references(
    activity: &Activity,
    known_categories: &dyn Fn(&str) -> bool,
    known_systems: &dyn Fn(&str) -> bool,
) -> Vec<FieldError> {
    let categories = activity
        .categories
        .iter()
        .enumerate()
        .filter(|(_, c)| !known_categories(&c.category))
        .map(|(index, c)| {
            FieldError::new(
                format!("categories[{index}].category"),
                format!("unknown data category '{}'", c.category),
            )
        });
    let systems = activity
        .systems
        .iter()
        .enumerate()
        .filter(|(_, key)| !known_systems(key))
        .map(|(index, key)| {
            FieldError::new(
                format!("systems[{index}]"),
                format!("unknown system '{key}'"),
            )
        });
    categories.chain(systems).collect()
}

/// The whole document, on its own: every object, duplicate keys, and references resolved against
/// the built-in taxonomy plus the document's own categories and systems (not the database, so a
/// file can be checked before anything is imported).
impl Validate for CatalogDocument {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        if let Some(organisation) = &self.organisation {
            errors.nested(
                "organisation",
                organisation.validate().err().unwrap_or_default(),
            );
        }

        let mut category_codes: HashMap<&str, usize> = HashMap::new();
        for (index, category) in self.categories.iter().enumerate() {
            let prefix = format!("categories[{index}]");
            errors.nested(&prefix, category.validate().err().unwrap_or_default());
            if is_builtin_category(&category.code) {
                errors.add(
                    format!("{prefix}.code"),
                    format!(
                        "'{}' is a built-in category; use it as it is, or choose another code",
                        category.code
                    ),
                );
            } else if let Some(first) = category_codes.get(category.code.as_str()) {
                errors.add(
                    format!("{prefix}.code"),
                    format!(
                        "duplicate category code '{}' (already at categories[{first}])",
                        category.code
                    ),
                );
            } else {
                category_codes.insert(&category.code, index);
            }
        }
        let known_category =
            |code: &str| is_builtin_category(code) || category_codes.contains_key(code);

        let mut system_keys: HashMap<&str, usize> = HashMap::new();
        for (index, system) in self.systems.iter().enumerate() {
            let prefix = format!("systems[{index}]");
            errors.nested(&prefix, system.validate().err().unwrap_or_default());
            errors.nested(&prefix, check_system_references(system, &known_category));
            if let Some(first) = system_keys.get(system.key.as_str()) {
                errors.add(
                    format!("{prefix}.key"),
                    format!(
                        "duplicate system key '{}' (already at systems[{first}])",
                        system.key
                    ),
                );
            } else {
                system_keys.insert(&system.key, index);
            }
        }
        let known_system = |key: &str| system_keys.contains_key(key);

        let mut activity_keys: HashMap<&str, usize> = HashMap::new();
        for (index, activity) in self.activities.iter().enumerate() {
            let prefix = format!("activities[{index}]");
            errors.nested(&prefix, activity.validate().err().unwrap_or_default());
            errors.nested(
                &prefix,
                check_activity_references(activity, &known_category, &known_system),
            );
            if let Some(first) = activity_keys.get(activity.key.as_str()) {
                errors.add(
                    format!("{prefix}.key"),
                    format!(
                        "duplicate activity key '{}' (already at activities[{first}])",
                        activity.key
                    ),
                );
            } else {
                activity_keys.insert(&activity.key, index);
            }
        }
        for (index, entry) in self.processing_for_others.iter().enumerate() {
            errors.nested(
                &format!("processing_for_others[{index}]"),
                entry.validate().err().unwrap_or_default(),
            );
        }
        errors.duplicates(
            "processing_for_others",
            self.processing_for_others.iter().map(|e| e.key.as_str()),
            |key| format!("duplicate key '{key}'"),
        );
        errors.into_result()
    }
}

// --- processing for others (Art. 30(2)) -----------------------------------------------------------

/// One kind of processing the organisation carries out as a processor, on behalf of other
/// controllers: an entry of the processor's record (Art. 30(2)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessingForOthers {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The controllers on whose behalf, with their contact details (Art. 30(2)(a)).
    #[serde(default)]
    pub controllers: Vec<ControllerContact>,
    /// The categories of processing carried out for them (Art. 30(2)(b)), e.g. "hosting and
    /// back-up of the case system".
    #[serde(default)]
    pub categories_of_processing: Vec<String>,
    /// Transfers to a third country or an international organisation (Art. 30(2)(c)).
    #[serde(default)]
    pub transfers: Vec<Transfer>,
    /// A general description of the security measures (Art. 30(2)(d), 32(1)).
    #[serde(default)]
    pub security_measures: Vec<String>,
}

/// A controller the organisation processes for, as Art. 30(2)(a) names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControllerContact {
    pub name: String,
    /// An address, e-mail address or phone number.
    pub contact: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo: Option<String>,
}

/// Data sent to a third country or an international organisation, with what makes it lawful.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub recipient: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    #[serde(default)]
    pub safeguard: Option<TransferSafeguard>,
}

impl Transfer {
    pub fn outside_eea(&self) -> bool {
        !is_eea_country(&self.country)
    }
}

impl Validate for ProcessingForOthers {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.key("key", &self.key);
        errors.required("name", &self.name, MAX_NAME_LEN);
        errors.optional("description", self.description.as_deref(), MAX_TEXT_LEN);
        errors.list_len("controllers", self.controllers.len());
        for (index, controller) in self.controllers.iter().enumerate() {
            let field = format!("controllers[{index}]");
            errors.required(&format!("{field}.name"), &controller.name, MAX_NAME_LEN);
            errors.required(
                &format!("{field}.contact"),
                &controller.contact,
                MAX_TEXT_LEN,
            );
            errors.optional(
                &format!("{field}.representative"),
                controller.representative.as_deref(),
                MAX_NAME_LEN,
            );
            errors.optional(
                &format!("{field}.dpo"),
                controller.dpo.as_deref(),
                MAX_NAME_LEN,
            );
        }
        errors.texts("categories_of_processing", &self.categories_of_processing);
        errors.list_len("transfers", self.transfers.len());
        for (index, transfer) in self.transfers.iter().enumerate() {
            let field = format!("transfers[{index}]");
            errors.required(
                &format!("{field}.recipient"),
                &transfer.recipient,
                MAX_NAME_LEN,
            );
            errors.country(&format!("{field}.country"), &transfer.country);
            if is_country_code(&transfer.country) && !transfer.outside_eea() {
                errors.add(
                    format!("{field}.country"),
                    format!(
                        "'{}' is in the EEA: sending data there is no transfer (Art. 44)",
                        transfer.country
                    ),
                );
            }
        }
        errors.texts("security_measures", &self.security_measures);
        errors.into_result()
    }
}

/// The serialised name of a unit enum variant, for messages.
fn enum_name<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const EXAMPLE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/catalog.yaml"
    ));

    fn example() -> CatalogDocument {
        serde_yaml::from_str(EXAMPLE).expect("example catalog parses")
    }

    fn system() -> System {
        System {
            key: "crm".into(),
            name: "CRM".into(),
            description: None,
            owner: "Klantenservice".into(),
            hosting: None,
            processor: None,
            identifier_kinds: vec![IdentifierKind::Email],
            connector: ConnectorKind::Sql,
            holdings: vec![Holding {
                category: "contact".into(),
                location: "customers.email".into(),
                origin: Origin::Provided,
            }],
            sql: None,
            hosting_country: None,
            http: None,
            owner_email: None,
        }
    }

    fn activity() -> Activity {
        Activity {
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
                retention: Some("2 years".into()),
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
        }
    }

    fn category() -> Category {
        Category {
            code: "contract_details".into(),
            name_nl: "Contractgegevens".into(),
            name_en: "Contract details".into(),
            description: None,
            sensitivity: Sensitivity::Normal,
        }
    }

    fn document() -> CatalogDocument {
        CatalogDocument {
            organisation: Some(Organisation {
                kind: OrganisationKind::Private,
                name: "Voorbeeld B.V.".into(),
                decision_body: None,
                address: None,
                contact_email: "privacy@example.nl".into(),
                dpo_name: None,
                dpo_email: None,
                joint_controllers: vec![],
                eu_representative: None,
            }),
            categories: vec![category()],
            systems: vec![system()],
            activities: vec![activity()],
            processing_for_others: vec![],
        }
    }

    fn fields(result: Result<(), Vec<FieldError>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    fn assert_error(result: Result<(), Vec<FieldError>>, field: &str, needle: &str) {
        let errors = result.err().unwrap_or_default();
        assert!(
            errors
                .iter()
                .any(|e| e.field == field && e.message.contains(needle)),
            "expected an error on {field} containing {needle:?}, got {errors:?}"
        );
    }

    #[test]
    fn example_catalog_parses_and_validates_clean() {
        let document = example();
        assert_eq!(document.validate(), Ok(()));
        let keys: Vec<&str> = document.systems.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "crm",
                "billing",
                "ticketing",
                "call_recordings",
                "marketing",
                "web_analytics",
                "recruitment"
            ]
        );
        let uses_bsn = document
            .activities
            .iter()
            .flat_map(|a| a.categories.iter().map(|c| c.category.as_str()))
            .chain(
                document
                    .systems
                    .iter()
                    .flat_map(|s| s.holdings.iter().map(|h| h.category.as_str())),
            )
            .any(|code| code == "bsn");
        assert!(!uses_bsn, "a telecom provider has no basis for the BSN");
    }

    #[test]
    fn minimal_objects_are_valid() {
        assert_eq!(document().validate(), Ok(()));
    }

    #[test]
    fn keys_follow_the_pattern() {
        for good in ["a", "crm", "call_recordings", "v2_api", &"a".repeat(63)] {
            assert!(is_valid_key(good), "{good}");
        }
        for bad in [
            "",
            "1crm",
            "_crm",
            "Crm",
            "crm-2",
            "crm 2",
            "crë",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_key(bad), "{bad}");
        }
        let mut bad = system();
        bad.key = "CRM-1".into();
        assert_error(bad.validate(), "key", "lower-case letter");
        let mut bad = category();
        bad.code = "9lives".into();
        assert_error(bad.validate(), "code", "lower-case letter");
    }

    #[test]
    fn required_strings_must_not_be_blank() {
        let mut bad = system();
        bad.name = "   ".into();
        bad.owner = String::new();
        assert_eq!(fields(bad.validate()), ["name", "owner"]);

        let mut bad = activity();
        bad.purposes.push(" ".into());
        bad.description = Some(" ".into());
        assert_error(bad.validate(), "purposes[1]", "must not be empty");
        assert_error(bad.validate(), "description", "leave the field out");
    }

    #[test]
    fn oversized_strings_and_lists_are_refused() {
        let mut bad = system();
        bad.name = "x".repeat(201).into();
        bad.holdings[0].location = "é".repeat(201);
        assert_error(bad.validate(), "name", "at most 200 characters (got 201)");
        assert_error(bad.validate(), "holdings[0].location", "at most 200");

        let mut fine = system();
        fine.name = "é".repeat(200).into();
        assert_eq!(fine.validate(), Ok(()));

        let mut bad = activity();
        bad.categories[0].retention = Some("x".repeat(2001).into());
        bad.purposes = (0..101).map(|i| format!("purpose {i}").into()).collect();
        assert_error(bad.validate(), "categories[0].retention", "at most 2000");
        assert_error(bad.validate(), "purposes", "at most 100 entries (got 101)");
    }

    #[test]
    fn countries_are_upper_case_alpha_2() {
        for country in ["nl", "NLD", "N1", ""] {
            let mut bad = activity();
            bad.recipients[0].country = country.into();
            assert_error(bad.validate(), "recipients[0].country", "ISO 3166-1");
        }
    }

    #[test]
    fn a_safeguard_belongs_only_to_a_transfer_outside_the_eea() {
        let mut bad = activity();
        bad.recipients[0].safeguard = Some(TransferSafeguard::StandardContractualClauses);
        assert_error(bad.validate(), "recipients[0].safeguard", "in the EEA");

        // Outside the EEA both with and without a safeguard validate; a missing one is a
        // register warning instead.
        let mut fine = activity();
        fine.recipients[0].country = "US".into();
        assert_eq!(fine.validate(), Ok(()));
        fine.recipients[0].safeguard = Some(TransferSafeguard::StandardContractualClauses);
        assert_eq!(fine.validate(), Ok(()));
    }

    #[test]
    fn eea_membership() {
        let recipient = |country: &str| Recipient {
            name: "R".into(),
            kind: RecipientKind::Processor,
            country: country.into(),
            safeguard: None,
            description: None,
        };
        for inside in ["NL", "DE", "GR", "NO", "IS", "LI"] {
            assert!(!recipient(inside).outside_eea(), "{inside}");
        }
        for outside in ["US", "GB", "CH", "EL"] {
            assert!(recipient(outside).outside_eea(), "{outside}");
        }
        assert_eq!(EEA_COUNTRIES.len(), 30);
    }

    #[test]
    fn duplicates_inside_an_object_are_refused() {
        let mut bad = system();
        bad.holdings.push(bad.holdings[0].clone());
        bad.identifier_kinds.push(IdentifierKind::Email);
        assert_error(bad.validate(), "holdings[1]", "already at holdings[0]");
        assert_error(
            bad.validate(),
            "identifier_kinds[1]",
            "duplicate identifier kind 'email'",
        );

        let mut bad = activity();
        bad.systems.push("crm".into());
        bad.categories.push(ActivityCategory {
            category: "contact".into(),
            retention: None,
        });
        assert_error(bad.validate(), "systems[1]", "duplicate system 'crm'");
        assert_error(
            bad.validate(),
            "categories[1]",
            "duplicate category 'contact'",
        );
    }

    #[test]
    fn an_activity_needs_a_purpose_and_a_system_an_identifier() {
        let mut bad = activity();
        bad.purposes.clear();
        assert_error(bad.validate(), "purposes", "at least one purpose");
        let mut bad = system();
        bad.identifier_kinds.clear();
        assert_error(bad.validate(), "identifier_kinds", "at least one");
    }

    #[test]
    fn organisation_emails_are_checked() {
        let mut organisation = document().organisation.expect("set");
        organisation.contact_email = "Privacy desk".into();
        organisation.dpo_email = Some("fg@".into());
        assert_eq!(
            fields(organisation.validate()),
            ["contact_email", "dpo_email"]
        );
    }

    #[test]
    fn a_public_body_names_who_takes_its_besluiten() {
        let mut organisation = document().organisation.expect("set");
        organisation.kind = OrganisationKind::PublicBody;
        assert_eq!(fields(organisation.validate()), ["decision_body"]);
        organisation.decision_body = Some("het college van burgemeester en wethouders".into());
        assert!(organisation.validate().is_ok());
        organisation.kind = OrganisationKind::Private;
        assert_eq!(fields(organisation.validate()), ["decision_body"]);
    }

    #[test]
    fn all_errors_are_collected() {
        let mut bad = activity();
        bad.key = "Bad Key".into();
        bad.name = "".into();
        bad.recipients[0].country = "nl".into();
        assert_eq!(
            fields(bad.validate()),
            ["key", "name", "recipients[0].country"]
        );
    }

    #[test]
    fn references_are_checked_with_lookups() {
        let known_categories: HashSet<String> = ["contact".to_string()].into();
        let known_systems: HashSet<String> = HashSet::new();
        let mut holder = system();
        holder.holdings.push(Holding {
            category: "foo".into(),
            location: "t.f".into(),
            origin: Origin::Inferred,
        });
        let errors = check_system_references(&holder, &|code| known_categories.contains(code));
        assert_eq!(
            errors,
            [FieldError::new(
                "holdings[1].category",
                "unknown data category 'foo'"
            )]
        );
        let errors = check_activity_references(
            &activity(),
            &|code| known_categories.contains(code),
            &|key| known_systems.contains(key),
        );
        assert_eq!(
            errors,
            [FieldError::new("systems[0]", "unknown system 'crm'")]
        );
    }

    #[test]
    fn document_paths_are_prefixed_and_references_resolved() {
        let mut bad = document();
        bad.systems[0].holdings[0].category = "foo".into();
        bad.activities[0].systems = vec!["bar".into()];
        bad.activities[0].categories[0].category = "contract_details".into();
        bad.organisation.as_mut().expect("set").name = String::new();
        let errors = bad.validate().err().unwrap_or_default();
        assert_eq!(
            errors,
            [
                FieldError::new("organisation.name", "must not be empty"),
                FieldError::new(
                    "systems[0].holdings[0].category",
                    "unknown data category 'foo'"
                ),
                FieldError::new("activities[0].systems[0]", "unknown system 'bar'"),
            ]
        );
    }

    #[test]
    fn duplicate_keys_in_a_document_are_refused() {
        let mut bad = document();
        bad.systems.push(system());
        bad.activities.push(activity());
        bad.categories.push(category());
        let found = fields(bad.validate());
        assert_eq!(
            found,
            ["categories[1].code", "systems[1].key", "activities[1].key"]
        );
        assert_error(bad.validate(), "systems[1].key", "already at systems[0]");
    }

    #[test]
    fn builtin_codes_cannot_be_redefined() {
        let mut bad = document();
        bad.categories[0].code = "contact".into();
        assert_error(bad.validate(), "categories[0].code", "built-in");
    }

    #[test]
    fn unknown_values_and_fields_fail_to_parse() {
        let text = "key: crm\nname: CRM\nowner: IT\nidentifier_kinds: [email]\n";
        assert!(serde_yaml::from_str::<System>(text).is_ok());

        let error = serde_yaml::from_str::<System>(&text.replace("[email]", "[fax_number]"))
            .expect_err("unknown identifier kind");
        assert!(
            error.to_string().contains("unknown variant `fax_number`"),
            "{error}"
        );

        let error = serde_yaml::from_str::<System>(&format!("{text}colour: blue\n"))
            .expect_err("unknown field");
        assert!(
            error.to_string().contains("unknown field `colour`"),
            "{error}"
        );

        let error = serde_yaml::from_str::<CatalogDocument>(
            &EXAMPLE.replace("legal_basis: consent", "legal_basis: gut_feeling"),
        )
        .expect_err("unknown legal basis");
        assert!(error.to_string().contains("gut_feeling"), "{error}");

        let error = serde_yaml::from_str::<CatalogDocument>(&format!("{EXAMPLE}\nextra: 1\n"))
            .expect_err("unknown top-level field");
        assert!(
            error.to_string().contains("unknown field `extra`"),
            "{error}"
        );
    }

    #[test]
    fn connector_defaults_to_manual() {
        let parsed: System =
            serde_yaml::from_str("key: crm\nname: CRM\nowner: IT\nidentifier_kinds: [email]\n")
                .expect("parses");
        assert_eq!(parsed.connector, ConnectorKind::Manual);
        assert!(parsed.holdings.is_empty());
    }

    #[test]
    fn json_and_yaml_round_trip() {
        let document = example();
        let json = serde_json::to_string(&document).expect("to json");
        assert_eq!(
            serde_json::from_str::<CatalogDocument>(&json).expect("from json"),
            document
        );
        let yaml = serde_yaml::to_string(&document).expect("to yaml");
        assert_eq!(
            serde_yaml::from_str::<CatalogDocument>(&yaml).expect("from yaml"),
            document
        );
    }

    #[test]
    fn names_and_articles_match_serde() {
        for basis in [
            LegalBasis::Consent,
            LegalBasis::Contract,
            LegalBasis::LegalObligation,
            LegalBasis::VitalInterests,
            LegalBasis::PublicTask,
            LegalBasis::LegitimateInterests,
        ] {
            assert_eq!(basis.as_str(), enum_name(basis));
        }
        assert_eq!(LegalBasis::Consent.article(), "Art. 6(1)(a)");
        assert_eq!(LegalBasis::LegitimateInterests.article(), "Art. 6(1)(f)");
        let grounds = [
            SpecialCategoryGround::ExplicitConsent,
            SpecialCategoryGround::EmploymentSocialSecurity,
            SpecialCategoryGround::VitalInterests,
            SpecialCategoryGround::NotForProfitBody,
            SpecialCategoryGround::MadePublic,
            SpecialCategoryGround::LegalClaims,
            SpecialCategoryGround::SubstantialPublicInterest,
            SpecialCategoryGround::HealthCare,
            SpecialCategoryGround::PublicHealth,
            SpecialCategoryGround::ArchivingResearch,
        ];
        for (ground, letter) in grounds.into_iter().zip('a'..='j') {
            assert_eq!(ground.as_str(), enum_name(ground));
            assert_eq!(ground.article(), format!("Art. 9(2)({letter})"));
        }
        for kind in [
            RecipientKind::Processor,
            RecipientKind::Controller,
            RecipientKind::PublicAuthority,
        ] {
            assert_eq!(kind.as_str(), enum_name(kind));
        }
        for safeguard in [
            TransferSafeguard::AdequacyDecision,
            TransferSafeguard::StandardContractualClauses,
            TransferSafeguard::BindingCorporateRules,
            TransferSafeguard::Derogation,
        ] {
            assert_eq!(safeguard.as_str(), enum_name(safeguard));
        }
        for sensitivity in [
            Sensitivity::Normal,
            Sensitivity::Special,
            Sensitivity::Criminal,
            Sensitivity::NationalId,
        ] {
            assert_eq!(sensitivity.as_str(), enum_name(sensitivity));
        }
    }

    #[test]
    fn builtin_taxonomy_matches_the_codes() {
        let builtins = builtin_categories();
        let codes: Vec<&str> = builtins.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, BUILTIN_CATEGORY_CODES);
        for category in &builtins {
            assert_eq!(category.validate(), Ok(()), "{}", category.code);
        }
        let sensitivity = |code: &str| {
            builtins
                .iter()
                .find(|c| c.code == code)
                .map(|c| c.sensitivity)
        };
        assert_eq!(sensitivity("special_health"), Some(Sensitivity::Special));
        assert_eq!(sensitivity("criminal"), Some(Sensitivity::Criminal));
        assert_eq!(sensitivity("bsn"), Some(Sensitivity::NationalId));
        assert_eq!(sensitivity("usage"), Some(Sensitivity::Normal));
    }

    fn mapping() -> SqlMapping {
        serde_yaml::from_str(
            "tables:
  - name: customers
    key: id
    identifiers: {email: email}
    columns: [name, email]
    restricted_column: restricted
  - name: invoices
    key: id
    parent: {table: customers, column: customer_id}
    columns: [invoice_address, amount]
",
        )
        .expect("mapping parses")
    }

    fn sql_system() -> System {
        System {
            sql: Some(mapping()),
            http: None,
            ..system()
        }
    }

    #[test]
    fn example_sql_systems_have_mappings() {
        let document = example();
        for key in ["crm", "billing"] {
            let system = document.systems.iter().find(|s| s.key == key).unwrap();
            assert!(system.sql.is_some(), "{key} has a mapping");
        }
        let crm = document.systems.iter().find(|s| s.key == "crm").unwrap();
        let customers = crm.sql.as_ref().unwrap().table("customers").unwrap();
        assert_eq!(customers.identifiers[&IdentifierKind::Email], "email");
        assert_eq!(customers.restricted_column.as_deref(), Some("restricted"));
    }

    #[test]
    fn stored_forms_write_an_identifier_as_the_system_does() {
        use IdentifierKind::*;
        assert_eq!(
            StoredForm::E164.write(Phone, "06 1234 5678"),
            "+31612345678"
        );
        assert_eq!(
            StoredForm::E164.write(Phone, "0031 6-12345678"),
            "+31612345678"
        );
        assert_eq!(
            StoredForm::National.write(Phone, "+31 (6) 1234 5678"),
            "0612345678"
        );
        assert_eq!(
            StoredForm::LowerCase.write(Email, " Jan@Example.NL "),
            "jan@example.nl"
        );
        assert_eq!(
            StoredForm::UpperNoSpaces.write(CustomerNumber, "tn 448812"),
            "TN448812"
        );
        assert_eq!(StoredForm::AsGiven.write(AccountId, " A-1 "), "A-1");
        assert!(!StoredForm::E164.suits(Email));
        assert!(StoredForm::UpperNoSpaces.suits(AccountId));
    }

    #[test]
    fn sql_identifiers_follow_the_pattern() {
        for good in ["customers", "_tmp", "Invoice_2024", &"a".repeat(63)] {
            assert!(is_sql_identifier(good), "{good}");
        }
        for bad in [
            "",
            "1table",
            "users; DROP TABLE x",
            "a-b",
            "\"quoted\"",
            "naïve",
            &"a".repeat(64),
        ] {
            assert!(!is_sql_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn a_valid_mapping_passes() {
        assert_eq!(sql_system().validate(), Ok(()));
    }

    #[test]
    fn hostile_names_in_a_mapping_are_refused_with_their_path() {
        let mut system = sql_system();
        let mapping = system.sql.as_mut().unwrap();
        mapping.tables[0].name = "users; DROP TABLE x".into();
        mapping.tables[1].columns[1] = "amount\"--".into();
        mapping.tables[1].parent.as_mut().unwrap().column = "x y".into();
        let result = system.validate();
        assert_error(result.clone(), "sql.tables[0].name", "SQL name");
        assert_error(result.clone(), "sql.tables[1].columns[1]", "SQL name");
        assert_error(result, "sql.tables[1].parent.column", "SQL name");
    }

    #[test]
    fn a_mapping_must_fit_its_system() {
        let mut system = sql_system();
        system.connector = ConnectorKind::Manual;
        system.sql.as_mut().unwrap().tables[0]
            .identifiers
            .insert(IdentifierKind::Phone, "phone".into());
        let result = system.validate();
        assert_error(result.clone(), "sql", "connector: sql");
        assert_error(
            result,
            "sql.tables[0].identifiers.phone",
            "identifier_kinds",
        );
    }

    #[test]
    fn parents_must_be_mapped_and_acyclic() {
        let mut system = sql_system();
        let mapping = system.sql.as_mut().unwrap();
        mapping.tables[1].parent.as_mut().unwrap().table = "orders".into();
        assert_error(
            system.validate(),
            "sql.tables[1].parent.table",
            "not a table of this mapping",
        );

        let mut system = sql_system();
        let mapping = system.sql.as_mut().unwrap();
        mapping.tables[0].parent = Some(SqlParent {
            table: "invoices".into(),
            column: "invoice_id".into(),
        });
        assert_error(system.validate(), "sql.tables[0].parent.table", "cycle");
    }

    #[test]
    fn a_table_needs_a_way_to_find_a_person_and_unique_names() {
        let mut system = sql_system();
        let mapping = system.sql.as_mut().unwrap();
        mapping.tables[1].parent = None;
        mapping.tables[0].columns.push("name".into());
        let result = system.validate();
        assert_error(result.clone(), "sql.tables[1].identifiers", "parent");
        assert_error(result, "sql.tables[0].columns[2]", "duplicate column");

        let mut system = sql_system();
        let mapping = system.sql.as_mut().unwrap();
        mapping.tables[1].name = "customers".into();
        assert_error(system.validate(), "sql.tables[1]", "duplicate table");
    }

    #[test]
    fn a_mapping_round_trips_and_is_left_out_when_absent() {
        let mapped = sql_system();
        let json = serde_json::to_string(&mapped).unwrap();
        assert_eq!(serde_json::from_str::<System>(&json).unwrap(), mapped);
        let yaml = serde_yaml::to_string(&mapped).unwrap();
        assert_eq!(serde_yaml::from_str::<System>(&yaml).unwrap(), mapped);
        let plain = serde_json::to_value(system()).unwrap();
        assert!(plain.get("sql").is_none());
    }
}
