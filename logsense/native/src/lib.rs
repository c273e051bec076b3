//! logsense's native core: the work done once per input line, where Python's per-object cost
//! would dominate. Everything done once per message shape or pattern stays in Python.

use pyo3::prelude::*;

mod durations;
mod letter_pairs;
mod masking;
mod pytext;
mod stacktrace;
mod table;

/// `message` with variable parts replaced by `<*>` (see `logsense.mine.masking`).
#[pyfunction]
#[pyo3(signature = (message, routine = false))]
fn mask(message: &str, routine: bool) -> String {
    masking::mask(message, routine)
}

/// The stack fingerprint of a whole event's text (see `logsense.mine.stacktrace`).
#[pyfunction]
fn fingerprint(text: &str) -> Option<String> {
    stacktrace::fingerprint(text)
}

/// Seconds per unit of a duration field named `key` (see `logsense.sources.records`).
#[pyfunction]
fn duration_field_unit(key: &str) -> f64 {
    durations::field_unit(key)
}

/// The grok patterns (name, regex) that the text formats of `logsense/sources/formats/` build on:
/// logstash-patterns-core as the `grok` crate ships it.
#[pyfunction]
fn grok_patterns() -> Vec<(&'static str, &'static str)> {
    grok::patterns().to_vec()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(mask, m)?)?;
    m.add_function(wrap_pyfunction!(fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(duration_field_unit, m)?)?;
    m.add_function(wrap_pyfunction!(grok_patterns, m)?)?;
    m.add("JOIN_GAP", table::JOIN_GAP)?;
    table::register(m)?;
    Ok(())
}
