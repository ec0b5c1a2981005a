//! What the desk and the public pages tell a person when the API refuses: one plain sentence
//! per error `code` and per field error `code` (see `api::error`), in Dutch and English. The
//! page carries the table for its language; `desk.js` shows the sentence, never the API's
//! English `message`.

/// `(code, Dutch, English)` for the situations.
const SITUATIONS: &[(&str, &str, &str)] = &[
    ("not_found", "Dit bestaat niet (meer). Herlaad de pagina.", "This does not exist (any more). Reload the page."),
    ("validation_failed", "Niet alles is goed ingevuld. Kijk bij de gemarkeerde velden.", "Not everything is filled in correctly. See the marked fields."),
    ("conflict", "Dit kan nu niet in deze stand van het verzoek. Herlaad de pagina en kijk wat er nog moet gebeuren.", "This cannot be done in the request's current state. Reload the page and see what is left to do."),
    ("stale", "Iemand anders heeft dit intussen gewijzigd. Herlaad de pagina en probeer het opnieuw.", "Someone else changed this in the meantime. Reload the page and try again."),
    ("tasks_open", "Er staan nog taken open. Rond eerst de open stappen van de checklist af.", "Some tasks are still open. Finish the open steps of the checklist first."),
    ("no_email", "Er is geen e-mailadres bekend. Druk de brief af, verstuur hem per post en leg de verzenddatum vast.", "There is no e-mail address on file. Print the letter, send it by post and record the day it was sent."),
    ("closed", "Dit verzoek is afgesloten en kan niet meer worden gewijzigd.", "This request is closed and can no longer be changed."),
    ("wrong_state", "Deze stap past niet bij de huidige stand van het verzoek.", "This step does not fit the request's current state."),
    ("needs_approval", "Dit gaat pas de deur uit als een privacyfunctionaris het goedkeurt. Leg het eerst ter goedkeuring voor.", "This goes out only when a privacy officer approves it. Propose it for approval first."),
    ("identity_first", "Leg eerst vast hoe de identiteit is gecontroleerd.", "Record how identity was checked first."),
    ("already_done", "Dit is al gebeurd.", "This has already been done."),
    ("exists", "Dit bestaat al.", "This already exists."),
    ("invalid_credentials", "Gebruikersnaam of wachtwoord klopt niet.", "Username or password is not correct."),
    ("too_many_attempts", "Te veel mislukte pogingen. Wacht even en probeer het dan opnieuw.", "Too many failed attempts. Wait a moment and try again."),
    ("busy", "Het is even druk. Probeer het over een paar seconden opnieuw.", "The server is busy. Try again in a few seconds."),
    ("forbidden", "Uw rol staat dit niet toe.", "Your role does not allow this."),
    ("gone", "Dit is verlopen of al gebruikt.", "This has expired or has already been used."),
    ("connector_failed", "De koppeling met het systeem werkte niet. Probeer het later opnieuw of doe deze stap met de hand.", "The connection to the system failed. Try again later or do this step by hand."),
    ("unavailable", "De database is even niet bereikbaar. Probeer het zo opnieuw.", "The database cannot be reached right now. Try again shortly."),
    ("internal_error", "Er ging iets mis aan onze kant. Het is vastgelegd; probeer het later opnieuw.", "Something went wrong on our side. It has been logged; try again later."),
    ("bad_request", "Het formulier kon niet worden gelezen. Herlaad de pagina.", "The form could not be read. Reload the page."),
    ("unauthenticated", "U bent niet (meer) aangemeld. Meld u opnieuw aan.", "You are not signed in (any more). Sign in again."),
    ("csrf_rejected", "De pagina is verlopen. Herlaad de pagina en probeer het opnieuw.", "The page has expired. Reload it and try again."),
    ("payload_too_large", "Dit is te groot om te versturen.", "This is too large to send."),
    ("unsupported_media_type", "Het formulier kon niet worden gelezen. Herlaad de pagina.", "The form could not be read. Reload the page."),
    ("network", "Geen verbinding met de server. Controleer de verbinding en probeer het opnieuw.", "No connection to the server. Check the connection and try again."),
];

/// `(code, Dutch, English)` for a field's problem, shown next to the field.
const FIELDS: &[(&str, &str, &str)] = &[
    ("required", "Vul dit in.", "Fill this in."),
    (
        "unknown_field",
        "Dit veld hoort hier niet. Herlaad de pagina.",
        "This field does not belong here. Reload the page.",
    ),
    (
        "wrong_type",
        "Dit heeft niet de goede vorm.",
        "This does not have the right form.",
    ),
    (
        "email",
        "Vul een geldig e-mailadres in, zoals naam@voorbeeld.nl.",
        "Enter a valid e-mail address, such as name@example.com.",
    ),
    ("date", "Vul een geldige datum in.", "Enter a valid date."),
    (
        "choice",
        "Kies een van de mogelijkheden.",
        "Choose one of the options.",
    ),
    ("too_long", "Dit is te lang.", "This is too long."),
    (
        "bsn",
        "Vul geen burgerservicenummer (BSN) in; dat mogen wij niet vastleggen.",
        "Do not enter a citizen service number (BSN); we may not record it.",
    ),
    ("number", "Vul een heel getal in.", "Enter a whole number."),
    (
        "invalid",
        "Dit klopt niet. Controleer wat u invulde.",
        "This is not right. Check what you entered.",
    ),
];

/// The other words `desk.js` writes itself: the dry run's table.
const SCRIPT: &[(&str, &str, &str)] = &[
    ("effect.delete", "wordt verwijderd", "will be erased"),
    (
        "effect.anonymise",
        "wordt geanonimiseerd (de rij blijft)",
        "is anonymised (the row stays)",
    ),
    (
        "effect.keep",
        "blijft bewaard (wettelijke plicht)",
        "is kept (legal duty)",
    ),
    ("effect.export", "wordt meegegeven", "will be exported"),
    ("effect.restrict", "wordt beperkt", "will be restricted"),
    ("effect.change", "wordt aangepast", "will be changed"),
    ("dry_run.table", "Tabel", "Table"),
    ("dry_run.rows", "Rijen", "Rows"),
    ("dry_run.what", "Wat er gebeurt", "What happens"),
    (
        "dry_run.none",
        "De koppeling vindt geen gegevens van deze persoon.",
        "The connector finds no data of this person.",
    ),
    (
        "dry_run.held",
        "Er geldt een bewaarplicht (legal hold): er wordt niets verwijderd, alles blijft bewaard.",
        "A legal hold applies: nothing is erased, everything is kept.",
    ),
    (
        "dry_run.confirm",
        "Klopt dit? Bevestig hieronder om te verwijderen.",
        "Is this right? Confirm below to erase.",
    ),
];

/// The table a page hands to `desk.js`: `{"code": text, "field.code": text}` in `english` or
/// Dutch.
pub fn texts(english: bool) -> serde_json::Map<String, serde_json::Value> {
    let pick = |nl: &str, en: &str| serde_json::Value::from(if english { en } else { nl });
    SITUATIONS
        .iter()
        .map(|(code, nl, en)| (code.to_string(), pick(nl, en)))
        .chain(
            FIELDS
                .iter()
                .map(|(code, nl, en)| (format!("field.{code}"), pick(nl, en))),
        )
        .chain(
            SCRIPT
                .iter()
                .map(|(code, nl, en)| (code.to_string(), pick(nl, en))),
        )
        .collect()
}

/// Both tables serialised for a page's `<script type="application/json">`, with `<` escaped so
/// no text can close the script element.
pub fn texts_json(english: bool) -> String {
    serde_json::Value::Object(texts(english))
        .to_string()
        .replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::{ERROR_CODES, FIELD_CODES};
    use crate::error::Error;

    #[test]
    fn every_code_the_domain_sets_is_listed_and_has_words_in_both_languages() {
        let (dutch, english) = (texts(false), texts(true));
        for code in Error::codes() {
            assert!(ERROR_CODES.contains(&code), "{code} is not in ERROR_CODES");
            for (table, language) in [(&dutch, "nl"), (&english, "en")] {
                let text = table.get(code).and_then(|t| t.as_str());
                assert!(
                    text.is_some_and(|t| !t.trim().is_empty()),
                    "no {language} words for the domain's code {code}"
                );
            }
        }
    }

    #[test]
    fn every_code_the_api_gives_has_words_in_both_languages() {
        for (english, language) in [(false, "nl"), (true, "en")] {
            let table = texts(english);
            for code in ERROR_CODES
                .iter()
                .map(|c| c.to_string())
                .chain(FIELD_CODES.iter().map(|c| format!("field.{c}")))
            {
                let text = table.get(&code).and_then(|t| t.as_str());
                assert!(
                    text.is_some_and(|t| !t.trim().is_empty()),
                    "no {language} words for error code {code}"
                );
            }
        }
        // Two languages, not one copied: every Dutch sentence differs from its English one.
        let (dutch, english) = (texts(false), texts(true));
        for (code, text) in &dutch {
            assert_ne!(Some(text), english.get(code), "{code} is not translated");
        }
    }
}
