//! From one parsed JSON line to the fields of an event, exactly as `RecordReader.event` builds
//! them (`logsense/sources/records.py`), or a verdict that Python must decide.
//!
//! Field lookup follows `compile_extractor`: per field, candidate keys in order; a key present
//! at top level is read literally (`"log.level"` as one key), else a dotted key whose head is
//! present is walked through nested objects; the first value that is neither null nor `""`
//! wins. Whatever is unusual (unknown level names, float ids, odd timestamps) is `HandBack`, so
//! Python's own code decides it and counts it.

use std::borrow::Cow;

use ahash::AHashMap;

use super::isotime::parse_iso;
use super::json_scan::{Doc, Kind, NodeId};
use crate::durations::field_unit;
use crate::pytext::{has_content, rstrip, strip};

/// Normalized level names, by rank: the order of `logsense.model.LEVELS`.
pub const LEVEL_NAMES: [&str; 5] = ["debug", "info", "warn", "error", "fatal"];
/// Level classes that key message shapes, by index: see `level_class`.
pub const CLASS_NAMES: [&str; 3] = ["info", "warn", "error"];

/// The shape class of a level rank: debug/info → 0 ("info"), warn → 1, error/fatal → 2.
pub fn level_class(level: u8) -> u8 {
    match level {
        0 | 1 => 0,
        2 => 1,
        _ => 2,
    }
}

/// The rank of a normalized level name, or None if it is not one.
pub fn level_rank(name: &str) -> Option<u8> {
    LEVEL_NAMES
        .iter()
        .position(|known| *known == name)
        .map(|rank| rank as u8)
}

/// The fields of an event, in FieldMap order.
#[derive(Clone, Copy)]
enum Field {
    Timestamp = 0,
    Message,
    Level,
    Service,
    RequestId,
    UserId,
    StackTrace,
    Version,
    Host,
    Duration,
    Status,
}
const FIELDS: usize = 11;
/// The position of each `Field`'s candidate list among the FieldMap's lists.
const FIELD_MAP_INDEX: [usize; FIELDS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const FIELD_MAP_LISTS: usize = 11;
/// The rank of "error" in `LEVEL_NAMES`: the least level of an event that answered 5xx.
const ERROR: u8 = 3;

/// One candidate key: its literal top-level slot and, when dotted, the head slot and the path
/// below it.
struct Candidate {
    literal: usize,
    dig: Option<(usize, Vec<Box<str>>)>,
}

/// The candidate keys of every field, compiled for lookups by top-level key.
pub struct FieldPlan {
    /// Every top-level name a candidate can match (a slot's index is its position).
    names: Vec<Box<str>>,
    fields: [Vec<Candidate>; FIELDS],
    /// Seconds per unit of each duration candidate (`field_unit` of its key).
    duration_units: Vec<f64>,
}

impl FieldPlan {
    /// A plan from the candidate-key lists of the FieldMap's fields, in FieldMap order.
    pub fn new(fields: &[Vec<String>]) -> Result<Self, String> {
        if fields.len() != FIELD_MAP_LISTS {
            return Err(format!(
                "fields must list {FIELD_MAP_LISTS} candidate-key lists, got {}",
                fields.len()
            ));
        }
        let mut names: Vec<Box<str>> = Vec::new();
        let mut slot = |name: &str| match names.iter().position(|known| known.as_ref() == name) {
            Some(slot) => slot,
            None => {
                names.push(Box::from(name));
                names.len() - 1
            }
        };
        let compiled = std::array::from_fn(|field| {
            fields[FIELD_MAP_INDEX[field]]
                .iter()
                .map(|key| {
                    let literal = slot(key);
                    let dig = key.contains('.').then(|| {
                        let mut parts = key.split('.');
                        let head = slot(parts.next().unwrap_or_default());
                        (head, parts.map(Box::from).collect())
                    });
                    Candidate { literal, dig }
                })
                .collect()
        });
        let durations = &fields[FIELD_MAP_INDEX[Field::Duration as usize]];
        Ok(Self {
            names,
            fields: compiled,
            duration_units: durations.iter().map(|key| field_unit(key)).collect(),
        })
    }

    fn slot_count(&self) -> usize {
        self.names.len()
    }

    /// The slot of a top-level key, if a candidate can match it. A few dozen short names:
    /// comparing them beats hashing every key of every line.
    fn slot(&self, key: &str) -> Option<usize> {
        self.names
            .iter()
            .position(|name| name.len() == key.len() && name.as_ref() == key)
    }
}

/// Level names as `_LEVEL_NAMES` maps them to ranks.
pub struct Levels {
    names: AHashMap<Box<str>, u8>,
}

impl Levels {
    /// The table from level names to normalized level names.
    pub fn new(names: &[(String, String)]) -> Result<Self, String> {
        let names = names
            .iter()
            .map(|(name, level)| {
                let rank = level_rank(level).ok_or_else(|| format!("unknown level {level:?}"))?;
                Ok((Box::from(name.as_str()), rank))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { names })
    }

    /// The rank of a level string as `RecordReader.level` finds it, or None when Python would
    /// count it as unknown.
    pub fn of_str(&self, raw: &str) -> Option<u8> {
        if let Some(rank) = self.names.get(raw) {
            return Some(*rank);
        }
        let stripped = strip(raw);
        // Python lowercases with Unicode rules; for ASCII text they are ASCII's.
        if !stripped.is_ascii() {
            return None;
        }
        self.names
            .get(stripped.to_ascii_lowercase().as_str())
            .copied()
    }
}

/// Why a record could not become an event (the `SourceStats` reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    InvalidJson = 0,
    NotObject,
    NoTimestamp,
    NoMessage,
    /// A time outside [EARLIEST, LATEST) (`plausible` in `records.py`).
    ImplausibleTime,
    /// A line longer than the cap that is not blank (`MAX_LINE_BYTES`).
    TooLong,
    /// A text line of no known format before any event.
    NoHeader,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Reason::InvalidJson,
        Reason::NotObject,
        Reason::NoTimestamp,
        Reason::NoMessage,
        Reason::ImplausibleTime,
        Reason::TooLong,
        Reason::NoHeader,
    ];

    pub fn text(self) -> &'static str {
        match self {
            Reason::InvalidJson => "invalid JSON",
            Reason::NotObject => "not a JSON object",
            Reason::NoTimestamp => "no timestamp",
            Reason::NoMessage => "no message",
            Reason::ImplausibleTime => "implausible timestamp",
            Reason::TooLong => "line too long",
            Reason::NoHeader => "no header",
        }
    }
}

/// The earliest plausible time of a log line, 2000-01-01T00:00:00Z (`EARLIEST`).
pub const EARLIEST: f64 = 946_684_800.0;
/// The first implausible time after them, 2100-01-01T00:00:00Z (`LATEST`).
pub const LATEST: f64 = 4_102_444_800.0;

/// Whether `ts` can be a log line's time (`plausible` in `records.py`); false for NaN.
pub fn plausible(ts: f64) -> bool {
    (EARLIEST..LATEST).contains(&ts)
}

/// The normalized fields of one event, borrowing from the line where it can.
pub struct Draft<'a> {
    pub ts: f64,
    /// First line of the message, right-stripped.
    pub message: Cow<'a, str>,
    /// The stack trace, if one with content was given.
    pub stack: Option<Cow<'a, str>>,
    pub level: u8,
    /// The stripped service name; None means "unknown" (and is counted).
    pub service: Option<Cow<'a, str>>,
    pub request: Option<Cow<'a, str>>,
    pub user: Option<Cow<'a, str>>,
    /// The event's own duration in seconds, from a duration field.
    pub duration: Option<f64>,
    pub missing_level: bool,
    /// The service's version and host (`Instances`), when not empty.
    pub version: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
}

/// What became of one JSON object.
pub enum Outcome<'a> {
    Event(Draft<'a>),
    Reject(Reason),
    /// Python must decide (its answer would be hard to reproduce exactly here).
    HandBack,
}

/// Reads events from parsed lines; holds the per-line scratch space.
pub struct RecordReader<'c> {
    plan: &'c FieldPlan,
    levels: &'c Levels,
    slots: Vec<Option<NodeId>>,
}

impl<'c> RecordReader<'c> {
    pub fn new(plan: &'c FieldPlan, levels: &'c Levels) -> Self {
        Self {
            plan,
            levels,
            slots: vec![None; plan.slot_count()],
        }
    }

    /// The event of object `root` of `line`, as `RecordReader.event` would build it.
    pub fn event<'a>(&mut self, doc: &Doc, line: &'a str, root: NodeId) -> Outcome<'a> {
        self.slots.fill(None);
        for member in doc.members(line, root) {
            if let Some(slot) = self.plan.slot(&member.text) {
                self.slots[slot] = Some(member.value); // the last duplicate wins, as in a dict
            }
        }
        let field = |field: Field| self.field(doc, line, field);
        let ts = match timestamp(doc, line, field(Field::Timestamp)) {
            Ok(Some(ts)) if plausible(ts) => ts,
            Ok(Some(_)) => return Outcome::Reject(Reason::ImplausibleTime),
            Ok(None) => return Outcome::Reject(Reason::NoTimestamp),
            Err(HandBack) => return Outcome::HandBack,
        };
        let message = match field(Field::Message) {
            Some(node) if doc.node(node).kind == Kind::Str => doc.text(line, node),
            _ => return Outcome::Reject(Reason::NoMessage),
        };
        let stack_field = field(Field::StackTrace)
            .filter(|&node| doc.node(node).kind == Kind::Str)
            .map(|node| doc.text(line, node));
        let (message, stack) = match message.find('\n') {
            Some(at) => {
                let (first, rest) = split_at_newline(message, at);
                (first, Some(stack_field.unwrap_or(rest)))
            }
            None => (message, stack_field),
        };
        let (mut level, mut missing_level) = match self.level(doc, line, field(Field::Level)) {
            Ok(level) => level,
            Err(HandBack) => return Outcome::HandBack,
        };
        if server_error(doc, line, field(Field::Status)) {
            (level, missing_level) = (level.max(ERROR), false);
        }
        let (Ok(request), Ok(user), Ok(version), Ok(host)) = (
            id_text(doc, line, field(Field::RequestId)),
            id_text(doc, line, field(Field::UserId)),
            id_text(doc, line, field(Field::Version)),
            id_text(doc, line, field(Field::Host)),
        ) else {
            return Outcome::HandBack;
        };
        Outcome::Event(Draft {
            ts,
            message: rstripped(message),
            stack: stack.filter(|text| has_content(text)),
            level,
            service: service(doc, line, field(Field::Service)),
            request,
            user,
            duration: self.duration(doc, line),
            missing_level,
            version: version.filter(|text| !text.is_empty()),
            host: host.filter(|text| !text.is_empty()),
        })
    }

    /// The event's duration in seconds: the chosen duration field's value in its key's unit,
    /// when that is a non-negative number.
    fn duration(&self, doc: &Doc, line: &str) -> Option<f64> {
        let (index, node) = self.chosen(doc, line, Field::Duration)?;
        // Python's float() of any int rounds correctly, as parsing its digits does.
        let value = match doc.node(node).kind {
            Kind::Int | Kind::Float => doc.float(line, node),
            _ => return None,
        };
        (value.is_finite() && value >= 0.0).then(|| value * self.plan.duration_units[index])
    }

    /// The value of one field (None for Python's None: absent or JSON null).
    fn field(&self, doc: &Doc, line: &str, field: Field) -> Option<NodeId> {
        self.chosen(doc, line, field).map(|(_, node)| node)
    }

    /// The candidate the compiled Python extractor would take for `field` (its index among the
    /// field's candidates) and its value: the first that is neither null nor an empty string.
    fn chosen(&self, doc: &Doc, line: &str, field: Field) -> Option<(usize, NodeId)> {
        let mut value = None;
        for (index, candidate) in self.plan.fields[field as usize].iter().enumerate() {
            if value.is_some_and(|(_, node)| !doc.is_empty_str(node)) {
                break;
            }
            if let Some(node) = self.slots[candidate.literal] {
                value = not_null(doc, node).map(|node| (index, node));
            } else if let Some((head, path)) = &candidate.dig {
                if let Some(node) = self.slots[*head] {
                    value = dig(doc, line, node, path).map(|node| (index, node));
                }
            }
        }
        value
    }

    /// The level rank and whether it was missing; HandBack for what Python counts as unknown.
    fn level(&self, doc: &Doc, line: &str, value: Option<NodeId>) -> Result<(u8, bool), HandBack> {
        let Some(node) = value else {
            return Ok((1, true));
        };
        let rank = match doc.node(node).kind {
            Kind::Str => self.levels.of_str(&doc.text(line, node)),
            Kind::Int => doc.int(line, node).and_then(|n| pino_level(n as f64)),
            Kind::Float => pino_level(doc.float(line, node)),
            _ => None,
        };
        rank.map(|rank| (rank, false)).ok_or(HandBack)
    }
}

/// Marker: Python must handle this line.
struct HandBack;

/// Whether an HTTP status value is a server error, 5xx (`_server_error`): an integer from 500
/// to 599, or three ASCII digits that begin with 5.
fn server_error(doc: &Doc, line: &str, value: Option<NodeId>) -> bool {
    let Some(node) = value else {
        return false;
    };
    match doc.node(node).kind {
        Kind::Int => doc.int(line, node).is_some_and(|n| (500..600).contains(&n)),
        Kind::Str => {
            let text = doc.text(line, node);
            text.len() == 3 && text.starts_with('5') && text.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// The level of a pino/bunyan number; None for negatives (Python's `normalize_level` raises on
/// them: no bound matches).
fn pino_level(value: f64) -> Option<u8> {
    // An integer converted to f64 keeps its side of these small bounds, so the comparisons
    // agree with Python's exact int/float ones.
    Some(match value {
        v if v >= 60.0 => 4,
        v if v >= 50.0 => 3,
        v if v >= 40.0 => 2,
        v if v >= 30.0 => 1,
        v if v >= 0.0 => 0,
        _ => return None,
    })
}

/// A string of at least this many digits is an epoch time (`_EPOCH_DIGITS`).
const EPOCH_DIGITS: usize = 10;

/// Epoch seconds of an integer time, its unit told by its magnitude (`parse_timestamp`).
fn epoch(raw: i64) -> f64 {
    // Python compares the int exactly (these bounds are exact doubles), then converts it to the
    // nearest double before dividing, as `as f64` does.
    if raw > 100_000_000_000_000_000 {
        raw as f64 / 1e9
    } else if raw > 100_000_000_000_000 {
        raw as f64 / 1e6
    } else if raw > 100_000_000_000 {
        raw as f64 / 1000.0
    } else {
        raw as f64
    }
}

/// `parse_timestamp` of a field: Ok(None) when Python finds no timestamp, Err when only Python
/// can tell. The time may be implausible; the caller checks.
fn timestamp(doc: &Doc, line: &str, value: Option<NodeId>) -> Result<Option<f64>, HandBack> {
    let Some(node) = value else { return Ok(None) };
    match doc.node(node).kind {
        Kind::Str => {
            let text = doc.text(line, node);
            let digits = text.trim_matches(|c: char| c.is_ascii_whitespace());
            if digits.len() >= EPOCH_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()) {
                // journald's `__REALTIME_TIMESTAMP`: Python reads it as the int it spells.
                return digits
                    .parse()
                    .map(|raw| Some(epoch(raw)))
                    .map_err(|_| HandBack);
            }
            parse_iso(text.as_bytes()).map(Some).ok_or(HandBack)
        }
        Kind::Int => Ok(Some(epoch(doc.int(line, node).ok_or(HandBack)?))),
        Kind::Float => {
            let raw = doc.float(line, node);
            Ok(Some(if raw > 1e17 {
                raw / 1e9
            } else if raw > 1e14 {
                raw / 1e6
            } else if raw > 1e11 {
                raw / 1000.0
            } else {
                raw
            }))
        }
        _ => Ok(None),
    }
}

/// A request or user id as `_text` gives it: strings as they are, integers in decimal, None
/// for null, objects and arrays; HandBack for floats and booleans.
fn id_text<'a>(
    doc: &Doc,
    line: &'a str,
    value: Option<NodeId>,
) -> Result<Option<Cow<'a, str>>, HandBack> {
    let Some(node) = value else { return Ok(None) };
    match doc.node(node).kind {
        Kind::Str => Ok(Some(doc.text(line, node))),
        Kind::Int => doc
            .int(line, node)
            .map(|n| Some(Cow::Owned(n.to_string())))
            .ok_or(HandBack),
        Kind::Object | Kind::Array | Kind::Null => Ok(None),
        Kind::Float | Kind::Bool(_) => Err(HandBack),
    }
}

/// The stripped service name, or None when Python would say "unknown".
fn service<'a>(doc: &Doc, line: &'a str, value: Option<NodeId>) -> Option<Cow<'a, str>> {
    let node = value.filter(|&node| doc.node(node).kind == Kind::Str)?;
    let stripped = match doc.text(line, node) {
        Cow::Borrowed(text) => Cow::Borrowed(strip(text)),
        Cow::Owned(text) => Cow::Owned(strip(&text).to_owned()),
    };
    (!stripped.is_empty()).then_some(stripped)
}

fn not_null(doc: &Doc, node: NodeId) -> Option<NodeId> {
    (doc.node(node).kind != Kind::Null).then_some(node)
}

/// `_dig` below the head key's value: None as soon as a step is not an object or lacks the key.
fn dig(doc: &Doc, line: &str, head: NodeId, path: &[Box<str>]) -> Option<NodeId> {
    let mut node = head;
    for part in path {
        if doc.node(node).kind != Kind::Object {
            return None;
        }
        node = doc.get(line, node, part)?;
    }
    not_null(doc, node)
}

/// `text.partition("\n")` without the separator: (before, after).
fn split_at_newline(text: Cow<'_, str>, at: usize) -> (Cow<'_, str>, Cow<'_, str>) {
    match text {
        Cow::Borrowed(text) => (Cow::Borrowed(&text[..at]), Cow::Borrowed(&text[at + 1..])),
        Cow::Owned(text) => (
            Cow::Owned(text[..at].to_owned()),
            Cow::Owned(text[at + 1..].to_owned()),
        ),
    }
}

fn rstripped(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(rstrip(text)),
        Cow::Owned(mut text) => {
            let keep = rstrip(&text).len();
            text.truncate(keep);
            Cow::Owned(text)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// logsense's default field candidates, for tests here and in `store`.
    pub(crate) fn plan() -> FieldPlan {
        let lists: [&[&str]; 11] = [
            &["@timestamp", "timestamp", "time", "ts"],
            &["message", "msg", "log"],
            &["log.level", "level", "severity", "levelname"],
            &["service.name", "service", "app", "logger"],
            &[
                "trace.id",
                "transaction.id",
                "http.request.id",
                "request_id",
            ],
            &["user.id", "user_id", "user.name"],
            &["error.stack_trace", "stack_trace", "exception"],
            &["service.version", "version"],
            &["host.name", "host", "hostname"],
            &["event.duration", "took_ms"],
            &["http.response.status_code", "status"],
        ];
        let lists: Vec<Vec<String>> = lists
            .iter()
            .map(|keys| keys.iter().map(|k| k.to_string()).collect())
            .collect();
        FieldPlan::new(&lists).unwrap()
    }

    fn levels() -> Levels {
        let names = [("info", "info"), ("WARN", "warn"), ("err", "error")];
        Levels::new(&names.map(|(a, b)| (a.to_string(), b.to_string()))).unwrap()
    }

    fn read(line: &str) -> Outcome<'_> {
        let (plan, levels) = (plan(), levels());
        let mut doc = Doc::default();
        let root = doc.parse(line).unwrap();
        RecordReader::new(&plan, &levels).event(&doc, line, root)
    }

    #[test]
    fn reads_nested_and_dotted_fields() {
        let line = r#"{"@timestamp":"","timestamp":1700000000123,"log":{"level":" Info "},"service.name":" api ","trace":{"id":12},"msg":"boom  \nstack","message":null}"#;
        let Outcome::Event(draft) = read(line) else {
            panic!("not an event")
        };
        assert_eq!(draft.ts, 1700000000.123);
        assert_eq!(draft.message, "boom");
        assert_eq!(draft.stack.as_deref(), Some("stack"));
        assert_eq!(draft.level, 1);
        assert_eq!(draft.service.as_deref(), Some("api"));
        assert_eq!(draft.request.as_deref(), Some("12"));
        assert!(draft.user.is_none());
        assert!(draft.duration.is_none());
    }

    #[test]
    fn reads_durations_in_the_unit_their_key_names() {
        let duration = |fields: &str| {
            let line = format!(r#"{{"@timestamp":1700000000,"message":"m"{fields}}}"#);
            match read(&line) {
                Outcome::Event(draft) => draft.duration,
                _ => panic!("not an event: {line}"),
            }
        };
        assert_eq!(duration(r#","event":{"duration":2500000000}"#), Some(2.5));
        assert_eq!(duration(r#","took_ms":120.5"#), Some(0.1205));
        assert_eq!(
            duration(r#","event.duration":null,"took_ms":7"#),
            Some(0.007)
        );
        assert_eq!(duration(r#","event.duration":"7 s","took_ms":7"#), None);
        assert_eq!(duration(r#","took_ms":-3"#), None);
        assert_eq!(duration(""), None);
    }

    #[test]
    fn a_server_error_status_makes_an_event_an_error_at_least() {
        let level = |fields: &str| {
            let line = format!(r#"{{"@timestamp":1700000000,"message":"m"{fields}}}"#);
            match read(&line) {
                Outcome::Event(draft) => (draft.level, draft.missing_level),
                _ => panic!("not an event: {line}"),
            }
        };
        assert_eq!(level(r#","level":"info","status":503"#), (3, false));
        assert_eq!(
            level(r#","http":{"response":{"status_code":"500"}}"#),
            (3, false)
        );
        assert_eq!(level(r#","level":60,"status":500"#), (4, false));
        assert_eq!(level(r#","level":"info","status":404"#), (1, false));
        assert_eq!(level(r#","status":"5xx""#), (1, true));
        assert_eq!(level(r#","status":500.0"#), (1, true));
        assert_eq!(level(r#","status":600"#), (1, true));
        // The first status that has a value is the event's, as for every field.
        assert_eq!(
            level(r#","http.response.status_code":200,"status":503"#),
            (1, true)
        );
    }

    #[test]
    fn rejects_and_hands_back() {
        assert!(matches!(
            read(r#"{"message":"x"}"#),
            Outcome::Reject(Reason::NoTimestamp)
        ));
        assert!(matches!(
            read(r#"{"ts":true,"message":"x"}"#),
            Outcome::Reject(Reason::NoTimestamp)
        ));
        assert!(matches!(
            read(r#"{"ts":1700000000,"message":3}"#),
            Outcome::Reject(Reason::NoMessage)
        ));
        assert!(matches!(
            read(r#"{"ts":1700000000,"message":"x","level":"verbose2"}"#),
            Outcome::HandBack
        ));
        assert!(matches!(
            read(r#"{"ts":1700000000,"message":"x","level":-1}"#),
            Outcome::HandBack
        ));
        assert!(matches!(
            read(r#"{"ts":1700000000,"message":"x","request_id":1.5}"#),
            Outcome::HandBack
        ));
        assert!(matches!(
            read(r#"{"ts":"yesterday","message":"x"}"#),
            Outcome::HandBack
        ));
    }

    #[test]
    fn reads_epoch_units_and_rejects_implausible_times() {
        let time = |line: &str| match read(line) {
            Outcome::Event(draft) => Some(draft.ts),
            Outcome::Reject(Reason::ImplausibleTime) => None,
            _ => panic!("neither an event nor an implausible time: {line}"),
        };
        assert_eq!(
            time(r#"{"ts":1700000000,"message":"x"}"#),
            Some(1700000000.0)
        );
        assert_eq!(
            time(r#"{"ts":1700000000123,"message":"x"}"#),
            Some(1700000000.123)
        );
        assert_eq!(
            time(r#"{"ts":1700000000123456,"message":"x"}"#),
            Some(1700000000.123456)
        );
        assert_eq!(time(r#"{"ts":1.7e18,"message":"x"}"#), Some(1.7e9));
        assert_eq!(
            time(r#"{"ts":" 1700000000123456","message":"x"}"#),
            Some(1700000000.123456),
            "journald's microseconds, as a string"
        );
        for line in [
            r#"{"ts":0,"message":"x"}"#,
            r#"{"ts":12.5,"message":"x"}"#,
            r#"{"ts":1e300,"message":"x"}"#,
            r#"{"ts":-1700000000,"message":"x"}"#,
            r#"{"ts":"1999-12-31T23:59:59Z","message":"x"}"#,
            r#"{"ts":"2100-01-01T00:00:00Z","message":"x"}"#,
        ] {
            assert_eq!(time(line), None, "{line}");
        }
        // Too far out for an exact double of microseconds: Python decides (and rejects it).
        assert!(matches!(
            read(r#"{"ts":"9999-12-31T23:59:59Z","message":"x"}"#),
            Outcome::HandBack
        ));
    }
}
