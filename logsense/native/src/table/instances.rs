//! Which version of each service ran on which host, and when: counted for every kept event
//! as it is read, so that deploys, restarts and scaling are told by the events' own version and
//! host fields (`logsense/analyze/rollouts.py`), whatever the lines say.

use ahash::AHashMap;

use super::strings::NO_ID;

/// (service id, version id or NO_ID, host id or NO_ID).
pub type InstanceKey = (u32, u32, u32);

/// When one instance was seen first and last, and in how many kept events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seen {
    pub first: f64,
    pub last: f64,
    pub events: u64,
}

/// Every instance seen, by key.
#[derive(Default)]
pub struct Instances {
    pub seen: AHashMap<InstanceKey, Seen>,
}

impl Instances {
    /// Count one event of `key` at `ts`.
    pub fn see(&mut self, key: InstanceKey, ts: f64) {
        self.add(
            key,
            Seen {
                first: ts,
                last: ts,
                events: 1,
            },
        );
    }

    /// Add what another count saw of `key`.
    pub fn add(&mut self, key: InstanceKey, more: Seen) {
        self.seen
            .entry(key)
            .and_modify(|seen| {
                seen.first = seen.first.min(more.first);
                seen.last = seen.last.max(more.last);
                seen.events += more.events;
            })
            .or_insert(more);
    }

    /// Add another worker's counts, its ids mapped to this table's.
    pub fn absorb(&mut self, other: &Instances, services: &[u32], versions: &[u32], hosts: &[u32]) {
        let global = |map: &[u32], id: u32| if id == NO_ID { NO_ID } else { map[id as usize] };
        for (&(service, version, host), &seen) in &other.seen {
            let key = (
                services[service as usize],
                global(versions, version),
                global(hosts, host),
            );
            self.add(key, seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_first_last_and_events_and_merges_by_mapped_ids() {
        let mut mine = Instances::default();
        mine.see((0, 0, NO_ID), 10.0);
        mine.see((0, 0, NO_ID), 5.0);
        assert_eq!(mine.seen.len(), 1);
        let mut table = Instances::default();
        table.see((3, 9, NO_ID), 20.0);
        table.absorb(&mine, &[3], &[9], &[]);
        assert_eq!(
            table.seen[&(3, 9, NO_ID)],
            Seen {
                first: 5.0,
                last: 20.0,
                events: 3
            }
        );
    }
}
