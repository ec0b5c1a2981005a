//! Who is asking: the requester's identifiers as given, checked, normalised for lookup, and
//! sealed for storage. A BSN is an identifier only where the catalog names the law that allows it
//! (UAVG art. 46; checked at intake): then it is sealed, found through its keyed hash and shown
//! masked ([`Bsn`]). It is refused wherever it is slipped into free text; other numbers are never
//! refused for passing the eleven-test.

use crate::catalog::model::IdentifierKind;
use crate::crypto::Cipher;
use crate::db::models::requests::RequestRow;
use crate::error::{FieldError, Result};
use anyhow::Context;
use serde::{Deserialize, Serialize};

const MAX_NAME: usize = 200;
const MAX_IDENTIFIER: usize = 100;
pub const MAX_DETAILS: usize = 10_000;

/// The identifiers a person gives; at least one of e-mail, customer number or phone.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub customer_number: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Only where the catalog names the law that allows the BSN (UAVG art. 46).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Masked when shown: `*****1234`.
    #[schema(value_type = Option<String>)]
    pub bsn: Option<Bsn>,
}

/// A citizen service number given as an identifier. It never shows in full: it serialises and
/// prints masked (`*****1234`), so a view, a log line or a letter context built from a
/// [`Requester`] cannot carry it; only sealing, the lookup hash and a connector search read the
/// digits, through [`Bsn::digits`].
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(from = "String")]
pub struct Bsn(String);

impl From<String> for Bsn {
    /// As given; [`Requester::tidy`] reduces it to digits and [`Requester::check`] tests them.
    fn from(value: String) -> Self {
        Bsn(value)
    }
}

impl Bsn {
    /// How many digits the masked form keeps.
    const SHOWN: usize = 4;

    /// The nine digits, for sealing, hashing and searching only.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// `*****1234`: enough for an agent to check it with the caller, too little to use it.
    pub fn masked(&self) -> String {
        let count = self.0.chars().count();
        let shown: String = self
            .0
            .chars()
            .skip(count.saturating_sub(Self::SHOWN))
            .collect();
        format!(
            "{}{shown}",
            "*".repeat(count.saturating_sub(Self::SHOWN).max(1))
        )
    }
}

impl std::fmt::Debug for Bsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bsn({})", self.masked())
    }
}

impl Serialize for Bsn {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

/// Someone acting for the person (a lawyer, a parent of a child under 16), with the proof of
/// authorisation that was shown (kept with the request, GDPR rules §3). Letters go to them.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Representative {
    pub name: String,
    /// In words, e.g. "moeder", "advocaat".
    pub relation: String,
    /// Whose rights they exercise and why they may (required for a new request).
    #[serde(default)]
    pub kind: Option<RepresentativeKind>,
    /// Where the letters go; by post when absent.
    #[serde(default)]
    pub email: Option<String>,
    /// What proves the authorisation, e.g. "signed power of attorney dated 2026-11-02".
    #[serde(default)]
    pub authorisation: Option<String>,
}

/// Why someone may act for the person.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepresentativeKind {
    /// A parent or guardian of a child under 16, who exercises the child's rights.
    LegalRepresentative,
    /// Someone the person authorised, e.g. a lawyer with a power of attorney.
    Authorised,
}

/// Lookup places, also the associated data of the ciphertexts.
pub mod place {
    pub const NAME: &str = "requests.name";
    pub const EMAIL: &str = "requests.email";
    pub const CUSTOMER_NUMBER: &str = "requests.customer_number";
    pub const PHONE: &str = "requests.phone";
    pub const BSN: &str = "requests.bsn";
    pub const DETAILS: &str = "requests.details";
    pub const REPRESENTATIVE: &str = "requests.representative";
    pub const DECISION_REASON: &str = "requests.decision_reason";
    pub const JUSTIFICATION: &str = "requests.justification";
    pub const TASK_EVIDENCE: &str = "request_tasks.evidence";
    pub const COMMENT: &str = "task_comments.body";
    pub const PAUSE_QUESTION: &str = "request_pauses.question";
    pub const PARTIAL_REFUSAL: &str = "requests.partial_refusal";
}

impl Requester {
    /// Trims every value and drops empty ones, so "" and absent mean the same.
    pub fn tidy(self) -> Self {
        let tidy = |value: Option<String>| {
            value
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Requester {
            name: tidy(self.name),
            email: tidy(self.email),
            customer_number: tidy(self.customer_number),
            phone: tidy(self.phone),
            // Written with spaces, dots or hyphens, a BSN is its digits; anything else stays as
            // given, for the check to refuse.
            bsn: tidy(self.bsn.map(|b| b.0)).map(|given| {
                let grouped = given
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-'));
                Bsn(if grouped {
                    IdentifierKind::Bsn.normalise(&given)
                } else {
                    given
                })
            }),
        }
    }

    /// Field errors under `prefix` (e.g. `requester`).
    pub fn check(&self, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let field = |name: &str| format!("{prefix}.{name}");
        if self.email.is_none()
            && self.customer_number.is_none()
            && self.phone.is_none()
            && self.bsn.is_none()
        {
            errors.push(FieldError::new(
                prefix,
                "give at least one of email, customer_number or phone, so the person can be found",
            ));
        }
        if let Some(bsn) = &self.bsn {
            if !is_bsn(bsn.digits()) {
                errors.push(FieldError::new(
                    field("bsn"),
                    "must be a citizen service number: nine digits that pass the eleven-test",
                ));
            }
        }
        if let Some(name) = &self.name {
            check_text(&mut errors, &field("name"), name, MAX_NAME);
        }
        if let Some(email) = &self.email {
            if !is_email(email) || email.chars().count() > MAX_IDENTIFIER {
                errors.push(FieldError::new(field("email"), "must be an e-mail address"));
            }
        }
        if let Some(number) = &self.customer_number {
            let valid = number.chars().count() <= MAX_IDENTIFIER
                && number
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/' | ' '));
            if !valid {
                errors.push(FieldError::new(
                    field("customer_number"),
                    "may hold only letters, digits, spaces and - . / (at most 100)",
                ));
            }
        }
        if let Some(phone) = &self.phone {
            let digits = normalise_phone(phone);
            let valid = phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'))
                && (8..=15).contains(&digits.len());
            if !valid {
                errors.push(FieldError::new(
                    field("phone"),
                    "must be a phone number (8 to 15 digits, optionally with +, spaces, - or ())",
                ));
            }
        }
        // Only the free-text name can smuggle in a BSN (refused by `check_text`): a phone or
        // customer number is what it says it is, even when its digits happen to pass the
        // eleven-test (1 in 11 do).
        errors
    }

    /// The identifier kinds given, for the checklist.
    pub fn identifier_kinds(&self) -> Vec<IdentifierKind> {
        let mut kinds = Vec::new();
        if self.email.is_some() {
            kinds.push(IdentifierKind::Email);
        }
        if self.customer_number.is_some() {
            kinds.push(IdentifierKind::CustomerNumber);
        }
        if self.phone.is_some() {
            kinds.push(IdentifierKind::Phone);
        }
        if self.bsn.is_some() {
            kinds.push(IdentifierKind::Bsn);
        }
        if self.name.is_some() {
            kinds.push(IdentifierKind::Name);
        }
        kinds
    }

    /// The e-mail address, customer number, phone number and BSN, as given: what connectors
    /// search the organisation's databases by.
    pub fn search_identifiers(&self) -> Vec<(IdentifierKind, String)> {
        let bsn = self.bsn.as_ref().map(|b| b.digits().to_string());
        [
            (IdentifierKind::Email, &self.email),
            (IdentifierKind::CustomerNumber, &self.customer_number),
            (IdentifierKind::Phone, &self.phone),
            (IdentifierKind::Bsn, &bsn),
        ]
        .into_iter()
        .filter_map(|(kind, value)| Some((kind, value.clone()?)))
        .collect()
    }

    /// Keyed lookup hashes: (email, customer number, phone, BSN).
    pub fn indexes(&self, cipher: &Cipher) -> Indexes {
        Indexes {
            email: self
                .email
                .as_deref()
                .map(|v| cipher.index(place::EMAIL, &normalise_email(v))),
            customer_number: self
                .customer_number
                .as_deref()
                .map(|v| cipher.index(place::CUSTOMER_NUMBER, &normalise_customer_number(v))),
            phone: self
                .phone
                .as_deref()
                .map(|v| cipher.index(place::PHONE, &normalise_phone(v))),
            bsn: self
                .bsn
                .as_ref()
                .map(|b| cipher.index(place::BSN, b.digits())),
        }
    }

    /// Writes the sealed identifiers and their lookup hashes into `row`.
    pub fn seal_into(&self, cipher: &Cipher, row: &mut RequestRow) {
        row.name_enc = cipher.encrypt_opt(place::NAME, self.name.as_deref());
        row.email_enc = cipher.encrypt_opt(place::EMAIL, self.email.as_deref());
        row.customer_number_enc =
            cipher.encrypt_opt(place::CUSTOMER_NUMBER, self.customer_number.as_deref());
        row.phone_enc = cipher.encrypt_opt(place::PHONE, self.phone.as_deref());
        row.bsn_enc = cipher.encrypt_opt(place::BSN, self.bsn.as_ref().map(Bsn::digits));
        let indexes = self.indexes(cipher);
        row.email_index = indexes.email;
        row.customer_number_index = indexes.customer_number;
        row.phone_index = indexes.phone;
        row.bsn_index = indexes.bsn;
    }

    pub fn open(cipher: &Cipher, row: &RequestRow) -> Result<Self> {
        Ok(Requester {
            name: open(cipher, place::NAME, &row.name_enc)?,
            email: open(cipher, place::EMAIL, &row.email_enc)?,
            customer_number: open(cipher, place::CUSTOMER_NUMBER, &row.customer_number_enc)?,
            phone: open(cipher, place::PHONE, &row.phone_enc)?,
            bsn: open(cipher, place::BSN, &row.bsn_enc)?.map(Bsn),
        })
    }
}

/// The lookup hashes of a requester's identifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Indexes {
    pub email: Option<String>,
    pub customer_number: Option<String>,
    pub phone: Option<String>,
    pub bsn: Option<String>,
}

impl Representative {
    pub fn check(&self, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_text(&mut errors, &format!("{prefix}.name"), &self.name, MAX_NAME);
        check_text(
            &mut errors,
            &format!("{prefix}.relation"),
            &self.relation,
            MAX_NAME,
        );
        match &self.authorisation {
            Some(proof) => check_text(
                &mut errors,
                &format!("{prefix}.authorisation"),
                proof,
                MAX_DETAILS,
            ),
            None => errors.push(FieldError::new(
                format!("{prefix}.authorisation"),
                "say what proves the authorisation (a power of attorney, proof of parental authority); it is kept with the request",
            )),
        }
        if self.kind.is_none() {
            errors.push(FieldError::new(
                format!("{prefix}.kind"),
                "legal_representative (of a child under 16) or authorised",
            ));
        }
        if let Some(email) = &self.email {
            if !is_email(email) || email.chars().count() > MAX_IDENTIFIER {
                errors.push(FieldError::new(
                    format!("{prefix}.email"),
                    "must be an e-mail address",
                ));
            }
        }
        errors
    }

    /// Trims every value and drops empty optional ones.
    pub fn tidy(self) -> Self {
        let tidy = |value: Option<String>| {
            value
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Representative {
            name: self.name.trim().to_string(),
            relation: self.relation.trim().to_string(),
            kind: self.kind,
            email: tidy(self.email),
            authorisation: tidy(self.authorisation),
        }
    }

    /// The representative stored with a request, if any.
    pub fn open(cipher: &Cipher, row: &RequestRow) -> Result<Option<Self>> {
        open(cipher, place::REPRESENTATIVE, &row.representative_enc)?
            .map(|json| {
                serde_json::from_str(&json)
                    .context("stored representative")
                    .map_err(crate::error::Error::from)
            })
            .transpose()
    }
}

/// Opens an optional sealed value; a value that fails to open is a store fault, not the caller's.
pub fn open(cipher: &Cipher, place: &str, sealed: &Option<String>) -> Result<Option<String>> {
    cipher
        .decrypt_opt(place, sealed.as_deref())
        .with_context(|| place.to_string())
        .map_err(crate::error::Error::from)
}

/// Checks free text written by staff or the person; absent optional fields pass.
pub fn check_texts(fields: &[(&str, Option<&str>)]) -> Result<()> {
    let mut errors = Vec::new();
    for (field, value) in fields {
        if let Some(value) = value {
            check_text(&mut errors, field, value, MAX_DETAILS);
        }
    }
    crate::error::all_valid(errors)
}

/// Non-empty after trimming, at most `max` characters, and without a BSN: free text is shown,
/// quoted in letters and searched by nobody, so a BSN never belongs in it, not even where the
/// law allows the BSN as an identifier.
pub fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    } else if contains_bsn(value) {
        errors.push(bsn_error(field));
    }
}

pub fn bsn_error(field: &str) -> FieldError {
    FieldError::new(
        field,
        "looks like a citizen service number (BSN); a BSN is never kept in free text (UAVG art. 46) — leave it out (where the catalog names the law that allows it, give it as requester.bsn)",
    )
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub fn normalise_email(value: &str) -> String {
    IdentifierKind::Email.normalise(value)
}

/// The form of a customer number in the keyed index: letters and digits only, in capitals, so
/// `TN-448812`, `tn 448812` and `TN.448812` find the same earlier requests. (Connectors compare
/// with the form the system writes, [`IdentifierKind::normalise`], which keeps the dash.)
pub fn normalise_customer_number(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Digits only, with the Dutch country code written as a leading 0 (`+31 6 …`, `0031 6 …`,
/// `+31 (0)6 …` and `06 …` are the same number).
pub fn normalise_phone(value: &str) -> String {
    // The trunk zero some write after the country code, "+31 (0)6", is not dialled.
    IdentifierKind::Phone.normalise(&value.replace("(0)", ""))
}

/// Whether free `text` holds a BSN: a number of exactly nine digits (dots allowed, "1112.22.333")
/// that passes the eleven-test and is not part of something else — a phone number after its
/// country code ("+31 612345609", "0031 612345609"), a code with letters ("TN-612345609"), or a
/// number its words call something else ("factuur 123456782", "klantnummer is 111222333").
pub fn contains_bsn(text: &str) -> bool {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')' | '/'))
        .map(|word| word.trim_end_matches('.'))
        .filter(|word| !word.is_empty())
        .collect();
    words.iter().enumerate().any(|(index, word)| {
        let after_country_code = index > 0 && is_country_code(words[index - 1]);
        !after_country_code && !labelled_as_other(&words, index) && is_bsn(word)
    })
}

/// Words that say the number after them is not a BSN (a prefix: "factuurnummer", "telefoon").
const OTHER_NUMBERS: &[&str] = &[
    "factuur",
    "invoice",
    "klant",
    "customer",
    "tel",
    "phone",
    "mobiel",
    "mobile",
    "order",
    "bestel",
    "contract",
    "rekening",
    "account",
    "dossier",
    "zaak",
    "kenmerk",
    "referentie",
    "reference",
];

/// Whether one of the two words before `words[index]` names another kind of number ("factuur
/// 123…", "klantnummer is 123…"), unless the word right before it names the BSN itself.
fn labelled_as_other(words: &[&str], index: usize) -> bool {
    let named_bsn = index > 0 && {
        let before = words[index - 1].to_lowercase();
        before.contains("bsn") || before.contains("burgerservicenummer")
    };
    !named_bsn
        && words[index.saturating_sub(2)..index].iter().any(|word| {
            let word = word.to_lowercase();
            OTHER_NUMBERS.iter().any(|label| word.starts_with(label))
        })
}

/// Whether `word` is written as a BSN: nine digits, optionally grouped with dots, eleven-proof.
fn is_bsn(word: &str) -> bool {
    let digits = word.replace('.', "");
    word.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.len() == 9
        && passes_eleven_test(&digits)
}

/// "+31" or "0031": what starts an international phone number.
fn is_country_code(word: &str) -> bool {
    let code = word
        .strip_prefix('+')
        .or_else(|| word.strip_prefix("00"))
        .unwrap_or_default();
    (1..=3).contains(&code.len()) && code.chars().all(|c| c.is_ascii_digit())
}

fn passes_eleven_test(digits: &str) -> bool {
    let values: Vec<i64> = digits.bytes().map(|b| i64::from(b - b'0')).collect();
    if values.iter().all(|&v| v == 0) {
        return false;
    }
    let sum: i64 = values[..8]
        .iter()
        .enumerate()
        .map(|(i, v)| v * (9 - i as i64))
        .sum::<i64>()
        - values[8];
    sum % 11 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_normalise_to_one_form() {
        assert_eq!(normalise_phone("+31 6 1234 5678"), "0612345678");
        assert_eq!(normalise_phone("0031-6-12345678"), "0612345678");
        assert_eq!(normalise_phone("06 12345678"), "0612345678");
        assert_eq!(normalise_phone("+32 470 12 34 56"), "32470123456");
        assert_eq!(normalise_phone("+31 (0)6-1234 5678"), "0612345678");
        assert_eq!(normalise_phone("(06) 12 34 56 78"), "0612345678");
    }

    #[test]
    fn customer_numbers_index_however_they_are_typed() {
        for typed in [
            "TN-448812",
            "tn 448812",
            "TN448812",
            " TN.448812 ",
            "tn–448812",
        ] {
            assert_eq!(normalise_customer_number(typed), "TN448812", "{typed}");
        }
    }

    #[test]
    fn bsn_is_recognised_by_the_eleven_test() {
        // 111222333 is the well-known valid test BSN.
        assert!(contains_bsn("my bsn is 111222333"));
        assert!(contains_bsn("1112.22.333"));
        assert!(!contains_bsn("111222334"));
        assert!(!contains_bsn("0612345678"));
        assert!(!contains_bsn("customer 12345"));
        assert!(contains_bsn("BSN: 111222333."));
    }

    #[test]
    fn numbers_that_merely_pass_the_eleven_test_are_not_a_bsn() {
        // 612345609 passes the eleven-test; as a mobile number it is nobody's BSN.
        assert!(!contains_bsn("bel mij op +31 612345609 of 0031 612345609"));
        assert!(!contains_bsn("klantnummer TN-612345609"));
        // 123456782 passes too; called an invoice or customer number, it is one.
        assert!(!contains_bsn("factuurnummer 123456782"));
        assert!(!contains_bsn("Mijn klantnummer is 123456782."));
        assert!(contains_bsn("klant, BSN: 123456782"));
        let requester = Requester {
            name: Some("Jan de Vries".into()),
            customer_number: Some("111222333".into()),
            phone: Some("+31 612345609".into()),
            ..Default::default()
        };
        assert_eq!(requester.check("requester"), []);
        let smuggled = Requester {
            name: Some("Jan 111222333".into()),
            ..requester
        };
        assert_eq!(smuggled.check("requester")[0].field, "requester.name");
    }

    #[test]
    fn requester_needs_a_way_to_be_found() {
        let nobody = Requester {
            name: Some("Jan".into()),
            ..Default::default()
        };
        assert_eq!(nobody.check("requester")[0].field, "requester");
        let bad = Requester {
            email: Some("not-an-address".into()),
            phone: Some("12".into()),
            ..Default::default()
        };
        let fields: Vec<_> = bad
            .check("requester")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["requester.email", "requester.phone"]);
    }
}
