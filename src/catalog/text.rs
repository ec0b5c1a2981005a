//! A catalog text people read (a purpose, a retention period, a security measure) in Dutch and
//! English. Letters are written in one language throughout, so each text the catalog gives to a
//! letter comes in the letter's language.
//!
//! A catalog file writes a text either as a plain string, which is in the catalog's default
//! language (Dutch, [`DEFAULT_LANGUAGE`]), or as `{nl: …, en: …}`. Both forms are stored and
//! exported as written, so an import and an export give the same file.

use crate::vocabulary::Language;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The language of a catalog text written as a plain string.
pub const DEFAULT_LANGUAGE: Language = Language::Nl;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Text {
    /// In the catalog's default language.
    Plain(String),
    /// Per language; at least one is given (validation refuses an empty `{}`).
    Translated {
        nl: Option<String>,
        en: Option<String>,
    },
}

/// In the OpenAPI document: a plain string, or `{nl, en}`.
impl utoipa::PartialSchema for Text {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let string = || ObjectBuilder::new().schema_type(Type::String);
        OneOfBuilder::new()
            .item(string())
            .item(
                ObjectBuilder::new()
                    .property("nl", string())
                    .property("en", string()),
            )
            .into()
    }
}

impl utoipa::ToSchema for Text {}

impl Text {
    /// The text in `language`; where the catalog does not give it in that language, the text in
    /// the language it has, so a letter never has a hole (the language check of the letters
    /// catches a catalog that is not fully translated).
    pub fn get(&self, language: Language) -> &str {
        match self {
            Text::Plain(text) => text,
            Text::Translated { nl, en } => {
                let (asked, other) = match language {
                    Language::Nl => (nl, en),
                    Language::En => (en, nl),
                };
                asked.as_deref().or(other.as_deref()).unwrap_or_default()
            }
        }
    }

    /// The text in the catalog's default language: for the desk, the register and the checks.
    pub fn default_text(&self) -> &str {
        self.get(DEFAULT_LANGUAGE)
    }

    /// Whether the text is given in `language` itself.
    pub fn has(&self, language: Language) -> bool {
        match self {
            Text::Plain(_) => language == DEFAULT_LANGUAGE,
            Text::Translated { nl, en } => match language {
                Language::Nl => nl.is_some(),
                Language::En => en.is_some(),
            },
        }
    }

    /// Each written version with the field path it stands at (`purposes[0].en`), for validation.
    pub fn parts(&self, field: &str) -> Vec<(String, &str)> {
        match self {
            Text::Plain(text) => vec![(field.to_string(), text.as_str())],
            Text::Translated { nl, en } => [("nl", nl), ("en", en)]
                .into_iter()
                .filter_map(|(code, text)| Some((format!("{field}.{code}"), text.as_deref()?)))
                .collect(),
        }
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.default_text())
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text::Plain(text.to_string())
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text::Plain(text)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::Plain(text) => serializer.serialize_str(text),
            Text::Translated { nl, en } => {
                let given = [("nl", nl), ("en", en)];
                let mut map = serializer.serialize_map(None)?;
                for (code, text) in given {
                    if let Some(text) = text {
                        map.serialize_entry(code, text)?;
                    }
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a text, or the text per language as {nl: …, en: …}")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
        Ok(Text::Plain(text.to_string()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Text, E> {
        Ok(Text::Plain(text))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
        let (mut nl, mut en) = (None, None);
        while let Some(code) = map.next_key::<String>()? {
            let slot = match code.as_str() {
                "nl" => &mut nl,
                "en" => &mut en,
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown language `{other}`: a text is given as nl and/or en"
                    )))
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom(format!("`{code}` is given twice")));
            }
            *slot = Some(map.next_value::<String>()?);
        }
        Ok(Text::Translated { nl, en })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_string_is_the_default_language_and_a_map_is_per_language() {
        let plain: Text = serde_yaml::from_str("Klachten afhandelen").unwrap();
        assert_eq!(plain.get(Language::En), "Klachten afhandelen");
        assert!(plain.has(Language::Nl) && !plain.has(Language::En));
        let both: Text =
            serde_yaml::from_str("{nl: Klachten afhandelen, en: Handling complaints}").unwrap();
        assert_eq!(both.get(Language::Nl), "Klachten afhandelen");
        assert_eq!(both.get(Language::En), "Handling complaints");
        assert_eq!(
            serde_json::to_string(&both).unwrap(),
            r#"{"nl":"Klachten afhandelen","en":"Handling complaints"}"#
        );
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#""Klachten afhandelen""#
        );
        let only_en: Text = serde_yaml::from_str("{en: Handling complaints}").unwrap();
        assert_eq!(only_en.get(Language::Nl), "Handling complaints");
    }

    #[test]
    fn an_unknown_language_is_refused_with_its_line() {
        let error = serde_yaml::from_str::<Vec<Text>>("- a\n- {nl: b, de: c}\n").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("unknown language `de`"), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }
}
