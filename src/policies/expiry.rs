//! What a retention rule does with data whose period has ended, which rows it leaves alone, and
//! the SQL names it may point at.
//!
//! Table and column names from a policy file end up in SQL that no parameter can hold, so they
//! are allowed only as plain identifiers: a name like `users; DROP TABLE x` never loads.

pub use crate::catalog::anonymise::AnonymiseStrategy;
use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoEnumIterator};

/// What a sweep does with an expired row (`on_expiry:`).
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OnExpiry {
    Delete,
    /// Overwrite the columns listed under `anonymise:` and keep the row.
    Anonymise,
    /// Mark the row restricted (Art. 18): kept, but used for nothing else.
    Restrict,
    /// Create a task for a person to decide. The default, because it changes nothing by itself,
    /// and the only action for a rule without a table.
    #[default]
    Review,
}

impl OnExpiry {
    /// Whether the action changes rows of the rule's table, and so needs one.
    pub fn needs_table(self) -> bool {
        self != OnExpiry::Review
    }
}

/// How an erasure request erases the person's rows in a rule's table (`on_erasure:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnErasure {
    /// The rows are deleted (children first).
    #[default]
    Delete,
    /// The columns under `anonymise:` are overwritten and the row stays, so rows that kept
    /// tables refer to keep their keys.
    Anonymise,
}

/// Rows a sweep skips although their period has ended (`exceptions:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum Exception {
    /// The person's data is under a legal hold (litigation, an investigation).
    LegalHold,
    /// The person has a request in progress: erasing now would change what the answer shows.
    OpenRequest,
    /// The person's processing is restricted (Art. 18); the data must stay as it is.
    ActiveRestriction,
}

impl Exception {
    /// Every exception, the default of a rule that lists none.
    pub fn all() -> Vec<Exception> {
        Exception::iter().collect()
    }
}

/// Column strategies from a policy or the catalog as the connector applies them.
pub fn connector_strategies(
    strategies: &std::collections::BTreeMap<String, AnonymiseStrategy>,
) -> crate::connectors::Strategies {
    use crate::connectors::Strategy;
    strategies
        .iter()
        .map(|(column, strategy)| {
            let strategy = match strategy {
                AnonymiseStrategy::Null => Strategy::Null,
                AnonymiseStrategy::Fixed(value) => Strategy::Fixed(value.clone()),
                AnonymiseStrategy::KeyedHash => Strategy::KeyedHash,
            };
            (column.clone(), strategy)
        })
        .collect()
}

/// The longest identifier PostgreSQL keeps whole (it silently truncates longer ones).
const MAX_IDENTIFIER_LEN: usize = 63;

/// What a policy file is told when a table or column name is not a plain identifier.
pub const IDENTIFIER_RULE: &str =
    "must be a plain SQL identifier: a letter or _, then letters, digits or _, at most 63 in all";

/// `^[A-Za-z_][A-Za-z0-9_]{0,62}$`: no quoting, no schema prefix, nothing SQL could read as more
/// than a name.
pub fn is_sql_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    name.len() <= MAX_IDENTIFIER_LEN
        && (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_plain_names_only() {
        for good in ["invoices", "_tmp", "Call_Start2", &"a".repeat(63)] {
            assert!(is_sql_identifier(good), "{good:?}");
        }
        for bad in [
            "",
            "users; DROP TABLE x",
            "billing.invoices",
            "\"invoices\"",
            "2fa",
            "call start",
            "naïve",
            "x--",
            &"a".repeat(64),
        ] {
            assert!(!is_sql_identifier(bad), "{bad:?}");
        }
    }

    #[test]
    fn all_exceptions_by_default() {
        assert_eq!(
            Exception::all(),
            [
                Exception::LegalHold,
                Exception::OpenRequest,
                Exception::ActiveRestriction
            ]
        );
    }
}
