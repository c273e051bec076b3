//! A strict reader for one JSON line that agrees with `orjson.loads` on what is valid.
//!
//! It builds a small tree of spans into the line (no copies): objects keep their members so
//! field lookups can walk nested keys; array elements are only validated. Where orjson's answer
//! is not plain RFC 8259 (numbers that overflow to infinity, unpaired surrogate escapes, nesting
//! deeper than orjson allows), the reader says `Unsure` and the caller hands the line to Python.

use std::borrow::Cow;

/// Index of a node in a `Doc`.
pub type NodeId = u32;

const NONE: u32 = u32::MAX;
/// Nesting beyond this is left to Python (orjson's own limit is 1024).
const MAX_DEPTH: u32 = 500;
/// Integers with more digits may not fit an i64; Python gets them as big ints or floats.
const MAX_INT_DIGITS: usize = 18;

/// Why a line could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// Not JSON by any reading: orjson rejects it too.
    Invalid,
    /// Valid or not depending on details of orjson; let Python decide.
    Unsure,
}

/// What kind of JSON value a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool(bool),
    /// An integer literal (no fraction or exponent).
    Int,
    /// A number with a fraction or an exponent.
    Float,
    Str,
    Object,
    Array,
}

/// One value: its kind and span in the line (for strings, the text between the quotes).
#[derive(Clone, Copy, Debug)]
pub struct Node {
    pub kind: Kind,
    start: u32,
    end: u32,
    /// Strings: whether the span holds escapes. Objects: unused.
    escaped: bool,
    /// Objects: the first member (linked through `Member::next`), or NONE.
    first: u32,
}

/// One `key: value` pair of an object.
#[derive(Clone, Copy, Debug)]
struct Member {
    key: (u32, u32),
    key_escaped: bool,
    value: NodeId,
    next: u32,
}

/// The parsed tree of one line; reused from line to line to avoid allocations.
#[derive(Default)]
pub struct Doc {
    nodes: Vec<Node>,
    members: Vec<Member>,
}

/// A member key of an object, as text (escapes resolved only when there are some).
pub struct Key<'a> {
    pub text: Cow<'a, str>,
    pub value: NodeId,
}

impl Doc {
    /// Parse `line` (one whole line, valid UTF-8) and return its root value.
    pub fn parse(&mut self, line: &str) -> Result<NodeId, Error> {
        self.nodes.clear();
        self.members.clear();
        let bytes = line.as_bytes();
        let mut parser = Parser {
            bytes,
            pos: 0,
            checked_controls: !has_control_bytes(bytes),
            doc: self,
        };
        parser.skip_whitespace();
        let root = parser.value(0)?;
        parser.skip_whitespace();
        if parser.pos != bytes.len() {
            return Err(Error::Invalid);
        }
        Ok(root)
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> Node {
        self.nodes[id as usize]
    }

    /// Every member of object `id`, in the order written (duplicates included).
    pub fn members<'a>(&'a self, line: &'a str, id: NodeId) -> impl Iterator<Item = Key<'a>> + 'a {
        let mut next = self.nodes[id as usize].first;
        std::iter::from_fn(move || {
            if next == NONE {
                return None;
            }
            let member = self.members[next as usize];
            next = member.next;
            let raw = &line[member.key.0 as usize..member.key.1 as usize];
            let text = if member.key_escaped {
                Cow::Owned(unescape(raw))
            } else {
                Cow::Borrowed(raw)
            };
            Some(Key {
                text,
                value: member.value,
            })
        })
    }

    /// The value of `key` in object `id` (the last one when the key repeats, like a dict).
    pub fn get(&self, line: &str, id: NodeId, key: &str) -> Option<NodeId> {
        self.members(line, id)
            .filter(|member| member.text == key)
            .last()
            .map(|m| m.value)
    }

    /// The text of string node `id`.
    pub fn text<'a>(&self, line: &'a str, id: NodeId) -> Cow<'a, str> {
        let node = self.nodes[id as usize];
        let raw = &line[node.start as usize..node.end as usize];
        if node.escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        }
    }

    /// True when string node `id` is the empty string.
    pub fn is_empty_str(&self, id: NodeId) -> bool {
        let node = self.nodes[id as usize];
        node.kind == Kind::Str && node.start == node.end
    }

    /// The value of integer node `id`, or None when it may not fit an i64.
    pub fn int(&self, line: &str, id: NodeId) -> Option<i64> {
        let node = self.nodes[id as usize];
        let raw = &line[node.start as usize..node.end as usize];
        let digits = raw.strip_prefix('-').unwrap_or(raw).len();
        if digits > MAX_INT_DIGITS {
            return None;
        }
        raw.parse().ok()
    }

    /// The value of float node `id` (correctly rounded, as orjson reads it).
    pub fn float(&self, line: &str, id: NodeId) -> f64 {
        let node = self.nodes[id as usize];
        line[node.start as usize..node.end as usize]
            .parse()
            .unwrap_or(f64::NAN)
    }
}

/// True when the line holds a byte below 0x20 before its trailing whitespace; strings must then
/// be checked byte by byte for raw control characters.
fn has_control_bytes(bytes: &[u8]) -> bool {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    // Chunked so the compiler vectorizes it; a short-circuiting `any` would not.
    bytes[..end]
        .chunks(32)
        .any(|chunk| chunk.iter().fold(false, |seen, &b| seen | (b < 0x20)))
}

struct Parser<'d, 'b> {
    bytes: &'b [u8],
    pos: usize,
    /// True when the line has no control bytes, so strings need not be checked for them.
    checked_controls: bool,
    doc: &'d mut Doc,
}

impl Parser<'_, '_> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn push(&mut self, kind: Kind, start: usize, end: usize, escaped: bool) -> NodeId {
        self.doc.nodes.push(Node {
            kind,
            start: start as u32,
            end: end as u32,
            escaped,
            first: NONE,
        });
        (self.doc.nodes.len() - 1) as NodeId
    }

    fn value(&mut self, depth: u32) -> Result<NodeId, Error> {
        let start = self.pos;
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                let (end, escaped) = self.string()?;
                Ok(self.push(Kind::Str, start + 1, end, escaped))
            }
            Some(b't') => self.literal(b"true", Kind::Bool(true)),
            Some(b'f') => self.literal(b"false", Kind::Bool(false)),
            Some(b'n') => self.literal(b"null", Kind::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Error::Invalid),
        }
    }

    fn literal(&mut self, word: &[u8], kind: Kind) -> Result<NodeId, Error> {
        if !self.bytes[self.pos..].starts_with(word) {
            return Err(Error::Invalid);
        }
        let start = self.pos;
        self.pos += word.len();
        Ok(self.push(kind, start, self.pos, false))
    }

    fn object(&mut self, depth: u32) -> Result<NodeId, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::Unsure);
        }
        let id = self.push(Kind::Object, self.pos, self.pos, false);
        self.pos += 1;
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(id);
        }
        let mut last = NONE;
        loop {
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(Error::Invalid);
            }
            let key_start = self.pos + 1;
            let (key_end, key_escaped) = self.string()?;
            self.skip_whitespace();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(Error::Invalid);
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.value(depth)?;
            let member = Member {
                key: (key_start as u32, key_end as u32),
                key_escaped,
                value,
                next: NONE,
            };
            self.doc.members.push(member);
            let index = (self.doc.members.len() - 1) as u32;
            if last == NONE {
                self.doc.nodes[id as usize].first = index;
            } else {
                self.doc.members[last as usize].next = index;
            }
            last = index;
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(id);
                }
                _ => return Err(Error::Invalid),
            }
        }
    }

    fn array(&mut self, depth: u32) -> Result<NodeId, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::Unsure);
        }
        let id = self.push(Kind::Array, self.pos, self.pos, false);
        self.pos += 1;
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(id);
        }
        loop {
            // Array elements are never looked into; keep the tree small.
            let mark = (self.doc.nodes.len(), self.doc.members.len());
            self.value(depth)?;
            self.doc.nodes.truncate(mark.0);
            self.doc.members.truncate(mark.1);
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(id);
                }
                _ => return Err(Error::Invalid),
            }
        }
    }

    /// Scan the string starting at the opening quote under `pos`; return the index of its
    /// closing quote and whether it holds escapes, leaving `pos` after the closing quote.
    fn string(&mut self) -> Result<(usize, bool), Error> {
        let mut pos = self.pos + 1;
        let mut escaped = false;
        loop {
            let found = if self.checked_controls {
                memchr::memchr2(b'"', b'\\', &self.bytes[pos..]).map(|i| pos + i)
            } else {
                self.bytes[pos..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                    .map(|i| pos + i)
            };
            let Some(at) = found else {
                return Err(Error::Invalid);
            };
            match self.bytes[at] {
                b'"' => {
                    self.pos = at + 1;
                    return Ok((at, escaped));
                }
                b'\\' => {
                    escaped = true;
                    pos = self.escape(at)?;
                }
                _ => return Err(Error::Invalid), // a raw control character
            }
        }
    }

    /// Validate the escape at `at` (a backslash); return the index after it.
    fn escape(&self, at: usize) -> Result<usize, Error> {
        match self.bytes.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(at + 2),
            Some(b'u') => {
                let unit = hex4(self.bytes, at + 2).ok_or(Error::Invalid)?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by an escaped low one.
                        let low = (self.bytes.get(at + 6..at + 8) == Some(b"\\u"))
                            .then(|| hex4(self.bytes, at + 8))
                            .flatten();
                        match low {
                            Some(0xDC00..=0xDFFF) => Ok(at + 12),
                            _ => Err(Error::Unsure),
                        }
                    }
                    0xDC00..=0xDFFF => Err(Error::Unsure),
                    _ => Ok(at + 6),
                }
            }
            _ => Err(Error::Invalid),
        }
    }

    fn number(&mut self) -> Result<NodeId, Error> {
        let start = self.pos;
        let bytes = self.bytes;
        let mut pos = start;
        if bytes[pos] == b'-' {
            pos += 1;
        }
        let int_digits = count_digits(bytes, pos);
        if int_digits == 0 || (int_digits > 1 && bytes[pos] == b'0') {
            return Err(Error::Invalid);
        }
        pos += int_digits;
        let mut kind = Kind::Int;
        if bytes.get(pos) == Some(&b'.') {
            let fraction = count_digits(bytes, pos + 1);
            if fraction == 0 {
                return Err(Error::Invalid);
            }
            pos += 1 + fraction;
            kind = Kind::Float;
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            if let Some(b'+' | b'-') = bytes.get(pos) {
                pos += 1;
            }
            let digits = count_digits(bytes, pos);
            if digits == 0 {
                return Err(Error::Invalid);
            }
            pos += digits;
            kind = Kind::Float;
            exponent = true;
        }
        // orjson rejects numbers that overflow a double; only long or exponent forms can.
        if (exponent || pos - start > MAX_INT_DIGITS)
            && std::str::from_utf8(&bytes[start..pos])
                .ok()
                .and_then(|text| text.parse::<f64>().ok())
                .is_none_or(f64::is_infinite)
        {
            return Err(Error::Unsure);
        }
        self.pos = pos;
        Ok(self.push(kind, start, pos, false))
    }
}

fn count_digits(bytes: &[u8], from: usize) -> usize {
    bytes.get(from..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    digits
        .iter()
        .try_fold(0_u32, |n, &b| Some(n * 16 + (b as char).to_digit(16)?))
}

/// The text of a string body whose escapes were validated by the parser.
fn unescape(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0;
    let mut pos = 0;
    while let Some(offset) = memchr::memchr(b'\\', &bytes[pos..]) {
        let at = pos + offset;
        out.push_str(&raw[copied..at]);
        let (ch, next) = match bytes[at + 1] {
            b'b' => ('\u{8}', at + 2),
            b'f' => ('\u{c}', at + 2),
            b'n' => ('\n', at + 2),
            b'r' => ('\r', at + 2),
            b't' => ('\t', at + 2),
            b'u' => {
                let unit = hex4(bytes, at + 2).unwrap_or(0xFFFD);
                if (0xD800..0xDC00).contains(&unit) {
                    let low = hex4(bytes, at + 8).unwrap_or(0xDC00);
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    (char::from_u32(code).unwrap_or('\u{FFFD}'), at + 12)
                } else {
                    (char::from_u32(unit).unwrap_or('\u{FFFD}'), at + 6)
                }
            }
            other => (other as char, at + 2),
        };
        out.push(ch);
        pos = next;
        copied = next;
    }
    out.push_str(&raw[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Kind, Error> {
        let mut doc = Doc::default();
        doc.parse(line).map(|root| doc.node(root).kind)
    }

    #[test]
    fn accepts_what_orjson_accepts() {
        for line in [
            "{}",
            " {\"a\": [1, {\"b\": null}], \"c\": -0.5e-3}\r\n",
            "[]",
            "\"x\\u00e9\\ud83d\\ude00\"",
            "-0",
            "123456789012345678901234567890",
            "1e-400",
            "\"\x7f\"",
        ] {
            assert!(parse(line).is_ok(), "{line:?}");
        }
    }

    #[test]
    fn rejects_what_orjson_rejects() {
        for line in [
            "",
            "{",
            "{\"a\":1,}",
            "[1,]",
            "01",
            "1.",
            ".5",
            "+1",
            "NaN",
            "tru",
            "{\"a\" 1}",
            "[1 2]",
            "\"\\x41\"",
            "\"a\tb\"",
            "{} {}",
            "\u{feff}{}",
            "\x0c{}",
            "{} \x0b",
            "'a'",
        ] {
            assert_eq!(parse(line), Err(Error::Invalid), "{line:?}");
        }
    }

    #[test]
    fn leaves_orjson_specifics_to_python() {
        for line in ["1e400", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\""] {
            assert_eq!(parse(line), Err(Error::Unsure), "{line:?}");
        }
        let deep = format!("{}{}", "[".repeat(600), "]".repeat(600));
        assert_eq!(parse(&deep), Err(Error::Unsure));
    }

    #[test]
    fn finds_keys_and_text() {
        let line = r#"{"a":"x","a":"y\n\u00e9","b":{"c":12},"d":1.5}"#;
        let mut doc = Doc::default();
        let root = doc.parse(line).unwrap();
        let a = doc.get(line, root, "a").unwrap();
        assert_eq!(doc.text(line, a), "y\né");
        let b = doc.get(line, root, "b").unwrap();
        let c = doc.get(line, b, "c").unwrap();
        assert_eq!(doc.int(line, c), Some(12));
        assert_eq!(doc.float(line, doc.get(line, root, "d").unwrap()), 1.5);
        assert!(doc.get(line, root, "z").is_none());
    }
}
