//! Loading the policy directory: the shipped files, and the errors a person fixing a file sees.

use super::testing::{example_catalog, shipped_dir, shipped_policies};
use super::*;
use std::fs;

pub(super) const REQUESTS: &str = "\
requests:
  approval_required_for: [erasure]
  status_link_days: 120
  verification_code_minutes: 30
";

pub(super) const RULES: &str = "\
rules:
  - name: fiscal_records
    description: Invoices.
    system: billing
    activity: fiscal_records
    categories: [financial]
    keep: 7 years
    legal_basis: AWR art. 52
    legal_duty: true
  - name: call_recordings
    description: Recordings.
    system: call_recordings
    keep: 3 months
";

/// A policy directory holding `requests.yaml` and `retention.yaml` with the given texts.
pub(super) fn dir_with(requests: &str, retention: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("requests.yaml"), requests).unwrap();
    fs::write(dir.path().join("retention.yaml"), retention).unwrap();
    dir
}

/// The problems of loading a directory with these files.
pub(super) fn problems(requests: &str, retention: &str) -> Vec<PolicyProblem> {
    let dir = dir_with(requests, retention);
    match Policies::load_dir(dir.path()) {
        Err(PolicyError::Problems(problems)) => problems
            .into_iter()
            .map(|p| PolicyProblem {
                // Tests compare the file's own name, not the temporary directory.
                file: Path::new(&p.file)
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or(p.file),
                ..p
            })
            .collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

pub(super) fn only_problem(requests: &str, retention: &str) -> PolicyProblem {
    let mut found = problems(requests, retention);
    assert_eq!(found.len(), 1, "{found:#?}");
    found.remove(0)
}

#[test]
fn shipped_files_load_and_match_the_example_catalog() {
    let policies = shipped_policies();
    assert!(!policies.needs_approval(RequestKind::Erasure));
    assert_eq!(policies.requests.status_link_days, 120);
    assert_eq!(policies.requests.verification_code_minutes, 30);
    let fiscal = policies
        .rule("fiscal_records")
        .expect("fiscal rule shipped");
    assert_eq!(fiscal.keep, Period::Years(7));
    assert!(fiscal.legal_duty);
    assert_eq!(fiscal.system, "billing");
    let problems = policies.check_against(&example_catalog());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn shipped_duties_are_only_the_fiscal_ones() {
    let policies = shipped_policies();
    let duties: Vec<&str> = policies
        .retention
        .iter()
        .filter(|rule| rule.legal_duty)
        .map(|rule| rule.name.as_str())
        .collect();
    assert_eq!(duties, ["fiscal_records"]);
    let cdrs = policies.rule("call_detail_records").unwrap();
    assert_eq!(cdrs.keep, Period::Months(6));
    assert!(cdrs.basis(Language::Nl).contains("11.5"));
}

#[test]
fn rules_remember_where_they_were_written() {
    let dir = dir_with(REQUESTS, RULES);
    let policies = Policies::load_dir(dir.path()).unwrap();
    assert!(policies.needs_approval(RequestKind::Erasure));
    let recordings = policies.rule("call_recordings").unwrap();
    assert_eq!(recordings.source.path, "rules[1]");
    assert_eq!(recordings.source.line_of(""), Some(10));
    assert_eq!(recordings.source.line_of("system"), Some(12));
    assert_eq!(recordings.source.line_of("activity"), Some(10));
    assert!(recordings.source.file.ends_with("retention.yaml"));
}

#[test]
fn a_bad_period_names_file_line_and_field() {
    let problem = only_problem(
        REQUESTS,
        &RULES.replace("keep: 3 months", "keep: 3 maanden"),
    );
    assert_eq!(problem.file, "retention.yaml");
    assert_eq!(problem.line, Some(13));
    assert_eq!(problem.field, "rules[1].keep");
    assert!(problem.message.contains("\"7 years\""), "{problem}");
    assert!(
        problem
            .to_string()
            .starts_with("retention.yaml line 13: rules[1].keep: expected a period like"),
        "{problem}"
    );
}

#[test]
fn unknown_fields_are_refused() {
    let problem = only_problem(
        REQUESTS,
        &RULES.replace("keep: 3 months", "keep: 3 months\n    expires: delete"),
    );
    assert_eq!(problem.line, Some(14));
    assert_eq!(problem.field, "rules[1].expires");
    assert!(
        problem.message.contains("unknown field `expires`"),
        "{problem}"
    );

    let problem = only_problem(&format!("{REQUESTS}  approvals: []\n"), RULES);
    assert_eq!(problem.file, "requests.yaml");
    assert_eq!(problem.line, Some(5));
    assert!(
        problem.message.contains("unknown field `approvals`"),
        "{problem}"
    );
}

#[test]
fn a_missing_field_points_at_its_rule() {
    let problem = only_problem(REQUESTS, &RULES.replace("    keep: 7 years\n", ""));
    assert_eq!(problem.field, "rules[0]");
    assert!(
        problem.message.contains("missing field `keep`"),
        "{problem}"
    );
    let line = problem.line.expect("a line");
    assert!((2..=9).contains(&line), "{problem}");
}

#[test]
fn unknown_request_kinds_list_the_known_ones() {
    let problem = only_problem(&REQUESTS.replace("[erasure]", "[erasing]"), RULES);
    assert_eq!(problem.line, Some(2));
    assert_eq!(problem.field, "requests.approval_required_for[0]");
    assert!(problem.message.contains("human_review"), "{problem}");
}

#[test]
fn run_automatically_takes_task_kinds_that_need_no_agent() {
    let with = |kinds: &str| format!("{REQUESTS}  run_automatically: {kinds}\n");
    let dir = dir_with(&with("[export_data, erase_data]"), RULES);
    let policies = Policies::load_dir(dir.path()).expect("valid");
    assert_eq!(
        policies.requests.run_automatically,
        [TaskKind::ExportData, TaskKind::EraseData]
    );
    assert!(shipped_policies().requests.run_automatically.is_empty());

    let unknown = only_problem(&with("[export_data, exporting]"), RULES);
    assert_eq!(unknown.line, Some(5));
    assert_eq!(unknown.field, "requests.run_automatically[1]");
    assert!(unknown.message.contains("export_data"), "{unknown}");

    let found = problems(
        &with("[correct_data, send_answer, export_data, export_data]"),
        RULES,
    );
    let summary: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(summary.len(), 3, "{summary:#?}");
    assert!(summary[0].starts_with("requests.yaml line 5: requests.run_automatically[0]: correct_data cannot run without an agent (expected one of export_data, "), "{summary:#?}");
    assert!(
        summary[1].contains("run_automatically[1]: send_answer cannot run"),
        "{summary:#?}"
    );
    assert!(
        summary[2].ends_with("run_automatically[3]: is listed twice"),
        "{summary:#?}"
    );
}

#[test]
fn values_serde_cannot_judge_are_checked_with_lines() {
    let retention = RULES
        .replace("name: call_recordings", "name: Call-Recordings")
        .replace("    legal_basis: AWR art. 52\n", "");
    let requests = REQUESTS.replace("status_link_days: 120", "status_link_days: 0");
    let found = problems(&requests, &retention);
    let summary: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        summary,
        [
            "requests.yaml line 3: requests.status_link_days: must be between 1 and 730 days (got 0)",
            "retention.yaml line 2: rules[0].legal_basis: is required when legal_duty is true: \
             name the law that obliges keeping the data",
            "retention.yaml line 9: rules[1].name: must start with a lower-case letter and \
             contain only a-z, 0-9 and _",
        ]
    );
}

#[test]
fn rule_texts_may_come_in_both_languages_but_none_may_be_blank() {
    let bilingual = RULES
        .replace(
            "    description: Invoices.\n",
            "    description: {nl: Facturen., en: Invoices.}\n",
        )
        .replace(
            "    legal_basis: AWR art. 52\n",
            "    legal_basis: {nl: \"AWR art. 52\", en: \"AWR s. 52\"}\n",
        );
    let dir = dir_with(REQUESTS, &bilingual);
    let policies = Policies::load_dir(dir.path()).expect("bilingual rule texts load");
    let fiscal = &policies.retention[0];
    assert_eq!(fiscal.description.get(Language::En), "Invoices.");
    assert_eq!(fiscal.description.get(Language::Nl), "Facturen.");
    assert_eq!(fiscal.basis(Language::En), "AWR s. 52");

    let blank = bilingual.replace(
        "{nl: Facturen., en: Invoices.}",
        "{nl: \"\", en: Invoices.}",
    );
    let found: Vec<String> = problems(REQUESTS, &blank)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        found
            .iter()
            .any(|p| p.contains("rules[0].description.nl: must not be empty")),
        "{found:#?}"
    );
}

#[test]
fn duplicate_rule_names_are_refused_across_files() {
    let dir = dir_with(REQUESTS, RULES);
    let extra = "rules:\n  - name: fiscal_records\n    description: Again.\n    system: crm\n    keep: 1 year\n";
    fs::write(dir.path().join("zz_more.yaml"), extra).unwrap();
    let Err(PolicyError::Problems(found)) = Policies::load_dir(dir.path()) else {
        panic!("duplicate accepted");
    };
    assert_eq!(found.len(), 1, "{found:#?}");
    let message = found[0].to_string();
    assert!(
        message.contains("zz_more.yaml line 2: rules[0].name"),
        "{message}"
    );
    assert!(
        message.contains("duplicate rule name 'fiscal_records'"),
        "{message}"
    );
    assert!(message.contains("retention.yaml line 2"), "{message}");
}

#[test]
fn the_request_policy_is_defined_exactly_once() {
    let missing = only_problem("# nothing here yet\n", RULES);
    assert!(missing.message.contains("requests:"), "{missing}");
    let twice = problems(REQUESTS, &format!("{REQUESTS}{RULES}"));
    assert_eq!(twice.len(), 1, "{twice:#?}");
    assert_eq!(twice[0].file, "retention.yaml");
    assert!(
        twice[0].message.contains("already defined in"),
        "{}",
        twice[0]
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let problem = only_problem(
        REQUESTS,
        &RULES.replace("categories: [financial]", "categories: [financial"),
    );
    assert!(problem.line.is_some(), "{problem}");
}

#[test]
fn an_empty_or_missing_directory_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Policies::load_dir(empty.path()),
        Err(PolicyError::Invalid(_))
    ));
    assert!(matches!(
        Policies::load_dir(&empty.path().join("nope")),
        Err(PolicyError::Read { .. })
    ));
    // The shipped directory is where the tests expect it.
    assert!(shipped_dir().join("retention.yaml").is_file());
}

/// The shipped rules, edited, checked against the example catalog.
fn catalog_problems(edit: impl Fn(&mut Vec<RetentionRule>)) -> Vec<String> {
    let mut policies = shipped_policies();
    edit(&mut policies.retention);
    policies
        .check_against(&example_catalog())
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn unknown_systems_activities_and_categories_are_found_with_their_lines() {
    let found = catalog_problems(|rules| {
        rules[0].system = "boekhouding".into();
        rules[2].categories.push("shoe_size".into());
        rules[3].categories.push("usage_cdr".into());
    });
    let system_line = shipped_policies().retention[0]
        .source
        .line_of("system")
        .unwrap();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[0].ends_with(&format!(
            "retention.yaml line {system_line}: rules[0].system: unknown system 'boekhouding' \
         (the catalog has: crm, billing, ticketing, call_recordings, marketing, web_analytics, recruitment)"
        )),
        "{}",
        found[0]
    );
    assert!(
        found[1].ends_with("rules[2].categories[1]: unknown data category 'shoe_size'"),
        "{}",
        found[1]
    );
    assert!(
        found[2].contains("rules[3].categories[3]: system 'crm' holds no 'usage_cdr' data"),
        "{}",
        found[2]
    );
}

#[test]
fn an_activity_must_use_the_rules_system() {
    let found = catalog_problems(|rules| {
        rules[1].activity = Some("customer_service".into());
        rules[1].categories.clear();
    });
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("rules[1].activity: activity 'customer_service' does not use system 'billing' (it uses: crm, ticketing)"), "{}", found[0]);
}

#[test]
fn a_rule_that_covers_nothing_is_found() {
    let mut catalog = example_catalog();
    let recordings = catalog
        .systems
        .iter_mut()
        .find(|system| system.key == "call_recordings")
        .unwrap();
    recordings
        .holdings
        .retain(|holding| holding.category == "contact");
    recordings.holdings[0].category = "usage".into();
    let found = shipped_policies().check_against(&catalog);
    assert_eq!(found.len(), 1, "{found:#?}");
    let message = found[0].to_string();
    assert!(
        message.contains(": rules[5]: covers no data: system 'call_recordings'"),
        "{message}"
    );
}

#[test]
fn a_category_outside_the_activity_is_found() {
    let found = catalog_problems(|rules| {
        rules[0].categories.push("usage_cdr".into());
    });
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("activity 'fiscal_records' does not use 'usage_cdr' data"),
        "{}",
        found[0]
    );
}

#[test]
fn a_rule_covers_the_activitys_categories_when_none_are_listed() {
    let policies = shipped_policies();
    let catalog = example_catalog();
    let fiscal = policies.rule("fiscal_records").unwrap();
    assert_eq!(
        fiscal.categories_in(&catalog),
        ["identity", "contact", "financial", "contract_details"]
    );
    let mut all_of_activity = fiscal.clone();
    all_of_activity.categories.clear();
    assert_eq!(
        all_of_activity.categories_in(&catalog),
        fiscal.categories_in(&catalog)
    );
    let recordings = policies.rule("call_recordings").unwrap();
    assert_eq!(
        recordings.categories_in(&catalog),
        ["communication_content", "contact", "identity"]
    );
}
