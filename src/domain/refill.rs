//! Refill schedule arithmetic. A refill boundary is 00:00 UTC of every day (daily refills) or of
//! `refill_day` of every month, clamped to the month's last day (monthly refills). "Now" is always
//! a parameter so tests can move time.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

pub const DAY_MS: i64 = 86_400_000;

/// How often a balance refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Daily,
    /// On this day of every month (1..=31), clamped to the month's length.
    Monthly(u8),
}

impl Interval {
    /// From the stored `refill_day` column: NULL means daily.
    pub fn from_refill_day(day: Option<i64>) -> Interval {
        match day {
            Some(d) if (1..=31).contains(&d) => Interval::Monthly(d as u8),
            Some(d) if d > 31 => Interval::Monthly(31),
            _ => Interval::Daily,
        }
    }

    pub fn refill_day(self) -> Option<u8> {
        match self {
            Interval::Daily => None,
            Interval::Monthly(d) => Some(d),
        }
    }
}

/// A refill as requested: the balance is set to `amount` (if below it) every day, or every month
/// on `day` (1..=31, clamped to the month's length; default 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    pub amount: i64,
    pub monthly: bool,
    /// The requested day of the month; a daily refill must not name one ([`Refill::day_conflicts`]).
    pub day: Option<i64>,
}

impl Refill {
    /// The stored `refill_day`: NULL for daily refills, else the day (default 1).
    pub fn stored_day(&self) -> Option<i64> {
        self.monthly.then(|| self.day.unwrap_or(1))
    }

    /// A daily refill that names a day (every route refuses it, each with its own message).
    pub fn day_conflicts(&self) -> bool {
        !self.monthly && self.day.is_some()
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1).and_then(|d| d.pred_opt()).map(|d| d.day()).unwrap_or(28)
}

fn midnight_ms(year: i32, month: u32, day: u32) -> Option<i64> {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

fn utc(now_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(now_ms).unwrap_or_default()
}

/// The monthly boundary (00:00 UTC of the clamped refill day) inside the given month.
fn monthly_boundary(year: i32, month: u32, refill_day: u8) -> Option<i64> {
    let day = (refill_day as u32).min(days_in_month(year, month));
    midnight_ms(year, month, day)
}

/// The latest refill boundary at or before `now_ms`.
pub fn last_boundary(interval: Interval, now_ms: i64) -> i64 {
    match interval {
        Interval::Daily => now_ms.div_euclid(DAY_MS) * DAY_MS,
        Interval::Monthly(day) => {
            let now = utc(now_ms);
            let (y, m) = (now.year(), now.month());
            match monthly_boundary(y, m, day) {
                Some(b) if b <= now_ms => b,
                _ => {
                    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
                    monthly_boundary(py, pm, day).unwrap_or(0)
                }
            }
        }
    }
}

/// When a refill is due: the boundary that has passed since the last refill (or since the
/// balance was created, when it was never refilled), else `None`.
pub fn due_boundary(interval: Interval, last_refill_ms: i64, now_ms: i64) -> Option<i64> {
    let boundary = last_boundary(interval, now_ms);
    (last_refill_ms < boundary).then_some(boundary)
}

/// What the scheduled (cron) handler refills on a given run: rows whose boundary is today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronWindow {
    /// 00:00 UTC today: a row refilled before this is due if its boundary is today.
    pub today_start: i64,
    /// Today's day of the month (1..=31).
    pub day_of_month: u8,
    /// Today is the month's last day, so monthly rows with a larger refill day are due too.
    pub is_last_day_of_month: bool,
}

pub fn cron_window(now_ms: i64) -> CronWindow {
    let now = utc(now_ms);
    CronWindow {
        today_start: last_boundary(Interval::Daily, now_ms),
        day_of_month: now.day() as u8,
        is_last_day_of_month: now.day() == days_in_month(now.year(), now.month()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|x| x.and_hms_opt(h, 0, 0))
            .expect("valid date")
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn daily_boundary_is_midnight_utc() {
        assert_eq!(last_boundary(Interval::Daily, at(2026, 3, 5, 13)), at(2026, 3, 5, 0));
        assert_eq!(last_boundary(Interval::Daily, at(2026, 3, 5, 0)), at(2026, 3, 5, 0));
    }

    #[test]
    fn daily_due_after_midnight_only() {
        let refilled = at(2026, 3, 5, 1);
        assert_eq!(due_boundary(Interval::Daily, refilled, at(2026, 3, 5, 23)), None);
        assert_eq!(due_boundary(Interval::Daily, refilled, at(2026, 3, 6, 0)), Some(at(2026, 3, 6, 0)));
        // several days missed: one refill, at the latest boundary
        assert_eq!(due_boundary(Interval::Daily, refilled, at(2026, 3, 9, 8)), Some(at(2026, 3, 9, 0)));
    }

    #[test]
    fn monthly_boundary_in_this_or_previous_month() {
        let m15 = Interval::Monthly(15);
        assert_eq!(last_boundary(m15, at(2026, 3, 20, 0)), at(2026, 3, 15, 0));
        assert_eq!(last_boundary(m15, at(2026, 3, 10, 0)), at(2026, 2, 15, 0));
        assert_eq!(last_boundary(m15, at(2026, 1, 10, 0)), at(2025, 12, 15, 0));
        assert_eq!(last_boundary(m15, at(2026, 3, 15, 0)), at(2026, 3, 15, 0));
    }

    #[test]
    fn refill_days_29_to_31_clamp_to_month_end() {
        // 2026 is not a leap year: February has 28 days
        for day in [29u8, 30, 31] {
            assert_eq!(
                last_boundary(Interval::Monthly(day), at(2026, 2, 28, 5)),
                at(2026, 2, 28, 0),
                "day {day}"
            );
        }
        // leap year: February 29th exists
        assert_eq!(last_boundary(Interval::Monthly(31), at(2028, 2, 29, 5)), at(2028, 2, 29, 0));
        assert_eq!(last_boundary(Interval::Monthly(29), at(2028, 2, 29, 5)), at(2028, 2, 29, 0));
        assert_eq!(last_boundary(Interval::Monthly(30), at(2028, 2, 28, 5)), at(2028, 1, 30, 0));
        // April has 30 days
        assert_eq!(last_boundary(Interval::Monthly(31), at(2026, 4, 30, 1)), at(2026, 4, 30, 0));
        assert_eq!(last_boundary(Interval::Monthly(31), at(2026, 5, 30, 1)), at(2026, 4, 30, 0));
        assert_eq!(last_boundary(Interval::Monthly(31), at(2026, 5, 31, 1)), at(2026, 5, 31, 0));
        // 1900-style century rule: 2100 is not a leap year
        assert_eq!(last_boundary(Interval::Monthly(29), at(2100, 3, 1, 0)), at(2100, 2, 28, 0));
    }

    #[test]
    fn monthly_due_once_per_month() {
        let m31 = Interval::Monthly(31);
        let refilled = at(2026, 1, 31, 0) + 1;
        assert_eq!(due_boundary(m31, refilled, at(2026, 2, 27, 23)), None);
        assert_eq!(due_boundary(m31, refilled, at(2026, 2, 28, 0)), Some(at(2026, 2, 28, 0)));
        let refilled = at(2026, 2, 28, 3);
        assert_eq!(due_boundary(m31, refilled, at(2026, 3, 30, 23)), None);
        assert_eq!(due_boundary(m31, refilled, at(2026, 3, 31, 0)), Some(at(2026, 3, 31, 0)));
        // a year boundary
        let m1 = Interval::Monthly(1);
        assert_eq!(due_boundary(m1, at(2026, 12, 1, 4), at(2027, 1, 1, 0)), Some(at(2027, 1, 1, 0)));
    }

    #[test]
    fn refill_day_column_mapping() {
        assert_eq!(Interval::from_refill_day(None), Interval::Daily);
        assert_eq!(Interval::from_refill_day(Some(0)), Interval::Daily);
        assert_eq!(Interval::from_refill_day(Some(15)), Interval::Monthly(15));
        assert_eq!(Interval::Monthly(15).refill_day(), Some(15));
        assert_eq!(Interval::Daily.refill_day(), None);
    }

    #[test]
    fn cron_window_knows_month_ends() {
        let w = cron_window(at(2026, 2, 28, 0) + 60_000);
        assert_eq!(w.today_start, at(2026, 2, 28, 0));
        assert_eq!(w.day_of_month, 28);
        assert!(w.is_last_day_of_month);
        let w = cron_window(at(2028, 2, 28, 12));
        assert!(!w.is_last_day_of_month);
        assert!(cron_window(at(2028, 2, 29, 12)).is_last_day_of_month);
        assert!(!cron_window(at(2026, 3, 30, 12)).is_last_day_of_month);
        assert!(cron_window(at(2026, 12, 31, 12)).is_last_day_of_month);
    }
}
