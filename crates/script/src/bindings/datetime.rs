//! Rex's `DateTime`: a date and time of day in UTC, to the nanosecond, with RFC 3339 and
//! RFC 2822 text forms. Pure calendar arithmetic: nothing here touches the host (the clock
//! read by `now()` is the only input from outside, and it asks nothing of the gate).
//!
//! A `DateTime` is valid from the moment it exists: the constructor checks every field, so
//! comparing, subtracting or printing one cannot fail later (in Rex an out-of-range field
//! is accepted, and fails, or panics, when it is first used).

use std::cmp::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

/// Years a `DateTime` can hold: what fits RFC 3339's four digits.
const YEARS: std::ops::RangeInclusive<i64> = 0..=9999;

const MONTHS: [(&str, &str); 12] = [
    ("January", "Jan"),
    ("February", "Feb"),
    ("March", "Mar"),
    ("April", "Apr"),
    ("May", "May"),
    ("June", "Jun"),
    ("July", "Jul"),
    ("August", "Aug"),
    ("September", "Sep"),
    ("October", "Oct"),
    ("November", "Nov"),
    ("December", "Dec"),
];

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Why a date could not be made, parsed or printed: Rex's `CommonUtilsErrorKind` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DateError {
    InvalidArguments(String),
    ParseError(String),
    FormatError(String),
}

impl DateError {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            DateError::InvalidArguments(_) => "InvalidArguments",
            DateError::ParseError(_) => "ParseError",
            DateError::FormatError(_) => "FormatError",
        }
    }

    pub(crate) fn message(&self) -> &str {
        match self {
            DateError::InvalidArguments(m)
            | DateError::ParseError(m)
            | DateError::FormatError(m) => m,
        }
    }
}

/// The text forms `to_string(format)` and `parse_datetime` know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Rfc3339,
    Rfc2822,
}

/// A moment in UTC, by its calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DateTime {
    pub(crate) year: i64,
    pub(crate) month: i64,
    pub(crate) day: i64,
    pub(crate) hour: i64,
    pub(crate) minute: i64,
    pub(crate) second: i64,
    pub(crate) nanosecond: i64,
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the era-based method of H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn out_of_range(what: &str, value: i64, range: &str) -> DateError {
    DateError::InvalidArguments(format!(
        "Invalid time component: {what} {value} is not in range ({range})"
    ))
}

impl DateTime {
    /// A date from its fields, each checked: month 1-12, a day of that month, hour 0-23,
    /// minute and second 0-59, nanosecond below one second, year 0-9999.
    pub(crate) fn new(
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
        nanosecond: i64,
    ) -> Result<DateTime, DateError> {
        let check = |what: &str, v: i64, lo: i64, hi: i64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(out_of_range(what, v, &format!("{lo}-{hi}")))
            }
        };
        check("year", year, *YEARS.start(), *YEARS.end())?;
        check("month", month, 1, 12)?;
        check("day", day, 1, days_in_month(year, month))?;
        check("hour", hour, 0, 23)?;
        check("minute", minute, 0, 59)?;
        check("second", second, 0, 59)?;
        check("nanosecond", nanosecond, 0, 999_999_999)?;
        Ok(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanosecond,
        })
    }

    /// The moment `seconds` after the epoch plus `nanos` (0 to 999,999,999).
    pub(crate) fn from_epoch(seconds: i64, nanos: i64) -> Result<DateTime, DateError> {
        if !(0..=999_999_999).contains(&nanos) {
            return Err(DateError::InvalidArguments(format!(
                "Invalid nanos portion: {nanos}. Must be 0-999,999,999"
            )));
        }
        let days = seconds.div_euclid(86_400);
        let rest = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        if !YEARS.contains(&year) {
            return Err(DateError::InvalidArguments(format!(
                "Invalid time component: timestamp {seconds} is not in range (years 0-9999)"
            )));
        }
        Ok(DateTime {
            year,
            month,
            day,
            hour: rest / 3600,
            minute: rest % 3600 / 60,
            second: rest % 60,
            nanosecond: nanos,
        })
    }

    /// Now, to the second (`nanos` false) or to the nanosecond.
    pub(crate) fn now(nanos: bool) -> Result<DateTime, DateError> {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| DateError::InvalidArguments(format!("the clock is before 1970: {e}")))?;
        let seconds = i64::try_from(since.as_secs())
            .map_err(|_| DateError::InvalidArguments("the clock is out of range".into()))?;
        let n = if nanos {
            i64::from(since.subsec_nanos())
        } else {
            0
        };
        DateTime::from_epoch(seconds, n)
    }

    pub(crate) fn epoch_seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + self.hour * 3600
            + self.minute * 60
            + self.second
    }

    /// `seconds` later (earlier when negative), the nanoseconds kept.
    pub(crate) fn plus_seconds(&self, seconds: i64) -> Result<DateTime, DateError> {
        let moved = self.epoch_seconds().checked_add(seconds).ok_or_else(|| {
            DateError::InvalidArguments(format!("{seconds} seconds is out of range"))
        })?;
        DateTime::from_epoch(moved, self.nanosecond)
    }

    pub(crate) fn month_name(&self) -> (&'static str, &'static str) {
        // Cannot fail: month is 1-12 by construction.
        MONTHS[(self.month - 1) as usize]
    }

    fn weekday(&self) -> &'static str {
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let days = days_from_civil(self.year, self.month, self.day);
        WEEKDAYS[(days + 3).rem_euclid(7) as usize]
    }

    /// `2024-02-29T13:05:09.5Z`: the fraction with its trailing zeros dropped, as Rex prints.
    pub(crate) fn rfc3339(&self) -> String {
        let mut fraction = String::new();
        if self.nanosecond != 0 {
            fraction = format!(".{:09}", self.nanosecond);
            while fraction.ends_with('0') {
                fraction.pop();
            }
        }
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    pub(crate) fn format(&self, format: Format) -> Result<String, DateError> {
        match format {
            Format::Rfc3339 => Ok(self.rfc3339()),
            // RFC 2822 dates are from 1900 on.
            Format::Rfc2822 if self.year < 1900 => Err(DateError::FormatError(format!(
                "Failed to format datetime as RFC2822: the year {} is before 1900",
                self.year
            ))),
            Format::Rfc2822 => Ok(format!(
                "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
                self.weekday(),
                self.day,
                self.month_name().1,
                self.year,
                self.hour,
                self.minute,
                self.second
            )),
        }
    }

    /// Parses `text` in `format`. A time with an offset is converted to UTC, so the fields
    /// and the epoch seconds name the same moment as the text.
    pub(crate) fn parse(text: &str, format: Format) -> Result<DateTime, DateError> {
        let (name, parsed) = match format {
            Format::Rfc3339 => ("RFC3339", parse_rfc3339(text)),
            Format::Rfc2822 => ("RFC2822", parse_rfc2822(text)),
        };
        let (fields, offset_seconds) = parsed.ok_or_else(|| {
            DateError::ParseError(format!(
                "Failed to parse {name} datetime from '{text}': not of the form {}",
                match format {
                    Format::Rfc3339 => "2024-02-29T13:05:09Z (or with .fraction and +hh:mm)",
                    Format::Rfc2822 => "Thu, 29 Feb 2024 13:05:09 +0000",
                }
            ))
        })?;
        let [y, mo, d, h, mi, s, ns] = fields;
        let local = DateTime::new(y, mo, d, h, mi, s, ns).map_err(|e| {
            DateError::ParseError(format!(
                "Failed to parse {name} datetime from '{text}': {}",
                e.message()
            ))
        })?;
        local.plus_seconds(-offset_seconds)
    }
}

impl PartialOrd for DateTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DateTime {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.epoch_seconds(), self.nanosecond).cmp(&(other.epoch_seconds(), other.nanosecond))
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// A run of exactly `n` ASCII digits at the start of `s`, and the rest.
fn digits(s: &str, n: usize) -> Option<(i64, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

fn expect<'a>(s: &'a str, c: &[char]) -> Option<&'a str> {
    let first = s.chars().next()?;
    c.contains(&first).then(|| &s[first.len_utf8()..])
}

/// `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM)`: the fields and the offset in seconds.
fn parse_rfc3339(s: &str) -> Option<([i64; 7], i64)> {
    let (year, s) = digits(s, 4)?;
    let (month, s) = digits(expect(s, &['-'])?, 2)?;
    let (day, s) = digits(expect(s, &['-'])?, 2)?;
    let (hour, s) = digits(expect(s, &['T', 't', ' '])?, 2)?;
    let (minute, s) = digits(expect(s, &[':'])?, 2)?;
    let (second, mut s) = digits(expect(s, &[':'])?, 2)?;
    let mut nanos = 0;
    if let Some(rest) = expect(s, &['.']) {
        let len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        // Digits past the ninth are below a nanosecond: dropped.
        let kept = &rest[..len.min(9)];
        nanos = kept.parse::<i64>().ok()? * 10_i64.pow(9 - kept.len() as u32);
        s = &rest[len..];
    }
    let offset = match s {
        "Z" | "z" => 0,
        _ => {
            let sign = if s.starts_with('+') {
                1
            } else if s.starts_with('-') {
                -1
            } else {
                return None;
            };
            let (oh, rest) = digits(&s[1..], 2)?;
            let (om, rest) = digits(expect(rest, &[':'])?, 2)?;
            if !rest.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(([year, month, day, hour, minute, second, nanos], offset))
}

/// `[Day, ]D[D] Mon YYYY HH:MM[:SS] zone`, the zone `±HHMM` or one of RFC 2822's obsolete
/// names (UT, GMT, Z, and the US zones): the fields and the offset in seconds.
fn parse_rfc2822(s: &str) -> Option<([i64; 7], i64)> {
    let mut s = s.trim();
    if let Some((day_name, rest)) = s.split_once(',') {
        if !WEEKDAYS.contains(&day_name.trim()) {
            return None;
        }
        s = rest.trim_start();
    }
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [day, month, year, time, zone] = parts.as_slice() else {
        return None;
    };
    if day.is_empty() || day.len() > 2 || !day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let day: i64 = day.parse().ok()?;
    let month = MONTHS.iter().position(|(_, short)| short == month)? as i64 + 1;
    let (year, rest) = digits(year, 4)?;
    if !rest.is_empty() {
        return None;
    }
    let (hour, rest) = digits(time, 2)?;
    let (minute, rest) = digits(expect(rest, &[':'])?, 2)?;
    let second = match rest {
        "" => 0,
        _ => {
            let (second, rest) = digits(expect(rest, &[':'])?, 2)?;
            if !rest.is_empty() {
                return None;
            }
            second
        }
    };
    let offset = match *zone {
        "UT" | "GMT" | "Z" => 0,
        "EDT" => -4 * 3600,
        "EST" | "CDT" => -5 * 3600,
        "CST" | "MDT" => -6 * 3600,
        "MST" | "PDT" => -7 * 3600,
        "PST" => -8 * 3600,
        z => {
            let sign = match z.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, rest) = digits(&z[1..], 2)?;
            let (om, rest) = digits(rest, 2)?;
            if !rest.is_empty() || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(([year, month, day, hour, minute, second, 0], offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, ns: i64) -> DateTime {
        DateTime::new(y, mo, d, h, mi, s, ns).unwrap()
    }

    #[test]
    fn epoch_seconds_and_back_agree_over_the_whole_range() {
        for seconds in [
            0,
            -1,
            951_782_400,
            1_709_211_909,
            253_402_300_799,
            -62_167_219_200,
        ] {
            let d = DateTime::from_epoch(seconds, 0).unwrap();
            assert_eq!(d.epoch_seconds(), seconds, "{d}");
        }
        assert_eq!(
            dt(2024, 2, 29, 13, 5, 9, 123).epoch_seconds(),
            1_709_211_909
        );
        assert!(DateTime::from_epoch(253_402_300_800, 0).is_err());
        assert!(DateTime::from_epoch(0, 1_000_000_000).is_err());
    }

    #[test]
    fn fields_out_of_range_are_refused_when_made() {
        assert!(DateTime::new(2023, 2, 29, 0, 0, 0, 0).is_err());
        assert!(DateTime::new(2024, 13, 1, 0, 0, 0, 0).is_err());
        assert!(DateTime::new(2024, 1, 1, 0, 0, 60, 0).is_err());
        assert!(DateTime::new(2024, 1, 1, 24, 0, 0, 0).is_err());
        assert!(DateTime::new(10_000, 1, 1, 0, 0, 0, 0).is_err());
    }

    #[test]
    fn prints_as_rex_does() {
        let d = dt(2024, 2, 29, 13, 5, 9, 123);
        assert_eq!(d.rfc3339(), "2024-02-29T13:05:09.000000123Z");
        assert_eq!(
            dt(2024, 2, 29, 13, 5, 9, 500_000_000).rfc3339(),
            "2024-02-29T13:05:09.5Z"
        );
        assert_eq!(
            d.format(Format::Rfc2822).unwrap(),
            "Thu, 29 Feb 2024 13:05:09 +0000"
        );
        assert!(dt(1800, 1, 1, 0, 0, 0, 0).format(Format::Rfc2822).is_err());
        assert_eq!(d.month_name(), ("February", "Feb"));
    }

    #[test]
    fn parses_both_forms_into_utc() {
        let p = |s, f| DateTime::parse(s, f).unwrap().rfc3339();
        assert_eq!(
            p("2024-02-29T13:05:09.5+02:00", Format::Rfc3339),
            "2024-02-29T11:05:09.5Z"
        );
        assert_eq!(
            p("2024-02-29t13:05:09z", Format::Rfc3339),
            "2024-02-29T13:05:09Z"
        );
        assert_eq!(
            p("2024-02-29 23:30:00-01:00", Format::Rfc3339),
            "2024-03-01T00:30:00Z"
        );
        assert_eq!(
            p("Thu, 29 Feb 2024 13:05:09 +0200", Format::Rfc2822),
            "2024-02-29T11:05:09Z"
        );
        assert_eq!(
            p("29 Feb 2024 13:05 GMT", Format::Rfc2822),
            "2024-02-29T13:05:00Z"
        );
        assert_eq!(
            p("1 Mar 2024 00:00:00 EST", Format::Rfc2822),
            "2024-03-01T05:00:00Z"
        );
        for bad in [
            "bad",
            "2024-02-30T00:00:00Z",
            "2024-02-29T13:05:09",
            "2024-2-29T13:05:09Z",
        ] {
            let e = DateTime::parse(bad, Format::Rfc3339).unwrap_err();
            assert_eq!(e.kind(), "ParseError", "{bad}");
        }
        assert!(DateTime::parse("Xyz, 29 Feb 2024 13:05:09 +0000", Format::Rfc2822).is_err());
    }

    #[test]
    fn order_and_arithmetic_count_nanoseconds_and_keep_them() {
        let a = DateTime::from_epoch(10, 900_000_000).unwrap();
        let b = DateTime::from_epoch(10, 100_000_000).unwrap();
        assert!(b < a);
        let c = a.plus_seconds(86_400).unwrap();
        assert_eq!((c.day, c.nanosecond), (2, 900_000_000));
        assert_eq!(c.epoch_seconds() - a.epoch_seconds(), 86_400);
    }
}
