//! Aggregation of the kept rows by message shape, as `mine()` counts them before Drain:
//! `ShapeCounts.add`, `_new_entry`, `_tally`, `BottomK` and the totals loop with
//! `_count_request` (`logsense/mine/miner.py`, `logsense/mine/sampling.py`).
//!
//! Rows in `[low, window_end)` are sorted stably by (time, seq); a row's position is its index
//! in that order. Rows at or after `window_start` are window rows; the others (the baseline)
//! add to their shape's baseline count and baseline requests.
//!
//! Hops: inside each request, the time from one event to the next, keyed by the two events'
//! shapes, as a bounded sample per period (baseline or window, by the later event's time). They
//! are the logs' own clock for latency (`logsense/analyze/latency.py`).

use ahash::{AHashMap, AHashSet, RandomState};

use super::slots::{ShapeSlots, SlotOut};
use super::store::{LastAggregate, Table};
use super::strings::NO_ID;
use crate::durations::{duration_in, unpack};
use crate::pytext::floordiv_int;

/// Fibonacci hashing constant of `sampling.priority`.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
/// Gaps kept per hop and period: enough for a rank test, bounded whatever the input.
const HOP_SAMPLES: usize = 128;

/// Window stats of one shape (`ShapeStats`).
pub struct ShapeOut {
    pub shape: u32,
    pub first_position: u64,
    pub level: u8,
    pub count: u64,
    pub baseline_count: u64,
    pub first_seen: f64,
    pub last_seen: f64,
    /// (minute, events) in first-seen order.
    pub per_minute: Vec<(i64, u64)>,
    /// (request id, position) of each request's first window row, in first-seen order (its
    /// time is that of the row at that position: `Table::first_rows`).
    pub requests: Vec<(u32, u32)>,
    /// (request id, position) of each request's first baseline row, in first-seen order.
    pub baseline_requests: Vec<(u32, u32)>,
    /// (minute, events) of the baseline rows, in first-seen order.
    pub baseline_per_minute: Vec<(i64, u64)>,
    pub users: Vec<u32>,
    /// (position, row index) of the kept samples, by position.
    pub samples: Vec<(u64, u32)>,
    /// The durations of its events: a duration field's, else the one its messages write
    /// (`took 120ms`) when its first message writes one.
    pub durations: Option<Timings>,
    /// The numbers behind its `<*>` slots per minute, baseline and window alike (`slots`).
    pub slots: Vec<SlotOut>,
}

/// Everything `Aggregate` reports.
pub struct AggregateOut {
    /// Shapes by first position.
    pub shapes: Vec<ShapeOut>,
    pub events: u64,
    /// Service ids of the window rows, sorted by name.
    pub services: Vec<u32>,
    pub requests: u64,
    pub requests_per_minute: Vec<(i64, u64)>,
    pub users: u64,
    pub outside: u64,
    pub baseline_events: u64,
    /// Distinct requests with a baseline row.
    pub baseline_requests: u64,
    /// The time of the earliest baseline row, if any.
    pub baseline_first: Option<f64>,
    /// Hops between shapes (output indices), with at least one gap.
    pub hops: Vec<HopOut>,
}

/// The gaps from events of shape `from` to the next event of the same request, of shape `to`.
pub struct HopOut {
    pub from: u32,
    pub to: u32,
    pub timings: Timings,
}

/// Seconds measured in one period or the other (a hop's gaps, a shape's written durations):
/// counts, and up to HOP_SAMPLES of each period sampled uniformly, with their request ids
/// (NO_ID when the row has none).
pub struct Timings {
    pub baseline_count: u64,
    pub window_count: u64,
    pub baseline: Vec<(f64, u32)>,
    pub window: Vec<(f64, u32)>,
}

/// `Timings` while aggregating.
struct TimingsAcc {
    baseline_count: u64,
    window_count: u64,
    baseline: BottomK<(f64, u32)>,
    window: BottomK<(f64, u32)>,
}

impl TimingsAcc {
    fn new() -> Self {
        Self {
            baseline_count: 0,
            window_count: 0,
            baseline: BottomK::new(),
            window: BottomK::new(),
        }
    }

    fn add(&mut self, in_window: bool, position: u64, seconds: (f64, u32)) {
        if in_window {
            self.window_count += 1;
            self.window.offer(HOP_SAMPLES, position, seconds);
        } else {
            self.baseline_count += 1;
            self.baseline.offer(HOP_SAMPLES, position, seconds);
        }
    }

    fn finish(self) -> Timings {
        let values = |bottom: BottomK<(f64, u32)>| bottom.into_sorted().into_iter().map(|(_, s)| s);
        Timings {
            baseline_count: self.baseline_count,
            window_count: self.window_count,
            baseline: values(self.baseline).collect(),
            window: values(self.window).collect(),
        }
    }
}

/// The `size` offered positions of lowest priority (`BottomK`), each with its value;
/// priorities are distinct since GOLDEN is odd.
struct BottomK<T> {
    items: Vec<(u64, u64, T)>, // (priority, position, value)
    worst: usize,
}

impl<T: Copy> BottomK<T> {
    fn new() -> Self {
        Self {
            items: Vec::new(),
            worst: 0,
        }
    }

    fn offer(&mut self, size: usize, position: u64, value: T) {
        let priority = position.wrapping_mul(GOLDEN);
        if self.items.len() < size {
            self.items.push((priority, position, value));
        } else if size > 0 && priority < self.items[self.worst].0 {
            self.items[self.worst] = (priority, position, value);
        } else {
            return;
        }
        self.worst = (0..self.items.len())
            .max_by_key(|&i| self.items[i].0)
            .unwrap_or(0);
    }

    fn into_sorted(mut self) -> Vec<(u64, T)> {
        self.items.sort_by_key(|item| item.1);
        self.items
            .into_iter()
            .map(|(_, position, value)| (position, value))
            .collect()
    }
}

/// Add one to `minute`'s count; times arrive in order, so a new minute is almost always last.
fn bump(counts: &mut Vec<(i64, u64)>, minute: i64) {
    match counts.last_mut() {
        Some((last, count)) if *last == minute => *count += 1,
        Some((last, _)) if *last > minute => {
            match counts.iter_mut().find(|(known, _)| *known == minute) {
                Some((_, count)) => *count += 1,
                None => counts.push((minute, 1)),
            }
        }
        _ => counts.push((minute, 1)),
    }
}

/// Python's `int(ts // 60)`; times here are finite.
fn minute_of(ts: f64) -> i64 {
    floordiv_int(ts, 60.0).unwrap_or(i64::MIN)
}

impl Table {
    /// Shape stats and totals of the rows with `low <= ts < window_end`, window rows being those
    /// at or after `window_start`; keep `samples` samples per shape.
    pub fn aggregate(
        &mut self,
        low: f64,
        window_start: f64,
        window_end: f64,
        samples: usize,
    ) -> AggregateOut {
        // Row indices, 4 bytes a row (this runs on the whole table at once).
        let mut kept: Vec<u32> = (0..self.rows.len() as u32)
            .filter(|&index| {
                let ts = self.rows[index as usize].ts;
                low <= ts && ts < window_end
            })
            .collect();
        // Times are never NaN; -0.0 and 0.0 compare equal, as in Python's sort. Hits with equal
        // (time, seq) are ordered by origin, so the order never depends on page arrival.
        let by_origin = self.ordered_by_origin;
        kept.sort_by(|&a, &b| {
            let (x, y) = (&self.rows[a as usize], &self.rows[b as usize]);
            x.ts.partial_cmp(&y.ts)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(x.seq.cmp(&y.seq))
                .then_with(|| {
                    if by_origin {
                        self.origin(x).cmp(&self.origin(y))
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
        });
        let outside = self.dropped + (self.rows.len() - kept.len()) as u64;
        // Hops are compared with the baseline's: without baseline rows they are not measured.
        let measure_hops = kept
            .first()
            .is_some_and(|&first| self.rows[first as usize].ts < window_start);

        let mut shape_index = vec![NO_ID; self.shapes.len()];
        let mut shapes: Vec<ShapeOut> = Vec::new();
        let mut bottoms: Vec<BottomK<u32>> = Vec::new();
        let mut timed: Vec<Option<TimingsAcc>> = Vec::new();
        let mut writes_durations: Vec<bool> = Vec::new();
        let mut measured: Vec<Option<ShapeSlots>> = Vec::new();
        let mut shape_requests: AHashSet<u64> = AHashSet::with_hasher(RandomState::new());
        let mut baseline_requests: AHashSet<u64> = AHashSet::with_hasher(RandomState::new());
        let mut shape_users: AHashSet<u64> = AHashSet::with_hasher(RandomState::new());
        let mut totals = Totals::new(self);
        // Per request id: the time and output shape of its latest row so far.
        let mut last_of_request: Vec<Option<(f64, u32)>> =
            vec![None; if measure_hops { self.requests.len() } else { 0 }];
        let mut hops: AHashMap<(u32, u32), TimingsAcc> = AHashMap::with_hasher(RandomState::new());
        for (position, &index) in kept.iter().enumerate() {
            let position = position as u64;
            let row = self.rows[index as usize];
            let ts = row.ts;
            let slot = &mut shape_index[row.shape as usize];
            if *slot == NO_ID {
                *slot = shapes.len() as u32;
                shapes.push(ShapeOut {
                    shape: row.shape,
                    first_position: position,
                    level: row.level,
                    count: 0,
                    baseline_count: 0,
                    first_seen: f64::INFINITY,
                    last_seen: f64::NEG_INFINITY,
                    per_minute: Vec::new(),
                    requests: Vec::new(),
                    baseline_requests: Vec::new(),
                    baseline_per_minute: Vec::new(),
                    users: Vec::new(),
                    samples: Vec::new(),
                    durations: None,
                    slots: Vec::new(),
                });
                bottoms.push(BottomK::new());
                timed.push(None);
                // Messages of one shape say the same thing: the first tells if they time it.
                let text = self.text(&row);
                writes_durations.push(duration_in(&text).is_some());
                let (_, _, masked, _) = self.shapes[row.shape as usize];
                measured.push(ShapeSlots::plan(&self.masked[masked as usize], &text));
            }
            let out = *slot as usize;
            // Texts are decoded only for what reads them: slot values, written durations.
            let mut text = None;
            if let Some(slots) = &mut measured[out] {
                if slots.take(minute_of(ts)) {
                    let text = text.get_or_insert_with(|| self.text(&row));
                    slots.add(text, minute_of(ts), &mut Vec::new());
                }
            }
            let seconds = unpack(row.duration).or_else(|| {
                writes_durations[out]
                    .then(|| duration_in(text.get_or_insert_with(|| self.text(&row))))?
            });
            if let Some(seconds) = seconds {
                timed[out].get_or_insert_with(TimingsAcc::new).add(
                    ts >= window_start,
                    position,
                    (seconds, row.request),
                );
            }
            let stats = &mut shapes[out];
            let pair = |id: u32| (u64::from(out as u32) << 32) | u64::from(id);
            if measure_hops && row.request != NO_ID {
                let last = &mut last_of_request[row.request as usize];
                if let Some((before, from)) = *last {
                    hops.entry((from, out as u32))
                        .or_insert_with(TimingsAcc::new)
                        .add(ts >= window_start, position, (ts - before, row.request));
                }
                *last = Some((ts, out as u32));
            }
            if ts < window_start {
                stats.baseline_count += 1;
                bump(&mut stats.baseline_per_minute, minute_of(ts));
                if row.request != NO_ID && baseline_requests.insert(pair(row.request)) {
                    stats.baseline_requests.push((row.request, position as u32));
                }
                totals.add_baseline(ts, row.request);
                continue;
            }
            stats.count += 1;
            if ts < stats.first_seen {
                stats.first_seen = ts;
            }
            if ts > stats.last_seen {
                stats.last_seen = ts;
            }
            stats.level = stats.level.max(row.level);
            let minute = minute_of(ts);
            bump(&mut stats.per_minute, minute);
            if row.request != NO_ID && shape_requests.insert(pair(row.request)) {
                stats.requests.push((row.request, position as u32));
            }
            if row.user != NO_ID && shape_users.insert(pair(row.user)) {
                stats.users.push(row.user);
            }
            bottoms[out].offer(samples, position, index);
            totals.add(
                self.shapes[row.shape as usize].0,
                row.request,
                row.user,
                minute,
            );
        }
        for (((stats, bottom), acc), slots) in
            shapes.iter_mut().zip(bottoms).zip(timed).zip(measured)
        {
            stats.samples = bottom.into_sorted();
            stats.durations = acc.map(TimingsAcc::finish);
            stats.slots = slots.map(ShapeSlots::finish).unwrap_or_default();
        }
        self.last = Some(LastAggregate { kept, shape_index });
        let mut services: Vec<u32> = (0..self.services.len() as u32)
            .filter(|&id| totals.services[id as usize])
            .collect();
        services.sort_by(|&a, &b| self.services[a as usize].cmp(&self.services[b as usize]));
        let mut hops: Vec<HopOut> = hops
            .into_iter()
            .map(|((from, to), acc)| HopOut {
                from,
                to,
                timings: acc.finish(),
            })
            .collect();
        hops.sort_unstable_by_key(|hop| (hop.from, hop.to));
        AggregateOut {
            shapes,
            events: totals.events,
            services,
            requests: totals.requests,
            requests_per_minute: totals.requests_per_minute,
            users: totals.users,
            outside,
            baseline_events: totals.baseline_events,
            baseline_requests: totals.baseline_requests,
            baseline_first: totals.baseline_first,
            hops,
        }
    }
}

impl Table {
    /// The (request id, time, position) triples of a shape's (request id, position) pairs from
    /// the last `aggregate` (8 bytes a pair while aggregating, instead of 24).
    pub fn first_rows(&self, pairs: &[(u32, u32)]) -> Vec<(u32, f64, u64)> {
        let kept = self.last.as_ref().map_or(&[][..], |last| &last.kept[..]);
        pairs
            .iter()
            .map(|&(request, position)| {
                let ts = self.rows[kept[position as usize] as usize].ts;
                (request, ts, u64::from(position))
            })
            .collect()
    }
}

/// The window totals of `mine()`.
struct Totals {
    events: u64,
    services: Vec<bool>,
    /// Per request id, the last minute it was counted in (`_count_request`).
    request_minute: Vec<Option<i64>>,
    requests: u64,
    requests_per_minute: Vec<(i64, u64)>,
    seen_users: Vec<bool>,
    users: u64,
    baseline_events: u64,
    seen_baseline_requests: Vec<bool>,
    baseline_requests: u64,
    baseline_first: Option<f64>,
}

impl Totals {
    fn new(table: &Table) -> Self {
        Self {
            events: 0,
            services: vec![false; table.services.len()],
            request_minute: vec![None; table.requests.len()],
            requests: 0,
            requests_per_minute: Vec::new(),
            seen_users: vec![false; table.users.len()],
            users: 0,
            baseline_events: 0,
            seen_baseline_requests: vec![false; table.requests.len()],
            baseline_requests: 0,
            baseline_first: None,
        }
    }

    /// Count a baseline row; rows arrive in time order, so the first one is the earliest.
    fn add_baseline(&mut self, ts: f64, request: u32) {
        self.baseline_events += 1;
        self.baseline_first.get_or_insert(ts);
        if request != NO_ID
            && !std::mem::replace(&mut self.seen_baseline_requests[request as usize], true)
        {
            self.baseline_requests += 1;
        }
    }

    fn add(&mut self, service: u32, request: u32, user: u32, minute: i64) {
        self.events += 1;
        self.services[service as usize] = true;
        if request != NO_ID {
            let last = &mut self.request_minute[request as usize];
            if last.is_none() {
                self.requests += 1;
            }
            if *last != Some(minute) {
                *last = Some(minute);
                bump(&mut self.requests_per_minute, minute);
            }
        }
        if user != NO_ID && !std::mem::replace(&mut self.seen_users[user as usize], true) {
            self.users += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bottom_k_keeps_lowest_priorities() {
        let mut bottom: BottomK<u32> = BottomK::new();
        for position in 0..1000 {
            bottom.offer(5, position, position as u32);
        }
        let mut expected: Vec<u64> = (0..1000).collect();
        expected.sort_by_key(|&p| p.wrapping_mul(GOLDEN));
        let mut expected: Vec<u64> = expected[..5].to_vec();
        expected.sort();
        let kept: Vec<u64> = bottom.into_sorted().iter().map(|s| s.0).collect();
        assert_eq!(kept, expected);
    }
}
