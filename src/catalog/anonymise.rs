//! How a column is anonymised: by a retention rule (`anonymise:` in the policies) and by an
//! erasure that must keep a row (`anonymise_on_erasure:` in the catalog). Both files speak the
//! same words, so the type sits here, below the policies that also use it.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How one column is anonymised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnonymiseStrategy {
    /// Set to NULL (`null`).
    Null,
    /// Set to this value (`{fixed: "onbekend"}`).
    Fixed(String),
    /// Replaced by a keyed hash of the value (`keyed_hash`), so rows of one person still group
    /// together without showing who; the key comes from configuration, never from the policy.
    KeyedHash,
}

const STRATEGY_EXPECTED: &str = "null, keyed_hash or {fixed: \"a value\"}";

impl Serialize for AnonymiseStrategy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            AnonymiseStrategy::Null => serializer.serialize_unit(),
            AnonymiseStrategy::KeyedHash => serializer.serialize_str("keyed_hash"),
            AnonymiseStrategy::Fixed(value) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("fixed", value)?;
                map.end()
            }
        }
    }
}

/// YAML's `null` is no string, so `email: null` arrives as a unit; `"null"` in quotes is accepted
/// too, since a person cannot be expected to know the difference.
impl<'de> Deserialize<'de> for AnonymiseStrategy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrategyVisitor)
    }
}

struct StrategyVisitor;

impl<'de> Visitor<'de> for StrategyVisitor {
    type Value = AnonymiseStrategy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(STRATEGY_EXPECTED)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(AnonymiseStrategy::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(AnonymiseStrategy::Null)
    }

    fn visit_str<E: de::Error>(self, word: &str) -> Result<Self::Value, E> {
        match word {
            "null" => Ok(AnonymiseStrategy::Null),
            "keyed_hash" => Ok(AnonymiseStrategy::KeyedHash),
            _ => Err(E::custom(format_args!(
                "unknown strategy `{word}`, expected {STRATEGY_EXPECTED}"
            ))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format_args!(
                "empty strategy, expected {STRATEGY_EXPECTED}"
            )));
        };
        if key != "fixed" {
            return Err(de::Error::custom(format_args!(
                "unknown strategy `{key}`, expected {STRATEGY_EXPECTED}"
            )));
        }
        let value: String = map.next_value()?;
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom(format_args!(
                "a strategy has one key, expected {STRATEGY_EXPECTED}"
            )));
        }
        Ok(AnonymiseStrategy::Fixed(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn strategies_read_as_people_write_them() {
        let text = "a: null\nb: ~\nc: \"null\"\nd: keyed_hash\ne: {fixed: onbekend}\nf:\n  fixed: \"\"\ng:\n";
        let parsed: BTreeMap<String, AnonymiseStrategy> = serde_yaml::from_str(text).unwrap();
        use AnonymiseStrategy::*;
        let expected = [
            ("a", Null),
            ("b", Null),
            ("c", Null),
            ("d", KeyedHash),
            ("e", Fixed("onbekend".into())),
            ("f", Fixed(String::new())),
            ("g", Null),
        ];
        for (column, strategy) in expected {
            assert_eq!(parsed[column], strategy, "{column}");
        }
        let back = serde_yaml::to_string(&parsed).unwrap();
        let again: BTreeMap<String, AnonymiseStrategy> = serde_yaml::from_str(&back).unwrap();
        assert_eq!(again, parsed);
    }

    #[test]
    fn unknown_strategies_say_what_is_expected() {
        for bad in [
            "a: hash",
            "a: {fixd: x}",
            "a: {fixed: x, also: y}",
            "a: {}",
            "a: [null]",
        ] {
            let error = serde_yaml::from_str::<BTreeMap<String, AnonymiseStrategy>>(bad)
                .unwrap_err()
                .to_string();
            assert!(error.contains(STRATEGY_EXPECTED), "{bad}: {error}");
        }
    }
}
