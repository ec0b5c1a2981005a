//! The parts of the policy files sweeps act on: tables and columns, the action at expiry, the
//! exceptions and the schedules, and the located errors a person fixing them sees.

use super::testing::{example_catalog, shipped_policies};
use super::tests::{dir_with, only_problem, problems, REQUESTS};
use super::*;
use crate::catalog::model::ConnectorKind;
use chrono::TimeZone;
use std::fs;

const SWEEPS: &str = "\
sweeps:
  schedule: \"0 0 3 * * *\"
  batch_size: 500
  dry_run_by_default: false
";

/// One rule with every sweep field, and one that leaves them all out.
const RULES: &str = "\
rules:
  - name: crm_customers
    description: Customers, 2 years after the contract ends.
    system: crm
    keep: 2 years
    table: customers
    counted_from: contract_ended_at
    on_expiry: anonymise
    anonymise:
      name: {fixed: Geanonimiseerd}
      email: null
      customer_number: keyed_hash
    exceptions: [legal_hold, open_request]
    schedule: \"0 0 4 * * Sun\"
  - name: call_recordings
    description: Recordings.
    system: call_recordings
    keep: 3 months
";

fn load(requests: &str, retention: &str) -> Policies {
    let dir = dir_with(requests, retention);
    Policies::load_dir(dir.path()).expect("the policies load")
}

/// The line (1-based) of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
        + 1
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

#[test]
fn every_sweep_field_loads() {
    let policies = load(&format!("{REQUESTS}{SWEEPS}"), RULES);
    assert_eq!(policies.sweeps.schedule.source(), "0 0 3 * * *");
    assert_eq!(policies.sweeps.batch_size, 500);
    assert!(!policies.sweeps.dry_run_by_default);

    let customers = policies.rule("crm_customers").unwrap();
    assert_eq!(customers.table.as_deref(), Some("customers"));
    assert_eq!(customers.counted_from.as_deref(), Some("contract_ended_at"));
    assert_eq!(customers.on_expiry, OnExpiry::Anonymise);
    let strategies: Vec<(&str, &AnonymiseStrategy)> = customers
        .anonymise
        .iter()
        .map(|(column, strategy)| (column.as_str(), strategy))
        .collect();
    assert_eq!(
        strategies,
        [
            ("customer_number", &AnonymiseStrategy::KeyedHash),
            ("email", &AnonymiseStrategy::Null),
            ("name", &AnonymiseStrategy::Fixed("Geanonimiseerd".into())),
        ]
    );
    assert_eq!(
        customers.exceptions,
        [Exception::LegalHold, Exception::OpenRequest]
    );
    assert!(customers.skips(Exception::OpenRequest));
    assert!(!customers.skips(Exception::ActiveRestriction));
    assert!(customers.is_sweepable());
    assert_eq!(
        customers.schedule(&policies.sweeps).source(),
        "0 0 4 * * Sun"
    );
    assert_eq!(
        customers.source.line_of("anonymise.email"),
        Some(line_of(RULES, "email: null"))
    );
    assert_eq!(
        customers.source.line_of("counted_from"),
        Some(line_of(RULES, "counted_from:"))
    );
}

#[test]
fn left_out_fields_take_their_defaults() {
    let policies = load(REQUESTS, RULES);
    assert_eq!(policies.sweeps, SweepPolicy::default());
    assert_eq!(policies.sweeps.schedule.source(), "0 30 2 * * *");
    assert_eq!(policies.sweeps.batch_size, 1000);
    assert!(policies.sweeps.dry_run_by_default);

    let recordings = policies.rule("call_recordings").unwrap();
    assert_eq!(recordings.table, None);
    assert_eq!(recordings.counted_from, None);
    assert_eq!(recordings.on_expiry, OnExpiry::Review);
    assert!(recordings.anonymise.is_empty());
    assert_eq!(recordings.exceptions, Exception::all());
    assert_eq!(recordings.schedule, None);
    assert!(!recordings.is_sweepable());
    assert_eq!(
        recordings.schedule(&policies.sweeps),
        &policies.sweeps.schedule
    );

    let partial = load(&format!("{REQUESTS}sweeps:\n  batch_size: 10\n"), RULES);
    assert_eq!(partial.sweeps.batch_size, 10);
    assert_eq!(partial.sweeps.schedule, SweepPolicy::default().schedule);
}

#[test]
fn next_run_uses_the_rules_own_schedule_or_the_default() {
    let policies = load(&format!("{REQUESTS}{SWEEPS}"), RULES);
    let monday_noon = utc(2026, 11, 23, 12, 0);
    let customers = policies.rule("crm_customers").unwrap();
    assert_eq!(
        customers.next_run_after(&policies.sweeps, monday_noon),
        Some(utc(2026, 11, 29, 4, 0))
    );
    let recordings = policies.rule("call_recordings").unwrap();
    assert_eq!(
        recordings.next_run_after(&policies.sweeps, monday_noon),
        Some(utc(2026, 11, 24, 3, 0))
    );
    assert_eq!(
        recordings.next_run_after(&policies.sweeps, utc(2026, 11, 24, 2, 59)),
        Some(utc(2026, 11, 24, 3, 0))
    );
}

#[test]
fn shipped_sweeps_and_rules_are_sweepable_where_the_catalog_allows() {
    let policies = shipped_policies();
    assert_eq!(policies.sweeps.schedule.source(), "0 30 2 * * *");
    assert_eq!(policies.sweeps.batch_size, 1000);
    assert_eq!(
        policies
            .rule("fiscal_records")
            .unwrap()
            .next_run_after(&policies.sweeps, utc(2026, 11, 23, 9, 0)),
        Some(utc(2026, 11, 24, 2, 30))
    );

    let swept: Vec<(&str, &str, &str, OnExpiry)> = policies
        .retention
        .iter()
        .filter_map(|rule| {
            Some((
                rule.system.as_str(),
                rule.table.as_deref()?,
                rule.counted_from.as_deref()?,
                rule.on_expiry,
            ))
        })
        .collect();
    assert_eq!(
        swept,
        [
            ("billing", "invoices", "fiscal_year_end", OnExpiry::Delete),
            ("billing", "rated_cdrs", "started_at", OnExpiry::Delete),
            ("crm", "interactions", "occurred_at", OnExpiry::Delete),
            ("crm", "customers", "contract_ended_at", OnExpiry::Anonymise),
        ]
    );
    let customers = policies.rule("crm_customer_records").unwrap();
    assert_eq!(
        customers.anonymise.get("customer_number"),
        Some(&AnonymiseStrategy::KeyedHash)
    );

    // Every rule on a system loket cannot reach is a review task.
    let catalog = example_catalog();
    for rule in &policies.retention {
        let system = catalog
            .systems
            .iter()
            .find(|s| s.key == rule.system)
            .unwrap();
        if system.connector == ConnectorKind::Manual {
            assert_eq!(rule.on_expiry, OnExpiry::Review, "{}", rule.name);
        }
        assert_eq!(rule.exceptions, Exception::all(), "{}", rule.name);
    }
}

#[test]
fn a_table_on_a_manual_system_is_found_against_the_catalog() {
    let mut policies = shipped_policies();
    let index = policies
        .retention
        .iter()
        .position(|rule| rule.name == "marketing_campaign_events")
        .unwrap();
    let rule = &mut policies.retention[index];
    rule.table = Some("campaign_events".into());
    rule.counted_from = Some("sent_at".into());
    let found = policies.check_against(&example_catalog());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field, format!("rules[{index}].table"));
    assert!(
        found[0]
            .message
            .contains("system 'marketing' has no SQL connector (connector: manual)"),
        "{}",
        found[0]
    );
}

#[test]
fn a_bad_cron_expression_names_file_line_and_field() {
    let sweeps = SWEEPS.replace("0 0 3 * * *", "every night");
    let requests = format!("{REQUESTS}{sweeps}");
    let problem = only_problem(&requests, RULES);
    assert_eq!(problem.file, "requests.yaml");
    assert_eq!(problem.line, Some(line_of(&requests, "every night")));
    assert_eq!(problem.field, "sweeps.schedule");
    assert!(problem.message.contains("\"0 30 2 * * *\""), "{problem}");

    let retention = RULES.replace("0 0 4 * * Sun", "0 4 * * 0");
    let problem = only_problem(REQUESTS, &retention);
    assert_eq!(problem.file, "retention.yaml");
    assert_eq!(problem.line, Some(line_of(&retention, "schedule:")));
    assert_eq!(problem.field, "rules[0].schedule");
    assert!(
        problem.message.contains("5 fields") && problem.message.contains("\"0 0 4 * * 0\""),
        "{problem}"
    );
}

#[test]
fn batch_sizes_out_of_range_are_refused() {
    for (size, shown) in [("0", "(got 0)"), ("100001", "(got 100001)")] {
        let requests = format!(
            "{REQUESTS}{}",
            SWEEPS.replace("batch_size: 500", &format!("batch_size: {size}"))
        );
        let problem = only_problem(&requests, RULES);
        assert_eq!(problem.line, Some(line_of(&requests, "batch_size")));
        assert_eq!(problem.field, "sweeps.batch_size");
        assert_eq!(
            problem.message,
            format!("must be between 1 and 100000 rows {shown}")
        );
    }
    let requests = format!("{REQUESTS}{}", SWEEPS.replace("500", "-1"));
    let problem = only_problem(&requests, RULES);
    assert_eq!(problem.field, "sweeps.batch_size");
    assert_eq!(problem.line, Some(line_of(&requests, "batch_size")));
}

#[test]
fn anonymise_needs_strategies_and_only_anonymise_has_them() {
    let without = RULES
        .replace("    anonymise:\n", "")
        .replace("      name: {fixed: Geanonimiseerd}\n", "")
        .replace("      email: null\n", "")
        .replace("      customer_number: keyed_hash\n", "");
    let problem = only_problem(REQUESTS, &without);
    assert_eq!(problem.field, "rules[0].anonymise");
    assert_eq!(problem.line, Some(2));
    assert!(
        problem
            .message
            .starts_with("is required with on_expiry: anonymise"),
        "{problem}"
    );

    let delete = RULES.replace("on_expiry: anonymise", "on_expiry: delete");
    let problem = only_problem(REQUESTS, &delete);
    assert_eq!(problem.field, "rules[0].anonymise");
    assert_eq!(problem.line, Some(line_of(&delete, "anonymise:")));
    assert!(
        problem.message.contains("only for on_expiry: anonymise"),
        "{problem}"
    );
}

#[test]
fn hostile_names_are_refused_with_their_lines() {
    let retention = RULES
        .replace("table: customers", "table: \"users; DROP TABLE x\"")
        .replace("counted_from: contract_ended_at", "counted_from: ended at")
        .replace("email: null", "\"email = '' --\": null");
    let found: Vec<String> = problems(REQUESTS, &retention)
        .iter()
        .map(ToString::to_string)
        .collect();
    let expected = [
        (
            line_of(&retention, "DROP TABLE"),
            "rules[0].table: 'users; DROP TABLE x'",
        ),
        (
            line_of(&retention, "ended at"),
            "rules[0].counted_from: 'ended at'",
        ),
        (
            line_of(&retention, "email = ''"),
            "rules[0].anonymise.email = '' --: 'email = '' --'",
        ),
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (problem, (line, start)) in found.iter().zip(expected) {
        assert!(
            problem.starts_with(&format!(
                "retention.yaml line {line}: {start} {IDENTIFIER_RULE}"
            )),
            "{problem}"
        );
    }
}

#[test]
fn unknown_or_repeated_exceptions_are_refused() {
    let retention = RULES.replace("[legal_hold, open_request]", "[legal_hold, holiday]");
    let problem = only_problem(REQUESTS, &retention);
    assert_eq!(problem.field, "rules[0].exceptions[1]");
    assert_eq!(problem.line, Some(line_of(&retention, "exceptions:")));
    assert!(
        problem.message.contains("unknown variant `holiday`")
            && problem.message.contains("active_restriction"),
        "{problem}"
    );

    let retention = RULES.replace("[legal_hold, open_request]", "[legal_hold, legal_hold]");
    let problem = only_problem(REQUESTS, &retention);
    assert_eq!(problem.field, "rules[0].exceptions[1]");
    assert_eq!(problem.message, "is listed twice");

    let none = load(REQUESTS, &RULES.replace("[legal_hold, open_request]", "[]"));
    assert!(none.rule("crm_customers").unwrap().exceptions.is_empty());
}

#[test]
fn unknown_actions_and_strategies_are_refused() {
    let retention = RULES.replace("on_expiry: anonymise", "on_expiry: erase");
    let problem = only_problem(REQUESTS, &retention);
    assert_eq!(problem.field, "rules[0].on_expiry");
    assert_eq!(problem.line, Some(line_of(&retention, "erase")));
    assert!(problem.message.contains("`review`"), "{problem}");

    let retention = RULES.replace("email: null", "email: sha256");
    let problem = only_problem(REQUESTS, &retention);
    assert_eq!(problem.field, "rules[0].anonymise.email");
    assert_eq!(problem.line, Some(line_of(&retention, "sha256")));
    assert!(problem.message.contains("keyed_hash"), "{problem}");
}

#[test]
fn tables_and_their_columns_come_together() {
    let no_column = RULES.replace("    counted_from: contract_ended_at\n", "");
    let problem = only_problem(REQUESTS, &no_column);
    assert_eq!(problem.field, "rules[0].counted_from");
    assert!(
        problem.message.starts_with("is required with `table`"),
        "{problem}"
    );

    let no_table = RULES.replace("    table: customers\n", "");
    let found: Vec<String> = problems(REQUESTS, &no_table)
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("rules[0].counted_from: needs `table`"),
        "{}",
        found[0]
    );
    assert!(
        found[1].starts_with("rules[0].on_expiry: needs `table`"),
        "{}",
        found[1]
    );

    let delete_by_hand = "rules:\n  - name: tickets\n    description: Tickets.\n    system: ticketing\n    keep: 2 years\n    on_expiry: delete\n";
    let problem = only_problem(REQUESTS, delete_by_hand);
    assert_eq!(problem.line, Some(6));
    assert_eq!(problem.field, "rules[0].on_expiry");
}

#[test]
fn sweeps_are_defined_at_most_once() {
    let dir = dir_with(&format!("{REQUESTS}{SWEEPS}"), RULES);
    fs::write(dir.path().join("sweeps.yaml"), SWEEPS).unwrap();
    let Err(PolicyError::Problems(found)) = Policies::load_dir(dir.path()) else {
        panic!("two sweeps sections accepted");
    };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].file.ends_with("sweeps.yaml"), "{}", found[0]);
    assert_eq!(found[0].field, "sweeps");
    assert!(
        found[0].message.contains("already defined in"),
        "{}",
        found[0]
    );
}

#[test]
fn a_swept_table_must_be_in_the_systems_sql_mapping() {
    let mut policies = shipped_policies();
    let index_of = |policies: &Policies, name: &str| {
        policies
            .retention
            .iter()
            .position(|rule| rule.name == name)
            .unwrap()
    };
    let history = index_of(&policies, "crm_contact_history");
    let customers = index_of(&policies, "crm_customer_records");
    let cdrs = index_of(&policies, "call_detail_records");
    policies.retention[history].table = Some("kontakten".into());
    policies.retention[customers]
        .anonymise
        .insert("shoe_size".into(), AnonymiseStrategy::Null);
    policies.retention[cdrs].on_expiry = OnExpiry::Restrict;
    let found = policies.check_against(&example_catalog());
    let fields: Vec<(&str, &str)> = found
        .iter()
        .map(|p| (p.field.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(fields[0].0, format!("rules[{cdrs}].on_expiry"));
    assert!(
        fields[0].1.contains("restricted_column for rated_cdrs"),
        "{}",
        fields[0].1
    );
    assert_eq!(fields[1].0, format!("rules[{history}].table"));
    assert!(
        fields[1]
            .1
            .contains("'kontakten' is not in the SQL mapping of system 'crm'"),
        "{}",
        fields[1].1
    );
    assert_eq!(
        fields[2].0,
        format!("rules[{customers}].anonymise.shoe_size")
    );
    assert!(found.iter().all(|p| p.line.is_some()), "{found:#?}");
}

#[test]
fn an_erasure_anonymises_only_with_a_table_and_its_columns() {
    let anonymising = RULES.replace(
        "    on_expiry: anonymise\n",
        "    on_expiry: anonymise\n    on_erasure: anonymise\n",
    );
    let policies = load(&format!("{REQUESTS}{SWEEPS}"), &anonymising);
    assert_eq!(policies.retention[0].on_erasure, OnErasure::Anonymise);
    assert_eq!(policies.retention[1].on_erasure, OnErasure::Delete);
    let without_table = "\
rules:
  - name: call_recordings
    description: Recordings.
    system: call_recordings
    keep: 3 months
    on_erasure: anonymise
";
    let problem = only_problem(REQUESTS, without_table);
    assert_eq!(problem.field, "rules[0].on_erasure", "{problem:?}");
}
