//! Snapshots of every letter: each kind in each language, to the person and to a representative,
//! with withheld and kept data, from fixed inputs. A change in a letter's legal text shows as a
//! diff of `src/mail/snapshots/*.snap` in review (`cargo insta review` accepts a change).
//! Every snapshot also passes the internal-text and language check ([`super::lint`]), which
//! also refuses the example catalog's system names of the other language: the letters name the
//! example catalog's systems, so a Dutch system name in an English letter fails it.

use super::letters::*;
use super::lint;
use crate::catalog::model::OrganisationKind;
use crate::catalog::model::System;
use crate::vocabulary::{Language, RefusalGround, RequestKind};
use chrono::NaiveDate;
use std::sync::LazyLock;
use strum::VariantArray;

/// The systems of the example catalog, whose names the letters use.
static SYSTEMS: LazyLock<Vec<System>> = LazyLock::new(|| {
    crate::catalog::parse_yaml(crate::demo::EXAMPLE_CATALOG)
        .expect("the example catalog is valid")
        .systems
});

/// The name of the example catalog's system `key` in `language`.
fn system(key: &str, language: Language) -> String {
    let system = SYSTEMS.iter().find(|s| s.key == key).expect("a system");
    system.name.get(language).to_string()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

/// The text in the fixture's language.
fn t(language: Language, nl: &str, en: &str) -> String {
    match language {
        Language::Nl => nl,
        Language::En => en,
    }
    .to_string()
}

/// The request of a customer of a bicycle shop, with every part a letter can show, as the
/// requests work fills it in `language` (catalog texts and terms already in that language).
fn context(kind: RequestKind, language: Language) -> LetterContext {
    let l = |nl: &str, en: &str| t(language, nl, en);
    LetterContext {
        organisation: OrganisationInfo {
            kind: OrganisationKind::Private,
            name: "Fietsenwinkel De Spaak B.V.".into(),
            decision_body: None,
            address: Some("Kerkstraat 1, 1234 AB Utrecht".into()),
            contact_email: "privacy@despaak.nl".into(),
            dpo_name: Some("mr. A. de Vries".into()),
            dpo_email: Some("fg@despaak.nl".into()),
        },
        requester_name: Some("Jan Jansen".into()),
        representative: None,
        reference: "AVG-2026-0042".into(),
        kind,
        received_on: date(2026, 11, 2),
        due_on: date(2026, 12, 2),
        due_passed: false,
        status_url: Some("https://loket.example/status/abc.def".into()),
        code: Some("483920".into()),
        code_valid_minutes: Some(30),
        message: Some(l(
            "Wij hebben uw klantnummer in alle systemen nagelopen.",
            "We checked your customer number in every system.",
        )),
        refusal: Some(RefusalInfo {
            ground: RefusalGround::ManifestlyUnfoundedOrExcessive,
            reason: l(
                "U stuurde deze week veertig keer hetzelfde verzoek.",
                "You sent the same request forty times this week.",
            ),
        }),
        partial_refusal: None,
        facts: vec![ActivityFacts {
            name: l("Klantenservice", "Customer service"),
            purposes: vec![
                l("Bestellingen leveren", "Delivering orders"),
                l("Klachten afhandelen", "Handling complaints"),
            ],
            legal_basis: Some(l(
                "uitvoering van een overeenkomst (artikel 6, lid 1, onder b AVG)",
                "performance of a contract (Article 6(1)(b) GDPR)",
            )),
            categories: vec![
                CategoryFact {
                    name: l("Contactgegevens", "Contact details"),
                    retention: Some(l(
                        "2 jaar na de laatste bestelling",
                        "2 years after the last order",
                    )),
                },
                CategoryFact {
                    name: l("Gebruiksgegevens", "Usage data"),
                    retention: None,
                },
            ],
            recipients: vec![
                RecipientFact {
                    name: "PostNL".into(),
                    kind: l("verwerker", "processor"),
                    country: l("Nederland", "Netherlands"),
                    outside_eea: false,
                    safeguard: None,
                    description: Some(l("bezorgt uw bestellingen", "delivers your orders")),
                },
                RecipientFact {
                    name: "MailCloud Inc.".into(),
                    kind: l("verwerker", "processor"),
                    country: l("Verenigde Staten", "United States"),
                    outside_eea: true,
                    safeguard: Some(l(
                        "modelcontractbepalingen van de Europese Commissie (artikel 46, lid 2, onder c AVG)",
                        "standard contractual clauses of the European Commission (Article 46(2)(c) GDPR)",
                    )),
                    description: None,
                },
            ],
            source: Some(l("Kredietbureau Acme", "Credit agency Acme")),
            origins: vec!["provided".into(), "observed".into()],
            automated_decision_logic: None,
        }],
        systems_searched: vec![
            SystemOutcome {
                system: system("crm", language),
                note: None,
                outcome: Some("found".into()),
                rows: Some(3),
            },
            SystemOutcome {
                system: system("ticketing", language),
                note: None,
                outcome: Some("not_found".into()),
                rows: None,
            },
        ],
        erased: vec![SystemOutcome {
            system: system("marketing", language),
            note: None,
            outcome: None,
            rows: None,
        }],
        kept: vec![KeptData {
            system: system("billing", language),
            categories: vec![l("Factuurgegevens", "Invoice data")],
            exception: l(
                "een wettelijke plicht om deze gegevens te bewaren (artikel 17, lid 3, onder b AVG); AWR art. 52",
                "a legal obligation to keep this data (Article 17(3)(b) GDPR); AWR art. 52",
            ),
            legal_claims: false,
            until: Some(date(2033, 12, 31)),
            criterion: None,
        }],
        recipients_notified: vec!["PostNL".into()],
        recipients_named: true,
        package: Some(PackageLink {
            url: "https://loket.example/packages/abc.def.ghi".into(),
            expires_on: date(2026, 12, 16),
            max_downloads: 3,
            passphrase: true,
        }),
        withheld: vec![WithheldFact {
            what: format!(
                "{}: {}",
                system("crm", language),
                l("Contactmomenten, Samenvatting", "Interactions, Summary")
            ),
            reason: l(
                "Hierin staat de naam van een andere klant.",
                "It names another customer.",
            ),
        }],
        suppressed: true,
        copy_sent_by_post_on: None,
        extension_ground: Some("complexity".into()),
    }
}

/// The request a letter of `kind` is about.
fn request_kind(letter: LetterKind) -> RequestKind {
    match letter {
        LetterKind::AccessAnswer => RequestKind::Access,
        LetterKind::PortabilityAnswer => RequestKind::Portability,
        LetterKind::ErasureConfirmation | LetterKind::Refusal => RequestKind::Erasure,
        LetterKind::RectificationOutcome => RequestKind::Rectification,
        LetterKind::RestrictionOutcome | LetterKind::RestrictionLiftNotice => {
            RequestKind::Restriction
        }
        LetterKind::ObjectionOutcome => RequestKind::Objection,
        LetterKind::HumanReviewOutcome => RequestKind::HumanReview,
        _ => RequestKind::Access,
    }
}

fn snapshot(name: &str, letter: &RenderedLetter) {
    let text = format!("Onderwerp/Subject: {}\n\n{}", letter.subject, letter.body);
    insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// What the check finds wrong with `letter` in `language`.
fn problems(language: Language, letter: &RenderedLetter) -> Vec<String> {
    let text = format!("{}\n{}", letter.subject, letter.body);
    let other = lint::other_language_names(SYSTEMS.iter().map(|s| &s.name), language);
    lint::problems_with_names(&text, language, &["anna", "customers", "invoices"], &other)
}

fn check_clean(name: &str, language: Language, letter: &RenderedLetter) {
    let problems = problems(language, letter);
    assert!(problems.is_empty(), "{name}: {problems:?}\n{}", letter.body);
}

/// The check is not blind to names: an English letter that names a system by the example
/// catalog's Dutch name fails it.
#[test]
fn a_dutch_system_name_in_an_english_letter_fails_the_check() {
    let mut context = context(RequestKind::Access, Language::En);
    context.systems_searched[1].system = system("call_recordings", Language::Nl);
    let letter = render(LetterKind::AccessAnswer, Language::En, &context).expect("renders");
    assert!(
        problems(Language::En, &letter)
            .iter()
            .any(|p| p.contains("`Gespreksopnames`")),
        "{}",
        letter.body
    );
}

#[test]
fn every_letter_in_both_languages_to_the_person_and_to_a_representative() {
    for &kind in LetterKind::VARIANTS {
        for language in [Language::Nl, Language::En] {
            for representative in [false, true] {
                let mut context = context(request_kind(kind), language);
                if representative {
                    context.representative = Some(RepresentativeInfo {
                        name: "Els Jansen".into(),
                        for_child: true,
                    });
                }
                let letter = render(kind, language, &context)
                    .unwrap_or_else(|e| panic!("{kind} {language}: {e}"));
                let to = if representative {
                    "representative"
                } else {
                    "person"
                };
                let name = format!("{kind}__{language}__{to}");
                check_clean(&name, language, &letter);
                snapshot(&name, &letter);
            }
        }
    }
}

/// The answers when nothing was kept or withheld, data went by post, and a legal hold keeps data:
/// the other branches of the letters that vary most.
#[test]
fn answers_without_withheld_or_kept_data_and_under_a_legal_hold() {
    for language in [Language::Nl, Language::En] {
        let mut plain = context(RequestKind::Access, language);
        plain.withheld.clear();
        plain.package = None;
        plain.copy_sent_by_post_on = Some(date(2026, 11, 20));
        let letter = render(LetterKind::AccessAnswer, language, &plain).expect("renders");
        check_clean("access by post", language, &letter);
        snapshot(&format!("access_answer__{language}__by_post"), &letter);

        let mut held = context(RequestKind::Erasure, language);
        held.kept[0].legal_claims = true;
        held.kept[0].until = None;
        held.suppressed = false;
        held.recipients_notified.clear();
        let letter = render(LetterKind::ErasureConfirmation, language, &held).expect("renders");
        check_clean("erasure under a hold", language, &letter);
        snapshot(
            &format!("erasure_confirmation__{language}__legal_hold"),
            &letter,
        );

        let mut nothing = context(RequestKind::Erasure, language);
        nothing.kept.clear();
        let letter = render(LetterKind::ErasureConfirmation, language, &nothing).expect("renders");
        assert!(letter.body.contains(&system("marketing", language)));
        check_clean("erasure all erased", language, &letter);
        snapshot(
            &format!("erasure_confirmation__{language}__all_erased"),
            &letter,
        );
    }
}

/// The agent's own text is in every answer letter, also the erasure confirmation.
#[test]
fn the_agents_own_text_is_kept_in_every_answer() {
    for language in [Language::Nl, Language::En] {
        for kind in [
            RequestKind::Access,
            RequestKind::Portability,
            RequestKind::Erasure,
            RequestKind::Rectification,
            RequestKind::Restriction,
            RequestKind::Objection,
            RequestKind::HumanReview,
        ] {
            let context = context(kind, language);
            let letter = crate::requests::letters::answer_letter(kind);
            let body = render(letter, language, &context).expect("renders").body;
            let message = context.message.as_deref().expect("message");
            assert!(body.contains(message), "{letter} {language}\n{body}");
        }
    }
}
