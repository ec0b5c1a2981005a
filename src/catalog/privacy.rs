//! The privacy statement (Art. 13 and 14) written from the register, in Dutch or English, as
//! Markdown or HTML. The register already holds every element the statement needs; writing it from
//! there keeps statement and record from drifting apart, and the register's warnings show where
//! the statement would be incomplete.

use super::model::{LegalBasis, OrganisationKind};
use super::ropa::{Register, RegisterEntry, RegisterRecipient};
use super::terms;
use crate::vocabulary::Language;

/// Where the public request form is served (`serve`).
pub const REQUEST_FORM_PATH: &str = "/verzoek";

/// How the statement is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

/// One block of the statement, written the same way in either format.
enum Block {
    Heading(u8, String),
    Paragraph(String),
    List(Vec<String>),
    /// A paragraph with one link: text before, the path, text after.
    Linked(String, &'static str, String),
}

/// The statement for `register` in `language`.
pub fn statement(register: &Register, language: Language, format: Format) -> String {
    let text = Text::of(language);
    let mut blocks = who_we_are(register, &text);
    for entry in &register.activities {
        blocks.extend(activity(entry, &text));
    }
    blocks.extend(rights(register, &text));
    match format {
        Format::Markdown => markdown(&blocks),
        Format::Html => html(&blocks, text.lang),
    }
}

/// The legal basis as each language's law names it ("uitvoering van een overeenkomst").
pub fn basis_name(basis: LegalBasis, language: Language) -> &'static str {
    terms::basis_name(basis, language)
}

fn who_we_are(register: &Register, text: &Text) -> Vec<Block> {
    let name = register
        .organisation
        .as_ref()
        .map_or("", |o| o.name.as_str());
    let mut blocks = vec![
        Block::Heading(1, format!("{} {name}", text.title)),
        Block::Heading(2, text.who.into()),
    ];
    let Some(organisation) = &register.organisation else {
        return blocks;
    };
    let mut who = vec![format!("{}: {}", text.controller, organisation.name)];
    if organisation.kind == OrganisationKind::PublicBody {
        who.extend(organisation.decision_body.clone());
    }
    who.extend(organisation.address.clone());
    who.push(format!("{}: {}", text.email, organisation.contact_email));
    let dpo: Vec<&str> = [
        organisation.dpo_name.as_deref(),
        organisation.dpo_email.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !dpo.is_empty() {
        who.push(format!("{}: {}", text.dpo, dpo.join(", ")));
    }
    if !organisation.joint_controllers.is_empty() {
        who.push(format!(
            "{}: {}",
            text.joint,
            organisation.joint_controllers.join(", ")
        ));
    }
    who.extend(
        organisation
            .eu_representative
            .as_ref()
            .map(|r| format!("{}: {r}", text.representative)),
    );
    blocks.push(Block::List(who));
    blocks
}

fn activity(entry: &RegisterEntry, text: &Text) -> Vec<Block> {
    let language = text.language();
    let purposes: Vec<&str> = entry.purposes.iter().map(|p| p.get(language)).collect();
    let mut facts = vec![format!("{}: {}", text.purposes, purposes.join("; "))];
    let categories: Vec<String> = entry
        .categories
        .iter()
        .map(|c| {
            let name = if text.lang == "nl" {
                &c.name_nl
            } else {
                &c.name_en
            };
            let name = if name.is_empty() { &c.code } else { name };
            match c.retention.as_ref().map(|r| r.get(language)) {
                Some(retention) => format!("{name} ({}: {retention})", text.retention),
                None => name.clone(),
            }
        })
        .collect();
    facts.push(format!("{}: {}", text.categories, categories.join("; ")));
    if let Some(basis) = entry.legal_basis {
        let mut line = format!("{}: {}", text.basis, terms::basis(basis, text.language()));
        if let Some(detail) = &entry.legal_basis_detail {
            let label = if basis == LegalBasis::LegitimateInterests {
                text.interest
            } else {
                text.detail
            };
            line.push_str(&format!(". {label}: {detail}"));
        }
        facts.push(line);
        facts.push(text.required(basis).into());
    }
    if !entry.recipients.is_empty() {
        let recipients: Vec<String> = entry
            .recipients
            .iter()
            .map(|r| recipient(r, text))
            .collect();
        facts.push(format!("{}: {}", text.recipients, recipients.join("; ")));
    }
    if let Some(source) = entry.source.as_ref().map(|s| s.get(language)) {
        facts.push(format!("{}: {source}", text.source));
    }
    facts.push(
        match entry
            .automated_decision_logic
            .as_ref()
            .map(|l| l.get(language))
        {
            Some(logic) => format!("{}: {logic}", text.automated),
            None => text.no_automated.into(),
        },
    );
    vec![
        Block::Heading(2, entry.name.get(language).to_string()),
        Block::List(facts),
    ]
}

fn recipient(recipient: &RegisterRecipient, text: &Text) -> String {
    let language = text.language();
    let kind = terms::recipient_kind(recipient.kind, language);
    let country = terms::country(&recipient.country, language);
    let mut line = format!("{} ({kind}, {country})", recipient.name);
    if recipient.outside_eea {
        let safeguard = recipient
            .safeguard
            .map_or(text.no_safeguard, |s| terms::safeguard(s, language));
        line.push_str(&format!(", {}: {safeguard}", text.outside_eea));
    }
    line
}

fn rights(register: &Register, text: &Text) -> Vec<Block> {
    let mut rights: Vec<String> = text.rights.iter().map(|r| (*r).to_string()).collect();
    let consent = register
        .activities
        .iter()
        .any(|a| a.legal_basis == Some(LegalBasis::Consent));
    if consent {
        rights.push(text.withdraw.into());
    }
    let contact = register
        .organisation
        .as_ref()
        .map_or(String::new(), |o| o.contact_email.clone());
    vec![
        Block::Heading(2, text.rights_title.into()),
        Block::List(rights),
        Block::Linked(
            text.how.into(),
            REQUEST_FORM_PATH,
            format!("{} {contact}.", text.or_mail),
        ),
        Block::Heading(2, text.complaint_title.into()),
        Block::Paragraph(text.complaint.into()),
    ]
}

fn markdown(blocks: &[Block]) -> String {
    let parts: Vec<String> = blocks
        .iter()
        .map(|block| match block {
            Block::Heading(level, title) => format!("{} {title}", "#".repeat(*level as usize)),
            Block::Paragraph(text) => text.clone(),
            Block::Linked(before, href, after) => format!("{before} [{href}]({href}) {after}"),
            Block::List(items) => items
                .iter()
                .map(|i| format!("- {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect();
    parts.join("\n\n") + "\n"
}

fn html(blocks: &[Block], lang: &str) -> String {
    let body: String = blocks
        .iter()
        .map(|block| match block {
            Block::Heading(level, title) => format!("<h{level}>{}</h{level}>\n", escape(title)),
            Block::Paragraph(text) => format!("<p>{}</p>\n", escape(text)),
            Block::Linked(before, href, after) => format!(
                "<p>{} <a href=\"{href}\">{href}</a> {}</p>\n",
                escape(before),
                escape(after)
            ),
            Block::List(items) => format!(
                "<ul>\n{}</ul>\n",
                items
                    .iter()
                    .map(|i| format!("<li>{}</li>\n", escape(i)))
                    .collect::<String>()
            ),
        })
        .collect();
    format!("<!doctype html>\n<html lang=\"{lang}\">\n<head><meta charset=\"utf-8\"></head>\n<body>\n{body}</body>\n</html>\n")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The statement's fixed wording in one language.
struct Text {
    lang: &'static str,
    title: &'static str,
    who: &'static str,
    controller: &'static str,
    email: &'static str,
    dpo: &'static str,
    joint: &'static str,
    representative: &'static str,
    purposes: &'static str,
    categories: &'static str,
    retention: &'static str,
    basis: &'static str,
    detail: &'static str,
    interest: &'static str,
    recipients: &'static str,
    outside_eea: &'static str,
    no_safeguard: &'static str,
    source: &'static str,
    automated: &'static str,
    no_automated: &'static str,
    rights_title: &'static str,
    rights: [&'static str; 8],
    withdraw: &'static str,
    how: &'static str,
    or_mail: &'static str,
    complaint_title: &'static str,
    complaint: &'static str,
    requirement: [&'static str; 3],
}

impl Text {
    fn of(language: Language) -> Text {
        match language {
            Language::Nl => NL,
            Language::En => EN,
        }
    }

    fn language(&self) -> Language {
        if self.lang == "nl" {
            Language::Nl
        } else {
            Language::En
        }
    }

    /// Whether providing the data is required (Art. 13(2)(e)), as far as the basis says it.
    fn required(&self, basis: LegalBasis) -> &'static str {
        match basis {
            LegalBasis::Contract => self.requirement[0],
            LegalBasis::LegalObligation | LegalBasis::PublicTask => self.requirement[1],
            _ => self.requirement[2],
        }
    }
}

const NL: Text = Text {
    lang: "nl",
    title: "Privacyverklaring",
    who: "Wie wij zijn",
    controller: "Verwerkingsverantwoordelijke",
    email: "E-mail",
    dpo: "Functionaris voor gegevensbescherming",
    joint: "Gezamenlijke verwerkingsverantwoordelijken",
    representative: "Vertegenwoordiger in de Unie",
    purposes: "Doelen",
    categories: "Persoonsgegevens",
    retention: "bewaartermijn",
    basis: "Grondslag",
    detail: "Toelichting",
    interest: "Ons gerechtvaardigd belang",
    recipients: "Ontvangers",
    outside_eea: "buiten de EER, waarborg",
    no_safeguard: "geen",
    source: "Bron (niet van u zelf verkregen)",
    automated: "Geautomatiseerde besluitvorming",
    no_automated: "Geen geautomatiseerde besluitvorming",
    rights_title: "Uw rechten",
    rights: [
        "Inzage in uw gegevens (artikel 15 AVG)",
        "Rectificatie (artikel 16 AVG)",
        "Gegevenswissing (artikel 17 AVG)",
        "Beperking van de verwerking (artikel 18 AVG)",
        "Kennisgeving aan ontvangers (artikel 19 AVG)",
        "Overdraagbaarheid van gegevens (artikel 20 AVG)",
        "Bezwaar tegen de verwerking (artikel 21 AVG)",
        "Menselijke tussenkomst bij geautomatiseerde besluiten (artikel 22 AVG)",
    ],
    withdraw: "Uw toestemming intrekken, op elk moment (artikel 7, lid 3 AVG)",
    how: "U oefent deze rechten kosteloos uit met het formulier op",
    or_mail: "of per e-mail aan",
    complaint_title: "Klacht",
    complaint: "U kunt een klacht indienen bij de Autoriteit Persoonsgegevens (autoriteitpersoonsgegevens.nl).",
    requirement: [
        "Zonder deze gegevens kunnen wij de overeenkomst niet sluiten of uitvoeren.",
        "De wet verplicht tot het verstrekken van deze gegevens.",
        "U bent niet verplicht deze gegevens te verstrekken.",
    ],
};

const EN: Text = Text {
    lang: "en",
    title: "Privacy statement",
    who: "Who we are",
    controller: "Controller",
    email: "E-mail",
    dpo: "Data protection officer",
    joint: "Joint controllers",
    representative: "Representative in the Union",
    purposes: "Purposes",
    categories: "Personal data",
    retention: "kept",
    basis: "Legal basis",
    detail: "Explanation",
    interest: "Our legitimate interest",
    recipients: "Recipients",
    outside_eea: "outside the EEA, safeguard",
    no_safeguard: "none",
    source: "Source (not obtained from you)",
    automated: "Automated decision-making",
    no_automated: "No automated decision-making",
    rights_title: "Your rights",
    rights: [
        "Access to your data (Article 15 GDPR)",
        "Rectification (Article 16 GDPR)",
        "Erasure (Article 17 GDPR)",
        "Restriction of processing (Article 18 GDPR)",
        "Notification of recipients (Article 19 GDPR)",
        "Data portability (Article 20 GDPR)",
        "Objection to the processing (Article 21 GDPR)",
        "Human intervention in automated decisions (Article 22 GDPR)",
    ],
    withdraw: "Withdrawing your consent, at any time (Article 7(3) GDPR)",
    how: "You exercise these rights free of charge with the form at",
    or_mail: "or by e-mail to",
    complaint_title: "Complaints",
    complaint: "You may lodge a complaint with the Dutch supervisory authority, the Autoriteit Persoonsgegevens (autoriteitpersoonsgegevens.nl).",
    requirement: [
        "Without this data we cannot enter into or perform the contract.",
        "The law requires this data to be provided.",
        "You are not required to provide this data.",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{builtin_categories, CatalogDocument};
    use crate::catalog::ropa::build_register;
    use std::collections::BTreeMap;

    fn register(yaml: &str) -> Register {
        let document: CatalogDocument = serde_yaml::from_str(yaml).expect("parses");
        let categories: BTreeMap<_, _> = builtin_categories()
            .into_iter()
            .chain(document.categories.iter().cloned())
            .map(|c| (c.code.clone(), c))
            .collect();
        build_register(
            document.organisation,
            &document.activities,
            &categories,
            &document.systems,
            "2026-12-03T09:00:00Z".into(),
        )
    }

    /// Every Art. 13/14 element the catalog holds, for every activity, in both languages.
    fn has_every_element(register: &Register) {
        let organisation = register.organisation.as_ref().expect("organisation");
        for language in [Language::Nl, Language::En] {
            let text = statement(register, language, Format::Markdown);
            let words = Text::of(language);
            for expected in [
                organisation.name.as_str(),
                &organisation.contact_email,
                organisation.dpo_email.as_deref().expect("dpo"),
                REQUEST_FORM_PATH,
                "Autoriteit Persoonsgegevens",
            ] {
                assert!(text.contains(expected), "{expected} missing:\n{text}");
            }
            for right in words.rights {
                assert!(text.contains(right), "{right}");
            }
            for entry in &register.activities {
                assert!(text.contains(entry.name.get(language)));
                entry
                    .purposes
                    .iter()
                    .for_each(|p| assert!(text.contains(p.get(language)), "{p}"));
                let basis = entry.legal_basis.expect("basis");
                assert!(text.contains(&terms::basis(basis, language)));
                for category in &entry.categories {
                    let name = if language == Language::Nl {
                        &category.name_nl
                    } else {
                        &category.name_en
                    };
                    assert!(text.contains(name.as_str()), "{name}");
                    let retention = category.retention.as_ref().expect("retention");
                    assert!(text.contains(retention.get(language)));
                }
                for recipient in &entry.recipients {
                    assert!(text.contains(&recipient.name), "{}", recipient.name);
                }
                for value in [&entry.source, &entry.automated_decision_logic]
                    .into_iter()
                    .flatten()
                {
                    assert!(text.contains(value.get(language)), "{value}");
                }
                if let Some(detail) = &entry.legal_basis_detail {
                    assert!(text.contains(detail.as_str()), "{detail}");
                }
            }
        }
    }

    #[test]
    fn the_telecom_statement_has_every_article_13_element() {
        let register = register(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/catalog.yaml"
        )));
        has_every_element(&register);
        let nl = statement(&register, Language::Nl, Format::Markdown);
        // Legitimate interest is named as such; consent can be withdrawn; non-EEA transfers say so.
        assert!(nl.contains("Ons gerechtvaardigd belang"));
        assert!(nl.contains("artikel 7, lid 3 AVG"));
        assert!(
            nl.contains("buiten de EER, waarborg: modelcontractbepalingen"),
            "{nl}"
        );
        let html = statement(&register, Language::Nl, Format::Html);
        assert!(html.contains("<a href=\"/verzoek\">/verzoek</a>"), "{html}");
    }

    #[test]
    fn the_municipal_statement_has_every_article_13_element() {
        let register = register(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/gemeente.yaml"
        )));
        has_every_element(&register);
        let nl = statement(&register, Language::Nl, Format::Markdown);
        assert!(nl.contains("het college van burgemeester en wethouders van Voorbeeldstad"));
        assert!(nl.contains(
            "taak van algemeen belang of openbaar gezag (artikel 6, lid 1, onder e AVG)"
        ));
    }

    #[test]
    fn html_is_escaped_and_names_its_language() {
        let mut register = register(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/catalog.yaml"
        )));
        register.activities[0].name = "<script>x</script>".into();
        let html = statement(&register, Language::En, Format::Html);
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("<h2>Your rights</h2>"));
    }
}
