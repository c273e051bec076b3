//! ISO 8601 timestamps in the one common shape, read exactly as Python 3.11 reads them.
//!
//! The reference is `parse_timestamp` in `logsense/sources/records.py`:
//! `datetime.fromisoformat(raw.strip().replace(",", ".")).timestamp()`, naive meaning UTC.
//! Only `YYYY-MM-DD[T ]HH:MM:SS[(.|,)fraction][Z|±HH:MM|±HHMM]` with in-range fields is read
//! here; anything else is left to Python (None), which also decides what is invalid.

/// Largest magnitude of microseconds that an f64 holds exactly: below it, `us as f64 / 1e6` is
/// the correctly rounded quotient Python's `int / int` gives.
const EXACT_MICROS: i64 = 1 << 53;

/// Epoch seconds of `text` exactly as Python computes them, or None when the text is not in the
/// shape this parser is sure about (Python decides then).
pub fn parse_iso(text: &[u8]) -> Option<f64> {
    let micros = iso_micros(text)?;
    (micros.abs() < EXACT_MICROS).then(|| micros as f64 / 1e6)
}

/// Microseconds since the epoch of `text`, or None when it is not in the supported shape.
fn iso_micros(text: &[u8]) -> Option<i64> {
    if text.len() < 19 || text[4] != b'-' || text[7] != b'-' || text[13] != b':' || text[16] != b':'
    {
        return None;
    }
    if !matches!(text[10], b'T' | b' ') {
        return None;
    }
    let year = digits(&text[0..4])?;
    let month = digits(&text[5..7])?;
    let day = digits(&text[8..10])?;
    let hour = digits(&text[11..13])?;
    let minute = digits(&text[14..16])?;
    let second = digits(&text[17..19])?;
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let (fraction, rest) = fraction_micros(&text[19..])?;
    let offset = utc_offset_seconds(rest)?;
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some((seconds - offset) * 1_000_000 + fraction)
}

/// The microseconds of an optional `.digits`/`,digits` fraction (digits past six are dropped,
/// as Python 3.11 does) and the text after it.
fn fraction_micros(text: &[u8]) -> Option<(i64, &[u8])> {
    if !matches!(text.first(), Some(b'.' | b',')) {
        return Some((0, text));
    }
    let run = text[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if run == 0 {
        return None;
    }
    let kept = &text[1..1 + run.min(6)];
    let scale = 10_i64.pow(6 - kept.len() as u32);
    Some((digits(kept)? * scale, &text[1 + run..]))
}

/// Seconds east of UTC of an offset suffix: empty (naive, so UTC), `Z`, `±HH:MM` or `±HHMM`.
fn utc_offset_seconds(text: &[u8]) -> Option<i64> {
    let sign = match text.first() {
        None => return Some(0),
        Some(b'Z') if text.len() == 1 => return Some(0),
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return None,
    };
    let (hours, minutes) = match &text[1..] {
        [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// The number written by ASCII digits, or None if any byte is not a digit.
fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0_i64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_iso;

    #[test]
    fn reads_the_common_shapes() {
        assert_eq!(parse_iso(b"1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_iso(b"2026-08-11T15:40:00.016Z"), Some(1786462800.016));
        assert_eq!(
            parse_iso(b"2026-08-20T03:20:00.185+01:00"),
            Some(1787192400.185)
        );
        assert_eq!(
            parse_iso(b"2026-08-20 04:50:00,185+0230"),
            Some(1787192400.185)
        );
        assert_eq!(
            parse_iso(b"2024-02-29T00:00:00.1234567"),
            Some(1709164800.123456)
        );
    }

    #[test]
    fn leaves_the_rest_to_python() {
        for text in [
            &b"2026-02-30T00:00:00"[..],
            b"2026-08-11",
            b"2026-08-11T15:40",
            b" 2026-08-11T15:40:00",
            b"2026-08-11T15:40:00.",
            b"2026-08-11T15:40:00+05",
            b"2026-08-11T24:00:00",
            b"0000-01-01T00:00:00",
            b"2026-08-11t15:40:00",
        ] {
            assert_eq!(parse_iso(text), None, "{}", String::from_utf8_lossy(text));
        }
    }
}
