//! Distinct 64-bit hashes, counted exactly up to a limit and estimated past it, so a count
//! over a window of any size takes bounded memory.
//!
//! Below the limit the hashes are kept in a set (exact up to hash collisions, negligible at 64
//! bits). Past it they become a HyperLogLog sketch of 2^14 one-byte registers (16 KiB, a
//! relative standard error of about 0.8%), as Elasticsearch's `cardinality` does past its
//! `precision_threshold`. Sketches and sets merge: the union's count, as if one had seen both.

use ahash::AHashSet;

/// Register index bits: 2^14 registers.
const P: u32 = 14;
const REGISTERS: usize = 1 << P;

/// A distinct count of hashes (see the module doc).
#[derive(Clone)]
pub enum Distinct {
    Exact(AHashSet<u64>),
    Sketch(Box<[u8]>),
}

impl Default for Distinct {
    fn default() -> Self {
        Self::Exact(AHashSet::new())
    }
}

impl Distinct {
    /// Count `hash`, exactly while at most `limit` are counted.
    pub fn insert(&mut self, hash: u64, limit: usize) {
        match self {
            Self::Exact(set) => {
                set.insert(hash);
                if set.len() > limit {
                    *self = Self::Sketch(sketch_of(set.iter().copied()));
                }
            }
            Self::Sketch(registers) => raise(registers, hash),
        }
    }

    /// The count: exact for a set, estimated for a sketch.
    pub fn len(&self) -> u64 {
        match self {
            Self::Exact(set) => set.len() as u64,
            Self::Sketch(registers) => estimate(registers),
        }
    }

    pub fn is_estimate(&self) -> bool {
        matches!(self, Self::Sketch(_))
    }

    /// Add `other`'s hashes (a sketch when either is one, or the union passes `limit`).
    pub fn merge(&mut self, other: Distinct, limit: usize) {
        match (&mut *self, other) {
            (Self::Exact(mine), Self::Exact(theirs)) => {
                for hash in theirs {
                    mine.insert(hash);
                }
                if mine.len() > limit {
                    *self = Self::Sketch(sketch_of(mine.iter().copied()));
                }
            }
            (Self::Sketch(mine), Self::Exact(theirs)) => {
                theirs.into_iter().for_each(|hash| raise(mine, hash));
            }
            (Self::Exact(mine), Self::Sketch(mut theirs)) => {
                mine.iter().for_each(|&hash| raise(&mut theirs, hash));
                *self = Self::Sketch(theirs);
            }
            (Self::Sketch(mine), Self::Sketch(theirs)) => {
                for (register, other) in mine.iter_mut().zip(theirs.iter()) {
                    *register = (*register).max(*other);
                }
            }
        }
    }

    /// A sketch from its registers, if they are a sketch's.
    pub fn sketch(registers: &[u8]) -> Option<Self> {
        (registers.len() == REGISTERS).then(|| Self::Sketch(registers.into()))
    }

    /// The number of registers of a sketch.
    pub const REGISTERS: usize = REGISTERS;
}

fn sketch_of(hashes: impl Iterator<Item = u64>) -> Box<[u8]> {
    let mut registers = vec![0_u8; REGISTERS].into_boxed_slice();
    for hash in hashes {
        raise(&mut registers, hash);
    }
    registers
}

/// Raise the register of `hash` to its rank.
fn raise(registers: &mut [u8], hash: u64) {
    let index = (hash >> (64 - P)) as usize;
    // The rank of the other bits: the position of their first one (a sentinel bit caps it).
    let rank = ((hash << P) | (1 << (P - 1))).leading_zeros() as u8 + 1;
    let register = &mut registers[index];
    *register = (*register).max(rank);
}

/// The HyperLogLog estimate of a sketch, with linear counting for small counts.
fn estimate(registers: &[u8]) -> u64 {
    let m = REGISTERS as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
    let raw = alpha * m * m / sum;
    let zeros = registers.iter().filter(|&&r| r == 0).count();
    let value = if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    };
    value.round() as u64
}

#[cfg(test)]
mod tests {
    use super::super::sampler::id_hash;
    use super::*;

    fn hashes(range: std::ops::Range<u64>) -> impl Iterator<Item = u64> {
        range.map(|n| id_hash(&format!("request-{n}")))
    }

    #[test]
    fn exact_up_to_the_limit_then_estimated_closely() {
        let mut count = Distinct::default();
        for hash in hashes(0..1000).chain(hashes(0..1000)) {
            count.insert(hash, 5000);
        }
        assert_eq!((count.len(), count.is_estimate()), (1000, false));
        for hash in hashes(1000..200_000) {
            count.insert(hash, 5000);
        }
        assert!(count.is_estimate());
        let error = (count.len() as f64 - 200_000.0).abs() / 200_000.0;
        assert!(error < 0.03, "{} for 200000", count.len());
    }

    #[test]
    fn merged_counts_are_those_of_one_count_that_saw_both() {
        let limit = 5000;
        let one = |range: std::ops::Range<u64>| {
            let mut count = Distinct::default();
            hashes(range).for_each(|hash| count.insert(hash, limit));
            count
        };
        for (a, b) in [
            (0..3000, 2000..4000),
            (0..3000, 1000..90_000),
            (0..50_000, 100..200),
        ] {
            let whole = one(a.start.min(b.start)..a.end.max(b.end));
            let mut merged = one(a.clone());
            merged.merge(one(b.clone()), limit);
            assert_eq!(merged.is_estimate(), whole.is_estimate());
            assert_eq!(merged.len(), whole.len());
        }
    }
}
