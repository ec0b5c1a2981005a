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

/// The lookup hashes of the persons a rule's sweep must leave alone: under a legal hold on the
/// rule's system, or with a request in progress. Read once per run and again only when the
/// [`sweeps::ExceptionsStamp`] moved (checked before every batch, one small query each way),
/// instead of two lookups of a thousand hashes per batch; a hold placed or a request made
/// during the sweep is therefore honoured from the next batch on, as before.
#[derive(Debug, Default)]
pub struct Exceptions {
    stamp: Option<sweeps::ExceptionsStamp>,
    held: HashSet<String>,
    open: HashSet<String>,
    /// The identifier kinds among those hashes: a row's identifiers of another kind cannot
    /// match, so they are neither read nor hashed.
    kinds: HashSet<IdentifierKind>,
    /// A hold names a kind this build does not know: every identifier is compared.
    every_kind: bool,
}

impl Exceptions {
    /// Reads the holds and open requests `rule` honours, unless they did not change since the
    /// last read.
    pub fn refresh(
        &mut self,
        conn: &mut DbConnection,
        rule: &RetentionRule,
    ) -> Result<(), StoreError> {
        let (holds, requests) = (
            rule.skips(Exception::LegalHold),
            rule.skips(Exception::OpenRequest),
        );
        if !holds && !requests {
            return Ok(());
        }
        let open_states = open_states();
        // The stamp before the sets: a change that lands in between is in the sets and moves
        // the next stamp, so at worst the sets are read once more.
        let stamp = sweeps::exceptions_stamp(conn, &open_states)?;
        if self.stamp.as_ref() == Some(&stamp) {
            return Ok(());
        }
        *self = Exceptions {
            stamp: Some(stamp),
            ..Exceptions::default()
        };
        if holds {
            for (kind, index) in sweeps::holds_in_force(conn, &rule.system)? {
                match serde_json::from_value(serde_json::Value::String(kind)) {
                    Ok(kind) => {
                        self.kinds.insert(kind);
                    }
                    Err(_) => self.every_kind = true,
                }
                self.held.insert(index);
            }
        }
        if requests {
            for (email, customer_number, phone) in
                sweeps::open_requests_indexes(conn, &open_states)?
            {
                for (kind, index) in [
                    (IdentifierKind::Email, email),
                    (IdentifierKind::CustomerNumber, customer_number),
                    (IdentifierKind::Phone, phone),
                ] {
                    if let Some(index) = index {
                        self.kinds.insert(kind);
                        self.open.insert(index);
                    }
                }
            }
        }
        Ok(())
    }

    /// The identifier kinds worth reading from the rows: those some exception is about;
    /// `None` for every kind.
    pub fn kinds(&self) -> Option<Vec<IdentifierKind>> {
        if self.every_kind {
            return None;
        }
        let mut kinds: Vec<IdentifierKind> = self.kinds.iter().copied().collect();
        kinds.sort();
        Some(kinds)
    }

    fn compares(&self, kind: IdentifierKind) -> bool {
        self.every_kind || self.kinds.contains(&kind)
    }

    /// Sorts `rows` of `rule`'s system by the rule's exceptions.
    pub fn sort(&self, cipher: &Cipher, rule: &RetentionRule, rows: Vec<ExpiredRow>) -> Sorted {
        let mut sorted = Sorted::default();
        for row in rows {
            let hashes: Vec<String> = row
                .identifiers
                .iter()
                .filter(|(kind, _)| self.compares(*kind))
                .map(|(kind, value)| identifier_index(cipher, *kind, value))
                .collect();
            if hashes.iter().any(|h| self.held.contains(h)) {
                sorted.legal_hold += 1;
            } else if hashes.iter().any(|h| self.open.contains(h)) {
                sorted.open_request += 1;
            } else if row.restricted && rule.skips(Exception::ActiveRestriction) {
                sorted.restriction += 1;
            } else {
                sorted.act_on.push(row.key);
            }
        }
        sorted
    }
}

/// The states of a request still in progress, as stored.
fn open_states() -> Vec<&'static str> {
    <RequestState as strum::VariantArray>::VARIANTS
        .iter()
        .copied()
        .filter(|state| !state.is_closed())
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

    #[test]
    fn rows_are_kept_by_the_first_exception_that_applies() {
        let cipher = cipher();
        let mut rule = crate::policies::testing::shipped_policies()
            .rule("crm_contact_history")
            .cloned()
            .unwrap();
        rule.exceptions = Exception::all();
        let index = |kind, value| identifier_index(&cipher, kind, value);
        let exceptions = Exceptions {
            held: [index(IdentifierKind::Email, "held@example.nl")].into(),
            open: [index(IdentifierKind::CustomerNumber, "TN1")].into(),
            kinds: [IdentifierKind::Email, IdentifierKind::CustomerNumber].into(),
            ..Exceptions::default()
        };
        let row = |key: &str, identifiers: &[(IdentifierKind, &str)], restricted| ExpiredRow {
            key: key.into(),
            identifiers: identifiers
                .iter()
                .map(|(kind, value)| (*kind, value.to_string()))
                .collect(),
            restricted,
        };
        let rows = vec![
            row("1", &[(IdentifierKind::Email, " Held@Example.NL")], false),
            row("2", &[(IdentifierKind::CustomerNumber, "tn 1")], false),
            row("3", &[(IdentifierKind::Email, "vrij@example.nl")], true),
            row("4", &[(IdentifierKind::Phone, "0612345678")], false),
            row("5", &[(IdentifierKind::Email, "held@example.nl")], true),
        ];
        assert_eq!(
            exceptions.sort(&cipher, &rule, rows.clone()),
            Sorted {
                act_on: vec!["4".into()],
                legal_hold: 2,
                open_request: 1,
                restriction: 1,
            }
        );
        assert_eq!(
            exceptions.kinds(),
            Some(vec![IdentifierKind::Email, IdentifierKind::CustomerNumber])
        );
        // A rule without the restriction exception deletes a restricted row.
        rule.exceptions = vec![Exception::LegalHold, Exception::OpenRequest];
        assert_eq!(exceptions.sort(&cipher, &rule, rows).act_on, ["3", "4"]);
    }
}
