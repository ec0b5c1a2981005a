//! The store underneath the domain: what its statements rely on in the schema, and that its
//! writes see what other connections wrote, on both backends.

use crate::common;

use common::TestApp;
use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use loket::db::{Backend, DbConnection};

#[derive(QueryableByName, Debug)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// Every nullable column of the store that has a default other than NULL.
fn nullable_columns_with_a_default(app: &TestApp) -> Vec<String> {
    let sql = match app.backend {
        Backend::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.\"notnull\" = 0 AND p.dflt_value IS NOT NULL \
             AND upper(p.dflt_value) <> 'NULL'"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND is_nullable = 'YES' \
             AND column_default IS NOT NULL AND column_default NOT ILIKE 'NULL%'"
        }
    };
    let mut conn = app.store.connection().unwrap();
    let conn: &mut DbConnection = &mut conn;
    let columns: Vec<Column> = diesel::sql_query(sql).load(conn).unwrap();
    columns
        .into_iter()
        .map(|c| format!("{}.{}", c.table_name, c.column_name))
        .collect()
}

backend_tests! {
    async fn no_nullable_column_has_a_default_that_an_insert_would_not_apply(app: TestApp) {
        // Rows are inserted with `None` bound as NULL (`treat_none_as_default_value = false`,
        // so each insert has one text and is prepared once): a default on a nullable column
        // would silently never apply. Make such a column NOT NULL, or set it in the row.
        assert_eq!(nullable_columns_with_a_default(&app), Vec::<String>::new());
    }

    async fn a_write_sees_what_another_connection_committed_just_before(app: TestApp) {
        // The SQLite writer keeps its own connection and page cache between writes; a change
        // committed elsewhere (the command line, another process) must still be what it reads.
        for round in 0..3 {
            let name = format!("Elders {round}");
            {
                let mut conn = app.store.connection().unwrap();
                let conn: &mut DbConnection = &mut conn;
                let placeholder = match app.backend {
                    Backend::Sqlite => "?",
                    Backend::Postgres => "$1",
                };
                diesel::sql_query(format!(
                    "INSERT INTO organisation (id, name, contact_email, updated_at) \
                     VALUES (1, {placeholder}, 'privacy@example.nl', CURRENT_TIMESTAMP) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name"
                ))
                .bind::<Text, _>(&name)
                    .execute(conn)
                    .unwrap();
            }
            let seen = app
                .store
                .write(|conn| {
                    #[derive(QueryableByName)]
                    struct Name {
                        #[diesel(sql_type = Text)]
                        name: String,
                    }
                    let rows: Vec<Name> =
                        diesel::sql_query("SELECT name FROM organisation").load(conn)?;
                    Ok::<_, loket::db::StoreError>(rows.into_iter().map(|r| r.name).collect::<Vec<_>>())
                })
                .await
                .unwrap();
            assert_eq!(seen, vec![name], "round {round}");
        }
    }
}
