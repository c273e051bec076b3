//! The numbers behind a shape's `<*>` slots, per slot and minute (`logsense/analyze/indicators.py`
//! reads them for early warning).
//!
//! A slot is a whitespace token of the masked message that holds `<*>`, known by its index among
//! the masked message's tokens: Drain generalizes a shape token by token, so the index names the
//! same slot in the pattern's template. A message is aligned with its masked text token by token
//! (a unit written apart from its number, `5.2 KB`, is read with it); a message that does not
//! align is not measured.
//!
//! A shape is measured when its first message in the aggregate aligns with it: a slot holding a
//! number there measures a count, a duration (in seconds), a size (in bytes), a percentage, or a
//! ratio `a/b` (its value is `a`; with the percentage, the only kind that says how near it is to
//! its limit); any other slot holds text (an address, a name), of which only the most frequent
//! values are kept. Messages of one shape say the same thing, so the first one tells which slots
//! carry numbers. At most `MAX_SLOTS` slots of a shape are measured, numbers first, in the first
//! `PER_MINUTE` messages of each minute: a minute's level needs no more, and a loud shape costs no
//! more than a quiet one.

use crate::pytext::split;

/// Slots measured per shape: a message rarely carries more numbers worth a trend.
const MAX_SLOTS: usize = 8;
/// Most frequent values kept per slot (space-saving: counts are upper bounds).
const TOP_VALUES: usize = 6;
/// Messages measured per shape and minute (the minute's first ones): enough for its level, and
/// what bounds the cost on a loud shape.
const PER_MINUTE: u32 = 8;
/// Longest text value kept (in bytes, cut at a character boundary): a value is for reading.
const MAX_TEXT: usize = 120;
/// Units written apart from their number (as masking reads them: `5.2 KB`, `1190 bytes`).
const SEPARATE_UNITS: [&str; 18] = [
    "b", "byte", "bytes", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "ns", "us", "µs",
    "ms", "s", "sec", "secs",
];

/// What a slot's numbers measure.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unit {
    Count,
    Seconds,
    Bytes,
    Percent,
    Ratio,
    /// Not a number: only the slot's most frequent values are kept.
    Text,
}

impl Unit {
    /// The name Python sees.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Seconds => "seconds",
            Unit::Bytes => "bytes",
            Unit::Percent => "percent",
            Unit::Ratio => "ratio",
            Unit::Text => "text",
        }
    }
}

/// Scale of a unit suffix: (unit, factor to seconds or bytes).
fn unit_of(suffix: &str) -> Option<(Unit, f64)> {
    // Units are short: lower-cased on the stack, since this runs for every measured value.
    let mut buffer = [0u8; 8];
    if suffix.len() > buffer.len() {
        return None;
    }
    let lower = &mut buffer[..suffix.len()];
    lower.copy_from_slice(suffix.as_bytes());
    lower.make_ascii_lowercase();
    let lower = std::str::from_utf8(lower).ok()?;
    let scale = match lower {
        "" => return Some((Unit::Count, 1.0)),
        "%" => return Some((Unit::Percent, 1.0)),
        "ns" => (Unit::Seconds, 1e-9),
        "us" | "µs" => (Unit::Seconds, 1e-6),
        "ms" => (Unit::Seconds, 1e-3),
        "s" | "sec" | "secs" => (Unit::Seconds, 1.0),
        "m" | "min" | "mins" => (Unit::Seconds, 60.0),
        "h" | "hr" | "hrs" => (Unit::Seconds, 3600.0),
        "d" => (Unit::Seconds, 86400.0),
        "b" | "byte" | "bytes" => (Unit::Bytes, 1.0),
        "kb" => (Unit::Bytes, 1e3),
        "mb" => (Unit::Bytes, 1e6),
        "gb" => (Unit::Bytes, 1e9),
        "tb" => (Unit::Bytes, 1e12),
        "kib" => (Unit::Bytes, 1024.0),
        "mib" => (Unit::Bytes, 1024.0 * 1024.0),
        "gib" => (Unit::Bytes, 1024.0 * 1024.0 * 1024.0),
        "tib" => (Unit::Bytes, 1024.0 * 1024.0 * 1024.0 * 1024.0),
        _ => return None,
    };
    Some(scale)
}

/// The length of the number that starts `text` (`-1,234.5`, `1e-5`), 0 if none.
fn number_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut at = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    let digits_from = at;
    while at < bytes.len() {
        let b = bytes[at];
        let separator =
            matches!(b, b',' | b'_') && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
        if b.is_ascii_digit() || (separator && at > digits_from) {
            at += 1;
        } else {
            break;
        }
    }
    if at == digits_from {
        return 0;
    }
    if bytes.get(at) == Some(&b'.') && bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
        at += 1;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        let mut end = at + 1 + usize::from(matches!(bytes.get(at + 1), Some(b'-' | b'+')));
        if bytes.get(end).is_some_and(u8::is_ascii_digit) {
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            at = end;
        }
    }
    at
}

fn plain_number(text: &str) -> Option<f64> {
    if text.contains([',', '_']) {
        text.replace([',', '_'], "").parse().ok()
    } else {
        text.parse().ok()
    }
}

/// One measured value: the number (in seconds or bytes for those units), its fraction of the
/// limit the message shows (percentages, ratios), and its unit.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Reading {
    pub value: f64,
    pub fraction: Option<f64>,
    pub unit: Unit,
}

/// The number a slot's text holds (`unit` a unit written apart from it), if it is one.
pub fn reading(text: &str, unit: Option<&str>) -> Option<Reading> {
    let text = text.trim_start_matches(['<', '>', '~']);
    if let Some((used, limit)) = text.split_once('/') {
        let (used, limit) = (plain_number(used)?, plain_number(limit)?);
        let fraction = (limit > 0.0).then_some(used / limit)?;
        let finite = used.is_finite() && fraction.is_finite();
        return finite.then_some(Reading {
            value: used,
            fraction: Some(fraction),
            unit: Unit::Ratio,
        });
    }
    let len = number_len(text);
    if len == 0 {
        return None;
    }
    let number = plain_number(&text[..len])?;
    let suffix = &text[len..];
    let (unit, scale) = match (suffix, unit) {
        ("", Some(apart)) => unit_of(apart)?,
        (suffix, _) => unit_of(suffix)?,
    };
    let value = number * scale;
    value.is_finite().then_some(Reading {
        value,
        fraction: (unit == Unit::Percent).then_some(value / 100.0),
        unit,
    })
}

/// A token of a masked message: its text, and for a slot the literal text around `<*>`.
struct Token {
    text: Box<str>,
    /// (prefix length, suffix length) around the slot's value, for tokens holding `<*>`.
    around: Option<(usize, usize)>,
}

/// The slot values of `text` by masked token index, with the unit written apart, or None when
/// `text` does not align with `tokens`. `out` is cleared first.
fn align<'t>(
    tokens: &[Token],
    text: &'t str,
    out: &mut Vec<(u32, &'t str, Option<&'t str>)>,
) -> bool {
    out.clear();
    // Python's whitespace is wider than ASCII's, but an ASCII message is split the same way
    // (but for rare control characters, which only cost the message its measurement).
    if text.is_ascii() {
        align_words(tokens, text.split_ascii_whitespace(), out)
    } else {
        align_words(tokens, split(text), out)
    }
}

fn align_words<'t>(
    tokens: &[Token],
    words: impl Iterator<Item = &'t str>,
    out: &mut Vec<(u32, &'t str, Option<&'t str>)>,
) -> bool {
    let mut words = words.peekable();
    for (index, token) in tokens.iter().enumerate() {
        let Some(word) = words.next() else {
            return false;
        };
        let Some((prefix, suffix)) = token.around else {
            if word != &*token.text {
                return false;
            }
            continue;
        };
        let fits = word.len() >= prefix + suffix
            && word.is_char_boundary(prefix)
            && word.is_char_boundary(word.len() - suffix)
            && word.as_bytes()[..prefix] == token.text.as_bytes()[..prefix]
            && word.as_bytes()[word.len() - suffix..]
                == token.text.as_bytes()[token.text.len() - suffix..];
        if !fits {
            return false;
        }
        let value = &word[prefix..word.len() - suffix];
        let next_token = tokens.get(index + 1).map(|t| &*t.text);
        let unit = match words.peek() {
            Some(&next)
                if next_token != Some(next)
                    && SEPARATE_UNITS
                        .iter()
                        .any(|u| next.eq_ignore_ascii_case(u) || next == *u) =>
            {
                words.next()
            }
            _ => None,
        };
        out.push((index as u32, value, unit));
    }
    true
}

/// One minute of one slot's values.
#[derive(Clone, Copy, Debug)]
pub struct MinuteStats {
    pub minute: i64,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The largest fraction of its limit (percentages and ratios), NaN for other units.
    pub fraction: f64,
}

/// A slot's most frequent values as (value, count, overcount), by count then value:
/// space-saving, so a value's true count is between `count - overcount` and `count`.
pub enum TopValues {
    Numbers(Vec<(f64, u64, u64)>),
    Texts(Vec<(Box<str>, u64, u64)>),
}

/// A measured slot's minutes and most frequent values (a text slot's minutes count its
/// messages; their sum, min and max are 0).
pub struct SlotOut {
    pub token: u32,
    pub unit: Unit,
    pub minutes: Vec<MinuteStats>,
    pub top: TopValues,
}

/// Count one more `value` in a space-saving sketch of `TOP_VALUES` entries; `make` gives the
/// value to keep when it is not there yet.
fn offer<T>(top: &mut Vec<(T, u64, u64)>, is: impl Fn(&T) -> bool, make: impl FnOnce() -> T) {
    if let Some(entry) = top.iter_mut().find(|(v, _, _)| is(v)) {
        entry.1 += 1;
    } else if top.len() < TOP_VALUES {
        top.push((make(), 1, 0));
    } else if let Some(least) = top.iter_mut().min_by_key(|(_, count, _)| *count) {
        *least = (make(), least.1 + 1, least.1);
    }
}

/// `text` cut to at most `MAX_TEXT` bytes at a character boundary.
fn bounded(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// One slot while aggregating.
struct SlotAcc {
    out: SlotOut,
}

impl SlotAcc {
    fn new(token: u32, unit: Unit) -> Self {
        let top = match unit {
            Unit::Text => TopValues::Texts(Vec::new()),
            _ => TopValues::Numbers(Vec::new()),
        };
        SlotAcc {
            out: SlotOut {
                token,
                unit,
                minutes: Vec::new(),
                top,
            },
        }
    }

    /// Count one message's value of this slot, read from `text` (`unit` written apart).
    fn add(&mut self, minute: i64, text: &str, unit: Option<&str>) {
        if let TopValues::Texts(top) = &mut self.out.top {
            let text = bounded(text);
            offer(top, |v| **v == *text, || text.into());
            self.add_minute(minute, 0.0, f64::NAN);
            return;
        }
        let Some(reading) = reading(text, unit).filter(|r| r.unit == self.out.unit) else {
            return;
        };
        let value = reading.value;
        self.add_minute(minute, value, reading.fraction.unwrap_or(f64::NAN));
        if let TopValues::Numbers(top) = &mut self.out.top {
            offer(top, |v| *v == value, || value);
        }
    }

    fn add_minute(&mut self, minute: i64, value: f64, fraction: f64) {
        let minutes = &mut self.out.minutes;
        // Rows arrive in time order: a minute already seen is almost always the last one.
        let found = match minutes.last() {
            Some(last) if last.minute == minute => Some(minutes.len() - 1),
            Some(last) if last.minute > minute => minutes.iter().position(|m| m.minute == minute),
            _ => None,
        };
        match found {
            Some(at) => {
                let stats = &mut minutes[at];
                stats.count += 1;
                stats.sum += value;
                stats.min = stats.min.min(value);
                stats.max = stats.max.max(value);
                stats.fraction = stats.fraction.max(fraction);
            }
            None => minutes.push(MinuteStats {
                minute,
                count: 1,
                sum: value,
                min: value,
                max: value,
                fraction,
            }),
        }
    }
}

/// The measured slots of one shape while aggregating.
pub struct ShapeSlots {
    /// The masked tokens up to the last measured slot's, and the one after it (a unit's place).
    tokens: Vec<Token>,
    slots: Vec<SlotAcc>,
    /// The minute of the last message offered, and how many of its messages were offered.
    minute: (i64, u32),
}

impl ShapeSlots {
    /// The slots of `masked`, those that hold a number in `first` (its first message) before
    /// those that hold text, or None when it has none (or the message does not align).
    pub fn plan(masked: &str, first: &str) -> Option<Self> {
        if !masked.contains("<*>") {
            return None;
        }
        let tokens: Vec<Token> = split(masked)
            .map(|word| Token {
                text: word.into(),
                around: word.find("<*>").map(|start| {
                    let end = word.rfind("<*>").unwrap_or(start) + 3;
                    (start, word.len() - end)
                }),
            })
            .collect();
        let mut values = Vec::new();
        if !align(&tokens, first, &mut values) {
            return None;
        }
        let unit_of = |&(token, text, unit): &(u32, &str, Option<&str>)| {
            (token, reading(text, unit).map_or(Unit::Text, |r| r.unit))
        };
        let mut chosen: Vec<(u32, Unit)> = values.iter().map(unit_of).collect();
        // Numbers first (a stable sort keeps token order within each kind).
        chosen.sort_by_key(|(_, unit)| *unit == Unit::Text);
        chosen.truncate(MAX_SLOTS);
        chosen.sort_by_key(|(token, _)| *token);
        let mut slots: Vec<SlotAcc> = chosen
            .into_iter()
            .map(|(token, unit)| SlotAcc::new(token, unit))
            .collect();
        let last = slots.last()?.out.token as usize;
        let mut tokens = tokens;
        tokens.truncate(last + 2);
        slots.shrink_to_fit();
        Some(Self {
            tokens,
            slots,
            minute: (i64::MIN, 0),
        })
    }

    /// Whether the next message, logged in `minute`, is measured (only the first `PER_MINUTE`
    /// of a minute, in time order, are): the caller then hands its text to `add`.
    pub fn take(&mut self, minute: i64) -> bool {
        if self.minute.0 == minute {
            if self.minute.1 >= PER_MINUTE {
                return false;
            }
            self.minute.1 += 1;
        } else {
            self.minute = (minute, 1);
        }
        true
    }

    /// Add the numbers of one message that `take` measures, logged in `minute`, to its slots;
    /// `scratch` is reused between calls.
    pub fn add<'t>(
        &mut self,
        text: &'t str,
        minute: i64,
        scratch: &mut Vec<(u32, &'t str, Option<&'t str>)>,
    ) {
        if !align(&self.tokens, text, scratch) {
            return;
        }
        let mut values = scratch.iter();
        for slot in &mut self.slots {
            let Some(&(_, value, unit)) = values.find(|v| v.0 == slot.out.token) else {
                return;
            };
            slot.add(minute, value, unit);
        }
    }

    /// The measured slots, each with its most frequent values first.
    pub fn finish(self) -> Vec<SlotOut> {
        self.slots
            .into_iter()
            .map(|acc| {
                let mut out = acc.out;
                match &mut out.top {
                    TopValues::Numbers(top) => {
                        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)))
                    }
                    TopValues::Texts(top) => top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0))),
                }
                out
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offer one message, as aggregation does.
    fn offer_message<'t>(
        slots: &mut ShapeSlots,
        text: &'t str,
        minute: i64,
        scratch: &mut Vec<(u32, &'t str, Option<&'t str>)>,
    ) {
        if slots.take(minute) {
            slots.add(text, minute, scratch);
        }
    }

    fn read(text: &str) -> Option<(f64, Option<f64>, Unit)> {
        reading(text, None).map(|r| (r.value, r.fraction, r.unit))
    }

    #[test]
    fn reads_counts_durations_sizes_percentages_and_ratios() {
        assert_eq!(read("118"), Some((118.0, None, Unit::Count)));
        assert_eq!(read("-1,234.5"), Some((-1234.5, None, Unit::Count)));
        assert_eq!(read("2350ms"), Some((2.35, None, Unit::Seconds)));
        assert_eq!(read("91%"), Some((91.0, Some(0.91), Unit::Percent)));
        assert_eq!(read("32/32"), Some((32.0, Some(1.0), Unit::Ratio)));
        assert_eq!(read("4KiB"), Some((4096.0, None, Unit::Bytes)));
        assert_eq!(reading("5", Some("KB")).map(|r| r.value), Some(5000.0));
        for text in ["0x1f", "abc", "12ab", "1/0", "3x", "1.2.3"] {
            assert_eq!(read(text), None, "{text}");
        }
    }

    #[test]
    fn measures_the_slots_of_aligned_messages() {
        let masked = "pool exhausted (<*> in use, <*> waiting) after <*>";
        let first = "pool exhausted (3/32 in use, 0 waiting) after 5.2 KB";
        let mut slots = ShapeSlots::plan(masked, first).expect("numbers");
        let mut scratch = Vec::new();
        offer_message(&mut slots, first, 7, &mut scratch);
        offer_message(
            &mut slots,
            "pool exhausted (32/32 in use, 118 waiting) after 1 KB",
            8,
            &mut scratch,
        );
        offer_message(
            &mut slots,
            "pool exhausted (32/32 in use, oops waiting) after 1 KB",
            8,
            &mut scratch,
        );
        offer_message(&mut slots, "something else entirely", 8, &mut scratch);
        let out = slots.finish();
        let units: Vec<(u32, Unit)> = out.iter().map(|s| (s.token, s.unit)).collect();
        assert_eq!(
            units,
            [(2, Unit::Ratio), (5, Unit::Count), (8, Unit::Bytes)]
        );
        let waiting = &out[1].minutes;
        assert_eq!((waiting[0].minute, waiting[0].max), (7, 0.0));
        assert_eq!(
            (waiting[1].minute, waiting[1].count, waiting[1].max),
            (8, 1, 118.0)
        );
        assert_eq!(out[0].minutes[1].fraction, 1.0);
        assert_eq!(out[0].minutes[1].count, 2);
        assert!(waiting[0].fraction.is_nan());
        let TopValues::Numbers(top) = &out[0].top else {
            panic!("a ratio slot keeps numbers");
        };
        assert_eq!(top, &[(32.0, 2, 0), (3.0, 1, 0)]);
    }

    #[test]
    fn text_slots_keep_their_most_frequent_values_after_the_numbers() {
        let masked = "connect to <*> failed after <*>";
        let mut slots = ShapeSlots::plan(masked, "connect to db-1:5432 failed after 3s").unwrap();
        let mut scratch = Vec::new();
        let long = format!("connect to {} failed after 1s", "é".repeat(100));
        for (minute, text) in [
            (1, "connect to db-1:5432 failed after 3s"),
            (1, "connect to db-2:5432 failed after 2s"),
            (2, "connect to db-1:5432 failed after 1s"),
            (2, long.as_str()),
        ] {
            offer_message(&mut slots, text, minute, &mut scratch);
        }
        let out = slots.finish();
        assert_eq!((out[0].token, out[0].unit), (2, Unit::Text));
        assert_eq!((out[1].token, out[1].unit), (5, Unit::Seconds));
        let TopValues::Texts(top) = &out[0].top else {
            panic!("a text slot keeps text");
        };
        assert_eq!((&*top[0].0, top[0].1, top[0].2), ("db-1:5432", 2, 0));
        let cut = top.iter().find(|t| t.0.starts_with('é')).unwrap();
        assert_eq!(
            cut.0.len(),
            120,
            "long values are cut at a character boundary"
        );
        let counts: Vec<(i64, u64)> = out[0].minutes.iter().map(|m| (m.minute, m.count)).collect();
        assert_eq!(counts, [(1, 2), (2, 2)]);
    }

    #[test]
    fn numbers_come_first_when_a_shape_has_more_slots_than_are_kept() {
        let words: Vec<String> = (0..MAX_SLOTS).map(|i| format!("w{i}")).collect();
        let masked = format!("{} <*>", ["<*>"; MAX_SLOTS].join(" "));
        let first = format!("{} 42", words.join(" "));
        let out = ShapeSlots::plan(&masked, &first).unwrap().finish();
        assert_eq!(out.len(), MAX_SLOTS);
        assert_eq!(
            out.last().map(|s| (s.token, s.unit)),
            Some((MAX_SLOTS as u32, Unit::Count))
        );
    }

    #[test]
    fn shapes_without_slots_are_not_measured() {
        assert!(ShapeSlots::plan("cache warmed", "cache warmed").is_none());
        assert!(ShapeSlots::plan("took <*>", "something else").is_none());
    }
}
