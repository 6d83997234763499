//! Retention periods and request dates: the ISO 8601 the labels file writes them in, and the
//! calendar arithmetic that says whether a file is past its retention.
//!
//! A period is `PnYnMnWnDTnHnMnS` in whole numbers (`P90D`, `P7Y`, `P1Y6M`, `PT12H`, `P2W`).
//! A file is expired when the moment it was last modified, plus the period, is before now:
//! years and months are calendar ones (a month after 31 January is the last day of February),
//! reckoned in UTC.

use std::time::{SystemTime, UNIX_EPOCH};

const DAY: i64 = 86_400;

/// A retention period, e.g. `P90D`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    /// Years and months together, as months.
    months: i64,
    /// Weeks and days together, as days.
    days: i64,
    /// Hours, minutes and seconds together, as seconds.
    seconds: i64,
}

/// Bound on each number in a period: far past any retention anyone keeps, and small enough
/// that no sum below can overflow.
const MAX_COMPONENT: i64 = 1_000_000;

impl Period {
    /// Parses an ISO 8601 duration. The error completes "retention ...: ".
    pub fn parse(text: &str) -> Result<Period, String> {
        let example = "write it as an ISO 8601 duration, e.g. P90D, P7Y, P1Y6M or PT12H";
        let body = text
            .strip_prefix('P')
            .ok_or_else(|| format!("{text:?} does not start with P; {example}"))?;
        let (date, time) = match body.split_once('T') {
            Some((_, "")) => return Err(format!("{text:?} has nothing after T; {example}")),
            Some((d, t)) => (d, Some(t)),
            None => (body, None),
        };
        let mut period = Period {
            months: 0,
            days: 0,
            seconds: 0,
        };
        let mut any = false;
        let mut read = |part: &str, designators: &[(char, i64, u8)]| -> Result<(), String> {
            let mut rest = part;
            // Designators must come in the standard's order, each at most once.
            let mut next = 0;
            while !rest.is_empty() {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let Some(designator) = rest[digits..].chars().next() else {
                    return Err(format!(
                        "{text:?} ends in a number without a unit; {example}"
                    ));
                };
                if digits == 0 {
                    return Err(if matches!(designator, '.' | ',') {
                        format!("{text:?}: only whole numbers are allowed; {example}")
                    } else {
                        format!("{text:?}: {designator:?} has no number before it; {example}")
                    });
                }
                let Some(at) = designators[next..]
                    .iter()
                    .position(|(d, _, _)| *d == designator)
                else {
                    return Err(match designator {
                        '.' | ',' => format!("{text:?}: only whole numbers are allowed; {example}"),
                        _ => format!(
                            "{text:?}: {designator:?} is not a unit here, or is out of order (years, months, weeks, days, then T, hours, minutes, seconds); {example}"
                        ),
                    });
                };
                let (_, scale, field) = designators[next + at];
                next += at + 1;
                let n: i64 = rest[..digits]
                    .parse()
                    .ok()
                    .filter(|n| *n <= MAX_COMPONENT)
                    .ok_or_else(|| format!("{text:?}: {} is too large", &rest[..digits]))?;
                match field {
                    0 => period.months += n * scale,
                    1 => period.days += n * scale,
                    _ => period.seconds += n * scale,
                }
                any = true;
                rest = &rest[digits + designator.len_utf8()..];
            }
            Ok(())
        };
        read(date, &[('Y', 12, 0), ('M', 1, 0), ('W', 7, 1), ('D', 1, 1)])?;
        if let Some(time) = time {
            read(time, &[('H', 3600, 2), ('M', 60, 2), ('S', 1, 2)])?;
        }
        if !any {
            return Err(format!("{text:?} gives no length; {example}"));
        }
        Ok(period)
    }

    /// When a file last modified at `modified` (seconds since the epoch, UTC) is kept until.
    fn end(&self, modified: i64) -> i64 {
        let (day, second) = (modified.div_euclid(DAY), modified.rem_euclid(DAY));
        let (y, m, d) = civil_from_days(day);
        let months = y * 12 + i64::from(m - 1) + self.months;
        let (y, m) = (months.div_euclid(12), (months.rem_euclid(12) + 1) as u32);
        let d = d.min(days_in_month(y, m));
        (days_from_civil(y, m, d) + self.days) * DAY + second + self.seconds
    }

    /// Whether a file last modified at `modified` is past this period at `now`.
    pub fn expired(&self, modified: SystemTime, now: SystemTime) -> bool {
        now_seconds(now) > self.end(now_seconds(modified))
    }
}

/// Seconds since the epoch, negative before it.
fn now_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX / 2),
    }
}

/// Checks a calendar date written `YYYY-MM-DD`. The error completes "date ...: ".
pub fn check_date(text: &str) -> Result<(), String> {
    let bad = || format!("{text:?} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-30");
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad());
    };
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (number(y, 4), number(m, 2), number(d, 2)) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
        return Err(bad());
    }
    Ok(())
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `z` days after 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(y: i64, m: u32, d: u32, second: i64) -> SystemTime {
        let s = days_from_civil(y, m, d) * DAY + second;
        if s >= 0 {
            UNIX_EPOCH + Duration::from_secs(s as u64)
        } else {
            UNIX_EPOCH - Duration::from_secs((-s) as u64)
        }
    }

    #[test]
    fn civil_dates_round_trip() {
        for day in [-800_000, -1, 0, 1, 59, 60, 365, 10_957, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
    }

    #[test]
    fn periods_parse_in_the_standards_form_only() {
        let p = |t: &str| Period::parse(t).unwrap();
        assert_eq!(p("P90D").days, 90);
        assert_eq!(p("P2W").days, 14);
        assert_eq!(p("P1Y6M").months, 18);
        assert_eq!(p("PT12H").seconds, 43_200);
        assert_eq!(p("P1DT1M").seconds, 60);
        assert_eq!(p("P0D"), p("PT0S"));
        for (bad, why) in [
            ("90D", "does not start with P"),
            ("P", "gives no length"),
            ("PT", "nothing after T"),
            ("P1.5Y", "whole numbers"),
            ("P1,5Y", "whole numbers"),
            ("P90", "without a unit"),
            ("PD", "no number"),
            ("P1D1Y", "out of order"),
            ("P1H", "not a unit here"),
            ("PT1D", "not a unit here"),
            ("P1Y1Y", "out of order"),
            ("p90d", "does not start with P"),
            ("P99999999999D", "too large"),
            ("until-released", "does not start with P"),
        ] {
            let e = Period::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_file_expires_the_moment_its_period_has_passed() {
        let days = Period::parse("P90D").unwrap();
        let modified = at(2026, 1, 1, 3600);
        assert!(
            !days.expired(modified, at(2026, 4, 1, 3600)),
            "exactly 90 days"
        );
        assert!(days.expired(modified, at(2026, 4, 1, 3601)));
        // Calendar months: a month after 31 January is the end of February.
        let month = Period::parse("P1M").unwrap();
        assert!(!month.expired(at(2026, 1, 31, 0), at(2026, 2, 28, 0)));
        assert!(month.expired(at(2026, 1, 31, 0), at(2026, 2, 28, 1)));
        assert!(
            !month.expired(at(2028, 1, 31, 0), at(2028, 2, 29, 0)),
            "leap year"
        );
        let years = Period::parse("P7Y").unwrap();
        assert!(!years.expired(at(2019, 2, 28, 0), at(2026, 2, 28, 0)));
        assert!(years.expired(at(2019, 2, 28, 0), at(2026, 3, 1, 0)));
        // A file modified in the future (a wrong clock) is not expired.
        assert!(!days.expired(at(2100, 1, 1, 0), at(2026, 1, 1, 0)));
        assert!(days.expired(at(1960, 1, 1, 0), at(2026, 1, 1, 0)));
    }

    #[test]
    fn dates_are_checked_against_the_calendar() {
        for good in ["2026-11-30", "2028-02-29", "1999-12-31"] {
            check_date(good).unwrap();
        }
        for bad in [
            "2026-11-31",
            "2026-02-29",
            "2026-13-01",
            "2026-1-30",
            "26-11-30",
            "2026/11/30",
            "2026-11-30T00:00",
            "",
        ] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
    }
}
