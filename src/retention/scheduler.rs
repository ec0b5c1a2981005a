//! Runs each retention rule on its cron schedule while `serve` runs, deletes spent packages
//! every quarter of an hour, and runs the daily jobs of retention (each its own function below,
//! registered with one line in [`spawn`]; [`daily`] paces the daily jobs of other modules too).
//!
//! Every instance behind a load balancer runs this loop. When a slot comes, each tries the due
//! rules; the lease lets one sweep a rule, and the slot recorded on its run keeps the others
//! (and an instance that was a little late) from sweeping the same slot again.

use super::{Outcome, SweepOptions, SweepService};
use crate::audit::Actor;
use crate::policies::{Policies, RetentionRule};
use crate::requests::RequestService;
use chrono::{DateTime, NaiveDate, Utc};
use tokio::task::JoinHandle;

/// How often `serve` deletes spent packages.
pub const PACKAGE_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Starts the loop on the current runtime; abort the handle to stop it.
pub fn spawn(service: SweepService, requests: RequestService) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::join!(
            run_rules(service.clone()),
            daily(move || remind_owners(requests.clone(), crate::requests::today())),
            delete_spent_packages(service),
        );
    })
}

/// Tasks sent to a system's owner (issue #22): a reminder before the due date, the privacy
/// officer told when it has passed.
async fn remind_owners(requests: RequestService, today: NaiveDate) {
    match requests.remind_and_escalate_owners(today).await {
        Ok(run) => tracing::info!(
            reminded = run.reminded,
            escalated = run.escalated,
            "owner tasks"
        ),
        Err(error) => tracing::error!(%error, "owner tasks could not be reminded"),
    }
}

async fn run_rules(service: SweepService) {
    loop {
        let Some((slot, rules)) = next_slot(service.policies(), Utc::now()) else {
            tracing::info!("no retention rule has a schedule left; the sweep scheduler stops");
            return;
        };
        let wait = (slot - Utc::now()).to_std().unwrap_or_default();
        tracing::debug!(%slot, rules = rules.len(), "next retention sweep");
        tokio::time::sleep(wait).await;
        for rule in rules {
            run_scheduled(&service, &rule, slot).await;
        }
    }
}

/// Spent packages are loket's own copies of a person's data: they are deleted every
/// [`PACKAGE_SWEEP_INTERVAL`], whatever `sweeps.dry_run_by_default` says about the
/// organisation's databases.
async fn delete_spent_packages(service: SweepService) {
    let mut interval = tokio::time::interval(PACKAGE_SWEEP_INTERVAL);
    loop {
        interval.tick().await;
        let options = SweepOptions {
            dry_run: false,
            rule: Some(super::PACKAGES_RULE.to_string()),
            actor: Some(Actor::System("package-sweep")),
            ..SweepOptions::default()
        };
        let purged = service
            .store()
            .write(|conn| crate::requests::public::purge_unconfirmed(conn, crate::db::now()))
            .await;
        if let Err(error) = purged {
            tracing::error!(%error, "unconfirmed web-form requests could not be purged");
        }
        match service.sweep(options, |_| {}).await {
            Ok(reports) => {
                for report in reports.iter().filter(|r| r.counts.changed > 0) {
                    tracing::info!(deleted = report.counts.changed, "spent packages deleted");
                }
            }
            Err(error) => tracing::error!(%error, "spent packages could not be swept"),
        }
    }
}

/// How often `serve` asks each daily job whether its day's work is due. Hourly, so a job whose
/// moment passed while loket was down runs within the hour after it is up again; each job
/// decides itself (from what it recorded) whether a day has passed.
pub const DAILY_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// Runs `job` every [`DAILY_CHECK_INTERVAL`], the first time one interval after start (so a
/// start-up, or a test's server, is not slowed by it); the job keeps itself to once a day (or
/// once per thing it tells), so every instance behind a load balancer may run it.
pub async fn daily<F, Fut>(job: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let first = tokio::time::Instant::now() + DAILY_CHECK_INTERVAL;
    let mut interval = tokio::time::interval_at(first, DAILY_CHECK_INTERVAL);
    loop {
        interval.tick().await;
        job().await;
    }
}

pub fn next_slot(policies: &Policies, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Vec<String>)> {
    let runs: Vec<(DateTime<Utc>, &RetentionRule)> = policies
        .retention
        .iter()
        .filter_map(|rule| Some((rule.next_run_after(&policies.sweeps, now)?, rule)))
        .collect();
    let slot = runs.iter().map(|(at, _)| *at).min()?;
    let due = runs
        .into_iter()
        .filter(|(at, _)| *at == slot)
        .map(|(_, rule)| rule.name.clone())
        .collect();
    Some((slot, due))
}

async fn run_scheduled(service: &SweepService, rule: &str, slot: DateTime<Utc>) {
    let options = SweepOptions {
        dry_run: service.policies().sweeps.dry_run_by_default,
        rule: Some(rule.to_string()),
        scheduled_for: Some(slot.naive_utc()),
        actor: Some(Actor::System("retention-schedule")),
        ..SweepOptions::default()
    };
    match service.sweep(options, |_| {}).await {
        Ok(reports) => {
            for report in reports {
                match report.outcome {
                    Outcome::Failed => tracing::error!(
                        rule = %report.rule,
                        error = report.error.as_deref().unwrap_or_default(),
                        "retention sweep failed"
                    ),
                    outcome => tracing::info!(
                        rule = %report.rule,
                        ?outcome,
                        matched = report.counts.matched,
                        changed = report.counts.changed,
                        dry_run = report.dry_run,
                        "retention sweep"
                    ),
                }
            }
        }
        Err(error) => tracing::error!(%rule, %error, "retention sweep could not run"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::testing::shipped_policies;
    use chrono::TimeZone;

    #[test]
    fn every_shipped_rule_is_due_at_the_nightly_slot() {
        let policies = shipped_policies();
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let (slot, rules) = next_slot(&policies, now).unwrap();
        assert_eq!(slot, Utc.with_ymd_and_hms(2026, 11, 24, 2, 30, 0).unwrap());
        assert_eq!(rules.len(), policies.retention.len());
    }

    #[test]
    fn a_rule_with_its_own_schedule_has_its_own_slot() {
        let mut policies = shipped_policies();
        policies.retention[1].schedule = Some("0 0 1 * * *".parse().unwrap());
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let (slot, rules) = next_slot(&policies, now).unwrap();
        assert_eq!(slot, Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).unwrap());
        assert_eq!(rules, [policies.retention[1].name.clone()]);
    }
}
