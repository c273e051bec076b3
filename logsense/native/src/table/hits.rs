//! Elasticsearch search responses read natively (`EventTable.scan_hits`): the page's bytes as
//! the HTTP response carried them, never a Python dict per hit.
//!
//! A structural pass finds each hit's `_index`, `_id`, `_source` and `sort`, and the response's
//! `pit_id`, `timed_out` and `_shards.failed`. The sources are then read as JSON lines by the
//! same scanner files use (`scan::scan_block`, on the table's threads): each `_source` becomes one
//! line (raw newlines between tokens, the only place JSON allows them, become spaces). A hit's
//! origin is `{_index}/{_id}`; its input order (`seq`) is the number its `_id` ends with, as
//! `logsense load` writes the line number there (else a hash of the id): documents with equal
//! times then keep the order of the file they came from.

use std::ops::Range;

use super::json_scan::{Doc, Kind};

/// Where one hit's parts are in the response.
pub struct HitRef {
    pub index: String,
    pub id: String,
    /// The `_source` value, if the hit has one.
    pub source: Option<Range<usize>>,
}

/// What a search response holds besides the sources.
#[derive(Default)]
pub struct Page {
    pub hits: Vec<HitRef>,
    /// The last hit's `sort` array, as JSON.
    pub last_sort: Option<Range<usize>>,
    pub pit_id: Option<String>,
    pub shards_failed: u64,
    pub timed_out: bool,
}

/// Seq values stay below 2**52, so Python compares them as exact floats.
const SEQ_BITS: u32 = 52;

/// The input order of a document: the number its `_id` ends with (up to 15 digits), else a
/// hash of the id (FNV-1a), both below 2**52.
pub fn hit_seq(id: &str) -> u64 {
    if let Some((stem, _)) = id_stem(id) {
        if let Ok(number) = id[stem.len()..].parse::<u64>() {
            return number;
        }
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash >> (64 - SEQ_BITS)
}

/// An id that ends with a number of 1 to 15 digits: the part before it and the digits' count
/// (the id is the stem, then its `hit_seq` written with that many digits, zero-padded).
pub fn id_stem(id: &str) -> Option<(&str, usize)> {
    let digits = id.bytes().rev().take_while(u8::is_ascii_digit).count();
    (1..=15)
        .contains(&digits)
        .then(|| (&id[..id.len() - digits], digits))
}

/// Read the structure of a search response; Err names what is wrong with it.
pub fn parse_page(data: &[u8]) -> Result<Page, String> {
    let mut reader = Reader { data, pos: 0 };
    let mut page = Page::default();
    reader.object(|reader, key| {
        match key {
            b"pit_id" => page.pit_id = Some(reader.string()?),
            b"timed_out" => page.timed_out = reader.literal()? == b"true",
            b"_shards" => reader.object(|reader, key| {
                if key == b"failed" {
                    let span = reader.skip()?;
                    page.shards_failed = std::str::from_utf8(&reader.data[span])
                        .ok()
                        .and_then(|text| text.parse().ok())
                        .unwrap_or(1);
                } else {
                    reader.skip()?;
                }
                Ok(())
            })?,
            b"hits" => reader.object(|reader, key| {
                if key == b"hits" {
                    reader.array(|reader| {
                        let hit = reader.hit(&mut page.last_sort)?;
                        page.hits.push(hit);
                        Ok(())
                    })?;
                } else {
                    reader.skip()?;
                }
                Ok(())
            })?,
            _ => {
                reader.skip()?;
            }
        }
        Ok(())
    })?;
    reader.whitespace();
    if reader.pos != data.len() {
        return Err("trailing data after the response".into());
    }
    Ok(page)
}

/// A cursor over the response bytes.
struct Reader<'d> {
    data: &'d [u8],
    pos: usize,
}

type Step<T> = Result<T, String>;

impl<'d> Reader<'d> {
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.data.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Step<()> {
        self.whitespace();
        if self.data.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at byte {}", byte as char, self.pos))
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.whitespace();
        self.data.get(self.pos).copied()
    }

    /// Call `member` with each key of an object, the cursor at its value (which it must read).
    fn object(&mut self, mut member: impl FnMut(&mut Self, &[u8]) -> Step<()>) -> Step<()> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.string_span()?;
            self.expect(b':')?;
            let raw = &self.data[key.start + 1..key.end - 1];
            member(self, raw)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(format!("unterminated object at byte {}", self.pos)),
            }
        }
    }

    /// Call `element` with the cursor at each element of an array (which it must read).
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Step<()>) -> Step<()> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(format!("unterminated array at byte {}", self.pos)),
            }
        }
    }

    /// One hit object; `last_sort` becomes its `sort` span.
    fn hit(&mut self, last_sort: &mut Option<Range<usize>>) -> Step<HitRef> {
        let mut hit = HitRef {
            index: String::new(),
            id: String::new(),
            source: None,
        };
        *last_sort = None;
        self.object(|reader, key| {
            match key {
                b"_index" => hit.index = reader.string()?,
                b"_id" => hit.id = reader.string()?,
                b"_source" => hit.source = Some(reader.skip()?),
                b"sort" => *last_sort = Some(reader.skip()?),
                _ => {
                    reader.skip()?;
                }
            }
            Ok(())
        })?;
        Ok(hit)
    }

    /// The span of a string, quotes included.
    fn string_span(&mut self) -> Step<Range<usize>> {
        self.whitespace();
        let start = self.pos;
        if self.data.get(start) != Some(&b'"') {
            return Err(format!("expected a string at byte {start}"));
        }
        let mut at = start + 1;
        loop {
            let Some(offset) = memchr::memchr2(b'"', b'\\', &self.data[at..]) else {
                return Err(format!("unterminated string at byte {start}"));
            };
            at += offset;
            if self.data[at] == b'\\' {
                at += 2;
            } else {
                self.pos = at + 1;
                return Ok(start..at + 1);
            }
        }
    }

    /// The text of a string (escapes resolved).
    fn string(&mut self) -> Step<String> {
        let span = self.string_span()?;
        let raw = std::str::from_utf8(&self.data[span]).map_err(|e| e.to_string())?;
        if !raw.contains('\\') {
            return Ok(raw[1..raw.len() - 1].to_owned()); // ids and index names nearly always
        }
        let mut doc = Doc::default();
        let root = doc
            .parse(raw)
            .map_err(|_| format!("a string that is not JSON: {raw:.60}"))?;
        if doc.node(root).kind != Kind::Str {
            return Err("expected a string".into());
        }
        Ok(doc.text(raw, root).into_owned())
    }

    fn literal(&mut self) -> Step<&'d [u8]> {
        let span = self.skip()?;
        Ok(&self.data[span])
    }

    /// Step over one value (checking only its structure); return its span.
    fn skip(&mut self) -> Step<Range<usize>> {
        self.whitespace();
        let start = self.pos;
        match self.data.get(start) {
            Some(b'"') => return self.string_span(),
            Some(b'{' | b'[') => {}
            Some(_) => {
                let end = self.data[start..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                    .map_or(self.data.len(), |at| start + at);
                if end == start {
                    return Err(format!("expected a value at byte {start}"));
                }
                self.pos = end;
                return Ok(start..end);
            }
            None => return Err("the response ends early".into()),
        }
        let mut depth = 0_usize;
        let mut at = start;
        while at < self.data.len() {
            match self.data[at] {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = at + 1;
                        return Ok(start..at + 1);
                    }
                }
                b'"' => {
                    self.pos = at;
                    at = self.string_span()?.end;
                    continue;
                }
                _ => {}
            }
            at += 1;
        }
        Err("the response ends early".into())
    }
}

/// The sources of a page as JSON lines: each `_source` on one line (raw newlines and carriage
/// returns, which JSON allows only between tokens, become spaces); the hit of each line.
pub fn source_lines(data: &[u8], page: &Page) -> (Vec<u8>, Vec<usize>) {
    let total: usize = page
        .hits
        .iter()
        .filter_map(|hit| hit.source.as_ref().map(|s| s.len() + 1))
        .sum();
    let mut lines = Vec::with_capacity(total);
    let mut hit_of_line = Vec::with_capacity(page.hits.len());
    for (index, hit) in page.hits.iter().enumerate() {
        let Some(source) = &hit.source else { continue };
        let start = lines.len();
        lines.extend_from_slice(&data[source.clone()]);
        for byte in &mut lines[start..] {
            if matches!(byte, b'\n' | b'\r') {
                *byte = b' ';
            }
        }
        lines.push(b'\n');
        hit_of_line.push(index);
    }
    (lines, hit_of_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts_of_a_page() {
        let body = br#"{"pit_id":"abc\u003d=","took":3,"timed_out":false,"_shards":{"total":1,"failed":0},
            "hits":{"total":{"value":2},"hits":[
              {"_index":"logs","_id":"f-1-0000000012","_source":{"message":"a\n","n":[1,{"x":"]"}]},"sort":[5,"x"]},
              {"_index":"logs","_id":"q\"id","_source":{
                 "message":"b"},"sort":[7]},
              {"_index":"logs","_id":"none"}]}}"#;
        let page = parse_page(body).unwrap();
        assert_eq!(page.pit_id.as_deref(), Some("abc=="));
        assert!(!page.timed_out);
        assert_eq!(page.shards_failed, 0);
        assert_eq!(page.hits.len(), 3);
        assert_eq!(page.hits[1].id, "q\"id");
        assert!(page.hits[2].source.is_none());
        assert!(page.last_sort.is_none()); // the last hit has none
        let (lines, hit_of_line) = source_lines(body, &page);
        let text = std::str::from_utf8(&lines).unwrap();
        let second = format!("{{{}\"message\":\"b\"}}", " ".repeat(18));
        assert_eq!(text.lines().nth(1), Some(second.as_str()));
        assert_eq!(hit_of_line, vec![0, 1]);
        let first = std::str::from_utf8(&lines).unwrap().lines().next().unwrap();
        assert_eq!(first, r#"{"message":"a\n","n":[1,{"x":"]"}]}"#);
        let body = br#"{"hits":{"hits":[{"_id":"1","sort":[1, "b"]}]}}"#;
        let sorted = parse_page(body).unwrap();
        assert_eq!(&body[sorted.last_sort.unwrap()], br#"[1, "b"]"#);
    }

    #[test]
    fn rejects_broken_responses() {
        for body in [
            &b""[..],
            b"{",
            b"{\"hits\":{\"hits\":[{\"_id\":\"1\"}",
            b"{\"a\":\"x}",
            b"{} x",
        ] {
            assert!(parse_page(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn seq_is_the_trailing_number_or_a_hash() {
        assert_eq!(hit_seq("app.jsonl-1a2b3c4d-0000001234"), 1234);
        assert_eq!(hit_seq("42"), 42);
        let hashed = hit_seq("Zx8AbGQB3kYt");
        assert!(hashed < 1 << SEQ_BITS);
        assert_eq!(hashed, hit_seq("Zx8AbGQB3kYt"));
        assert!(hit_seq("x-12345678901234567890") < 1 << SEQ_BITS);
        assert_eq!(id_stem("app-0000001234"), Some(("app-", 10)));
        assert_eq!(id_stem("7"), Some(("", 1)));
        assert_eq!(id_stem("x-12345678901234567890"), None);
        assert_eq!(id_stem("abc"), None);
    }
}
