//! Zip (MS-DOS) timestamps: local time, 2-second resolution, years 1980..=2107.
//! Packing clamps like Python's `zipfile` with `strict_timestamps=False`; unpacking converts
//! back like upstream's `time.mktime(date_time)`.

/// Broken-down local time as zip stores it (seconds not yet halved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZipTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// The earliest time a zip can say, 1980-01-01 00:00:00: also what Python's `ZipInfo` has
/// when it is given none (upstream's symlink entries).
pub const EARLIEST: ZipTime = ZipTime { year: 1980, month: 1, day: 1, hour: 0, minute: 0, second: 0 };

/// Local broken-down time of `unix + offset`, clamped into the zip range.
pub fn to_zip_time(unix: i64, utc_offset: i32) -> ZipTime {
    let local = unix.saturating_add(i64::from(utc_offset));
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if year < 1980 {
        return EARLIEST;
    }
    if year > 2107 {
        return ZipTime { year: 2107, month: 12, day: 31, hour: 23, minute: 59, second: 59 };
    }
    ZipTime {
        year: year as u16,
        month: month as u8,
        day: day as u8,
        hour: (secs / 3600) as u8,
        minute: (secs / 60 % 60) as u8,
        second: (secs % 60) as u8,
    }
}

/// Seconds since the epoch of a zip local time, given the zone's offset from UTC.
pub fn from_zip_time(t: ZipTime, utc_offset: i32) -> i64 {
    let days = days_from_civil(i64::from(t.year), i64::from(t.month), i64::from(t.day));
    days * 86_400 + i64::from(t.hour) * 3600 + i64::from(t.minute) * 60 + i64::from(t.second) - i64::from(utc_offset)
}

/// Local wall-clock seconds of a zip time, read as if it were UTC (to look up the offset).
pub fn naive_seconds(t: ZipTime) -> i64 {
    from_zip_time(t, 0)
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways_and_clamps_like_python() {
        // 2023-11-14 22:13:20 UTC
        let t = to_zip_time(1_700_000_000, 0);
        assert_eq!(t, ZipTime { year: 2023, month: 11, day: 14, hour: 22, minute: 13, second: 20 });
        assert_eq!(from_zip_time(t, 0), 1_700_000_000);
        assert_eq!(to_zip_time(1_700_000_000, 3600).hour, 23);
        assert_eq!(from_zip_time(to_zip_time(1_700_000_000, 3600), 3600), 1_700_000_000);
        assert_eq!(to_zip_time(0, 0).year, 1980);
        assert_eq!(to_zip_time(-5, 0).month, 1);
        let far = to_zip_time(5_000_000_000, 0);
        assert_eq!((far.year, far.second), (2107, 59));
        assert_eq!(to_zip_time(i64::MAX, 0).year, 2107);
    }
}
