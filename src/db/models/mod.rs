//! Rows and the queries on them, one file per aggregate. Only the store layer sees these types;
//! the domain turns them into its own.

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
