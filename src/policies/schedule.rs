//! Cron schedules of the retention sweeps as policy files write them, parsed with the `cron`
//! crate, and the next time a sweep runs.
//!
//! The `cron` crate reads six or seven fields, seconds first:
//! `sec min hour day-of-month month day-of-week [year]`, so "0 30 2 * * *" is 02:30 every day.
//! Times are UTC: a sweep at night must not run twice or not at all when the clocks change.

use chrono::{DateTime, Utc};
use cron::TimeUnitSpec;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// What a policy file is told when a schedule does not parse.
pub const SCHEDULE_EXPECTED: &str = "expected a cron expression of 6 or 7 fields \
     \"sec min hour day-of-month month day-of-week [year]\" in UTC, e.g. \"0 30 2 * * *\" for 02:30 daily";

/// A validated cron expression; it reads back as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule(cron::Schedule);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{SCHEDULE_EXPECTED} (got \"{text}\": {reason})")]
    Syntax { text: String, reason: String },
    /// Five fields is the classic crontab form; the most likely slip, so it gets its own advice.
    #[error(
        "\"{0}\" has 5 fields (crontab style); this format starts with seconds: \"0 {0}\" runs at \
         the same times"
    )]
    NoSeconds(String),
    /// A sweep takes longer than a second; runs that overlap only queue up behind the lease.
    #[error("\"{0}\" runs more than once a minute; a sweep may run at most once a minute (set the seconds field to one value, e.g. 0)")]
    TooOften(String),
    #[error("\"{0}\" never runs again")]
    Never(String),
}

impl CronSchedule {
    /// The first run strictly after `after`; `None` when the schedule has no runs left (a year
    /// field in the past), which loading refuses, so only a schedule that has since run out
    /// gives it.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.after(&after).next()
    }

    /// The parsed schedule, for what this type does not offer (upcoming runs, inclusion).
    pub fn as_cron(&self) -> &cron::Schedule {
        &self.0
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        self.0.source()
    }
}

impl FromStr for CronSchedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.split_whitespace().count() == 5 {
            return Err(ScheduleError::NoSeconds(text.to_string()));
        }
        let schedule = cron::Schedule::from_str(text).map_err(|error| ScheduleError::Syntax {
            text: text.to_string(),
            reason: error.to_string(),
        })?;
        if schedule.seconds().count() > 1 {
            return Err(ScheduleError::TooOften(text.to_string()));
        }
        if schedule.upcoming(Utc).next().is_none() {
            return Err(ScheduleError::Never(text.to_string()));
        }
        Ok(CronSchedule(schedule))
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source())
    }
}

impl Serialize for CronSchedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.source())
    }
}

impl<'de> Deserialize<'de> for CronSchedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn schedule(text: &str) -> CronSchedule {
        text.parse().unwrap()
    }

    #[test]
    fn next_run_is_strictly_after() {
        let nightly = schedule("0 30 2 * * *");
        assert_eq!(
            nightly.next_after(at(2026, 11, 23, 9, 0, 0)),
            Some(at(2026, 11, 24, 2, 30, 0))
        );
        assert_eq!(
            nightly.next_after(at(2026, 11, 23, 2, 29, 59)),
            Some(at(2026, 11, 23, 2, 30, 0))
        );
        // At the very moment of a run, the next one is tomorrow's.
        assert_eq!(
            nightly.next_after(at(2026, 11, 23, 2, 30, 0)),
            Some(at(2026, 11, 24, 2, 30, 0))
        );
        // Across the end of a year and a leap day.
        assert_eq!(
            nightly.next_after(at(2027, 12, 31, 3, 0, 0)),
            Some(at(2028, 1, 1, 2, 30, 0))
        );
        let sundays = schedule("0 0 4 * * Sun");
        assert_eq!(
            sundays.next_after(at(2026, 11, 23, 0, 0, 0)),
            Some(at(2026, 11, 29, 4, 0, 0))
        );
        let first_of_month = schedule("0 15 1 1 * *");
        assert_eq!(
            first_of_month.next_after(at(2028, 2, 29, 12, 0, 0)),
            Some(at(2028, 3, 1, 1, 15, 0))
        );
    }

    #[test]
    fn reads_back_as_written() {
        assert_eq!(schedule("0 30 2 * * *").to_string(), "0 30 2 * * *");
        assert_eq!(schedule(" 0 0 4 * * Sun ").source(), "0 0 4 * * Sun");
    }

    #[test]
    fn refuses_what_cannot_run_as_meant() {
        let refused = |text: &str| text.parse::<CronSchedule>().unwrap_err();
        assert!(matches!(refused("30 2 * * *"), ScheduleError::NoSeconds(_)));
        assert!(refused("30 2 * * *")
            .to_string()
            .contains("\"0 30 2 * * *\""));
        for bad in [
            "",
            "every night",
            "0 61 2 * * *",
            "0 30 25 * * *",
            "0 0 0 * * Caturday",
        ] {
            let error = refused(bad);
            assert!(
                matches!(error, ScheduleError::Syntax { .. }),
                "{bad:?}: {error:?}"
            );
            assert!(error.to_string().contains("\"0 30 2 * * *\""), "{error}");
        }
        assert!(matches!(refused("* * * * * *"), ScheduleError::TooOften(_)));
        assert!(matches!(
            refused("0 0 0 1 1 * 2020"),
            ScheduleError::Never(_)
        ));
    }
}
