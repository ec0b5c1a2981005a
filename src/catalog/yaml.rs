//! Reading catalog files: YAML in, a [`CatalogDocument`] out, with every error pointing at the
//! line of the file a person has to fix.
//!
//! serde_yaml reports the line of a syntax or type error itself. Validation runs later on the
//! parsed document and only knows field paths (`systems[2].holdings[0].category`), so the file is
//! also walked once with a position-aware parser to map each path to its line.

use super::model::{CatalogDocument, Validate};
use crate::error::FieldError;
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Why a catalog file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum YamlError {
    #[error("{0}")]
    Syntax(String),
    #[error("{}", format_located(.0))]
    Invalid(Vec<LocatedError>),
}

/// A field error with the line it stands on, where the file has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError {
    pub line: Option<usize>,
    pub error: FieldError,
}

fn format_located(errors: &[LocatedError]) -> String {
    errors
        .iter()
        .map(|e| match e.line {
            Some(line) => format!("line {line}: {}: {}", e.error.field, e.error.message),
            None => format!("{}: {}", e.error.field, e.error.message),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses and validates a catalog file on its own (references to categories and systems must
/// resolve within the file or the built-in taxonomy).
pub fn parse_yaml(text: &str) -> Result<CatalogDocument, YamlError> {
    let document: CatalogDocument =
        serde_yaml::from_str(text).map_err(|e| YamlError::Syntax(e.to_string()))?;
    document
        .validate()
        .map_err(|errors| YamlError::Invalid(locate(text, errors)))?;
    Ok(document)
}

/// Attaches line numbers to field errors found after parsing.
pub fn locate(text: &str, errors: Vec<FieldError>) -> Vec<LocatedError> {
    let lines = PathLines::of(text);
    errors
        .into_iter()
        .map(|error| LocatedError {
            line: lines.line_of(&error.field),
            error,
        })
        .collect()
}

/// The line on which each field path starts.
#[derive(Debug, Default)]
struct PathLines {
    lines: HashMap<String, usize>,
}

impl PathLines {
    fn of(text: &str) -> Self {
        let mut walker = Walker::default();
        let mut parser = Parser::new_from_str(text);
        // The text already parsed with serde_yaml; a failure here only costs the line numbers.
        let _ = parser.load(&mut walker, false);
        PathLines {
            lines: walker.lines,
        }
    }

    /// The line of `path`, or of the closest enclosing field (a missing field has no line of its
    /// own, but the object that lacks it does).
    fn line_of(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

enum Frame {
    Mapping { key: Option<String> },
    Sequence { index: usize },
}

#[derive(Default)]
struct Walker {
    stack: Vec<Frame>,
    lines: HashMap<String, usize>,
}

impl Walker {
    fn path(&self) -> String {
        let mut path = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Mapping { key: Some(key) } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Frame::Mapping { key: None } => {}
                Frame::Sequence { index } => path.push_str(&format!("[{index}]")),
            }
        }
        path
    }

    /// A value (scalar or container) starts at `line` in the current position.
    fn value_at(&mut self, line: usize) {
        let path = self.path();
        if !path.is_empty() {
            self.lines.entry(path).or_insert(line);
        }
    }

    /// The current value is complete: move to the next key or index.
    fn advance(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Mapping { key }) => *key = None,
            Some(Frame::Sequence { index }) => *index += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(value, ..) => match self.stack.last_mut() {
                Some(Frame::Mapping { key: key @ None }) => {
                    *key = Some(value);
                    let path = self.path();
                    self.lines.entry(path).or_insert(line);
                }
                _ => {
                    self.value_at(line);
                    self.advance();
                }
            },
            Event::MappingStart(..) => {
                self.value_at(line);
                self.stack.push(Frame::Mapping { key: None });
            }
            Event::SequenceStart(..) => {
                self.value_at(line);
                self.stack.push(Frame::Sequence { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.advance();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
organisation:
  name: Voorbeeld B.V.
  contact_email: privacy@example.nl
systems:
  - key: crm
    name: CRM
    owner: Klantenservice
    identifier_kinds: [email]
    holdings:
      - category: contact
        location: customers.email
        origin: provided
      - category: no_such_category
        location: customers.hobby
        origin: provided
";

    #[test]
    fn validation_errors_name_the_line() {
        let error = parse_yaml(FILE).unwrap_err();
        let YamlError::Invalid(errors) = &error else {
            panic!("expected validation errors, got {error:?}");
        };
        let unknown = errors
            .iter()
            .find(|e| e.error.field == "systems[0].holdings[1].category")
            .expect("unknown category is reported");
        assert_eq!(unknown.line, Some(13));
        assert!(error.to_string().contains("line 13"));
    }

    #[test]
    fn type_errors_name_the_line() {
        let broken = FILE.replace(
            "origin: provided\n      - category: no",
            "origin: guessed\n      - category: no",
        );
        let error = parse_yaml(&broken).unwrap_err();
        assert!(matches!(error, YamlError::Syntax(_)));
        assert!(error.to_string().contains("line 12"), "{error}");
    }

    #[test]
    fn missing_fields_point_at_their_object() {
        let lines = PathLines::of(FILE);
        assert_eq!(lines.line_of("systems[0].holdings[0].location"), Some(11));
        assert_eq!(lines.line_of("systems[0].description"), Some(5));
        assert_eq!(lines.line_of("organisation.name"), Some(2));
    }
}
