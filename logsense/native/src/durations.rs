//! Durations written in log messages (`took 1234ms`, `in 3.2 s`, `elapsed=250 µs`): the first
//! number followed by a unit of time, in seconds. See `logsense/analyze/latency.py`.
//!
//! A number counts when it starts a word (not `v1.5s` or `x2s`) and its unit ends one (not
//! `5 shards`); one space may separate them. Minutes count only spelled out (`min`, `minutes`):
//! a bare `m` is as often metres or a multiplier.
//!
//! A field can carry an event's duration too (ECS `event.duration`, `took_ms`): its key names the
//! unit (`field_unit`), and rows keep it in 16 bits (`pack`).

/// Seconds per unit, longest spellings first so that `ms` is not read as `m` + `s`.
const UNITS: [(&str, f64); 16] = [
    ("milliseconds", 1e-3),
    ("millisecond", 1e-3),
    ("microseconds", 1e-6),
    ("nanoseconds", 1e-9),
    ("seconds", 1.0),
    ("minutes", 60.0),
    ("second", 1.0),
    ("minute", 60.0),
    ("millis", 1e-3),
    ("msec", 1e-3),
    ("secs", 1.0),
    ("sec", 1.0),
    ("min", 60.0),
    ("ms", 1e-3),
    ("µs", 1e-6),
    ("us", 1e-6),
];
/// Units too short to sit in the table above without shadowing longer ones.
const SHORT_UNITS: [(&str, f64); 2] = [("ns", 1e-9), ("s", 1.0)];

/// The first duration in `text`, in seconds.
pub fn duration_in(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        if bytes[at].is_ascii_digit() && starts_word(bytes, start) {
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            if end + 1 < bytes.len() && bytes[end] == b'.' && bytes[end + 1].is_ascii_digit() {
                end += 1;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
            }
            if let Some(seconds) = unit_after(text, end) {
                let value: f64 = text[start..end].parse().ok()?;
                return Some(value * seconds);
            }
            at = end;
            continue;
        }
        at += 1;
    }
    None
}

/// Seconds per unit of a duration field named `key`: the unit its last word names (`took_ms`,
/// `latency.seconds`), else nanoseconds, ECS's unit for `event.duration`.
pub fn field_unit(key: &str) -> f64 {
    let last = key.rsplit(['.', '_', '-']).next().unwrap_or(key);
    unit_named(&last.to_lowercase()).unwrap_or(1e-9)
}

/// Seconds per unit of a unit spelled exactly `name`.
fn unit_named(name: &str) -> Option<f64> {
    UNITS
        .iter()
        .chain(SHORT_UNITS.iter())
        .find(|(unit, _)| *unit == name)
        .map(|&(_, seconds)| seconds)
}

/// Packed durations step by a factor of 10^(1/STEPS_PER_DECADE) (0.05%) from one microsecond.
const STEPS_PER_DECADE: f64 = 5000.0;
const SMALLEST_LOG10: f64 = -6.0;

/// `seconds` in 16 bits, 0 meaning none: a log scale from 1 µs to about 4 months, exact to
/// 0.05%. Rows stay 48 bytes, and latency comparisons need no more precision than that.
pub fn pack(seconds: Option<f64>) -> u16 {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            let step = (s.max(1e-6).log10() - SMALLEST_LOG10) * STEPS_PER_DECADE;
            (step.round() + 1.0).min(f64::from(u16::MAX)) as u16
        }
        _ => 0,
    }
}

/// The seconds a `pack` code stands for (None for 0).
pub fn unpack(code: u16) -> Option<f64> {
    (code != 0).then(|| 10f64.powf(f64::from(code - 1) / STEPS_PER_DECADE + SMALLEST_LOG10))
}

/// True when the number at `index` starts a word: at the start, or after a character that is
/// neither a letter, a digit, `.`, `_` nor `-` followed by a letter (so `-5ms` counts).
fn starts_word(bytes: &[u8], index: usize) -> bool {
    index == 0
        || !(bytes[index - 1].is_ascii_alphanumeric() || matches!(bytes[index - 1], b'.' | b'_'))
}

/// Seconds per unit of the unit that follows a number ending at `end` (one space allowed).
fn unit_after(text: &str, end: usize) -> Option<f64> {
    let rest = text[end..].strip_prefix(' ').unwrap_or(&text[end..]);
    UNITS
        .iter()
        .chain(SHORT_UNITS.iter())
        .find(|(unit, _)| rest.starts_with(unit) && ends_word(&rest[unit.len()..]))
        .map(|&(_, seconds)| seconds)
}

fn ends_word(rest: &str) -> bool {
    rest.chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::{duration_in, field_unit, pack, unpack};

    #[test]
    fn field_keys_name_their_unit_or_are_nanoseconds() {
        assert_eq!(field_unit("event.duration"), 1e-9);
        assert_eq!(field_unit("took_ms"), 1e-3);
        assert_eq!(field_unit("latency.Seconds"), 1.0);
        assert_eq!(field_unit("elapsed-us"), 1e-6);
        assert_eq!(field_unit("response_time"), 1e-9);
    }

    #[test]
    fn packed_durations_keep_their_value_within_a_twentieth_of_a_percent() {
        for seconds in [1e-6, 0.000_25, 0.012, 1.234, 30.0, 3600.0, 1e6] {
            let back = unpack(pack(Some(seconds))).unwrap();
            assert!((back / seconds - 1.0).abs() < 5e-4, "{seconds} -> {back}");
        }
        assert_eq!(unpack(pack(None)), None);
        assert_eq!(unpack(pack(Some(-1.0))), None);
        assert_eq!(unpack(pack(Some(f64::NAN))), None);
        assert_eq!(unpack(pack(Some(0.0))), Some(1e-6));
        assert!(unpack(pack(Some(1e12))).unwrap() > 1e7); // capped, not wrapped
    }

    #[test]
    fn reads_the_first_duration_with_its_unit() {
        let cases: [(&str, Option<f64>); 14] = [
            ("request took 1234ms", Some(1.234)),
            ("done in 3.5 s", Some(3.5)),
            ("elapsed=250µs", Some(0.000_25)),
            ("elapsed=250us total", Some(0.000_25)),
            ("query (12 milliseconds)", Some(0.012)),
            ("backoff 2 minutes", Some(120.0)),
            ("slow: 17 secs, then 3ms", Some(17.0)),
            ("timeout after 30s", Some(30.0)),
            ("5 shards, 3 replicas", None),
            ("version v1.5s", None),
            ("moved 12 m north", None),
            ("id x2s done", None),
            ("took 400 ns", Some(0.000_000_4)),
            ("no numbers here", None),
        ];
        for (text, expected) in cases {
            let found = duration_in(text);
            match (found, expected) {
                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "{text}: {a} != {b}"),
                (a, b) => assert_eq!(a, b, "{text}"),
            }
        }
    }
}
