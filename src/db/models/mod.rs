//! Rows and the queries on them, one file per aggregate. Only the store layer sees these types;
//! the domain turns them into its own.
//!
//! Every insertable row binds `None` as NULL (`treat_none_as_default_value = false`). diesel
//! otherwise leaves such a column out of the statement so that its default applies, which gives
//! each combination of empty fields its own SQL: the text was written out anew at every insert
//! to find its cached statement (a tenth of SQLite's writer thread during intake). No nullable
//! column has a default that this would skip (`tests/integration/store.rs` checks the schema).

pub mod audit;
pub mod catalog;
pub mod first_line;
pub mod for_others;
pub mod keep_choices;
pub mod kept;
pub mod outbox;
pub mod owner_links;
pub mod package_keys;
pub mod packages;
mod queue;
pub mod requests;
pub mod sweeps;
pub mod users;
pub mod webhooks;
