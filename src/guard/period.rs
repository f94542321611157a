//! Days and months in the box's configured time zone, for the fair-use
//! counters: a day is counted from local midnight to local midnight.
//!
//! The zone is a fixed UTC offset (`guard.utc_offset`, e.g. `+07:00`): the
//! box carries no time zone database. Zones with daylight saving time need
//! the offset changed twice a year (a day then has 23 or 25 hours once).

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The local day number (days since 1970-01-01 local) of `now_ms`.
pub fn day_of(now_ms: i64, offset_minutes: i32) -> i64 {
    (now_ms + offset_minutes as i64 * 60_000).div_euclid(DAY_MS)
}

/// The local month number (`year * 12 + month - 1`) of a local day number.
pub fn month_of_day(day: i64) -> i64 {
    let (y, m, _) = civil_from_days(day);
    y * 12 + (m as i64 - 1)
}

/// Unix ms of the next local midnight after `now_ms` (when the daily count resets).
pub fn next_midnight_ms(now_ms: i64, offset_minutes: i32) -> i64 {
    (day_of(now_ms, offset_minutes) + 1) * DAY_MS - offset_minutes as i64 * 60_000
}

/// `(year, month 1-12, day 1-31)` of a day number (days since 1970-01-01),
/// Howard Hinnant's civil-from-days algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses `+HH:MM` / `-HH:MM` (or `Z`) into minutes east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    if s == "Z" || s == "UTC" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 || (h == 14 && m > 0) {
        return None;
    }
    Some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-05-08T10:00:00Z.
    const T: i64 = 1_778_234_400_000;

    #[test]
    fn days_turn_at_local_midnight() {
        // 10:00Z is 17:00 in +07:00: the same day; in -11:00 it is 23:00 the day before.
        assert_eq!(day_of(T, 0), day_of(T, 7 * 60));
        assert_eq!(day_of(T, -11 * 60), day_of(T, 0) - 1);
        // 16:59:59Z is 23:59:59 in +07:00; one second later is the next day.
        let before = T + 6 * 3_600_000 + 59 * 60_000 + 59_000;
        assert_eq!(day_of(before, 420), day_of(T, 420));
        assert_eq!(day_of(before + 1000, 420), day_of(T, 420) + 1);
        assert_eq!(next_midnight_ms(T, 420), before + 1000);
        assert_eq!(next_midnight_ms(T, 0), T + 14 * 3_600_000);
    }

    #[test]
    fn months_follow_the_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(day_of(T, 0)), (2026, 5, 8));
        // 2024-02-29 and 2024-03-01 are in different months.
        let leap = civil_from_days(19_782);
        assert_eq!(leap, (2024, 2, 29));
        assert_eq!(month_of_day(19_782) + 1, month_of_day(19_783));
        assert_eq!(month_of_day(day_of(T, 0)), 2026 * 12 + 4);
    }

    #[test]
    fn offsets_parse_strictly() {
        for (s, want) in [
            ("+00:00", Some(0)),
            ("Z", Some(0)),
            ("+07:00", Some(420)),
            ("-03:30", Some(-210)),
            ("+14:00", Some(840)),
            ("+14:30", None),
            ("07:00", None),
            ("+7:00", None),
            ("+07", None),
            ("", None),
        ] {
            assert_eq!(parse_offset(s), want, "{s}");
        }
    }
}
