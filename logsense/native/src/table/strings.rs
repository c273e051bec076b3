//! Interned strings: every distinct service, request id, user id, masked message and stack
//! fingerprint is stored once and rows refer to it by a u32 id.
//!
//! Request ids are nearly as many as events (a request logs a few lines): their strings lie in
//! one buffer, found through a table of ids, some 45 bytes a string less than a set of boxed
//! strings takes.

use hashbrown::HashTable;
use indexmap::IndexSet;

/// Distinct strings; a string's id is its index.
#[derive(Default)]
pub struct Strings {
    bytes: String,
    /// Where each string ends in `bytes`.
    ends: Vec<usize>,
    /// The ids, by their strings' hashes.
    ids: HashTable<u32>,
    hasher: ahash::RandomState,
}

impl Strings {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The string of id `id`, if there is one.
    pub fn get(&self, id: usize) -> Option<&str> {
        let end = *self.ends.get(id)?;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        Some(&self.bytes[start..end])
    }

    /// The id of `text`, adding it if new.
    pub fn insert(&mut self, text: &str) -> u32 {
        let hash = self.hasher.hash_one(text);
        let (bytes, ends) = (&self.bytes, &self.ends);
        let string = |id: u32| {
            let id = id as usize;
            &bytes[if id == 0 { 0 } else { ends[id - 1] }..ends[id]]
        };
        if let Some(&id) = self.ids.find(hash, |&id| string(id) == text) {
            return id;
        }
        let id = self.ends.len() as u32;
        let hasher = &self.hasher;
        let (bytes, ends) = (&self.bytes, &self.ends);
        self.ids.insert_unique(hash, id, |&known| {
            let known = known as usize;
            let start = if known == 0 { 0 } else { ends[known - 1] };
            hasher.hash_one(&bytes[start..ends[known]])
        });
        self.bytes.push_str(text);
        self.ends.push(self.bytes.len());
        id
    }

    /// The strings in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> {
        (0..self.len()).map(|id| &self[id])
    }
}

impl std::ops::Index<usize> for Strings {
    type Output = str;

    fn index(&self, id: usize) -> &str {
        self.get(id).expect("an id handed out by this set")
    }
}

/// (service id, level class, masked message id, fingerprint id or NO_ID): one message shape.
pub type ShapeKey = (u32, u8, u32, u32);
/// Distinct shapes; a shape's id is its index.
pub type Shapes = IndexSet<ShapeKey, ahash::RandomState>;

/// The id meaning "none" (no request id, no fingerprint, ...).
pub const NO_ID: u32 = u32::MAX;

/// The id of `text` in `strings`, adding it if new.
pub fn intern(strings: &mut Strings, text: &str) -> u32 {
    strings.insert(text)
}

/// For each id of `local`, its id in `global` (adding the strings `global` lacks).
pub fn remap(global: &mut Strings, local: &Strings) -> Vec<u32> {
    local.iter().map(|text| global.insert(text)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_distinct_string_gets_the_next_id_once() {
        let mut strings = Strings::default();
        let words = ["a", "", "req-1", "a", "é", "req-1", ""];
        let ids: Vec<u32> = words.iter().map(|w| intern(&mut strings, w)).collect();
        assert_eq!(ids, [0, 1, 2, 0, 3, 2, 1]);
        assert_eq!(strings.iter().collect::<Vec<_>>(), ["a", "", "req-1", "é"]);
        assert_eq!((&strings[3], strings.get(4)), ("é", None));
        let mut global = Strings::default();
        intern(&mut global, "é");
        assert_eq!(remap(&mut global, &strings), [1, 2, 3, 0]);
        // Many strings: the table grows and every id is still found.
        for n in 0..10_000 {
            assert_eq!(intern(&mut global, &format!("r{n}")), 4 + n);
        }
        assert_eq!(intern(&mut global, "r1234"), 1238);
    }
}
