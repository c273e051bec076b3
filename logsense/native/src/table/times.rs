//! Times of text logs read by layout, and the missing-year and missing-zone rules, exactly as
//! `logsense/sources/formats/times.py` reads them (the reference; its docstring is the spec).

/// A time without a year may lie this far after its reference (`YEAR_SLACK`).
const YEAR_SLACK: f64 = 86400.0;
const DAYS_IN_MONTH: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// The parts of a time as written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moment {
    pub year: Option<i64>,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub micros: i64,
    pub offset: Option<i64>,
    pub epoch: Option<f64>,
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(year: i64, month: i64) -> i64 {
    if month == 2 && is_leap(year) {
        29
    } else {
        DAYS_IN_MONTH[(month - 1) as usize]
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of days since the epoch (Howard Hinnant's `civil_from_days`).
fn year_of_days(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

/// `_digits`: `low` to `high` ASCII digits at `pos` → (value, position after).
fn digits(text: &[u8], pos: usize, low: usize, high: usize) -> Option<(i64, usize)> {
    let mut end = pos;
    while end < text.len() && end - pos < high && text[end].is_ascii_digit() {
        end += 1;
    }
    if end - pos < low {
        return None;
    }
    let mut value: i64 = 0;
    for &b in &text[pos..end] {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Some((value, end))
}

/// The ASCII letters at `pos`, lowercased, and the position after them.
fn word(text: &[u8], pos: usize) -> (String, usize) {
    let mut end = pos;
    while end < text.len() && text[end].is_ascii_alphabetic() {
        end += 1;
    }
    let lower = String::from_utf8_lossy(&text[pos..end]).to_ascii_lowercase();
    (lower, end)
}

fn month_of(name: &str) -> Option<i64> {
    Some(match name {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    })
}

fn is_day(name: &str) -> bool {
    matches!(
        name,
        "mon"
            | "monday"
            | "tue"
            | "tuesday"
            | "wed"
            | "wednesday"
            | "thu"
            | "thursday"
            | "fri"
            | "friday"
            | "sat"
            | "saturday"
            | "sun"
            | "sunday"
    )
}

/// `_zone`: (offset or None, position after); no zone leaves `pos` as it is.
fn zone(text: &[u8], pos: usize) -> (Option<i64>, usize) {
    let rest = &text[pos.min(text.len())..];
    if rest.starts_with(b"Z") {
        return (Some(0), pos + 1);
    }
    if rest.starts_with(b"UTC") || rest.starts_with(b"GMT") {
        return (Some(0), pos + 3);
    }
    if let Some(&sign) = rest.first() {
        if sign == b'+' || sign == b'-' {
            let sign = if sign == b'+' { 1 } else { -1 };
            let Some((hours, mut end)) = digits(text, pos + 1, 2, 2) else {
                return (None, pos);
            };
            if hours > 23 {
                return (None, pos);
            }
            let mut minutes = 0;
            let after = if text.get(end) == Some(&b':') {
                end + 1
            } else {
                end
            };
            if let Some((found, at)) = digits(text, after, 2, 2) {
                if found > 59 {
                    return (None, pos);
                }
                minutes = found;
                end = at;
            }
            return (Some(sign * (hours * 3600 + minutes * 60)), end);
        }
    }
    let (name, end) = word(text, pos);
    if (3..=5).contains(&name.len()) && text[pos..end].iter().all(u8::is_ascii_uppercase) {
        return (None, end);
    }
    (None, pos)
}

/// `read_time`: the moment `text` writes in `layout`, or None.
pub fn read_time(layout: &str, text: &str) -> Option<Moment> {
    let text = text.as_bytes();
    let layout = layout.as_bytes();
    let (mut year, mut month, mut day) = (None, 1, 1);
    let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0);
    let mut offset = None;
    let mut pm: Option<bool> = None;
    let mut has_date = false;
    let (mut pos, mut i, n) = (0usize, 0usize, layout.len());
    while i < n {
        let c = layout[i];
        if c == b'%' && i + 1 < n {
            let d = layout[i + 1];
            i += 2;
            match d {
                b'Y' | b'y' | b'm' | b'd' | b'H' | b'M' | b'S' => {
                    let (low, high) = match d {
                        b'Y' => (4, 4),
                        b'y' => (2, 2),
                        _ => (1, 2),
                    };
                    let (value, end) = digits(text, pos, low, high)?;
                    pos = end;
                    match d {
                        b'Y' => year = Some(value),
                        b'y' => year = Some(2000 + value),
                        b'm' => {
                            month = value;
                            has_date = true;
                        }
                        b'd' => day = value,
                        b'H' => hour = value,
                        b'M' => minute = value,
                        _ => second = value,
                    }
                }
                b'b' => {
                    let (name, end) = word(text, pos);
                    month = month_of(&name)?;
                    pos = end;
                    has_date = true;
                }
                b'a' => {
                    let (name, end) = word(text, pos);
                    if !is_day(&name) {
                        return None;
                    }
                    pos = end;
                }
                b'p' => {
                    let (name, end) = word(text, pos);
                    pm = Some(match name.as_str() {
                        "am" => false,
                        "pm" => true,
                        _ => return None,
                    });
                    pos = end;
                }
                b'f' => {
                    let (_, end) = digits(text, pos, 1, 64)?;
                    let kept = &text[pos..end.min(pos + 6)];
                    let mut value = 0;
                    for k in 0..6 {
                        value = value * 10 + kept.get(k).map_or(0, |b| i64::from(b - b'0'));
                    }
                    micros = value;
                    pos = end;
                }
                b'L' => {
                    let (value, end) = digits(text, pos, 1, 3)?;
                    micros = value * 1000;
                    pos = end;
                }
                b'z' => {
                    let (found, end) = zone(text, pos);
                    offset = found;
                    pos = end;
                }
                b's' => {
                    let (seconds, end) = digits(text, pos, 9, 12)?;
                    pos = end;
                    let mut fraction = 0;
                    if text.get(pos) == Some(&b'.') {
                        let (_, after) = digits(text, pos + 1, 1, 64)?;
                        let kept = &text[pos + 1..after.min(pos + 7)];
                        for k in 0..6 {
                            fraction =
                                fraction * 10 + kept.get(k).map_or(0, |b| i64::from(b - b'0'));
                        }
                        pos = after;
                    }
                    if pos != text.len() {
                        return None;
                    }
                    return Some(Moment {
                        year: None,
                        month: 1,
                        day: 1,
                        hour: 0,
                        minute: 0,
                        second: 0,
                        micros: 0,
                        offset: Some(0),
                        epoch: Some(seconds as f64 + fraction as f64 / 1e6),
                    });
                }
                _ => return None,
            }
            continue;
        }
        if i + 2 < n && layout[i + 1] == b'%' && matches!(layout[i + 2], b'f' | b'L') {
            i += 1;
            if pos < text.len()
                && matches!(text[pos], b'.' | b',' | b':')
                && text.get(pos + 1).is_some_and(u8::is_ascii_digit)
            {
                pos += 1;
            } else {
                i += 2;
            }
            continue;
        }
        if c == b' ' && i + 2 < n && layout[i + 1] == b'%' && layout[i + 2] == b'z' {
            i += 3;
            let start = pos;
            while pos < text.len() && text[pos] == b' ' {
                pos += 1;
            }
            let (found, end) = zone(text, pos);
            if end == pos {
                pos = start;
            } else {
                offset = found;
                pos = end;
            }
            continue;
        }
        match c {
            b' ' => {
                if text.get(pos) != Some(&b' ') {
                    return None;
                }
                while pos < text.len() && text[pos] == b' ' {
                    pos += 1;
                }
            }
            b'T' => {
                if !matches!(text.get(pos), Some(b'T' | b't' | b' ')) {
                    return None;
                }
                pos += 1;
            }
            _ => {
                if text.get(pos) != Some(&c) {
                    return None;
                }
                pos += 1;
            }
        }
        i += 1;
    }
    if pos != text.len() {
        return None;
    }
    if let Some(pm) = pm {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    if !has_date {
        return None;
    }
    if !((1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 59)
    {
        return None;
    }
    if let Some(year) = year {
        if year < 1 || day > days_in(year, month) {
            return None;
        }
    }
    Some(Moment {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micros,
        offset,
        epoch: None,
    })
}

/// Where zone-less times are (`Zone` in `times.py`): an offset before the first transition,
/// and the (UTC instant, offset before, offset after) transitions.
#[derive(Clone, Default)]
pub struct Zone {
    pub initial: i64,
    transitions: Vec<(i64, i64, i64)>,
    walls: Vec<i64>,
}

impl Zone {
    pub fn new(initial: i64, transitions: Vec<(i64, i64, i64)>) -> Self {
        let walls = transitions.iter().map(|&(t, a, b)| t + a.max(b)).collect();
        Self {
            initial,
            transitions,
            walls,
        }
    }

    /// UTC seconds of `local` wall-clock seconds (fold=0).
    fn to_utc(&self, local: i64) -> i64 {
        if self.transitions.is_empty() {
            return local - self.initial;
        }
        let index = self.walls.partition_point(|&wall| wall <= local);
        let offset = if index == 0 {
            self.initial
        } else {
            self.transitions[index - 1].2
        };
        local - offset
    }
}

/// `resolve`: (UTC seconds, year assumed, zone assumed); NaN when no year fits.
pub fn resolve(moment: &Moment, zone: &Zone, reference: f64) -> (f64, bool, bool) {
    if let Some(epoch) = moment.epoch {
        return (epoch, false, false);
    }
    let clock = moment.hour * 3600 + moment.minute * 60 + moment.second;
    let seconds = |year: i64| -> Option<i64> {
        if moment.day > days_in(year, moment.month) {
            return None;
        }
        let local = days_from_civil(year, moment.month, moment.day) * 86400 + clock;
        Some(match moment.offset {
            Some(offset) => local - offset,
            None => zone.to_utc(local),
        })
    };
    let zone_assumed = moment.offset.is_none();
    let utc = match moment.year {
        Some(year) => match seconds(year) {
            Some(utc) => utc,
            None => return (f64::NAN, false, zone_assumed),
        },
        None => {
            let limit = reference + YEAR_SLACK;
            let top = utc_year(limit) + 1;
            let found = (top - 8..=top)
                .rev()
                .filter_map(seconds)
                .find(|&utc| (utc as f64) <= limit);
            match found {
                Some(utc) => utc,
                None => return (f64::NAN, true, zone_assumed),
            }
        }
    };
    (
        utc as f64 + moment.micros as f64 / 1e6,
        moment.year.is_none(),
        zone_assumed,
    )
}

/// `_utc_year`: the UTC year of `ts` (1970 outside years 1 to 9999).
fn utc_year(ts: f64) -> i64 {
    if !(-62_135_596_800.0 < ts && ts < 253_402_300_799.0) {
        return 1970;
    }
    year_of_days((ts.floor() as i64).div_euclid(86400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_layouts() {
        let m = read_time("%b %d %H:%M:%S.%f", "Jul  1 09:00:55").unwrap();
        assert_eq!((m.year, m.month, m.day, m.second), (None, 7, 1, 55));
        let m = read_time("%Y%m%d-%H:%M:%S:%L", "20171223-22:32:0:95").unwrap();
        assert_eq!((m.second, m.micros), (0, 95_000));
        let m = read_time(
            "%Y-%m-%dT%H:%M:%S.%f %z",
            "2024-01-01T12:00:00.1234567+05:30",
        )
        .unwrap();
        assert_eq!((m.micros, m.offset), (123_456, Some(19800)));
        assert!(read_time("%Y-%m-%dT%H:%M:%S.%f %z", "2026-02-30 00:00:00").is_none());
        let m = read_time("%s", "1077804742").unwrap();
        assert_eq!(m.epoch, Some(1_077_804_742.0));
    }

    #[test]
    fn a_missing_year_is_the_latest_within_a_day() {
        let reference = 1_796_558_400.0; // 2026-12-06T12:00:00Z
        let year = |text: &str| {
            let m = read_time("%b %d %H:%M:%S", text).unwrap();
            let (ts, assumed, _) = resolve(&m, &Zone::default(), reference);
            assert!(assumed);
            utc_year(ts)
        };
        assert_eq!(year("Dec  7 11:00:00"), 2026);
        assert_eq!(year("Dec  8 11:00:00"), 2025);
        assert_eq!(year("Feb 29 10:00:00"), 2024);
    }
}
