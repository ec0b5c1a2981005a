//! All integration tests in one binary: one link of the crate instead of one per file, which was
//! most of an incremental test build. Run one area with a filter, e.g. `cargo test --test integration answers::`.

#[macro_use]
mod common;

mod answers;
mod audit;
mod auth;
mod catalog;
mod connector_tasks;
mod connectors;
mod contract;
mod demo;
mod desk;
mod desk_live;
mod erasure_law;
mod guide;
mod hardening;
mod http_connector;
mod letters;
mod mail;
mod owner_tasks;
mod packages;
mod register;
mod requests;
mod speed;
mod store;
mod sweeps;
mod webhooks;
