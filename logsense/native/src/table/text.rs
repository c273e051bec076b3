//! Text lines to event fields, exactly as `TextParser` in
//! `logsense/sources/formats/text.py` reads them (the reference; its docstring is the spec).
//!
//! The formats come from Python already expanded from `library.toml` to regexes that Python's
//! `re` (ASCII mode) and `regex-automata` (Unicode off) match the same way; here they are only
//! compiled and applied: detection, the primary format, the library order, prefixes, fallback.

use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use super::times::{read_time, resolve, Zone};

/// How many non-blank lines detection looks at (`SAMPLE_LINES`).
pub const SAMPLE_LINES: usize = 100;
const NEAR_BEST: f64 = 0.9;
const SEVERITIES: [&str; 8] = [
    "fatal", "fatal", "fatal", "error", "warn", "info", "info", "debug",
];

/// The fields a capture may stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Timestamp,
    Level,
    Pri,
    Status,
    Service,
    Process,
    Thread,
    Host,
    RequestId,
    UserId,
    Message,
    Before,
    After,
}

impl Field {
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "timestamp" => Field::Timestamp,
            "level" => Field::Level,
            "pri" => Field::Pri,
            "status" => Field::Status,
            "service" => Field::Service,
            "process" => Field::Process,
            "thread" => Field::Thread,
            "host" => Field::Host,
            "request_id" => Field::RequestId,
            "user_id" => Field::UserId,
            "message" => Field::Message,
            "before" => Field::Before,
            "after" => Field::After,
            _ => return None,
        })
    }
}

const FIELDS: usize = 13;

/// One compiled format, prefix or fallback.
pub struct Format {
    pub name: String,
    regex: Regex,
    /// (field, group index) of each named group, in group order.
    groups: Vec<(Field, usize)>,
    layouts: Vec<String>,
    ids: bool,
    general: bool,
}

/// A format as Python hands it over: (name, regex, [(field, group)], layouts, ids, general).
pub type FormatSpec = (
    String,
    String,
    Vec<(String, usize)>,
    Vec<String>,
    bool,
    bool,
);

impl Format {
    pub fn new(spec: FormatSpec) -> Result<Self, String> {
        let (name, pattern, groups, layouts, ids, general) = spec;
        let regex = Regex::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .build(&pattern)
            .map_err(|err| format!("format {name}: {err}"))?;
        let groups = groups
            .into_iter()
            .map(|(field, index)| {
                Field::named(&field)
                    .map(|f| (f, index))
                    .ok_or_else(|| format!("format {name}: unknown field {field}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name,
            regex,
            groups,
            layouts,
            ids,
            general,
        })
    }

    /// Whether the format matches `text` (anchored at its start; formats end with `$`).
    fn is_match(&self, text: &str) -> bool {
        self.regex
            .is_match(Input::new(text.as_bytes()).anchored(Anchored::Yes))
    }

    /// The fields of a match on `text`, the first found of a field captured twice; and the end
    /// of the match.
    fn fields<'t>(&self, text: &'t str, caps: &mut Captures) -> Option<(Fields<'t>, usize)> {
        self.regex
            .captures(Input::new(text.as_bytes()).anchored(Anchored::Yes), caps);
        let whole = caps.get_match()?;
        let mut found: Fields<'t> = [None; FIELDS];
        for &(field, index) in &self.groups {
            if found[field as usize].is_none() {
                if let Some(span) = caps.get_group(index) {
                    found[field as usize] = Some(&text[span.start..span.end]);
                }
            }
        }
        Some((found, whole.end()))
    }
}

type Fields<'t> = [Option<&'t str>; FIELDS];

/// What one line is (`Parsed`).
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Event(Header),
    /// A header without a usable time.
    Bad,
    None,
}

/// The fields of a line that starts an event.
#[derive(Debug, PartialEq, Default)]
pub struct Header {
    /// Index into `TextFormats::names` of the format (or "prefix + format") that read it.
    pub format: usize,
    pub ts: f64,
    /// The level name as captured (normalized by the caller), or a level already normalized.
    pub level: Option<String>,
    pub normalized: Option<&'static str>,
    /// The level is a word the fallback found: unknown words mean no level, not an unknown one.
    pub lenient: bool,
    pub service: Option<String>,
    pub request: Option<String>,
    pub user: Option<String>,
    /// The host the line names (syslog's, a collector's), stripped.
    pub host: Option<String>,
    pub message: String,
    pub year_assumed: bool,
    pub zone_assumed: bool,
}

/// The library, compiled, with the input's primary format and the time rules.
pub struct TextFormats {
    formats: Vec<Format>,
    prefixes: Vec<Format>,
    fallback: Format,
    zone: Zone,
    reference: f64,
    /// (prefix or None, format) tried first.
    pub primary: Option<(Option<usize>, usize)>,
    /// A forced format: the only one tried.
    only: Option<usize>,
    /// The names events are counted under: formats, "prefix + format" pairs, prefixes,
    /// "fallback".
    pub names: Vec<String>,
}

impl TextFormats {
    pub fn new(
        formats: Vec<FormatSpec>,
        prefixes: Vec<FormatSpec>,
        fallback: FormatSpec,
        zone: Zone,
        reference: f64,
        only: Option<usize>,
    ) -> Result<Self, String> {
        let formats: Vec<Format> = formats
            .into_iter()
            .map(Format::new)
            .collect::<Result<_, _>>()?;
        let prefixes: Vec<Format> = prefixes
            .into_iter()
            .map(Format::new)
            .collect::<Result<_, _>>()?;
        let mut names: Vec<String> = formats.iter().map(|f| f.name.clone()).collect();
        for prefix in &prefixes {
            for format in &formats {
                names.push(format!("{} + {}", prefix.name, format.name));
            }
        }
        names.extend(prefixes.iter().map(|p| p.name.clone()));
        names.push("fallback".to_string());
        Ok(Self {
            formats,
            prefixes,
            fallback: Format::new(fallback)?,
            zone,
            reference,
            primary: None,
            only,
            names,
        })
    }

    fn name_index(&self, prefix: Option<usize>, format: usize) -> usize {
        match prefix {
            None => format,
            Some(p) => self.formats.len() * (1 + p) + format,
        }
    }

    /// The name of a (prefix, format) pair.
    pub fn pair_name(&self, primary: (Option<usize>, usize)) -> &str {
        &self.names[self.name_index(primary.0, primary.1)]
    }

    /// `detect`: the primary of an input from its first non-blank lines.
    pub fn detect<'a>(
        &self,
        lines: impl IntoIterator<Item = &'a str>,
    ) -> Option<(Option<usize>, usize)> {
        let sample: Vec<&str> = lines
            .into_iter()
            .filter(|line| crate::pytext::has_content(line))
            .take(SAMPLE_LINES)
            .collect();
        let mut candidates: Vec<(Option<usize>, usize)> =
            (0..self.formats.len()).map(|f| (None, f)).collect();
        for p in 0..self.prefixes.len() {
            candidates.extend((0..self.formats.len()).map(|f| (Some(p), f)));
        }
        let mut counts = vec![0usize; candidates.len()];
        let mut scratch = Scratch::default();
        for line in &sample {
            let rests: Vec<Option<&str>> = self
                .prefixes
                .iter()
                .map(|prefix| {
                    prefix
                        .fields(line, scratch.caps(prefix))
                        .map(|(_, end)| &line[end..])
                })
                .collect();
            for (slot, &(prefix, format)) in candidates.iter().enumerate() {
                let rest = match prefix {
                    None => Some(*line),
                    Some(p) => rests[p],
                };
                if rest.is_some_and(|rest| self.formats[format].is_match(rest)) {
                    counts[slot] += 1;
                }
            }
        }
        for general in [false, true] {
            let pool: Vec<((Option<usize>, usize), usize)> = candidates
                .iter()
                .zip(&counts)
                .filter(|(c, &n)| self.formats[c.1].general == general && n > 0)
                .map(|(c, &n)| (*c, n))
                .collect();
            if let Some(best) = pool.iter().map(|(_, n)| *n).max() {
                return pool
                    .iter()
                    .find(|(_, n)| *n as f64 >= best as f64 * NEAR_BEST)
                    .map(|(c, _)| *c);
            }
        }
        None
    }

    /// `TextParser.parse`: what `line` (no line end, not blank) is.
    pub fn parse(&self, line: &str, scratch: &mut Scratch) -> Parsed {
        if let Some(only) = self.only {
            let format = &self.formats[only];
            return match format.fields(line, scratch.caps(format)) {
                Some((fields, _)) => self.build(only, format, fields, None, self.reference),
                None => Parsed::None,
            };
        }
        if let Some(primary) = self.primary {
            if let Some(found) = self.try_pair(primary, line, scratch) {
                return found;
            }
        }
        if let Some(found) = self.known(line, scratch, true) {
            return found;
        }
        self.fallback(line, scratch)
    }

    /// `parse_inner`: a JSON record's message that is a whole log line, read by the library's
    /// formats (no fallback, no prefix alone); None if it is not one.
    pub fn parse_inner(&self, line: &str, scratch: &mut Scratch) -> Option<Header> {
        match self.known(line, scratch, false)? {
            Parsed::Event(header) => Some(header),
            _ => None,
        }
    }

    /// `_known`: `line` read by the first format of the library, prefixed or not, that
    /// matches it.
    fn known(&self, line: &str, scratch: &mut Scratch, prefix_only: bool) -> Option<Parsed> {
        let specific = (0..self.formats.len()).filter(|&i| !self.formats[i].general);
        let general = (0..self.formats.len()).filter(|&i| self.formats[i].general);
        for index in specific.clone() {
            if self.primary == Some((None, index)) {
                continue;
            }
            let format = &self.formats[index];
            if let Some((fields, _)) = format.fields(line, scratch.caps(format)) {
                return Some(self.build(index, format, fields, None, self.reference));
            }
        }
        for (p, prefix) in self.prefixes.iter().enumerate() {
            let Some((outer, end)) = prefix.fields(line, scratch.caps(prefix)) else {
                continue;
            };
            let rest = &line[end..];
            let reference = self.reference_of(prefix, &outer);
            for index in specific.clone().chain(general.clone()) {
                if self.primary == Some((Some(p), index)) {
                    continue;
                }
                let format = &self.formats[index];
                if let Some((inner, _)) = format.fields(rest, scratch.caps(format)) {
                    let merged = merge(&outer, inner);
                    let name = self.name_index(Some(p), index);
                    return Some(self.build(name, format, merged, None, reference));
                }
            }
            if prefix_only && outer[Field::Timestamp as usize].is_some() {
                let mut fields = outer;
                fields[Field::Message as usize] = Some(rest);
                let name = self.formats.len() * (1 + self.prefixes.len()) + p;
                return Some(self.build(name, prefix, fields, Some(false), self.reference));
            }
        }
        for index in general {
            if self.primary == Some((None, index)) {
                continue;
            }
            let format = &self.formats[index];
            if let Some((fields, _)) = format.fields(line, scratch.caps(format)) {
                return Some(self.build(index, format, fields, None, self.reference));
            }
        }
        None
    }

    fn try_pair(
        &self,
        (prefix, index): (Option<usize>, usize),
        line: &str,
        scratch: &mut Scratch,
    ) -> Option<Parsed> {
        let format = &self.formats[index];
        let Some(p) = prefix else {
            let (fields, _) = format.fields(line, scratch.caps(format))?;
            return Some(self.build(index, format, fields, None, self.reference));
        };
        let outer_format = &self.prefixes[p];
        let (outer, end) = outer_format.fields(line, scratch.caps(outer_format))?;
        let (inner, _) = format.fields(&line[end..], scratch.caps(format))?;
        let reference = self.reference_of(outer_format, &outer);
        let merged = merge(&outer, inner);
        Some(self.build(
            self.name_index(prefix, index),
            format,
            merged,
            None,
            reference,
        ))
    }

    fn time(&self, layouts: &[String], text: &str, reference: f64) -> Option<(f64, bool, bool)> {
        layouts
            .iter()
            .find_map(|layout| read_time(layout, text))
            .map(|moment| resolve(&moment, &self.zone, reference))
    }

    /// `_reference`: the prefix's time, else the wall clock.
    fn reference_of(&self, prefix: &Format, outer: &Fields<'_>) -> f64 {
        if let Some(stamp) = outer[Field::Timestamp as usize] {
            if let Some((ts, _, _)) = self.time(&prefix.layouts, stamp, self.reference) {
                if !ts.is_nan() {
                    return ts;
                }
            }
        }
        self.reference
    }

    /// `_build`; `ids` overrides the format's own flag (prefix-only events: never).
    fn build(
        &self,
        name: usize,
        format: &Format,
        fields: Fields<'_>,
        ids: Option<bool>,
        reference: f64,
    ) -> Parsed {
        let Some(stamp) = fields[Field::Timestamp as usize] else {
            return Parsed::Bad;
        };
        let Some((ts, year_assumed, zone_assumed)) =
            self.time(&format.layouts, py_strip(stamp), reference)
        else {
            return Parsed::Bad;
        };
        if ts.is_nan() {
            return Parsed::Bad;
        }
        let get = |field: Field| fields[field as usize];
        let mut header = Header {
            format: name,
            ts,
            service: stripped(get(Field::Service)),
            host: stripped(get(Field::Host)),
            request: get(Field::RequestId)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            user: get(Field::UserId)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            message: get(Field::Message).unwrap_or_default().to_string(),
            year_assumed,
            zone_assumed,
            ..Header::default()
        };
        if let Some(raw) = get(Field::Level) {
            header.level = Some(raw.to_string());
        } else if let Some(pri) = get(Field::Pri) {
            header.normalized = level_of_pri(pri);
        } else if let Some(status) = get(Field::Status) {
            header.normalized = level_of_status(status);
        }
        if ids.unwrap_or(format.ids) {
            take_ids(&mut header);
        }
        Parsed::Event(header)
    }

    /// `_fallback`: a known time in the first 80 characters makes a line an event.
    fn fallback(&self, line: &str, scratch: &mut Scratch) -> Parsed {
        let format = &self.fallback;
        let Some((fields, _)) = format.fields(line, scratch.caps(format)) else {
            return Parsed::None;
        };
        let (Some(before), Some(after), Some(stamp)) = (
            fields[Field::Before as usize],
            fields[Field::After as usize],
            fields[Field::Timestamp as usize],
        ) else {
            return Parsed::None;
        };
        let Some((ts, year_assumed, zone_assumed)) =
            self.time(&format.layouts, stamp, self.reference)
        else {
            return Parsed::None;
        };
        if ts.is_nan() {
            return Parsed::None;
        }
        let head = before.trim_end_matches(|c| " [(<|,;-:".contains(c));
        let tail = after.trim_start_matches(|c| " ])>|,;:-".contains(c));
        let message = if !head.is_empty() && !tail.is_empty() {
            format!("{head} {tail}").trim_matches(' ').to_string()
        } else if !head.is_empty() {
            head.to_string()
        } else {
            tail.to_string()
        };
        let mut header = Header {
            format: self.names.len() - 1,
            ts,
            message,
            year_assumed,
            zone_assumed,
            ..Header::default()
        };
        if let Some(word) = fallback_level(tail) {
            header.level = Some(word.to_string());
            header.lenient = true;
        }
        Parsed::Event(header)
    }
}

/// Captures per regex, reused from line to line.
#[derive(Default)]
pub struct Scratch {
    caps: Vec<(usize, Captures)>,
}

impl Scratch {
    fn caps(&mut self, format: &Format) -> &mut Captures {
        let key = format as *const Format as usize;
        let at = match self.caps.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.caps.push((key, format.regex.create_captures()));
                self.caps.len() - 1
            }
        };
        &mut self.caps[at].1
    }
}

/// The outer (prefix) fields under the inner (format) ones, the prefix's time left out.
fn merge<'t>(outer: &Fields<'t>, inner: Fields<'t>) -> Fields<'t> {
    let mut merged = inner;
    for (index, value) in outer.iter().enumerate() {
        if index != Field::Timestamp as usize && merged[index].is_none() {
            merged[index] = *value;
        }
    }
    merged
}

/// `_FALLBACK_LEVEL`: `[(<]?(letters)[\])>]?:?` followed by a space or the end.
fn fallback_level(tail: &str) -> Option<&str> {
    let bytes = tail.as_bytes();
    let mut pos = 0;
    if matches!(bytes.first(), Some(b'[' | b'(' | b'<')) {
        pos = 1;
    }
    let start = pos;
    while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
        pos += 1;
    }
    if pos == start {
        return None;
    }
    let word = &tail[start..pos];
    let mut after = pos;
    if matches!(bytes.get(after), Some(b']' | b')' | b'>')) {
        after += 1;
    }
    if bytes.get(after) == Some(&b':') {
        after += 1;
    }
    (after == bytes.len() || bytes[after] == b' ').then_some(word)
}

/// `level_of_pri`.
fn level_of_pri(pri: &str) -> Option<&'static str> {
    if pri.is_empty() || pri.len() > 3 || !pri.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: usize = pri.parse().ok()?;
    Some(SEVERITIES[value & 7])
}

/// `level_of_status`.
fn level_of_status(status: &str) -> Option<&'static str> {
    if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match status.as_bytes()[0] {
        b'5' => "error",
        b'4' => "warn",
        _ => "info",
    })
}

/// `_stripped`: spaces and tabs off both ends; None when nothing is left.
fn stripped(value: Option<&str>) -> Option<String> {
    let value = value?.trim_matches(|c| c == ' ' || c == '\t');
    (!value.is_empty()).then(|| value.to_string())
}

/// Python's `str.strip()`.
fn py_strip(text: &str) -> &str {
    crate::pytext::strip(text)
}

/// `_take_ids`: leading `trace=… user=…` pairs out of the message into the ids.
fn take_ids(header: &mut Header) {
    let mut message = header.message.as_str();
    loop {
        let key_end = message.find('=').filter(|&at| {
            at > 0
                && message.as_bytes()[..at]
                    .iter()
                    .all(u8::is_ascii_alphanumeric_or_underscore)
        });
        let Some(at) = key_end else { break };
        let key = &message[..at];
        let request = matches!(
            key,
            "trace" | "trace_id" | "traceId" | "request_id" | "requestId" | "req_id" | "rid"
        );
        let user = matches!(key, "user" | "user_id" | "userId" | "uid");
        if !request && !user {
            break;
        }
        let rest = &message[at + 1..];
        let len = rest
            .find(|c: char| is_py_ascii_space(c) || c == ',' || c == ';')
            .unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        let value = &rest[..len];
        let mut next = &rest[len..];
        if next.starts_with([',', ';']) {
            next = &next[1..];
        }
        next = next.trim_start_matches(is_py_ascii_space);
        let slot = if request {
            &mut header.request
        } else {
            &mut header.user
        };
        if slot.is_none() {
            *slot = Some(value.to_string());
        }
        message = next;
    }
    header.message = message.to_string();
}

/// `\s` of a Python pattern in ASCII mode.
fn is_py_ascii_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

trait AsciiWord {
    fn is_ascii_alphanumeric_or_underscore(&self) -> bool;
}

impl AsciiWord for u8 {
    fn is_ascii_alphanumeric_or_underscore(&self) -> bool {
        self.is_ascii_alphanumeric() || *self == b'_'
    }
}
