//! `loket connectors check FILE…`: an HTTP definition checked where it is written. The file is
//! a catalog document (like `connectors/zendesk.yaml`): it must parse and validate (an unknown
//! operation is refused there), every secret it names must be configured, its `check` request
//! must succeed and each records path must be in the response. Every problem is one line,
//! `FILE:LINE: FIELD: MESSAGE`, the field being its path in the file.

use crate::catalog::yaml::{locate, YamlError};
use crate::connectors::Connectors;
use crate::error::FieldError;

/// The problems of one catalog file with HTTP definitions (blocking: it makes requests).
pub fn check_file(connectors: &Connectors, file: &str, text: &str) -> Vec<String> {
    let document = match crate::catalog::parse_yaml(text) {
        Ok(document) => document,
        Err(YamlError::Syntax(message)) => return vec![format!("{file}: {message}")],
        Err(YamlError::Invalid(errors)) => {
            return errors
                .into_iter()
                .map(|e| at(file, e.line, &e.error))
                .collect()
        }
    };
    let mut errors = Vec::new();
    for (system, problems) in connectors.check_http(&document.systems) {
        let index = document
            .systems
            .iter()
            .position(|s| s.key == system)
            .unwrap_or_default();
        errors.extend(
            problems.into_iter().map(|(field, message)| {
                FieldError::new(format!("systems[{index}].{field}"), message)
            }),
        );
    }
    locate(text, errors)
        .into_iter()
        .map(|e| at(file, e.line, &e.error))
        .collect()
}

fn at(file: &str, line: Option<usize>, error: &FieldError) -> String {
    match line {
        Some(line) => format!("{file}:{line}: {}: {}", error.field, error.message),
        None => format!("{file}: {}: {}", error.field, error.message),
    }
}
