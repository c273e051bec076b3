//! Event texts stored as edits of their shape's first text: what keeps a table's memory near its
//! rows' when every text must stay readable (samples, slot values and written durations are read
//! from the texts of whichever rows the final window holds, which is not known while reading).
//!
//! Events of one shape share their masked message, so their texts differ only in the values the
//! masking replaced: `Loaded session sess_ora4 (ttl=1800s)` against the shape's first text
//! `Loaded session sess_qoc8 (ttl=3600s)` is a copy of 15 bytes, the literal `ora4`, a copy,
//! `1800`, a copy. A stack trace repeated under the same fingerprint is one copy. Decoding gives
//! back the exact bytes (the encoder checks nothing else: a copy is only ever of bytes equal to
//! the text's); a text unlike its reference costs a few bytes more than itself.
//!
//! Layout: a sequence of ops, each a varint header `(length << 1) | kind`: kind 0 is a literal
//! whose `length` bytes follow; kind 1 copies `length` bytes of the reference, starting at the end
//! of the last copy plus a zigzag varint delta.

/// Copies shorter than this are kept as literals: a copy costs two or three bytes.
const MIN_COPY: usize = 4;
/// Bytes after a differing value searched for in the reference.
const NEEDLE: usize = 8;
/// How far from the last copy the reference is searched, each way.
const SEARCH_SPAN: usize = 4096;
/// Reference bytes searched per byte of text, at most.
const SEARCH_BUDGET: usize = 32;

/// Bytes where a value of a text ends: whitespace and the punctuation around values.
fn is_boundary(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t'
            | b'\n'
            | b'\r'
            | b','
            | b';'
            | b':'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'<'
            | b'>'
            | b'"'
            | b'\''
            | b'='
            | b'/'
            | b'|'
            | b'&'
            | b'@'
    )
}

/// The index of the first boundary after `from` in `bytes` (its length if none).
fn next_boundary(bytes: &[u8], from: usize) -> usize {
    bytes
        .iter()
        .skip(from + 1)
        .position(|&b| is_boundary(b))
        .map_or(bytes.len(), |at| from + 1 + at)
}

/// Append `value` as a LEB128 varint.
pub fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Read a LEB128 varint from the start of `data`, and move past it.
pub fn read_varint(data: &mut &[u8]) -> Option<u64> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = data.split_first()?;
        *data = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

fn push_literal(out: &mut Vec<u8>, bytes: &[u8]) {
    if !bytes.is_empty() {
        push_varint(out, (bytes.len() as u64) << 1);
        out.extend_from_slice(bytes);
    }
}

/// How many bytes `a` and `b` share at their start (eight at a time: stack traces of one
/// shape share kilobytes).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut at = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let differ = u64::from_le_bytes(x.try_into().unwrap_or_default())
            ^ u64::from_le_bytes(y.try_into().unwrap_or_default());
        if differ != 0 {
            return at + (differ.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + a[at..]
        .iter()
        .zip(&b[at.min(b.len())..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Append the encoding of `text` against `reference` to `out`.
///
/// Where they differ, the text's value runs to its next boundary, and the reference is searched
/// for the bytes that follow it (first ahead of the last copy, then behind it, each within
/// `SEARCH_SPAN`), so a line the text repeats or lacks costs a literal, not the rest of the text.
/// The bytes searched are bounded by `SEARCH_BUDGET` times the text's length.
pub fn encode(reference: &[u8], text: &[u8], out: &mut Vec<u8>) {
    let (mut i, mut j) = (0, 0);
    let mut literal = 0; // where the pending literal starts in `text`
    let mut expected = 0_usize; // where the last copy ended in `reference`
    let mut budget = SEARCH_BUDGET * text.len() + SEARCH_SPAN;
    while i < text.len() {
        let same = common_prefix(&text[i..], reference.get(j..).unwrap_or_default());
        if same >= MIN_COPY || (same > 0 && i + same == text.len()) {
            push_literal(out, &text[literal..i]);
            push_varint(out, ((same as u64) << 1) | 1);
            let delta = j as i64 - expected as i64;
            push_varint(out, ((delta << 1) ^ (delta >> 63)) as u64);
            i += same;
            j += same;
            expected = j;
            literal = i;
            continue;
        }
        // A value that differs: skip it, and find where the reference agrees again.
        i = next_boundary(text, i);
        let needle = &text[i..text.len().min(i + NEEDLE)];
        let j_next = next_boundary(reference, j.min(reference.len()));
        j = if needle.len() < MIN_COPY || budget == 0 {
            j_next
        } else {
            let at = j.min(reference.len());
            let ahead = &reference[at..reference.len().min(at + SEARCH_SPAN)];
            let behind_from = at.saturating_sub(SEARCH_SPAN);
            let behind = &reference[behind_from..at];
            budget = budget.saturating_sub(ahead.len() + behind.len());
            memchr::memmem::find(ahead, needle)
                .map(|found| at + found)
                .or_else(|| memchr::memmem::find(behind, needle).map(|found| behind_from + found))
                .unwrap_or(j_next)
        };
    }
    push_literal(out, &text[literal..]);
}

/// Append the text that `data` encodes against `reference` to `out`; false (and `out` holding
/// what was decoded) when `data` is not an encoding against `reference`.
pub fn decode(reference: &[u8], mut data: &[u8], out: &mut Vec<u8>) -> bool {
    let mut expected = 0_i64;
    while !data.is_empty() {
        let Some(header) = read_varint(&mut data) else {
            return false;
        };
        let length = (header >> 1) as usize;
        if header & 1 == 0 {
            let Some(bytes) = data.get(..length) else {
                return false;
            };
            out.extend_from_slice(bytes);
            data = &data[length..];
            continue;
        }
        let Some(zigzag) = read_varint(&mut data) else {
            return false;
        };
        let start = expected + ((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64));
        let copied = usize::try_from(start)
            .ok()
            .and_then(|start| reference.get(start..start.checked_add(length)?));
        let Some(copied) = copied else {
            return false;
        };
        out.extend_from_slice(copied);
        expected = start + length as i64;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(reference: &str, text: &str) -> usize {
        let mut encoded = Vec::new();
        encode(reference.as_bytes(), text.as_bytes(), &mut encoded);
        let mut decoded = Vec::new();
        assert!(decode(reference.as_bytes(), &encoded, &mut decoded));
        assert_eq!(String::from_utf8(decoded).unwrap(), text);
        encoded.len()
    }

    #[test]
    fn texts_of_one_shape_cost_their_values() {
        let first = "Loaded session sess_qoc8o0y81wgg3eld (ttl=3600s)";
        let size = round_trip(first, "Loaded session sess_ora4wrvf9j4yomsc (ttl=1800s)");
        assert!(size < 30, "{size}");
        assert!(round_trip(first, first) <= 3);
        let stack = format!(
            "boom\n{}",
            "\tat com.example.Foo.bar(Foo.java:12)\n".repeat(40)
        );
        let other = stack.replacen("boom", "bang", 1);
        assert!(round_trip(&stack, &other) < 16);
        // A text that repeats its first line costs that line, not the rest.
        let repeated = stack.replacen("boom", "boom\nboom", 1);
        assert!(round_trip(&stack, &repeated) < 24);
        assert!(round_trip(&repeated, &stack) < 24);
    }

    #[test]
    fn any_text_comes_back_exactly() {
        let cases = [
            ("", ""),
            ("", "only a literal"),
            ("a reference", ""),
            ("same", "same"),
            ("x", "xx"),
            (
                "retry 3 of 5 after 200ms",
                "retry 10 of 5 after   7ms, giving up",
            ),
            ("a: b: c", "a:: b : c::"),
            ("émoji ✓ done", "émoji ✗ done ✓"),
            ("short", "a much longer text that shares nothing with it"),
            (
                "GET /api/v1/orders/123 -> 200",
                "GET /api/v1/orders/45678/items -> 502",
            ),
        ];
        for (reference, text) in cases {
            round_trip(reference, text);
            round_trip(text, reference);
        }
    }

    #[test]
    fn common_prefixes_are_counted_to_the_byte() {
        let long = "0123456789abcdefghij";
        for cut in 0..long.len() {
            let mut other = long.as_bytes().to_vec();
            other[cut] = b'#';
            assert_eq!(common_prefix(long.as_bytes(), &other), cut);
            assert_eq!(common_prefix(&long.as_bytes()[..cut], long.as_bytes()), cut);
        }
    }

    #[test]
    fn a_foreign_encoding_is_refused() {
        let mut encoded = Vec::new();
        encode(
            b"a long enough reference",
            b"a long enough text",
            &mut encoded,
        );
        let mut out = Vec::new();
        assert!(!decode(b"short", &encoded, &mut out));
        assert!(!decode(b"x", &[0x80], &mut out));
    }
}
