//! UTC calendar arithmetic for days and months (no time-zone database needed: everything
//! in flow logs and in the report is UTC).

/// How far two periods that follow each other may share time and still be taken as one
/// before the other, in seconds: a record of the first may end a few minutes into the second
/// (an aggregation window, a delivery across the cut), a period of data may end a little past
/// the hour it was cut at. `compare` says the sides' logs overlap, and `report --previous`
/// leaves a previous period out, only past it.
pub const PERIODS_MAY_SHARE: i64 = 3600;

/// How long after a period's end its flow logs may still be arriving: AWS publishes them to
/// S3 about ten minutes after each aggregation window, on a best-effort basis ("Flow log
/// files", VPC user guide), so an hour is left before a period is taken as delivered.
pub const DELIVERY_SETTLES: i64 = 3600;

/// Where the period ending at `until` ended less than [`DELIVERY_SETTLES`] before `now` (the
/// run's start), or ends after it, that said: records of its last hour may not have been
/// delivered, so its figures may be short of them.
pub fn still_arriving(until: i64, now: i64) -> Option<String> {
    const LATE: &str = "AWS delivers flow logs about ten minutes after their records' window, on a best-effort basis";
    let end = format_instant(until);
    let when = match now.checked_sub(until)? {
        ago if ago >= DELIVERY_SETTLES => return None,
        ago if ago >= 60 => format!("{} minutes", ago / 60),
        ago if ago >= 0 => "less than a minute".to_string(),
        _ => {
            return Some(format!(
                "The period ends at {end}, after this run started: its figures are of the time before the run at most, and {LATE}, so the last hour before the run may be short of records."
            ))
        }
    };
    Some(format!(
        "The period ended at {end}, {when} before this run started: {LATE}, so records of its last hour may not have been read; a run an hour or more after the period's end reads them."
    ))
}

/// Days since 1970-01-01 → (year, month, day). Howard Hinnant's civil-from-days algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days in a month of a year (Gregorian).
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `n` digits exactly, as a number.
fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The last instant a time given to flowcost may name: 9999-12-31T23:59:59Z, as epoch
/// seconds. With the first, 1970-01-01T00:00:00Z (0), it keeps every difference of two
/// instants, and every day and hour count, far from overflow.
pub const LAST_INSTANT: i64 = 253_402_300_799;

/// Whether `t` (epoch seconds) lies between 1970-01-01 and [`LAST_INSTANT`].
pub fn in_range(t: i64) -> bool {
    (0..=LAST_INSTANT).contains(&t)
}

/// Parse `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS][Z]` or epoch seconds into epoch seconds (UTC),
/// from 1970 to 9999. Impossible dates (`2026-02-30`, `2026-09-31`) and short forms
/// (`2026-9-1`) are refused, never rolled into the next month; so are instants outside those
/// years (`--since=-9223372036854775808` made a period of "-0.00 days").
pub fn parse_instant(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return in_range(n).then_some(n);
    }
    let s = s.trim_end_matches('Z');
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y = digits(dp.next()?, 4)? as i64;
    let m = digits(dp.next()?, 2)?;
    let d = digits(dp.next()?, 2)?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let mut tp = t.split(':');
        let h = digits(tp.next()?, 2)? as i64;
        let mi = digits(tp.next()?, 2)? as i64;
        let se = tp.next().map_or(Some(0), |v| digits(v, 2))? as i64;
        if tp.next().is_some() || h > 23 || mi > 59 || se > 59 {
            return None;
        }
        secs += h * 3600 + mi * 60 + se;
    }
    in_range(secs).then_some(secs)
}

/// `YYYY-MM` → [start, end) in epoch seconds.
pub fn month_range(s: &str) -> Option<(i64, i64)> {
    let (y, m) = s.split_once('-')?;
    let y = digits(y, 4)? as i64;
    let m = digits(m, 2)?;
    if !(1..=12).contains(&m) {
        return None;
    }
    let start = days_from_civil(y, m, 1) * 86_400;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    in_range(start).then(|| (start, days_from_civil(ny, nm, 1) * 86_400))
}

/// Epoch seconds → `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_instant(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A period that ended under an hour before the run, or ends after its start, is said to
    /// be perhaps short of its last records; one that ended an hour or more before is not.
    #[test]
    fn a_period_just_ended_may_still_be_arriving() {
        let until = 1_788_220_800; // 2026-09-01T00:00:00Z
        assert_eq!(still_arriving(until, until + DELIVERY_SETTLES), None);
        assert_eq!(still_arriving(until, until + 86_400), None);
        let said = |now: i64| still_arriving(until, now).expect("said");
        assert!(said(until + DELIVERY_SETTLES - 1).starts_with(
            "The period ended at 2026-09-01T00:00:00Z, 59 minutes before this run started:"
        ));
        assert!(said(until + 300).contains(", 5 minutes before this run started:"));
        assert!(said(until + 59).contains("less than a minute before"));
        assert!(said(until).contains("records of its last hour may not have been read"));
        assert!(said(until - 86_400)
            .starts_with("The period ends at 2026-09-01T00:00:00Z, after this run started:"));
        // no overflow at the ends of time
        assert!(still_arriving(i64::MAX, i64::MIN).is_none());
        assert!(still_arriving(i64::MIN, i64::MAX).is_none());
    }

    #[test]
    fn days_read_back_as_they_are_written() {
        for d in [Day(0), Day(20_697), Day(2_932_896), Day::UNDATED] {
            let text = d.to_string();
            assert_eq!(text.parse::<Day>(), Ok(d), "{text}");
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(serde_json::from_str::<Day>(&json).unwrap(), d);
        }
        assert_eq!(Day(20_697).to_string(), "2026-09-01");
        assert_eq!(Day(20_697).start(), Some(1_788_220_800));
        assert_eq!(Day::UNDATED.start(), None);
        assert_eq!(Day::UNDATED, Day(crate::account::NO_DAY));
        for bad in ["2026-9-1", "2026-09-01T00:00:00Z", "1969-12-31", "soon", ""] {
            assert!(bad.parse::<Day>().is_err(), "{bad}");
        }
        // keys sort as their text does
        let mut days = [Day::UNDATED, Day(20_698), Day(20_697)];
        days.sort();
        let text: Vec<String> = days.iter().map(Day::to_string).collect();
        let mut sorted = text.clone();
        sorted.sort();
        assert_eq!(text, sorted);
    }

    #[test]
    fn calendar_round_trips() {
        for z in [-1000, 0, 1, 59, 60, 365, 10_957, 20_000, 20_697, 30_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(parse_instant("2026-09-15"), Some(1_789_430_400));
        assert_eq!(
            parse_instant("2026-09-15T01:02:03Z"),
            Some(1_789_430_400 + 3723)
        );
        assert_eq!(
            month_range("2024-02").map(|(a, b)| (b - a) / 86_400),
            Some(29)
        );
        assert_eq!(
            month_range("2026-12").map(|(a, b)| (b - a) / 86_400),
            Some(31)
        );
        assert_eq!(format_instant(1_789_430_400 + 3723), "2026-09-15T01:02:03Z");
        assert!(parse_instant("2026-13-01").is_none());
        assert!(month_range("2026-00").is_none());
    }

    #[test]
    fn impossible_and_sloppy_dates_are_refused() {
        for bad in [
            "2026-02-30",
            "2026-09-31",
            "2026-02-29",
            "2026-9-1",
            "2026-09-1",
            "26-09-01",
            "2026-09-01T24:00",
            "2026-09-01T12",
            "2026-09-01T12:60",
            "2026-09-01T1:00",
            "2026-09-01T12:00:00:00",
            "2026-09-01x",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
        assert_eq!(parse_instant("2024-02-29"), Some(19_782 * 86_400));
        assert!(parse_instant("2026-09-01T12:30").is_some());
        assert!(month_range("2026-9").is_none());
        assert!(month_range("2026-09").is_some());
    }

    #[test]
    fn instants_outside_1970_to_9999_are_refused() {
        for bad in [
            "-1",
            "-9223372036854775808",
            "9223372036854775807",
            "253402300800",
            "1969-12-31",
            "0000-01-01T00:00",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
        assert_eq!(parse_instant("0"), Some(0));
        assert_eq!(parse_instant("1970-01-01"), Some(0));
        assert_eq!(parse_instant("253402300799"), Some(LAST_INSTANT));
        assert_eq!(parse_instant("9999-12-31T23:59:59Z"), Some(LAST_INSTANT));
        assert_eq!(format_instant(LAST_INSTANT), "9999-12-31T23:59:59Z");
        assert!(month_range("1969-12").is_none());
        assert_eq!(
            month_range("9999-12").map(|(a, b)| (b - a) / 86_400),
            Some(31)
        );
    }
}

/// A UTC day (days since the epoch) or none ([`Day::UNDATED`]), written `YYYY-MM-DD` (or
/// `undated`) in reports: a map keyed by it reads back without parsing dates again, and
/// sorts as its text does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub u32);

impl Day {
    /// Records without a start time.
    pub const UNDATED: Day = Day(u32::MAX);

    /// The first second of the day, if dated.
    pub fn start(self) -> Option<i64> {
        (self != Day::UNDATED).then_some(i64::from(self.0) * 86_400)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == Day::UNDATED {
            return f.write_str("undated");
        }
        let (y, m, d) = civil_from_days(i64::from(self.0));
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl std::str::FromStr for Day {
    type Err = String;
    fn from_str(s: &str) -> Result<Day, String> {
        if s == "undated" {
            return Ok(Day::UNDATED);
        }
        let bad = || format!("`{s}` is not a day (YYYY-MM-DD)");
        let t = parse_instant(s).filter(|t| t.rem_euclid(86_400) == 0 && s.len() == 10);
        let days = t.ok_or_else(bad)?.div_euclid(86_400);
        u32::try_from(days)
            .ok()
            .filter(|d| *d != u32::MAX)
            .map(Day)
            .ok_or_else(bad)
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Day, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
