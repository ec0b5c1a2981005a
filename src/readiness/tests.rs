//! The report against the figures it is built from: request rows, sweep runs, the example
//! catalog and the shipped policies.

use super::*;
use crate::db::models::sweeps::{ABANDONED, FAILED, FINISHED};
use crate::policies::testing::{example_catalog, shipped_policies};
use chrono::{NaiveDate, TimeZone, Utc};

fn register_of(catalog: &CatalogSnapshot) -> Register {
    let categories = catalog
        .categories
        .iter()
        .map(|c| (c.code.clone(), c.clone()))
        .collect();
    crate::catalog::ropa::build_register(
        None,
        &catalog.activities,
        &categories,
        &catalog.systems,
        String::new(),
    )
}

fn at(y: i32, m: u32, d: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap()
}

fn row(kind: &str, channel: &str, state: &str, received: (i32, u32, u32)) -> StatsRow {
    let received_at = at(received.0, received.1, received.2);
    StatsRow {
        kind: kind.parse().unwrap(),
        state: state.parse().unwrap(),
        due_on: crate::requests::deadline::first_due_date(received_at.date()),
        received_at,
        closed_at: None,
        channel: channel.parse().unwrap(),
        refusal_ground: None,
        partly_refused: false,
    }
}

fn closed(mut row: StatsRow, on: (i32, u32, u32)) -> StatsRow {
    row.closed_at = Some(at(on.0, on.1, on.2));
    row
}

fn run(rule: &str, status: &str, started_at: chrono::NaiveDateTime) -> SweepRun {
    let policies = shipped_policies();
    let system = policies
        .retention
        .iter()
        .find(|r| r.name == rule)
        .map(|r| r.system.clone())
        .unwrap_or_default();
    SweepRun {
        id: format!("run-{rule}").into(),
        rule: rule.into(),
        system,
        table: None,
        action: "delete".into(),
        dry_run: false,
        origin: "schedule".into(),
        scheduled_for: None,
        cutoff: started_at,
        status: status.into(),
        instance: "test".into(),
        started_at,
        finished_at: None,
        resumed: 0,
        counts: Default::default(),
        error: None,
    }
}

const TODAY: (i32, u32, u32) = (2026, 12, 3);

/// The report for the example catalog, the shipped policies, `rows` and `runs`.
fn report(
    catalog: &CatalogSnapshot,
    policies: &Policies,
    rows: &[StatsRow],
    runs: &[SweepRun],
) -> Report {
    let today = NaiveDate::from_ymd_opt(TODAY.0, TODAY.1, TODAY.2).unwrap();
    let stats = crate::requests::overview::compute_stats(rows, today).unwrap();
    build(&Inputs {
        register: &register_of(catalog),
        catalog,
        policies,
        runs,
        stats: &stats,
        rows,
        today,
        now: Utc
            .with_ymd_and_hms(TODAY.0, TODAY.1, TODAY.2, 12, 0, 0)
            .unwrap(),
    })
    .unwrap()
}

fn area(report: &Report, key: &str) -> u32 {
    report.areas.iter().find(|a| a.key == key).unwrap().score
}

#[test]
fn request_handling_is_counted_per_kind_and_per_channel_from_the_rows() {
    let mut refused = closed(
        row("erasure", "phone", "refused", (2026, 10, 1)),
        (2026, 10, 5),
    );
    refused.refusal_ground = Some("manifestly_unfounded_or_excessive".parse().unwrap());
    let mut partly = closed(
        row("objection", "email", "completed", (2026, 11, 2)),
        (2026, 11, 4),
    );
    partly.partly_refused = true;
    let rows = vec![
        // 10 days: within one month.
        closed(
            row("access", "phone", "completed", (2026, 9, 1)),
            (2026, 9, 11),
        ),
        // 61 days: within three months, not one.
        closed(
            row("access", "email", "completed", (2026, 6, 1)),
            (2026, 8, 1),
        ),
        refused,
        partly,
        // Due 2 November: overdue on 3 December.
        row("erasure", "web_form", "in_progress", (2026, 10, 1)),
        row("access", "phone", "in_progress", (2026, 11, 30)),
        closed(
            row("objection", "phone", "withdrawn", (2026, 11, 1)),
            (2026, 11, 2),
        ),
    ];
    let report = report(&example_catalog(), &shipped_policies(), &rows, &[]);
    let all = &report.requests;
    assert_eq!(all.received, 7);
    assert_eq!((all.open, all.overdue, all.closed), (2, 1, 4));
    assert_eq!(all.refused, 1);
    assert_eq!(all.partly_refused, 1);
    assert_eq!(
        all.refusals_by_ground,
        BTreeMap::from([("manifestly_unfounded_or_excessive".to_string(), 1)])
    );
    // (10 + 61 + 4 + 2) / 4 answered; the withdrawn request was never answered.
    assert_eq!(all.average_handling_days, Some(77.0 / 4.0));
    assert_eq!(all.answered_within_one_month, Some(0.75));
    assert_eq!(all.answered_within_three_months, Some(1.0));

    let access = &report.per_kind["access"];
    assert_eq!((access.received, access.open, access.closed), (3, 1, 2));
    assert_eq!(access.answered_within_one_month, Some(0.5));
    assert_eq!(access.average_handling_days, Some(35.5));
    let erasure = &report.per_kind["erasure"];
    assert_eq!((erasure.overdue, erasure.refused), (1, 1));
    let phone = &report.per_channel["phone"];
    assert_eq!((phone.received, phone.refused, phone.open), (4, 1, 1));
    assert_eq!(report.per_channel["web_form"].overdue, 1);
    // The sum over the kinds and over the channels is the whole.
    for split in [&report.per_kind, &report.per_channel] {
        assert_eq!(
            split.values().map(|h| h.received).sum::<i64>(),
            all.received
        );
        assert_eq!(split.values().map(|h| h.open).sum::<i64>(), all.open);
    }
    // An overdue request is the riskiest last step.
    assert_eq!(report.last_steps[0].area, "requests");
    assert_eq!(report.last_steps[0].risk, 5);
    assert!(report.last_steps[0]
        .nl
        .starts_with("1 verzoek(en) over de termijn"));
    assert_eq!(
        area(&report, "requests"),
        38,
        "0.75 on time x (1 - 1/2 overdue)"
    );
}

#[test]
fn failed_abandoned_and_missed_sweeps_are_reported_and_cost_the_sweeps_score() {
    let policies = shipped_policies();
    let sweepable: Vec<&str> = policies
        .retention
        .iter()
        .filter(|r| r.is_sweepable())
        .map(|r| r.name.as_str())
        .collect();
    assert!(sweepable.len() >= 4, "{sweepable:?}");
    let last_night = at(2026, 12, 3) - chrono::TimeDelta::hours(7) - chrono::TimeDelta::minutes(30);
    let mut runs: Vec<SweepRun> = sweepable
        .iter()
        .map(|rule| run(rule, FINISHED, last_night))
        .collect();
    // An older failure of the first rule does not count: its newest run is what stands.
    runs.push(run(sweepable[0], FAILED, at(2026, 11, 20)));
    runs[1].status = FAILED.into();
    runs[2].status = ABANDONED.into();
    // Three days without a run of a nightly rule: missed.
    runs[3].started_at = at(2026, 11, 30);
    let swept = report(&example_catalog(), &policies, &[], &runs);

    let names = |refs: &[SweepRef]| refs.iter().map(|r| r.rule.clone()).collect::<Vec<_>>();
    assert_eq!(names(&swept.failed_sweeps), [sweepable[1]]);
    assert_eq!(names(&swept.skipped_sweeps), [sweepable[2]]);
    let missed: Vec<&str> = swept
        .missed_sweeps
        .iter()
        .map(|m| m.rule.as_str())
        .collect();
    assert_eq!(missed, [sweepable[3]]);
    assert_eq!(swept.missed_sweeps[0].last_run, Some(at(2026, 11, 30)));
    let swept_well = sweepable.len() - 3;
    assert_eq!(
        area(&swept, "sweeps"),
        percent(swept_well as f64, policies.retention.len() as f64)
    );
    assert!(swept.last_steps.iter().any(|s| s.area == "sweeps"
        && s.nl.contains(sweepable[3])
        && s.nl.contains("niet gedraaid")));

    // No run at all: every sweepable rule was never swept.
    let never = report(&example_catalog(), &policies, &[], &[]);
    assert_eq!(never.missed_sweeps.len(), sweepable.len());
    assert!(never.missed_sweeps.iter().all(|m| m.last_run.is_none()));
}

#[test]
fn systems_are_connected_over_sql_or_http_and_checked_like_their_activities() {
    let mut catalog = example_catalog();
    let report_before = report(&catalog, &shipped_policies(), &[], &[]);
    let reachable = |r: &Report| {
        r.systems
            .iter()
            .filter(|s| s.reachable)
            .map(|s| s.key.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(reachable(&report_before), ["crm", "billing"]);
    let ticketing = catalog
        .systems
        .iter_mut()
        .find(|s| s.key == "ticketing")
        .unwrap();
    ticketing.connector = ConnectorKind::Http;
    let after = report(&catalog, &shipped_policies(), &[], &[]);
    assert_eq!(reachable(&after), ["crm", "billing", "ticketing"]);
    assert!(area(&after, "systems") > area(&report_before, "systems"));

    // A system's checks are its activities' (and its own holdings').
    for system in &after.systems {
        let users: Vec<&ActivityReadiness> = after
            .activities
            .iter()
            .filter(|a| system.activities.contains(&a.key))
            .collect();
        assert!(!users.is_empty(), "{} is used", system.key);
        assert_eq!(
            system.security,
            users.iter().all(|a| a.security),
            "{}",
            system.key
        );
        assert_eq!(
            system.legal_basis,
            users.iter().all(|a| a.legal_basis),
            "{}",
            system.key
        );
    }
    // Without any activity a system records nothing.
    catalog
        .activities
        .retain(|a| !a.systems.contains(&"recruitment".to_string()));
    let orphan = report(&catalog, &shipped_policies(), &[], &[]);
    let recruitment = orphan
        .systems
        .iter()
        .find(|s| s.key == "recruitment")
        .unwrap();
    assert!(recruitment.activities.is_empty());
    assert!(!recruitment.data && !recruitment.legal_basis && !recruitment.retention);
}

#[test]
fn a_holding_without_a_rule_costs_the_retention_score_until_a_rule_covers_it() {
    let catalog = example_catalog();
    let full = shipped_policies();
    let mut without = shipped_policies();
    without.retention.retain(|r| r.system != "ticketing");
    let covered = report(&catalog, &full, &[], &[]);
    let uncovered = report(&catalog, &without, &[], &[]);
    let ticketing: Vec<&HoldingRef> = uncovered
        .holdings_without_rule
        .iter()
        .filter(|h| h.system == "ticketing")
        .collect();
    let held = catalog
        .systems
        .iter()
        .find(|s| s.key == "ticketing")
        .unwrap()
        .holdings
        .len();
    assert_eq!(ticketing.len(), held);
    let covered_ticketing = covered
        .holdings_without_rule
        .iter()
        .filter(|h| h.system == "ticketing")
        .count();
    assert!(
        covered_ticketing < held,
        "the shipped rule covers ticketing"
    );
    assert!(area(&uncovered, "retention") < area(&covered, "retention"));
    // The step names the system and the category as people know them, not by key and code.
    assert!(uncovered.last_steps.iter().any(|s| s.area == "retention"
        && s.nl.contains("Servicedesk tickets")
        && s.en.contains("Service desk tickets")
        && s.nl.contains("geen bewaarregel")));
    assert!(
        !uncovered
            .last_steps
            .iter()
            .any(|s| s.nl.contains("ticketing") || s.en.contains("ticketing")),
        "{:#?}",
        uncovered.last_steps
    );
    // Every gap's step is in Dutch (not the register's English message), with the article.
    let steps: Vec<&Step> = uncovered
        .last_steps
        .iter()
        .filter(|s| s.area == "register")
        .collect();
    assert_eq!(steps.len(), uncovered.gaps.len());
    for step in steps {
        assert!(
            uncovered
                .gaps
                .iter()
                .any(|g| step.nl.contains(&g.article) && !step.nl.contains(&g.message)),
            "{step:?}"
        );
    }
}
