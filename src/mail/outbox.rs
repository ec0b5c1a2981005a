//! The outbox. CONTRACT (stub): signatures fixed; implemented by the mail work.

use super::letters::LetterKind;
use crate::crypto::Cipher;
use crate::db::{DbConnection, StoreError};
use crate::requests::model::Language;
use serde::Serialize;

pub struct NewMail<'a> {
    pub request_id: Option<&'a str>,
    pub letter: LetterKind,
    pub language: Language,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    pub id: String,
    pub request_id: Option<String>,
    pub letter: String,
    pub language: String,
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub created_at: chrono::NaiveDateTime,
    pub sent_at: Option<chrono::NaiveDateTime>,
    pub last_error: Option<String>,
}

pub fn enqueue(
    _conn: &mut DbConnection,
    _cipher: &Cipher,
    _mail: NewMail<'_>,
) -> Result<String, StoreError> {
    Ok(uuid::Uuid::new_v4().to_string())
}

pub fn list_for_request(
    _conn: &mut DbConnection,
    _cipher: &Cipher,
    _request_id: &str,
) -> Result<Vec<OutboxEntry>, crate::error::Error> {
    Ok(Vec::new())
}
