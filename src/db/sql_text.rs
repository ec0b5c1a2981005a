//! Vocabulary enums in TEXT columns. Rows hold the enums themselves (a request's kind, a task's
//! state, a package's state, …), so a value is parsed once, where it leaves the store, and
//! written back as the same snake_case name the columns held before: no migration, and the
//! stored text stays byte for byte what it was.
//!
//! [`text_column!`] gives each enum one `ToSql`/`FromSql` pair for every backend diesel speaks
//! here (SQLite, PostgreSQL and the `MultiBackend` over them). A value this build does not know
//! is a load error that names the type, the value and the values it expects; never a panic.

use crate::vocabulary::{
    Channel, ExtensionGround, Language, PackageState, PauseReason, ProposedOutcome,
    QuestionChannel, RefusalGround, RequestKind, RequestState, SearchOutcome, TaskKind, TaskState,
    VerificationMethod, WebhookEvent,
};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

macro_rules! text_column {
    ($($name:ident),+ $(,)?) => {$(
        impl<DB: Backend> ToSql<Text, DB> for $name
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $name
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                text.parse().map_err(|_| unknown(stringify!($name), &text, $name::expected()))
            }
        }
    )+};
}

text_column!(
    Channel,
    ExtensionGround,
    Language,
    PackageState,
    PauseReason,
    ProposedOutcome,
    QuestionChannel,
    RefusalGround,
    RequestKind,
    RequestState,
    SearchOutcome,
    TaskKind,
    TaskState,
    VerificationMethod,
    WebhookEvent,
);

/// The error for a stored value this build does not know: a fault of the store (or of a newer
/// version that wrote it), reported with what was found and what was expected.
fn unknown(name: &str, found: &str, expected: String) -> Box<dyn std::error::Error + Send + Sync> {
    format!("the store holds {name} '{found}', which this version does not know (expected one of: {expected})")
        .into()
}

#[cfg(test)]
mod tests {
    use crate::db::DbConnection;
    use crate::vocabulary::{RequestKind, TaskState};
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    fn sqlite() -> DbConnection {
        DbConnection::Sqlite(SqliteConnection::establish(":memory:").expect("in-memory SQLite"))
    }

    #[test]
    fn a_vocabulary_value_is_written_and_read_as_its_name() {
        let mut conn = sqlite();
        let kind: RequestKind = diesel::select(RequestKind::HumanReview.into_sql::<Text>())
            .get_result(&mut conn)
            .expect("round trip");
        assert_eq!(kind, RequestKind::HumanReview);
        let text: String = diesel::select(TaskState::NotApplicable.into_sql::<Text>())
            .get_result(&mut conn)
            .expect("stored as text");
        assert_eq!(text, "not_applicable");
    }

    #[test]
    fn an_unknown_stored_value_is_an_error_naming_it() {
        let mut conn = sqlite();
        let error = diesel::select("teleportation".into_sql::<Text>())
            .get_result::<RequestKind>(&mut conn)
            .expect_err("not a kind");
        // diesel names the field; the cause says what was wrong with it.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        assert!(message.contains("RequestKind 'teleportation'"), "{message}");
        assert!(message.contains("human_review"), "{message}");
    }
}
