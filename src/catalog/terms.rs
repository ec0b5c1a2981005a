//! The catalog's closed vocabularies written as the law writes them, in Dutch or English: the
//! legal bases of Art. 6(1), the roles of recipients, the safeguards of a transfer outside the
//! EEA and country names. Letters and the privacy statement say these words to people, so they
//! never show the serialised codes (`legal_obligation`, `processor`) nor an ISO code.

use super::model::{LegalBasis, RecipientKind, TransferSafeguard};
use crate::vocabulary::Language;

/// The basis's own name: "uitvoering van een overeenkomst", "performance of a contract".
pub fn basis_name(basis: LegalBasis, language: Language) -> &'static str {
    let (nl, en) = match basis {
        LegalBasis::Consent => ("toestemming", "consent"),
        LegalBasis::Contract => (
            "uitvoering van een overeenkomst",
            "performance of a contract",
        ),
        LegalBasis::LegalObligation => ("wettelijke verplichting", "legal obligation"),
        LegalBasis::VitalInterests => ("vitaal belang", "vital interests"),
        LegalBasis::PublicTask => (
            "taak van algemeen belang of openbaar gezag",
            "public task or official authority",
        ),
        LegalBasis::LegitimateInterests => ("gerechtvaardigd belang", "legitimate interests"),
    };
    pick(language, nl, en)
}

/// Art. 6(1)(a)-(f) as each language's law cites it: "artikel 6, lid 1, onder b AVG",
/// "Article 6(1)(b) GDPR".
pub fn basis_article(basis: LegalBasis, language: Language) -> String {
    let point = char::from(b'a' + basis as u8);
    match language {
        Language::Nl => format!("artikel 6, lid 1, onder {point} AVG"),
        Language::En => format!("Article 6(1)({point}) GDPR"),
    }
}

/// "uitvoering van een overeenkomst (artikel 6, lid 1, onder b AVG)".
pub fn basis(basis: LegalBasis, language: Language) -> String {
    format!(
        "{} ({})",
        basis_name(basis, language),
        basis_article(basis, language)
    )
}

/// The recipient's role: "verwerker", "processor".
pub fn recipient_kind(kind: RecipientKind, language: Language) -> &'static str {
    match kind {
        RecipientKind::Processor => pick(language, "verwerker", "processor"),
        RecipientKind::Controller => pick(language, "verwerkingsverantwoordelijke", "controller"),
        RecipientKind::PublicAuthority => pick(language, "overheidsinstantie", "public authority"),
    }
}

/// The safeguard of a transfer outside the EEA (Art. 45, 46(2)(c), 47, 49).
pub fn safeguard(safeguard: TransferSafeguard, language: Language) -> &'static str {
    match safeguard {
        TransferSafeguard::AdequacyDecision => pick(
            language,
            "adequaatheidsbesluit van de Europese Commissie (artikel 45 AVG)",
            "adequacy decision of the European Commission (Article 45 GDPR)",
        ),
        TransferSafeguard::StandardContractualClauses => pick(
            language,
            "modelcontractbepalingen van de Europese Commissie (artikel 46, lid 2, onder c AVG)",
            "standard contractual clauses of the European Commission (Article 46(2)(c) GDPR)",
        ),
        TransferSafeguard::BindingCorporateRules => pick(
            language,
            "bindende bedrijfsvoorschriften (artikel 47 AVG)",
            "binding corporate rules (Article 47 GDPR)",
        ),
        TransferSafeguard::Derogation => pick(
            language,
            "uitzondering voor een specifieke situatie (artikel 49 AVG)",
            "derogation for a specific situation (Article 49 GDPR)",
        ),
    }
}

/// The country's name for `code` (ISO 3166-1 alpha-2); the code itself for a country the table
/// does not know, which is still readable ("KR").
pub fn country(code: &str, language: Language) -> String {
    COUNTRIES
        .iter()
        .find(|(c, _, _)| c.eq_ignore_ascii_case(code))
        .map_or_else(
            || code.to_string(),
            |(_, nl, en)| pick(language, nl, en).into(),
        )
}

fn pick(language: Language, nl: &'static str, en: &'static str) -> &'static str {
    match language {
        Language::Nl => nl,
        Language::En => en,
    }
}

/// The EEA and the countries processors are most often in.
const COUNTRIES: &[(&str, &str, &str)] = &[
    ("AT", "Oostenrijk", "Austria"),
    ("BE", "België", "Belgium"),
    ("BG", "Bulgarije", "Bulgaria"),
    ("CY", "Cyprus", "Cyprus"),
    ("CZ", "Tsjechië", "Czechia"),
    ("DE", "Duitsland", "Germany"),
    ("DK", "Denemarken", "Denmark"),
    ("EE", "Estland", "Estonia"),
    ("ES", "Spanje", "Spain"),
    ("FI", "Finland", "Finland"),
    ("FR", "Frankrijk", "France"),
    ("GR", "Griekenland", "Greece"),
    ("HR", "Kroatië", "Croatia"),
    ("HU", "Hongarije", "Hungary"),
    ("IE", "Ierland", "Ireland"),
    ("IT", "Italië", "Italy"),
    ("LT", "Litouwen", "Lithuania"),
    ("LU", "Luxemburg", "Luxembourg"),
    ("LV", "Letland", "Latvia"),
    ("MT", "Malta", "Malta"),
    ("NL", "Nederland", "Netherlands"),
    ("PL", "Polen", "Poland"),
    ("PT", "Portugal", "Portugal"),
    ("RO", "Roemenië", "Romania"),
    ("SE", "Zweden", "Sweden"),
    ("SI", "Slovenië", "Slovenia"),
    ("SK", "Slowakije", "Slovakia"),
    ("IS", "IJsland", "Iceland"),
    ("LI", "Liechtenstein", "Liechtenstein"),
    ("NO", "Noorwegen", "Norway"),
    ("CH", "Zwitserland", "Switzerland"),
    ("GB", "Verenigd Koninkrijk", "United Kingdom"),
    ("US", "Verenigde Staten", "United States"),
    ("CA", "Canada", "Canada"),
    ("JP", "Japan", "Japan"),
    ("IN", "India", "India"),
    ("IL", "Israël", "Israel"),
    ("AU", "Australië", "Australia"),
    ("NZ", "Nieuw-Zeeland", "New Zealand"),
    ("KR", "Zuid-Korea", "South Korea"),
    ("SG", "Singapore", "Singapore"),
    ("CN", "China", "China"),
    ("BR", "Brazilië", "Brazil"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::EEA_COUNTRIES;

    #[test]
    fn bases_are_cited_as_the_law_cites_them() {
        assert_eq!(
            basis(LegalBasis::Contract, Language::Nl),
            "uitvoering van een overeenkomst (artikel 6, lid 1, onder b AVG)"
        );
        assert_eq!(
            basis(LegalBasis::LegitimateInterests, Language::En),
            "legitimate interests (Article 6(1)(f) GDPR)"
        );
    }

    #[test]
    fn every_eea_country_has_a_name() {
        for code in EEA_COUNTRIES {
            assert_ne!(country(code, Language::Nl), *code);
            assert_ne!(country(code, Language::En), *code);
        }
        assert_eq!(country("nl", Language::Nl), "Nederland");
    }
}
