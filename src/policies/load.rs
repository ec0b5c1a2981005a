//! Reading the policy directory: every `*.yaml` file in it, parsed, checked on its own and merged
//! into one [`Policies`], with every problem located at its file, line and field.
//!
//! serde_yaml refuses what does not fit the format (unknown fields, a missing field, a period that
//! does not parse) and says on which line. What needs the whole value (key rules, duplicates,
//! ranges) is checked afterwards on field paths, which `catalog::yaml::locate` maps to lines.

use super::{
    is_sql_identifier, join_path, OnErasure, OnExpiry, Policies, PolicyError, PolicyProblem,
    RequestPolicy, RetentionRule, RuleSource, SweepPolicy, IDENTIFIER_RULE,
};
use crate::catalog::model::is_valid_key;
use crate::catalog::yaml::locate;
use crate::error::FieldError;
use crate::vocabulary::TaskKind;
use serde::Deserialize;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One policy file as written. Every section is optional so the policies can be split over files
/// as the organisation likes (`requests.yaml`, `retention.yaml`, one file per department, ...).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    requests: Option<RequestPolicy>,
    #[serde(default)]
    rules: Vec<RetentionRule>,
    #[serde(default)]
    sweeps: Option<SweepPolicy>,
    #[serde(default)]
    guide: Option<super::guide::GuidePolicy>,
}

/// The longest a status link may stay valid: a link to a closed request is of no use for long.
const MAX_STATUS_LINK_DAYS: i64 = 730;
/// The widest reminder window: a month ahead is the whole legal period.
const MAX_REMINDER_DAYS: i64 = 31;
/// The longest a one-time code may stay valid; a code is meant to be used right away.
const MAX_VERIFICATION_CODE_MINUTES: i64 = 24 * 60;
/// An owner link is for a few days of work; months would leave a working link lying around.
const MAX_OWNER_LINK_DAYS: i64 = 60;

const KEY_RULE: &str = "must start with a lower-case letter and contain only a-z, 0-9 and _";

pub(super) fn load_dir(dir: &Path) -> Result<Policies, PolicyError> {
    let paths = yaml_files(dir)?;
    if paths.is_empty() {
        return Err(PolicyError::Invalid(format!(
            "{}: no policy files (*.yaml) found",
            dir.display()
        )));
    }
    let mut files = Vec::new();
    for path in paths {
        let text = fs::read_to_string(&path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        files.push((path.display().to_string(), text));
    }
    load_files(&dir.display().to_string(), &files)
}

/// The policy files built into the binary: the `policies/` directory of the source tree.
pub(super) const SHIPPED: &[(&str, &str)] = &[
    (
        "policies/requests.yaml",
        include_str!("../../policies/requests.yaml"),
    ),
    (
        "policies/retention.yaml",
        include_str!("../../policies/retention.yaml"),
    ),
    (
        "policies/sweeps.yaml",
        include_str!("../../policies/sweeps.yaml"),
    ),
    (
        "policies/guide.yaml",
        include_str!("../../policies/guide.yaml"),
    ),
];

/// Parses and merges `files` (name and text, in order); `origin` names them all in a problem
/// that concerns none in particular.
pub(super) fn load_files(
    origin: &str,
    files: &[(String, String)],
) -> Result<Policies, PolicyError> {
    let mut merged = Merged::default();
    for (file, text) in files {
        match parse_file(file, text) {
            Ok(parsed) => merged.add(file, parsed),
            Err(problems) => merged.problems.extend(problems),
        }
    }
    merged.finish(origin)
}

/// The `*.yaml` files directly in `dir`, sorted by name so the rule order does not depend on the
/// file system.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let unreadable = |source| PolicyError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.is_file() && path.extension().is_some_and(|ext| ext == "yaml") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// The files read so far.
#[derive(Default)]
struct Merged {
    requests: Option<(String, RequestPolicy)>,
    sweeps: Option<(String, SweepPolicy)>,
    guide: Option<(String, super::guide::GuidePolicy)>,
    rules: Vec<RetentionRule>,
    problems: Vec<PolicyProblem>,
}

impl Merged {
    fn add(&mut self, file: &str, parsed: PolicyFile) {
        if let Some(requests) = parsed.requests {
            let problem = define_once(&mut self.requests, file, "requests", requests);
            self.problems.extend(problem);
        }
        if let Some(sweeps) = parsed.sweeps {
            let problem = define_once(&mut self.sweeps, file, "sweeps", sweeps);
            self.problems.extend(problem);
        }
        if let Some(guide) = parsed.guide {
            self.problems
                .extend(
                    guide
                        .problems()
                        .into_iter()
                        .map(|(field, message)| PolicyProblem {
                            file: file.to_string(),
                            line: None,
                            field,
                            message,
                        }),
                );
            let problem = define_once(&mut self.guide, file, "guide", guide);
            self.problems.extend(problem);
        }
        self.rules.extend(parsed.rules);
    }

    fn finish(mut self, origin: &str) -> Result<Policies, PolicyError> {
        self.problems.extend(duplicate_names(&self.rules));
        if !self.problems.is_empty() {
            // A file that did not parse may well be the one holding `requests:`.
            return Err(PolicyError::Problems(self.problems));
        }
        let Some((_, requests)) = self.requests else {
            self.problems.push(PolicyProblem {
                file: origin.to_string(),
                line: None,
                field: String::new(),
                message: "no policy file defines `requests:` (the request-handling policy)".into(),
            });
            return Err(PolicyError::Problems(self.problems));
        };
        Ok(Policies {
            requests,
            retention: self.rules,
            sweeps: self.sweeps.map(|(_, sweeps)| sweeps).unwrap_or_default(),
            guide: self.guide.map(|(_, guide)| guide).unwrap_or_default(),
        })
    }
}

/// Puts a section into `slot` unless an earlier file defined it: two definitions would leave it
/// to the file order which one counts.
fn define_once<T>(
    slot: &mut Option<(String, T)>,
    file: &str,
    section: &str,
    value: T,
) -> Option<PolicyProblem> {
    match slot {
        Some((first, _)) => Some(PolicyProblem {
            file: file.to_string(),
            line: None,
            field: section.into(),
            message: format!("`{section}:` is already defined in {first}"),
        }),
        None => {
            *slot = Some((file.to_string(), value));
            None
        }
    }
}

/// Rule names are unique over all files: sweeps, tasks and the audit trail refer to them.
fn duplicate_names(rules: &[RetentionRule]) -> Vec<PolicyProblem> {
    let mut first_seen: HashMap<&str, &RuleSource> = HashMap::new();
    let mut problems = Vec::new();
    for rule in rules {
        match first_seen.get(rule.name.as_str()) {
            Some(first) => problems.push(rule.source.problem(
                "name",
                format!(
                    "duplicate rule name '{}' (first defined in {}{})",
                    rule.name,
                    first.file,
                    first
                        .line_of("name")
                        .map(|line| format!(" line {line}"))
                        .unwrap_or_default()
                ),
            )),
            None => {
                first_seen.insert(&rule.name, &rule.source);
            }
        }
    }
    problems
}

/// Parses one file and checks it on its own; the rules come back knowing where they stand.
fn parse_file(file: &str, text: &str) -> Result<PolicyFile, Vec<PolicyProblem>> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    // A file of nothing but comments is an empty policy file, not an error.
    let parsed: Option<PolicyFile> = serde_path_to_error::deserialize(deserializer)
        .map_err(|error| vec![format_problem(file, text, error)])?;
    let mut parsed = parsed.unwrap_or_default();

    let errors = validate(&parsed);
    if !errors.is_empty() {
        return Err(locate(text, errors)
            .into_iter()
            .map(|located| PolicyProblem {
                file: file.to_string(),
                line: located.line,
                field: located.error.field,
                message: located.error.message,
            })
            .collect());
    }
    attach_sources(file, text, &mut parsed.rules);
    Ok(parsed)
}

/// A format error from serde_yaml, whose message reads "path: message at line L column C", with
/// the path and line moved to their own fields.
///
/// serde_yaml marks an error raised by a field's own deserializer (a period that does not parse)
/// at the start of the enclosing mapping, while the line walk knows where the field itself stands.
/// Both lie at or before the error, so the later of the two is the more precise.
fn format_problem(
    file: &str,
    text: &str,
    error: serde_path_to_error::Error<serde_yaml::Error>,
) -> PolicyProblem {
    let path = error.path().to_string();
    let field = if path == "." { String::new() } else { path };
    let field_line = locate(text, vec![FieldError::new(field.clone(), "")])
        .first()
        .and_then(|located| located.line);
    let inner = error.into_inner();
    let line = inner
        .location()
        .map(|location| location.line())
        .max(field_line);
    let mut message = inner.to_string();
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    // serde_yaml's own path prefix can be shorter than the full one (`rules[1]` for
    // `rules[1].keep`); any prefix of the field is dropped, as the field is shown anyway.
    let message = match message.split_once(": ") {
        Some((head, rest)) if !head.is_empty() && field.starts_with(head) => rest.to_string(),
        _ => message,
    };
    PolicyProblem {
        file: file.to_string(),
        line,
        field,
        message,
    }
}

/// What serde cannot check: key rules, blank text, ranges, a duty without its law.
fn validate(file: &PolicyFile) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(requests) = &file.requests {
        validate_requests(requests, &mut errors);
    }
    if let Some(sweeps) = &file.sweeps {
        validate_sweeps(sweeps, &mut errors);
    }
    for (index, rule) in file.rules.iter().enumerate() {
        validate_rule(&format!("rules[{index}]"), rule, &mut errors);
    }
    errors
}

fn validate_requests(requests: &RequestPolicy, errors: &mut Vec<FieldError>) {
    let mut in_range = |field: &str, value: i64, max: i64, unit: &str| {
        if !(1..=max).contains(&value) {
            errors.push(FieldError::new(
                format!("requests.{field}"),
                format!("must be between 1 and {max} {unit} (got {value})"),
            ));
        }
    };
    in_range(
        "status_link_days",
        requests.status_link_days,
        MAX_STATUS_LINK_DAYS,
        "days",
    );
    in_range(
        "verification_code_minutes",
        requests.verification_code_minutes,
        MAX_VERIFICATION_CODE_MINUTES,
        "minutes",
    );
    in_range(
        "owner_link_days",
        requests.owner_link_days,
        MAX_OWNER_LINK_DAYS,
        "days",
    );
    in_range(
        "owner_reminder_days",
        requests.owner_reminder_days,
        MAX_OWNER_LINK_DAYS,
        "days",
    );
    in_range(
        "reminders.due_within_days",
        requests.reminders.due_within_days,
        MAX_REMINDER_DAYS,
        "days",
    );
    if requests.reminders.send_hour > 23 {
        errors.push(FieldError::new(
            "requests.reminders.send_hour",
            format!(
                "must be an hour from 0 to 23 (got {})",
                requests.reminders.send_hour
            ),
        ));
    }
    for (index, kind) in requests.run_automatically.iter().enumerate() {
        let field = format!("requests.run_automatically[{index}]");
        if !kind.runs_automatically() {
            let runnable: Vec<&str> = <TaskKind as strum::VariantArray>::VARIANTS
                .iter()
                .filter(|kind| kind.runs_automatically())
                .map(|kind| kind.as_str())
                .collect();
            errors.push(FieldError::new(
                field,
                format!(
                    "{kind} cannot run without an agent (expected one of {})",
                    runnable.join(", ")
                ),
            ));
        } else if requests.run_automatically[..index].contains(kind) {
            errors.push(FieldError::new(field, "is listed twice"));
        }
    }
}

fn validate_sweeps(sweeps: &SweepPolicy, errors: &mut Vec<FieldError>) {
    let max = SweepPolicy::MAX_BATCH_SIZE;
    if !(1..=max).contains(&sweeps.batch_size) {
        errors.push(FieldError::new(
            "sweeps.batch_size",
            format!(
                "must be between 1 and {max} rows (got {})",
                sweeps.batch_size
            ),
        ));
    }
}

fn validate_rule(path: &str, rule: &RetentionRule, errors: &mut Vec<FieldError>) {
    validate_rule_keys(path, rule, errors);
    validate_sweep_fields(path, rule, errors);
}

fn validate_rule_keys(path: &str, rule: &RetentionRule, errors: &mut Vec<FieldError>) {
    let mut add = |field: &str, message: &str| {
        errors.push(FieldError::new(format!("{path}.{field}"), message));
    };
    if !is_valid_key(&rule.name) {
        add("name", KEY_RULE);
    }
    for (field, text) in rule.description.parts("description") {
        if text.trim().is_empty() {
            add(&field, "must not be empty");
        }
    }
    if !is_valid_key(&rule.system) {
        add("system", KEY_RULE);
    }
    if rule
        .activity
        .as_deref()
        .is_some_and(|key| !is_valid_key(key))
    {
        add("activity", KEY_RULE);
    }
    for (index, code) in rule.categories.iter().enumerate() {
        if !is_valid_key(code) {
            add(&format!("categories[{index}]"), KEY_RULE);
        }
    }
    match &rule.legal_basis {
        Some(basis)
            if basis
                .parts("")
                .iter()
                .any(|(_, text)| text.trim().is_empty()) =>
        {
            add(
                "legal_basis",
                "must not be blank; leave the field out instead",
            )
        }
        // An erasure request is refused for this data on the strength of the law named here, so
        // the duty cannot be claimed without naming it.
        None if rule.legal_duty => add(
            "legal_basis",
            "is required when legal_duty is true: name the law that obliges keeping the data",
        ),
        _ => {}
    }
}

/// The fields a sweep acts on: SQL names, the action and what it needs, the exceptions.
fn validate_sweep_fields(path: &str, rule: &RetentionRule, errors: &mut Vec<FieldError>) {
    let mut add = |field: &str, message: String| {
        errors.push(FieldError::new(format!("{path}.{field}"), message));
    };
    let mut identifier = |field: &str, name: &str| {
        if !is_sql_identifier(name) {
            add(field, format!("'{name}' {IDENTIFIER_RULE}"));
        }
    };
    if let Some(table) = &rule.table {
        identifier("table", table);
    }
    if let Some(column) = &rule.counted_from {
        identifier("counted_from", column);
    }
    for column in rule.anonymise.keys() {
        identifier(&format!("anonymise.{column}"), column);
    }
    for (field, message) in combination_problems(rule) {
        add(field, message);
    }
    for (index, exception) in rule.exceptions.iter().enumerate() {
        if rule.exceptions[..index].contains(exception) {
            let field = format!("exceptions[{index}]");
            add(&field, "is listed twice".into());
        }
    }
}

/// Fields that need or exclude one another, as (field, message).
fn combination_problems(rule: &RetentionRule) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    match (&rule.table, &rule.counted_from) {
        (Some(_), None) => problems.push((
            "counted_from",
            "is required with `table`: name the timestamp column the period counts from".into(),
        )),
        (None, Some(_)) => problems.push((
            "counted_from",
            "needs `table`: the column of which table?".into(),
        )),
        _ => {}
    }
    if rule.table.is_none() && rule.on_expiry.needs_table() {
        problems.push((
            "on_expiry",
            "needs `table` and `counted_from`: without a table a sweep can only create a review \
             task (on_expiry: review)"
                .into(),
        ));
    }
    let anonymises = rule.on_expiry == OnExpiry::Anonymise;
    let erases_by_anonymising = rule.on_erasure == OnErasure::Anonymise;
    if erases_by_anonymising && (rule.table.is_none() || rule.anonymise.is_empty()) {
        problems.push((
            "on_erasure",
            "anonymise needs `table` and the columns under `anonymise:` with their strategies"
                .into(),
        ));
    }
    if anonymises && rule.anonymise.is_empty() {
        problems.push((
            "anonymise",
            "is required with on_expiry: anonymise: list each column and its strategy \
             (null, keyed_hash or {fixed: \"a value\"})"
                .into(),
        ));
    }
    if !anonymises && !erases_by_anonymising && !rule.anonymise.is_empty() {
        problems.push((
            "anonymise",
            "is only for on_expiry: anonymise or on_erasure: anonymise; remove it or change on_expiry".into(),
        ));
    }
    problems
}

/// Records where each rule and its fields stand, for problems found later against the catalog.
fn attach_sources(file: &str, text: &str, rules: &mut [RetentionRule]) {
    const FIELDS: [&str; 15] = [
        "name",
        "description",
        "system",
        "activity",
        "categories",
        "keep",
        "legal_basis",
        "legal_duty",
        "table",
        "counted_from",
        "on_expiry",
        "anonymise",
        "on_erasure",
        "exceptions",
        "schedule",
    ];
    for (index, rule) in rules.iter_mut().enumerate() {
        let path = format!("rules[{index}]");
        let categories = (0..rule.categories.len()).map(|i| format!("categories[{i}]"));
        let columns = rule
            .anonymise
            .keys()
            .map(|column| format!("anonymise.{column}"));
        let fields: Vec<String> = std::iter::once(String::new())
            .chain(FIELDS.iter().map(|field| field.to_string()))
            .chain(categories)
            .chain(columns)
            .collect();
        let probes = fields
            .iter()
            .map(|field| FieldError::new(join_path(&path, field), ""))
            .collect();
        let lines = fields
            .iter()
            .zip(locate(text, probes))
            .filter_map(|(field, located)| Some((field.clone(), located.line?)))
            .collect();
        rule.source = RuleSource {
            file: file.to_string(),
            path,
            lines,
        };
    }
}
