//! The request's timeline in sentences: the audit trail's events (written for auditors, in
//! English with codes and usernames) told in the page's language, with people's names, task
//! numbers from 1 and the letters, states and identity checks by their labels.

use super::labels::word;
use crate::audit::AuditEvent;
use crate::requests::view::TaskView;
use serde::Serialize;

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub occurred_at: chrono::NaiveDateTime,
    pub who: String,
    pub text: String,
}

/// The events as lines, oldest first, as the audit trail lists them.
pub fn lines(
    events: &[AuditEvent],
    tasks: &[TaskView],
    people: &[(String, String)],
    english: bool,
) -> Vec<Line> {
    events
        .iter()
        .map(|event| Line {
            occurred_at: event.occurred_at,
            who: who(&event.actor, people, english),
            text: sentence(event, tasks, people, english),
        })
        .collect()
}

fn who(actor: &str, people: &[(String, String)], english: bool) -> String {
    match actor.strip_prefix("user:") {
        Some(username) => super::agent::display_name(people, username),
        None if actor == "cli" => (if english {
            "administrator"
        } else {
            "beheerder"
        })
        .into(),
        // A web-form request is registered by the person themselves.
        None if actor.contains("public") => {
            (if english { "the person" } else { "de persoon" }).into()
        }
        None => "loket".into(),
    }
}

fn sentence(
    event: &AuditEvent,
    tasks: &[TaskView],
    people: &[(String, String)],
    english: bool,
) -> String {
    let t = |nl: &str, en: &str| {
        if english {
            en.to_string()
        } else {
            nl.to_string()
        }
    };
    let summary = event.summary.as_str();
    let task = || task_line(summary, tasks, english);
    match event.action.as_str() {
        "request.received" => t(
            "Verzoek ontvangen en vastgelegd",
            "Request received and registered",
        ),
        "request.identity_verified" => {
            let method = between(summary, '(', ')').map(|m| word(m, english));
            match method {
                Some(method) => format!(
                    "{}: {method}",
                    t("Identiteit gecontroleerd", "Identity checked")
                ),
                None => t("Identiteit gecontroleerd", "Identity checked"),
            }
        }
        "request.task.done" => format!("{} {}", t("Afgerond:", "Done:"), task()),
        "request.task.not_applicable" => format!(
            "{} {}",
            t("Niet van toepassing:", "Not applicable:"),
            task()
        ),
        "request.task.run" => format!(
            "{} {}",
            t("Uitgevoerd via de koppeling:", "Run through the connector:"),
            task()
        ),
        "request.task.commented" => format!("{} {}", t("Opmerking bij", "Comment on"), task()),
        "request.task.assigned" => format!("{} {}", t("Toegewezen:", "Assigned:"), task()),
        "request.code_sent" => t(
            "Code gestuurd om het e-mailadres te bevestigen",
            "Code sent to confirm the e-mail address",
        ),
        "request.code_rejected" => t("Een verkeerde code ingevuld", "A wrong code was entered"),
        "request.email_confirmed" => t("E-mailadres bevestigd", "E-mail address confirmed"),
        "request.attachment.added" => t("Document toegevoegd", "Document attached"),
        "request.redaction.added" => t(
            "Gegevens uit de kopie weggelaten",
            "Data withheld from the copy",
        ),
        "request.redaction.removed" => t(
            "Weggelaten gegevens weer opgenomen",
            "Withheld data put back",
        ),
        "request.ground.recorded" => t("Grond vastgelegd", "Ground recorded"),
        "request.restriction.lift_noticed" => t(
            "Opheffing van de beperking aangekondigd",
            "Lifting of the restriction announced",
        ),
        "request.restriction.lifted" => t("Beperking opgeheven", "Restriction lifted"),
        "request.state_changed" => state_change(summary, english),
        _ => update(summary, people, english),
    }
}

/// "task 3 (erase_data, crm) done: done" as "3. Verwijder de gegevens uit CRM".
fn task_line(summary: &str, tasks: &[TaskView], english: bool) -> String {
    let number = summary
        .strip_prefix("task ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<i32>().ok());
    match number.and_then(|n| tasks.iter().find(|t| t.position + 1 == n).map(|t| (n, t))) {
        Some((n, task)) => format!(
            "{} {n}, {}",
            if english { "task" } else { "taak" },
            if english {
                &task.title_en
            } else {
                &task.title_nl
            }
        ),
        None => (if english { "a task" } else { "een taak" }).into(),
    }
}

/// "in_progress -> completed" as "Stand: In behandeling → Afgehandeld".
fn state_change(summary: &str, english: bool) -> String {
    let head = summary.split(',').next().unwrap_or_default();
    match head.split_once(" -> ") {
        Some((from, to)) => format!(
            "{}: {} → {}",
            if english { "State" } else { "Stand" },
            word(from.trim(), english),
            word(to.trim(), english)
        ),
        None => update(summary, &[], english),
    }
}

/// The changes recorded as `request.updated`, told by what their summary starts with.
fn update(summary: &str, people: &[(String, String)], english: bool) -> String {
    let t = |nl: &str, en: &str| {
        if english {
            en.to_string()
        } else {
            nl.to_string()
        }
    };
    if let Some(rest) = summary.strip_prefix("letter ") {
        let kind = rest.split(' ').next().unwrap_or_default();
        return format!(
            "{} {}",
            t("Brief verstuurd:", "Letter sent:"),
            word(kind, english)
        );
    }
    if let Some(username) = summary.strip_prefix("assigned to ") {
        return format!(
            "{} {}",
            t("Toegewezen aan", "Assigned to"),
            super::agent::display_name(people, username.trim())
        );
    }
    if summary == "unassigned" {
        return t("Niet meer toegewezen", "No longer assigned");
    }
    if let Some((letter, day)) = summary.split_once(" sent by post on ") {
        let day = chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
            .map(|d| super::spell_day(d, english))
            .unwrap_or_else(|_| day.to_string());
        let what = if letter.starts_with("copy of the data") {
            t("Kopie van de gegevens", "Copy of the data")
        } else {
            word(letter, english)
        };
        return format!(
            "{what} {} {day}",
            t("per post verstuurd op", "sent by post on")
        );
    }
    if summary.starts_with("extended to") {
        return t("Termijn verlengd", "Deadline extended");
    }
    if summary.starts_with("paused from") {
        return t(
            "Gepauzeerd: wacht op antwoord van de persoon",
            "Paused: waiting for the person's answer",
        );
    }
    if summary.starts_with("resumed") {
        return t(
            "Hervat: het antwoord is binnen",
            "Resumed: the answer has arrived",
        );
    }
    if summary.starts_with("identity verified") {
        return t("Identiteit gecontroleerd", "Identity checked");
    }
    t("Verzoek bijgewerkt", "Request updated")
}

fn between(text: &str, open: char, close: char) -> Option<&str> {
    let start = text.find(open)? + open.len_utf8();
    let end = start + text[start..].find(close)?;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str, summary: &str) -> AuditEvent {
        AuditEvent {
            seq: 1,
            occurred_at: chrono::NaiveDateTime::default(),
            actor: "user:anna".into(),
            action: action.into(),
            object_type: "request".into(),
            object_id: "AVG-2026-X".into(),
            summary: summary.into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn events_read_as_sentences_with_names() {
        let people = vec![("anna".to_string(), "Anna de Boer".to_string())];
        let events = [
            event("request.state_changed", "in_progress -> completed"),
            event("request.updated", "letter erasure_confirmation queued"),
            event("request.updated", "assigned to anna"),
            event(
                "request.updated",
                "erasure_confirmation sent by post on 2026-12-02",
            ),
        ];
        let nl: Vec<String> = lines(&events, &[], &people, false)
            .into_iter()
            .map(|l| format!("{}: {}", l.who, l.text))
            .collect();
        assert_eq!(
            nl,
            [
                "Anna de Boer: Stand: In behandeling → Afgehandeld",
                "Anna de Boer: Brief verstuurd: Bevestiging verwijdering",
                "Anna de Boer: Toegewezen aan Anna de Boer",
                "Anna de Boer: Bevestiging verwijdering per post verstuurd op 2 december 2026",
            ]
        );
        let en = lines(&events[..1], &[], &people, true);
        assert_eq!(en[0].text, "State: In progress → Completed");
    }
}
