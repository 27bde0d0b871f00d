//! Instants of `coldspy merge --since` and of a start's `started_at`: RFC
//! 3339 times with `Z` or a numeric offset (`2026-11-25T10:00:00+02:00`), or
//! plain dates (`2026-11-25`, midnight UTC), as microseconds since the Unix
//! epoch, so that times written in different zones compare as instants.

/// Microseconds since 1970-01-01T00:00:00Z of an RFC 3339 time (`T`, `t` or
/// a space between date and time; optional fraction; `Z`, `z` or `±HH:MM`),
/// or of a plain date (`YYYY-MM-DD`, read as midnight UTC). `None` for
/// anything else.
pub fn instant_us(text: &str) -> Option<i64> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let date = bytes.get(..10)?;
    let days = days_from_civil(
        digits(&date[0..4])?,
        digits(&date[5..7])?,
        digits(&date[8..10])?,
    )?;
    if date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    let day_us = days * 86_400_000_000;
    if bytes.len() == 10 {
        return Some(day_us);
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') {
        return None;
    }
    let (time_us, offset_us) = time_of_day(&bytes[11..])?;
    Some(day_us + time_us - offset_us)
}

/// `HH:MM:SS[.fraction]` then the zone: (µs into the day, the zone's offset in µs).
fn time_of_day(bytes: &[u8]) -> Option<(i64, i64)> {
    let clock = bytes.get(..8)?;
    if clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let (hour, minute, second) = (
        digits(&clock[0..2])?,
        digits(&clock[3..5])?,
        digits(&clock[6..8])?,
    );
    // 60 is a leap second, read as the last second of the minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &bytes[8..];
    let mut fraction_us = 0i64;
    if let Some(after) = rest.strip_prefix(b".") {
        let n = after.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Microseconds: the first six digits, the rest truncated.
        for i in 0..6 {
            fraction_us = fraction_us * 10
                + after
                    .get(i)
                    .filter(|_| i < n)
                    .map_or(0, |d| i64::from(d - b'0'));
        }
        rest = &after[n..];
    }
    let seconds = hour * 3600 + minute * 60 + second.min(59);
    Some((seconds * 1_000_000 + fraction_us, offset_us(rest)?))
}

/// `Z`, `z` or `±HH:MM` (the whole remaining text), in µs east of UTC.
fn offset_us(zone: &[u8]) -> Option<i64> {
    match zone {
        b"Z" | b"z" => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (hours, minutes) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let us = (hours * 60 + minutes) * 60_000_000;
            Some(if *sign == b'-' { -us } else { us })
        }
        _ => None,
    }
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`); `None` for a month or day that does not exist.
fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = (month + 9) % 12;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// The lower bound of `coldspy merge --since`: the text as given (kept in
/// the merged file) and the instant it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Since {
    /// As given on the command line.
    pub text: String,
    /// Microseconds since the Unix epoch.
    pub instant_us: i64,
}

impl Since {
    /// Parses an RFC 3339 time (with `Z` or an offset) or a plain date
    /// (midnight UTC); the error is one sentence for the user.
    pub fn parse(text: &str) -> Result<Self, String> {
        match instant_us(text) {
            Some(instant_us) => Ok(Self {
                text: text.to_string(),
                instant_us,
            }),
            None => Err(format!(
                "{text:?} is not a date (2026-11-25, midnight UTC) or an RFC 3339 time \
                 (2026-11-25T10:00:00Z, 2026-11-25T10:00:00+02:00)"
            )),
        }
    }

    /// Whether a start at `started_at` is kept: it is at or after the bound.
    /// A start whose time cannot be read is left out (it cannot be shown to
    /// be recent).
    pub fn keeps(&self, started_at: &str) -> bool {
        instant_us(started_at).is_some_and(|t| t >= self.instant_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_in_any_zone_are_instants() {
        assert_eq!(instant_us("1970-01-01"), Some(0));
        assert_eq!(instant_us("1970-01-02T00:00:00Z"), Some(86_400_000_000));
        // The same instant written in three zones.
        let utc = instant_us("2026-11-25T08:00:00Z").unwrap();
        assert_eq!(instant_us("2026-11-25T10:00:00+02:00"), Some(utc));
        assert_eq!(instant_us("2026-11-24T23:30:00-08:30"), Some(utc));
        assert_eq!(instant_us("2026-11-25 08:00:00z"), Some(utc));
        // 2026-11-25 is day 20,782 since the epoch (date -d 2026-11-25 +%s / 86400).
        assert_eq!(instant_us("2026-11-25"), Some(20_782 * 86_400_000_000));
        assert_eq!(
            instant_us("2024-02-29T00:00:00.5Z"),
            Some(instant_us("2024-02-29").unwrap() + 500_000)
        );
        assert_eq!(
            instant_us("2026-11-25T08:00:00.1234567Z"),
            Some(utc + 123_456)
        );
        for bad in [
            "yesterday",
            "2026-13-01",
            "2025-02-29",
            "2026-11-25T08:00Z",
            "2026-11-25T08:00:00",
            "2026-11-25T08:00:00+2:00",
            "",
        ] {
            assert_eq!(instant_us(bad), None, "{bad}");
        }
    }

    #[test]
    fn since_keeps_starts_at_or_after_the_instant() {
        let since = Since::parse("2026-11-25T10:00:00+02:00").unwrap();
        assert!(since.keeps("2026-11-25T08:00:00Z"));
        assert!(!since.keeps("2026-11-25T07:59:59.999999Z"));
        assert!(since.keeps("2026-11-25T09:00:00+01:00"));
        assert!(!since.keeps("not a time"));
        let day = Since::parse("2026-11-26").unwrap();
        assert!(!day.keeps("2026-11-25T23:59:59Z") && day.keeps("2026-11-26T00:00:00Z"));
        assert!(Since::parse("26/11/2026").unwrap_err().contains("RFC 3339"));
    }
}
