//! A table's rows as bytes, and merging such bytes into another table: how a worker that read
//! one slice of an input hands its part to the process that triages the whole.
//!
//! A partial carries what a row refers to (interned strings, shapes, origins, texts), the rows
//! (those from a given time on, when the caller knows where the events that matter start), and
//! the bookkeeping the rows alone cannot give back: the earliest time seen, the rows dropped (by
//! floor or ceiling, or left out), the events per clock hour of every row kept (they decide where
//! a window without an end ends). Merging re-interns the strings and keeps each row as if it had
//! been read here: the merged table aggregates exactly as one that read every slice itself,
//! since aggregation orders rows by (time, seq[, origin]), never by arrival.
//!
//! The service instances (`instances`) go along too: they count every event the worker kept.
//! So do the counts of a table that sampled as it read (`sampler`): a partial of one merges
//! only into another, which then holds the sample and the counts of one table that read both.
//!
//! Layout (little-endian): magic, ordered-by-origin flag, earliest (NaN: none), dropped; the
//! hours; the services, masked messages, fingerprints, request ids, user ids, versions, hosts,
//! origins as string lists; the shapes; the instances; the origin stems; the sampler's counts
//! (a flag, then its level, rows per level, each period's events, first time, rows per level
//! and distinct requests, the window's distinct requests per minute, its distinct users and
//! services; a distinct count is a flag, then its hashes or its sketch's registers);
//! the rows; the rows' texts in row order.

use super::distinct::Distinct;
use super::instances::Seen;
use super::sampler::{Period, Sampler, EXACT_LIMIT, LEVELS};
use super::store::{Row, Table, STEM};
use super::strings::{intern, Strings, NO_ID};

const MAGIC: &[u8; 8] = b"LSPART04";

/// The rows of `table` from time `low` on (all without one) and everything they refer to, as
/// bytes for `merge`; the rows before `low` count as dropped. With `hours`, the events per clock
/// hour of every row kept go along (without, the receiving table has them: `add_hour`).
pub fn encode(table: &Table, low: Option<f64>, hours: bool) -> Vec<u8> {
    let rows: Vec<&Row> = match low {
        Some(low) => table.rows.iter().filter(|row| row.ts >= low).collect(),
        None => table.rows.iter().collect(),
    };
    // Texts travel whole: the receiving table encodes them against its own references.
    let mut texts: Vec<u8> = Vec::new();
    let lengths: Vec<u32> = rows
        .iter()
        .map(|row| {
            let before = texts.len();
            table.text_into(row, &mut texts);
            (texts.len() - before) as u32
        })
        .collect();
    let mut out = Writer(Vec::with_capacity(
        64 + rows.len() * ROW_BYTES + texts.len(),
    ));
    out.bytes(MAGIC);
    out.u8(u8::from(table.ordered_by_origin));
    out.f64(table.earliest.unwrap_or(f64::NAN));
    out.u64(table.dropped + (table.rows.len() - rows.len()) as u64);
    let counts: Vec<_> = if hours {
        table.hour_counts().collect()
    } else {
        Vec::new()
    };
    out.u64(counts.len() as u64);
    for (hour, count, oldest, newest) in counts {
        out.i64(hour);
        out.u64(count);
        out.f64(oldest);
        out.f64(newest);
    }
    for strings in [
        &table.services,
        &table.masked,
        &table.fingerprints,
        &table.requests,
        &table.users,
        &table.versions,
        &table.hosts,
    ] {
        out.strings(strings.iter());
    }
    out.strings(table.origins.iter().map(|origin| &**origin));
    out.u64(table.shapes.len() as u64);
    for &(service, class, masked, print) in &table.shapes {
        out.u32(service);
        out.u8(class);
        out.u32(masked);
        out.u32(print);
    }
    out.u64(table.instances.seen.len() as u64);
    for (&(service, version, host), seen) in &table.instances.seen {
        out.u32(service);
        out.u32(version);
        out.u32(host);
        out.f64(seen.first);
        out.f64(seen.last);
        out.u64(seen.events);
    }
    out.u64(table.stems.len() as u64);
    for (stem, digits) in &table.stems {
        out.str(stem);
        out.u64(*digits as u64);
    }
    out.u8(u8::from(table.sampler.is_some()));
    if let Some(sampler) = &table.sampler {
        write_sampler(&mut out, sampler);
    }
    out.u64(rows.len() as u64);
    for (row, len) in rows.iter().zip(lengths) {
        out.f64(row.ts);
        out.u64(row.seq);
        out.u32(row.shape);
        out.u32(row.request);
        out.u32(row.user);
        out.u32(row.origin);
        out.u32(len);
        out.u8(row.level);
        out.u16(row.duration);
    }
    out.bytes(&texts);
    out.0
}

/// Bytes per row in a partial.
const ROW_BYTES: usize = 8 + 8 + 4 * 5 + 1 + 2;

fn write_sampler(out: &mut Writer, sampler: &Sampler) {
    out.u32(sampler.level);
    sampler.kept.iter().for_each(|&count| out.u64(count));
    for period in &sampler.periods {
        out.u64(period.events);
        out.f64(period.first.unwrap_or(f64::NAN));
        period.by_level.iter().for_each(|&count| out.u64(count));
        write_distinct(out, &period.requests);
    }
    out.u64(sampler.minutes.len() as u64);
    for (&minute, requests) in &sampler.minutes {
        out.i64(minute);
        write_distinct(out, requests);
    }
    write_distinct(out, &sampler.users);
    out.u64(sampler.services.len() as u64);
    for &seen in &sampler.services {
        out.u8(u8::from(seen));
    }
}

fn write_distinct(out: &mut Writer, count: &Distinct) {
    match count {
        Distinct::Exact(hashes) => {
            out.u8(0);
            out.u64(hashes.len() as u64);
            hashes.iter().for_each(|&hash| out.u64(hash));
        }
        Distinct::Sketch(registers) => {
            out.u8(1);
            out.bytes(registers);
        }
    }
}

/// The counts `write_sampler` wrote, as a sampler of its own (services by the partial's ids).
fn read_sampler(at: &mut Reader<'_>, services: usize) -> Result<Sampler, String> {
    let mut sampler = Sampler::new(1, EXACT_LIMIT, 0.0, Vec::new());
    sampler.level = at.u32()?;
    if sampler.level as usize >= LEVELS {
        return Err(format!("sample level {} out of range", sampler.level));
    }
    sampler.kept = levels(at)?;
    for period in &mut sampler.periods {
        let (events, first) = (at.u64()?, at.f64()?);
        let by_level = levels(at)?;
        let requests = read_distinct(at)?;
        *period = Period {
            events,
            requests,
            by_level,
            first: Some(first).filter(|ts| !ts.is_nan()),
        };
    }
    let count = at.count(9)?;
    for _ in 0..count {
        let minute = at.u64()? as i64;
        sampler.minutes.insert(minute, read_distinct(at)?);
    }
    sampler.users = read_distinct(at)?;
    let count = at.count(1)?;
    if count > services {
        return Err(format!(
            "sampled services {count} out of range ({services})"
        ));
    }
    sampler.services = (0..count)
        .map(|_| at.u8().map(|seen| seen != 0))
        .collect::<Result<_, _>>()?;
    Ok(sampler)
}

fn read_distinct(at: &mut Reader<'_>) -> Result<Distinct, String> {
    if at.u8()? == 0 {
        let count = at.count(8)?;
        let hashes = (0..count).map(|_| at.u64()).collect::<Result<_, _>>()?;
        return Ok(Distinct::Exact(hashes));
    }
    Distinct::sketch(at.take(Distinct::REGISTERS)?)
        .ok_or_else(|| "a sketch of the partial table is cut short".to_string())
}

/// A count per sample level.
fn levels(at: &mut Reader<'_>) -> Result<Vec<u64>, String> {
    (0..LEVELS).map(|_| at.u64()).collect()
}

/// Add the rows of a partial (`encode`) to `table`, as if it had read them itself; an error
/// (and `table` unchanged) when `data` is not a whole partial, or one that sampled as it read
/// where `table` does not (or the other way round).
pub fn merge(table: &mut Table, data: &[u8]) -> Result<(), String> {
    let mut partial = decode(data)?;
    if partial.sampler.is_some() != table.sampler.is_some() {
        return Err("one of the tables sampled as it read and the other did not".into());
    }
    let global = |map: &[u32], id: u32| if id == NO_ID { NO_ID } else { map[id as usize] };
    let services = remap_all(&mut table.services, &partial.services);
    let masked = remap_all(&mut table.masked, &partial.masked);
    let prints = remap_all(&mut table.fingerprints, &partial.fingerprints);
    let requests = remap_all(&mut table.requests, &partial.requests);
    let users = remap_all(&mut table.users, &partial.users);
    let versions = remap_all(&mut table.versions, &partial.versions);
    let hosts = remap_all(&mut table.hosts, &partial.hosts);
    for &((service, version, host), seen) in &partial.instances {
        let key = (
            services[service as usize],
            global(&versions, version),
            global(&hosts, host),
        );
        table.instances.add(key, seen);
    }
    let shapes: Vec<u32> = partial
        .shapes
        .iter()
        .map(|&(service, class, message, print)| {
            let key = (
                services[service as usize],
                class,
                masked[message as usize],
                global(&prints, print),
            );
            table.shapes.insert_full(key).0 as u32
        })
        .collect();
    let first_origin = table.origins.len() as u32;
    table.origins.extend(partial.origins);
    let stems: Vec<u32> = partial
        .stems
        .into_iter()
        .map(|stem| table.stems.insert_full(stem).0 as u32)
        .collect();
    table.last = None;
    table.ordered_by_origin |= partial.ordered_by_origin;
    table.dropped += partial.dropped;
    if let Some(earliest) = partial.earliest {
        table.see(earliest);
    }
    for &(hour, count, oldest, newest) in &partial.hours {
        table.add_hour(hour, count, oldest, newest);
    }
    let mut text = &data[partial.texts_at..];
    for (row, len) in partial.rows {
        let shape = shapes[row.shape as usize];
        let (whole, rest) = text.split_at(len as usize);
        text = rest;
        let place = table.store_text(shape, whole);
        let origin = match row.origin {
            NO_ID => NO_ID,
            stem if stem & STEM != 0 => STEM | stems[(stem & !STEM) as usize],
            index => first_origin + index,
        };
        let mut kept = Row::new(
            row.ts,
            row.seq,
            shape,
            global(&requests, row.request),
            global(&users, row.user),
            origin,
            row.level,
            row.duration,
        );
        kept.set_text_place(place);
        table.place(kept);
    }
    if let (Some(counts), Some(sampler)) = (partial.sampler.take(), table.sampler.as_mut()) {
        sampler.absorb(counts, &services);
        sampler.tighten();
        table.thin(None);
    }
    table.maybe_compact();
    Ok(())
}

/// For each string of a partial, its id in `global` (adding those it lacks).
fn remap_all(global: &mut Strings, local: &[Box<str>]) -> Vec<u32> {
    local.iter().map(|text| intern(global, text)).collect()
}

/// A partial read back, every id and length checked against what it refers to.
struct Partial {
    ordered_by_origin: bool,
    earliest: Option<f64>,
    dropped: u64,
    hours: Vec<(i64, u64, f64, f64)>,
    services: Vec<Box<str>>,
    masked: Vec<Box<str>>,
    fingerprints: Vec<Box<str>>,
    requests: Vec<Box<str>>,
    users: Vec<Box<str>>,
    versions: Vec<Box<str>>,
    hosts: Vec<Box<str>>,
    origins: Vec<Box<str>>,
    shapes: Vec<(u32, u8, u32, u32)>,
    instances: Vec<((u32, u32, u32), Seen)>,
    stems: Vec<(Box<str>, usize)>,
    /// The counts of a table that sampled as it read.
    sampler: Option<Sampler>,
    /// Rows with ids local to the partial (their texts not placed), each with the length of
    /// its text.
    rows: Vec<(Row, u32)>,
    /// Where the rows' texts start in the data.
    texts_at: usize,
}

fn decode(data: &[u8]) -> Result<Partial, String> {
    let mut at = Reader { data, at: 0 };
    if at.take(MAGIC.len())? != MAGIC {
        return Err("not a logsense partial table (or one of another version)".into());
    }
    let ordered_by_origin = at.u8()? != 0;
    let earliest = Some(at.f64()?).filter(|ts| !ts.is_nan());
    let dropped = at.u64()?;
    let count = at.count(32)?;
    let mut hours = Vec::with_capacity(count);
    for _ in 0..count {
        hours.push((at.u64()? as i64, at.u64()?, at.f64()?, at.f64()?));
    }
    let services = at.strings()?;
    let masked = at.strings()?;
    let fingerprints = at.strings()?;
    let requests = at.strings()?;
    let users = at.strings()?;
    let versions = at.strings()?;
    let hosts = at.strings()?;
    let origins = at.strings()?;
    let count = at.count(13)?;
    let mut shapes = Vec::with_capacity(count);
    for _ in 0..count {
        let (service, class, message, print) = (at.u32()?, at.u8()?, at.u32()?, at.u32()?);
        check(service, services.len(), false)?;
        check(message, masked.len(), false)?;
        check(print, fingerprints.len(), true)?;
        shapes.push((service, class, message, print));
    }
    let count = at.count(36)?;
    let mut instances = Vec::with_capacity(count);
    for _ in 0..count {
        let key = (at.u32()?, at.u32()?, at.u32()?);
        check(key.0, services.len(), false)?;
        check(key.1, versions.len(), true)?;
        check(key.2, hosts.len(), true)?;
        let seen = Seen {
            first: at.f64()?,
            last: at.f64()?,
            events: at.u64()?,
        };
        instances.push((key, seen));
    }
    let count = at.count(12)?;
    let mut stems = Vec::with_capacity(count);
    for _ in 0..count {
        stems.push((at.str()?, at.u64()? as usize));
    }
    let sampler = match at.u8()? {
        0 => None,
        _ => Some(read_sampler(&mut at, services.len())?),
    };
    let count = at.count(ROW_BYTES)?;
    let mut rows = Vec::with_capacity(count);
    let mut text_bytes = 0_usize;
    for _ in 0..count {
        let (ts, seq, shape) = (at.f64()?, at.u64()?, at.u32()?);
        let (request, user, origin, len) = (at.u32()?, at.u32()?, at.u32()?, at.u32()?);
        let row = Row::new(ts, seq, shape, request, user, origin, at.u8()?, at.u16()?);
        check(row.shape, shapes.len(), false)?;
        check(row.request, requests.len(), true)?;
        check(row.user, users.len(), true)?;
        match row.origin {
            NO_ID => {}
            stem if stem & STEM != 0 => check(stem & !STEM, stems.len(), false)?,
            index => check(index, origins.len(), false)?,
        }
        text_bytes += len as usize;
        rows.push((row, len));
    }
    let texts_at = at.at;
    if data.len() - texts_at != text_bytes {
        return Err(format!(
            "the rows' texts hold {} bytes, not {text_bytes}",
            data.len() - texts_at
        ));
    }
    Ok(Partial {
        ordered_by_origin,
        earliest,
        dropped,
        hours,
        services,
        masked,
        fingerprints,
        requests,
        users,
        versions,
        hosts,
        origins,
        shapes,
        instances,
        stems,
        sampler,
        rows,
        texts_at,
    })
}

/// An id must index a list of `len` (or be NO_ID, where `optional`).
fn check(id: u32, len: usize, optional: bool) -> Result<(), String> {
    if (optional && id == NO_ID) || (id as usize) < len {
        Ok(())
    } else {
        Err(format!("id {id} out of range ({len})"))
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }
    fn u16(&mut self, value: u16) {
        self.bytes(&value.to_le_bytes());
    }
    fn u32(&mut self, value: u32) {
        self.bytes(&value.to_le_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }
    fn i64(&mut self, value: i64) {
        self.bytes(&value.to_le_bytes());
    }
    fn f64(&mut self, value: f64) {
        self.bytes(&value.to_le_bytes());
    }
    fn str(&mut self, text: &str) {
        self.u32(text.len() as u32);
        self.bytes(text.as_bytes());
    }
    fn strings<'a>(&mut self, strings: impl ExactSizeIterator<Item = &'a str>) {
        self.u64(strings.len() as u64);
        for text in strings {
            self.str(text);
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.data.len());
        let end = end.ok_or_else(|| "the partial table is cut short".to_string())?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        self.array().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, String> {
        self.array().map(u64::from_le_bytes)
    }
    fn f64(&mut self) -> Result<f64, String> {
        self.array().map(f64::from_le_bytes)
    }
    /// A count of items at least `size` bytes each, checked against the bytes left.
    fn count(&mut self, size: usize) -> Result<usize, String> {
        let count = self.u64()?;
        let left = (self.data.len() - self.at) as u64;
        if count.saturating_mul(size as u64) > left {
            return Err("the partial table is cut short".into());
        }
        Ok(count as usize)
    }
    fn str(&mut self) -> Result<Box<str>, String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(Box::from)
            .map_err(|_| "a string of the partial table is not UTF-8".to_string())
    }
    fn strings(&mut self) -> Result<Vec<Box<str>>, String> {
        let count = self.count(4)?;
        (0..count).map(|_| self.str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::tests::table;
    use super::super::store::Pushed;
    use super::*;

    fn push(table: &mut Table, seq: u64, ts: f64, message: &str, request: &str, origin: &str) {
        table.push(Pushed {
            seq,
            ts,
            message,
            level: if message.contains("fail") { 3 } else { 1 },
            service: if seq.is_multiple_of(2) { "api" } else { "db" },
            request: Some(request),
            user: Some("u1"),
            stack: seq.is_multiple_of(3).then_some("  at x.y(Z.java:1)"),
            origin: Some(origin),
            duration: Some(0.25),
            version: Some(if seq < 6 { "1.0" } else { "1.1" }),
            host: Some(if seq.is_multiple_of(2) {
                "pod-a"
            } else {
                "pod-b"
            }),
        });
    }

    impl Table {
        fn add_hour_counts(&mut self, other: &Table) {
            for (hour, count, oldest, newest) in other.hour_counts() {
                self.add_hour(hour, count, oldest, newest);
            }
        }
    }

    fn events() -> Vec<(u64, f64, String, String, String)> {
        (0..200)
            .map(|seq| {
                let message = if seq % 7 == 0 {
                    format!("payment {seq} failed")
                } else {
                    format!("served {seq}")
                };
                let ts = 1_700_000_000.0 + (seq % 50) as f64 * 10.0;
                (
                    seq,
                    ts,
                    message,
                    format!("r{}", seq % 30),
                    format!("idx/{seq}"),
                )
            })
            .collect()
    }

    fn summary(table: &mut Table, low: f64) -> String {
        let out = table.aggregate(low, 1_700_000_200.0, 1_700_000_600.0, 3);
        let shapes: Vec<_> = out
            .shapes
            .iter()
            .map(|s| {
                let samples: Vec<_> = s
                    .samples
                    .iter()
                    .map(|&(p, i)| {
                        let row = &table.rows[i as usize];
                        (p, table.text(row).to_string(), table.origin(row))
                    })
                    .collect();
                let requests: Vec<_> = table
                    .first_rows(&s.requests)
                    .into_iter()
                    .map(|(r, ts, p)| (table.requests[r as usize].to_string(), ts, p))
                    .collect();
                let (service, class, masked, _) = table.shapes[s.shape as usize];
                format!(
                    "{} {class} {} {} {} {} {:?} {requests:?} {samples:?}",
                    &table.services[service as usize],
                    &table.masked[masked as usize],
                    s.first_position,
                    s.count,
                    s.baseline_count,
                    s.per_minute,
                )
            })
            .collect();
        format!(
            "{shapes:?} {} {} {} {} {:?}",
            out.events,
            out.requests,
            out.outside,
            out.hops.len(),
            out.baseline_first
        )
    }

    #[test]
    fn merged_partials_aggregate_as_one_table() {
        let all = events();
        let mut whole = table(None, 1);
        for (seq, ts, message, request, origin) in &all {
            push(&mut whole, *seq, *ts, message, request, origin);
        }
        let mut merged = table(None, 1);
        // Slices read in any order merge to the same table.
        for slice in all.chunks(70).rev() {
            let mut part = table(None, 1);
            for (seq, ts, message, request, origin) in slice {
                push(&mut part, *seq, *ts, message, request, origin);
            }
            merge(&mut merged, &encode(&part, None, true)).unwrap();
        }
        assert_eq!(merged.rows.len(), whole.rows.len());
        assert_eq!(merged.earliest, whole.earliest);
        assert_eq!(merged.anchor(), whole.anchor());
        let instances = |table: &Table| {
            let mut found: Vec<_> = table
                .instances
                .seen
                .iter()
                .map(|(&(s, v, h), seen)| {
                    let name = |strings: &Strings, id: u32| strings[id as usize].to_string();
                    let names = (
                        name(&table.services, s),
                        name(&table.versions, v),
                        name(&table.hosts, h),
                    );
                    (names, seen.first, seen.last, seen.events)
                })
                .collect();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found
        };
        assert_eq!(instances(&merged), instances(&whole));
        assert_eq!(
            summary(&mut merged, 1_700_000_000.0),
            summary(&mut whole, 1_700_000_000.0)
        );
    }

    #[test]
    fn sampled_partials_merge_as_one_sampled_table() {
        let sampling = || {
            let mut table = table(None, 1);
            table.window_start = Some(1_700_000_200.0);
            assert!(table.sample_rest(12, EXACT_LIMIT, Vec::new()));
            table
        };
        let all = events();
        let mut whole = sampling();
        for (seq, ts, message, request, origin) in &all {
            push(&mut whole, *seq, *ts, message, request, origin);
        }
        let mut merged = sampling();
        for slice in all.chunks(70).rev() {
            let mut part = sampling();
            for (seq, ts, message, request, origin) in slice {
                push(&mut part, *seq, *ts, message, request, origin);
            }
            merge(&mut merged, &encode(&part, None, true)).unwrap();
        }
        whole.finish_sample();
        merged.finish_sample();
        let counted = |table: &Table| {
            let out = table.sampler.as_ref().unwrap().finish();
            let services: Vec<_> = out
                .services
                .iter()
                .map(|&s| &table.services[s as usize])
                .collect();
            format!(
                "{} {:?} {:?} {:?} {:?} {} {services:?} {:?}",
                out.level,
                out.events,
                out.requests,
                out.universe,
                out.requests_per_minute,
                out.users,
                out.baseline_first
            )
        };
        assert!(whole.sampler.as_ref().unwrap().level > 0);
        assert_eq!(counted(&merged), counted(&whole));
        assert_eq!(merged.rows.len(), whole.rows.len());
        assert_eq!(
            summary(&mut merged, 1_700_000_000.0),
            summary(&mut whole, 1_700_000_000.0)
        );
        // A sampled partial does not merge into a table that keeps everything.
        assert!(merge(&mut table(None, 1), &encode(&whole, None, true)).is_err());
    }

    #[test]
    fn rows_left_out_before_low_still_count_and_anchor() {
        let all = events();
        let mut whole = table(None, 1);
        let mut merged = table(None, 1);
        let low = 1_700_000_150.0;
        for slice in all.chunks(70) {
            let mut part = table(None, 1);
            for (seq, ts, message, request, origin) in slice {
                push(&mut part, *seq, *ts, message, request, origin);
                push(&mut whole, *seq, *ts, message, request, origin);
            }
            // Hours ahead of the rows, as the driver gets them to find the window first.
            merged.add_hour_counts(&part);
            merge(&mut merged, &encode(&part, Some(low), false)).unwrap();
        }
        assert!(merged.rows.len() < whole.rows.len());
        assert_eq!(
            (merged.earliest, merged.newest),
            (whole.earliest, whole.newest)
        );
        assert_eq!(merged.anchor(), whole.anchor());
        assert_eq!(summary(&mut merged, low), summary(&mut whole, low));
    }

    #[test]
    fn a_damaged_partial_is_refused_and_changes_nothing() {
        let mut part = table(None, 1);
        for (seq, ts, message, request, origin) in events().iter().take(10) {
            push(&mut part, *seq, *ts, message, request, origin);
        }
        let data = encode(&part, None, true);
        let mut target = table(None, 1);
        assert!(merge(&mut target, &data[..data.len() - 1]).is_err());
        assert!(merge(&mut target, &data[..40]).is_err());
        assert!(merge(&mut target, b"LSPART00").is_err());
        assert_eq!((target.rows.len(), target.services.len()), (0, 0));
        merge(&mut target, &data).unwrap();
        assert_eq!(target.rows.len(), 10);
    }
}
