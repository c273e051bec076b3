//! Python's text semantics, where they differ from Rust's: the character classes of `str`
//! methods and of `re` patterns on `str`, `str.split()`, `str.splitlines()` and `str.lower()`.
//!
//! The masking and stack-trace rules and the record reader were written (and tested) in Python;
//! matching its definitions keeps their results identical (`int(ts // 60)` included). Everything is exact on ASCII; outside ASCII the
//! Unicode tables are those of `regex-syntax`, which may be a newer Unicode version than Python's.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex_syntax::hir::{Class, HirKind};

/// `\w` of a Python `str` pattern: `str.isalnum()` or `_` (Unicode letters and numbers).
static WORD: LazyLock<Vec<(char, char)>> = LazyLock::new(|| unicode_class(r"[\p{L}\p{N}_]"));
/// `str.isalpha()`: the Unicode letters (general category L).
static LETTER: LazyLock<Vec<(char, char)>> = LazyLock::new(|| unicode_class(r"\p{L}"));
/// `str.isdecimal()` and `\d` of a Python `str` pattern: general category Nd.
static DECIMAL: LazyLock<Vec<(char, char)>> = LazyLock::new(|| unicode_class(r"\p{Nd}"));

/// The digits of `str.isdigit()` that are not decimal (Numeric_Type=Digit: superscripts,
/// circled digits, ...), as Python 3.11's Unicode database lists them.
const DIGIT_NOT_DECIMAL: &[(char, char)] = &[
    ('\u{b2}', '\u{b3}'),
    ('\u{b9}', '\u{b9}'),
    ('\u{1369}', '\u{1371}'),
    ('\u{19da}', '\u{19da}'),
    ('\u{2070}', '\u{2070}'),
    ('\u{2074}', '\u{2079}'),
    ('\u{2080}', '\u{2089}'),
    ('\u{2460}', '\u{2468}'),
    ('\u{2474}', '\u{247c}'),
    ('\u{2488}', '\u{2490}'),
    ('\u{24ea}', '\u{24ea}'),
    ('\u{24f5}', '\u{24fd}'),
    ('\u{24ff}', '\u{24ff}'),
    ('\u{2776}', '\u{277e}'),
    ('\u{2780}', '\u{2788}'),
    ('\u{278a}', '\u{2792}'),
    ('\u{10a40}', '\u{10a43}'),
    ('\u{10e60}', '\u{10e68}'),
    ('\u{11052}', '\u{1105a}'),
    ('\u{1f100}', '\u{1f10a}'),
];

/// The sorted code point ranges of a Unicode class written in regex syntax.
fn unicode_class(pattern: &str) -> Vec<(char, char)> {
    let hir = regex_syntax::parse(pattern).expect("a valid class pattern");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|range| (range.start(), range.end()))
            .collect(),
        _ => unreachable!("{pattern} is a Unicode class"),
    }
}

/// Whether `c` falls in one of the sorted, disjoint `ranges`.
fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(low, high)| {
            if high < c {
                Ordering::Less
            } else if low > c {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        })
        .is_ok()
}

/// `c.isspace()`: Unicode White_Space plus the ASCII separators `\x1c`-`\x1f`.
pub fn is_space(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\x1c'..='\x1f' | ' ') || (!c.is_ascii() && c.is_whitespace())
}

/// `c.isdigit()`: decimal digits, superscripts, circled digits and the like.
pub fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        in_ranges(&DECIMAL, c) || in_ranges(DIGIT_NOT_DECIMAL, c)
    }
}

/// `\d` of a Python `str` pattern (`c.isdecimal()`).
pub fn is_decimal(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        in_ranges(&DECIMAL, c)
    }
}

/// `\w` of a Python `str` pattern.
pub fn is_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        in_ranges(&WORD, c)
    }
}

/// `c.isalpha()`.
pub fn is_alpha(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        in_ranges(&LETTER, c)
    }
}

/// `text.isdigit()`: not empty, and every character a digit.
pub fn is_all_digits(text: &str) -> bool {
    !text.is_empty() && text.chars().all(is_digit)
}

/// `any(ch.isdigit() for ch in text)`.
pub fn has_digit(text: &str) -> bool {
    if text.is_ascii() {
        text.bytes().any(|b| b.is_ascii_digit())
    } else {
        text.chars().any(is_digit)
    }
}

/// A set of lowercase words, to test Python's `text.lower() in words` quickly.
pub struct Words {
    words: &'static [&'static str],
    shortest: usize,
    longest: usize,
}

impl Words {
    /// The set of `words`, each lowercase.
    pub const fn new(words: &'static [&'static str]) -> Words {
        let (mut shortest, mut longest) = (usize::MAX, 0);
        let mut index = 0;
        while index < words.len() {
            let len = words[index].len();
            shortest = if len < shortest { len } else { shortest };
            longest = if len > longest { len } else { longest };
            index += 1;
        }
        Words {
            words,
            shortest,
            longest,
        }
    }

    /// Whether `text.lower()` is one of the words.
    pub fn contains_lower(&self, text: &str) -> bool {
        // Lowercasing never lengthens a text into one of the words, and shortens its UTF-8 at
        // most threefold (KELVIN SIGN → `k`), so most texts are ruled out by their length.
        if text.len() < self.shortest || text.len() > 3 * self.longest {
            return false;
        }
        if text.is_ascii() {
            text.len() <= self.longest
                && self
                    .words
                    .iter()
                    .any(|word| text.eq_ignore_ascii_case(word))
        } else {
            // Full case mapping, as Python's.
            let lowered = text.to_lowercase();
            self.words.contains(&lowered.as_str())
        }
    }
}

/// `text.split()`: the runs of non-whitespace characters.
pub fn split(text: &str) -> impl Iterator<Item = &str> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < text.len() {
            match space_len(text, at) {
                0 => break,
                len => at += len,
            }
        }
        if at == text.len() {
            return None;
        }
        let start = at;
        while at < text.len() && space_len(text, at) == 0 {
            at += 1;
        }
        Some(&text[start..at])
    })
}

/// The length of the whitespace character at byte `at` of `text`, 0 if there is none.
///
/// `at` may be inside a character: its continuation bytes are never whitespace.
fn space_len(text: &str, at: usize) -> usize {
    let b = text.as_bytes()[at];
    if b.is_ascii() {
        return usize::from(is_space(char::from(b)));
    }
    // Only these lead bytes start a non-ASCII whitespace character (U+0085 to U+3000).
    if !matches!(b, 0xc2 | 0xe1 | 0xe2 | 0xe3) {
        return 0;
    }
    let c = text[at..]
        .chars()
        .next()
        .expect("a lead byte starts a character");
    if is_space(c) {
        c.len_utf8()
    } else {
        0
    }
}

/// `text.strip()`: `text` without whitespace at either end.
pub fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// `text.rstrip()` as Python computes it.
pub fn rstrip(text: &str) -> &str {
    text.trim_end_matches(is_space)
}

/// True when `text.strip()` would be non-empty.
pub fn has_content(text: &str) -> bool {
    !text.chars().all(is_space)
}

/// True when `bytes.strip()` of the line is empty (only ASCII whitespace, as bytes see it).
pub fn is_blank_bytes(line: &[u8]) -> bool {
    line.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c'))
}

/// Python's `int(x // y)` for floats, following CPython's `_float_div_mod` step by step.
///
/// Returns None when Python would raise (division by zero, infinities, NaN).
pub fn floordiv_int(x: f64, y: f64) -> Option<i64> {
    if y == 0.0 || !x.is_finite() || !y.is_finite() {
        return None;
    }
    let modulo = x % y; // Rust's `%` on f64 is C's fmod
    let mut div = (x - modulo) / y;
    if modulo != 0.0 && ((y < 0.0) != (modulo < 0.0)) {
        div -= 1.0;
    }
    let floordiv = if div != 0.0 {
        let mut floored = div.floor();
        if div - floored > 0.5 {
            floored += 1.0;
        }
        floored
    } else {
        0.0_f64.copysign(x / y)
    };
    Some(floordiv as i64)
}

/// The lines of `text.splitlines()`, one at a time, without their line breaks (`\r\n` is one
/// break).
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    // Most texts break lines with `\n` alone, which memchr finds far faster than a byte loop.
    let only_newlines = !has_rare_break_byte(bytes);
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let (end, width) = if only_newlines {
            memchr::memchr(b'\n', &bytes[start..]).map_or((bytes.len(), 0), |at| (start + at, 1))
        } else {
            (start..bytes.len())
                .find_map(|at| Some((at, break_len(bytes, at))).filter(|&(_, width)| width > 0))
                .unwrap_or((bytes.len(), 0))
        };
        let line = &text[start..end];
        start = if width == 0 { bytes.len() } else { end + width };
        Some(line)
    })
}

/// Whether `bytes` has a byte that may start a line break other than `\n`: `\r`, `\x0b`,
/// `\x0c`, `\x1c`-`\x1e`, or the lead byte of U+0085, U+2028 or U+2029.
fn has_rare_break_byte(bytes: &[u8]) -> bool {
    memchr::memchr3(b'\r', b'\x0b', b'\x0c', bytes).is_some()
        || memchr::memchr3(b'\x1c', b'\x1d', b'\x1e', bytes).is_some()
        || memchr::memchr2(0xc2, 0xe2, bytes).is_some()
}

/// The length of the line break starting at byte `at` (0 if none): one of `str.splitlines()`'s
/// breaks, `\r\n` counting as one.
fn break_len(bytes: &[u8], at: usize) -> usize {
    match bytes[at..] {
        [b'\r', b'\n', ..] => 2,
        [b'\n' | b'\r' | b'\x0b' | b'\x0c' | b'\x1c'..=b'\x1e', ..] => 1,
        // U+0085, U+2028 and U+2029 in UTF-8.
        [0xc2, 0x85, ..] => 2,
        [0xe2, 0x80, 0xa8 | 0xa9, ..] => 3,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_like_python() {
        assert_eq!(rstrip("abc \x1c\u{3000}"), "abc");
        assert_eq!(strip("\u{85} x \x0b"), "x");
        assert!(!has_content(" \t\u{2028}"));
        assert!(is_blank_bytes(b" \x0b\x0c\r"));
        assert!(!is_blank_bytes(b" \x1c"));
    }

    #[test]
    fn splits_lines_like_python() {
        let text = "a\r\nb\rc\x0bd\u{85}e\u{2028}f\x1cg\n\nh\n";
        let expected = ["a", "b", "c", "d", "e", "f", "g", "", "h"];
        assert_eq!(lines(text).collect::<Vec<_>>(), expected);
        assert_eq!(lines("a\nb").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(lines("\n").collect::<Vec<_>>(), [""]);
        assert_eq!(lines("").count(), 0);
    }

    #[test]
    fn floor_divides_like_python() {
        assert_eq!(floordiv_int(125.0, 60.0), Some(2));
        assert_eq!(floordiv_int(-1.0, 60.0), Some(-1));
        assert_eq!(floordiv_int(-120.0, 60.0), Some(-2));
        assert_eq!(floordiv_int(1786462800.016, 60.0), Some(29774380));
    }
}
