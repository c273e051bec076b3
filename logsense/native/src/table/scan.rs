//! The per-line work of `EventTable.scan_json`. A data block is cut into pieces of whole lines
//! that worker threads take in turn; each piece becomes compact rows whose strings are ids into
//! its worker's `LocalIds`. `store` maps those ids to the table's and merges pieces in line
//! order.
//!
//! A container runtime ships each line a program writes as its own record (`{"log": …}`), so a
//! stack trace after a log line arrives as records with no level, service or log-line header of
//! their own. In a file, such a record *continues* the event before it when that event's message
//! was a whole log line and the two are at most `JOIN_GAP` seconds apart: it joins that event's
//! stack, as a continuation line of a text file does. Records at the start of a piece that
//! could continue the previous piece's last event are kept as rows and listed in
//! `Piece::leading`; `store` joins them when it merges the pieces in order.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use ahash::AHashMap;

use super::instances::{InstanceKey, Instances};
use super::json_scan::{self, Doc, Kind};
use super::record::{
    level_class, level_rank, Draft, FieldPlan, Levels, Outcome, Reason, RecordReader,
};
use super::strings::{intern, ShapeKey, Shapes, Strings, NO_ID};
use super::text::{Scratch, TextFormats};
use crate::durations::pack;
use crate::masking::mask;
use crate::pytext::{has_content, is_blank_bytes, rstrip, strip};
use crate::stacktrace::fingerprint;

/// How many malformed-record examples are kept (`_MAX_EXAMPLES`).
pub const MAX_EXAMPLES: usize = 3;
/// Pieces smaller than this are not worth a thread of their own.
const MIN_PIECE: usize = 256 * 1024;
/// The UTF-8 byte order mark, ignored at the start of a line (of a file, or of files joined).
pub const BOM: &[u8] = b"\xef\xbb\xbf";
/// Continuation records are at most this many seconds from the event they continue.
pub const JOIN_GAP: f64 = 2.0;
/// A block is cut in this many pieces per thread, which threads take in turn: a thread that
/// drew cheap lines takes more pieces instead of waiting for the others.
const PIECES_PER_THREAD: usize = 4;

/// What every worker needs to read lines: fixed when the table is made.
pub struct Config {
    pub plan: FieldPlan,
    pub levels: Levels,
    pub source: String,
    pub floor: Option<f64>,
    pub ceiling: Option<f64>,
    pub threads: usize,
    /// The text formats (text inputs; for JSON, messages that are whole log lines).
    pub text: Option<TextFormats>,
}

impl Config {
    /// True when a row at `ts` is dropped on arrival (before `floor` or at/after `ceiling`).
    pub fn out_of_bounds(&self, ts: f64) -> bool {
        self.floor.is_some_and(|floor| ts < floor)
            || self.ceiling.is_some_and(|ceiling| ts >= ceiling)
    }
}

/// One event of a piece, with worker-local ids.
pub struct PieceRow {
    pub ts: f64,
    /// Line index inside the piece (0 for its first line).
    pub line: u64,
    pub shape: u32,
    pub level: u8,
    /// The event's own duration (`durations::pack`; 0: none).
    pub duration: u16,
    pub request: u32,
    pub user: u32,
    /// Message (and "\n" + stack) in `Piece::text`.
    pub text: Range<u32>,
}

/// Counts of what a piece could not use or had to guess.
#[derive(Default)]
pub struct PieceStats {
    pub read: u64,
    pub reasons: [u64; Reason::ALL.len()],
    /// (line index, reason) of the first rejected records.
    pub examples: Vec<(u64, Reason)>,
    pub missing_level: u64,
    pub missing_service: u64,
    /// Events whose message was read as a log line, per format (`TextFormats::names`).
    pub inner_formats: Vec<u64>,
    /// Continuation records joined to the event before them, and those dropped from an event
    /// that reached the line cap.
    pub joined: u64,
    pub continuation_dropped: u64,
}

/// The strings and shapes one worker met in one block; its pieces' rows refer to them.
#[derive(Default)]
pub struct LocalIds {
    pub services: Strings,
    pub masked: Strings,
    pub fingerprints: Strings,
    pub requests: Strings,
    pub users: Strings,
    pub versions: Strings,
    pub hosts: Strings,
    pub shapes: Shapes,
}

/// Everything one piece of a block became.
#[derive(Default)]
pub struct Piece {
    /// Lines in the piece (blank ones included).
    pub lines: u64,
    pub rows: Vec<PieceRow>,
    pub text: Vec<u8>,
    pub stats: PieceStats,
    /// (line index, byte range in the block) of lines left to Python.
    pub handed_back: Vec<(u64, Range<usize>)>,
    /// Earliest timestamp of every event, dropped ones included.
    pub earliest: Option<f64>,
    /// Events dropped on arrival by floor or ceiling.
    pub dropped: u64,
    /// The worker whose `LocalIds` the rows use.
    pub worker: usize,
    /// Rows (indices into `rows`, with their instances) of the records that open the piece and
    /// could continue the event before it (see the module's doc); their records alone came
    /// before them.
    pub leading: Vec<(usize, InstanceKey)>,
    /// The service instances of the piece's rows (worker-local ids).
    pub instances: Instances,
    /// Whether a record other than `leading` ones was read (the event before no longer takes
    /// continuations).
    pub broke: bool,
    /// The time of the piece's last row when it takes continuations still.
    pub open_owner: Option<f64>,
    /// Where the piece starts in the block (orders the pieces).
    first_byte: usize,
}

/// A scanned block: its pieces in line order and the ids of each worker.
pub struct Block {
    pub pieces: Vec<Piece>,
    pub ids: Vec<LocalIds>,
}

/// Whether a line (without its newline) is blank: only ASCII whitespace after an optional BOM.
pub fn is_blank_line(line: &[u8]) -> bool {
    is_blank_bytes(line.strip_prefix(BOM).unwrap_or(line))
}

/// Scan `data` on `config.threads` threads; lines longer than `max_line` bytes (without their
/// newline) that are not blank are rejected as too long.
/// With `join`, records that continue the event before them join it (files, not search hits,
/// whose order is not the input's).
pub fn scan_block(config: &Config, data: &[u8], max_line: usize, join: bool) -> Block {
    let threads = config.threads;
    let pieces = if threads > 1 {
        threads * PIECES_PER_THREAD
    } else {
        1
    };
    let ranges = split(data, pieces);
    let next = AtomicUsize::new(0);
    let work = |worker: usize| {
        let mut scanner = Scanner::new(config, max_line, join);
        let mut done = Vec::new();
        while let Some(range) = ranges.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push(scanner.piece(data, range.clone(), worker));
        }
        (done, scanner.ids)
    };
    let workers = threads.min(ranges.len()).max(1);
    let results: Vec<(Vec<Piece>, LocalIds)> = if workers == 1 {
        vec![work(0)]
    } else {
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..workers)
                .map(|worker| scope.spawn(move || work(worker)))
                .collect();
            let mut results = vec![work(0)];
            results.extend(
                helpers
                    .into_iter()
                    .map(|helper| helper.join().expect("scan worker panicked")),
            );
            results
        })
    };
    let mut pieces = Vec::with_capacity(ranges.len());
    let mut ids = Vec::with_capacity(results.len());
    for (done, local) in results {
        pieces.extend(done);
        ids.push(local);
    }
    pieces.sort_unstable_by_key(|piece| piece.first_byte);
    Block { pieces, ids }
}

/// The byte ranges of up to `count` pieces of `data`, each made of whole lines.
fn split(data: &[u8], count: usize) -> Vec<Range<usize>> {
    let count = count.clamp(1, (data.len() / MIN_PIECE).max(1));
    let mut pieces = Vec::with_capacity(count);
    let mut start = 0;
    for index in 1..count {
        let target = (data.len() * index / count).max(start);
        let end = memchr::memchr(b'\n', &data[target..]).map_or(data.len(), |at| target + at + 1);
        pieces.push(start..end);
        start = end;
    }
    pieces.push(start..data.len());
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

/// One worker's reading state for one block.
struct Scanner<'c, 'd> {
    config: &'c Config,
    max_line: usize,
    doc: Doc,
    records: RecordReader<'c>,
    /// Masked-message ids of messages seen in this block: exact repeats skip masking.
    masked_by_message: AHashMap<(&'d str, bool), u32>,
    ids: LocalIds,
    /// The piece being read.
    piece: Piece,
    scratch: Scratch,
    join: bool,
    /// The event that takes continuation records (see the module's doc), while it does.
    owner: Option<Owner>,
}

/// A row of the piece being read whose message was a whole log line, while continuation
/// records may follow it: its index in `Piece::rows`, its time, whether any joined it.
struct Owner {
    row: usize,
    ts: f64,
    joined: bool,
}

impl<'c, 'd> Scanner<'c, 'd> {
    fn new(config: &'c Config, max_line: usize, join: bool) -> Self {
        Self {
            config,
            max_line,
            doc: Doc::default(),
            records: RecordReader::new(&config.plan, &config.levels),
            masked_by_message: AHashMap::new(),
            ids: LocalIds::default(),
            piece: Piece::default(),
            scratch: Scratch::default(),
            join,
            owner: None,
        }
    }

    /// Read the lines of `data[range]`.
    fn piece(&mut self, data: &'d [u8], range: Range<usize>, worker: usize) -> Piece {
        self.piece = Piece {
            worker,
            first_byte: range.start,
            ..Piece::default()
        };
        let mut start = range.start;
        let mut index = 0;
        while start < range.end {
            if data[start] == b'\n' {
                // Empty lines cost a comparison: a flood of them must not cost more.
                index += 1;
                start += 1;
                continue;
            }
            let end =
                memchr::memchr(b'\n', &data[start..range.end]).map_or(range.end, |at| start + at);
            self.line(data, start..end, index);
            index += 1;
            start = end + 1;
        }
        self.piece.lines = index;
        self.piece.open_owner = self.owner.as_ref().map(|owner| owner.ts);
        self.close_owner();
        std::mem::take(&mut self.piece)
    }

    fn line(&mut self, data: &'d [u8], range: Range<usize>, index: u64) {
        let whole = &data[range.clone()];
        let raw = whole.strip_prefix(BOM).unwrap_or(whole);
        if is_blank_bytes(raw) {
            return;
        }
        if whole.len() > self.max_line {
            // Not read at all (as in Python): it neither continues nor ends an event.
            return self.reject(index, Reason::TooLong);
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            self.break_chain();
            self.piece.handed_back.push((index, range));
            return;
        };
        let root = match self.doc.parse(line) {
            Ok(root) => root,
            Err(json_scan::Error::Invalid) => {
                self.break_chain();
                return self.reject(index, Reason::InvalidJson);
            }
            Err(json_scan::Error::Unsure) => {
                self.break_chain();
                self.piece.handed_back.push((index, range));
                return;
            }
        };
        if self.doc.node(root).kind != Kind::Object {
            self.break_chain();
            return self.reject(index, Reason::NotObject);
        }
        match self.records.event(&self.doc, line, root) {
            Outcome::Event(draft) => {
                let bare = draft.missing_level && draft.service.is_none() && draft.stack.is_none();
                match self.inner(draft) {
                    Some((draft, log_line)) => {
                        self.record(draft, index, bare && !log_line, log_line)
                    }
                    None => {
                        self.break_chain();
                        self.piece.handed_back.push((index, range));
                    }
                }
            }
            Outcome::Reject(reason) => {
                self.break_chain();
                self.reject(index, reason);
            }
            Outcome::HandBack => {
                self.break_chain();
                self.piece.handed_back.push((index, range));
            }
        }
    }

    /// One record's event: joined to the open owner when it continues it, else a row (an
    /// owner itself when its message was a whole log line).
    fn record(&mut self, draft: Draft<'d>, index: u64, bare: bool, log_line: bool) {
        let continues = self.join && bare;
        if continues {
            if let Some(owner) = &self.owner {
                if (draft.ts - owner.ts).abs() <= JOIN_GAP {
                    return self.join_owner(&draft.message);
                }
            }
        }
        let leading =
            continues && !self.piece.broke && self.piece.rows.len() == self.piece.leading.len();
        self.close_owner();
        if !leading {
            self.piece.broke = true;
        }
        let ts = draft.ts;
        // A leading row's instance is counted when the merge knows it is an event of its own.
        let Some((row, instance)) = self.event(draft, index, !leading) else {
            return;
        };
        if leading {
            self.piece.leading.push((row, instance));
        } else if log_line && self.join {
            self.owner = Some(Owner {
                row,
                ts,
                joined: false,
            });
        }
    }

    /// Append a continuation record's message to the owner's text (its stack), or count it
    /// dropped when the event would pass the line cap.
    fn join_owner(&mut self, message: &str) {
        let Some(owner) = self.owner.as_mut() else {
            return;
        };
        let piece = &mut self.piece;
        let row = &mut piece.rows[owner.row];
        if (row.text.end - row.text.start) as usize + message.len() + 1 > self.max_line {
            piece.stats.continuation_dropped += 1;
            return;
        }
        // The owner is the piece's last row: its text ends the piece's text.
        piece.text.push(b'\n');
        piece.text.extend_from_slice(message.as_bytes());
        row.text.end = piece.text.len() as u32;
        piece.stats.joined += 1;
        owner.joined = true;
    }

    /// A record that is no continuation: the owner takes none from here on.
    fn break_chain(&mut self) {
        self.piece.broke = true;
        self.close_owner();
    }

    /// Stop the owner taking continuations; one that took some is keyed by its stack now.
    fn close_owner(&mut self) {
        let Some(owner) = self.owner.take() else {
            return;
        };
        if !owner.joined {
            return;
        }
        let start = self.piece.rows[owner.row].text.start as usize;
        let print = self.fingerprint(start);
        let row = &mut self.piece.rows[owner.row];
        let (service, class, masked, _) = self.ids.shapes[row.shape as usize];
        row.shape = self
            .ids
            .shapes
            .insert_full((service, class, masked, print))
            .0 as u32;
    }

    /// A record without a level whose message is a whole log line (`RecordReader.inner`): the
    /// line's fields fill what the record lacks; with whether it was one. None: Python must
    /// decide (an unknown level).
    fn inner(&mut self, mut draft: Draft<'d>) -> Option<(Draft<'d>, bool)> {
        let Some(text) = self.config.text.as_ref() else {
            return Some((draft, false));
        };
        if !draft.missing_level || !has_content(&draft.message) {
            return Some((draft, false));
        }
        let Some(header) = text.parse_inner(&draft.message, &mut self.scratch) else {
            return Some((draft, false));
        };
        let level = match header.level.as_deref() {
            Some(raw) => Some(self.config.levels.of_str(raw)?),
            None => header.normalized.and_then(level_rank),
        };
        let stats = &mut self.piece.stats;
        if stats.inner_formats.len() < text.names.len() {
            stats.inner_formats.resize(text.names.len(), 0);
        }
        stats.inner_formats[header.format] += 1;
        draft.message = Cow::Owned(rstrip(&header.message).to_string());
        if let Some(level) = level {
            draft.level = level;
            draft.missing_level = false;
        }
        if draft.service.is_none() {
            draft.service = header
                .service
                .as_deref()
                .map(strip)
                .filter(|s| !s.is_empty())
                .map(|s| Cow::Owned(s.to_string()));
        }
        if draft.request.as_deref().is_none_or(str::is_empty) {
            draft.request = header.request.map(Cow::Owned);
        }
        if draft.user.as_deref().is_none_or(str::is_empty) {
            draft.user = header.user.map(Cow::Owned);
        }
        if draft.host.is_none() {
            draft.host = header.host.map(Cow::Owned);
        }
        Some((draft, true))
    }

    fn reject(&mut self, index: u64, reason: Reason) {
        let stats = &mut self.piece.stats;
        stats.read += 1;
        stats.reasons[reason as usize] += 1;
        if stats.examples.len() < MAX_EXAMPLES {
            stats.examples.push((index, reason));
        }
    }

    /// Make `draft` a row of the piece, its instance counted if `counted`; its index and
    /// instance, None when floor or ceiling dropped it.
    fn event(
        &mut self,
        draft: Draft<'d>,
        index: u64,
        counted: bool,
    ) -> Option<(usize, InstanceKey)> {
        let piece = &mut self.piece;
        piece.stats.read += 1;
        piece.stats.missing_level += u64::from(draft.missing_level);
        piece.stats.missing_service += u64::from(draft.service.is_none());
        if piece.earliest.is_none_or(|earliest| draft.ts < earliest) {
            piece.earliest = Some(draft.ts);
        }
        if self.config.out_of_bounds(draft.ts) {
            piece.dropped += 1;
            return None;
        }
        let start = piece.text.len();
        piece.text.extend_from_slice(draft.message.as_bytes());
        if let Some(stack) = &draft.stack {
            piece.text.push(b'\n');
            piece.text.extend_from_slice(stack.as_bytes());
        }
        let class = level_class(draft.level);
        let masked = self.masked(&draft.message, class == 0);
        let fingerprint = match draft.stack {
            Some(_) => self.fingerprint(start),
            None => NO_ID,
        };
        let (piece, ids) = (&mut self.piece, &mut self.ids);
        let service = intern(
            &mut ids.services,
            draft.service.as_deref().unwrap_or("unknown"),
        );
        let key: ShapeKey = (service, class, masked, fingerprint);
        let shape = ids.shapes.insert_full(key).0 as u32;
        let version = draft
            .version
            .map_or(NO_ID, |text| intern(&mut ids.versions, &text));
        let host = draft
            .host
            .map_or(NO_ID, |text| intern(&mut ids.hosts, &text));
        let instance = (service, version, host);
        if counted {
            piece.instances.see(instance, draft.ts);
        }
        let request = draft
            .request
            .map_or(NO_ID, |text| intern(&mut ids.requests, &text));
        let user = draft
            .user
            .map_or(NO_ID, |text| intern(&mut ids.users, &text));
        piece.rows.push(PieceRow {
            ts: draft.ts,
            line: index,
            shape,
            level: draft.level,
            duration: pack(draft.duration),
            request,
            user,
            text: start as u32..piece.text.len() as u32,
        });
        Some((piece.rows.len() - 1, instance))
    }

    /// The worker-local fingerprint id of the event text appended at `start` of the piece's
    /// text (message, newline, stack).
    ///
    /// Not cached: event texts with a stack rarely repeat exactly (the message names the key,
    /// order or user), and fingerprinting costs little more than hashing the text would.
    fn fingerprint(&mut self, start: usize) -> u32 {
        // Both halves were appended from valid UTF-8.
        let Ok(text) = std::str::from_utf8(&self.piece.text[start..]) else {
            return NO_ID;
        };
        fingerprint(text).map_or(NO_ID, |print| intern(&mut self.ids.fingerprints, &print))
    }

    /// The worker-local id of the masked message (masking each distinct message once).
    #[allow(clippy::ptr_arg)] // only a message borrowed from the block can key the cache
    fn masked(&mut self, message: &Cow<'d, str>, routine: bool) -> u32 {
        let masked = &mut self.ids.masked;
        match message {
            Cow::Borrowed(text) => *self
                .masked_by_message
                .entry((*text, routine))
                .or_insert_with(|| intern(masked, &mask(text, routine))),
            Cow::Owned(text) => intern(masked, &mask(text, routine)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_at_line_ends() {
        let data = "a\n".repeat(400_000);
        let pieces = split(data.as_bytes(), 3);
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0].start, 0);
        assert_eq!(pieces[2].end, data.len());
        for pair in pieces.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(data.as_bytes()[pair[0].end - 1], b'\n');
        }
        assert_eq!(split(b"x", 2), vec![0..1]);
    }
}
