//! The readiness report (issue 21) for the privacy officer and the board: how far the
//! organisation is with the AVG, from what loket knows. Per activity whether data, legal basis,
//! recipients, retention and security are recorded (from the register's own gap check,
//! [`crate::catalog::ropa`]), and per system over the activities using it; per holding whether a
//! retention rule covers it and whether it is swept; failed, abandoned and missed sweeps; which
//! systems loket reaches; how requests are handled (the
//! request statistics, [`crate::requests::overview`], per kind and per channel); a score per
//! area and the "last steps", riskiest first. Snapshots of the figures are kept for the trend:
//! on demand and daily by the scheduler ([`daily_snapshot`]).
//!
//! The report holds figures and names of systems and activities only, never personal data.

use crate::catalog::model::ConnectorKind;
use crate::catalog::ropa::{Register, WarningCode};
use crate::catalog::text::Text;
use crate::catalog::CatalogSnapshot;
use crate::db::models::first_line::SnapshotRow;
use crate::db::models::requests::StatsRow;
use crate::db::Store;
use crate::error::{Error, Result};
use crate::policies::Policies;
use crate::requests::overview::Stats;
use crate::retention::SweepRun;
use crate::vocabulary::Language;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many recent sweep runs the report reads for failures and skips.
const RUNS_READ: i64 = 200;
/// How many snapshots the trend shows.
pub const TREND_LENGTH: i64 = 24;

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// RFC 3339.
    pub generated_at: String,
    /// The mean of the areas' scores, 0-100.
    pub score: u32,
    pub areas: Vec<Area>,
    pub activities: Vec<ActivityReadiness>,
    pub systems: Vec<SystemReadiness>,
    pub holdings_without_rule: Vec<HoldingRef>,
    pub holdings_without_sweep: Vec<HoldingRef>,
    pub failed_sweeps: Vec<SweepRef>,
    pub skipped_sweeps: Vec<SweepRef>,
    /// Rules a sweep can act on whose scheduled sweep did not run (or never ran).
    pub missed_sweeps: Vec<MissedSweep>,
    pub requests: Handling,
    pub per_kind: BTreeMap<String, Handling>,
    pub per_channel: BTreeMap<String, Handling>,
    pub gaps: Vec<Gap>,
    pub last_steps: Vec<Step>,
}

/// One area of the report and its score.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
pub struct Area {
    /// `register`, `retention`, `sweeps`, `systems` or `requests`.
    pub key: String,
    pub score: u32,
    /// What the score counts, e.g. "38 of 40 checks".
    pub counted: String,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
pub struct ActivityReadiness {
    pub key: String,
    /// In Dutch and English, as the catalog gives it: the page shows the reader's language.
    pub name: Text,
    pub data: bool,
    pub legal_basis: bool,
    pub recipients: bool,
    pub retention: bool,
    pub security: bool,
}

/// One system: whether loket reaches it, and whether the register records, for the activities
/// that use it, what [`ActivityReadiness`] checks (false when no activity uses it at all).
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
pub struct SystemReadiness {
    pub key: String,
    /// In Dutch and English, as the catalog gives it.
    pub name: Text,
    /// loket searches and changes it through a connector (SQL or HTTP); otherwise its owner
    /// does by hand.
    pub reachable: bool,
    pub holdings: usize,
    /// The activities that use it.
    pub activities: Vec<String>,
    /// It holds categories, and every one belongs to an activity.
    pub data: bool,
    pub legal_basis: bool,
    pub recipients: bool,
    /// Every category it holds has a period in the register.
    pub retention: bool,
    pub security: bool,
}

/// A category a system holds.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldingRef {
    pub system: String,
    pub category: String,
    /// The catalog's period for it, where an activity gives one (a rule is still missing).
    pub catalog_retention: Option<String>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
pub struct SweepRef {
    pub rule: String,
    pub system: String,
    pub status: String,
    pub started_at: chrono::NaiveDateTime,
}

/// A sweepable rule whose sweep should have run by now and did not.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
pub struct MissedSweep {
    pub rule: String,
    pub system: String,
    /// The newest run loket knows of; `None`: never swept.
    pub last_run: Option<chrono::NaiveDateTime>,
    /// When the next run after it was due.
    pub due: Option<chrono::NaiveDateTime>,
}

/// How long after its slot a sweep may start before it counts as missed: the scheduler may
/// be busy with other rules, or an instance restarting.
const SWEEP_GRACE_HOURS: i64 = 6;

/// How requests were handled: the request statistics' shares, and what they do not break down.
#[derive(utoipa::ToSchema, Debug, Clone, Default, Serialize, Deserialize)]
pub struct Handling {
    pub received: i64,
    pub open: i64,
    pub overdue: i64,
    pub closed: i64,
    pub answered_within_one_month: Option<f64>,
    pub answered_within_three_months: Option<f64>,
    pub refused: i64,
    pub refusals_by_ground: BTreeMap<String, i64>,
    /// Answered with a partial refusal (an objection partly rejected, data withheld, a
    /// rectification partly refused): a refusal too, with its reasons in the letter.
    pub partly_refused: i64,
    /// Days from receipt to answer, averaged over the answered requests.
    pub average_handling_days: Option<f64>,
}

/// An open gap of the register, with the article it concerns.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
pub struct Gap {
    pub activity: Option<String>,
    pub system: Option<String>,
    pub code: WarningCode,
    pub article: String,
    pub message: String,
    /// What to do about it, in Dutch: the Dutch desk shows this instead of `message`.
    #[serde(default)]
    pub message_nl: String,
}

/// One of the "last steps": what to do, riskiest first (5 highest).
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub risk: u8,
    pub area: String,
    pub nl: String,
    pub en: String,
}

/// The article a register gap concerns.
pub fn article(code: WarningCode) -> &'static str {
    use WarningCode::*;
    match code {
        NoLegalBasis => "Art. 6(1)",
        NoRetention => "Art. 30(1)(f)",
        NoSpecialCategoryGround => "Art. 9(2)",
        NoCriminalDataBasis => "Art. 10",
        NationalIdWithoutNamedLaw => "UAVG art. 46",
        NoDataSubjects | NoCategories => "Art. 30(1)(c)",
        NoRecipients => "Art. 30(1)(d)",
        NoSecurityMeasures => "Art. 30(1)(g), 32",
        TransferWithoutSafeguard => "Art. 44-49",
        HostingWithoutTransfer => "Art. 30(1)(e), 44-46",
        NoControllers | NoCategoriesOfProcessing => "Art. 30(2)",
        NoSystems | UncoveredHolding | UnknownReference => "Art. 30(1)",
    }
}

/// How grave a gap is for the "last steps": an unlawful processing or transfer first.
fn risk(code: WarningCode) -> u8 {
    use WarningCode::*;
    match code {
        NoLegalBasis
        | NoSpecialCategoryGround
        | NoCriminalDataBasis
        | NationalIdWithoutNamedLaw
        | TransferWithoutSafeguard
        | HostingWithoutTransfer => 5,
        NoRetention => 4,
        NoSecurityMeasures | NoRecipients => 3,
        _ => 2,
    }
}

/// What the report is built from, read in one go.
pub struct Inputs<'a> {
    pub register: &'a Register,
    pub catalog: &'a CatalogSnapshot,
    pub policies: &'a Policies,
    pub runs: &'a [SweepRun],
    pub stats: &'a Stats,
    pub rows: &'a [StatsRow],
    pub today: chrono::NaiveDate,
    /// When the report is made: its timestamp, and what a sweep should have run by.
    pub now: chrono::DateTime<chrono::Utc>,
}

fn percent(part: f64, whole: f64) -> u32 {
    if whole <= 0.0 {
        100
    } else {
        ((part / whole) * 100.0).round().clamp(0.0, 100.0) as u32
    }
}

/// Builds the report; never fails on gaps, which are what it reports.
pub fn build(inputs: &Inputs) -> Result<Report> {
    let register = inputs.register;
    let gap_of = |activity: &str, codes: &[WarningCode]| {
        register
            .warnings
            .iter()
            .any(|w| w.activity.as_deref() == Some(activity) && codes.contains(&w.code))
    };
    use WarningCode::*;
    let activities: Vec<ActivityReadiness> = register
        .activities
        .iter()
        .map(|entry| ActivityReadiness {
            key: entry.key.clone(),
            name: entry.name.clone(),
            data: !gap_of(&entry.key, &[NoCategories, NoDataSubjects]),
            legal_basis: !gap_of(
                &entry.key,
                &[
                    NoLegalBasis,
                    NoSpecialCategoryGround,
                    NoCriminalDataBasis,
                    NationalIdWithoutNamedLaw,
                ],
            ),
            recipients: !gap_of(&entry.key, &[NoRecipients, TransferWithoutSafeguard]),
            retention: !gap_of(&entry.key, &[NoRetention]),
            security: !gap_of(&entry.key, &[NoSecurityMeasures]),
        })
        .collect();
    let checks_passed: usize = activities
        .iter()
        .map(|a| {
            [a.data, a.legal_basis, a.recipients, a.retention, a.security]
                .iter()
                .filter(|ok| **ok)
                .count()
        })
        .sum();
    let checks = activities.len() * 5;

    // Retention: every category a system holds, covered by a rule (and swept), or not.
    let (mut holdings, mut without_rule, mut without_sweep) = (0usize, Vec::new(), Vec::new());
    let mut retention_points = 0.0;
    for system in &inputs.catalog.systems {
        for holding in &system.holdings {
            holdings += 1;
            let rules: Vec<_> = inputs
                .policies
                .retention
                .iter()
                .filter(|r| {
                    r.system == system.key
                        && (r.categories.is_empty() || r.categories.contains(&holding.category))
                })
                .collect();
            let catalog_retention = inputs
                .catalog
                .activities
                .iter()
                .filter(|a| a.systems.contains(&system.key))
                .flat_map(|a| &a.categories)
                .find(|c| {
                    c.category == holding.category
                        && c.retention
                            .as_ref()
                            .is_some_and(|r| !r.to_string().trim().is_empty())
                })
                .and_then(|c| c.retention.as_ref().map(|r| r.to_string()));
            let at = HoldingRef {
                system: system.key.clone(),
                category: holding.category.clone(),
                catalog_retention: catalog_retention.clone(),
            };
            if rules.is_empty() {
                // A period in the register but no rule keeps it: half way.
                if catalog_retention.is_some() {
                    retention_points += 0.5;
                }
                without_rule.push(at);
            } else {
                retention_points += 1.0;
                if rules.iter().all(|r| r.table.is_none()) {
                    without_sweep.push(at);
                }
            }
        }
    }

    // Sweeps: each rule's newest run; failed and abandoned (skipped) ones are reported.
    let mut newest: BTreeMap<&str, &SweepRun> = BTreeMap::new();
    for run in inputs.runs {
        let entry = newest.entry(run.rule.as_str()).or_insert(run);
        if run.started_at > entry.started_at {
            *entry = run;
        }
    }
    let sweep_ref = |run: &SweepRun| SweepRef {
        rule: run.rule.clone(),
        system: run.system.clone(),
        status: run.status.clone(),
        started_at: run.started_at,
    };
    let failed_sweeps: Vec<SweepRef> = newest
        .values()
        .filter(|r| r.status == crate::db::models::sweeps::FAILED)
        .map(|r| sweep_ref(r))
        .collect();
    let skipped_sweeps: Vec<SweepRef> = newest
        .values()
        .filter(|r| r.status == crate::db::models::sweeps::ABANDONED)
        .map(|r| sweep_ref(r))
        .collect();
    let missed_sweeps = missed(inputs, &newest);
    let rules = inputs.policies.retention.len();
    let rules_swept_well = inputs
        .policies
        .retention
        .iter()
        .filter(|r| {
            r.table.is_some()
                && !failed_sweeps
                    .iter()
                    .chain(&skipped_sweeps)
                    .any(|s| s.rule == r.name)
                && !missed_sweeps.iter().any(|m| m.rule == r.name)
        })
        .count();

    let systems: Vec<SystemReadiness> = inputs
        .catalog
        .systems
        .iter()
        .map(|s| system_readiness(s, inputs.catalog, &activities, register))
        .collect();
    let reachable = systems.iter().filter(|s| s.reachable).count();

    let requests = handling(inputs.stats, inputs.rows);
    let mut per_kind: BTreeMap<String, Vec<StatsRow>> = BTreeMap::new();
    let mut per_channel: BTreeMap<String, Vec<StatsRow>> = BTreeMap::new();
    for row in inputs.rows {
        per_kind
            .entry(row.kind.to_string())
            .or_default()
            .push(row.clone());
        per_channel
            .entry(row.channel.to_string())
            .or_default()
            .push(row.clone());
    }
    let split = |groups: BTreeMap<String, Vec<StatsRow>>| -> Result<BTreeMap<String, Handling>> {
        groups
            .into_iter()
            .map(|(key, rows)| {
                let stats = crate::requests::overview::compute_stats(&rows, inputs.today)?;
                Ok((key, handling(&stats, &rows)))
            })
            .collect()
    };
    let per_kind = split(per_kind)?;
    let per_channel = split(per_channel)?;
    let timely = requests.answered_within_one_month.unwrap_or(1.0);
    let not_overdue = if requests.open > 0 {
        1.0 - requests.overdue as f64 / requests.open as f64
    } else {
        1.0
    };

    let areas = vec![
        Area {
            key: "register".into(),
            score: percent(checks_passed as f64, checks as f64),
            counted: format!("{checks_passed}/{checks}"),
        },
        Area {
            key: "retention".into(),
            score: percent(retention_points, holdings as f64),
            counted: format!("{}/{holdings}", holdings - without_rule.len()),
        },
        Area {
            key: "sweeps".into(),
            score: percent(rules_swept_well as f64, rules as f64),
            counted: format!("{rules_swept_well}/{rules}"),
        },
        Area {
            key: "systems".into(),
            score: percent(reachable as f64, systems.len() as f64),
            counted: format!("{reachable}/{}", systems.len()),
        },
        Area {
            key: "requests".into(),
            score: (timely * not_overdue * 100.0).round() as u32,
            counted: format!("{}/{}", requests.overdue, requests.open),
        },
    ];
    let score =
        (areas.iter().map(|a| a.score).sum::<u32>() as f64 / areas.len() as f64).round() as u32;

    let gaps: Vec<Gap> = register
        .warnings
        .iter()
        .map(|w| Gap {
            activity: w.activity.clone(),
            system: w.system.clone(),
            code: w.code,
            article: article(w.code).to_string(),
            message: w.message.clone(),
            message_nl: remedy_nl_line(w.code),
        })
        .collect();
    // The steps are read by people: they name systems, categories and activities by the
    // catalog's names in each language, never by their keys.
    let catalog = inputs.catalog;
    let system = |key: &str, language| catalog.system_name(key, language).to_string();
    let category = |code: &str, language| catalog.category_name(code, language);
    let object = |gap: &Gap, language| match (&gap.activity, &gap.system) {
        (Some(key), _) => catalog
            .activities
            .iter()
            .find(|a| &a.key == key)
            .map_or(key.clone(), |a| a.name.get(language).to_string()),
        (None, Some(key)) => system(key, language),
        (None, None) => String::new(),
    };
    let mut last_steps = Vec::new();
    if requests.overdue > 0 {
        last_steps.push(Step {
            risk: 5,
            area: "requests".into(),
            nl: format!(
                "{} verzoek(en) over de termijn: nu afhandelen (art. 12 lid 3 AVG).",
                requests.overdue
            ),
            en: format!(
                "{} request(s) overdue: answer them now (Art. 12(3)).",
                requests.overdue
            ),
        });
    }
    for gap in &gaps {
        last_steps.push(Step {
            risk: risk(gap.code),
            area: "register".into(),
            nl: format!(
                "Register, {}: {} ({}).",
                object(gap, Language::Nl),
                remedy_nl(gap.code),
                gap.article
            ),
            en: format!(
                "Register, {}: {} ({}).",
                object(gap, Language::En),
                gap.message,
                gap.article
            ),
        });
    }
    for run in &failed_sweeps {
        last_steps.push(Step {
            risk: 4,
            area: "sweeps".into(),
            nl: format!(
                "Opschoning {} in {} mislukte: oorzaak oplossen en opnieuw draaien.",
                run.rule,
                system(&run.system, Language::Nl)
            ),
            en: format!(
                "Sweep {} in {} failed: fix the cause and run it again.",
                run.rule,
                system(&run.system, Language::En)
            ),
        });
    }
    for sweep in &missed_sweeps {
        last_steps.push(Step {
            risk: 3,
            area: "sweeps".into(),
            nl: format!(
                "Opschoning {} in {} is niet gedraaid zoals gepland: controleer of de planner loopt.",
                sweep.rule,
                system(&sweep.system, Language::Nl)
            ),
            en: format!(
                "Sweep {} in {} did not run as scheduled: check that the scheduler runs.",
                sweep.rule,
                system(&sweep.system, Language::En)
            ),
        });
    }
    for holding in &without_rule {
        last_steps.push(Step {
            risk: if holding.catalog_retention.is_some() { 3 } else { 4 },
            area: "retention".into(),
            nl: format!(
                "{} in {}: geen bewaarregel; leg een termijn vast in de policies (art. 5 lid 1 onder e AVG).",
                category(&holding.category, Language::Nl),
                system(&holding.system, Language::Nl)
            ),
            en: format!(
                "{} in {}: no retention rule; set a period in the policies (Art. 5(1)(e)).",
                category(&holding.category, Language::En),
                system(&holding.system, Language::En)
            ),
        });
    }
    for holding in &without_sweep {
        last_steps.push(Step {
            risk: 2,
            area: "sweeps".into(),
            nl: format!(
                "{} in {}: de bewaarregel wordt niet automatisch opgeschoond.",
                category(&holding.category, Language::Nl),
                system(&holding.system, Language::Nl)
            ),
            en: format!(
                "{} in {}: the retention rule is not swept automatically.",
                category(&holding.category, Language::En),
                system(&holding.system, Language::En)
            ),
        });
    }
    for system in systems.iter().filter(|s| !s.reachable && s.holdings > 0) {
        last_steps.push(Step {
            risk: 1,
            area: "systems".into(),
            nl: format!(
                "{}: handmatig systeem; een koppeling maakt verzoeken sneller en zekerder.",
                system.name.get(Language::Nl)
            ),
            en: format!(
                "{}: a manual system; a connector makes requests faster and surer.",
                system.name.get(Language::En)
            ),
        });
    }
    // Riskiest first; within one risk, in the order found.
    last_steps.sort_by_key(|step| std::cmp::Reverse(step.risk));

    Ok(Report {
        generated_at: inputs
            .now
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        score,
        areas,
        activities,
        systems,
        holdings_without_rule: without_rule,
        holdings_without_sweep: without_sweep,
        failed_sweeps,
        skipped_sweeps,
        missed_sweeps,
        requests,
        per_kind,
        per_channel,
        gaps,
        last_steps,
    })
}

/// The statistics' figures for `rows`, with refusals, their grounds and the handling time.
fn handling(stats: &Stats, rows: &[StatsRow]) -> Handling {
    let mut refusals_by_ground = BTreeMap::new();
    let (mut refused, mut partly_refused, mut days, mut answered) = (0i64, 0i64, 0i64, 0i64);
    for row in rows {
        match row.state.as_str() {
            "refused" => {
                refused += 1;
                let ground = row
                    .refusal_ground
                    .map_or_else(|| "unknown".into(), |g| g.to_string());
                *refusals_by_ground.entry(ground).or_insert(0) += 1;
            }
            "withdrawn" => continue,
            "completed" if row.partly_refused => partly_refused += 1,
            _ => {}
        }
        if let (Some(closed), true) = (
            row.closed_at,
            matches!(row.state.as_str(), "completed" | "refused"),
        ) {
            answered += 1;
            days += (crate::requests::dutch_date(closed)
                - crate::requests::dutch_date(row.received_at))
            .num_days();
        }
    }
    Handling {
        received: rows.len() as i64,
        open: stats.open,
        overdue: stats.overdue,
        closed: stats.closed,
        answered_within_one_month: stats.answered_within_one_month,
        answered_within_three_months: stats.answered_within_three_months,
        refused,
        refusals_by_ground,
        partly_refused,
        average_handling_days: (answered > 0).then(|| days as f64 / answered as f64),
    }
}

/// Reads everything the report needs and builds it. The sweep service carries the store and
/// the policies, so the scheduler, which has only it, can take the daily snapshot.
pub async fn current(sweeps: &crate::retention::SweepService) -> Result<Report> {
    let store = sweeps.store();
    let register = crate::catalog::register(store).await?;
    let catalog = store.read(crate::catalog::load_catalog).await?;
    let runs = sweeps.runs(None, RUNS_READ).await?;
    let rows = store
        .read(|conn| Ok::<_, Error>(crate::db::models::requests::stats_rows(conn)?))
        .await?;
    let today = crate::requests::today();
    // The statistics from the same rows, so the report's figures agree among themselves.
    let stats = crate::requests::overview::compute_stats(&rows, today)?;
    build(&Inputs {
        register: &register,
        catalog: &catalog,
        policies: sweeps.policies(),
        runs: &runs,
        stats: &stats,
        rows: &rows,
        today,
        now: chrono::Utc::now(),
    })
}

/// A system's line: reached or manual, and the register's checks over the activities using it.
fn system_readiness(
    system: &crate::catalog::model::System,
    catalog: &CatalogSnapshot,
    activities: &[ActivityReadiness],
    register: &Register,
) -> SystemReadiness {
    let users: Vec<&ActivityReadiness> = catalog
        .activities
        .iter()
        .filter(|a| a.systems.contains(&system.key))
        .filter_map(|a| activities.iter().find(|r| r.key == a.key))
        .collect();
    let all =
        |check: fn(&ActivityReadiness) -> bool| !users.is_empty() && users.iter().all(|a| check(a));
    let uncovered = register.warnings.iter().any(|w| {
        w.system.as_deref() == Some(system.key.as_str()) && w.code == WarningCode::UncoveredHolding
    });
    // Every category it holds has a period in an activity that uses the system.
    let periods = system.holdings.iter().all(|holding| {
        catalog
            .activities
            .iter()
            .filter(|a| a.systems.contains(&system.key))
            .flat_map(|a| &a.categories)
            .any(|c| c.category == holding.category && c.retention.is_some())
    });
    SystemReadiness {
        key: system.key.clone(),
        name: system.name.clone(),
        reachable: system.connector != ConnectorKind::Manual,
        holdings: system.holdings.len(),
        activities: users.iter().map(|a| a.key.clone()).collect(),
        data: !system.holdings.is_empty() && !uncovered && all(|a| a.data),
        legal_basis: all(|a| a.legal_basis),
        recipients: all(|a| a.recipients),
        retention: !users.is_empty() && periods && all(|a| a.retention),
        security: all(|a| a.security),
    }
}

/// The sweepable rules whose next slot after their newest run (or ever, when none ran) has
/// passed by more than [`SWEEP_GRACE_HOURS`] without a run.
fn missed(inputs: &Inputs, newest: &BTreeMap<&str, &SweepRun>) -> Vec<MissedSweep> {
    let late = inputs.now - chrono::TimeDelta::hours(SWEEP_GRACE_HOURS);
    inputs
        .policies
        .retention
        .iter()
        .filter(|rule| rule.is_sweepable())
        .filter_map(|rule| {
            let last_run = newest.get(rule.name.as_str()).map(|run| run.started_at);
            let due =
                last_run.and_then(|at| rule.next_run_after(&inputs.policies.sweeps, at.and_utc()));
            let missed = match due {
                Some(due) => due < late,
                // Never swept; a run that is running now has a start and so is not here.
                None => last_run.is_none(),
            };
            missed.then(|| MissedSweep {
                rule: rule.name.clone(),
                system: rule.system.clone(),
                last_run,
                due: due.map(|d| d.naive_utc()),
            })
        })
        .collect()
}

/// What to do about a register gap, in Dutch (the register's own messages are English).
/// What to do about a gap of the register, in Dutch, on its own line ("Leg de grondslag
/// vast"): the Dutch desk shows it where the register's message is English.
pub fn remedy_nl_line(code: WarningCode) -> String {
    let remedy = remedy_nl(code);
    let mut chars = remedy.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn remedy_nl(code: WarningCode) -> &'static str {
    use WarningCode::*;
    match code {
        NoLegalBasis => "leg de grondslag vast",
        NoRetention => "leg per gegevenscategorie de bewaartermijn vast",
        NoSpecialCategoryGround => {
            "leg de uitzondering vast die de verwerking van bijzondere persoonsgegevens toestaat"
        }
        NoCriminalDataBasis => "leg de grondslag voor de strafrechtelijke gegevens vast",
        NationalIdWithoutNamedLaw => {
            "noem de wet die het gebruik van het BSN voorschrijft, of stop met het gebruik"
        }
        NoDataSubjects => "leg de categorieën betrokkenen vast",
        NoCategories => "leg de categorieën persoonsgegevens vast",
        NoRecipients => "leg de ontvangers vast",
        NoSecurityMeasures => "beschrijf de beveiligingsmaatregelen",
        TransferWithoutSafeguard => {
            "leg de waarborg vast voor de doorgifte buiten de EER (bijvoorbeeld modelcontractbepalingen)"
        }
        HostingWithoutTransfer => {
            "het systeem staat buiten de EER: leg de doorgifte en haar waarborg vast bij een verwerking"
        }
        NoControllers => "noem de verwerkingsverantwoordelijken voor wie u verwerkt",
        NoCategoriesOfProcessing => "leg de categorieën verwerkingen voor anderen vast",
        NoSystems => "leg vast in welke systemen de gegevens staan",
        UncoveredHolding => "koppel de gegevens in dit systeem aan een verwerking",
        UnknownReference => "herstel de verwijzing naar een onbekend onderdeel",
    }
}

/// A kept snapshot, for the trend.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Snapshot {
    pub id: String,
    pub taken_at: chrono::NaiveDateTime,
    pub origin: String,
    pub score: i32,
    /// The areas' scores at the time.
    pub areas: BTreeMap<String, u32>,
}

/// The origin of the snapshots the scheduler takes.
pub const SCHEDULER: &str = "scheduler";

/// Keeps the report's figures as a snapshot (`on_demand` or `scheduler`), on the audit trail.
pub async fn take_snapshot(
    store: &Store,
    report: &Report,
    origin: &'static str,
    actor: crate::audit::Actor,
) -> Result<Snapshot> {
    let kept = keep(
        store,
        report,
        origin,
        actor,
        None::<fn(&mut crate::db::DbConnection) -> Result<bool>>,
    )
    .await?;
    kept.ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "a snapshot asked for unconditionally was not kept"
        ))
    })
}

/// Keeps a snapshot unless `skip` (run in the same write transaction) says not to.
async fn keep<F>(
    store: &Store,
    report: &Report,
    origin: &'static str,
    actor: crate::audit::Actor,
    skip: Option<F>,
) -> Result<Option<Snapshot>>
where
    F: FnOnce(&mut crate::db::DbConnection) -> Result<bool> + Send + 'static,
{
    let row = SnapshotRow {
        id: crate::ids::new_id(),
        taken_at: crate::db::now(),
        origin: origin.into(),
        score: report.score as i32,
        report: serde_json::to_string(report).context("readiness report")?,
    };
    let snapshot = snapshot_of(&row)?;
    let kept = store
        .write(move |conn| {
            if let Some(skip) = skip {
                if skip(conn)? {
                    return Ok::<_, Error>(false);
                }
            }
            row.insert(conn)?;
            crate::audit::record(
                conn,
                &actor,
                crate::audit::Change {
                    action: "readiness.snapshot",
                    object_type: "readiness_snapshot",
                    object_id: &row.id,
                    summary: format!("readiness snapshot ({origin}), score {}", row.score),
                },
            )?;
            Ok(true)
        })
        .await?;
    Ok(kept.then_some(snapshot))
}

fn snapshot_of(row: &SnapshotRow) -> Result<Snapshot> {
    /// Only what the trend shows, so snapshots kept by an older loket, whose report had other
    /// fields, still read.
    #[derive(Deserialize)]
    struct Kept {
        areas: Vec<Area>,
    }
    let kept: Kept = serde_json::from_str(&row.report)
        .with_context(|| format!("readiness snapshot {}", row.id))?;
    Ok(Snapshot {
        id: row.id.clone(),
        taken_at: row.taken_at,
        origin: row.origin.clone(),
        score: row.score,
        areas: kept.areas.into_iter().map(|a| (a.key, a.score)).collect(),
    })
}

/// The newest snapshots, newest first.
pub async fn trend(store: &Store) -> Result<Vec<Snapshot>> {
    let rows = store
        .read(|conn| Ok::<_, Error>(SnapshotRow::latest(conn, TREND_LENGTH)?))
        .await?;
    rows.iter().map(snapshot_of).collect()
}

/// Takes the scheduler's snapshot when none was taken by it in the last day; `None` when one
/// was. Checked again in the transaction that keeps it, so two instances asked at once keep one
/// on SQLite (whose writers queue) and, at worst, two a second apart on PostgreSQL.
pub async fn daily_snapshot(sweeps: &crate::retention::SweepService) -> Result<Option<Snapshot>> {
    let store = sweeps.store();
    let recent = |conn: &mut crate::db::DbConnection| -> Result<bool> {
        let last = SnapshotRow::last_taken(conn, SCHEDULER)?;
        Ok(last.is_some_and(|at| crate::db::now() - at < chrono::TimeDelta::hours(24)))
    };
    if store.read(recent).await? {
        return Ok(None);
    }
    let report = current(sweeps).await?;
    keep(
        store,
        &report,
        SCHEDULER,
        crate::audit::Actor::System("readiness"),
        Some(recent),
    )
    .await
}

/// The daily readiness snapshot, for the report's trend (issue 21): taken when the last one the
/// scheduler took is a day old. `startup` runs it daily beside the retention scheduler (which
/// knows nothing of readiness: readiness reads the sweeps); also what the tests drive, one step
/// at a time.
pub async fn scheduled_snapshot(sweeps: crate::retention::SweepService) {
    match daily_snapshot(&sweeps).await {
        Ok(Some(snapshot)) => {
            tracing::info!(score = snapshot.score, "readiness snapshot taken")
        }
        Ok(None) => tracing::debug!("today's readiness snapshot was already taken"),
        Err(error) => tracing::error!(%error, "the readiness snapshot could not be taken"),
    }
}

#[cfg(test)]
mod tests;
