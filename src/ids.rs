//! Typed ids (as lemmy's `newtypes.rs`): a request's id and a package's id are both text, but
//! a function that takes a [`RequestId`] cannot be handed a [`PackageId`] by mistake, and a
//! signature says which id it wants without a parameter name to read.
//!
//! This module sits below the domain and the store and imports neither: each id is serde
//! transparent (the JSON and the URL carry the bare string, as before), documented in the
//! OpenAPI document as a string, and stored as `Text` in SQLite and PostgreSQL alike, so rows
//! hold them directly.
//!
//! The ids are opaque: loket makes them ([`new_id`]) and never reads meaning into them, so any
//! text is accepted from a client and an unknown one is simply not found (404), as before.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// A new id for a stored row: a UUID v7, the time in milliseconds followed by 74 random bits.
///
/// Ids in the order they are made put each new row at the end of its table's key index, and of
/// every index that starts with its parent's id (a request's tasks), instead of on a random page
/// of it. With random ids (v4) every task of an intake changed a random page of two indexes of
/// a million entries, and SQLite's writer copied each such page whole into its log at every
/// commit; PostgreSQL's indexes gain the same. The time an id shows is no secret (a request's
/// receipt is on every page about it), and no id is a credential: links carry signed tokens.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// One opaque text id type with everything the layers need of it.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            Default,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            AsExpression,
            FromSqlRow,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = Text)]
        pub struct $name(String);

        impl $name {
            /// A new id, in the order ids are made (see [`crate::ids::new_id`]).
            pub fn generate() -> Self {
                Self(crate::ids::new_id())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(id: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(id))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// Read as text where text is wanted (a lookup by key, a log field, a file name), so
        /// the store's `&str` functions take an id as they are.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Maps keyed by an id are looked up with a `&str` too.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.0.as_str(), out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                String::from_sql(bytes).map(Self)
            }
        }
    };
}

text_id!(
    /// A data-subject request.
    RequestId
);
text_id!(
    /// A step of a request's checklist.
    TaskId
);
text_id!(
    /// A package: the copy of the data an access or portability request is answered with.
    PackageId
);
text_id!(
    /// A file attached to a request's task and, once chosen, to its package.
    AttachmentId
);
text_id!(
    /// A desk user (staff member).
    UserId
);
text_id!(
    /// One run of the retention sweep.
    SweepId
);
text_id!(
    /// A desk user's name, as staff are referred to where work is theirs: a request's or a
    /// task's assignee, the account in a path (`/users/{username}`). Unique among users; the
    /// account's own id ([`UserId`]) is what tokens carry.
    Username
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_bare_text_in_json_and_compares_with_text() {
        let id = RequestId::from("3f1c");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"3f1c\"");
        let back: RequestId = serde_json::from_str("\"3f1c\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(id, "3f1c");
        assert_eq!(id.to_string(), "3f1c");
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(PackageId::generate(), PackageId::generate());
        assert_eq!(PackageId::generate().len(), 36);
    }
}
