//! Whose rows a sweep is about to touch, and which of them it must leave alone: rows of a person
//! under a legal hold or with a request in progress, and rows under a restriction (Art. 18).
//!
//! The organisation's database gives the identifiers of each row's owner; loket compares their
//! keyed lookup hashes with those of its legal holds and open requests, so neither side ever
//! holds the other's identifiers in the clear.

use crate::catalog::model::IdentifierKind;
use crate::connectors::ExpiredRow;
use crate::crypto::Cipher;
use crate::db::models::sweeps;
use crate::db::{DbConnection, StoreError};
use crate::policies::{Exception, RetentionRule};
use crate::requests::requester::{
    normalise_customer_number, normalise_email, normalise_phone, place,
};
use crate::vocabulary::RequestState;
use std::collections::HashSet;

/// The lookup hash of one identifier. E-mail addresses, customer numbers and phone numbers hash
/// as a request stores them, so a hold or a sweep finds the requests of the same person.
pub fn identifier_index(cipher: &Cipher, kind: IdentifierKind, value: &str) -> String {
    match kind {
        IdentifierKind::Email => cipher.index(place::EMAIL, &normalise_email(value)),
        IdentifierKind::CustomerNumber => {
            cipher.index(place::CUSTOMER_NUMBER, &normalise_customer_number(value))
        }
        IdentifierKind::Phone => cipher.index(place::PHONE, &normalise_phone(value)),
        IdentifierKind::Bsn => cipher.index(place::BSN, &IdentifierKind::Bsn.normalise(value)),
        other => cipher.index(
            &format!("identifier.{}", other.as_str()),
            &value.trim().to_lowercase(),
        ),
    }
}

/// A batch split into the keys to act on and the rows left alone, by the first exception that
/// applies (legal hold, then open request, then restriction).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sorted {
    pub act_on: Vec<String>,
    pub legal_hold: u64,
    pub open_request: u64,
    pub restriction: u64,
}

/// Sorts `rows` of `rule`'s system by the rule's exceptions.
pub fn sort_batch(
    conn: &mut DbConnection,
    cipher: &Cipher,
    rule: &RetentionRule,
    rows: Vec<ExpiredRow>,
) -> Result<Sorted, StoreError> {
    let hashed: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.identifiers
                .iter()
                .map(|(kind, value)| identifier_index(cipher, *kind, value))
                .collect()
        })
        .collect();
    let all: Vec<String> = hashed
        .iter()
        .flatten()
        .cloned()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let held = if rule.skips(Exception::LegalHold) && !all.is_empty() {
        sweeps::held_indexes(conn, &rule.system, &all)?
    } else {
        HashSet::new()
    };
    let open = if rule.skips(Exception::OpenRequest) && !all.is_empty() {
        sweeps::open_request_indexes(conn, &closed_states(), &all)?
    } else {
        HashSet::new()
    };
    let mut sorted = Sorted::default();
    for (row, hashes) in rows.into_iter().zip(hashed) {
        if hashes.iter().any(|h| held.contains(h)) {
            sorted.legal_hold += 1;
        } else if hashes.iter().any(|h| open.contains(h)) {
            sorted.open_request += 1;
        } else if row.restricted && rule.skips(Exception::ActiveRestriction) {
            sorted.restriction += 1;
        } else {
            sorted.act_on.push(row.key);
        }
    }
    Ok(sorted)
}

/// The states of a request that is no longer in progress, as stored.
fn closed_states() -> Vec<&'static str> {
    <RequestState as strum::VariantArray>::VARIANTS
        .iter()
        .copied()
        .filter(|state| state.is_closed())
        .map(|state| state.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> Cipher {
        let key = [9u8; 32];
        Cipher::new(&key, &[], crate::crypto::derive_index_key(&key))
    }

    #[test]
    fn identifiers_hash_as_requests_store_them() {
        let cipher = cipher();
        // A request stores the normalised value's index; a row's value, written otherwise, must
        // land on the same hash.
        let pairs = [
            (
                IdentifierKind::Email,
                "Jan@Example.NL ",
                place::EMAIL,
                "jan@example.nl",
            ),
            (
                IdentifierKind::CustomerNumber,
                "tn 448812",
                place::CUSTOMER_NUMBER,
                "TN448812",
            ),
            (
                IdentifierKind::Phone,
                "+31 6 1234 5678",
                place::PHONE,
                "0612345678",
            ),
        ];
        for (kind, written, place, stored) in pairs {
            assert_eq!(
                identifier_index(&cipher, kind, written),
                cipher.index(place, stored),
                "{kind:?}"
            );
        }
        // Kinds a request does not hold still hash per kind, trimmed and case-folded.
        assert_eq!(
            identifier_index(&cipher, IdentifierKind::AccountId, " AC-1 "),
            identifier_index(&cipher, IdentifierKind::AccountId, "ac-1")
        );
        assert_ne!(
            identifier_index(&cipher, IdentifierKind::AccountId, "1"),
            identifier_index(&cipher, IdentifierKind::DeviceId, "1")
        );
    }
}
