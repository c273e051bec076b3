//! Interned strings: every distinct service, request id, user id, masked message and stack
//! fingerprint is stored once and rows refer to it by a u32 id.

use indexmap::IndexSet;

/// Distinct strings; a string's id is its index.
pub type Strings = IndexSet<Box<str>, ahash::RandomState>;
/// (service id, level class, masked message id, fingerprint id or NO_ID): one message shape.
pub type ShapeKey = (u32, u8, u32, u32);
/// Distinct shapes; a shape's id is its index.
pub type Shapes = IndexSet<ShapeKey, ahash::RandomState>;

/// The id meaning "none" (no request id, no fingerprint, ...).
pub const NO_ID: u32 = u32::MAX;

/// The id of `text` in `strings`, adding it if new.
pub fn intern(strings: &mut Strings, text: &str) -> u32 {
    match strings.get_index_of(text) {
        Some(id) => id as u32,
        None => strings.insert_full(Box::from(text)).0 as u32,
    }
}

/// For each id of `local`, its id in `global` (adding the strings `global` lacks).
pub fn remap(global: &mut Strings, local: &Strings) -> Vec<u32> {
    local.iter().map(|text| intern(global, text)).collect()
}
