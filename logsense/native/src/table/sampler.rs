//! Sampling as the table reads, when the window is known before the first line
//! (`EventTable.sample_rest`): what a pushdown leaves to Elasticsearch, done while scanning.
//!
//! Every row of a shape that can form an issue on its own (warn or worse, a stack trace
//! fingerprint, a message with a word that tells a change) is kept. Of the other rows, those of
//! a uniform sample of requests: a request's *level* is the number of leading zero bits of a
//! hash of its id (of its seq, for a row without one), and rows of level `level` or more are
//! kept. `level` is always the lowest level whose rows so far number at most the budget: it
//! starts at 0 (everything) and rises as rows arrive, and the rows below it are dropped (the
//! table then holds about the budget whatever the window). Since the rows of each level only
//! grow, the level reached depends only on the rows read, not on the order or the blocks they
//! came in. A request is kept or dropped whole, across services.
//!
//! The row that may still take continuation records (a JSON file's stack trace shipped line by
//! line) is kept whatever its level until it is complete, so its final shape decides: the
//! table drops it later if it stays below the level (`Table::finish_sample`).
//!
//! Totals are counted over every row of the window and baseline as it passes, kept or not:
//! events, distinct requests (by their 64-bit hashes) per period and per minute, users,
//! services, and the rows per level (so the sample's universe is known for any final level).
//! Distinct counts are exact up to a limit and estimated past it (`distinct`).

use ahash::AHashMap;

use super::distinct::Distinct;
use super::strings::{Shapes, Strings, NO_ID};
use crate::pytext::floordiv_int;

/// Levels run from 0 (hash ≥ 2^63) to 64 (hash 0).
pub const LEVELS: usize = 65;
/// Distinct counts are exact up to this many values each (about 40 MB a count at most).
pub const EXACT_LIMIT: usize = 1 << 21;

/// A hash of a request id that does not depend on the process or platform (FNV-1a, then
/// MurmurHash3's finalizer to spread its bits): the sample is the same on every run.
pub fn id_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in text.as_bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    mix(hash)
}

/// The hash of a row without a request id: of its input order.
pub fn seq_hash(seq: u64) -> u64 {
    mix(seq ^ 0x9e37_79b9_7f4a_7c15)
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The sample level of a hash (see the module doc).
pub fn level_of(hash: u64) -> u32 {
    hash.leading_zeros()
}

/// The counts of one period (baseline or window).
#[derive(Default)]
pub struct Period {
    pub events: u64,
    pub requests: Distinct,
    /// Rows per level, kept or not.
    pub by_level: Vec<u64>,
    pub first: Option<f64>,
}

/// The sampler of a table (see the module doc). Its counts travel with a partial table
/// (`export`), and merge exactly (`absorb`).
pub struct Sampler {
    budget: u64,
    /// Distinct counts are exact up to this many values (`EXACT_LIMIT`).
    exact_limit: usize,
    window_start: f64,
    change_words: Vec<Box<str>>,
    /// Rows of shapes read in full are kept, the others from this level up.
    pub level: u32,
    /// Per shape: whether its rows are kept in full (decided on its first row).
    in_full: Vec<Option<bool>>,
    /// Per request id of the table, its id's hash (request ids are interned only for kept
    /// rows; `Table::thin` brings it up to date).
    pub request_hashes: Vec<u64>,
    /// Rows of sampled shapes per level, at and above `level` (below it, left out).
    pub kept: Vec<u64>,
    /// (baseline, window).
    pub periods: [Period; 2],
    /// The window's distinct requests per minute.
    pub minutes: AHashMap<i64, Distinct>,
    pub users: Distinct,
    /// Service ids with a window row.
    pub services: Vec<bool>,
}

/// What a sampled read counted (`EventTable.sampled`).
pub struct SampleOut {
    pub level: u32,
    /// (baseline, window) each.
    pub events: [u64; 2],
    pub requests: [u64; 2],
    pub universe: [u64; 2],
    pub requests_per_minute: Vec<(i64, u64)>,
    pub users: u64,
    pub services: Vec<u32>,
    pub baseline_first: Option<f64>,
    /// Shape ids whose rows were sampled.
    pub sampled_shapes: Vec<u32>,
    /// The totals that are estimates: "requests", "baseline_requests",
    /// "requests_per_minute", "users".
    pub estimated: Vec<&'static str>,
    /// Distinct counts are exact up to this many values.
    pub exact_limit: usize,
}

impl Sampler {
    pub fn new(
        budget: u64,
        exact_limit: usize,
        window_start: f64,
        change_words: Vec<Box<str>>,
    ) -> Self {
        let period = || Period {
            by_level: vec![0; LEVELS],
            ..Period::default()
        };
        Self {
            budget: budget.max(1),
            exact_limit,
            window_start,
            change_words,
            level: 0,
            in_full: Vec::new(),
            request_hashes: Vec::new(),
            kept: vec![0; LEVELS],
            periods: [period(), period()],
            minutes: AHashMap::new(),
            users: Distinct::default(),
            services: Vec::new(),
        }
    }

    /// Whether the rows of `shape` are kept in full: warn or worse, a stack trace fingerprint,
    /// or a masked message with a word that begins like a change word.
    pub fn in_full(&mut self, shape: u32, shapes: &Shapes, masked: &Strings) -> bool {
        let index = shape as usize;
        if self.in_full.len() <= index {
            self.in_full.resize(index + 1, None);
        }
        if let Some(known) = self.in_full[index] {
            return known;
        }
        let (_, class, message, print) = shapes[index];
        let full = class > 0 || print != NO_ID || self.tells_change(&masked[message as usize]);
        self.in_full[index] = Some(full);
        full
    }

    fn tells_change(&self, message: &str) -> bool {
        message
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .any(|word| {
                let word = word.to_lowercase();
                self.change_words
                    .iter()
                    .any(|start| word.starts_with(&**start))
            })
    }

    /// Count a row of the window or baseline, and whether to keep it: of a shape read in full
    /// (`full`), of `hash`'s level (its request's, else its seq's) at or above `level`, or
    /// `open` (it may still take continuation records).
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        ts: f64,
        full: bool,
        open: bool,
        service: u32,
        request: Option<u64>,
        user: Option<u64>,
        hash: u64,
    ) -> bool {
        let level = level_of(hash);
        let in_window = ts >= self.window_start;
        let period = &mut self.periods[usize::from(in_window)];
        period.events += 1;
        period.by_level[level as usize] += 1;
        if period.first.is_none_or(|first| ts < first) {
            period.first = Some(ts);
        }
        let limit = self.exact_limit;
        if let Some(request) = request {
            period.requests.insert(request, limit);
        }
        if in_window {
            let minute = floordiv_int(ts, 60.0).unwrap_or(i64::MIN);
            if let Some(request) = request {
                self.minutes
                    .entry(minute)
                    .or_default()
                    .insert(request, limit);
            }
            if let Some(user) = user {
                self.users.insert(user, limit);
            }
            self.mark_service(service);
        }
        if full {
            return true;
        }
        if level < self.level {
            return open;
        }
        self.kept[level as usize] += 1;
        true
    }

    fn mark_service(&mut self, service: u32) {
        let index = service as usize;
        if self.services.len() <= index {
            self.services.resize(index + 1, false);
        }
        self.services[index] = true;
    }

    /// Add what another table's sampler counted (its service ids are `services` here): the
    /// counts of both, as if this one had seen every row. The caller then raises the level
    /// (`tighten`) and drops the rows below it.
    pub fn absorb(&mut self, other: Sampler, services: &[u32]) {
        self.level = self.level.max(other.level);
        for (mine, theirs) in self.kept.iter_mut().zip(&other.kept) {
            *mine += theirs;
        }
        for (mine, theirs) in self.periods.iter_mut().zip(other.periods) {
            mine.events += theirs.events;
            for (count, more) in mine.by_level.iter_mut().zip(&theirs.by_level) {
                *count += more;
            }
            mine.first = match (mine.first, theirs.first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            mine.requests.merge(theirs.requests, self.exact_limit);
        }
        for (minute, requests) in other.minutes {
            let limit = self.exact_limit;
            self.minutes
                .entry(minute)
                .or_default()
                .merge(requests, limit);
        }
        self.users.merge(other.users, self.exact_limit);
        for (id, &seen) in other.services.iter().enumerate() {
            if seen {
                self.mark_service(services[id]);
            }
        }
    }

    /// A new, higher level when more than the budget of sampled rows are at or above the
    /// current one: the lowest that leaves at most the budget (the caller drops the rows below
    /// it).
    pub fn tighten(&mut self) -> Option<u32> {
        let mut held: u64 = self.kept[self.level as usize..].iter().sum();
        if held <= self.budget {
            return None;
        }
        while held > self.budget && (self.level as usize) < LEVELS - 1 {
            held -= self.kept[self.level as usize];
            self.kept[self.level as usize] = 0;
            self.level += 1;
        }
        Some(self.level)
    }

    /// Whether a kept row stays at the current level: of a shape read in full (`full`), or
    /// with a hash of that level or more.
    pub fn keeps(&self, full: bool, hash: u64) -> bool {
        full || level_of(hash) >= self.level
    }

    /// What was counted, once the read is done.
    pub fn finish(&self) -> SampleOut {
        let universe = |period: &Period| period.by_level[self.level as usize..].iter().sum();
        let [baseline, window] = &self.periods;
        let mut requests_per_minute: Vec<(i64, u64)> = self
            .minutes
            .iter()
            .map(|(&minute, requests)| (minute, requests.len()))
            .collect();
        requests_per_minute.sort_unstable();
        let estimated = [
            ("requests", window.requests.is_estimate()),
            ("baseline_requests", baseline.requests.is_estimate()),
            (
                "requests_per_minute",
                self.minutes.values().any(Distinct::is_estimate),
            ),
            ("users", self.users.is_estimate()),
        ];
        SampleOut {
            level: self.level,
            events: [baseline.events, window.events],
            requests: [baseline.requests.len(), window.requests.len()],
            universe: [universe(baseline), universe(window)],
            requests_per_minute,
            users: self.users.len(),
            services: (0..self.services.len() as u32)
                .filter(|&id| self.services[id as usize])
                .collect(),
            baseline_first: baseline.first,
            sampled_shapes: (0..self.in_full.len() as u32)
                .filter(|&shape| self.in_full[shape as usize] == Some(false))
                .collect(),
            estimated: estimated
                .iter()
                .filter(|(_, estimate)| *estimate)
                .map(|&(name, _)| name)
                .collect(),
            exact_limit: self.exact_limit,
        }
    }
}

/// The sample level of each of `names`' hashes (`id_hash`), for Python's membership test.
pub fn levels_of(names: &[String]) -> Vec<u8> {
    names
        .iter()
        .map(|name| level_of(id_hash(name)) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_rises_until_the_budget_holds_and_counts_stay_whole() {
        let mut sampler = Sampler::new(100, EXACT_LIMIT, 0.0, Vec::new());
        let mut kept = Vec::new();
        for seq in 0..10_000_u64 {
            let hash = id_hash(&format!("req-{seq}"));
            if sampler.admit(seq as f64, false, false, 0, Some(hash), None, hash) {
                kept.push(hash);
            }
            if sampler.tighten().is_some() {
                kept.retain(|&h| sampler.keeps(false, h));
            }
        }
        assert!(sampler.level > 0);
        assert!(kept.len() <= 100, "{} kept", kept.len());
        // The lowest level that holds at most the budget, whatever the order of arrival.
        let at_least = |level: u32| {
            (0..10_000_u64)
                .filter(|s| level_of(id_hash(&format!("req-{s}"))) >= level)
                .count()
        };
        assert!(at_least(sampler.level) <= 100 && at_least(sampler.level - 1) > 100);
        let out = sampler.finish();
        assert_eq!(out.events, [0, 10_000]);
        assert_eq!(out.requests, [0, 10_000]);
        assert_eq!(out.universe[1], kept.len() as u64);
        assert!(kept.iter().all(|&h| level_of(h) >= out.level));
    }

    #[test]
    fn id_hashes_do_not_depend_on_the_process() {
        assert_eq!(id_hash(""), mix(0xcbf2_9ce4_8422_2325));
        assert_eq!(
            levels_of(&["a".into(), "a".into()]),
            vec![level_of(id_hash("a")) as u8; 2]
        );
    }
}
