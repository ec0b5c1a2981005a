//! Whose rows a sweep is about to touch, and which of them it must leave alone: rows of a person
//! under a legal hold or with a request in progress, and rows under a restriction (Art. 18).
//!
//! The organisation's database gives the identifiers of each row's owner; loket compares their
//! keyed lookup hashes with those of its legal holds and open requests, so neither side ever
//! holds the other's identifiers in the clear.

use crate::catalog::model::IdentifierKind;
use crate::connectors::ExpiredRow;
use crate::crypto::Cipher;
use crate::db::models::sweeps::{self, LegalHoldRow};
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

/// A `LIKE` pattern, over an identifier column in lower case, that every value hashing like
/// `value` ([`identifier_index`]) matches, however it is written: the characters its normal
/// form must take from the column unchanged, in order (`%lant11@example.nl%` for
/// `Klant11@Example.nl`). It may match other values too; a row it matches is then compared by
/// its hash. `None` for kinds without one and for values too short to narrow anything down.
///
/// Why every way of writing it matches: normalising only drops characters or changes their
/// case, and the pattern keeps only characters no other character changes into (an ASCII
/// letter or digit that no non-ASCII character's case mapping gives: the Kelvin sign lowers to
/// `k`), which `LOWER` in SQL gives back from either case. Between two such characters the
/// pattern allows anything (`%`) where normalising may have dropped something: around an
/// e-mail address (trimmed) and where a character was left out, between any two characters
/// of a customer number (spaces, dashes and dots go) or a phone number (also `(0)` and a
/// country code). Of a phone number it skips the first digit, the trunk `0` a country code is
/// written as.
pub fn resemblance(kind: IdentifierKind, value: &str) -> Option<String> {
    let (lower_from, upper_from) = &*CASED_FROM_ELSEWHERE;
    // Each character with whether it may stand next to the one before it in the column.
    let kept: Vec<(char, bool)> = match kind {
        IdentifierKind::Email => {
            let safe = |c: &char| {
                (c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '@' | '.' | '-' | '+'))
                    && !lower_from.contains(c)
            };
            let mut kept = Vec::new();
            let mut adjacent = false;
            for c in normalise_email(value).chars() {
                if safe(&c) {
                    kept.push((c, adjacent));
                    adjacent = true;
                } else {
                    adjacent = false;
                }
            }
            kept
        }
        IdentifierKind::CustomerNumber => normalise_customer_number(value)
            .chars()
            .filter(|c| (c.is_ascii_uppercase() || c.is_ascii_digit()) && !upper_from.contains(c))
            .map(|c| (c.to_ascii_lowercase(), false))
            .collect(),
        IdentifierKind::Phone => normalise_phone(value)
            .chars()
            .skip(1)
            .map(|c| (c, false))
            .collect(),
        _ => return None,
    };
    if kept.len() < MIN_RESEMBLANCE {
        return None;
    }
    let mut pattern = String::new();
    for (c, adjacent) in kept {
        if !adjacent {
            pattern.push('%');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Some(pattern)
}

/// Fewer characters than this and a pattern would match nearly everyone.
const MIN_RESEMBLANCE: usize = 4;

/// The ASCII characters some non-ASCII character's lower case and upper case mappings give
/// (as Rust, which normalises, maps them): `k` from the Kelvin sign, `S` from the long s, `FF`
/// from a ligature. Computed from the mappings themselves, so a newer Unicode cannot slip by.
static CASED_FROM_ELSEWHERE: std::sync::LazyLock<(HashSet<char>, HashSet<char>)> =
    std::sync::LazyLock::new(|| {
        let (mut lower, mut upper) = (HashSet::new(), HashSet::new());
        for c in (0x80..=0x10FFFF).filter_map(char::from_u32) {
            lower.extend(c.to_lowercase().filter(char::is_ascii));
            upper.extend(c.to_uppercase().filter(char::is_ascii));
        }
        (lower, upper)
    });

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
/// [`sweeps::ExceptionsStamp`] moved (checked before every group of batches, one small
/// statement), instead of two lookups of a thousand hashes per batch; a hold placed or a
/// request made during the sweep is therefore honoured from the next group on (a group is at
/// most 100 ms of batches).
///
/// Beside the hashes, a pattern for each of those identifiers that every way of writing it
/// matches ([`resemblance`], from the identifier opened: holds and requests keep them sealed):
/// a deletion can then leave the rows that may be theirs out of its statements
/// ([`crate::connectors::Spared`]) instead of reading the owner of every expired row.
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
    /// A [`resemblance`] of each identifier behind `held` and `open` (opened from its sealed
    /// copy); `None` when one of them has none (a hold placed before holds kept their
    /// identifier sealed, a kind without one), so only the comparison of hashes can honour it.
    resembling: Option<Vec<(IdentifierKind, String)>>,
}

impl Exceptions {
    /// Reads the holds and open requests `rule` honours, unless they did not change since the
    /// last read.
    pub fn refresh(
        &mut self,
        conn: &mut DbConnection,
        cipher: &Cipher,
        rule: &RetentionRule,
    ) -> Result<(), StoreError> {
        let (holds, requests) = (
            rule.skips(Exception::LegalHold),
            rule.skips(Exception::OpenRequest),
        );
        if !holds && !requests {
            self.resembling = Some(Vec::new());
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
            resembling: Some(Vec::new()),
            ..Exceptions::default()
        };
        if holds {
            for (kind, index, sealed) in sweeps::holds_in_force(conn, &rule.system)? {
                match serde_json::from_value(serde_json::Value::String(kind)) {
                    Ok(kind) => {
                        self.kinds.insert(kind);
                        self.add_person(cipher, kind, LegalHoldRow::IDENTIFIER_PLACE, sealed);
                    }
                    Err(_) => {
                        self.every_kind = true;
                        self.resembling = None;
                    }
                }
                self.held.insert(index);
            }
        }
        if requests {
            for open in sweeps::open_requests_identifiers(conn, &open_states)? {
                for (kind, index, place, sealed) in [
                    (
                        IdentifierKind::Email,
                        open.email_index,
                        place::EMAIL,
                        open.email_enc,
                    ),
                    (
                        IdentifierKind::CustomerNumber,
                        open.customer_number_index,
                        place::CUSTOMER_NUMBER,
                        open.customer_number_enc,
                    ),
                    (
                        IdentifierKind::Phone,
                        open.phone_index,
                        place::PHONE,
                        open.phone_enc,
                    ),
                ] {
                    if let Some(index) = index {
                        self.kinds.insert(kind);
                        self.open.insert(index);
                        self.add_person(cipher, kind, place, sealed);
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds the resemblance of an identifier behind one of the hashes, opened from `sealed`;
    /// one that cannot be opened or has none leaves the persons unknown (the hashes still
    /// honour it).
    fn add_person(
        &mut self,
        cipher: &Cipher,
        kind: IdentifierKind,
        place: &str,
        sealed: Option<String>,
    ) {
        let pattern = sealed
            .and_then(|sealed| cipher.decrypt(place, &sealed).ok())
            .and_then(|value| resemblance(kind, &value));
        match (pattern, self.resembling.as_mut()) {
            (Some(pattern), Some(resembling)) => resembling.push((kind, pattern)),
            _ => self.resembling = None,
        }
    }

    /// A [`resemblance`] of every person whose rows must stay; `None` when some can only be
    /// recognised by their hash.
    pub fn resembling(&self) -> Option<&[(IdentifierKind, String)]> {
        self.resembling.as_deref()
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

    /// `value LIKE pattern` for patterns of `%` and plain characters, case-sensitively, as
    /// PostgreSQL compares (SQLite's `LIKE` ignores ASCII case, so it matches more).
    fn like(value: &str, pattern: &str) -> bool {
        let parts: Vec<&str> = pattern.split('%').collect();
        let mut rest = value;
        for (index, part) in parts.iter().enumerate() {
            let last = index == parts.len() - 1;
            match rest.find(part) {
                Some(0) if index == 0 => rest = &rest[part.len()..],
                _ if index == 0 && !part.is_empty() => return false,
                Some(at) if !last => rest = &rest[at + part.len()..],
                _ if last => return part.is_empty() || rest.ends_with(part),
                _ => return false,
            }
        }
        true
    }

    /// SQL's `LOWER`, on SQLite: ASCII letters only.
    fn sql_lower(value: &str) -> String {
        value.to_ascii_lowercase()
    }

    #[test]
    fn every_way_of_writing_an_identifier_resembles_it() {
        let cipher = cipher();
        let written = [
            (
                IdentifierKind::Email,
                "Jan.de-Vries+1@Example.NL",
                &[
                    "jan.de-vries+1@example.nl",
                    "  JAN.DE-VRIES+1@EXAMPLE.NL ",
                    "Jan.De-Vries+1@example.nl",
                ][..],
            ),
            (
                IdentifierKind::CustomerNumber,
                "tn-448812",
                &["TN448812", "tn 448 812", "T.N.-448812", "ſtn448812"][..],
            ),
            (
                IdentifierKind::Phone,
                "+31 6 1234 5678",
                &[
                    "0612345678",
                    "06-12345678",
                    "+31 (0)6 1234 5678",
                    "0031 6 12 34 56 78",
                    "(06) 1234.5678",
                ][..],
            ),
        ];
        for (kind, given, variants) in written {
            let pattern = resemblance(kind, given).expect("a pattern");
            assert!(
                pattern.starts_with('%') && pattern.ends_with('%'),
                "{pattern}"
            );
            for variant in variants {
                let same_person = identifier_index(&cipher, kind, variant)
                    == identifier_index(&cipher, kind, given);
                // The long s upper-cases to S: another customer number, so it need not match.
                if same_person {
                    assert!(
                        like(&sql_lower(variant), &pattern),
                        "{kind:?}: {variant:?} hashes as {given:?} but misses {pattern}"
                    );
                }
            }
        }
        // Others may match too (they are then compared by hash), but not everyone.
        let pattern = resemblance(IdentifierKind::Email, "klant11@example.nl").unwrap();
        assert_eq!(pattern, "%lant11@example.nl%");
        for other in [
            "klant12@example.nl",
            "klant101@example.nl",
            "klant111@example.nl",
        ] {
            assert!(!like(other, &pattern), "{other} {pattern}");
        }
        assert_eq!(
            resemblance(IdentifierKind::Phone, "+31 6 1234 5678").unwrap(),
            "%6%1%2%3%4%5%6%7%8%"
        );
        // Characters a non-ASCII letter's case mapping gives are left out: the Kelvin sign
        // lowers to k, which SQL's LOWER would not see.
        assert!(!pattern.contains('k'), "{pattern}");
        let kelvin = "\u{212A}lant11@example.nl";
        assert_eq!(
            identifier_index(&cipher, IdentifierKind::Email, kelvin),
            identifier_index(&cipher, IdentifierKind::Email, "klant11@example.nl")
        );
        assert!(like(&sql_lower(kelvin), &pattern));
        // Too short to narrow anything down, or a kind without a forgiving form.
        assert_eq!(resemblance(IdentifierKind::Phone, "112"), None);
        assert_eq!(resemblance(IdentifierKind::AccountId, "AC-1234567"), None);
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
