//! The table itself: compact rows of every event kept so far, the interned strings they refer
//! to, their texts (each encoded against its shape's first text: `packed`), and the bookkeeping
//! of `window.cut`: the earliest time read, the newest time kept, the events per hour (for the
//! window's anchor), and the rows dropped by floor, ceiling or lookback.

use ahash::AHashMap;
use indexmap::IndexSet;

use super::hits::{hit_seq, id_stem, parse_page, source_lines, HitRef};
use super::instances::Instances;
use super::packed;
use super::record::{level_class, level_rank, plausible, Reason};
use super::sampler::{id_hash, seq_hash, Sampler};
use super::scan::{
    is_blank_line, scan_block, Config, LocalIds, Piece, BOM, JOIN_GAP, MAX_EXAMPLES,
};
use super::strings::{intern, remap, Shapes, Strings, NO_ID};
use super::text::{Header, Parsed, Scratch};
use crate::durations::pack;
use crate::masking::mask;
use crate::pytext::{has_content, is_blank_bytes, rstrip, strip};
use crate::stacktrace::fingerprint;

/// Bits of a text's place (`Row::text_place`) that give its offset in its chunk.
const CHUNK_SHIFT: u32 = 26;
/// Text chunks are closed at this size (a text longer than this is alone in its chunk).
pub(super) const CHUNK_BYTES: usize = 1 << CHUNK_SHIFT;
/// Text places have 40 bits: this many chunks (a terabyte of encoded texts).
const MAX_CHUNKS: usize = 1 << (40 - CHUNK_SHIFT);
/// Compaction by lookback is not tried below this many rows.
const MIN_COMPACTION_ROWS: usize = 1 << 16;
/// The line-length cap when none is given (`MAX_LINE_BYTES`).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;
/// A detached tail follows more than this many empty clock hours (and more than
/// `SILENCE_FACTOR` times the longest silence inside the bulk of the input).
const MIN_SILENCE_HOURS: i64 = 6;
const SILENCE_FACTOR: i64 = 4;
/// A detached tail holds at most this share of the events (one event at least).
const TAIL_SHARE: u64 = 100; // 1 / 100

/// The events of one clock hour (UTC).
#[derive(Clone, Copy)]
struct Hour {
    hour: i64,
    count: u64,
    oldest: f64,
    newest: f64,
}

/// Where a window without `--until` ends: the newest event outside a detached tail.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    /// The time of that event.
    pub time: f64,
    /// Events after it, in the detached tail (0 when there is none).
    pub detached: u64,
    /// The oldest time of the tail, if any.
    pub detached_first: Option<f64>,
    /// Seconds from the anchor to the tail's oldest event (0 when there is no tail).
    pub silence: f64,
}

/// How far past the wall clock an event may lie before it is from the future.
const CLOCK_SLACK_HOURS: i64 = 24;

/// The newest events are a *detached tail* when they come after a silence (whole clock hours
/// without any event) of more than `MIN_SILENCE_HOURS`, and either
///
/// - are few: at most 1% of the events (one at least), after a silence also more than
///   `SILENCE_FACTOR` times the longest inside the bulk (the events without the oldest and
///   newest 1%); or
/// - lie more than `CLOCK_SLACK_HOURS` after the wall clock (`clock_hour`, the hour of now)
///   while most events do not: logs are not written in the future.
///
/// A few future-dated lines must not move a window away from everything else. `hours` is
/// sorted; the result is the index of the newest hour outside the tail, and the index of an hour
/// no anchor can precede whatever comes next, for compaction (the bulk's newest hour, or the
/// last hour before the future when some events lie there).
fn anchor_hours(hours: &[Hour], clock_hour: Option<i64>) -> (usize, usize) {
    let total: u64 = hours.iter().map(|h| h.count).sum();
    let limit = (total / TAIL_SHARE).max(1);
    let (mut top, mut above) = (hours.len() - 1, 0);
    while top > 0 && above + hours[top].count <= limit {
        above += hours[top].count;
        top -= 1;
    }
    let (mut bottom, mut below) = (0, 0);
    while bottom < top && below + hours[bottom].count <= limit {
        below += hours[bottom].count;
        bottom += 1;
    }
    let silence = |at: usize| hours[at + 1].hour - hours[at].hour - 1;
    let longest = (bottom..top).map(silence).max().unwrap_or(0);
    let allowed = MIN_SILENCE_HOURS.max(SILENCE_FACTOR.saturating_mul(longest));
    let mut newest = top;
    while newest + 1 < hours.len() && silence(newest) <= allowed {
        newest += 1;
    }
    let future = clock_hour.map(|now| now.saturating_add(CLOCK_SLACK_HOURS));
    let Some(last_present) = future.and_then(|limit| hours.iter().rposition(|h| h.hour <= limit))
    else {
        return (newest, top);
    };
    let floor = top.min(last_present);
    if newest > last_present && silence(last_present) > MIN_SILENCE_HOURS {
        let present: u64 = hours[..=last_present].iter().map(|h| h.count).sum();
        if present > total - present {
            newest = last_present;
        }
    }
    (newest, floor)
}

/// One kept event.
#[derive(Clone, Copy)]
pub struct Row {
    pub ts: f64,
    /// Input order: the line number for JSON rows, the caller's for pushed ones.
    pub seq: u64,
    pub shape: u32,
    pub request: u32,
    pub user: u32,
    /// Index into `Table::origins`; STEM | an index into `Table::stems`; or NO_ID for
    /// "{source}:{seq}".
    pub origin: u32,
    /// The low 32 bits of the place of its text (`text_place`).
    text_low: u32,
    /// The high bits of that place.
    text_high: u8,
    pub level: u8,
    /// The event's own duration (`durations::pack`; 0: none).
    pub duration: u16,
}
// Memory per event is mostly this row: a field more must earn its bytes.
const _: () = assert!(std::mem::size_of::<Row>() == 40);

impl Row {
    /// A row whose text is not placed yet (`set_text_place`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ts: f64,
        seq: u64,
        shape: u32,
        request: u32,
        user: u32,
        origin: u32,
        level: u8,
        duration: u16,
    ) -> Self {
        Self {
            ts,
            seq,
            shape,
            request,
            user,
            origin,
            text_low: 0,
            text_high: 0,
            level,
            duration,
        }
    }

    /// Where its text is kept: its chunk shifted by CHUNK_SHIFT, plus its offset in the chunk;
    /// the text there is a varint length, then the text encoded against its shape's reference.
    pub fn text_place(&self) -> u64 {
        (u64::from(self.text_high) << 32) | u64::from(self.text_low)
    }

    pub fn set_text_place(&mut self, place: u64) {
        (self.text_low, self.text_high) = (place as u32, (place >> 32) as u8);
    }
}

/// The encoded text at `place` in `texts` (`Row::text_place`), and the bytes it takes there.
fn text_at(texts: &[Vec<u8>], place: u64) -> (&[u8], usize) {
    let chunk = &texts[(place >> CHUNK_SHIFT) as usize];
    let mut rest = &chunk[(place as usize) & (CHUNK_BYTES - 1)..];
    let before = rest.len();
    let len = packed::read_varint(&mut rest).unwrap_or(0) as usize;
    let len = len.min(rest.len());
    (&rest[..len], before - rest.len() + len)
}

/// What the scanner could not use or had to guess (`ScanStats`).
#[derive(Default, Clone)]
pub struct Stats {
    pub read: u64,
    pub reasons: [u64; Reason::ALL.len()],
    pub examples: Vec<String>,
    pub missing_level: u64,
    pub missing_service: u64,
    /// Text: level names no table knows, cut to 20 characters.
    pub unknown_levels: AHashMap<String, u64>,
    /// Text: lines that were not valid UTF-8 (bad bytes became U+FFFD).
    pub undecodable: u64,
    /// Text: events per format name (`TextFormats::names`).
    pub formats: Vec<u64>,
    pub year_assumed: u64,
    pub zone_assumed: u64,
    pub continuation_dropped: u64,
    /// JSON: events whose message was read as a log line, per format.
    pub inner_formats: Vec<u64>,
    /// JSON: records that continued the event before them and joined its stack.
    pub joined: u64,
}

/// A text event whose continuation lines may still follow.
struct PendingText {
    header: Header,
    line: u64,
    stack: String,
    lines: usize,
    /// Bytes of the continuation lines kept, a newline each.
    size: usize,
}

/// Where the last `aggregate` put each kept row (for `row_shapes`).
pub struct LastAggregate {
    /// Kept rows (indices into `rows`) in position order.
    pub kept: Vec<u32>,
    /// Output shape index of each shape id, NO_ID if not in the output.
    pub shape_index: Vec<u32>,
}

/// Every kept event of one input, in compact rows.
pub struct Table {
    pub config: Config,
    pub lookback: Option<f64>,
    pub rows: Vec<Row>,
    /// Message (+ "\n" + stack) of the rows, chunk by chunk, each encoded against its shape's
    /// reference text (`packed`).
    pub(super) texts: Vec<Vec<u8>>,
    /// Per shape id, the first text kept of that shape: what its rows' texts are encoded
    /// against (never changed once set).
    refs: Vec<Option<Box<[u8]>>>,
    /// Reused by `store_text`.
    encoded: Vec<u8>,
    /// The chunk pushed rows append to, if one is open.
    pub(super) open_chunk: Option<u32>,
    pub(super) live_text: usize,
    pub(super) total_text: usize,
    pub services: Strings,
    pub masked: Strings,
    pub fingerprints: Strings,
    pub requests: Strings,
    pub users: Strings,
    pub versions: Strings,
    pub hosts: Strings,
    /// The service instances of every event kept (rows dropped later stay counted).
    pub instances: Instances,
    pub shapes: Shapes,
    pub origins: Vec<Box<str>>,
    /// Origins of hits whose id ends with their seq: (`{index}/{id before the number}`, the
    /// number's digits); a row's origin is then STEM | the index here (one string per file
    /// that `logsense load` read, not one per document).
    pub(super) stems: IndexSet<(Box<str>, usize), ahash::RandomState>,
    pub stats: Stats,
    pub earliest: Option<f64>,
    pub newest: Option<f64>,
    /// Valid rows dropped before aggregation (floor, ceiling, lookback).
    pub dropped: u64,
    compact_at: usize,
    pub last: Option<LastAggregate>,
    /// The line number after the last complete line scanned (that of `partial`, if any).
    pub next_line: u64,
    /// The start of a line whose end has not been handed in yet.
    partial: Vec<u8>,
    /// While a line longer than the cap is skipped: whether it was blank so far.
    long_line: Option<bool>,
    /// The line-length cap of the last `scan_json`.
    max_line: usize,
    /// Kept events per clock hour, by hour (never forgotten: they decide the anchor).
    hours: Vec<Hour>,
    hour_index: AHashMap<i64, usize>,
    /// The entry of `hours` the last kept row went to.
    last_hour: usize,
    /// The wall clock (epoch seconds) events are compared with; None: never.
    pub now: Option<f64>,
    /// Text inputs: the event still taking continuation lines, whether the last header was
    /// rejected (its continuation lines go with it).
    pending: Option<PendingText>,
    dropped_header: bool,
    scratch: Scratch,
    /// Rows came from search hits: equal (time, seq) are ordered by origin (`{index}/{id}`).
    pub ordered_by_origin: bool,
    /// JSON files: the (time, seq) of the last row while continuation records may still join
    /// it (`scan`'s module doc).
    json_owner: Option<(f64, u64)>,
    /// Where the window starts, when it is known before the first line (after the baseline).
    pub window_start: Option<f64>,
    /// Sampling as it reads (`sample_rest`), if asked for.
    pub sampler: Option<Sampler>,
}

/// What `scan_hits` tells Python about a page.
pub struct HitsOut {
    pub hits: usize,
    /// The last hit's `sort` values, as JSON (for `search_after`).
    pub last_sort: Option<Vec<u8>>,
    pub pit_id: Option<String>,
    pub shards_failed: u64,
    pub timed_out: bool,
    /// (seq, origin, raw `_source` or None when the hit has none) of the hits left to Python.
    pub handed_back: Vec<(u64, String, Option<Vec<u8>>)>,
}

/// The bit of `Row::origin` that makes the rest an index into `Table::stems`.
pub(super) const STEM: u32 = 1 << 31;

/// Where the lines of a scanned piece came from.
enum Place<'a> {
    /// A file: the piece's first line has this number.
    Lines(u64),
    /// Search hits: the hit of each line of the piece, and each hit's seq and origin.
    Hits {
        hit_of_line: &'a [usize],
        seqs: &'a [u64],
        /// Row origins (see `Row::origin`).
        origins: &'a [u32],
    },
}

/// Global ids of one worker's local shapes, request ids and user ids. While sampling, request
/// and user ids are NO_ID until a kept row needs them (`Table::global_id`): the ids of dropped
/// rows are never interned, only hashed.
struct IdMaps {
    services: Vec<u32>,
    shapes: Vec<u32>,
    requests: Vec<u32>,
    users: Vec<u32>,
    versions: Vec<u32>,
    hosts: Vec<u32>,
    /// While sampling: `id_hash` of each local request id, and of each user id.
    request_hashes: Vec<u64>,
    user_hashes: Vec<u64>,
}

/// A normalized event handed in by Python (`EventTable.push`).
pub struct Pushed<'a> {
    pub seq: u64,
    pub ts: f64,
    pub message: &'a str,
    pub level: u8,
    pub service: &'a str,
    pub request: Option<&'a str>,
    pub user: Option<&'a str>,
    pub stack: Option<&'a str>,
    /// Where the event came from; None means "{source}:{seq}".
    pub origin: Option<&'a str>,
    /// Seconds, from a duration field.
    pub duration: Option<f64>,
    /// The service's version and host, if known and not empty.
    pub version: Option<&'a str>,
    pub host: Option<&'a str>,
}

impl Table {
    pub fn new(config: Config, lookback: Option<f64>) -> Self {
        Self {
            config,
            lookback,
            rows: Vec::new(),
            texts: Vec::new(),
            refs: Vec::new(),
            encoded: Vec::new(),
            open_chunk: None,
            live_text: 0,
            total_text: 0,
            services: Strings::default(),
            masked: Strings::default(),
            fingerprints: Strings::default(),
            requests: Strings::default(),
            users: Strings::default(),
            versions: Strings::default(),
            hosts: Strings::default(),
            instances: Instances::default(),
            shapes: Shapes::default(),
            origins: Vec::new(),
            stems: IndexSet::default(),
            stats: Stats::default(),
            earliest: None,
            newest: None,
            dropped: 0,
            compact_at: MIN_COMPACTION_ROWS,
            last: None,
            next_line: 1,
            partial: Vec::new(),
            long_line: None,
            max_line: DEFAULT_MAX_LINE,
            hours: Vec::new(),
            hour_index: AHashMap::new(),
            last_hour: 0,
            now: None,
            pending: None,
            dropped_header: false,
            scratch: Scratch::default(),
            ordered_by_origin: false,
            json_owner: None,
            window_start: None,
            sampler: None,
        }
    }

    /// Sample as it reads from now on (`sampler`), keeping about `budget` rows of shapes that
    /// cannot form an issue, and counting distinct values exactly up to `exact_limit`; false
    /// (and nothing changes) unless the window is known and nothing was read yet.
    pub fn sample_rest(
        &mut self,
        budget: u64,
        exact_limit: usize,
        change_words: Vec<Box<str>>,
    ) -> bool {
        let Some(window_start) = self.window_start else {
            return false;
        };
        if self.stats.read > 0 || !self.rows.is_empty() || self.lookback.is_some() {
            return false;
        }
        self.sampler = Some(Sampler::new(
            budget,
            exact_limit,
            window_start,
            change_words,
        ));
        true
    }

    /// The clock hour of `now`, if any.
    fn clock_hour(&self) -> Option<i64> {
        self.now
            .filter(|now| now.is_finite())
            .map(|now| (now / 3600.0).floor() as i64)
    }

    /// Whether the end of a line is still expected from the next `scan_json`.
    pub fn has_partial(&self) -> bool {
        !self.partial.is_empty() || self.long_line.is_some()
    }

    /// Read the lines of `data`, the input that follows the last call's (numbered from
    /// `next_line`); a line may straddle calls: its start is kept until its end arrives. Lines
    /// longer than `max_line` bytes (without the newline) that are not blank are counted as
    /// too long; no more than `max_line` bytes of a line are ever kept. Return the (line number,
    /// raw line without its newline) of the lines left to Python.
    pub fn scan_json(&mut self, data: &[u8], max_line: usize) -> Vec<(u64, Vec<u8>)> {
        self.feed(data, max_line, false)
    }

    /// Read the text lines of `data` as `scan_json` reads JSON lines (see `set_text`).
    pub fn scan_text(&mut self, data: &[u8], max_line: usize) {
        self.feed(data, max_line, true);
    }

    /// At the end of a text input: read the line kept without its end, and close the last
    /// event.
    pub fn end_text(&mut self) {
        if self.long_line.is_some() {
            self.end_long_line();
        } else {
            let line = std::mem::take(&mut self.partial);
            if !line.is_empty() {
                self.scan_text_lines(&line);
            }
        }
        self.close_pending();
    }

    fn scan_any(&mut self, data: &[u8], text: bool, handed_back: &mut Vec<(u64, Vec<u8>)>) {
        if text {
            self.scan_text_lines(data);
        } else {
            self.scan(data, handed_back);
        }
    }

    fn feed(&mut self, data: &[u8], max_line: usize, text: bool) -> Vec<(u64, Vec<u8>)> {
        self.max_line = max_line;
        let mut handed_back = Vec::new();
        let mut data = data;
        if let Some(blank) = self.long_line {
            let Some(end) = memchr::memchr(b'\n', data) else {
                self.long_line = Some(blank && is_blank_bytes(data));
                return handed_back;
            };
            self.long_line = Some(blank && is_blank_bytes(&data[..end]));
            self.end_long_line();
            data = &data[end + 1..];
        }
        let Some(first_end) = memchr::memchr(b'\n', data) else {
            self.extend_partial(data);
            return handed_back;
        };
        let mut rest = data;
        if !self.partial.is_empty() {
            if self.partial.len() + first_end > max_line {
                let blank = is_blank_line(&self.partial) && is_blank_bytes(&data[..first_end]);
                self.partial = Vec::new();
                self.long_line = Some(blank);
                self.end_long_line();
            } else {
                // Only the straddling line is copied.
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&data[..=first_end]);
                self.scan_any(&line, text, &mut handed_back);
            }
            rest = &data[first_end + 1..];
        }
        let end = memchr::memrchr(b'\n', rest).map_or(0, |at| at + 1);
        if end > 0 {
            self.scan_any(&rest[..end], text, &mut handed_back);
        }
        self.extend_partial(&rest[end..]);
        handed_back
    }

    /// At the end of the input, read the line kept without its end (if any), as `scan_json`.
    pub fn end_json(&mut self) -> Vec<(u64, Vec<u8>)> {
        let mut handed_back = Vec::new();
        if self.long_line.is_some() {
            self.end_long_line();
            return handed_back;
        }
        let line = std::mem::take(&mut self.partial);
        if !line.is_empty() {
            self.scan(&line, &mut handed_back);
        }
        handed_back
    }

    /// Keep `data`, the start of a line, unless the line grows past the cap: then forget it
    /// and skip the rest of the line.
    fn extend_partial(&mut self, data: &[u8]) {
        if self.partial.len() + data.len() > self.max_line {
            let blank = is_blank_line(&self.partial) && is_blank_bytes(data);
            self.partial = Vec::new();
            self.long_line = Some(blank);
        } else {
            self.partial.extend_from_slice(data);
        }
    }

    /// The end of a line longer than the cap: count it unless it was blank.
    fn end_long_line(&mut self) {
        if let Some(blank) = self.long_line.take() {
            if !blank {
                let line = self.next_line;
                self.reject(line, Reason::TooLong);
            }
            self.next_line += 1;
        }
    }

    /// Read complete text lines (numbered from `next_line`), as `FileSource._text_events` does.
    fn scan_text_lines(&mut self, data: &[u8]) {
        let mut start = 0;
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |at| start + at);
            let number = self.next_line;
            self.next_line += 1;
            let whole = &data[start..end];
            start = end + 1;
            if whole.is_empty() {
                continue;
            }
            let raw = whole.strip_prefix(BOM).unwrap_or(whole);
            if is_blank_bytes(raw) {
                continue;
            }
            if whole.len() > self.max_line {
                self.reject(number, Reason::TooLong);
                continue;
            }
            let decoded = match std::str::from_utf8(raw) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => {
                    self.stats.undecodable += 1;
                    String::from_utf8_lossy(raw)
                }
            };
            let line = decoded.trim_end_matches(['\r', '\n']);
            if !has_content(line) {
                continue;
            }
            self.text_line(line, number);
        }
        self.maybe_compact();
    }

    /// One non-blank text line: a header starts an event, anything else continues the last.
    fn text_line(&mut self, line: &str, number: u64) {
        let Some(formats) = self.config.text.as_ref() else {
            return;
        };
        let parsed = formats.parse(line, &mut self.scratch);
        let header = match parsed {
            Parsed::None => {
                if let Some(pending) = self.pending.as_mut() {
                    let size = line.len() + 1;
                    if pending.size + size > self.max_line {
                        self.stats.continuation_dropped += 1;
                    } else {
                        if pending.lines > 0 {
                            pending.stack.push('\n');
                        }
                        pending.stack.push_str(line);
                        pending.lines += 1;
                        pending.size += size;
                    }
                } else if !self.dropped_header {
                    self.reject(number, Reason::NoHeader);
                }
                return;
            }
            Parsed::Bad => None,
            Parsed::Event(header) => Some(header),
        };
        self.stats.read += 1;
        self.close_pending();
        let Some(header) = header else {
            self.count_reason(number, Reason::NoTimestamp);
            self.dropped_header = true;
            return;
        };
        if !plausible(header.ts) {
            self.count_reason(number, Reason::ImplausibleTime);
            self.dropped_header = true;
            return;
        }
        self.dropped_header = false;
        let names = self.config.text.as_ref().map_or(0, |f| f.names.len());
        if self.stats.formats.len() < names {
            self.stats.formats.resize(names, 0);
        }
        self.stats.formats[header.format] += 1;
        self.stats.year_assumed += u64::from(header.year_assumed);
        self.stats.zone_assumed += u64::from(header.zone_assumed);
        self.pending = Some(PendingText {
            header,
            line: number,
            stack: String::new(),
            lines: 0,
            size: 0,
        });
    }

    /// Turn the pending text event (if any) into a row.
    fn close_pending(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let header = pending.header;
        let level = match header.level.as_deref() {
            Some(raw) => match self.config.levels.of_str(raw) {
                Some(rank) => rank,
                None if header.lenient => {
                    self.stats.missing_level += 1;
                    1
                }
                None => {
                    let key: String = raw.chars().take(20).collect();
                    *self.stats.unknown_levels.entry(key).or_insert(0) += 1;
                    1
                }
            },
            None => match header.normalized.and_then(level_rank) {
                Some(rank) => rank,
                None => {
                    self.stats.missing_level += 1;
                    1
                }
            },
        };
        let service = header
            .service
            .as_deref()
            .map(strip)
            .filter(|s| !s.is_empty());
        if service.is_none() {
            self.stats.missing_service += 1;
        }
        let stack = (pending.lines > 0 && has_content(&pending.stack)).then_some(&pending.stack);
        self.push(Pushed {
            seq: pending.line,
            ts: header.ts,
            message: rstrip(&header.message),
            level,
            service: service.unwrap_or("unknown"),
            request: header.request.as_deref(),
            user: header.user.as_deref(),
            stack: stack.map(String::as_str),
            origin: None,
            duration: None,
            version: None,
            host: header.host.as_deref(),
        });
    }

    /// Count a rejected record whose line was already counted as read.
    fn count_reason(&mut self, line: u64, reason: Reason) {
        self.stats.read -= 1;
        self.reject(line, reason);
    }

    /// Count one record of line `line` that could not become an event.
    fn reject(&mut self, line: u64, reason: Reason) {
        self.stats.read += 1;
        self.stats.reasons[reason as usize] += 1;
        if self.stats.examples.len() < MAX_EXAMPLES {
            let origin = format!("{}:{}", self.config.source, line);
            self.stats
                .examples
                .push(format!("{origin} ({})", reason.text()));
        }
    }

    /// Read the lines of `data` (numbered from `next_line`) on up to `threads` threads; add the
    /// (line number, raw line) of the lines left to Python to `handed_back`, in line order.
    fn scan(&mut self, data: &[u8], handed_back: &mut Vec<(u64, Vec<u8>)>) {
        let block = scan_block(&self.config, data, self.max_line, true);
        let mut maps: Vec<IdMaps> = block.ids.iter().map(|ids| self.id_maps(ids)).collect();
        let mut line = self.next_line;
        for mut piece in block.pieces {
            let joined = self.join_leading(&mut piece);
            for &(row, instance) in &piece.leading[joined..] {
                let ts = piece.rows[row - joined].ts; // the joined rows, first, are gone
                piece.instances.see(instance, ts);
            }
            handed_back.extend(
                piece
                    .handed_back
                    .iter()
                    .map(|(index, range)| (line + index, data[range.clone()].to_vec())),
            );
            let lines = piece.lines;
            let worker = piece.worker;
            let renewed = piece.broke || joined < piece.leading.len();
            let open = piece.open_owner.is_some();
            self.absorb(
                piece,
                &mut maps[worker],
                &block.ids[worker],
                &Place::Lines(line),
            );
            if renewed {
                self.json_owner = open
                    .then(|| self.rows.last().map(|r| (r.ts, r.seq)))
                    .flatten();
            }
            line += lines;
        }
        self.next_line = line;
        self.maybe_compact();
    }

    /// Join the rows that open `piece` and continue the table's last row (see `scan`'s module
    /// doc) to that row, and take them out of the piece; how many joined.
    fn join_leading(&mut self, piece: &mut Piece) -> usize {
        let Some((owner_ts, owner_seq)) = self.json_owner else {
            return 0;
        };
        let joining: Vec<usize> = piece
            .leading
            .iter()
            .map(|&(row, _)| row)
            .take_while(|&row| (piece.rows[row].ts - owner_ts).abs() <= JOIN_GAP)
            .collect();
        // Compaction may have dropped the owner (an old line of an unordered file).
        let last = self.rows.len().wrapping_sub(1);
        if joining.is_empty() || self.rows.last().is_none_or(|row| row.seq != owner_seq) {
            return 0;
        }
        self.last = None;
        let mut text = self.text(&self.rows[last]);
        for &row in &joining {
            let range = piece.rows[row].text.clone();
            let line = std::str::from_utf8(&piece.text[range.start as usize..range.end as usize])
                .unwrap_or_default();
            if text.len() + line.len() + 1 > self.max_line {
                self.stats.continuation_dropped += 1;
                continue;
            }
            text.push('\n');
            text.push_str(line);
        }
        let (service, class, masked, _) = self.shapes[self.rows[last].shape as usize];
        let print = fingerprint(&text).map_or(NO_ID, |p| intern(&mut self.fingerprints, &p));
        let shape = self.shapes.insert_full((service, class, masked, print)).0 as u32;
        let (_, old) = text_at(&self.texts, self.rows[last].text_place());
        let place = self.store_text(shape, text.as_bytes());
        self.live_text -= old;
        let row = &mut self.rows[last];
        row.set_text_place(place);
        row.shape = shape;
        Self::count_joined(piece, joining.len());
        joining.len()
    }

    /// Take the first `count` rows of `piece` out as continuation records of the event before.
    fn count_joined(piece: &mut Piece, count: usize) {
        // The joined records were counted as events of their own by the piece.
        let stats = &mut piece.stats;
        let joined = count as u64;
        stats.read -= joined;
        stats.missing_level -= joined;
        stats.missing_service -= joined;
        stats.joined += joined;
        let mut index = 0;
        piece.rows.retain(|_| {
            index += 1;
            index > count
        });
    }

    /// The global ids of a worker's local strings and shapes (adding those not seen before).
    fn id_maps(&mut self, ids: &LocalIds) -> IdMaps {
        let services = remap(&mut self.services, &ids.services);
        let masked = remap(&mut self.masked, &ids.masked);
        let fingerprints = remap(&mut self.fingerprints, &ids.fingerprints);
        let shapes = ids
            .shapes
            .iter()
            .map(|&(service, class, message, print)| {
                let print = if print == NO_ID {
                    NO_ID
                } else {
                    fingerprints[print as usize]
                };
                let key = (
                    services[service as usize],
                    class,
                    masked[message as usize],
                    print,
                );
                self.shapes.insert_full(key).0 as u32
            })
            .collect();
        let (requests, users, request_hashes, user_hashes) = if self.sampler.is_some() {
            (
                vec![NO_ID; ids.requests.len()],
                vec![NO_ID; ids.users.len()],
                ids.requests.iter().map(id_hash).collect(),
                ids.users.iter().map(id_hash).collect(),
            )
        } else {
            (
                remap(&mut self.requests, &ids.requests),
                remap(&mut self.users, &ids.users),
                Vec::new(),
                Vec::new(),
            )
        };
        IdMaps {
            services,
            shapes,
            requests,
            users,
            versions: remap(&mut self.versions, &ids.versions),
            hosts: remap(&mut self.hosts, &ids.hosts),
            request_hashes,
            user_hashes,
        }
    }

    /// The global id of a kept row's local request id (`users`: user id), interned now if the
    /// sampler left it for later.
    fn global_id(&mut self, maps: &mut IdMaps, ids: &LocalIds, local: u32, users: bool) -> u32 {
        if local == NO_ID {
            return NO_ID;
        }
        let (map, strings, local_strings) = if users {
            (&mut maps.users, &mut self.users, &ids.users)
        } else {
            (&mut maps.requests, &mut self.requests, &ids.requests)
        };
        let slot = &mut map[local as usize];
        if *slot == NO_ID {
            *slot = intern(strings, &local_strings[local as usize]);
        }
        *slot
    }

    /// Count a row that passed floor and ceiling with the sampler, if any, and whether to keep
    /// it (`open`: it may still take continuation records); a row left out still counts toward
    /// the anchor and the newest time.
    fn admit(
        &mut self,
        ts: f64,
        seq: u64,
        shape: u32,
        open: bool,
        hashes: (Option<u64>, Option<u64>),
    ) -> bool {
        let Some(sampler) = &mut self.sampler else {
            return true;
        };
        let (request, user) = hashes;
        let full = sampler.in_full(shape, &self.shapes, &self.masked);
        let service = self.shapes[shape as usize].0;
        let hash = request.unwrap_or_else(|| seq_hash(seq));
        let kept = sampler.admit(ts, full, open, service, request, user, hash);
        if !kept {
            self.count_hour(ts);
            if self.newest.is_none_or(|newest| ts > newest) {
                self.newest = Some(ts);
            }
        }
        kept
    }

    /// Merge one scanned piece whose first line is `first_line`.
    fn absorb(&mut self, piece: Piece, maps: &mut IdMaps, ids: &LocalIds, place: &Place<'_>) {
        self.last = None;
        self.absorb_stats(&piece, place);
        self.dropped += piece.dropped;
        if let Some(ts) = piece.earliest {
            self.see(ts);
        }
        self.instances.absorb(
            &piece.instances,
            &maps.services,
            &maps.versions,
            &maps.hosts,
        );
        self.rows.reserve(piece.rows.len());
        let open = piece.open_owner.is_some();
        let last = piece.rows.len().wrapping_sub(1);
        for (index, row) in piece.rows.iter().enumerate() {
            let (seq, origin) = match place {
                Place::Lines(first) => (first + row.line, NO_ID),
                Place::Hits {
                    hit_of_line,
                    seqs,
                    origins,
                } => {
                    let hit = hit_of_line[row.line as usize];
                    (seqs[hit], origins[hit])
                }
            };
            let shape = maps.shapes[row.shape as usize];
            if self.sampler.is_some() {
                let hashed = |hashes: &[u64], id: u32| (id != NO_ID).then(|| hashes[id as usize]);
                let request = hashed(&maps.request_hashes, row.request);
                let user = hashed(&maps.user_hashes, row.user);
                if !self.admit(row.ts, seq, shape, open && index == last, (request, user)) {
                    continue;
                }
            }
            let text = &piece.text[row.text.start as usize..row.text.end as usize];
            let request = self.global_id(maps, ids, row.request, false);
            let user = self.global_id(maps, ids, row.user, true);
            let mut kept = Row::new(
                row.ts,
                seq,
                shape,
                request,
                user,
                origin,
                row.level,
                row.duration,
            );
            kept.set_text_place(self.store_text(shape, text));
            self.keep(kept);
        }
    }

    /// Read the hits of one search response (see `hits`): their sources go through the JSON
    /// scanner as lines; return what Python pages on, and the hits left to it.
    /// A page whose shards failed or timed out is not read (Python reports it); with `limit`,
    /// only the first `limit` hits are.
    pub fn scan_hits(
        &mut self,
        data: &[u8],
        max_line: usize,
        limit: Option<usize>,
    ) -> Result<HitsOut, String> {
        let mut page = parse_page(data)?;
        if page.shards_failed > 0 || page.timed_out {
            page.hits.clear();
        }
        if let Some(limit) = limit {
            page.hits.truncate(limit);
        }
        let (lines, hit_of_line) = source_lines(data, &page);
        let seqs: Vec<u64> = page.hits.iter().map(|hit| hit_seq(&hit.id)).collect();
        let origins: Vec<u32> = page.hits.iter().map(|hit| self.hit_origin(hit)).collect();
        let mut handed_back: Vec<(u64, String, Option<Vec<u8>>)> = page
            .hits
            .iter()
            .enumerate()
            .filter(|(_, hit)| hit.source.is_none())
            .map(|(index, _)| {
                (
                    seqs[index],
                    self.origin_text(origins[index], seqs[index]),
                    None,
                )
            })
            .collect();
        self.ordered_by_origin = true;
        let block = scan_block(&self.config, &lines, max_line, false);
        let mut maps: Vec<IdMaps> = block.ids.iter().map(|ids| self.id_maps(ids)).collect();
        let mut first = 0_usize;
        for piece in block.pieces {
            for (index, range) in &piece.handed_back {
                let hit = hit_of_line[first + *index as usize];
                let source = lines[range.clone()].to_vec();
                let origin = self.origin_text(origins[hit], seqs[hit]);
                handed_back.push((seqs[hit], origin, Some(source)));
            }
            let count = piece.lines as usize;
            let worker = piece.worker;
            let place = Place::Hits {
                hit_of_line: &hit_of_line[first..first + count],
                seqs: &seqs,
                origins: &origins,
            };
            self.absorb(piece, &mut maps[worker], &block.ids[worker], &place);
            first += count;
        }
        self.maybe_compact();
        Ok(HitsOut {
            hits: page.hits.len(),
            last_sort: page.last_sort.map(|span| data[span].to_vec()),
            pit_id: page.pit_id,
            shards_failed: page.shards_failed,
            timed_out: page.timed_out,
            handed_back,
        })
    }

    fn absorb_stats(&mut self, piece: &Piece, place: &Place<'_>) {
        let found = &piece.stats;
        for &(index, reason) in &found.examples {
            if self.stats.examples.len() < MAX_EXAMPLES {
                let origin = match place {
                    Place::Lines(first) => self.origin_text(NO_ID, first + index),
                    Place::Hits {
                        hit_of_line,
                        seqs,
                        origins,
                    } => {
                        let hit = hit_of_line[index as usize];
                        self.origin_text(origins[hit], seqs[hit])
                    }
                };
                self.stats
                    .examples
                    .push(format!("{origin} ({})", reason.text()));
            }
        }
        let stats = &mut self.stats;
        stats.read += found.read;
        for (total, count) in stats.reasons.iter_mut().zip(found.reasons) {
            *total += count;
        }
        stats.missing_level += found.missing_level;
        stats.missing_service += found.missing_service;
        stats.joined += found.joined;
        stats.continuation_dropped += found.continuation_dropped;
        if stats.inner_formats.len() < found.inner_formats.len() {
            stats.inner_formats.resize(found.inner_formats.len(), 0);
        }
        for (total, count) in stats.inner_formats.iter_mut().zip(&found.inner_formats) {
            *total += count;
        }
    }

    /// Add one normalized event (from Python, or a text line read here).
    pub fn push(&mut self, event: Pushed<'_>) {
        let Pushed {
            seq,
            ts,
            message,
            level,
            service,
            request,
            user,
            stack,
            origin,
            duration,
            version,
            host,
        } = event;
        self.last = None;
        self.see(ts);
        if self.config.out_of_bounds(ts) {
            self.dropped += 1;
            return;
        }
        let class = level_class(level);
        let service = intern(&mut self.services, service);
        let masked = intern(&mut self.masked, &mask(message, class == 0));
        let mut text = String::from(message);
        let print = match stack {
            Some(stack) => {
                text.push('\n');
                text.push_str(stack);
                fingerprint(&text).map_or(NO_ID, |print| intern(&mut self.fingerprints, &print))
            }
            None => NO_ID,
        };
        let shape = self.shapes.insert_full((service, class, masked, print)).0 as u32;
        let version = version.map_or(NO_ID, |text| intern(&mut self.versions, text));
        let host = host.map_or(NO_ID, |text| intern(&mut self.hosts, text));
        self.instances.see((service, version, host), ts);
        let hashes = (request.map(id_hash), user.map(id_hash));
        if self.sampler.is_some() && !self.admit(ts, seq, shape, false, hashes) {
            return;
        }
        let place = self.store_text(shape, text.as_bytes());
        let origin = match origin {
            Some(origin) => {
                self.origins.push(Box::from(origin));
                (self.origins.len() - 1) as u32
            }
            None => NO_ID,
        };
        let request = request.map_or(NO_ID, |id| intern(&mut self.requests, id));
        let user = user.map_or(NO_ID, |id| intern(&mut self.users, id));
        let mut row = Row::new(ts, seq, shape, request, user, origin, level, pack(duration));
        row.set_text_place(place);
        self.keep(row);
        self.maybe_compact();
    }

    /// Count a valid row's time toward `earliest` (strictly earlier replaces, as in `cut`).
    pub(super) fn see(&mut self, ts: f64) {
        if self.earliest.is_none_or(|earliest| ts < earliest) {
            self.earliest = Some(ts);
        }
    }

    /// Keep a row that passed floor and ceiling.
    pub(super) fn keep(&mut self, row: Row) {
        self.count_hour(row.ts);
        self.place(row);
    }

    /// Keep a row whose hour is counted already (a merged partial brings its hours along).
    pub(super) fn place(&mut self, row: Row) {
        if self.newest.is_none_or(|newest| row.ts > newest) {
            self.newest = Some(row.ts);
        }
        self.rows.push(row);
    }

    /// The kept events per clock hour: (hour, events, oldest time, newest time), in no order.
    pub(super) fn hour_counts(&self) -> impl ExactSizeIterator<Item = (i64, u64, f64, f64)> + '_ {
        self.hours
            .iter()
            .map(|h| (h.hour, h.count, h.oldest, h.newest))
    }

    /// Count `count` events kept elsewhere in clock hour `hour`, between `oldest` and `newest`
    /// (they decide the anchor as if this table had kept them).
    pub(super) fn add_hour(&mut self, hour: i64, count: u64, oldest: f64, newest: f64) {
        let slot = *self.hour_index.entry(hour).or_insert_with(|| {
            self.hours.push(Hour {
                hour,
                count: 0,
                oldest,
                newest,
            });
            self.hours.len() - 1
        });
        let entry = &mut self.hours[slot];
        entry.count += count;
        entry.oldest = entry.oldest.min(oldest);
        entry.newest = entry.newest.max(newest);
        if self.newest.is_none_or(|kept| newest > kept) {
            self.newest = Some(newest);
        }
    }

    /// Count a kept event in its clock hour (rows arrive mostly in time order: the hour of the
    /// last row is checked first).
    fn count_hour(&mut self, ts: f64) {
        if !ts.is_finite() {
            return;
        }
        let hour = (ts / 3600.0).floor() as i64;
        let slot = match self.hours.get(self.last_hour) {
            Some(last) if last.hour == hour => self.last_hour,
            _ => *self.hour_index.entry(hour).or_insert_with(|| {
                self.hours.push(Hour {
                    hour,
                    count: 0,
                    oldest: ts,
                    newest: ts,
                });
                self.hours.len() - 1
            }),
        };
        let entry = &mut self.hours[slot];
        entry.count += 1;
        entry.oldest = entry.oldest.min(ts);
        entry.newest = entry.newest.max(ts);
        self.last_hour = slot;
    }

    /// The kept events' hours in time order.
    fn sorted_hours(&self) -> Vec<Hour> {
        let mut hours = self.hours.clone();
        hours.sort_unstable_by_key(|h| h.hour);
        hours
    }

    /// Where a window without an end should end: the newest kept event outside a detached tail
    /// (see `anchor_hours`); None when nothing was kept.
    pub fn anchor(&self) -> Option<Anchor> {
        if self.hours.is_empty() {
            return None;
        }
        let hours = self.sorted_hours();
        let (newest, _) = anchor_hours(&hours, self.clock_hour());
        let time = hours[newest].newest;
        let tail = &hours[newest + 1..];
        let first = tail.first().map(|h| h.oldest);
        Some(Anchor {
            time,
            detached: tail.iter().map(|h| h.count).sum(),
            detached_first: first,
            silence: first.map_or(0.0, |first| first - time),
        })
    }

    /// Append `encoded`, with its length first, to the open chunk; return its place.
    fn push_text(&mut self, encoded: &[u8]) -> u64 {
        let mut header = Vec::with_capacity(10);
        packed::push_varint(&mut header, encoded.len() as u64);
        let size = header.len() + encoded.len();
        let chunk = match self.open_chunk {
            Some(chunk) if self.texts[chunk as usize].len() + size <= CHUNK_BYTES => chunk,
            _ => {
                // Unreachable in practice: a terabyte of encoded texts does not fit in memory.
                assert!(self.texts.len() < MAX_CHUNKS, "too many texts for a table");
                self.texts.push(Vec::new());
                let chunk = (self.texts.len() - 1) as u32;
                self.open_chunk = Some(chunk);
                chunk
            }
        };
        let bytes = &mut self.texts[chunk as usize];
        let start = bytes.len();
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(encoded);
        self.live_text += size;
        self.total_text += size;
        (u64::from(chunk) << CHUNK_SHIFT) | start as u64
    }

    /// Keep `text`, that of a row of shape `shape`, encoded against the shape's reference (the
    /// first text of the shape kept); return its place (`Row::text_place`).
    pub(super) fn store_text(&mut self, shape: u32, text: &[u8]) -> u64 {
        let index = shape as usize;
        if self.refs.len() <= index {
            self.refs.resize(index + 1, None);
        }
        let reference = self.refs[index].get_or_insert_with(|| text.into());
        let mut encoded = std::mem::take(&mut self.encoded);
        encoded.clear();
        packed::encode(reference, text, &mut encoded);
        let place = self.push_text(&encoded);
        self.encoded = encoded;
        place
    }

    /// Append the text of a row (message, or message + "\n" + stack) to `out`.
    pub fn text_into(&self, row: &Row, out: &mut Vec<u8>) {
        let (bytes, _) = text_at(&self.texts, row.text_place());
        let reference = self.refs[row.shape as usize].as_deref().unwrap_or_default();
        let whole = packed::decode(reference, bytes, out);
        debug_assert!(
            whole,
            "a row's text is encoded against its shape's reference"
        );
    }

    /// The text of a row (message, or message + "\n" + stack).
    pub fn text(&self, row: &Row) -> String {
        let mut bytes = Vec::new();
        self.text_into(row, &mut bytes);
        // Texts are only ever copied from &str, and come back byte for byte.
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// The origin of a row ("{source}:{line}" for rows read from JSON).
    pub fn origin(&self, row: &Row) -> String {
        self.origin_text(row.origin, row.seq)
    }

    /// The text of a row origin (see `Row::origin`) for an event of input order `seq`.
    fn origin_text(&self, origin: u32, seq: u64) -> String {
        match origin {
            NO_ID => format!("{}:{}", self.config.source, seq),
            stem if stem & STEM != 0 => {
                let (text, digits) = &self.stems[(stem & !STEM) as usize];
                format!("{text}{seq:0digits$}")
            }
            index => self.origins[index as usize].to_string(),
        }
    }

    /// The row origin of a hit: `{index}/{id}`, as a stem when its id ends with its seq.
    fn hit_origin(&mut self, hit: &HitRef) -> u32 {
        if let Some((stem, digits)) = id_stem(&hit.id) {
            let text = Box::from(format!("{}/{stem}", hit.index));
            return STEM | self.stems.insert_full((text, digits)).0 as u32;
        }
        self.origins
            .push(Box::from(format!("{}/{}", hit.index, hit.id)));
        (self.origins.len() - 1) as u32
    }

    /// With a lookback, drop rows older than `newest - lookback` once the table has doubled
    /// since the last compaction (amortized O(1) per row); rewrite the texts once they are
    /// mostly garbage.
    ///
    /// The anchor is not known until the end, and a detached tail must not make the table
    /// forget the bulk: rows are dropped only when older than the start of the bulk's newest
    /// hour (the hour of its 99th percentile, which no anchor can precede) minus the lookback.
    pub(super) fn maybe_compact(&mut self) {
        self.maybe_thin();
        let Some(lookback) = self.lookback else {
            return;
        };
        if self.rows.len() < self.compact_at || self.hours.is_empty() {
            return;
        }
        let hours = self.sorted_hours();
        let (_, bulk) = anchor_hours(&hours, self.clock_hour());
        let cutoff = hours[bulk].hour as f64 * 3600.0 - lookback;
        self.dropped += self.drop_rows(|row| row.ts < cutoff);
        self.compact_at = (2 * self.rows.len()).max(MIN_COMPACTION_ROWS);
    }

    /// While sampling: when the sampler's level rises, drop the rows below it (but the one
    /// that may still take continuation records).
    fn maybe_thin(&mut self) {
        if self.sampler.as_mut().and_then(Sampler::tighten).is_some() {
            self.thin(self.json_owner.map(|(_, seq)| seq));
        }
    }

    /// At the end of the input: drop the rows below the sampler's level that were kept while
    /// they could take continuation records (their final shape is known now).
    pub fn finish_sample(&mut self) {
        if self.sampler.is_some() {
            self.thin(None);
        }
    }

    /// Drop the rows of sampled shapes below the sampler's level, but the row of seq `spare`.
    pub(super) fn thin(&mut self, spare: Option<u64>) {
        let Some(mut sampler) = self.sampler.take() else {
            return;
        };
        let hashes = &mut sampler.request_hashes;
        let requests = &self.requests;
        hashes.extend((hashes.len()..requests.len()).map(|id| id_hash(&requests[id])));
        // Joins may have made shapes no row was admitted with.
        let full: Vec<bool> = (0..self.shapes.len() as u32)
            .map(|shape| sampler.in_full(shape, &self.shapes, &self.masked))
            .collect();
        self.drop_rows(|row| {
            let hash = match row.request {
                NO_ID => seq_hash(row.seq),
                id => sampler.request_hashes[id as usize],
            };
            Some(row.seq) != spare && !sampler.keeps(full[row.shape as usize], hash)
        });
        self.sampler = Some(sampler);
    }

    /// Drop the rows `stale` picks (in row order) and free their texts (rewritten once mostly
    /// garbage); how many were dropped.
    fn drop_rows(&mut self, mut stale: impl FnMut(&Row) -> bool) -> u64 {
        let before = self.rows.len();
        let mut freed = 0;
        let texts = &self.texts;
        self.rows.retain(|row| {
            let gone = stale(row);
            freed += if gone {
                text_at(texts, row.text_place()).1
            } else {
                0
            };
            !gone
        });
        if self.rows.len() < before {
            self.last = None;
        }
        self.live_text -= freed;
        if self.total_text - self.live_text > self.live_text {
            self.rewrite_texts();
        }
        (before - self.rows.len()) as u64
    }

    /// Copy the texts of the live rows into fresh chunks.
    fn rewrite_texts(&mut self) {
        let old = std::mem::take(&mut self.texts);
        let mut current: Vec<u8> = Vec::new();
        for row in &mut self.rows {
            let place = row.text_place();
            let (_, size) = text_at(&old, place);
            let start = (place as usize) & (CHUNK_BYTES - 1);
            let bytes = &old[(place >> CHUNK_SHIFT) as usize][start..start + size];
            if current.len() + bytes.len() > CHUNK_BYTES {
                self.texts.push(std::mem::take(&mut current));
            }
            let chunk = self.texts.len() as u64;
            row.set_text_place((chunk << CHUNK_SHIFT) | current.len() as u64);
            current.extend_from_slice(bytes);
        }
        self.texts.push(current);
        self.open_chunk = None;
        self.total_text = self.live_text;
    }

    /// The reason counts as (reason text, count) for reasons seen.
    pub fn reasons(&self) -> Vec<(&'static str, u64)> {
        Reason::ALL
            .iter()
            .zip(self.stats.reasons)
            .filter(|(_, count)| *count > 0)
            .map(|(reason, count)| (reason.text(), count))
            .collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::table::record::tests::plan;
    use crate::table::record::Levels;

    /// A table of "app.log" that knows the usual level names (also for `export`'s tests).
    pub(in crate::table) fn table(lookback: Option<f64>, threads: usize) -> Table {
        let names: Vec<(String, String)> = [
            ("info", "info"),
            ("error", "error"),
            ("warn", "warn"),
            ("debug", "debug"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let config = Config {
            plan: plan(),
            levels: Levels::new(&names).unwrap(),
            source: "app.log".into(),
            floor: None,
            ceiling: None,
            threads,
            text: None,
        };
        Table::new(config, lookback)
    }

    #[test]
    fn scans_counts_and_hands_back() {
        let data = concat!(
            "{\"ts\":1700000100,\"message\":\"a\",\"level\":\"error\",\"service\":\"api\",\"request_id\":\"r1\"}\n",
            "   \n",
            "not json\n",
            "[1]\n",
            "{\"ts\":1700000040,\"message\":\"a\",\"level\":\"verbose2\"}\n",
            "{\"message\":\"no time\"}\n",
            "{\"ts\":1700000041,\"message\":\"a\",\"level\":\"error\",\"service\":\"api\",\"request_id\":\"r1\"}\n",
        );
        let mut table = table(None, 2);
        table.next_line = 10;
        // Cut inside a line: its start waits for the next call.
        let (head, tail) = data.as_bytes().split_at(100);
        let mut handed = table.scan_json(head, DEFAULT_MAX_LINE);
        handed.extend(table.scan_json(tail, DEFAULT_MAX_LINE));
        assert!(table.end_json().is_empty());
        assert_eq!(
            handed,
            vec![(
                14,
                b"{\"ts\":1700000040,\"message\":\"a\",\"level\":\"verbose2\"}".to_vec()
            )]
        );
        assert_eq!(table.next_line, 17);
        assert_eq!(table.stats.read, 5);
        assert_eq!(table.stats.reasons, [1, 1, 1, 0, 0, 0, 0]);
        assert_eq!(
            table.stats.examples,
            [
                "app.log:12 (invalid JSON)",
                "app.log:13 (not a JSON object)",
                "app.log:15 (no timestamp)"
            ]
        );
        assert_eq!(table.stats.missing_level, 0);
        assert_eq!(
            (table.earliest, table.newest),
            (Some(1700000041.0), Some(1700000100.0))
        );
        table.push(Pushed {
            seq: 14,
            ts: 1700000040.0,
            message: "a",
            level: 1,
            service: "api",
            request: None,
            user: Some("u"),
            stack: None,
            origin: Some("app.log:14"),
            duration: None,
            version: None,
            host: None,
        });
        let out = table.aggregate(0.0, 1700000041.0, 1700000180.0, 5);
        assert_eq!(out.outside, 0);
        assert_eq!(out.events, 2);
        assert_eq!(out.requests, 1);
        assert_eq!(out.requests_per_minute, vec![(28333334, 1), (28333335, 1)]);
        let shapes: Vec<(u64, u64, u64)> = out
            .shapes
            .iter()
            .map(|s| (s.first_position, s.count, s.baseline_count))
            .collect();
        assert_eq!(shapes, vec![(0, 0, 1), (1, 2, 0)]);
        assert_eq!(
            table.first_rows(&out.shapes[1].requests),
            vec![(0, 1700000041.0, 1)]
        );
        assert_eq!(out.shapes[1].samples.len(), 2);
    }

    #[test]
    fn measures_hops_inside_requests_with_the_baseline() {
        let mut table = table(None, 1);
        let events = [
            // (seq, ts, message, request): two requests in the baseline, two in the window.
            (0, 10.0, "call", "r1"),
            (1, 10.5, "answer", "r1"),
            (2, 20.0, "call", "r2"),
            (3, 21.0, "answer", "r2"),
            (4, 100.0, "call", "r3"),
            (5, 104.0, "answer", "r3"),
            (6, 110.0, "unrelated", "r4"),
        ];
        for (seq, ts, message, request) in events {
            table.push(Pushed {
                seq,
                ts,
                message,
                level: 1,
                service: "api",
                request: Some(request),
                user: None,
                stack: None,
                origin: Some("o"),
                duration: None,
                version: None,
                host: None,
            });
        }
        let out = table.aggregate(0.0, 60.0, 200.0, 5);
        assert_eq!((out.baseline_events, out.baseline_requests), (4, 2));
        assert_eq!(out.baseline_first, Some(10.0));
        assert_eq!(out.hops.len(), 1);
        let hop = &out.hops[0];
        assert_eq!((hop.from, hop.to), (0, 1));
        let timings = &hop.timings;
        assert_eq!((timings.baseline_count, timings.window_count), (2, 1));
        let gaps = |sample: &[(f64, u32)]| sample.iter().map(|g| g.0).collect::<Vec<_>>();
        assert_eq!(gaps(&timings.baseline), vec![0.5, 1.0]);
        assert_eq!(gaps(&timings.window), vec![4.0]);
        assert_eq!(out.shapes[0].baseline_per_minute, vec![(0, 2)]);
        // Without baseline rows, hops are not measured.
        assert!(table.aggregate(60.0, 60.0, 200.0, 5).hops.is_empty());
    }

    #[test]
    fn keeps_a_cut_line_until_its_end_or_the_end_of_input() {
        let mut table = table(None, 1);
        let line = b"{\"ts\":1700000040,\"message\":\"a\",\"level\":\"verbose2\"}";
        assert!(table.scan_json(&line[..10], DEFAULT_MAX_LINE).is_empty());
        assert!(table.scan_json(&line[10..20], DEFAULT_MAX_LINE).is_empty());
        assert_eq!(table.next_line, 1);
        assert!(table.scan_json(&line[20..], DEFAULT_MAX_LINE).is_empty());
        assert_eq!(table.end_json(), vec![(1, line.to_vec())]);
        assert_eq!(table.next_line, 2);
        assert!(table.end_json().is_empty());
    }

    #[test]
    fn lookback_bounds_the_rows_and_keeps_their_texts() {
        let mut table = table(Some(100.0), 1);
        let total = 3 * MIN_COMPACTION_ROWS;
        for seq in 0..total {
            let message = format!("event {seq}");
            table.push(Pushed {
                seq: seq as u64,
                ts: seq as f64,
                message: &message,
                level: 1,
                service: "api",
                request: None,
                user: None,
                stack: Some("  at x"),
                origin: Some("o"),
                duration: None,
                version: None,
                host: None,
            });
        }
        assert!(table.rows.len() < 2 * MIN_COMPACTION_ROWS);
        assert_eq!(table.rows.len() as u64 + table.dropped, total as u64);
        let last = *table.rows.last().unwrap();
        assert_eq!(table.text(&last), format!("event {}\n  at x", total - 1));
        let first = table.rows[0];
        assert_eq!(table.text(&first), format!("event {}\n  at x", first.seq));
    }

    fn push_at(table: &mut Table, seq: u64, ts: f64) {
        table.push(Pushed {
            seq,
            ts,
            message: "tick",
            level: 1,
            service: "api",
            request: None,
            user: None,
            stack: None,
            origin: Some("o"),
            duration: None,
            version: None,
            host: None,
        });
    }

    #[test]
    fn long_lines_are_counted_and_never_held() {
        let mut table = table(None, 1);
        let cap = 64;
        let good = "{\"ts\":1700000000,\"message\":\"ok\"}";
        let long = format!("{{\"ts\":1700000000,\"message\":\"{}\"}}", "x".repeat(200));
        let blank = " ".repeat(300);
        let data = format!("{good}\n{long}\n\u{feff}{good}\n{blank}\n{long}\n{good}\n{long}");
        for chunk in data.as_bytes().chunks(7) {
            assert!(table.scan_json(chunk, cap).is_empty());
            assert!(table.partial.len() <= cap);
        }
        assert!(table.end_json().is_empty());
        assert_eq!(table.next_line, 8);
        assert_eq!(table.rows.len(), 3);
        assert_eq!(table.stats.reasons[Reason::TooLong as usize], 3);
        assert_eq!(
            table.stats.examples,
            [
                "app.log:2 (line too long)",
                "app.log:5 (line too long)",
                "app.log:7 (line too long)"
            ]
        );
        // Whole lines inside one block are judged the same way.
        let mut whole = table_with(None, 2);
        assert!(whole.scan_json(data.as_bytes(), cap).is_empty());
        whole.end_json();
        assert_eq!(whole.stats.reasons, table.stats.reasons);
        assert_eq!(whole.stats.examples, table.stats.examples);
    }

    fn table_with(lookback: Option<f64>, threads: usize) -> Table {
        table(lookback, threads)
    }

    #[test]
    fn a_detached_tail_does_not_anchor() {
        let bulk = 1_700_000_000.0;
        let mut table = table(None, 1);
        for seq in 0..5000 {
            push_at(&mut table, seq, bulk + seq as f64);
        }
        assert_eq!(table.anchor().unwrap().detached, 0);
        push_at(&mut table, 5000, bulk + 365.0 * 86_400.0);
        push_at(&mut table, 5001, bulk + 2.0 * 86_400.0);
        let anchor = table.anchor().unwrap();
        assert_eq!(anchor.time, bulk + 4999.0);
        assert_eq!(anchor.detached, 2);
        assert_eq!(anchor.detached_first, Some(bulk + 2.0 * 86_400.0));
        // Six empty hours are not yet a detached tail.
        let mut near = table_with(None, 1);
        for seq in 0..5000 {
            push_at(&mut near, seq, bulk + seq as f64);
        }
        push_at(&mut near, 5000, bulk + 4999.0 + 6.0 * 3600.0);
        assert_eq!(near.anchor().unwrap().detached, 0);
    }

    #[test]
    fn a_minority_from_the_future_does_not_anchor() {
        let bulk = 1_700_000_000.0;
        let mut table = table(None, 1);
        for seq in 0..5000 {
            push_at(&mut table, seq, bulk + seq as f64);
        }
        for seq in 5000..5400 {
            push_at(&mut table, seq, bulk + 365.0 * 86_400.0 + seq as f64);
        }
        // Too many for a detached tail by count alone (8%): the clock decides.
        assert_eq!(table.anchor().unwrap().detached, 0);
        table.now = Some(bulk + 86_400.0);
        let anchor = table.anchor().unwrap();
        assert_eq!((anchor.time, anchor.detached), (bulk + 4999.0, 400));
        // Input that lies wholly in the future (replayed, or a wrong clock) is its own bulk.
        table.now = Some(bulk - 30.0 * 86_400.0);
        assert_eq!(table.anchor().unwrap().detached, 0);
    }

    #[test]
    fn a_future_line_first_does_not_make_compaction_forget_the_bulk() {
        let bulk = 1_700_000_000.0;
        let mut table = table(Some(600.0), 1);
        push_at(&mut table, 0, bulk + 365.0 * 86_400.0);
        let total = 3 * MIN_COMPACTION_ROWS;
        for seq in 1..total {
            push_at(&mut table, seq as u64, bulk + seq as f64 / 10.0);
        }
        let anchor = table.anchor().unwrap();
        assert_eq!(anchor.time, bulk + (total - 1) as f64 / 10.0);
        let out = table.aggregate(
            anchor.time - 600.0,
            anchor.time - 300.0,
            anchor.time + 1.0,
            1,
        );
        assert_eq!(out.events + out.baseline_events, 6001);
        assert!(table.rows.len() < 2 * MIN_COMPACTION_ROWS);
    }
}
