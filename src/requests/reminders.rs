//! The daily reminder digest (issue 22): once a day, at `requests.reminders.send_hour`
//! (Amsterdam time), each assignee gets a mail listing their open requests that are overdue or
//! due within `due_within_days` days, and each privacy officer one listing all of them. Staff
//! read it in their own language (Dutch unless they chose English).
//!
//! A digest names a request only by its reference, kind and due date and links to its page on
//! the desk: nothing about the person. The same scan tells webhook subscribers, once per request
//! and event, that a request is due soon (`request.due_soon`) or overdue (`request.overdue`).
//!
//! Every instance runs the job; the day is claimed in the store first, so only one sends it.

use super::case::{facts_of, Case};
use super::checklist::right_names;
use super::RequestService;
use crate::auth::Role;
use crate::db::models::requests::{self as rows, RequestFilter, RequestRow};
use crate::db::models::users::{self as user_rows, ContactRow};
use crate::db::models::webhooks::claim_daily_job;
use crate::db::DbConnection;
use crate::error::Result;
use crate::ids::Username;
use crate::mail::letters::written_date;
use crate::mail::outbox::{self, Notice};
use crate::vocabulary::Language;
use crate::vocabulary::RequestState;
use crate::webhooks::{self, EventData, WebhookEvent};
use chrono::{NaiveDate, Timelike};

/// The job's name in `daily_job_runs`.
pub const JOB: &str = "reminder_digest";
/// How often the job looks whether its hour has come.
const TICK: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// More requests than this in one digest are counted, not listed.
const LISTED: usize = 100;

/// One request in a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestItem {
    pub id: String,
    pub reference: String,
    pub kind: String,
    pub due_on: NaiveDate,
    pub assignee: Option<Username>,
}

impl DigestItem {
    fn overdue(&self, today: NaiveDate) -> bool {
        self.due_on < today
    }
}

/// The digest one member of staff gets.
#[derive(Debug, Clone)]
pub struct Digest {
    pub username: String,
    pub items: Vec<DigestItem>,
    /// The outbox message, when the account has an address.
    pub outbox_id: Option<String>,
}

/// What a day's scan did.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// `false` when another instance (or an earlier call) already ran this day's scan.
    pub ran: bool,
    pub digests: Vec<Digest>,
    pub due_soon_events: usize,
    pub overdue_events: usize,
}

impl RequestService {
    /// The day's scan for `today`: webhook events and digests. Runs once per day across all
    /// instances (the day is claimed first); a second call for the same day does nothing.
    pub async fn daily_reminders(&self, today: NaiveDate) -> Result<ScanReport> {
        let service = self.clone();
        let report = self
            .store
            .write(move |conn| {
                if !claim_daily_job(conn, JOB, today, crate::db::now())? {
                    return Ok(ScanReport::default());
                }
                service.scan(conn, today)
            })
            .await?;
        if report.digests.iter().any(|d| d.outbox_id.is_some()) {
            (self.mail_queued)();
        }
        Ok(report)
    }

    fn scan(&self, conn: &mut DbConnection, today: NaiveDate) -> Result<ScanReport> {
        let policy = &self.policies.requests.reminders;
        let mut report = ScanReport {
            ran: true,
            ..ScanReport::default()
        };
        let due = due_requests(
            conn,
            today + chrono::TimeDelta::days(policy.due_within_days - 1),
        )?;
        for row in &due {
            let (event, count) = if row.due_on < today {
                (WebhookEvent::RequestOverdue, &mut report.overdue_events)
            } else {
                (WebhookEvent::RequestDueSoon, &mut report.due_soon_events)
            };
            if webhooks::emit(
                conn,
                event,
                EventData::Request(facts_of(row)),
                Some(&row.id),
            )? {
                *count += 1;
            }
        }
        let items: Vec<DigestItem> = due
            .into_iter()
            .map(|row| DigestItem {
                id: row.id.to_string(),
                reference: row.reference,
                kind: row.kind.to_string(),
                due_on: row.due_on,
                assignee: row.assignee,
            })
            .collect();
        for contact in user_rows::active_contacts(conn)? {
            let mine = digest_for(&contact, &items);
            if mine.is_empty() {
                continue;
            }
            let outbox_id = match contact.email.as_deref() {
                Some(address) => Some(self.queue_digest(conn, &contact, address, &mine, today)?),
                None => {
                    tracing::info!(user = %contact.username, "no address for the reminder digest");
                    None
                }
            };
            report.digests.push(Digest {
                username: contact.username,
                items: mine,
                outbox_id,
            });
        }
        Ok(report)
    }

    fn queue_digest(
        &self,
        conn: &mut DbConnection,
        contact: &ContactRow,
        address: &str,
        items: &[DigestItem],
        today: NaiveDate,
    ) -> Result<String> {
        let english = contact.language == "en";
        let text = render(
            items,
            today,
            english,
            &self.public_url,
            &contact.display_name,
        );
        Ok(outbox::enqueue_notice(
            conn,
            &self.cipher,
            Notice {
                request_id: None,
                template: JOB,
                language: if english { Language::En } else { Language::Nl },
                recipient: address,
                subject: &text.0,
                body: &text.1,
            },
        )?)
    }
}

/// Open, confirmed requests due on or before `last_day`, not paused (while the person is asked
/// something the clock stands still), soonest first.
fn due_requests(conn: &mut DbConnection, last_day: NaiveDate) -> Result<Vec<RequestRow>> {
    let filter = RequestFilter {
        states: <RequestState as strum::VariantArray>::VARIANTS
            .iter()
            .filter(|s| !s.is_closed())
            .map(|s| s.as_str().to_string())
            .collect(),
        due_before: last_day.succ_opt(),
        ..RequestFilter::default()
    };
    let mut due = Vec::new();
    for row in rows::list_requests(conn, &filter, 0, i64::MAX)? {
        let case = Case::with_row(conn, row)?;
        if !case.is_paused() {
            due.push(case.row);
        }
    }
    Ok(due)
}

/// What `contact` is told about: an assignee their own requests; a privacy officer every one.
fn digest_for(contact: &ContactRow, items: &[DigestItem]) -> Vec<DigestItem> {
    let officer = contact.role == Role::PrivacyOfficer.as_str();
    items
        .iter()
        .filter(|item| officer || item.assignee.as_deref() == Some(contact.username.as_str()))
        .cloned()
        .collect()
}

/// Subject and body of a digest, in Dutch or English.
fn render(
    items: &[DigestItem],
    today: NaiveDate,
    english: bool,
    public_url: &str,
    name: &str,
) -> (String, String) {
    let overdue = items.iter().filter(|i| i.overdue(today)).count();
    let soon = items.len() - overdue;
    let (subject, greeting, intro, more) = if english {
        (
            format!("Requests to finish: {overdue} overdue, {soon} due soon"),
            format!("Dear {name},"),
            "These requests are overdue or due soon. Open them on the desk:".to_string(),
            "more requests; see the queue on the desk",
        )
    } else {
        (
            format!("Verzoeken af te ronden: {overdue} verlopen, {soon} bijna verlopen"),
            format!("Beste {name},"),
            "Deze verzoeken zijn over hun termijn of bijna. Open ze in loket:".to_string(),
            "verzoeken meer; zie de wachtrij in loket",
        )
    };
    let mut body = format!("{greeting}\n\n{intro}\n\n");
    for item in items.iter().take(LISTED) {
        body.push_str(&line(item, today, english, public_url));
    }
    if items.len() > LISTED {
        body.push_str(&format!("\n… {} {more}\n", items.len() - LISTED));
    }
    body.push_str(if english {
        "\nThis reminder comes every morning while requests are overdue or due soon.\n"
    } else {
        "\nDeze herinnering komt elke ochtend zolang er verzoeken (bijna) verlopen zijn.\n"
    });
    (subject, body)
}

fn line(item: &DigestItem, today: NaiveDate, english: bool, public_url: &str) -> String {
    let kind = item
        .kind
        .parse()
        .map(|kind| {
            let (nl, en) = right_names(kind);
            if english {
                en
            } else {
                nl
            }
        })
        .unwrap_or(item.kind.as_str());
    let days = (item.due_on - today).num_days();
    let due = written_date(
        item.due_on,
        if english { Language::En } else { Language::Nl },
    );
    let when = match (english, days) {
        (true, d) if d < 0 => format!("overdue since {due} ({} days)", -d),
        (true, 0) => format!("due today, {due}"),
        (true, d) => format!("due {due} ({d} days left)"),
        (false, d) if d < 0 => format!("verlopen sinds {due} ({} dagen)", -d),
        (false, 0) => format!("termijn verloopt vandaag, {due}"),
        (false, d) => format!("termijn verloopt {due} (nog {d} dagen)"),
    };
    let unassigned = match (&item.assignee, english) {
        (None, true) => " — not assigned",
        (None, false) => " — niet toegewezen",
        _ => "",
    };
    format!(
        "- {} ({kind}): {when}{unassigned}\n  {public_url}/desk/requests/{}\n",
        item.reference, item.id
    )
}

/// The daily job while `serve` runs: every ten minutes it looks whether the send hour has come
/// in Amsterdam, and runs the day's scan once it has (the store's claim keeps it to once a day).
pub async fn every_day(service: RequestService) {
    let mut interval = tokio::time::interval(TICK);
    loop {
        interval.tick().await;
        let policy = service.policies.requests.reminders.clone();
        if !policy.enabled {
            return;
        }
        let local = super::dutch_time(crate::db::now());
        if local.hour() < policy.send_hour {
            continue;
        }
        match service.daily_reminders(local.date()).await {
            Ok(report) if report.ran => tracing::info!(
                digests = report.digests.len(),
                due_soon = report.due_soon_events,
                overdue = report.overdue_events,
                "reminder digests queued"
            ),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "the reminder digest could not run"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(reference: &str, due: NaiveDate, assignee: Option<&str>) -> DigestItem {
        DigestItem {
            id: format!("id-{reference}"),
            reference: reference.into(),
            kind: "erasure".into(),
            due_on: due,
            assignee: assignee.map(Username::from),
        }
    }

    #[test]
    fn the_digest_is_dutch_or_english_and_names_only_the_reference() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let items = [
            item(
                "V-1",
                NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                Some("anna"),
            ),
            item("V-2", NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(), None),
        ];
        let (subject, body) = render(&items, today, false, "https://loket.example.nl", "Anna");
        assert_eq!(
            subject,
            "Verzoeken af te ronden: 1 verlopen, 1 bijna verlopen"
        );
        assert!(
            body.contains("- V-1 (wissing): verlopen sinds 1 december 2026 (2 dagen)"),
            "{body}"
        );
        assert!(
            body.contains("termijn verloopt 7 december 2026 (nog 4 dagen) — niet toegewezen"),
            "{body}"
        );
        assert!(
            body.contains("https://loket.example.nl/desk/requests/id-V-1"),
            "{body}"
        );
        let (subject, body) = render(&items, today, true, "https://loket.example.nl", "Anna");
        assert_eq!(subject, "Requests to finish: 1 overdue, 1 due soon");
        assert!(
            body.contains("overdue since 1 December 2026 (2 days)"),
            "{body}"
        );
    }

    #[test]
    fn an_assignee_gets_their_own_and_an_officer_all() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let items = [
            item("V-1", today, Some("anna")),
            item("V-2", today, Some("bram")),
        ];
        let contact = |username: &str, role: Role| ContactRow {
            username: username.into(),
            display_name: username.into(),
            role: role.as_str().into(),
            email: None,
            language: "nl".into(),
        };
        let refs = |c: &ContactRow| -> Vec<String> {
            digest_for(c, &items)
                .into_iter()
                .map(|i| i.reference)
                .collect()
        };
        assert_eq!(refs(&contact("anna", Role::Agent)), ["V-1"]);
        assert_eq!(
            refs(&contact("femke", Role::PrivacyOfficer)),
            ["V-1", "V-2"]
        );
        assert!(refs(&contact("cees", Role::Agent)).is_empty());
    }
}
