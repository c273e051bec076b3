//! Aggregation of the kept rows by message shape, as `mine()` counts them before Drain:
//! `ShapeCounts.add`, `_new_entry`, `_tally`, `BottomK` and the totals loop with
//! `_count_request` (`logsense/mine/miner.py`, `logsense/mine/sampling.py`).
//!
//! Rows in `[low, window_end)` are sorted stably by (time, seq); a row's position is its index
//! in that order. Rows at or after `window_start` are window rows; the others only add to their
//! shape's baseline count.

use ahash::{AHashSet, RandomState};

use super::store::{LastAggregate, Table};
use super::strings::NO_ID;
use crate::pytext::floordiv_int;

/// Fibonacci hashing constant of `sampling.priority`.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

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
    /// (request id, time, position) of each request's first window row, in first-seen order.
    pub requests: Vec<(u32, f64, u64)>,
    pub users: Vec<u32>,
    /// (position, row index) of the kept samples, by position.
    pub samples: Vec<(u64, u32)>,
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
}

/// The `size` offered positions of lowest priority (`BottomK`); priorities are distinct since
/// GOLDEN is odd.
struct BottomK {
    items: Vec<(u64, u64, u32)>, // (priority, position, row)
    worst: usize,
}

impl BottomK {
    fn new() -> Self {
        Self {
            items: Vec::new(),
            worst: 0,
        }
    }

    fn offer(&mut self, size: usize, position: u64, row: u32) {
        let priority = position.wrapping_mul(GOLDEN);
        if self.items.len() < size {
            self.items.push((priority, position, row));
        } else if size > 0 && priority < self.items[self.worst].0 {
            self.items[self.worst] = (priority, position, row);
        } else {
            return;
        }
        self.worst = (0..self.items.len())
            .max_by_key(|&i| self.items[i].0)
            .unwrap_or(0);
    }

    fn into_sorted(mut self) -> Vec<(u64, u32)> {
        self.items.sort_by_key(|item| item.1);
        self.items
            .into_iter()
            .map(|(_, position, row)| (position, row))
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
        let mut kept: Vec<(f64, u64, u32)> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, row)| low <= row.ts && row.ts < window_end)
            .map(|(index, row)| (row.ts, row.seq, index as u32))
            .collect();
        // Times are never NaN; -0.0 and 0.0 compare equal, as in Python's sort.
        kept.sort_by(|a, b| {
            a.0.partial_cmp(&b.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.1.cmp(&b.1))
        });
        let outside = self.dropped + (self.rows.len() - kept.len()) as u64;

        let mut shape_index = vec![NO_ID; self.shapes.len()];
        let mut shapes: Vec<ShapeOut> = Vec::new();
        let mut bottoms: Vec<BottomK> = Vec::new();
        let mut shape_requests: AHashSet<u64> = AHashSet::with_hasher(RandomState::new());
        let mut shape_users: AHashSet<u64> = AHashSet::with_hasher(RandomState::new());
        let mut totals = Totals::new(self);
        for (position, &(ts, _, index)) in kept.iter().enumerate() {
            let position = position as u64;
            let row = self.rows[index as usize];
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
                    users: Vec::new(),
                    samples: Vec::new(),
                });
                bottoms.push(BottomK::new());
            }
            let out = *slot as usize;
            let stats = &mut shapes[out];
            if ts < window_start {
                stats.baseline_count += 1;
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
            let pair = |id: u32| (u64::from(out as u32) << 32) | u64::from(id);
            if row.request != NO_ID && shape_requests.insert(pair(row.request)) {
                stats.requests.push((row.request, ts, position));
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
        for (stats, bottom) in shapes.iter_mut().zip(bottoms) {
            stats.samples = bottom.into_sorted();
        }
        self.last = Some(LastAggregate {
            kept: kept.iter().map(|k| k.2).collect(),
            shape_index,
        });
        let mut services: Vec<u32> = (0..self.services.len() as u32)
            .filter(|&id| totals.services[id as usize])
            .collect();
        services.sort_by(|&a, &b| self.services[a as usize].cmp(&self.services[b as usize]));
        AggregateOut {
            shapes,
            events: totals.events,
            services,
            requests: totals.requests,
            requests_per_minute: totals.requests_per_minute,
            users: totals.users,
            outside,
        }
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
        let mut bottom = BottomK::new();
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
