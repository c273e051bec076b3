//! Stack-trace fingerprints: the exception type chain plus the top in-app frames, as Sentry does.
//!
//! Line numbers are left out (they move with every deploy); library frames are skipped so the
//! fingerprint names where *our* code failed. Java/JVM and Python traces are understood.
//!
//! The rules were first written in Python; lines, whitespace and word characters follow Python's
//! definitions (see [`pytext`]) so that the fingerprints are the same.

use crate::pytext::{self, is_decimal, is_space, is_word};

/// How many frames a fingerprint names.
const TOP_FRAMES: usize = 3;
/// Packages of the JDK and of common libraries: not where our code failed.
#[rustfmt::skip]
const LIBRARY_PREFIXES: &[&str] = &[
    "java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala.", "akka.",
    "org.springframework.", "org.apache.", "org.eclipse.", "org.hibernate.", "io.netty.",
    "reactor.", "okhttp3.", "com.fasterxml.", "com.google.", "io.grpc.", "org.junit.",
];
/// Parts of the file path of a Python library frame.
const LIBRARY_PATHS: &[&str] = &["site-packages", "dist-packages", "/lib/python", "<frozen"];
const JAVA_TYPE_ENDINGS: &[&str] = &["Exception", "Error", "Throwable"];
const PYTHON_TYPE_ENDINGS: &[&str] = &["Error", "Exception", "Warning", "Exit", "Interrupt"];

/// `Type[<CauseType…]|frame|frame|frame` for a stack trace in `text`, or None if none is found.
///
/// `text` is the whole event: the message line and the trace below it.
pub fn fingerprint(text: &str) -> Option<String> {
    java_fingerprint(text).or_else(|| python_fingerprint(text))
}

/// The fingerprint of a Java trace: every exception type, then the first in-app frames (the
/// first frames if none is in-app); None without any frame line.
fn java_fingerprint(text: &str) -> Option<String> {
    let mut frames: Vec<&str> = Vec::with_capacity(TOP_FRAMES);
    let mut in_app: Vec<&str> = Vec::with_capacity(TOP_FRAMES);
    let mut types: Vec<&str> = Vec::new();
    for line in pytext::lines(text) {
        // Once three in-app frames are known, later frames cannot change the fingerprint.
        if in_app.len() < TOP_FRAMES {
            if let Some(frame) = java_frame(line) {
                if frames.len() < TOP_FRAMES {
                    frames.push(frame);
                }
                if !is_java_library(frame) {
                    in_app.push(frame);
                }
                // A frame line starts with `at`, never with an exception type.
                continue;
            }
        }
        if let Some(name) = java_exception(pytext::strip(line)) {
            if !types.contains(&name) {
                types.push(name);
            }
        }
    }
    if frames.is_empty() {
        return None;
    }
    let chosen = if in_app.is_empty() { frames } else { in_app };
    Some(join(&types, &chosen))
}

/// Whether a Java frame's method is in a JDK or library package.
fn is_java_library(frame: &str) -> bool {
    LIBRARY_PREFIXES
        .iter()
        .any(|prefix| frame.starts_with(prefix))
}

/// The fingerprint of a Python trace: the last exception type, then the innermost in-app frames
/// (innermost frames if none is in-app); None without any frame line.
fn python_fingerprint(text: &str) -> Option<String> {
    let mut frames: Vec<(&str, &str)> = Vec::new();
    let mut last_type = None;
    for line in pytext::lines(text) {
        if let Some(frame) = python_frame(line) {
            frames.push(frame);
        }
        if let Some(name) = python_exception(line) {
            last_type = Some(name);
        }
    }
    if frames.is_empty() {
        return None;
    }
    let in_app: Vec<&(&str, &str)> = frames
        .iter()
        .filter(|(path, _)| !LIBRARY_PATHS.iter().any(|part| path.contains(part)))
        .collect();
    let chosen: Vec<&(&str, &str)> = if in_app.is_empty() {
        frames.iter().collect()
    } else {
        in_app
    };
    // Python prints the innermost frame last; the top of the stack is where it failed.
    let frames: Vec<String> = chosen
        .iter()
        .rev()
        .take(TOP_FRAMES)
        .map(|(path, function)| format!("{}.{function}", module(path)))
        .collect();
    Some(join(last_type.as_slice(), &frames))
}

/// The fingerprint text: the distinct types in order joined by `<` (`?` if none), then the frames.
fn join(types: &[&str], frames: &[impl AsRef<str>]) -> String {
    let mut chain: Vec<&str> = Vec::with_capacity(types.len());
    for &name in types {
        if !chain.contains(&name) {
            chain.push(name);
        }
    }
    let mut out = if chain.is_empty() {
        "?".to_string()
    } else {
        chain.join("<")
    };
    for frame in frames {
        out.push('|');
        out.push_str(frame.as_ref());
    }
    out
}

/// The module of a Python source path: `/srv/app/orders/views.py` → `views`.
fn module(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".py").unwrap_or(name)
}

/// The method of a Java frame line: `\tat com.example.Foo.bar(Foo.java:42)` → `com.example.Foo.bar`.
fn java_frame(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches(is_space).strip_prefix("at")?;
    let method = rest.trim_start_matches(is_space);
    if method.len() == rest.len() {
        return None;
    }
    let end = method
        .find(|c: char| !(is_word(c) || matches!(c, '$' | '.' | '<' | '>' | '/')))
        .unwrap_or(method.len());
    (end > 0 && method[end..].starts_with('(')).then(|| &method[..end])
}

/// The exception type a (stripped) Java trace line starts with, after an optional `Caused by:`.
fn java_exception(line: &str) -> Option<&str> {
    line.strip_prefix("Caused by:")
        .and_then(|rest| java_type_name(rest.trim_start_matches(is_space)))
        .or_else(|| java_type_name(line))
}

/// The qualified Java type name at the start of `text` whose last part ends in `Exception`,
/// `Error` or `Throwable` and is followed by a word boundary; the longest if several are.
fn java_type_name(text: &str) -> Option<&str> {
    let is_name_char = |c: char| is_word(c) || c == '$';
    let mut found = None;
    let mut part_start = 0;
    let mut previous = None;
    for (index, c) in text.char_indices() {
        if c == '.' {
            if previous.is_none_or(|p| p == '.') {
                break; // a part may not be empty
            }
            part_start = index + 1;
        } else if !is_name_char(c) {
            break;
        } else {
            let end = index + c.len_utf8();
            if ends_with_type(&text[part_start..end], JAVA_TYPE_ENDINGS) && at_word_end(text, end) {
                found = Some(&text[..end]);
            }
        }
        previous = Some(c);
    }
    found
}

/// The exception type a Python trace line starts with: `KeyError: 'sku'` → `KeyError`.
fn python_exception(line: &str) -> Option<&str> {
    if !line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let mut found = None;
    for (index, c) in line.char_indices().skip(1) {
        if !(is_word(c) || c == '.') {
            break;
        }
        let end = index + c.len_utf8();
        if ends_with_type(&line[..end], PYTHON_TYPE_ENDINGS) && at_word_end(line, end) {
            found = Some(&line[..end]);
        }
    }
    found
}

/// Whether `name` is longer than one of `endings` and ends with it.
fn ends_with_type(name: &str, endings: &[&str]) -> bool {
    // Most names end in a letter no ending ends with: rule them out before comparing.
    let Some(&last) = name.as_bytes().last() else {
        return false;
    };
    endings.iter().any(|ending| {
        ending.as_bytes().last() == Some(&last)
            && name.len() > ending.len()
            && name.ends_with(ending)
    })
}

/// Python's `\b` right after a word character at `end`: no word character follows.
fn at_word_end(text: &str, end: usize) -> bool {
    !text[end..].starts_with(is_word)
}

/// The path and function of a Python frame line: `  File "/x/views.py", line 42, in checkout`.
fn python_frame(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start_matches(is_space).strip_prefix("File \"")?;
    let (path, rest) = rest.split_once('"')?;
    let rest = rest.strip_prefix(", line ")?;
    let digits = rest.find(|c: char| !is_decimal(c)).unwrap_or(rest.len());
    if path.is_empty() || digits == 0 {
        return None;
    }
    let rest = rest[digits..].strip_prefix(", in ")?;
    let function = &rest[..rest.find(is_space).unwrap_or(rest.len())];
    (!function.is_empty()).then_some((path, function))
}
