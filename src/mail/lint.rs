//! What a letter to a person may never contain: internal text (usernames, hashes, table and
//! column names, the codes of loket's vocabularies) and words of the other language. The letter
//! snapshots and the end-to-end letter tests run every letter through [`problems`], so a template
//! or a context that lets internal text through fails a test instead of reaching a citizen.

use crate::catalog::text::Text;
use crate::vocabulary::Language;

/// Codes of loket's vocabularies that must never reach a letter as such (the law's words do).
/// Codes with an underscore are never ordinary words; single-word codes are caught by the other
/// language's word list where they are English, and listed here where they could slip through.
pub const INTERNAL_CODES: &[&str] = &[
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
    "public_authority",
    "standard_contractual_clauses",
    "adequacy_decision",
    "binding_corporate_rules",
    "not_found",
    "not_reachable",
    "number_of_requests",
    "legal_claims",
    "public_health",
    "manifestly_unfounded_or_excessive",
    "identity_not_established",
    "no_data_processed",
    "legal_exception",
    "keep_under_exception",
    "erase_data",
    "export_data",
    "send_answer",
    "human_review",
    "privacy_officer",
    "regular",
    "AVG/GDPR",
    "legal hold",
];

/// Words that mark the other language: English words in a Dutch letter.
const ENGLISH_WORDS: &[&str] = &[
    "processor",
    "controller",
    "recipient",
    "standard contractual clauses",
    "safeguard",
    "contract",
    "legal obligation",
    "legitimate interest",
    "consent",
    "retention",
    "Article",
    "GDPR",
    "Art.",
    "the",
    "and",
    "your",
    "data",
    "request",
    "years",
    "after",
    "customer",
    "complaint",
    "invoice",
    "Netherlands",
    "United States",
    "January",
    "February",
    "March",
    "May",
    "June",
    "July",
    "August",
    "October",
];

/// Words that mark the other language: Dutch words in an English letter. The Dutch names of
/// Dutch institutions and laws ("Autoriteit Persoonsgegevens", "Uitvoeringswet AVG", bezwaar)
/// are proper names in English letters too, and a postal address names its country as the post
/// writes it ("Groningen, Nederland"), so they are not listed.
const DUTCH_WORDS: &[&str] = &[
    "verwerker",
    "verwerkingsverantwoordelijke",
    "ontvanger",
    "modelcontractbepalingen",
    "grondslag",
    "bewaartermijn",
    "toestemming",
    "overeenkomst",
    "wettelijke",
    "gerechtvaardigd",
    "artikel",
    "lid",
    "onder",
    "gegevens",
    "verzoek",
    "jaar",
    "klant",
    "klacht",
    "factuur",
    "januari",
    "februari",
    "maart",
    "mei",
    "juni",
    "juli",
    "augustus",
    "oktober",
];

/// Everything wrong with `text` as a letter in `language`; `internal` lists what else must stay
/// out (the usernames, table and column names of the case at hand). Empty when the letter is
/// clean.
pub fn problems(text: &str, language: Language, internal: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for needle in INTERNAL_CODES.iter().chain(internal) {
        if contains_word(text, needle) {
            found.push(format!("internal text `{needle}`"));
        }
    }
    if let Some(hash) = long_hex(text) {
        found.push(format!("a hash `{hash}`"));
    }
    let other = match language {
        Language::Nl => ENGLISH_WORDS,
        Language::En => DUTCH_WORDS,
    };
    for word in other {
        if contains_word(text, word) {
            found.push(format!("a word of the other language `{word}`"));
        }
    }
    found
}

/// [`problems`], and any of `other_names` (see [`other_language_names`]): the catalog's names
/// of the other language, such as a Dutch system name in an English letter.
pub fn problems_with_names(
    text: &str,
    language: Language,
    internal: &[&str],
    other_names: &[&str],
) -> Vec<String> {
    let mut found = problems(text, language, internal);
    for name in other_names {
        if contains_word(text, name) {
            found.push(format!("a name of the other language `{name}`"));
        }
    }
    found
}

/// The versions of the catalog's `names` (of systems, activities) that a letter in `language`
/// must not contain: each name as written in the other language, where it differs from the
/// name in `language`. A name given only as a plain string is Dutch, so in an English letter it
/// is a catalog that is not translated yet, and counts.
pub fn other_language_names<'a>(
    names: impl IntoIterator<Item = &'a Text>,
    language: Language,
) -> Vec<&'a str> {
    let other = match language {
        Language::Nl => Language::En,
        Language::En => Language::Nl,
    };
    names
        .into_iter()
        .filter(|name| name.has(other))
        .filter(|name| !name.has(language) || name.get(language) != name.get(other))
        .map(|name| name.get(other))
        .collect()
}

/// Whether `needle` stands in `text` as a whole word (or phrase), case-sensitively for words
/// that start with a capital, otherwise in any case.
fn contains_word(text: &str, needle: &str) -> bool {
    let capital = needle.starts_with(char::is_uppercase);
    let (haystack, needle) = if capital {
        (text.to_string(), needle.to_string())
    } else {
        (text.to_lowercase(), needle.to_lowercase())
    };
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    haystack.match_indices(&needle).any(|(at, _)| {
        !is_word(haystack[..at].chars().next_back())
            && !is_word(haystack[at + needle.len()..].chars().next())
    })
}

/// The first run of 32 or more hexadecimal digits (a SHA-256 or MD5 digest, a token).
fn long_hex(text: &str) -> Option<&str> {
    let mut start = None;
    for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_ascii_hexdigit(), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                if at - from >= 32 {
                    return Some(&text[from..at]);
                }
                start = None;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_codes_hashes_names_and_the_other_language() {
        let clean = "Beste Jan, wij hebben uw gegevens verwijderd.";
        assert!(problems(clean, Language::Nl, &["anna"]).is_empty());
        let dirty = "Beste Jan, anna ran erase_data on customers: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 (processor, NL)";
        let found = problems(dirty, Language::Nl, &["anna", "customers"]);
        for part in [
            "`anna`",
            "`customers`",
            "`erase_data`",
            "hash",
            "`processor`",
        ] {
            assert!(found.iter().any(|p| p.contains(part)), "{part}: {found:?}");
        }
        assert!(
            problems("Dear Jan, your data (artikel 15)", Language::En, &[])
                .iter()
                .any(|p| p.contains("artikel"))
        );
        // Part of a word is not the word: "Andersen" holds no "and".
        assert!(problems("Beste Andersen,", Language::Nl, &[]).is_empty());
    }

    #[test]
    fn a_name_of_the_other_language_is_found() {
        let recordings = Text::Translated {
            nl: Some("Gespreksopnames".into()),
            en: Some("Call recordings".into()),
        };
        let crm = Text::Translated {
            nl: Some("KlantBeeld CRM".into()),
            en: Some("KlantBeeld CRM".into()),
        };
        let untranslated = Text::from("Werving & selectie");
        let names = [&recordings, &crm, &untranslated];
        let english = other_language_names(names, Language::En);
        assert_eq!(english, ["Gespreksopnames", "Werving & selectie"]);
        assert_eq!(
            other_language_names(names, Language::Nl),
            ["Call recordings"]
        );

        let letter = "Dear Jan, we searched Gespreksopnames and KlantBeeld CRM.";
        let found = problems_with_names(letter, Language::En, &[], &english);
        assert_eq!(found, ["a name of the other language `Gespreksopnames`"]);
        let letter = "Dear Jan, we searched Call recordings and KlantBeeld CRM.";
        assert!(problems_with_names(letter, Language::En, &[], &english).is_empty());
    }
}
