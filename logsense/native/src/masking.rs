//! Token masking: replace the variable parts of a log message with `<*>`, keep the meaningful ones.
//!
//! The rules are those documented in `logsense/mine/masking.py` (first written there, in Python):
//! numbers with their units, hex, UUIDs, addresses, host names, dates, versions, ids, paths and
//! non-HTTP URLs become `<*>`; words, exception names, keys, HTTP endpoints and the HTTP error
//! statuses their context names stay. Each whitespace token is classified on its own; only
//! statuses, units, date words and HTTP methods look at their neighbours.
//!
//! Text follows Python's semantics (`str.split()`, `str.isdigit()`, `re`'s `\d` and `\w`, ...; see
//! [`pytext`]), so the results are those of the Python rules. Nothing mutable is shared: each
//! thread keeps its own scratch space for the value automaton and remembers its own long tokens
//! (stack frames mostly), so any number of threads mask at once without locks.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::LazyLock;

use ahash::AHashMap;
use memchr::{memchr, memrchr};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Anchored, Input};

use crate::letter_pairs::LETTER_PAIRS;
use crate::pytext::{self, has_digit, is_alpha, is_decimal, is_digit, is_word, Words};

/// What a variable becomes.
pub const WILDCARD: &str = "<*>";

/// Characters that open a token around its core: `(x`, `"x`.
const OPEN: &[u8] = b"([{<\"'`";
/// Characters that close a token after its core: `x)`, `x,`, `x.`.
const CLOSE: &[u8] = b")]}>\"'`,;:.!?";

/// One of [`OPEN`].
fn is_open(c: char) -> bool {
    c.is_ascii() && OPEN.contains(&(c as u8))
}

/// One of [`CLOSE`].
fn is_close(c: char) -> bool {
    c.is_ascii() && CLOSE.contains(&(c as u8))
}

/// Time zones that stand in front of a date part, like month and weekday names.
#[rustfmt::skip]
const TIME_ZONES: &[&str] = &[
    "UTC", "GMT", "PST", "PDT", "MST", "MDT", "CST", "CDT", "EST", "EDT", "AKST", "AKDT", "HST",
    "BST", "IST", "CET", "CEST", "EET", "EEST", "WET", "WEST", "JST", "KST", "AEST", "AEDT",
];
const MONTHS: Words = Words::new(&[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
]);
const WEEKDAYS: Words = Words::new(&["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
/// Top-level domains that make a dotted name a host (`example.com`); a country code needs three
/// parts (`a.b.cn`), so that `foo.py` stays a file name.
const GENERIC_TLDS: &[&str] = &["com", "net", "org", "edu", "gov", "mil"];
/// Schemes of URLs whose path names an endpoint, kept: `http://<*>/metrics`.
const STRUCTURED_SCHEMES: Words = Words::new(&["http", "https", "ws", "wss", "grpc", "grpcs"]);
/// Keys whose value is a request target, which keeps its endpoint: `path=/api/v1/orders/<*>`.
#[rustfmt::skip]
const REQUEST_KEYS: Words =
    Words::new(&["path", "url", "uri", "route", "endpoint", "target", "request"]);
/// Words after which a `/` or `"` token is a request target: `GET /api/v1/orders/<*>`.
const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
/// Booleans and null, masked as values.
const NULLS: Words = Words::new(&["true", "false", "null", "none", "nil"]);
/// Units written apart from their number: `5.2 KB`, `1190 bytes`.
#[rustfmt::skip]
const SEPARATE_UNITS: Words = Words::new(&[
    "b", "byte", "bytes", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "ns", "us", "µs",
    "ms", "s", "sec", "secs",
]);
/// Keys whose value is an HTTP status: `status=502`.
#[rustfmt::skip]
const STATUS_KEYS: Words = Words::new(&[
    "status", "code", "status_code", "statuscode", "http_status", "http.status", "response",
]);
/// Words right before a bare number that make it an HTTP status: `returned 503`.
#[rustfmt::skip]
const STATUS_BEFORE: Words = Words::new(&[
    "http", "status", "code", "returned", "response", "responded", "got", "with", "error",
]);
/// First words of a status's reason phrase right after it: `503 Service Unavailable`.
#[rustfmt::skip]
const REASON_WORDS: Words = Words::new(&[
    "ok", "created", "accepted", "bad", "unauthorized", "forbidden", "not", "method", "conflict",
    "gone", "too", "internal", "service", "gateway", "request", "payload", "unprocessable", "no",
    "moved", "found", "see", "temporary", "permanent", "precondition",
]);

/// Units a number may carry in the same token (`350ms`). Python's case-insensitive `i` also
/// matches the Turkish `İ` and `ı`, which Rust's case folding does not.
const UNITS: &str = "b|bytes?|kb|mb|gb|tb|k[iİı]b|m[iİı]b|g[iİı]b|t[iİı]b|k|m|g|ns|us|µs|ms|s|sec\
                     |secs|m[iİı]n|m[iİı]ns|h|hr|hrs|d|%|x|c";

/// Text that is one value as a whole (one case-insensitive pattern, as Python's `_VALUE`).
///
/// A lazy DFA: it builds only the states the texts reach, in a scratch cache each thread keeps
/// ([`VALUE_CACHE`]). Python's `\w` is spelled `[\p{L}\p{N}_]` and kept out of the case folding,
/// which would add a combining mark; its case-insensitive `[a-z]` also matches `İ` and `ı`.
static VALUE: LazyLock<DFA> = LazyLock::new(|| {
    let number_with_unit = format!(r"[<>~]?[-+]?\d+(?:\.\d+)?(?:{UNITS})");
    let alternatives = [
        // a number: `-1,234.5`, `~3`, `1e-5`
        r"[<>~]?[-+]?(?:\d+(?:[.,_]\d+)*|\.\d+)(?:e[-+]?\d+)?",
        // a number with its unit: `350ms`, `<1s`
        &number_with_unit,
        // hex
        r"0x[0-9a-f]+",
        // a UUID
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        // IPv4, with a port
        r"/?\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?",
        // IPv6
        r"\[?(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\]?(?::\d+)?",
        // a MAC address
        r"[0-9a-f]{2}(?::[0-9a-f]{2}){5,}",
        // a time or date
        r"\d{1,4}[-/:]\d{1,2}(?:[-/:T]\d{1,2})*(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?",
        // a version
        r"v?\d+(?:\.\d+)+(?:[-+](?-i:[\p{L}\p{N}_.])+)?",
        // a product version: `HTTP/1.1`
        r"[a-zİı](?-i:[\p{L}\p{N}_.\-])*/v?\d+(?:\.\d+)+",
        // a code location: `pkg.Class.method:42`
        r"(?-i:[\p{L}\p{N}_$])+(?:\.(?-i:[\p{L}\p{N}_$<>])+){2,}:\d+",
    ];
    let pattern = format!("(?i)^(?:{})$", alternatives.join("|"));
    DFA::new(&pattern).expect("the value pattern compiles")
});

thread_local! {
    /// This thread's states of the [`VALUE`] automaton.
    static VALUE_CACHE: RefCell<Cache> = RefCell::new(VALUE.create_cache());
}

/// Tokens at least this long (in bytes) are remembered with their masked text, per thread.
///
/// They are mostly stack frames and qualified names, which repeat and cost the most to classify;
/// short tokens are cheaper to classify again than to look up.
const REMEMBERED_LENGTH: usize = 24;
/// How many tokens a thread remembers before it forgets them all and starts over.
const REMEMBERED_LIMIT: usize = 1 << 14;

thread_local! {
    /// Long tokens classified by this thread, whose verdict was plain, with their masked text.
    static REMEMBERED: RefCell<AHashMap<Box<str>, Box<str>>> = RefCell::new(AHashMap::new());
}

/// Push the masked text of `token` if this thread remembers it; whether it did.
fn push_remembered(token: &str, out: &mut String) -> bool {
    REMEMBERED
        .with_borrow(|remembered| remembered.get(token).map(|masked| out.push_str(masked)))
        .is_some()
}

/// Remember the masked text of a long `token`.
fn remember(token: &str, masked: &str) {
    REMEMBERED.with_borrow_mut(|remembered| {
        if remembered.len() >= REMEMBERED_LIMIT {
            remembered.clear();
        }
        remembered.insert(token.into(), masked.into());
    });
}

/// `message` with variable parts replaced by `<*>`, whitespace runs as one space.
///
/// `routine` says the message was logged at info or debug level, where a client error status
/// (4xx) is an ordinary outcome and is masked like a success status.
pub fn mask(message: &str, routine: bool) -> String {
    let mut out = String::with_capacity(message.len() + 8);
    let mut contexts: Vec<(usize, Context)> = Vec::new();
    let mut tokens = pytext::split(message).peekable();
    let mut before = "";
    let mut after_method = false;
    let mut index = 0;
    while let Some(token) = tokens.next() {
        if index > 0 {
            out.push(' ');
        }
        if is_bare_number(token) {
            out.push_str(WILDCARD);
            after_method = false;
        } else if after_method && token.starts_with(['/', '"']) {
            push_request_path(token, &mut out);
            after_method = false;
        } else if token.len() >= REMEMBERED_LENGTH && push_remembered(token, &mut out) {
            after_method = false;
        } else {
            after_method = false;
            match verdict(token) {
                Verdict::Plain(text) => {
                    if token.len() >= REMEMBERED_LENGTH {
                        remember(token, &text);
                    }
                    out.push_str(&text);
                }
                Verdict::Status(status) => {
                    let after = tokens.peek().copied().unwrap_or("");
                    out.push_str(&status.resolve(before, after, routine));
                }
                Verdict::HttpMethod(text) => {
                    after_method = true;
                    out.push_str(&text);
                }
                Verdict::Context(text, context) => {
                    contexts.push((index, context));
                    out.push_str(&text);
                }
            }
        }
        before = token;
        index += 1;
    }
    if contexts.is_empty() {
        out
    } else {
        merge_context(&out, &contexts)
    }
}

/// The masked text of one token, or what its neighbours must still decide.
enum Verdict<'a> {
    Plain(Cow<'a, str>),
    Status(Status<'a>),
    /// `GET`: the token after it is a request target.
    HttpMethod(Cow<'a, str>),
    /// A unit or date word, merged with its neighbour once all tokens are masked.
    Context(Cow<'a, str>, Context),
}

/// What a unit or date word does to its neighbour.
#[derive(Clone, Copy)]
enum Context {
    /// `KB` in `5.2 KB`: joins the number before it.
    Unit,
    /// `Jun` in `Jun 17`: joins the date part after it.
    DateWord,
}

/// A token holding an HTTP status code: kept or masked once the context is known.
struct Status<'a> {
    kept: &'a str,
    masked: Cow<'a, str>,
    /// The first digit of the code: `b'5'` for a server error.
    class: u8,
    /// `status=502`: the token itself says it is a status.
    keyed: bool,
}

/// A number alone, which is a value unless it could be an HTTP status.
fn is_bare_number(token: &str) -> bool {
    if token.bytes().all(|b| b.is_ascii_digit()) {
        return token.len() != 3 || !(b'1'..=b'5').contains(&token.as_bytes()[0]);
    }
    pytext::is_all_digits(token)
        && (token.chars().count() != 3 || !token.starts_with(['1', '2', '3', '4', '5']))
}

/// Classify one token: its masked text, and whether its neighbours matter to it or it to them.
fn verdict(token: &str) -> Verdict<'_> {
    let text = match classify(token) {
        Classified::Text(text) => text,
        Classified::Status(status) => return Verdict::Status(status),
    };
    if HTTP_METHODS.contains(&token.trim_start_matches(['"', '\''])) {
        Verdict::HttpMethod(text)
    } else if is_unit(token) {
        Verdict::Context(text, Context::Unit)
    } else if is_date_word(token) {
        Verdict::Context(text, Context::DateWord)
    } else {
        Verdict::Plain(text)
    }
}

impl<'a> Status<'a> {
    /// The token as it stays in the masked message, given the tokens `before` and `after` it
    /// (empty at either end).
    fn resolve(self, before: &str, after: &str, routine: bool) -> Cow<'a, str> {
        let wanted = self.class == b'5' || (self.class == b'4' && !routine);
        if wanted && (self.keyed || is_status_context(before, after)) {
            Cow::Borrowed(self.kept)
        } else {
            self.masked
        }
    }
}

/// Whether the tokens `before` and `after` a bare number say it is an HTTP status:
/// `HTTP 503`, `GET /x 500`, `503 Service Unavailable`.
fn is_status_context(before: &str, after: &str) -> bool {
    let before = before.trim_matches(|c| is_open(c) || is_close(c));
    let after = after.trim_matches(|c| is_open(c) || is_close(c));
    STATUS_BEFORE.contains_lower(before)
        || before.starts_with('/')
        || before
            .get(..5)
            .is_some_and(|start| start.eq_ignore_ascii_case("http/"))
        || REASON_WORDS.contains_lower(after)
}

/// An HTTP request target keeps its endpoint: only its variable segments are masked.
fn push_request_path(token: &str, out: &mut String) {
    let (prefix, core, suffix) = strip_affixes(token);
    out.push_str(prefix);
    mask_url_path(core, out);
    out.push_str(suffix);
}

/// Rules across tokens, right to left: units join their number, date words their date.
///
/// `masked` is the masked message (a masked token holds no space); `contexts` lists the index
/// and kind of every unit and date-word token, in order.
fn merge_context(masked: &str, contexts: &[(usize, Context)]) -> String {
    let tokens: Vec<&str> = masked.split(' ').collect();
    let mut merged: Vec<Option<Cow<str>>> = tokens
        .iter()
        .map(|&token| Some(Cow::Borrowed(token)))
        .collect();
    for &(index, context) in contexts.iter().rev() {
        let mut after = index + 1;
        while after < merged.len() && merged[after].is_none() {
            after += 1;
        }
        let following = merged.get(after).and_then(Option::as_ref);
        match context {
            Context::Unit => {
                let Some(before) = index.checked_sub(1).and_then(|i| merged[i].as_ref()) else {
                    continue;
                };
                if !before.ends_with(WILDCARD) {
                    continue;
                }
                // `5.2 KB,` and `1190 bytes (1.16 KB)` are one quantity each.
                let mut quantity = before.to_string();
                quantity.push_str(trailing_punctuation(tokens[index]));
                if let Some(rest) = following.and_then(|text| text.strip_prefix("(<*>)")) {
                    quantity.push_str(rest);
                    merged[after] = None;
                }
                merged[index] = None;
                merged[index - 1] = Some(Cow::Owned(quantity));
            }
            Context::DateWord => {
                let is_date = |text: &&Cow<str>| matches!(text.as_ref(), "<*>" | "<*>," | "<*>.");
                if let Some(date) = following.filter(is_date) {
                    merged[index] = Some(date.clone());
                    merged[after] = None;
                }
            }
        }
    }
    let kept: Vec<Cow<str>> = merged.into_iter().flatten().collect();
    kept.join(" ")
}

/// The closing punctuation at the end of `token`: `,` in `KB,`.
fn trailing_punctuation(token: &str) -> &str {
    let core = token.trim_end_matches(is_close);
    &token[core.len()..]
}

/// A unit written apart from its number: `KB`, `bytes,`, `(ms)`.
fn is_unit(token: &str) -> bool {
    let word = token.trim_start_matches('(').trim_end_matches(is_close);
    SEPARATE_UNITS.contains_lower(word)
}

/// A month or weekday name (`Jun`, `Fri`) or a time zone (`PDT`) in front of a date part.
fn is_date_word(token: &str) -> bool {
    token.chars().next().is_some_and(char::is_uppercase)
        && (MONTHS.contains_lower(token)
            || WEEKDAYS.contains_lower(token)
            || TIME_ZONES.contains(&token))
}

/// The masked text of one token, or a status to resolve in context.
enum Classified<'a> {
    Text(Cow<'a, str>),
    Status(Status<'a>),
}

/// Classify one whitespace token on its own.
fn classify(token: &str) -> Classified<'_> {
    let (prefix, core, suffix) = strip_affixes(token);
    if core.is_empty() {
        return Classified::Text(Cow::Borrowed(token));
    }
    let scan = Scan::of(core);
    if scan.digits > 0 {
        if let Some(class) = status_class(core) {
            if prefix.is_empty()
                && suffix.bytes().all(|b| b",.;:".contains(&b))
                && is_known_status(core)
            {
                let masked = Cow::Owned(format!("{WILDCARD}{suffix}"));
                return Classified::Status(Status {
                    kept: token,
                    masked,
                    class,
                    keyed: false,
                });
            }
        }
    }
    if let Some((key, class)) = keyed_status(core, &scan) {
        let masked = Cow::Owned(format!("{prefix}{key}{WILDCARD}{suffix}"));
        return Classified::Status(Status {
            kept: token,
            masked,
            class,
            keyed: true,
        });
    }
    if is_variable(core, &scan) {
        // A comparison belongs to its number: `<1 sec`.
        let prefix = if core.starts_with(is_digit) {
            prefix.trim_end_matches(['<', '>'])
        } else {
            prefix
        };
        if prefix.is_empty() && suffix.is_empty() {
            return Classified::Text(Cow::Borrowed(WILDCARD));
        }
        return Classified::Text(Cow::Owned(format!("{prefix}{WILDCARD}{suffix}")));
    }
    if scan.digits == 0 && !scan.separator && !scan.star && !scan.underscore {
        // Nothing for the piece rules to mask (the common case of a word).
        return Classified::Text(Cow::Borrowed(token));
    }
    let mut masked = String::with_capacity(token.len() + WILDCARD.len());
    masked.push_str(prefix);
    mask_pieces(core, &scan, &mut masked);
    masked.push_str(suffix);
    Classified::Text(Cow::Owned(collapse_joined_wildcards(masked)))
}

/// What one pass over a text finds: which of the characters the rules look for it holds.
///
/// The rules test a text many times; knowing what it holds spares most of those passes.
#[derive(Default)]
struct Scan {
    /// Characters that are digits to Python's `str.isdigit()`.
    digits: usize,
    slashes: usize,
    backslashes: usize,
    dot: bool,
    at: bool,
    star: bool,
    equals: bool,
    colon: bool,
    underscore: bool,
    /// A key/value or list separator (see [`is_piece_separator`]), `=` and `:` included.
    separator: bool,
    /// No character that a [`VALUE`] never holds.
    maybe_value: bool,
    /// No ASCII character that a host name with its port never holds (`[A-Za-z0-9.:-]` and,
    /// in the port, any decimal digit).
    maybe_host: bool,
}

const DIGIT: u16 = 1;
const DOT: u16 = 1 << 1;
const SLASH: u16 = 1 << 2;
const BACKSLASH: u16 = 1 << 3;
const AT: u16 = 1 << 4;
const STAR: u16 = 1 << 5;
const EQUALS: u16 = 1 << 6;
const COLON: u16 = 1 << 7;
const SEPARATOR: u16 = 1 << 8;
const NON_ASCII: u16 = 1 << 9;
const NOT_VALUE: u16 = 1 << 10;
const NOT_HOST: u16 = 1 << 11;
const UNDERSCORE: u16 = 1 << 12;

/// The [`Scan`] flag of every byte.
static BYTE_FLAGS: [u16; 256] = {
    let mut flags = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        flags[byte] = match b {
            b'0'..=b'9' => DIGIT,
            b'.' => DOT,
            b'/' => SLASH,
            b'\\' => BACKSLASH,
            b'@' => AT,
            b'*' => STAR,
            b'_' => UNDERSCORE,
            b'=' => EQUALS | SEPARATOR,
            b':' => COLON | SEPARATOR,
            0x80.. => NON_ASCII,
            _ if is_piece_separator(b) => SEPARATOR,
            _ => 0,
        };
        // The ASCII characters that no value holds, and those that no host name holds.
        if b.is_ascii()
            && !b.is_ascii_alphanumeric()
            && !matches!(
                b,
                b'_' | b'<'
                    | b'>'
                    | b'~'
                    | b'-'
                    | b'+'
                    | b'.'
                    | b','
                    | b'/'
                    | b':'
                    | b'['
                    | b']'
                    | b'$'
                    | b'%'
            )
        {
            flags[byte] |= NOT_VALUE;
        }
        if b.is_ascii() && !b.is_ascii_alphanumeric() && !matches!(b, b'.' | b':' | b'-') {
            flags[byte] |= NOT_HOST;
        }
        byte += 1;
    }
    flags
};

impl Scan {
    /// What `text` holds.
    fn of(text: &str) -> Scan {
        let bytes = text.as_bytes();
        let seen = bytes
            .iter()
            .fold(0, |seen, &b| seen | BYTE_FLAGS[b as usize]);
        let count = |flag: u16, wanted: u8| {
            if seen & flag == 0 {
                0
            } else {
                bytes.iter().filter(|&&b| b == wanted).count()
            }
        };
        let digits = if seen & NON_ASCII != 0 {
            text.chars().filter(|&c| is_digit(c)).count()
        } else if seen & DIGIT != 0 {
            bytes.iter().filter(|b| b.is_ascii_digit()).count()
        } else {
            0
        };
        Scan {
            digits,
            slashes: count(SLASH, b'/'),
            backslashes: count(BACKSLASH, b'\\'),
            dot: seen & DOT != 0,
            at: seen & AT != 0,
            star: seen & STAR != 0,
            equals: seen & EQUALS != 0,
            colon: seen & COLON != 0,
            underscore: seen & UNDERSCORE != 0,
            separator: seen & SEPARATOR != 0,
            maybe_value: seen & NOT_VALUE == 0,
            maybe_host: seen & NOT_HOST == 0,
        }
    }
}

/// `(prefix, core, suffix)`: the opening and closing punctuation around a token's core.
#[inline]
fn strip_affixes(token: &str) -> (&str, &str, &str) {
    let bytes = token.as_bytes();
    let mut start = 0;
    while start < bytes.len() && OPEN.contains(&bytes[start]) {
        start += 1;
    }
    let mut end = bytes.len();
    while end > start && CLOSE.contains(&bytes[end - 1]) {
        end -= 1;
    }
    (&token[..start], &token[start..end], &token[end..])
}

/// The first digit of `text` if it is an HTTP status code (`[1-5]\d\d`).
fn status_class(text: &str) -> Option<u8> {
    let mut chars = text.chars();
    let first = chars.next().filter(|c| ('1'..='5').contains(c))?;
    let rest: [char; 2] = [chars.next()?, chars.next()?];
    (chars.next().is_none() && rest.into_iter().all(is_decimal)).then_some(first as u8)
}

/// A code that HTTP servers send, so that a bare number in a status context may be one: those
/// of the IANA registry, and the unregistered ones in wide use (nginx's 444 and 494–499, 509,
/// Cloudflare's 520–530, AWS load balancers' 460, 463 and 561, proxies' 598 and 599). In
/// `returned 556 hits` the number is a count. A status key (`status=556`) needs no such check.
fn is_known_status(code: &str) -> bool {
    code.parse::<u16>().is_ok_and(|code| {
        matches!(
            code,
            100..=103
                | 200..=208
                | 226
                | 300..=308
                | 400..=418
                | 421..=426
                | 428
                | 429
                | 431
                | 444
                | 451
                | 460
                | 463
                | 494..=499
                | 500..=511
                | 520..=530
                | 561
                | 598
                | 599
        )
    })
}

/// `status=502` → (`status=`, `b'5'`): a status given as the value of a status key.
fn keyed_status<'a>(core: &'a str, scan: &Scan) -> Option<(&'a str, u8)> {
    let separator = if scan.equals {
        memchr(b'=', core.as_bytes())?
    } else if scan.colon {
        memchr(b':', core.as_bytes())?
    } else {
        return None;
    };
    if !STATUS_KEYS.contains_lower(&core[..separator]) {
        return None;
    }
    let class = status_class(&core[separator + 1..])?;
    Some((&core[..=separator], class))
}

/// Whether `text` (with its `scan`) as a whole is one variable.
fn is_variable(text: &str, scan: &Scan) -> bool {
    if NULLS.contains_lower(text) {
        return true;
    }
    if scan.digits == 0 {
        return (scan.dot && scan.maybe_host && is_host(text))
            || (scan.at && is_email(text))
            || is_path(text, scan)
            || (scan.slashes == 1 && is_qualified_pair(text));
    }
    if scan.slashes >= 2 && text.contains("://") {
        return parse_url(text).is_some() && !is_structured_url(text);
    }
    (scan.maybe_value && is_value(text))
        || (scan.at && is_email(text))
        || (scan.dot && scan.maybe_host && is_host(text))
        || is_path(text, scan)
        || (scan.slashes == 1 && is_qualified_pair(text))
}

/// A number, hex, UUID, address, time, date or version (see [`VALUE`]).
fn is_value(text: &str) -> bool {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return true; // the most common value, a number, without starting the automaton
    }
    let input = Input::new(text).anchored(Anchored::Yes).earliest(true);
    VALUE_CACHE.with_borrow_mut(|cache| {
        let found = VALUE.try_search_fwd(cache, &input);
        found.expect("the automaton never gives up").is_some()
    })
}

/// A DNS name (`proxy.cse.cuhk.edu.hk`, `csdnimg.cn:80`), not a Java package or file name.
fn is_host(text: &str) -> bool {
    let (name, port) = match memchr(b':', text.as_bytes()) {
        Some(colon) => (&text[..colon], Some(&text[colon + 1..])),
        None => (text, None),
    };
    if port.is_some_and(|port| port.is_empty() || !port.chars().all(is_decimal)) {
        return false;
    }
    let Some(dot) = memrchr(b'.', name.as_bytes()) else {
        return false;
    };
    let (labels, tld) = (&name[..dot], &name[dot + 1..]);
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_lowercase()) || !are_labels(labels) {
        return false;
    }
    port.is_some() // a port says it is an address
        || GENERIC_TLDS.contains(&tld)
        || (tld.len() == 2 && text.bytes().filter(|&b| b == b'.').count() >= 2)
}

/// `[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*`: the labels of a host name before its top-level domain.
fn are_labels(text: &str) -> bool {
    let mut previous = b'.'; // no label may be empty, the first included
    for &b in text.as_bytes() {
        if !(b.is_ascii_alphanumeric() || b == b'-' || (b == b'.' && previous != b'.')) {
            return false;
        }
        previous = b;
    }
    previous != b'.'
}

/// An email address: `bob.smith+x@example.co.uk`.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let is_local_char = |c: char| is_word(c) || matches!(c, '.' | '+' | '-');
    let is_domain_part =
        |part: &str| !part.is_empty() && part.chars().all(|c| is_word(c) || c == '-');
    !local.is_empty()
        && local.chars().all(is_local_char)
        && domain.contains('.')
        && domain.split('.').all(is_domain_part)
}

/// A file path: absolute, POSIX (`/var/log/x`) or Windows (`C:\x`, `\\host\x`), or relative
/// with at least three parts (`GLOBALROOT/Device/x`; `lock/unlock` is a pair of words).
fn is_path(text: &str, scan: &Scan) -> bool {
    let mut chars = text.chars();
    let (first, second, third) = (chars.next(), chars.next(), chars.next());
    if matches!(first, Some('/' | '\\')) && second.is_some() {
        return true;
    }
    if second == Some(':') && matches!(third, Some('/' | '\\')) && first.is_some_and(is_alpha) {
        return true;
    }
    (scan.slashes >= 2 || scan.backslashes >= 2) && !scan.separator
}

/// A qualified name on either side of one `/`: `com.example.app/.MainActivity`,
/// `application/vnd.android.package-archive`.
fn is_qualified_pair(text: &str) -> bool {
    let Some((left, right)) = text.split_once('/') else {
        return false;
    };
    if right.contains('/') {
        return false;
    }
    let is_name_char = |c: char| is_word(c) || c == '$' || c == '-';
    // How many dot-separated names `side` is, or 0 if it is not such a list.
    let names = |side: &str| {
        let mut count = 0;
        for part in side.split('.') {
            if part.is_empty() || !part.chars().all(is_name_char) {
                return 0;
            }
            count += 1;
        }
        count
    };
    let left_names = names(left);
    let right_names = names(right.strip_prefix('.').unwrap_or(right));
    (left_names >= 1 && right_names >= 2)
        || (left_names >= 2
            && !right.is_empty()
            && right.chars().all(|c| is_name_char(c) || c == '.'))
}

/// The parts of a URL: `scheme://host` and the rest.
struct Url<'a> {
    scheme: &'a str,
    host: &'a str,
    path: &'a str,
}

/// `text` as a whole as a URL (`[a-z][a-z0-9+.-]*://[^/?#\s]*.*`, case-insensitive).
fn parse_url(text: &str) -> Option<Url<'_>> {
    // Python's case-insensitive `[a-z]` also matches `İ`, `ı`, `ſ` and the Kelvin sign.
    let is_letter = |c: char| {
        c.is_ascii_alphabetic() || matches!(c, '\u{130}' | '\u{131}' | '\u{17f}' | '\u{212a}')
    };
    let is_scheme_char = |index: usize, c: char| {
        is_letter(c) || (index > 0 && (c.is_ascii_digit() || matches!(c, '+' | '.' | '-')))
    };
    let scheme_end = text
        .char_indices()
        .find(|&(index, c)| !is_scheme_char(index, c))
        .map_or(text.len(), |(index, _)| index);
    if scheme_end == 0 {
        return None;
    }
    let rest = text[scheme_end..].strip_prefix("://")?;
    let host_end = rest
        .find(|c: char| matches!(c, '/' | '?' | '#') || pytext::is_space(c))
        .unwrap_or(rest.len());
    let path = &rest[host_end..];
    if path.contains('\n') {
        return None;
    }
    Some(Url {
        scheme: &text[..scheme_end],
        host: &rest[..host_end],
        path,
    })
}

/// A URL whose path names an endpoint (HTTP, WebSocket, gRPC): it keeps its path.
fn is_structured_url(text: &str) -> bool {
    let scheme = text.split(':').next().unwrap_or(text);
    STRUCTURED_SCHEMES.contains_lower(scheme)
}

/// Characters that separate a key from its value, or list items, inside one whitespace token.
const fn is_piece_separator(b: u8) -> bool {
    matches!(
        b,
        b'=' | b':' | b',' | b';' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b'\'' | b'|'
    )
}

/// `key=value`, `key:value`, `a,b` and `f(x)`: each piece masked on its own.
///
/// `core` (with its `scan`) must be known not to be a variable as a whole.
fn mask_pieces(core: &str, scan: &Scan, out: &mut String) {
    if scan.slashes >= 2 && core.contains("://") && is_structured_url(core) {
        mask_url(core, out);
        return;
    }
    if scan.equals {
        let (key, value) = core.split_once('=').expect("the scan saw a `=`");
        if value.starts_with('/') && REQUEST_KEYS.contains_lower(key) {
            out.push_str(key);
            out.push('=');
            mask_url_path(value, out);
            return;
        }
    }
    if !scan.separator {
        mask_identifier(core, scan, out);
        return;
    }
    let mut start = 0;
    for (index, b) in core.bytes().enumerate() {
        if BYTE_FLAGS[b as usize] & SEPARATOR != 0 {
            mask_piece(&core[start..index], out);
            out.push(b as char);
            start = index + 1;
        }
    }
    mask_piece(&core[start..], out);
}

/// One piece of a token: a variable as a whole, or an identifier with variable parts.
fn mask_piece(piece: &str, out: &mut String) {
    if piece.is_empty() {
        return;
    }
    let scan = Scan::of(piece);
    if is_variable(piece, &scan) {
        out.push_str(WILDCARD);
    } else {
        mask_identifier(piece, &scan, out);
    }
}

/// `node-129` → `node-<*>`, `core.2275` → `core.<*>`: the parts that vary, masked.
///
/// Parts are joined by `-./@#+~\`; a `-` right after `_` is a sign (`blk_-1608`), not a joint.
fn mask_identifier(piece: &str, scan: &Scan, out: &mut String) {
    if scan.digits == 0 && !scan.underscore {
        out.push_str(piece);
        return;
    }
    let mut start = 0;
    let mut previous = None;
    for (index, c) in piece.char_indices() {
        let joint = matches!(c, '.' | '/' | '@' | '#' | '+' | '~' | '\\')
            || (c == '-' && previous != Some('_'));
        if joint {
            push_part(&piece[start..index], out);
            out.push(c);
            start = index + 1;
        }
        previous = Some(c);
    }
    push_part(&piece[start..], out);
}

/// One part of an identifier: `<*>` if it varies.
fn push_part(part: &str, out: &mut String) {
    let scan = Scan::of(part);
    out.push_str(if is_varying(part, &scan) {
        WILDCARD
    } else {
        part
    });
}

/// An id-like or variable part of an identifier or URL path.
fn is_varying(part: &str, scan: &Scan) -> bool {
    looks_like_id(part, scan) || is_variable(part, scan)
}

/// Digits in the way generated ids have them (`u1234`, `x2k1p`, `blk_1`), not `eth0`, `L2`; or
/// a generated tail behind a prefix (`sess_bigenvnakjmcwjnm`).
fn looks_like_id(text: &str, scan: &Scan) -> bool {
    let digits_say_id = scan.digits > 0
        && (scan.digits >= 2
            || text.starts_with(is_digit)
            || text
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .ends_with('_')
            || (text.chars().count() >= 5 && is_hex_word(text)));
    digits_say_id || (scan.underscore && is_generated_tail(text))
}

/// How long the tail of a prefixed id must be before its letters are judged.
const MIN_GENERATED_TAIL: usize = 8;
/// The mean log-likelihood of a letter pair, in tenths of a nat, below which letters read as
/// random rather than English: 8 in 10,000 English words of eight letters or more fall below it
/// (`newsweek`, `reykjavik`), and 90% of random eight-character ids (97% of sixteen). Names
/// such as `sqlalchemy` and `grpcgateway` stay above it; `rabbitmq` does not.
const RANDOM_BELOW: i32 = -36;

/// An id made by a generator behind a word prefix, as in `sess_bigenvnakjmcwjnm` or
/// `cus_NffrFeUfNVHib`: after the last `_`, eight or more ASCII letters and digits whose
/// letters do not read as English (`max_connections`, `HiHealthDataInsertStore` stay).
fn is_generated_tail(text: &str) -> bool {
    let Some(underscore) = memrchr(b'_', text.as_bytes()) else {
        return false;
    };
    let tail = &text.as_bytes()[underscore + 1..];
    tail.len() >= MIN_GENERATED_TAIL
        && tail.iter().all(u8::is_ascii_alphanumeric)
        && reads_as_random(tail)
}

/// Whether the letters of `text` follow each other less often than English letters do, by the
/// mean of [`LETTER_PAIRS`] over its pairs of adjacent letters (case aside).
fn reads_as_random(text: &[u8]) -> bool {
    let (mut sum, mut pairs) = (0_i32, 0_i32);
    for pair in text.windows(2) {
        let (a, b) = (pair[0].to_ascii_lowercase(), pair[1].to_ascii_lowercase());
        if a.is_ascii_lowercase() && b.is_ascii_lowercase() {
            sum += i32::from(LETTER_PAIRS[usize::from(a - b'a')][usize::from(b - b'a')]);
            pairs += 1;
        }
    }
    pairs >= 5 && sum < RANDOM_BELOW * pairs
}

/// Hex digits with at least one decimal digit among them (`[0-9a-f]*\d[0-9a-f]*`, any case).
fn is_hex_word(text: &str) -> bool {
    let mut others = text.chars().filter(|c| !c.is_ascii_hexdigit());
    match (others.next(), others.next()) {
        (None, _) => text.bytes().any(|b| b.is_ascii_digit()),
        (Some(c), None) => is_decimal(c),
        _ => false,
    }
}

/// A URL with an endpoint: its scheme and path stay, a host with digits or a DNS name is masked.
fn mask_url(core: &str, out: &mut String) {
    let Some(url) = parse_url(core) else {
        out.push_str(core);
        return;
    };
    out.push_str(url.scheme);
    out.push_str("://");
    let host = if has_digit(url.host) || is_host(url.host) {
        WILDCARD
    } else {
        url.host
    };
    out.push_str(host);
    mask_url_path(url.path, out);
}

/// A URL path with its variable segments masked, and its query string as one `<*>`.
fn mask_url_path(path: &str, out: &mut String) {
    let (path, query) = match path.split_once('?') {
        Some((path, _)) => (path, true),
        None => (path, false),
    };
    for (index, segment) in path.split('/').enumerate() {
        if index > 0 {
            out.push('/');
        }
        if !segment.is_empty() {
            push_segment(segment, out);
        }
    }
    if query {
        out.push('?');
        out.push_str(WILDCARD);
    }
}

/// One segment of a URL path: `<*>` if it varies as a whole, else with its varying parts
/// masked as in an identifier (`c-1efbebccad` → `c-<*>`).
fn push_segment(segment: &str, out: &mut String) {
    let scan = Scan::of(segment);
    if is_varying(segment, &scan) {
        out.push_str(WILDCARD);
    } else {
        let mut masked = String::with_capacity(segment.len());
        mask_identifier(segment, &scan, &mut masked);
        out.push_str(&collapse_joined_wildcards(masked));
    }
}

/// Runs of wildcards joined by nothing or one joint (`<*>-<*>`, `<*>:<*>`) become one `<*>`.
fn collapse_joined_wildcards(text: String) -> String {
    if text.bytes().filter(|&b| b == b'*').count() < 2 {
        return text; // no two wildcards
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = text[at..].find(WILDCARD) {
        let start = at + offset;
        let mut end = start + WILDCARD.len();
        let mut joined = false;
        loop {
            if text[end..].starts_with(WILDCARD) {
                end += WILDCARD.len();
            } else if end < bytes.len()
                && b"-:.@#/+~".contains(&bytes[end])
                && text[end + 1..].starts_with(WILDCARD)
            {
                end += 1 + WILDCARD.len();
            } else {
                break;
            }
            joined = true;
        }
        if joined {
            out.push_str(&text[copied..start]);
            out.push_str(WILDCARD);
            copied = end;
        }
        at = end;
    }
    if copied == 0 {
        return text;
    }
    out.push_str(&text[copied..]);
    out
}
