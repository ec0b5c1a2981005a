//! Requests, their checklist tasks, pauses and comments. Columns ending in `_enc` hold ciphertext
//! (see `crate::crypto`); this layer never sees plaintext personal data.
//!
//! Requests and tasks carry a `version`: every update names the version it was based on and
//! changes nothing when someone else updated the row first (optimistic concurrency).

use crate::db::models::outbox::OutboxRow;
use crate::db::schema::{outbox, request_pauses, request_tasks, requests, task_comments};
use crate::db::with::With;
use crate::db::{DbConnection, StoreError};
use crate::ids::{RequestId, TaskId, Username};
use crate::vocabulary::{
    Channel, ExtensionGround, Language, PauseReason, ProposedOutcome, QuestionChannel,
    RefusalGround, RequestKind, RequestState, SearchOutcome, TaskKind, TaskState,
    VerificationMethod,
};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text, Timestamp};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = requests, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct RequestRow {
    pub id: RequestId,
    pub reference: String,
    pub kind: RequestKind,
    pub channel: Channel,
    pub state: RequestState,
    pub language: Language,
    pub received_at: chrono::NaiveDateTime,
    pub due_on: chrono::NaiveDate,
    pub extended: bool,
    pub extension_reason: Option<String>,
    pub identity_verified: bool,
    pub verification_method: Option<VerificationMethod>,
    pub verified_by: Option<String>,
    pub verified_at: Option<chrono::NaiveDateTime>,
    pub email_confirmed: bool,
    pub confirmation_code_hash: Option<String>,
    pub confirmation_expires_at: Option<chrono::NaiveDateTime>,
    pub confirmation_attempts: i32,
    pub name_enc: Option<String>,
    pub email_enc: Option<String>,
    pub customer_number_enc: Option<String>,
    pub phone_enc: Option<String>,
    pub details_enc: Option<String>,
    pub representative_enc: Option<String>,
    pub email_index: Option<String>,
    pub customer_number_index: Option<String>,
    pub phone_index: Option<String>,
    pub assignee: Option<Username>,
    pub proposed_outcome: Option<ProposedOutcome>,
    pub refusal_ground: Option<RefusalGround>,
    pub decision_reason_enc: Option<String>,
    pub justification_enc: Option<String>,
    pub proposed_by: Option<String>,
    pub approved_by: Option<String>,
    pub version: i32,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub closed_at: Option<chrono::NaiveDateTime>,
    /// The day a copy of the data was posted, for an answer without a package (Art. 15(3)).
    pub copy_sent_by_post_on: Option<chrono::NaiveDate>,
    /// The ground of the extension from the law's list (Art. 12(3)).
    pub extension_ground: Option<ExtensionGround>,
    /// What the answer refuses and why, for a partial refusal awaiting or past approval.
    pub partial_refusal_enc: Option<String>,
    /// A BSN given as an identifier, sealed, and its lookup hash (UAVG art. 46: only where the
    /// catalog names the law that allows it).
    pub bsn_enc: Option<String>,
    pub bsn_index: Option<String>,
    /// Whether the request has pauses, comments on its tasks, owner links: set by the database
    /// when one is inserted (triggers), never by a save of this row, so a read skips the tables
    /// it has nothing in.
    #[diesel(skip_update)]
    pub has_pauses: bool,
    #[diesel(skip_update)]
    pub has_comments: bool,
    #[diesel(skip_update)]
    pub has_owner_links: bool,
    /// Likewise whether it has packages, attachments, redactions, or a record that the person
    /// asked who the recipients are: the package's plan and the answer skip those tables.
    #[diesel(skip_update)]
    pub has_packages: bool,
    #[diesel(skip_update)]
    pub has_attachments: bool,
    #[diesel(skip_update)]
    pub has_redactions: bool,
    #[diesel(skip_update)]
    pub has_recipients_asked: bool,
    /// Likewise whether it has keep choices, kept rows or a recorded ground: the view of an
    /// erasure or a restriction skips those tables. A write that adds one to a case in memory
    /// marks it there too ([`crate::requests::case::Case`]), as the view is built from it.
    #[diesel(skip_update)]
    pub has_keep_choices: bool,
    #[diesel(skip_update)]
    pub has_kept_rows: bool,
    #[diesel(skip_update)]
    pub has_ground: bool,
}

/// The columns a line of the queue shows: a page of them reads a fraction of whole rows.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = requests)]
pub struct SummaryRow {
    pub id: RequestId,
    pub reference: String,
    pub kind: RequestKind,
    pub channel: Channel,
    pub state: RequestState,
    pub received_at: chrono::NaiveDateTime,
    pub due_on: chrono::NaiveDate,
    pub extended: bool,
    pub email_confirmed: bool,
    pub assignee: Option<Username>,
    pub name_enc: Option<String>,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = request_tasks, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct TaskRow {
    pub id: TaskId,
    pub request_id: RequestId,
    pub position: i32,
    pub kind: TaskKind,
    pub title_nl: String,
    pub title_en: String,
    pub system_key: Option<String>,
    pub activity_key: Option<String>,
    pub categories: String,
    pub recipient: Option<String>,
    pub legal_exception: Option<String>,
    pub keep_until: Option<chrono::NaiveDate>,
    pub state: TaskState,
    pub assignee: Option<Username>,
    pub evidence_enc: Option<String>,
    pub closed_by: Option<String>,
    pub closed_at: Option<chrono::NaiveDateTime>,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// What the search of the task's system found: found, not_found or not_reachable.
    pub outcome: Option<SearchOutcome>,
    /// The rows found, with outcome found.
    pub found_rows: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = request_pauses, treat_none_as_default_value = false)]
pub struct PauseRow {
    pub id: String,
    pub request_id: RequestId,
    pub started_on: chrono::NaiveDate,
    pub ended_on: Option<chrono::NaiveDate>,
    pub reason: PauseReason,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
    /// The question the pause waits for an answer to, sealed.
    pub question_enc: Option<String>,
    /// How the question was asked: email (the clarification letter), phone or post.
    pub asked_via: Option<QuestionChannel>,
    /// The day the end of the pause was recorded (`ended_on` is the day the answer arrived).
    pub ended_recorded_on: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = task_comments, treat_none_as_default_value = false)]
pub struct CommentRow {
    pub id: String,
    pub task_id: TaskId,
    pub author: String,
    pub body_enc: String,
    pub created_at: chrono::NaiveDateTime,
}

/// What the queue can be narrowed to. Every field is optional; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub states: Vec<String>,
    pub kind: Option<String>,
    pub assignee: Option<Username>,
    pub due_before: Option<chrono::NaiveDate>,
    pub email_index: Option<String>,
    pub customer_number_index: Option<String>,
    pub phone_index: Option<String>,
    /// The request with this reference.
    pub reference: Option<String>,
    /// Only requests no one is assigned to.
    pub unassigned: bool,
    pub bsn_index: Option<String>,
    /// Only the requests registered by members of this partner team (issue 21).
    pub created_by_team: Option<String>,
    /// The requests of one person: any of these identifiers in common.
    pub same_person: Option<PersonIndexes>,
}

/// The lookup indexes of one person's identifiers, as a request stores them.
#[derive(Debug, Clone, Default)]
pub struct PersonIndexes {
    pub email: Option<String>,
    pub customer_number: Option<String>,
    pub phone: Option<String>,
    pub bsn: Option<String>,
}

/// A condition on the requests table, built at run time.
type Condition = Box<
    dyn BoxableExpression<
        requests::table,
        Backend,
        SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
    >,
>;

impl PersonIndexes {
    /// Any of the known identifiers equal: `a = ? OR b = ?`, naming only the known ones. A
    /// constant-false term in the OR (diesel's empty `IN`) made SQLite scan the due-date index
    /// instead of searching each identifier's index.
    fn matches(&self) -> Option<Condition> {
        let known = [
            self.email
                .clone()
                .map(|v| Box::new(requests::email_index.eq(v)) as Condition),
            self.customer_number
                .clone()
                .map(|v| Box::new(requests::customer_number_index.eq(v)) as Condition),
            self.phone
                .clone()
                .map(|v| Box::new(requests::phone_index.eq(v)) as Condition),
            self.bsn
                .clone()
                .map(|v| Box::new(requests::bsn_index.eq(v)) as Condition),
        ];
        known
            .into_iter()
            .flatten()
            .reduce(|either, or| Box::new(either.or(or)))
    }

    pub fn of(row: &RequestRow) -> Self {
        PersonIndexes {
            email: row.email_index.clone(),
            customer_number: row.customer_number_index.clone(),
            phone: row.phone_index.clone(),
            bsn: row.bsn_index.clone(),
        }
    }
}

/// The columns the statistics need, without any personal data.
#[derive(Debug, Clone, Queryable)]
pub struct StatsRow {
    pub kind: RequestKind,
    pub state: RequestState,
    pub due_on: chrono::NaiveDate,
    pub received_at: chrono::NaiveDateTime,
    pub closed_at: Option<chrono::NaiveDateTime>,
    pub channel: Channel,
    pub refusal_ground: Option<RefusalGround>,
    /// Completed with a partial refusal (its reasons are sealed; only the fact is read).
    pub partly_refused: bool,
}

pub fn insert_request(conn: &mut DbConnection, row: &RequestRow) -> Result<(), StoreError> {
    diesel::insert_into(requests::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_request(conn: &mut DbConnection, id: &str) -> Result<Option<RequestRow>, StoreError> {
    Ok(requests::table
        .find(id)
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?)
}

/// A request and its tasks in order. On PostgreSQL in one statement: the tasks with the request
/// joined to the first of them only, so its row (sealed columns and all) is sent once and the
/// other rows carry NULLs; the tasks were a second round trip of every view and every change of
/// a request. SQLite, in process, has no round trip to save and reads them apart.
pub fn find_request_with_tasks(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<(RequestRow, Vec<TaskRow>)>, StoreError> {
    let pg = match conn {
        DbConnection::Postgres(pg) => pg,
        DbConnection::Sqlite(_) => return find_request_then_tasks(conn, id),
    };
    let rows: Vec<(TaskRow, Option<RequestRow>)> = request_tasks::table
        .left_join(
            requests::table.on(requests::id
                .eq(request_tasks::request_id)
                .and(request_tasks::position.eq(0))),
        )
        .filter(request_tasks::request_id.eq(id))
        .order(request_tasks::position.asc())
        .select((TaskRow::as_select(), Option::<RequestRow>::as_select()))
        .load(pg)?;
    let mut request = None;
    let mut tasks = Vec::with_capacity(rows.len());
    for (task, row) in rows {
        request = request.or(row);
        tasks.push(task);
    }
    match request {
        Some(request) => Ok(Some((request, tasks))),
        // No task at position 0 (a request without a checklist): read as SQLite does.
        None => find_request_then_tasks(conn, id),
    }
}

fn find_request_then_tasks(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<(RequestRow, Vec<TaskRow>)>, StoreError> {
    let Some(row) = find_request(conn, id)? else {
        return Ok(None);
    };
    let tasks = list_tasks(conn, id)?;
    Ok(Some((row, tasks)))
}

/// What the person's status page shows of a request, and whether a pause is open.
#[derive(Debug, Clone, Queryable)]
pub struct StatusRow {
    pub reference: String,
    pub kind: RequestKind,
    pub state: RequestState,
    pub received_at: chrono::NaiveDateTime,
    pub due_on: chrono::NaiveDate,
    pub extended: bool,
    pub paused: bool,
}

/// The status of a request in one statement: the status link is opened far more often than
/// anything else, and it needs neither the sealed columns nor the pauses themselves.
pub fn find_status(conn: &mut DbConnection, id: &str) -> Result<Option<StatusRow>, StoreError> {
    let open_pause = request_pauses::table
        .filter(request_pauses::request_id.eq(requests::id))
        .filter(request_pauses::ended_on.is_null());
    Ok(requests::table
        .find(id)
        .select((
            requests::reference,
            requests::kind,
            requests::state,
            requests::received_at,
            requests::due_on,
            requests::extended,
            diesel::dsl::exists(open_pause),
        ))
        .first(conn)
        .optional()?)
}

pub fn find_request_by_reference(
    conn: &mut DbConnection,
    reference: &str,
) -> Result<Option<RequestRow>, StoreError> {
    Ok(requests::table
        .filter(requests::reference.eq(reference))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?)
}

/// Saves `row` if the stored version is still `row.version - 1`; false when someone else won.
pub fn update_request(conn: &mut DbConnection, row: &RequestRow) -> Result<bool, StoreError> {
    let changed = diesel::update(
        requests::table
            .filter(requests::id.eq(&row.id))
            .filter(requests::version.eq(row.version - 1)),
    )
    .set(row)
    .execute(conn)?;
    Ok(changed == 1)
}

/// Up to `limit` request ids after `after`, in id order: for going through every request in
/// pages (the re-index at start-up).
pub fn request_ids_after(
    conn: &mut DbConnection,
    after: &str,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(requests::table
        .filter(requests::id.gt(after))
        .order(requests::id)
        .select(requests::id)
        .limit(limit)
        .load(conn)?)
}

/// Sets the keyed lookup hashes of a request, and nothing else (its version stays: the request
/// itself did not change, only how it is found).
pub fn set_indexes(
    conn: &mut DbConnection,
    id: &str,
    indexes: [Option<&str>; 4],
) -> Result<(), StoreError> {
    let [email, customer_number, phone, bsn] = indexes;
    diesel::update(requests::table.filter(requests::id.eq(id)))
        .set((
            requests::email_index.eq(email),
            requests::customer_number_index.eq(customer_number),
            requests::phone_index.eq(phone),
            requests::bsn_index.eq(bsn),
        ))
        .execute(conn)?;
    Ok(())
}

type Backend = <DbConnection as diesel::Connection>::Backend;

/// The web channel, whose requests count only once their address is confirmed.
const WEB_FORM: &str = "web_form";

/// A request that is one: not a web-form request whose address was never confirmed.
fn is_confirmed() -> diesel::dsl::Or<
    diesel::dsl::Eq<requests::email_confirmed, bool>,
    diesel::dsl::NotEq<requests::channel, &'static str>,
> {
    requests::email_confirmed
        .eq(true)
        .or(requests::channel.ne(WEB_FORM))
}

/// Web-form requests never confirmed whose code expired before `before`: deleted (tasks and
/// pauses with them), their references returned.
pub fn delete_unconfirmed(
    conn: &mut DbConnection,
    before: chrono::NaiveDateTime,
) -> Result<Vec<String>, StoreError> {
    let expired = requests::channel
        .eq(WEB_FORM)
        .and(requests::email_confirmed.eq(false))
        .and(requests::confirmation_expires_at.lt(before));
    let found: Vec<(String, String)> = requests::table
        .filter(expired)
        .select((requests::id, requests::reference))
        .load(conn)?;
    let ids: Vec<&String> = found.iter().map(|(id, _)| id).collect();
    diesel::delete(requests::table.filter(requests::id.eq_any(ids))).execute(conn)?;
    Ok(found.into_iter().map(|(_, reference)| reference).collect())
}

fn filtered(filter: &RequestFilter) -> requests::BoxedQuery<'static, Backend> {
    let mut query = requests::table.filter(is_confirmed()).into_boxed();
    if !filter.states.is_empty() {
        query = query.filter(requests::state.eq_any(filter.states.clone()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(requests::kind.eq(kind.clone()));
    }
    if let Some(assignee) = &filter.assignee {
        query = query.filter(requests::assignee.eq(assignee.clone()));
    }
    if let Some(due_before) = filter.due_before {
        query = query.filter(requests::due_on.lt(due_before));
    }
    if let Some(index) = &filter.email_index {
        query = query.filter(requests::email_index.eq(index.clone()));
    }
    if let Some(index) = &filter.customer_number_index {
        query = query.filter(requests::customer_number_index.eq(index.clone()));
    }
    if let Some(index) = &filter.phone_index {
        query = query.filter(requests::phone_index.eq(index.clone()));
    }
    if let Some(reference) = &filter.reference {
        query = query.filter(requests::reference.eq(reference.clone()));
    }
    if let Some(person) = &filter.same_person {
        query = match person.matches() {
            Some(matches) => query.filter(matches),
            // Nobody is found by no identifier at all.
            None => query.filter(false.into_sql::<diesel::sql_types::Bool>()),
        };
    }
    if filter.unassigned {
        query = query.filter(requests::assignee.is_null());
    }
    if let Some(index) = &filter.bsn_index {
        query = query.filter(requests::bsn_index.eq(index.clone()));
    }
    if let Some(team) = &filter.created_by_team {
        use crate::db::schema::users;
        let members = users::table
            .filter(users::team.eq(team.clone()))
            .select(users::username);
        query = query.filter(requests::created_by.eq_any(members));
    }
    query
}

/// One page of the requests `filter` selects, soonest due first.
pub fn list_requests(
    conn: &mut DbConnection,
    filter: &RequestFilter,
    offset: i64,
    limit: i64,
) -> Result<Vec<RequestRow>, StoreError> {
    Ok(page(filter, offset, limit)
        .select(RequestRow::as_select())
        .load(conn)?)
}

/// The same page with only the columns of a summary.
pub fn list_summaries(
    conn: &mut DbConnection,
    filter: &RequestFilter,
    offset: i64,
    limit: i64,
) -> Result<Vec<SummaryRow>, StoreError> {
    Ok(page(filter, offset, limit)
        .select(SummaryRow::as_select())
        .load(conn)?)
}

fn page(filter: &RequestFilter, offset: i64, limit: i64) -> requests::BoxedQuery<'static, Backend> {
    filtered(filter)
        .order((requests::due_on.asc(), requests::received_at.asc()))
        .offset(offset)
        .limit(limit)
}

/// How many requests `filter` selects (for a page's total; a lookup that needs no total skips it).
pub fn count_requests(conn: &mut DbConnection, filter: &RequestFilter) -> Result<i64, StoreError> {
    Ok(filtered(filter).count().get_result(conn)?)
}

pub fn stats_rows(conn: &mut DbConnection) -> Result<Vec<StatsRow>, StoreError> {
    Ok(requests::table
        .filter(is_confirmed())
        .select((
            requests::kind,
            requests::state,
            requests::due_on,
            requests::received_at,
            requests::closed_at,
            requests::channel,
            requests::refusal_ground,
            requests::partial_refusal_enc.is_not_null(),
        ))
        .load(conn)?)
}

/// Stores a new request with its receipt letter (if it has one) and its checklist.
///
/// On SQLite, in process, these are three cached inserts. On PostgreSQL, where each statement
/// is a round trip, they are one: the request and the letter in `WITH` clauses and the checklist
/// as arrays, so the statement's text is the same whatever the checklist's length and the
/// server prepares it once per connection. (The foreign keys of the letter and the tasks are
/// checked at the end of the statement, when the request is in.)
pub fn insert_new_request(
    conn: &mut DbConnection,
    row: &RequestRow,
    letter: Option<&OutboxRow>,
    tasks: &[TaskRow],
) -> Result<(), StoreError> {
    match conn {
        DbConnection::Sqlite(_) => {
            insert_request(conn, row)?;
            if let Some(letter) = letter {
                letter.insert(conn)?;
            }
            insert_tasks(conn, tasks)
        }
        DbConnection::Postgres(c) => {
            let mut statement = With::then(TaskArrays::of(tasks))
                .first("request", diesel::insert_into(requests::table).values(row));
            if let Some(letter) = letter {
                statement =
                    statement.first("letter", diesel::insert_into(outbox::table).values(letter));
            }
            statement.execute(c)?;
            Ok(())
        }
    }
}

crate::db::arrays::column_arrays!(TaskArrays: TaskRow => request_tasks {
    id: TaskId as Text,
    request_id: RequestId as Text,
    position: i32 as Integer,
    kind: TaskKind as Text,
    title_nl: String as Text,
    title_en: String as Text,
    system_key: Option<String> as Nullable<Text>,
    activity_key: Option<String> as Nullable<Text>,
    categories: String as Text,
    recipient: Option<String> as Nullable<Text>,
    legal_exception: Option<String> as Nullable<Text>,
    keep_until: Option<chrono::NaiveDate> as Nullable<Date>,
    state: TaskState as Text,
    assignee: Option<Username> as Nullable<Text>,
    evidence_enc: Option<String> as Nullable<Text>,
    closed_by: Option<String> as Nullable<Text>,
    closed_at: Option<chrono::NaiveDateTime> as Nullable<Timestamp>,
    version: i32 as Integer,
    created_at: chrono::NaiveDateTime as Timestamp,
    updated_at: chrono::NaiveDateTime as Timestamp,
    outcome: Option<SearchOutcome> as Nullable<Text>,
    found_rows: Option<i64> as Nullable<BigInt>,
});

pub fn insert_tasks(conn: &mut DbConnection, rows: &[TaskRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        // In-process, twenty runs of one cached statement cost less than preparing a
        // statement of twenty rows anew for each checklist (diesel does not cache a batch):
        // that parse was a tenth of the CPU of an intake.
        DbConnection::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(request_tasks::table)
                    .values(row)
                    .execute(c)?;
            }
        }
        // Over the network, one statement for the whole checklist: a dozen round trips were a
        // good part of intake. As arrays, so that it is prepared once (see `db::arrays`).
        DbConnection::Postgres(c) => {
            TaskArrays::of(rows).execute(c)?;
        }
    }
    Ok(())
}

pub fn list_tasks(conn: &mut DbConnection, request_id: &str) -> Result<Vec<TaskRow>, StoreError> {
    Ok(request_tasks::table
        .filter(request_tasks::request_id.eq(request_id))
        .order(request_tasks::position.asc())
        .select(TaskRow::as_select())
        .load(conn)?)
}

/// Saves `row` if the stored version is still `row.version - 1`; false when someone else won.
pub fn update_task(conn: &mut DbConnection, row: &TaskRow) -> Result<bool, StoreError> {
    let changed = diesel::update(
        request_tasks::table
            .filter(request_tasks::id.eq(&row.id))
            .filter(request_tasks::version.eq(row.version - 1)),
    )
    .set(row)
    .execute(conn)?;
    Ok(changed == 1)
}

/// Sets a task's titles, and nothing else (its version stays: the work did not change).
pub fn set_task_titles(
    conn: &mut DbConnection,
    id: &str,
    title_nl: &str,
    title_en: &str,
) -> Result<(), StoreError> {
    diesel::update(request_tasks::table.filter(request_tasks::id.eq(id)))
        .set((
            request_tasks::title_nl.eq(title_nl),
            request_tasks::title_en.eq(title_en),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn insert_pause(conn: &mut DbConnection, row: &PauseRow) -> Result<(), StoreError> {
    diesel::insert_into(request_pauses::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn list_pauses(conn: &mut DbConnection, request_id: &str) -> Result<Vec<PauseRow>, StoreError> {
    Ok(request_pauses::table
        .filter(request_pauses::request_id.eq(request_id))
        .order(request_pauses::started_on.asc())
        .select(PauseRow::as_select())
        .load(conn)?)
}

/// Ends the open pause of a request on `ended_on` (the day the answer arrived), recorded today;
/// returns whether one was open.
pub fn end_open_pause(
    conn: &mut DbConnection,
    request_id: &str,
    ended_on: chrono::NaiveDate,
    recorded_on: chrono::NaiveDate,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        request_pauses::table
            .filter(request_pauses::request_id.eq(request_id))
            .filter(request_pauses::ended_on.is_null()),
    )
    .set((
        request_pauses::ended_on.eq(Some(ended_on)),
        request_pauses::ended_recorded_on.eq(Some(recorded_on)),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

pub fn insert_comment(conn: &mut DbConnection, row: &CommentRow) -> Result<(), StoreError> {
    diesel::insert_into(task_comments::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn list_comments(
    conn: &mut DbConnection,
    request_id: &str,
) -> Result<Vec<CommentRow>, StoreError> {
    Ok(task_comments::table
        .inner_join(request_tasks::table)
        .filter(request_tasks::request_id.eq(request_id))
        .order(task_comments::created_at.asc())
        .select(CommentRow::as_select())
        .load(conn)?)
}
