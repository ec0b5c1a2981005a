//! loket: a desk for GDPR/AVG data-subject requests.
//!
//! Layers, outside in: [`api`] (HTTP, thin handlers) calls the domain ([`catalog`], [`auth`],
//! [`audit`], …), which calls the store ([`db`]). The domain knows nothing of HTTP; handlers hold
//! no SQL.

pub mod api;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod error;
pub mod guide;
pub mod ids;
pub mod instance;
pub mod mail;
pub mod packages;
pub mod policies;
pub mod readiness;
pub mod requests;
pub mod retention;
pub mod startup;
pub mod telemetry;
pub mod vocabulary;
pub mod webhooks;
