//! Reading requests: one request in full, the queue sorted by due date, and the figures a
//! privacy officer watches.

use super::case::Case;
use super::requester::{normalise_customer_number, normalise_email, normalise_phone, place};
use super::view::{RequestSummary, RequestView};
use super::{deadline, RequestService};
use crate::catalog::model::IdentifierKind;
use crate::db::models::requests::{self as rows, RequestFilter};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::ids::{RequestId, Username};
use crate::vocabulary::{RequestKind, RequestState};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the queue is narrowed to, as the caller gives it.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub states: Vec<RequestState>,
    pub kind: Option<RequestKind>,
    pub assignee: Option<Username>,
    pub due_before: Option<NaiveDate>,
    /// Finds the requests of one person through the lookup index.
    pub email: Option<String>,
    pub customer_number: Option<String>,
    pub phone: Option<String>,
    pub bsn: Option<String>,
    /// What an agent typed in the queue's search box: a reference, an e-mail address, customer
    /// number or phone number (through the lookup indexes), or part of a name.
    pub search: Option<String>,
    /// Only requests no one is assigned to.
    pub unassigned: bool,
    /// A partner agent's view: only the requests their team registered.
    pub team: Option<String>,
}

/// How many requests a name search reads: names are sealed, so they are opened and compared
/// here, on the requests the other filters leave.
const NAME_SEARCH_LIMIT: i64 = 2_000;
/// The most of a person's other requests a request's view lists.
const EARLIER_SHOWN: i64 = 50;

/// What a search term is taken for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Search {
    Reference(String),
    /// An identifier: looked up through the keyed indexes.
    Identifier(String),
    /// Part of a name, compared case-insensitively.
    Name(String),
}

impl Search {
    fn of(term: &str) -> Option<Search> {
        let term = term.trim();
        if term.is_empty() {
            return None;
        }
        let upper = term.to_uppercase();
        // References are `AVG-2026-K7Q2M9XP`: a word of letters, then two or more parts.
        let parts: Vec<&str> = upper.split('-').collect();
        let is_reference = parts.len() >= 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
            && parts[0].chars().all(|c| c.is_ascii_alphabetic());
        Some(if is_reference {
            Search::Reference(upper)
        } else if term.contains('@') || term.chars().any(|c| c.is_ascii_digit()) {
            Search::Identifier(term.to_string())
        } else {
            Search::Name(term.to_lowercase())
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    pub items: Vec<RequestSummary>,
    pub total: i64,
}

#[derive(utoipa::ToSchema, Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub open: i64,
    pub open_by_kind: BTreeMap<String, i64>,
    pub open_by_state: BTreeMap<String, i64>,
    pub overdue: i64,
    pub due_within_7_days: i64,
    pub closed: i64,
    /// Requests the person withdrew: not answered, so outside the shares below, but counted.
    pub withdrawn: i64,
    /// Of the closed requests, the share answered within one month of receipt (0 to 1);
    /// `null` while none is closed.
    pub answered_within_one_month: Option<f64>,
    pub answered_within_three_months: Option<f64>,
    /// The last [`WEEKS_SHOWN`] weeks (Monday to Sunday, oldest first), by week of receipt.
    pub weeks: Vec<WeekFigures>,
}

/// How many weeks the statistics break down.
pub const WEEKS_SHOWN: usize = 12;

/// The requests received in one week and how their answers went.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct WeekFigures {
    /// The Monday the week starts on.
    pub week_start: NaiveDate,
    pub received: i64,
    /// Of those received, the ones answered (completed or refused) by now.
    pub answered: i64,
    pub answered_within_one_month: i64,
    /// `answered_within_one_month / answered`; `null` while none is answered.
    pub share_within_one_month: Option<f64>,
}

impl RequestService {
    pub async fn get(&self, request_id: RequestId) -> Result<RequestView> {
        let service = self.clone();
        self.store
            .read(move |conn| {
                let case = Case::load(conn, &request_id)?;
                service.view_in(conn, &case)
            })
            .await
    }

    /// The full view of a case, with the earlier requests of the same person.
    pub(crate) fn view_in(&self, conn: &mut DbConnection, case: &Case) -> Result<RequestView> {
        let earlier = self.earlier_requests(conn, case)?;
        if case.fresh {
            return self.fresh_view(case, earlier);
        }
        // What a request of its kind, with its tasks, or without the marks the database keeps
        // on its row, cannot have is not looked for: an access request without comments or
        // owner links reads five tables fewer, an erasure without keep choices, kept rows or a
        // ground three more.
        let comments = match case.row.has_comments {
            true => rows::list_comments(conn, case.id())?,
            false => Vec::new(),
        };
        let mut view = RequestView::build(&self.cipher, case, &comments, earlier, super::today())?;
        let kind = case.kind();
        if kind.has_keep_choices() && case.row.has_keep_choices {
            let mut reasons = super::choices::reasons(conn, &self.cipher, case.id())?;
            for task in &mut view.tasks {
                task.detail = reasons.remove(&task.id);
            }
        }
        if case.row.has_kept_rows && case.tasks.iter().any(|task| task.kind.may_keep_rows()) {
            view.kept = super::kept::views(conn, case.id())?;
        }
        if kind.has_ground() && case.row.has_ground {
            view.ground = self.ground_view(conn, case)?;
        }
        if case.row.has_owner_links {
            view.owner_links = self.owner_links_in(conn, case.id())?;
        }
        Ok(view)
    }

    /// The view of a case registered by this call ([`Case::fresh`]): nothing refers to it yet,
    /// so it needs nothing read but the person's `earlier` requests.
    pub(crate) fn fresh_view(
        &self,
        case: &Case,
        earlier: Vec<RequestSummary>,
    ) -> Result<RequestView> {
        debug_assert!(
            case.fresh,
            "only a case registered by this call has nothing else"
        );
        RequestView::build(&self.cipher, case, &[], earlier, super::today())
    }

    /// The person's other requests (by any identifier the case has), newest first.
    pub(crate) fn earlier_requests(
        &self,
        conn: &mut DbConnection,
        case: &Case,
    ) -> Result<Vec<RequestSummary>> {
        let today = super::today();
        let person = RequestFilter {
            same_person: Some(rows::PersonIndexes::of(&case.row)),
            ..RequestFilter::default()
        };
        let mut earlier = Vec::new();
        for row in rows::list_summaries(conn, &person, 0, EARLIER_SHOWN)? {
            if row.id != case.row.id {
                earlier.push(RequestSummary::from_row(&self.cipher, &row, today)?);
            }
        }
        earlier.sort_by_key(|summary| std::cmp::Reverse(summary.received_at));
        Ok(earlier)
    }

    pub async fn queue(&self, filter: QueueFilter, offset: i64, limit: i64) -> Result<Queue> {
        let service = self.clone();
        let search = filter.search.as_deref().and_then(Search::of);
        if let Some(Search::Name(part)) = search {
            return self.queue_by_name(filter, part, offset, limit).await;
        }
        self.store
            .read(move |conn| {
                let filter = service.row_filter(filter);
                let found = rows::list_summaries(conn, &filter, offset, limit)?;
                let total = rows::count_requests(conn, &filter)?;
                let today = super::today();
                Ok(Queue {
                    items: found
                        .iter()
                        .map(|row| RequestSummary::from_row(&service.cipher, row, today))
                        .collect::<Result<_>>()?,
                    total,
                })
            })
            .await
    }

    /// The queue narrowed to requests whose requester's name contains `part`.
    async fn queue_by_name(
        &self,
        filter: QueueFilter,
        part: String,
        offset: i64,
        limit: i64,
    ) -> Result<Queue> {
        let service = self.clone();
        self.store
            .read(move |conn| {
                let filter = service.row_filter(filter);
                let today = super::today();
                let mut items = Vec::new();
                for row in rows::list_summaries(conn, &filter, 0, NAME_SEARCH_LIMIT)? {
                    let summary = RequestSummary::from_row(&service.cipher, &row, today)?;
                    let name = summary.requester_name.as_deref().unwrap_or_default();
                    if name.to_lowercase().contains(&part) {
                        items.push(summary);
                    }
                }
                let total = items.len() as i64;
                let start = usize::try_from(offset).unwrap_or(0).min(items.len());
                let end = start
                    .saturating_add(usize::try_from(limit).unwrap_or(0))
                    .min(items.len());
                Ok(Queue {
                    items: items[start..end].to_vec(),
                    total,
                })
            })
            .await
    }

    fn row_filter(&self, filter: QueueFilter) -> RequestFilter {
        let (reference, same_person) = match filter.search.as_deref().and_then(Search::of) {
            Some(Search::Reference(reference)) => (Some(reference), None),
            // The term is hashed as each kind of identifier: it finds the person whichever it is.
            Some(Search::Identifier(term)) => (
                None,
                Some(rows::PersonIndexes {
                    email: Some(self.cipher.index(place::EMAIL, &normalise_email(&term))),
                    customer_number: Some(
                        self.cipher
                            .index(place::CUSTOMER_NUMBER, &normalise_customer_number(&term)),
                    ),
                    phone: Some(self.cipher.index(place::PHONE, &normalise_phone(&term))),
                    bsn: None,
                }),
            ),
            Some(Search::Name(_)) | None => (None, None),
        };
        RequestFilter {
            reference,
            same_person,
            unassigned: filter.unassigned,
            states: filter
                .states
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            kind: filter.kind.map(|k| k.as_str().to_string()),
            assignee: filter.assignee,
            due_before: filter.due_before,
            email_index: filter
                .email
                .map(|v| self.cipher.index(place::EMAIL, &normalise_email(&v))),
            customer_number_index: filter.customer_number.map(|v| {
                self.cipher
                    .index(place::CUSTOMER_NUMBER, &normalise_customer_number(&v))
            }),
            phone_index: filter
                .phone
                .map(|v| self.cipher.index(place::PHONE, &normalise_phone(&v))),
            bsn_index: filter.bsn.map(|v| {
                self.cipher
                    .index(place::BSN, &IdentifierKind::Bsn.normalise(&v))
            }),
            created_by_team: filter.team,
        }
    }

    /// The letters queued for a request, newest last, with their delivery status.
    pub async fn letters(
        &self,
        request_id: RequestId,
    ) -> Result<Vec<crate::mail::outbox::OutboxEntry>> {
        let cipher = self.cipher.clone();
        self.store
            .read(move |conn| {
                let case = Case::load(conn, &request_id)?;
                crate::mail::outbox::list_for_request(conn, &cipher, case.id())
            })
            .await
    }

    /// One letter of the request as it went out, with its text (for the print view).
    pub async fn letter(
        &self,
        request_id: RequestId,
        letter_id: String,
    ) -> Result<(crate::mail::outbox::OutboxEntry, String)> {
        let cipher = self.cipher.clone();
        self.store
            .read(move |conn| {
                let case = Case::load(conn, &request_id)?;
                crate::mail::outbox::letter_of_request(conn, &cipher, case.id(), &letter_id)?
                    .ok_or_else(|| Error::not_found(format!("letter '{letter_id}'")))
            })
            .await
    }

    /// The request's history from the audit trail, oldest first.
    pub async fn timeline(&self, request_id: RequestId) -> Result<Vec<crate::audit::AuditEvent>> {
        let reference = self
            .store
            .read(move |conn| -> Result<String> {
                Ok(Case::load(conn, &request_id)?.row.reference)
            })
            .await?;
        let mut page = crate::audit::list(
            &self.store,
            Some(("request".to_string(), reference)),
            0,
            TIMELINE_LENGTH,
        )
        .await?;
        page.items.reverse();
        Ok(page.items)
    }

    pub async fn stats(&self) -> Result<Stats> {
        self.store
            .read(|conn| {
                let found = rows::stats_rows(conn)?;
                compute_stats(&found, super::today())
            })
            .await
    }
}

/// The most events a request's timeline shows.
const TIMELINE_LENGTH: i64 = 500;

pub(crate) fn compute_stats(found: &[rows::StatsRow], today: NaiveDate) -> Result<Stats> {
    let mut stats = Stats {
        weeks: weekly_figures(found, today)?,
        ..Stats::default()
    };
    let (mut within_one, mut within_three) = (0i64, 0i64);
    for row in found {
        let state = row.state;
        if state.is_closed() {
            // Withdrawn requests were never answered; they count neither way.
            if state == RequestState::Withdrawn {
                stats.withdrawn += 1;
                continue;
            }
            stats.closed += 1;
            let received = super::dutch_date(row.received_at);
            let answered = row.closed_at.map(super::dutch_date).unwrap_or(today);
            if within_one_month(row.received_at, answered) {
                within_one += 1;
            }
            let three_months = deadline::due_date(
                &deadline::DeadlineInput {
                    received_on: received,
                    extended: true,
                    pauses: Vec::new(),
                },
                today,
            );
            if answered <= three_months {
                within_three += 1;
            }
            continue;
        }
        stats.open += 1;
        *stats.open_by_kind.entry(row.kind.to_string()).or_default() += 1;
        *stats
            .open_by_state
            .entry(row.state.to_string())
            .or_default() += 1;
        if row.due_on < today {
            stats.overdue += 1;
        } else if row.due_on <= today + chrono::TimeDelta::days(7) {
            stats.due_within_7_days += 1;
        }
    }
    if stats.closed > 0 {
        stats.answered_within_one_month = Some(within_one as f64 / stats.closed as f64);
        stats.answered_within_three_months = Some(within_three as f64 / stats.closed as f64);
    }
    Ok(stats)
}

/// Whether a request received at `received_at` and closed at `closed_at` was answered within
/// one month of receipt (the day of receipt and of answer in Dutch time).
fn within_one_month(received_at: chrono::NaiveDateTime, answered: NaiveDate) -> bool {
    answered <= deadline::first_due_date(super::dutch_date(received_at))
}

fn weekly_figures(found: &[rows::StatsRow], today: NaiveDate) -> Result<Vec<WeekFigures>> {
    use chrono::Datelike;
    let this_monday =
        today - chrono::TimeDelta::days(today.weekday().num_days_from_monday().into());
    let first = this_monday - chrono::TimeDelta::weeks(WEEKS_SHOWN as i64 - 1);
    let mut weeks: Vec<WeekFigures> = (0..WEEKS_SHOWN)
        .map(|n| WeekFigures {
            week_start: first + chrono::TimeDelta::weeks(n as i64),
            received: 0,
            answered: 0,
            answered_within_one_month: 0,
            share_within_one_month: None,
        })
        .collect();
    for row in found {
        let received = super::dutch_date(row.received_at);
        if received < first {
            continue;
        }
        let Some(week) = weeks.get_mut(((received - first).num_days() / 7) as usize) else {
            continue;
        };
        week.received += 1;
        let state = row.state;
        if let (true, Some(closed_at)) = (
            state.is_closed() && state != RequestState::Withdrawn,
            row.closed_at,
        ) {
            week.answered += 1;
            if within_one_month(row.received_at, super::dutch_date(closed_at)) {
                week.answered_within_one_month += 1;
            }
        }
    }
    for week in &mut weeks {
        if week.answered > 0 {
            week.share_within_one_month =
                Some(week.answered_within_one_month as f64 / week.answered as f64);
        }
    }
    Ok(weeks)
}

#[cfg(test)]
mod search_tests {
    use super::Search;

    #[test]
    fn a_search_term_is_read_as_reference_identifier_or_name() {
        assert_eq!(
            Search::of(" avg-2026-k7q2m9xp "),
            Some(Search::Reference("AVG-2026-K7Q2M9XP".into()))
        );
        assert_eq!(
            Search::of("TN-448812"),
            Some(Search::Identifier("TN-448812".into()))
        );
        assert_eq!(
            Search::of("+31 6 1234 5678"),
            Some(Search::Identifier("+31 6 1234 5678".into()))
        );
        assert_eq!(
            Search::of("jan@example.nl"),
            Some(Search::Identifier("jan@example.nl".into()))
        );
        assert_eq!(
            Search::of("De Vries"),
            Some(Search::Name("de vries".into()))
        );
        assert_eq!(Search::of("  "), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        state: &str,
        received: (i32, u32, u32),
        closed: Option<(i32, u32, u32)>,
    ) -> rows::StatsRow {
        let at = |(y, m, d): (i32, u32, u32)| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap()
        };
        let received_at = at(received);
        rows::StatsRow {
            kind: RequestKind::Access,
            state: state.parse().expect("a request state"),
            due_on: deadline::first_due_date(received_at.date()),
            received_at,
            closed_at: closed.map(at),
            channel: crate::vocabulary::Channel::Phone,
            refusal_ground: None,
            partly_refused: false,
        }
    }

    #[test]
    fn shares_count_answers_against_receipt() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let stats = compute_stats(
            &[
                row("completed", (2026, 3, 5), Some((2026, 4, 3))),
                row("completed", (2026, 3, 5), Some((2026, 5, 20))),
                row("refused", (2026, 3, 5), Some((2026, 8, 1))),
                row("withdrawn", (2026, 3, 5), Some((2026, 3, 6))),
                row("in_progress", (2026, 10, 1), None),
                row("received", (2026, 11, 20), None),
            ],
            today,
        )
        .unwrap();
        assert_eq!(stats.closed, 3);
        assert_eq!(stats.open, 2);
        assert_eq!(stats.overdue, 1);
        assert!((stats.answered_within_one_month.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert!((stats.answered_within_three_months.unwrap() - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn weeks_count_receipts_and_timely_answers() {
        // A Monday: the current week starts today.
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let stats = compute_stats(
            &[
                row("completed", (2026, 11, 2), Some((2026, 11, 20))),
                row("refused", (2026, 11, 3), Some((2026, 11, 23))),
                row("withdrawn", (2026, 11, 4), Some((2026, 11, 5))),
                row("received", (2026, 11, 23), None),
                row("completed", (2026, 9, 7), Some((2026, 11, 20))),
                row("completed", (2025, 1, 6), Some((2025, 1, 7))),
            ],
            today,
        )
        .unwrap();
        assert_eq!(stats.weeks.len(), WEEKS_SHOWN);
        assert_eq!(
            stats.weeks[0].week_start,
            NaiveDate::from_ymd_opt(2026, 9, 7).unwrap()
        );
        let last = stats.weeks.last().unwrap();
        assert_eq!(
            (last.week_start, last.received, last.answered),
            (today, 1, 0)
        );
        assert_eq!(last.share_within_one_month, None);
        let early_november = &stats.weeks[8];
        assert_eq!(
            early_november.week_start,
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
        );
        assert_eq!(
            (early_november.received, early_november.answered),
            (3, 2),
            "a withdrawal is no answer"
        );
        assert_eq!(early_november.share_within_one_month, Some(1.0));
        let september = &stats.weeks[0];
        assert_eq!(
            (
                september.received,
                september.answered,
                september.answered_within_one_month
            ),
            (1, 1, 0)
        );
        assert_eq!(september.share_within_one_month, Some(0.0));
        let counted: i64 = stats.weeks.iter().map(|w| w.received).sum();
        assert_eq!(
            counted, 5,
            "a request from last year is outside the weeks shown"
        );
    }
}
