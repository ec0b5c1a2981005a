//! Retention periods as people write them in policy files ("7 years", "3 months", "30 days") and
//! the calendar arithmetic that turns one into a date.

use chrono::{Days, Months, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use super::Period;

/// What a policy file is told when a period does not parse.
pub const PERIOD_EXPECTED: &str =
    "expected a period like \"7 years\", \"3 months\", \"4 weeks\" or \"30 days\"";

impl Period {
    /// The date `self` after `date`, by the calendar: months and years land on the same day
    /// number, clamped to the last day of a shorter month (31 January + 1 month = 28 or 29
    /// February; 29 February + 1 year = 28 February). A result beyond chrono's range saturates at
    /// [`NaiveDate::MAX`] rather than panicking, which for a retention date means "keep".
    pub fn after(self, date: NaiveDate) -> NaiveDate {
        let later = match self {
            Period::Days(n) => date.checked_add_days(Days::new(u64::from(n))),
            Period::Weeks(n) => date.checked_add_days(Days::new(u64::from(n) * 7)),
            Period::Months(n) => date.checked_add_months(Months::new(n)),
            Period::Years(n) => n
                .checked_mul(12)
                .and_then(|months| date.checked_add_months(Months::new(months))),
        };
        later.unwrap_or(NaiveDate::MAX)
    }

    /// The moment `self` before `moment`, by the same calendar rules as [`Period::after`]: data
    /// counted from before it has passed its period. Saturates at [`NaiveDate::MIN`], which for
    /// a retention cutoff means "nothing has expired".
    pub fn before(self, moment: NaiveDateTime) -> NaiveDateTime {
        let date = moment.date();
        let earlier = match self {
            Period::Days(n) => date.checked_sub_days(Days::new(u64::from(n))),
            Period::Weeks(n) => date.checked_sub_days(Days::new(u64::from(n) * 7)),
            Period::Months(n) => date.checked_sub_months(Months::new(n)),
            Period::Years(n) => n
                .checked_mul(12)
                .and_then(|months| date.checked_sub_months(Months::new(months))),
        };
        earlier.unwrap_or(NaiveDate::MIN).and_time(moment.time())
    }

    /// The period in Dutch, for titles and letters: "7 jaar", "6 maanden", "1 week".
    pub fn dutch(self) -> String {
        let (n, one, many) = match self {
            Period::Days(n) => (n, "dag", "dagen"),
            Period::Weeks(n) => (n, "week", "weken"),
            Period::Months(n) => (n, "maand", "maanden"),
            Period::Years(n) => (n, "jaar", "jaar"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }

    /// The number and its unit, e.g. `(7, "year")`.
    fn parts(self) -> (u32, &'static str) {
        match self {
            Period::Days(n) => (n, "day"),
            Period::Weeks(n) => (n, "week"),
            Period::Months(n) => (n, "month"),
            Period::Years(n) => (n, "year"),
        }
    }
}

/// "7 years", "1 year": the same words the policy files use, so a period reads back as written.
impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (count, unit) = self.parts();
        let plural = if count == 1 { "" } else { "s" };
        write!(f, "{count} {unit}{plural}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{PERIOD_EXPECTED} (got \"{0}\")")]
pub struct PeriodError(String);

/// A positive whole number and a unit, singular or plural: "1 year", "7 years", "30 days".
impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || PeriodError(text.to_string());
        let mut words = text.split_whitespace();
        let (Some(count), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            return Err(refuse());
        };
        // A period of zero would make a rule that deletes data the moment it is written; that is
        // never what a retention rule means, so it is refused as a likely slip.
        let count: u32 = count.parse().ok().filter(|n| *n > 0).ok_or_else(refuse)?;
        let constructor = match unit {
            "day" | "days" => Period::Days,
            "week" | "weeks" => Period::Weeks,
            "month" | "months" => Period::Months,
            "year" | "years" => Period::Years,
            _ => return Err(refuse()),
        };
        Ok(constructor(count))
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parses_what_people_write() {
        assert_eq!("7 years".parse(), Ok(Period::Years(7)));
        assert_eq!("1 year".parse(), Ok(Period::Years(1)));
        assert_eq!(" 3  months ".parse(), Ok(Period::Months(3)));
        assert_eq!("4 weeks".parse(), Ok(Period::Weeks(4)));
        assert_eq!("30 days".parse(), Ok(Period::Days(30)));
        for bad in [
            "",
            "7",
            "years",
            "seven years",
            "0 days",
            "-1 days",
            "7 jaar",
            "1 year ago",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad:?} must be refused");
        }
        let message = "7 jaar".parse::<Period>().unwrap_err().to_string();
        assert!(
            message.contains("\"7 years\"") && message.contains("7 jaar"),
            "{message}"
        );
    }

    #[test]
    fn displays_as_written() {
        assert_eq!(Period::Years(7).to_string(), "7 years");
        assert_eq!(Period::Years(1).to_string(), "1 year");
        assert_eq!(Period::Days(30).to_string(), "30 days");
        for period in [Period::Days(1), Period::Weeks(4), Period::Months(3)] {
            assert_eq!(period.to_string().parse(), Ok(period));
        }
    }

    #[test]
    fn before_gives_the_retention_cutoff_at_the_same_time_of_day() {
        let at = |d: NaiveDate| d.and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            Period::Years(2).before(at(date(2026, 11, 23))),
            at(date(2024, 11, 23))
        );
        assert_eq!(
            Period::Months(3).before(at(date(2026, 5, 31))),
            at(date(2026, 2, 28))
        );
        assert_eq!(
            Period::Days(30).before(at(date(2026, 3, 1))),
            at(date(2026, 1, 30))
        );
        assert_eq!(
            Period::Years(u32::MAX).before(at(date(2026, 1, 1))),
            at(NaiveDate::MIN)
        );
    }

    #[test]
    fn after_counts_by_the_calendar() {
        assert_eq!(
            Period::Years(7).after(date(2026, 11, 23)),
            date(2033, 11, 23)
        );
        assert_eq!(
            Period::Months(1).after(date(2026, 1, 31)),
            date(2026, 2, 28)
        );
        assert_eq!(
            Period::Months(1).after(date(2028, 1, 31)),
            date(2028, 2, 29)
        );
        assert_eq!(Period::Years(1).after(date(2028, 2, 29)), date(2029, 2, 28));
        assert_eq!(
            Period::Months(3).after(date(2026, 11, 30)),
            date(2027, 2, 28)
        );
        assert_eq!(
            Period::Weeks(4).after(date(2026, 12, 20)),
            date(2027, 1, 17)
        );
        assert_eq!(Period::Days(30).after(date(2026, 2, 1)), date(2026, 3, 3));
    }

    #[test]
    fn after_saturates_instead_of_panicking() {
        assert_eq!(
            Period::Years(u32::MAX).after(date(2026, 1, 1)),
            NaiveDate::MAX
        );
        assert_eq!(Period::Days(u32::MAX).after(NaiveDate::MAX), NaiveDate::MAX);
        assert_eq!(Period::Months(1).after(NaiveDate::MAX), NaiveDate::MAX);
    }
}
