//! Words for the desk's codes (`erasure`, `in_progress`, …) in Dutch and English, used in
//! templates as `{{ label(code) }}`. A code without words is shown as it is.

const LABELS: &[(&str, &str, &str)] = &[
    // Request kinds.
    ("access", "Inzage", "Access"),
    ("rectification", "Correctie", "Rectification"),
    ("erasure", "Verwijdering", "Erasure"),
    ("restriction", "Beperking", "Restriction"),
    ("portability", "Overdraagbaarheid", "Portability"),
    ("objection", "Bezwaar", "Objection"),
    ("human_review", "Menselijke blik", "Human review"),
    // Links sent to a system's owner (issue #22).
    (
        "owner_link_open",
        "wacht op de eigenaar",
        "waiting for the owner",
    ),
    ("owner_link_used", "ingevuld", "answered"),
    ("owner_link_expired", "verlopen", "expired"),
    // Channels.
    ("phone", "Telefoon", "Phone"),
    ("email", "E-mail", "E-mail"),
    ("letter", "Brief", "Letter"),
    ("web_form", "Webformulier", "Web form"),
    ("counter", "Balie", "Counter"),
    // Request states.
    ("received", "Ontvangen", "Received"),
    (
        "verifying_identity",
        "Identiteit controleren",
        "Verifying identity",
    ),
    ("in_progress", "In behandeling", "In progress"),
    (
        "awaiting_approval",
        "Wacht op goedkeuring",
        "Awaiting approval",
    ),
    ("completed", "Afgehandeld", "Completed"),
    ("refused", "Afgewezen", "Refused"),
    ("withdrawn", "Ingetrokken", "Withdrawn"),
    // Task states.
    ("open", "Open", "Open"),
    ("done", "Gedaan", "Done"),
    ("not_applicable", "N.v.t.", "Not applicable"),
    // Identity checks.
    (
        "existing_login",
        "Ingelogd in bestaand account",
        "Signed in to an existing account",
    ),
    (
        "code_to_known_contact",
        "Code naar bekend adres of nummer",
        "Code to a known address or number",
    ),
    (
        "known_details",
        "Vragen over bekende gegevens",
        "Questions on known details",
    ),
    (
        "representative_authorisation",
        "Machtiging van vertegenwoordiger",
        "Representative's authorisation",
    ),
    (
        "id_document_checked",
        "ID-bewijs gezien en vernietigd",
        "ID document seen and destroyed",
    ),
    (
        "not_needed",
        "Niet nodig (geen redelijke twijfel)",
        "Not needed (no reasonable doubt)",
    ),
    // Refusal grounds.
    (
        "identity_not_established",
        "Identiteit niet vast te stellen",
        "Identity not established",
    ),
    (
        "manifestly_unfounded_or_excessive",
        "Kennelijk ongegrond of buitensporig",
        "Manifestly unfounded or excessive",
    ),
    (
        "legal_exception",
        "Wettelijke uitzondering",
        "Legal exception",
    ),
    (
        "no_data_processed",
        "Geen gegevens verwerkt",
        "No data processed",
    ),
    // Extension grounds and how a question was asked.
    ("complexity", "Complex verzoek", "Complex request"),
    ("number_of_requests", "Veel verzoeken", "Number of requests"),
    ("post", "Per post", "By post"),
    // Pause reasons.
    ("identity", "Identiteit", "Identity"),
    ("clarification", "Verduidelijking", "Clarification"),
    // Letters.
    (
        "receipt_confirmation",
        "Ontvangstbevestiging",
        "Receipt confirmation",
    ),
    ("verification_code", "Verificatiecode", "Verification code"),
    (
        "clarification_question",
        "Vraag om verduidelijking",
        "Clarification question",
    ),
    ("extension_notice", "Verlenging", "Extension notice"),
    ("access_answer", "Antwoord inzage", "Access answer"),
    (
        "portability_answer",
        "Antwoord overdraagbaarheid",
        "Portability answer",
    ),
    (
        "erasure_confirmation",
        "Bevestiging verwijdering",
        "Erasure confirmation",
    ),
    (
        "rectification_outcome",
        "Uitkomst correctie",
        "Rectification outcome",
    ),
    (
        "restriction_outcome",
        "Uitkomst beperking",
        "Restriction outcome",
    ),
    ("objection_outcome", "Uitkomst bezwaar", "Objection outcome"),
    (
        "human_review_outcome",
        "Uitkomst menselijke blik",
        "Human review outcome",
    ),
    ("refusal", "Afwijzing", "Refusal"),
    (
        "restriction_lift_notice",
        "Aankondiging opheffing beperking",
        "Notice of lifting the restriction",
    ),
    (
        "withdrawal_confirmation",
        "Bevestiging intrekking",
        "Withdrawal confirmation",
    ),
    // Roles.
    ("agent", "Medewerker", "Agent"),
    ("privacy_officer", "Privacyfunctionaris", "Privacy officer"),
    (
        "partner_agent",
        "Medewerker eerste lijn (partner)",
        "First-line partner agent",
    ),
    ("admin", "Beheerder", "Administrator"),
    ("service", "Systeemaccount", "Service account"),
    // Sensitivity of data categories.
    ("normal", "Gewoon", "Regular"),
    ("special", "Bijzonder (art. 9)", "Special (Art. 9)"),
    (
        "criminal",
        "Strafrechtelijk (art. 10)",
        "Criminal (Art. 10)",
    ),
    (
        "national_id",
        "Wettelijk nummer (BSN)",
        "National ID number",
    ),
    // Packages.
    ("building", "Wordt gemaakt", "Being built"),
    ("ready", "Klaar om te downloaden", "Ready to download"),
    ("deleted", "Verwijderd", "Deleted"),
    ("failed", "Mislukt", "Failed"),
    // Outbox.
    ("pending", "Wordt verstuurd", "Being sent"),
    ("sent", "Verstuurd", "Sent"),
    // What a dry run would do with rows.
    ("export", "Meegeven", "Export"),
    ("keep", "Bewaren (wettelijke plicht)", "Keep (legal duty)"),
    ("change", "Aanpassen", "Change"),
    // Sweeps.
    ("running", "Bezig", "Running"),
    ("finished", "Klaar", "Finished"),
    ("abandoned", "Afgebroken", "Abandoned"),
    ("delete", "Verwijderen", "Delete"),
    ("anonymise", "Anonimiseren", "Anonymise"),
    ("restrict", "Beperken", "Restrict"),
    ("review", "Beoordelen", "Review"),
];

/// `{{ label("erasure") }}` is "Verwijdering" on a Dutch page, "Erasure" on an English one.
pub fn label(state: &minijinja::State, code: String) -> String {
    word(&code, super::english(state))
}

/// The words for `code` in Dutch or English; the code itself when it has none.
pub fn word(code: &str, english: bool) -> String {
    LABELS
        .iter()
        .find(|(key, _, _)| *key == code)
        .map(|(_, nl, en)| if english { *en } else { *nl }.to_string())
        .unwrap_or_else(|| code.to_string())
}

/// Every code's words in one language, as JSON for a `<script type="application/json">`: the
/// desk's script shows what the API gives (the earlier requests while an agent types) by its
/// words too.
pub fn words_json(english: bool) -> String {
    let words: serde_json::Map<String, serde_json::Value> = LABELS
        .iter()
        .map(|(code, nl, en)| (code.to_string(), (if english { *en } else { *nl }).into()))
        .collect();
    serde_json::Value::Object(words)
        .to_string()
        .replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::LABELS;
    use crate::vocabulary::{
        Channel, RefusalGround, RequestKind, RequestState, TaskState, VerificationMethod,
    };
    use strum::VariantArray;

    fn has(code: &str) -> bool {
        LABELS.iter().any(|(key, _, _)| *key == code)
    }

    #[test]
    fn every_code_the_desk_shows_has_words() {
        let codes = RequestKind::VARIANTS
            .iter()
            .map(|v| v.as_str())
            .chain(Channel::VARIANTS.iter().map(|v| v.as_str()))
            .chain(RequestState::VARIANTS.iter().map(|v| v.as_str()))
            .chain(TaskState::VARIANTS.iter().map(|v| v.as_str()))
            .chain(VerificationMethod::VARIANTS.iter().map(|v| v.as_str()))
            .chain(RefusalGround::VARIANTS.iter().map(|v| v.as_str()))
            .chain(crate::auth::Role::ALL.iter().map(|v| v.as_str()))
            .chain(
                crate::mail::letters::LetterKind::VARIANTS
                    .iter()
                    .map(|v| <&str>::from(*v)),
            );
        for code in codes {
            assert!(has(code), "no words for '{code}'");
        }
    }
}
