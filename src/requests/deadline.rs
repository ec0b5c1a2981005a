//! Deadlines of data-subject requests: when the answer to a request is due.
//!
//! Article 12(3) GDPR gives the controller one month from receipt to answer a request, which it
//! may extend by at most two further months where the request is complex or there are many. How
//! a "month" is counted comes from Regulation 1182/71 (periods, dates and time limits), as the
//! EDPB applies it in its guidelines on the right of access:
//!
//! - The clock starts on the date the request reaches any official channel of the controller.
//! - The period ends on the same day number of the next month (5 March -> 5 April); where that
//!   month has no such day, on its last day (31 August -> 30 September, 31 January -> 28 or 29
//!   February).
//! - A period ending on a Saturday, Sunday or public holiday ends on the next working day. For a
//!   Dutch controller the public holidays are those of the Algemene termijnenwet (see
//!   [`dutch_public_holidays`]). The move repeats: the Saturday before Easter Monday moves to the
//!   Tuesday.
//! - An extension makes the period three months from receipt (not two months from the first due
//!   date, which would differ at month ends), counted the same way. It must be decided, and the
//!   data subject told, within the first month: deciding on the first due date itself is still in
//!   time, the day after is not.
//! - While the controller waits for an answer to an identity or clarification question the clock
//!   stops. The due date moves later by the number of calendar days the request was paused
//!   (overlapping pauses counted once; a pause still open counts until "today"). The shift is
//!   applied to the calendar due date before the working-day rule, so the result is always a
//!   working day and a pause never adds a weekend twice.
//!
//! All functions are pure: "today" is an argument, never read from the clock, so a deadline can be
//! recomputed for any moment and tests are deterministic. Dates outside chrono's range saturate at
//! [`NaiveDate::MAX`] instead of panicking; the holiday rules are today's law, applied to every
//! year (no historical Koninginnedag).

use chrono::{Datelike, Months, NaiveDate, TimeDelta, Weekday};
use serde::{Deserialize, Serialize};

/// Number of holidays [`holidays_of_year`] yields for every year.
const HOLIDAYS_PER_YEAR: usize = 9;

/// The Sunday of Easter in `year` (Gregorian calendar), by the anonymous Gregorian algorithm
/// (Meeus/Jones/Butcher), or `None` when the date is outside chrono's range.
fn easter_sunday_opt(year: i32) -> Option<NaiveDate> {
    // Floor division and modulo throughout, so negative (proleptic) years behave like the
    // positive years one 5,700,000-year Easter cycle later instead of producing nonsense.
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let n = h + l - 7 * m + 114;
    let month = u32::try_from(n.div_euclid(31)).ok()?;
    let day = u32::try_from(n.rem_euclid(31) + 1).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Easter Sunday of `year` (Gregorian calendar), computed with the anonymous Gregorian algorithm
/// (Meeus/Jones/Butcher).
///
/// # Panics
///
/// When `year` is outside chrono's range (beyond ±262,000 years), where no [`NaiveDate`] exists.
pub fn easter_sunday(year: i32) -> NaiveDate {
    easter_sunday_opt(year)
        .expect("Easter falls in March or April of any year chrono can represent")
}

/// `date` plus `days` days, or `None` outside chrono's range.
fn add_days(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    date.checked_add_signed(TimeDelta::try_days(days)?)
}

/// The public holidays of the Algemene termijnenwet in `year`, sorted by date, or `None` when the
/// year is outside chrono's range.
fn holidays_of_year(year: i32) -> Option<[(NaiveDate, &'static str); HOLIDAYS_PER_YEAR]> {
    let ymd = |month, day| NaiveDate::from_ymd_opt(year, month, day);
    let easter = easter_sunday_opt(year)?;
    let kings_day = match ymd(4, 27)? {
        sunday if sunday.weekday() == Weekday::Sun => ymd(4, 26)?,
        date => date,
    };
    let mut holidays = [
        (ymd(1, 1)?, "Nieuwjaarsdag"),
        (add_days(easter, -2)?, "Goede Vrijdag"),
        (add_days(easter, 1)?, "Tweede Paasdag"),
        (kings_day, "Koningsdag"),
        (ymd(5, 5)?, "Bevrijdingsdag"),
        (add_days(easter, 39)?, "Hemelvaartsdag"),
        (add_days(easter, 50)?, "Tweede Pinksterdag"),
        (ymd(12, 25)?, "Eerste Kerstdag"),
        (ymd(12, 26)?, "Tweede Kerstdag"),
    ];
    // Stable: Easter Monday can fall after King's Day (2038: 26 April), Ascension on 5 May.
    holidays.sort_by_key(|&(date, _)| date);
    Some(holidays)
}

/// The Dutch public holidays of the Algemene termijnenwet (art. 3) in `year`, sorted by date,
/// with their Dutch names: Nieuwjaarsdag, Goede Vrijdag, Tweede Paasdag, Koningsdag (27 April, or
/// 26 April when the 27th is a Sunday), Bevrijdingsdag (5 May, every year), Hemelvaartsdag,
/// Tweede Pinksterdag, Eerste Kerstdag and Tweede Kerstdag.
///
/// Easter Sunday and Whit Sunday are left out: they are Sundays, which never count as working
/// days anyway. Two holidays can share a date (Ascension Day on 5 May); both are listed. Empty
/// for a year outside chrono's range.
pub fn dutch_public_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    holidays_of_year(year).map(Vec::from).unwrap_or_default()
}

/// Whether `date` is a Dutch public holiday in the sense of the Algemene termijnenwet.
pub fn is_dutch_public_holiday(date: NaiveDate) -> bool {
    holidays_of_year(date.year())
        .is_some_and(|holidays| holidays.iter().any(|&(holiday, _)| holiday == date))
}

/// Whether a period may end on `date`: not a Saturday, Sunday or Dutch public holiday.
pub fn is_working_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_dutch_public_holiday(date)
}

/// `date` itself when it is a working day, otherwise the first working day after it.
///
/// Saturates at [`NaiveDate::MAX`] should the search run off the end of chrono's range.
pub fn next_working_day_on_or_after(date: NaiveDate) -> NaiveDate {
    let mut day = date;
    while !is_working_day(day) {
        match day.succ_opt() {
            Some(next) => day = next,
            None => return NaiveDate::MAX,
        }
    }
    day
}

/// `date` plus `months` calendar months, same day number; where the target month is shorter, its
/// last day (31 January + 1 month = 28 or 29 February).
///
/// Always counted from `date` itself, never month by month, so 31 January + 3 months is 30 April
/// rather than 28 April. Saturates at [`NaiveDate::MAX`] beyond chrono's range.
pub fn add_months_clamped(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// A period in which the clock stood still, waiting for the data subject to answer an identity or
/// clarification question. `end` is the day the answer came (the clock runs again from then);
/// `None` while still waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// What the due date of a request depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineInput {
    /// The day the request reached any official channel.
    pub received_on: NaiveDate,
    /// Whether the period was extended by two months.
    pub extended: bool,
    /// The pauses, in any order, possibly overlapping.
    pub pauses: Vec<Pause>,
}

/// Total length in days of the union of the half-open intervals `[start, end)`; empty or reversed
/// intervals count as nothing.
fn merged_days(intervals: impl IntoIterator<Item = (NaiveDate, NaiveDate)>) -> i64 {
    let mut intervals: Vec<_> = intervals
        .into_iter()
        .filter(|(start, end)| start < end)
        .collect();
    intervals.sort_unstable();
    let mut total: i64 = 0;
    let mut current: Option<(NaiveDate, NaiveDate)> = None;
    for (start, end) in intervals {
        current = match current {
            Some((run_start, run_end)) if start <= run_end => Some((run_start, run_end.max(end))),
            Some((run_start, run_end)) => {
                total = total.saturating_add((run_end - run_start).num_days());
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((run_start, run_end)) = current {
        total = total.saturating_add((run_end - run_start).num_days());
    }
    total
}

/// The number of calendar days the clock stood still: the union of all pauses, each from its
/// start up to (not including) its end, an open pause up to `today`. Overlapping pauses count
/// once; a pause that ends before it starts, or an open one starting after `today`, counts
/// nothing.
pub fn paused_days(pauses: &[Pause], today: NaiveDate) -> i64 {
    merged_days(
        pauses
            .iter()
            .map(|pause| (pause.start, pause.end.unwrap_or(today))),
    )
}

/// Paused days that count for a request received on `received_on`, as known on `cutoff`: parts
/// of pauses before receipt or after `cutoff` are dropped, open pauses run until `today`.
fn counted_paused_days(
    received_on: NaiveDate,
    pauses: &[Pause],
    today: NaiveDate,
    cutoff: NaiveDate,
) -> i64 {
    merged_days(pauses.iter().map(|pause| {
        let start = pause.start.max(received_on);
        let end = pause.end.unwrap_or(today).min(cutoff);
        (start, end)
    }))
}

/// The due date for a period of `months` months from `received_on`, shifted by `paused` days,
/// moved to a working day.
fn due_after(received_on: NaiveDate, months: u32, paused: i64) -> NaiveDate {
    let calendar_due = add_months_clamped(received_on, months);
    let shifted = add_days(calendar_due, paused).unwrap_or(NaiveDate::MAX);
    next_working_day_on_or_after(shifted)
}

/// The due date of a request as it stands on `today`: receipt plus one month (three when
/// extended), clamped to the month's end, shifted later by the paused days, then moved to the
/// next working day.
///
/// With an open pause the result is provisional: it moves a day later for every day the pause
/// stays open. Pauses are expected to pass [`validate_pause`]; should one not, the part before
/// receipt and a reversed pause are ignored rather than trusted.
pub fn due_date(input: &DeadlineInput, today: NaiveDate) -> NaiveDate {
    let months = if input.extended { 3 } else { 1 };
    let paused = counted_paused_days(input.received_on, &input.pauses, today, NaiveDate::MAX);
    due_after(input.received_on, months, paused)
}

/// The plain legal due date: receipt plus one month, clamped, moved to the next working day;
/// no extension, no pauses.
pub fn first_due_date(received_on: NaiveDate) -> NaiveDate {
    due_after(received_on, 1, 0)
}

/// What can be wrong with a deadline's inputs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeadlineError {
    #[error("an extension must be decided before the first due date ({due}) has passed")]
    ExtensionTooLate { due: NaiveDate },
    #[error("a pause cannot end ({end}) before it starts ({start})")]
    PauseEndsBeforeStart { start: NaiveDate, end: NaiveDate },
    #[error("a pause cannot start ({start}) before the request was received ({received})")]
    PauseBeforeReceipt {
        start: NaiveDate,
        received: NaiveDate,
    },
    #[error(
        "the due date ({due}) has passed on {start}; a pause can only stop the clock before it"
    )]
    PauseAfterDueDate { start: NaiveDate, due: NaiveDate },
    #[error("{what} ({date}) cannot lie in the future (today is {today})")]
    InTheFuture {
        what: &'static str,
        date: NaiveDate,
        today: NaiveDate,
    },
}

/// Whether a pause may start on `start` (the day the question was asked): on or after receipt,
/// not after today, and not after the due date as it stands (`due_on`): a question asked once
/// the period has run out cannot stop a clock that already stopped (EDPB 01/2022).
pub fn check_pause_start(
    input: &DeadlineInput,
    due_on: NaiveDate,
    start: NaiveDate,
    today: NaiveDate,
) -> Result<(), DeadlineError> {
    if start > today {
        return Err(DeadlineError::InTheFuture {
            what: "the day the question was asked",
            date: start,
            today,
        });
    }
    validate_pause(input.received_on, &Pause { start, end: None })?;
    if start > due_on {
        return Err(DeadlineError::PauseAfterDueDate { start, due: due_on });
    }
    Ok(())
}

/// Whether a pause that started on `start` may end on `answered_on`, the day the answer
/// arrived: not before the pause started and not after today.
pub fn check_pause_end(
    start: NaiveDate,
    answered_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), DeadlineError> {
    if answered_on > today {
        return Err(DeadlineError::InTheFuture {
            what: "the day the answer arrived",
            date: answered_on,
            today,
        });
    }
    validate_pause(
        start,
        &Pause {
            start,
            end: Some(answered_on),
        },
    )
}

/// Whether the period of `input` may be extended by a decision taken on `decided_on`.
///
/// The decision is in time up to and including the unextended due date, pauses included. Only
/// the pause time before the decision counts (an open pause up to `today` or `decided_on`,
/// whichever is earlier): a pause that starts after the deadline had already passed cannot make a
/// late decision timely. Every pause is validated first.
pub fn check_extension_allowed(
    input: &DeadlineInput,
    decided_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), DeadlineError> {
    for pause in &input.pauses {
        validate_pause(input.received_on, pause)?;
    }
    let paused = counted_paused_days(input.received_on, &input.pauses, today, decided_on);
    let due = due_after(input.received_on, 1, paused);
    if decided_on > due {
        return Err(DeadlineError::ExtensionTooLate { due });
    }
    Ok(())
}

/// Checks that `pause` fits a request received on `received_on`: it starts on or after receipt
/// and does not end before it starts (a pause ending the day it starts lasts zero days).
pub fn validate_pause(received_on: NaiveDate, pause: &Pause) -> Result<(), DeadlineError> {
    if pause.start < received_on {
        return Err(DeadlineError::PauseBeforeReceipt {
            start: pause.start,
            received: received_on,
        });
    }
    if let Some(end) = pause.end {
        if end < pause.start {
            return Err(DeadlineError::PauseEndsBeforeStart {
                start: pause.start,
                end,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("test dates are valid")
    }

    fn input(received_on: NaiveDate, extended: bool, pauses: Vec<Pause>) -> DeadlineInput {
        DeadlineInput {
            received_on,
            extended,
            pauses,
        }
    }

    fn closed(start: NaiveDate, end: NaiveDate) -> Pause {
        Pause {
            start,
            end: Some(end),
        }
    }

    fn open(start: NaiveDate) -> Pause {
        Pause { start, end: None }
    }

    // ---- calendar months ----

    #[test]
    fn edpb_example_5_march_to_5_april() {
        assert_eq!(add_months_clamped(d(2024, 3, 5), 1), d(2024, 4, 5));
        // 5 April 2024 is a Friday, a working day.
        assert_eq!(first_due_date(d(2024, 3, 5)), d(2024, 4, 5));
        // 5 April 2025 is a Saturday: due Monday 7 April.
        assert_eq!(add_months_clamped(d(2025, 3, 5), 1), d(2025, 4, 5));
        assert_eq!(first_due_date(d(2025, 3, 5)), d(2025, 4, 7));
    }

    #[test]
    fn edpb_example_31_august_to_30_september() {
        // 30 September 2025 is a Tuesday.
        assert_eq!(add_months_clamped(d(2025, 8, 31), 1), d(2025, 9, 30));
        assert_eq!(first_due_date(d(2025, 8, 31)), d(2025, 9, 30));
        // 30 September 2023 is a Saturday: due Monday 2 October.
        assert_eq!(add_months_clamped(d(2023, 8, 31), 1), d(2023, 9, 30));
        assert_eq!(first_due_date(d(2023, 8, 31)), d(2023, 10, 2));
    }

    #[test]
    fn month_ends_clamp_to_last_day() {
        assert_eq!(add_months_clamped(d(2024, 1, 31), 1), d(2024, 2, 29));
        assert_eq!(add_months_clamped(d(2025, 1, 31), 1), d(2025, 2, 28));
        assert_eq!(add_months_clamped(d(2024, 1, 30), 1), d(2024, 2, 29));
        assert_eq!(add_months_clamped(d(2025, 1, 30), 1), d(2025, 2, 28));
        assert_eq!(add_months_clamped(d(2025, 1, 29), 1), d(2025, 2, 28));
        assert_eq!(add_months_clamped(d(2025, 3, 31), 1), d(2025, 4, 30));
        assert_eq!(add_months_clamped(d(2024, 12, 31), 1), d(2025, 1, 31));
        // Counted from the receipt date, not month by month: 31 Jan + 3 = 30 Apr, not 28 Apr.
        assert_eq!(add_months_clamped(d(2025, 1, 31), 3), d(2025, 4, 30));
        assert_eq!(add_months_clamped(d(2025, 1, 31), 0), d(2025, 1, 31));
    }

    #[test]
    fn month_end_due_dates_after_working_day_rule() {
        // 29 Feb 2024 Thursday, 28 Feb 2025 Friday, 30 Apr 2025 Wednesday, 31 Jan 2025 Friday.
        assert_eq!(first_due_date(d(2024, 1, 31)), d(2024, 2, 29));
        assert_eq!(first_due_date(d(2025, 1, 31)), d(2025, 2, 28));
        assert_eq!(first_due_date(d(2025, 3, 31)), d(2025, 4, 30));
        assert_eq!(first_due_date(d(2024, 12, 31)), d(2025, 1, 31));
    }

    #[test]
    fn leap_years() {
        // 2024 and 2000 are leap years, 2100 is not.
        assert_eq!(add_months_clamped(d(2024, 1, 31), 1), d(2024, 2, 29));
        assert_eq!(add_months_clamped(d(2000, 1, 31), 1), d(2000, 2, 29));
        assert_eq!(add_months_clamped(d(2100, 1, 31), 1), d(2100, 2, 28));
        // 29 Feb 2000 is a Tuesday; 28 Feb 2100 is a Sunday, so due Monday 1 March 2100.
        assert_eq!(first_due_date(d(2000, 1, 31)), d(2000, 2, 29));
        assert_eq!(first_due_date(d(2100, 1, 31)), d(2100, 3, 1));
        // 29 Feb + 12 months lands on 28 Feb of a common year.
        assert_eq!(add_months_clamped(d(2024, 2, 29), 12), d(2025, 2, 28));
    }

    #[test]
    fn out_of_range_saturates_instead_of_panicking() {
        assert_eq!(add_months_clamped(NaiveDate::MAX, 1), NaiveDate::MAX);
        assert_eq!(add_months_clamped(d(2025, 1, 1), u32::MAX), NaiveDate::MAX);
        assert!(is_working_day(next_working_day_on_or_after(NaiveDate::MIN)));
        let near_end = next_working_day_on_or_after(NaiveDate::MAX);
        assert!(near_end == NaiveDate::MAX || is_working_day(near_end));
        let far = input(NaiveDate::MAX, true, vec![open(NaiveDate::MAX)]);
        assert_eq!(due_date(&far, NaiveDate::MAX), NaiveDate::MAX);
        assert!(dutch_public_holidays(i32::MAX).is_empty());
        assert!(dutch_public_holidays(i32::MIN).is_empty());
    }

    // ---- Easter and holidays ----

    #[test]
    fn easter_known_years() {
        for (year, month, day) in [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
            (2285, 3, 22),
            (2000, 4, 23),
            (2019, 4, 21),
            (1818, 3, 22),
            (1943, 4, 25),
        ] {
            assert_eq!(easter_sunday(year), d(year, month, day), "Easter {year}");
        }
    }

    #[test]
    fn easter_is_a_sunday_in_range_for_every_representable_year() {
        let first = NaiveDate::MIN.year();
        let last = NaiveDate::MAX.year();
        for year in first..=last {
            let easter = easter_sunday(year);
            assert_eq!(easter.weekday(), Weekday::Sun, "{year}");
            assert!(
                easter >= d(year, 3, 22) && easter <= d(year, 4, 25),
                "{year}"
            );
        }
        assert_eq!(dutch_public_holidays(first).len(), HOLIDAYS_PER_YEAR);
        assert_eq!(dutch_public_holidays(last).len(), HOLIDAYS_PER_YEAR);
    }

    #[test]
    fn holidays_2025() {
        assert_eq!(
            dutch_public_holidays(2025),
            vec![
                (d(2025, 1, 1), "Nieuwjaarsdag"),
                (d(2025, 4, 18), "Goede Vrijdag"),
                (d(2025, 4, 21), "Tweede Paasdag"),
                (d(2025, 4, 26), "Koningsdag"),
                (d(2025, 5, 5), "Bevrijdingsdag"),
                (d(2025, 5, 29), "Hemelvaartsdag"),
                (d(2025, 6, 9), "Tweede Pinksterdag"),
                (d(2025, 12, 25), "Eerste Kerstdag"),
                (d(2025, 12, 26), "Tweede Kerstdag"),
            ]
        );
    }

    #[test]
    fn holidays_2026() {
        assert_eq!(
            dutch_public_holidays(2026),
            vec![
                (d(2026, 1, 1), "Nieuwjaarsdag"),
                (d(2026, 4, 3), "Goede Vrijdag"),
                (d(2026, 4, 6), "Tweede Paasdag"),
                (d(2026, 4, 27), "Koningsdag"),
                (d(2026, 5, 5), "Bevrijdingsdag"),
                (d(2026, 5, 14), "Hemelvaartsdag"),
                (d(2026, 5, 25), "Tweede Pinksterdag"),
                (d(2026, 12, 25), "Eerste Kerstdag"),
                (d(2026, 12, 26), "Tweede Kerstdag"),
            ]
        );
    }

    #[test]
    fn holidays_sorted_when_easter_monday_follows_kings_day_eve() {
        // Easter 2038 is 25 April: Easter Monday 26 April, King's Day Tuesday 27 April.
        let holidays = dutch_public_holidays(2038);
        assert_eq!(holidays[2], (d(2038, 4, 26), "Tweede Paasdag"));
        assert_eq!(holidays[3], (d(2038, 4, 27), "Koningsdag"));
        assert!(holidays.windows(2).all(|pair| pair[0].0 <= pair[1].0));
    }

    #[test]
    fn kings_day_moves_to_26_april_when_27th_is_a_sunday() {
        // 27 April 2025 and 2014 are Sundays.
        assert!(is_dutch_public_holiday(d(2025, 4, 26)));
        assert!(!is_dutch_public_holiday(d(2025, 4, 27)));
        assert!(is_dutch_public_holiday(d(2014, 4, 26)));
        assert!(!is_dutch_public_holiday(d(2014, 4, 27)));
        // 27 April 2026 is a Monday.
        assert!(is_dutch_public_holiday(d(2026, 4, 27)));
        assert!(!is_dutch_public_holiday(d(2026, 4, 26)));
    }

    #[test]
    fn liberation_day_every_year_and_non_holidays() {
        for year in 2020..=2030 {
            assert!(is_dutch_public_holiday(d(year, 5, 5)), "{year}");
        }
        // Easter Sunday is not listed (it is a Sunday anyway); ordinary days are no holidays.
        assert!(!is_dutch_public_holiday(d(2025, 4, 20)));
        assert!(!is_dutch_public_holiday(d(2025, 4, 17)));
        assert!(!is_dutch_public_holiday(d(2025, 12, 24)));
        assert!(!is_dutch_public_holiday(d(2025, 12, 31)));
    }

    #[test]
    fn working_days() {
        assert!(is_working_day(d(2025, 4, 17))); // Thursday
        assert!(!is_working_day(d(2025, 3, 15))); // Saturday
        assert!(!is_working_day(d(2025, 3, 16))); // Sunday
        assert!(!is_working_day(d(2025, 4, 18))); // Good Friday
        assert_eq!(next_working_day_on_or_after(d(2025, 4, 17)), d(2025, 4, 17));
        assert_eq!(next_working_day_on_or_after(d(2025, 4, 18)), d(2025, 4, 22));
    }

    // ---- due dates on non-working days ----

    #[test]
    fn due_on_saturday_or_sunday_moves_to_monday() {
        // 15 March 2025 Saturday, 16 March Sunday -> Monday 17 March.
        assert_eq!(first_due_date(d(2025, 2, 15)), d(2025, 3, 17));
        assert_eq!(first_due_date(d(2025, 2, 16)), d(2025, 3, 17));
    }

    #[test]
    fn due_on_saturday_before_easter_monday_moves_to_tuesday() {
        // Saturday 19 April 2025 -> Sunday -> Easter Monday 21 April -> Tuesday 22 April.
        assert_eq!(first_due_date(d(2025, 3, 19)), d(2025, 4, 22));
    }

    #[test]
    fn due_on_each_kind_of_holiday_moves_to_next_working_day() {
        let cases = [
            // New Year's Day, Thursday 1 Jan 2026 -> Friday 2 Jan.
            (d(2025, 12, 1), d(2026, 1, 2)),
            // Good Friday 3 Apr 2026 -> weekend -> Easter Monday -> Tuesday 7 Apr.
            (d(2026, 3, 3), d(2026, 4, 7)),
            // Good Friday 18 Apr 2025 -> Tuesday 22 Apr.
            (d(2025, 3, 18), d(2025, 4, 22)),
            // Easter Monday 21 Apr 2025 -> Tuesday 22 Apr.
            (d(2025, 3, 21), d(2025, 4, 22)),
            // King's Day Monday 27 Apr 2026 -> Tuesday 28 Apr.
            (d(2026, 3, 27), d(2026, 4, 28)),
            // King's Day Saturday 26 Apr 2025 (27th a Sunday) -> Monday 28 Apr.
            (d(2025, 3, 26), d(2025, 4, 28)),
            // Liberation Day Tuesday 5 May 2026 -> Wednesday 6 May.
            (d(2026, 4, 5), d(2026, 5, 6)),
            // Ascension Day Thursday 14 May 2026 -> Friday 15 May.
            (d(2026, 4, 14), d(2026, 5, 15)),
            // Whit Monday 25 May 2026 -> Tuesday 26 May.
            (d(2026, 4, 25), d(2026, 5, 26)),
            // Christmas Thursday 25 Dec 2025 -> Boxing Day -> weekend -> Monday 29 Dec.
            (d(2025, 11, 25), d(2025, 12, 29)),
            // Boxing Day Thursday 26 Dec 2024 -> Friday 27 Dec.
            (d(2024, 11, 26), d(2024, 12, 27)),
        ];
        for (received, due) in cases {
            assert_eq!(first_due_date(received), due, "received {received}");
            assert_eq!(due_date(&input(received, false, vec![]), received), due);
        }
    }

    // ---- extension ----

    #[test]
    fn extension_is_three_months_from_receipt() {
        // 15 April 2025 is a Tuesday.
        assert_eq!(
            due_date(&input(d(2025, 1, 15), true, vec![]), d(2025, 1, 15)),
            d(2025, 4, 15)
        );
        // 19 April 2025 is the Saturday before Easter Monday -> Tuesday 22 April.
        assert_eq!(
            due_date(&input(d(2025, 1, 19), true, vec![]), d(2025, 1, 19)),
            d(2025, 4, 22)
        );
        // Month-end clamping: 30 Nov 2023 + 3 = 29 Feb 2024 (Thursday); 30 Nov 2024 + 3 =
        // 28 Feb 2025 (Friday); 31 Jan 2025 + 3 = 30 Apr 2025 (Wednesday).
        assert_eq!(
            due_date(&input(d(2023, 11, 30), true, vec![]), d(2023, 11, 30)),
            d(2024, 2, 29)
        );
        assert_eq!(
            due_date(&input(d(2024, 11, 30), true, vec![]), d(2024, 11, 30)),
            d(2025, 2, 28)
        );
        assert_eq!(
            due_date(&input(d(2025, 1, 31), true, vec![]), d(2025, 1, 31)),
            d(2025, 4, 30)
        );
    }

    #[test]
    fn extension_decided_on_due_date_allowed_day_after_refused() {
        // Received 5 March 2025: due Saturday 5 April, moved to Monday 7 April.
        let request = input(d(2025, 3, 5), false, vec![]);
        let today = d(2025, 4, 10);
        assert_eq!(
            check_extension_allowed(&request, d(2025, 3, 20), today),
            Ok(())
        );
        assert_eq!(
            check_extension_allowed(&request, d(2025, 4, 5), today),
            Ok(())
        );
        assert_eq!(
            check_extension_allowed(&request, d(2025, 4, 7), today),
            Ok(())
        );
        assert_eq!(
            check_extension_allowed(&request, d(2025, 4, 8), today),
            Err(DeadlineError::ExtensionTooLate { due: d(2025, 4, 7) })
        );
        // The flag on the input does not change the check.
        let extended = input(d(2025, 3, 5), true, vec![]);
        assert_eq!(
            check_extension_allowed(&extended, d(2025, 4, 8), today),
            Err(DeadlineError::ExtensionTooLate { due: d(2025, 4, 7) })
        );
    }

    #[test]
    fn extension_deadline_includes_pauses() {
        // Received Monday 3 March 2025, due Thursday 3 April; paused 10..17 March (7 days):
        // due Thursday 10 April.
        let request = input(
            d(2025, 3, 3),
            false,
            vec![closed(d(2025, 3, 10), d(2025, 3, 17))],
        );
        let today = d(2025, 4, 15);
        assert_eq!(
            check_extension_allowed(&request, d(2025, 4, 10), today),
            Ok(())
        );
        assert_eq!(
            check_extension_allowed(&request, d(2025, 4, 11), today),
            Err(DeadlineError::ExtensionTooLate {
                due: d(2025, 4, 10)
            })
        );
        // Deciding during an open pause: paused from 25 March, decided 20 April -> 26 paused days
        // count, due 29 April (Tuesday), so in time.
        let paused = input(d(2025, 3, 3), false, vec![open(d(2025, 3, 25))]);
        assert_eq!(
            check_extension_allowed(&paused, d(2025, 4, 20), d(2025, 5, 1)),
            Ok(())
        );
    }

    #[test]
    fn extension_late_decision_not_rescued_by_later_pause() {
        // Due Thursday 3 April 2025; decided Friday 4 April; a pause after that does not count.
        let request = input(
            d(2025, 3, 3),
            false,
            vec![closed(d(2025, 4, 7), d(2025, 4, 20))],
        );
        assert_eq!(
            check_extension_allowed(&request, d(2025, 4, 4), d(2025, 4, 25)),
            Err(DeadlineError::ExtensionTooLate { due: d(2025, 4, 3) })
        );
    }

    #[test]
    fn extension_check_validates_pauses() {
        let request = input(
            d(2025, 3, 3),
            false,
            vec![closed(d(2025, 3, 10), d(2025, 3, 9))],
        );
        assert_eq!(
            check_extension_allowed(&request, d(2025, 3, 20), d(2025, 3, 20)),
            Err(DeadlineError::PauseEndsBeforeStart {
                start: d(2025, 3, 10),
                end: d(2025, 3, 9)
            })
        );
    }

    // ---- pauses ----

    #[test]
    fn paused_days_closed_open_and_merged() {
        let today = d(2025, 3, 20);
        assert_eq!(paused_days(&[], today), 0);
        assert_eq!(
            paused_days(&[closed(d(2025, 3, 10), d(2025, 3, 17))], today),
            7
        );
        assert_eq!(
            paused_days(&[closed(d(2025, 3, 10), d(2025, 3, 10))], today),
            0
        );
        assert_eq!(paused_days(&[open(d(2025, 3, 10))], today), 10);
        // An open pause starting after today has not counted yet.
        assert_eq!(paused_days(&[open(d(2025, 3, 25))], today), 0);
        // Overlapping: 10..17 and 15..20 -> 10..20.
        assert_eq!(
            paused_days(
                &[
                    closed(d(2025, 3, 15), d(2025, 3, 20)),
                    closed(d(2025, 3, 10), d(2025, 3, 17)),
                ],
                today
            ),
            10
        );
        // Nested, adjacent and separate.
        assert_eq!(
            paused_days(
                &[
                    closed(d(2025, 3, 1), d(2025, 3, 11)),
                    closed(d(2025, 3, 3), d(2025, 3, 5)),
                    closed(d(2025, 3, 11), d(2025, 3, 12)),
                    closed(d(2025, 4, 1), d(2025, 4, 3)),
                ],
                today
            ),
            13
        );
        // Open pause overlapping a closed one.
        assert_eq!(
            paused_days(
                &[closed(d(2025, 3, 5), d(2025, 3, 12)), open(d(2025, 3, 10))],
                today
            ),
            15
        );
    }

    #[test]
    fn closed_pause_shifts_due_date() {
        // Received 3 March 2025, due 3 April; 7 paused days -> Thursday 10 April.
        let request = input(
            d(2025, 3, 3),
            false,
            vec![closed(d(2025, 3, 10), d(2025, 3, 17))],
        );
        assert_eq!(due_date(&request, d(2025, 3, 20)), d(2025, 4, 10));
    }

    #[test]
    fn open_pause_counts_until_today() {
        // Paused since 10 March, today 20 March: 10 days -> Sunday 13 April -> Monday 14 April.
        let request = input(d(2025, 3, 3), false, vec![open(d(2025, 3, 10))]);
        assert_eq!(due_date(&request, d(2025, 3, 20)), d(2025, 4, 14));
        // Each further day paused moves it a day: 11 days -> Monday 14 April, 12 -> Tuesday 15.
        assert_eq!(due_date(&request, d(2025, 3, 21)), d(2025, 4, 14));
        assert_eq!(due_date(&request, d(2025, 3, 22)), d(2025, 4, 15));
    }

    #[test]
    fn overlapping_pauses_shift_once() {
        let request = input(
            d(2025, 3, 3),
            false,
            vec![
                closed(d(2025, 3, 10), d(2025, 3, 17)),
                closed(d(2025, 3, 15), d(2025, 3, 20)),
            ],
        );
        // 10 paused days, not 12: 13 April (Sunday) -> Monday 14 April.
        assert_eq!(due_date(&request, d(2025, 3, 25)), d(2025, 4, 14));
    }

    #[test]
    fn pause_shift_applies_before_working_day_rule() {
        // Received 5 March 2025: calendar due Saturday 5 April. Two paused days -> Monday 7 April
        // (moving first and shifting after would wrongly give Wednesday 9 April).
        let request = input(
            d(2025, 3, 5),
            false,
            vec![closed(d(2025, 3, 10), d(2025, 3, 12))],
        );
        assert_eq!(due_date(&request, d(2025, 3, 20)), d(2025, 4, 7));
        // Received 14 March 2025, due Monday 14 April; 5 paused days -> Saturday 19 April ->
        // Easter weekend -> Tuesday 22 April.
        let request = input(
            d(2025, 3, 14),
            false,
            vec![closed(d(2025, 3, 20), d(2025, 3, 25))],
        );
        assert_eq!(due_date(&request, d(2025, 3, 30)), d(2025, 4, 22));
    }

    #[test]
    fn pause_and_extension_combine() {
        // Received 15 Jan 2025, extended: 15 April; 3 paused days -> Good Friday 18 April ->
        // Tuesday 22 April.
        let request = input(
            d(2025, 1, 15),
            true,
            vec![closed(d(2025, 1, 20), d(2025, 1, 23))],
        );
        assert_eq!(due_date(&request, d(2025, 2, 1)), d(2025, 4, 22));
    }

    #[test]
    fn invalid_pauses_do_not_move_due_date_wrongly() {
        // Reversed pause ignored; the part of a pause before receipt ignored.
        let request = input(
            d(2025, 3, 3),
            false,
            vec![
                closed(d(2025, 3, 12), d(2025, 3, 10)),
                closed(d(2025, 2, 20), d(2025, 3, 5)),
            ],
        );
        // Only 3..5 March counts: 3 April + 2 = Saturday 5 April -> Monday 7 April.
        assert_eq!(due_date(&request, d(2025, 3, 20)), d(2025, 4, 7));
    }

    #[test]
    fn pause_validation() {
        let received = d(2025, 3, 3);
        assert_eq!(validate_pause(received, &open(received)), Ok(()));
        assert_eq!(
            validate_pause(received, &closed(d(2025, 3, 10), d(2025, 3, 10))),
            Ok(())
        );
        assert_eq!(
            validate_pause(received, &closed(d(2025, 3, 10), d(2025, 3, 17))),
            Ok(())
        );
        assert_eq!(
            validate_pause(received, &closed(d(2025, 3, 10), d(2025, 3, 9))),
            Err(DeadlineError::PauseEndsBeforeStart {
                start: d(2025, 3, 10),
                end: d(2025, 3, 9)
            })
        );
        assert_eq!(
            validate_pause(received, &open(d(2025, 3, 2))),
            Err(DeadlineError::PauseBeforeReceipt {
                start: d(2025, 3, 2),
                received
            })
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            DeadlineError::ExtensionTooLate { due: d(2025, 4, 7) }.to_string(),
            "an extension must be decided before the first due date (2025-04-07) has passed"
        );
        assert_eq!(
            DeadlineError::PauseEndsBeforeStart {
                start: d(2025, 3, 10),
                end: d(2025, 3, 9)
            }
            .to_string(),
            "a pause cannot end (2025-03-09) before it starts (2025-03-10)"
        );
        assert_eq!(
            DeadlineError::PauseBeforeReceipt {
                start: d(2025, 3, 2),
                received: d(2025, 3, 3)
            }
            .to_string(),
            "a pause cannot start (2025-03-02) before the request was received (2025-03-03)"
        );
    }

    // ---- pause rules (EDPB 01/2022) ----

    #[test]
    fn a_pause_starts_between_receipt_and_the_due_date_and_not_in_the_future() {
        let request = input(d(2026, 11, 2), false, vec![]);
        let due = first_due_date(d(2026, 11, 2));
        assert_eq!(due, d(2026, 12, 2));
        let today = d(2026, 12, 10);
        assert!(check_pause_start(&request, due, d(2026, 11, 2), today).is_ok());
        assert!(check_pause_start(&request, due, due, today).is_ok());
        assert_eq!(
            check_pause_start(&request, due, d(2026, 12, 3), today),
            Err(DeadlineError::PauseAfterDueDate {
                start: d(2026, 12, 3),
                due
            })
        );
        assert!(matches!(
            check_pause_start(&request, due, d(2026, 11, 1), today),
            Err(DeadlineError::PauseBeforeReceipt { .. })
        ));
        assert!(matches!(
            check_pause_start(&request, due, d(2026, 11, 20), d(2026, 11, 19)),
            Err(DeadlineError::InTheFuture { .. })
        ));
    }

    #[test]
    fn a_pause_ends_on_the_day_the_answer_arrived_never_later_than_today() {
        let start = d(2026, 11, 10);
        assert!(check_pause_end(start, start, d(2026, 11, 20)).is_ok());
        assert!(check_pause_end(start, d(2026, 11, 17), d(2026, 11, 20)).is_ok());
        assert!(matches!(
            check_pause_end(start, d(2026, 11, 21), d(2026, 11, 20)),
            Err(DeadlineError::InTheFuture { .. })
        ));
        assert!(matches!(
            check_pause_end(start, d(2026, 11, 9), d(2026, 11, 20)),
            Err(DeadlineError::PauseEndsBeforeStart { .. })
        ));
        // The case: received 2 November, asked 10 November, answered 17 November:
        // seven days, so 2 December becomes 9 December, not 14 December.
        let paused = input(d(2026, 11, 2), false, vec![closed(start, d(2026, 11, 17))]);
        assert_eq!(due_date(&paused, d(2026, 12, 1)), d(2026, 12, 9));
    }
}
