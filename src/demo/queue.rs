//! The demo's queue: a dozen requests of every kind and state, registered through the same
//! services the desk and the API use, by the demo agent and officer, so that the audit trail,
//! the letters in the outbox and the deadlines are what real work would leave behind.

use super::organisation::Customer;
use crate::auth::Role;
use crate::crypto::Cipher;
use crate::db::schema::{outbox, requests};
use crate::ids::RequestId;
use crate::requests::public::PublicRequest;
use crate::requests::{RequestService, Staff};
use crate::vocabulary::TaskKind;
use anyhow::Context;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};

/// What a planned request goes through after intake.
#[derive(Debug, Clone, Copy)]
enum Then {
    /// Registered and left for an agent; identity not checked yet.
    Registered,
    /// Identity checked during the call: the work has started.
    Verified,
    /// Verified, then paused with a question to the person.
    Paused(&'static str),
    /// Verified, then a refusal proposed for the privacy officer's approval.
    RefusalProposed,
    /// Worked to the end: every task closed, the answer sent, completed.
    Completed,
    /// Withdrawn by the person before it was worked.
    Withdrawn,
}

struct Planned {
    kind: &'static str,
    channel: &'static str,
    /// Index into the demo customers; `None` is someone who is not a customer.
    customer: Option<usize>,
    days_ago: i64,
    details: &'static str,
    then: Then,
}

/// Someone who is in none of the organisation's systems.
const STRANGER: (&str, &str) = ("Thomas Vos", "thomas.vos@example.org");

const PLAN: &[Planned] = &[
    Planned { kind: "access", channel: "phone", customer: Some(0), days_ago: 1, details: "Wil weten welke gegevens wij van hem hebben en aan wie we die geven.", then: Then::Verified },
    Planned { kind: "erasure", channel: "phone", customer: Some(1), days_ago: 2, details: "Heeft zijn abonnement opgezegd en wil dat al zijn gegevens worden verwijderd.", then: Then::Verified },
    Planned { kind: "rectification", channel: "email", customer: Some(2), days_ago: 9, details: "Haar geboortedatum staat verkeerd in het klantbestand.", then: Then::Verified },
    Planned { kind: "restriction", channel: "letter", customer: Some(3), days_ago: 6, details: "Betwist de juistheid van haar adres; wil dat het niet meer wordt gebruikt tot het is uitgezocht.", then: Then::Registered },
    Planned { kind: "objection", channel: "email", customer: Some(4), days_ago: 4, details: "Wil geen aanbiedingen meer ontvangen.", then: Then::Verified },
    Planned { kind: "human_review", channel: "letter", customer: Some(6), days_ago: 3, details: "Zijn aanvraag voor een toestel op afbetaling werd automatisch afgewezen.", then: Then::Registered },
    Planned { kind: "access", channel: "letter", customer: Some(7), days_ago: 40, details: "Vraagt per brief om een kopie van haar gegevens.", then: Then::Verified },
    Planned { kind: "erasure", channel: "email", customer: Some(8), days_ago: 20, details: "Wil dat alles wordt verwijderd, maar zijn identiteit kon niet worden vastgesteld.", then: Then::RefusalProposed },
    Planned { kind: "access", channel: "email", customer: Some(9), days_ago: 12, details: "Vraagt om 'alles wat jullie hebben'.", then: Then::Paused("U vraagt om al uw gegevens. Gaat het om uw klantgegevens, uw facturen, uw gespreksopnames, of om alles?") },
    Planned { kind: "rectification", channel: "phone", customer: Some(10), days_ago: 15, details: "Nieuw e-mailadres doorgegeven.", then: Then::Completed },
    Planned { kind: "objection", channel: "phone", customer: Some(11), days_ago: 8, details: "Belde om bezwaar te maken, maar trok het in hetzelfde gesprek weer in.", then: Then::Withdrawn },
    Planned { kind: "access", channel: "phone", customer: None, days_ago: 0, details: "Vraagt of wij gegevens van hem hebben; hij is geen klant.", then: Then::Verified },
];

/// Portability and erasure through the public web form: both confirmed with the code from
/// their e-mail, as the person would.
const FROM_THE_FORM: &[(&str, usize, &str)] = &[
    (
        "portability",
        5,
        "Ik stap over naar een andere provider en wil mijn gegevens meenemen.",
    ),
    ("access", 12, "Graag een overzicht van mijn gegevens."),
];

/// Registers the demo queue; returns the references made.
pub async fn register(
    service: &RequestService,
    cipher: &Cipher,
    customers: &[Customer],
    agent: &str,
) -> anyhow::Result<Vec<String>> {
    let agent = Staff {
        username: agent.into(),
        role: Role::Agent,
    };
    let mut references = Vec::new();
    for planned in PLAN {
        let view = service
            .register(agent.clone(), from_json(intake(planned, customers))?)
            .await
            .with_context(|| format!("registering the demo {} request", planned.kind))?;
        references.push(view.reference.clone());
        follow_up(service, &agent, planned.then, view.id, view.version)
            .await
            .with_context(|| format!("working the demo request {}", view.reference))?;
    }
    for (kind, index, details) in FROM_THE_FORM {
        let customer = &customers[*index];
        let form: PublicRequest = from_json(json!({
            "kind": kind, "name": customer.name, "email": customer.email,
            "customer_number": customer.customer_number, "details": details,
        }))?;
        let submitted = service.submit_public(form).await?;
        let code = code_from_mail(service, cipher, &submitted.reference).await?;
        service
            .confirm_public(submitted.reference.clone(), code)
            .await
            .context("confirming a demo web-form request")?;
        references.push(submitted.reference);
    }
    Ok(references)
}

/// The intake as an agent fills it in while the caller is on the line.
fn intake(planned: &Planned, customers: &[Customer]) -> Value {
    let received = Utc::now() - Duration::days(planned.days_ago);
    let requester = match planned.customer {
        Some(index) => {
            let customer = &customers[index];
            json!({
                "name": customer.name, "email": customer.email,
                "customer_number": customer.customer_number, "phone": customer.phone,
            })
        }
        None => json!({"name": STRANGER.0, "email": STRANGER.1}),
    };
    let mut intake = json!({
        "kind": planned.kind, "channel": planned.channel,
        "received_at": received.to_rfc3339(),
        "requester": requester, "details": planned.details,
    });
    if !matches!(planned.then, Then::Registered | Then::Withdrawn) {
        intake["identity"] = json!({
            "method": "known_details",
            "note": "klantnummer en geboortedatum kwamen overeen met het klantbestand",
        });
    }
    intake
}

async fn follow_up(
    service: &RequestService,
    agent: &Staff,
    then: Then,
    id: RequestId,
    version: i32,
) -> anyhow::Result<()> {
    match then {
        Then::Registered | Then::Verified => {}
        Then::Paused(question) => {
            let pause =
                json!({"version": version, "reason": "clarification", "question": question});
            service
                .start_pause(agent.clone(), id, from_json(pause)?)
                .await?;
        }
        Then::RefusalProposed => {
            let proposal = json!({
                "to": "awaiting_approval", "version": version, "outcome": "refused",
                "refusal_ground": "identity_not_established",
                "reason": "De gegevens die de verzoeker gaf, komen niet overeen met het klantbestand en de code naar het bekende telefoonnummer werd niet teruggegeven.",
            });
            // The officer decides it in *Goedkeuren*.
            service
                .transition(agent.clone(), id, from_json(proposal)?)
                .await?;
        }
        Then::Completed => complete(service, agent, id).await?,
        Then::Withdrawn => {
            let withdrawal = json!({
                "to": "withdrawn", "version": version,
                "withdrawal": {
                    "channel": "phone",
                    "received_on": crate::requests::today(),
                    "note": "De klant trok het bezwaar in tijdens hetzelfde telefoongesprek.",
                },
            });
            service
                .transition(agent.clone(), id, from_json(withdrawal)?)
                .await?;
        }
    }
    Ok(())
}

/// Closes every task with evidence, sends the answer and completes the request.
async fn complete(service: &RequestService, agent: &Staff, id: RequestId) -> anyhow::Result<()> {
    let view = service.get(id.clone()).await?;
    // The answer letter closes its own task.
    for task in view.tasks.iter().filter(|task| task.state.is_open()) {
        if task.kind == TaskKind::SendAnswer {
            continue;
        }
        let done = json!({
            "version": task.version, "state": "done",
            "evidence": "Nieuw e-mailadres ingevoerd in het klantbestand en gecontroleerd.",
        });
        service
            .update_task(agent.clone(), id.clone(), task.id.clone(), from_json(done)?)
            .await?;
    }
    let view = service.get(id.clone()).await?;
    let letter =
        json!({"letter": "rectification_outcome", "message": "Uw nieuwe e-mailadres is verwerkt."});
    let view = service
        .send_letter(agent.clone(), id.clone(), view.version, from_json(letter)?)
        .await?;
    let completed = json!({"to": "completed", "version": view.version});
    service
        .transition(agent.clone(), id, from_json(completed)?)
        .await?;
    Ok(())
}

/// The code in the e-mail the web form sent, read as the person would read it.
async fn code_from_mail(
    service: &RequestService,
    cipher: &Cipher,
    reference: &str,
) -> anyhow::Result<String> {
    let reference = reference.to_string();
    let sealed: String = service
        .store
        .read(move |conn| {
            let request_id: String = requests::table
                .filter(requests::reference.eq(&reference))
                .select(requests::id)
                .first(conn)?;
            outbox::table
                .filter(outbox::request_id.eq(request_id))
                .filter(outbox::template.eq("verification_code"))
                .select(outbox::body_enc)
                .first(conn)
                .map_err(crate::db::StoreError::from)
        })
        .await?;
    let body = cipher.decrypt("outbox.body", &sealed)?;
    body.split_whitespace()
        .find(|word| word.len() == 6 && word.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .context("the verification e-mail holds no code")
}

/// The services take what the API takes; building it as JSON keeps the demo to the API's terms.
fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> anyhow::Result<T> {
    serde_json::from_value(value).context("a demo request the services do not accept")
}
