//! `EventTable` and its result classes (see `logsense/_native.pyi`): the events of one input
//! as compact rows, cut to a time range and aggregated by message shape.
//!
//! The per-line work (JSON parsing, field picking, normalization, masking, fingerprinting) runs
//! here with the GIL released, on worker threads; Python is handed back only the lines whose
//! exact reading would be hard to reproduce, and sees one object per message shape.
//!
//! Layout: `json_scan` (strict JSON reader), `isotime` (ISO timestamps), `pytext` (Python's
//! whitespace and floor division), `record` (line → event fields), `scan` (a piece of a block on
//! one thread), `strings` (interning), `packed` (texts as edits of a reference), `store` (rows and
//! windowing), `aggregate` (per-shape stats). This file only converts between them and Python.

// pyo3 0.22's generated wrappers trip this lint on every fallible method.
#![allow(clippy::useless_conversion)]

use std::collections::HashMap;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PySet, PyString, PyTuple};

pub use scan::JOIN_GAP;

mod aggregate;
mod distinct;
mod export;
mod hits;
mod instances;
mod isotime;
mod json_scan;
mod packed;
mod record;
mod requests;
mod sampler;
mod scan;
mod slots;
mod store;
mod strings;
mod text;
mod times;

use aggregate::AggregateOut;
use record::{level_rank, FieldPlan, Levels, CLASS_NAMES, LEVEL_NAMES};
use requests::{request_buffers, RequestBuffers, RequestNames};
use scan::Config;
use store::{Pushed, Table, DEFAULT_MAX_LINE};
use strings::{Strings, NO_ID};

/// Register the table classes in the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<EventTable>()?;
    m.add_class::<ScanStats>()?;
    m.add_class::<Aggregate>()?;
    m.add_class::<ShapeStats>()?;
    m.add_class::<HitsPage>()?;
    m.add_class::<RequestNames>()?;
    m.add_class::<SampleStats>()?;
    m.add_function(wrap_pyfunction!(sample_levels, m)?)?;
    Ok(())
}

/// The sample level of each request id (see `EventTable.sample_rest`), one byte each: a
/// request is inside a sample of level L when its level is L or more.
#[pyfunction]
fn sample_levels<'py>(py: Python<'py>, names: Vec<String>) -> Bound<'py, PyBytes> {
    PyBytes::new_bound(py, &sampler::levels_of(&names))
}

/// What a table that sampled as it read counted (`EventTable.sampled`).
#[pyclass(module = "logsense._native", frozen, get_all)]
pub struct SampleStats {
    level: u32,
    events: (u64, u64),
    requests: (u64, u64),
    universe: (u64, u64),
    requests_per_minute: Py<PyDict>,
    users: u64,
    services: Py<PyList>,
    baseline_first: Option<f64>,
    sampled_shapes: Py<PyList>,
    in_full: u64,
    sampled: u64,
    estimated: Vec<&'static str>,
    exact_limit: usize,
}

/// Window stats of one message shape: (service, level class, masked message, fingerprint).
#[pyclass(module = "logsense._native", frozen, get_all)]
pub struct ShapeStats {
    service: Py<PyString>,
    level_class: Py<PyString>,
    masked: Py<PyString>,
    fingerprint: Option<Py<PyString>>,
    first_position: u64,
    level: Py<PyString>,
    count: u64,
    baseline_count: u64,
    first_seen: f64,
    last_seen: f64,
    per_minute: Py<PyDict>,
    requests: RequestBuffers,
    baseline_requests: RequestBuffers,
    baseline_per_minute: Py<PyDict>,
    users: Py<PySet>,
    samples: Py<PyList>,
    durations: Option<PyObject>,
    slots: Py<PyList>,
}

#[pymethods]
impl ShapeStats {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "ShapeStats({:?}, {:?}, {:?}, count={}, baseline_count={})",
            self.service.bind(py).to_string(),
            self.level_class.bind(py).to_string(),
            self.masked.bind(py).to_string(),
            self.count,
            self.baseline_count
        )
    }
}

/// Everything mining needs from the rows of the final window and its baseline.
#[pyclass(module = "logsense._native", frozen, get_all)]
pub struct Aggregate {
    shapes: Py<PyList>,
    events: u64,
    services: Py<PyList>,
    requests: u64,
    requests_per_minute: Py<PyDict>,
    users: u64,
    outside: u64,
    baseline_events: u64,
    baseline_requests: u64,
    baseline_first: Option<f64>,
    hops: Py<PyList>,
    request_names: Py<RequestNames>,
}

/// What the JSON scanner could not use or had to guess (merged into `SourceStats`).
#[pyclass(module = "logsense._native", frozen, get_all)]
pub struct ScanStats {
    read: u64,
    malformed_reasons: Py<PyDict>,
    malformed_examples: Py<PyList>,
    missing_level: u64,
    missing_service: u64,
    unknown_levels: Py<PyDict>,
    undecodable: u64,
    formats: Py<PyDict>,
    year_assumed: u64,
    zone_assumed: u64,
    continuation_dropped: u64,
    joined: u64,
}

/// What `EventTable.scan_hits` read in one search response besides the events it kept.
#[pyclass(module = "logsense._native", frozen, get_all)]
pub struct HitsPage {
    hits: usize,
    last_sort: Option<Py<PyBytes>>,
    pit_id: Option<String>,
    shards_failed: u64,
    timed_out: bool,
    handed_back: Py<PyList>,
}

/// The events of one input in compact rows, cut to a time range and aggregated by shape.
#[pyclass(module = "logsense._native")]
pub struct EventTable {
    table: Table,
}

#[pymethods]
impl EventTable {
    #[new]
    #[pyo3(signature = (fields, levels, source, *, floor = None, ceiling = None, lookback = None, threads = 1, now = None, window_start = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        fields: Vec<Vec<String>>,
        levels: HashMap<String, String>,
        source: String,
        floor: Option<f64>,
        ceiling: Option<f64>,
        lookback: Option<f64>,
        threads: usize,
        now: Option<f64>,
        window_start: Option<f64>,
    ) -> PyResult<Self> {
        let plan = FieldPlan::new(&fields).map_err(PyValueError::new_err)?;
        let levels: Vec<(String, String)> = levels.into_iter().collect();
        let levels = Levels::new(&levels).map_err(PyValueError::new_err)?;
        let config = Config {
            plan,
            levels,
            source,
            floor,
            ceiling,
            threads: threads.max(1),
            text: None,
        };
        let mut table = Table::new(config, lookback);
        table.now = now;
        table.window_start = window_start;
        Ok(Self { table })
    }

    /// Read the JSON lines in `data`, the input that follows the last call's; the start of a
    /// line cut at the end of `data` is kept until the next call (or `end_json`) completes it.
    /// Lines are numbered from `first_line` if given (only before a cut line), else from
    /// `next_line`. Lines longer than `max_line` bytes that are not blank are counted as too
    /// long (and never held whole). Return the (line number, raw line without its newline)
    /// pairs left to Python.
    #[pyo3(signature = (data, first_line = None, max_line = DEFAULT_MAX_LINE))]
    fn scan_json<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        first_line: Option<u64>,
        max_line: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let table = &mut self.table;
        if let Some(first_line) = first_line {
            if table.has_partial() {
                return Err(PyValueError::new_err(
                    "first_line given while a line cut by the last block is pending",
                ));
            }
            table.next_line = first_line;
        }
        let handed_back = py.allow_threads(|| table.scan_json(data, max_line));
        Ok(lines_list(py, handed_back))
    }

    /// Read the hits of one Elasticsearch search response, as the HTTP response carried it:
    /// each `_source` is scanned like a JSON line, with origin `{_index}/{_id}`. Return the
    /// page's paging state and the hits left to Python as (seq, origin, raw source or None).
    /// A page whose shards failed or timed out is not read; with `limit`, only its first
    /// `limit` hits are.
    #[pyo3(signature = (data, max_line = DEFAULT_MAX_LINE, limit = None))]
    fn scan_hits(
        &mut self,
        py: Python<'_>,
        data: &[u8],
        max_line: usize,
        limit: Option<usize>,
    ) -> PyResult<HitsPage> {
        let table = &mut self.table;
        let out = py
            .allow_threads(|| table.scan_hits(data, max_line, limit))
            .map_err(|reason| PyValueError::new_err(format!("not a search response: {reason}")))?;
        let handed_back = out
            .handed_back
            .into_iter()
            .map(|(seq, origin, source)| -> PyObject {
                let source = source.map(|bytes| PyBytes::new_bound(py, &bytes).unbind());
                (seq, origin, source).into_py(py)
            });
        Ok(HitsPage {
            hits: out.hits,
            last_sort: out
                .last_sort
                .map(|bytes| PyBytes::new_bound(py, &bytes).unbind()),
            pit_id: out.pit_id,
            shards_failed: out.shards_failed,
            timed_out: out.timed_out,
            handed_back: PyList::new_bound(py, handed_back).unbind(),
        })
    }

    /// At the end of the input, read the line the last `scan_json` left without its end (if
    /// any); return the lines left to Python, as `scan_json`.
    fn end_json<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyList> {
        let handed_back = self.table.end_json();
        lines_list(py, handed_back)
    }

    /// Read text lines in the formats given: the library (formats, prefixes, fallback, each
    /// (name, regex, [(field, group)], layouts, ids, general)), the zone of zone-less times
    /// (offset before the first transition, transitions), the wall clock for year-less
    /// times, and a forced format's index.
    #[pyo3(signature = (formats, prefixes, fallback, zone_initial, zone_transitions, reference, only = None))]
    #[allow(clippy::too_many_arguments)]
    fn set_text(
        &mut self,
        formats: Vec<text::FormatSpec>,
        prefixes: Vec<text::FormatSpec>,
        fallback: text::FormatSpec,
        zone_initial: i64,
        zone_transitions: Vec<(i64, i64, i64)>,
        reference: f64,
        only: Option<usize>,
    ) -> PyResult<()> {
        let zone = times::Zone::new(zone_initial, zone_transitions);
        let formats = text::TextFormats::new(formats, prefixes, fallback, zone, reference, only)
            .map_err(PyValueError::new_err)?;
        self.table.config.text = Some(formats);
        Ok(())
    }

    /// Detect the primary format from an input's first lines; return its name (or None).
    fn detect_text(&mut self, lines: Vec<String>) -> PyResult<Option<String>> {
        let text = self
            .table
            .config
            .text
            .as_mut()
            .ok_or_else(|| PyRuntimeError::new_err("detect_text needs set_text first"))?;
        text.primary = text.detect(lines.iter().map(String::as_str));
        Ok(text
            .primary
            .map(|primary| text.pair_name(primary).to_string()))
    }

    /// Read the text lines in `data` (see `scan_json` for blocks, numbering and long lines).
    #[pyo3(signature = (data, first_line = None, max_line = DEFAULT_MAX_LINE))]
    fn scan_text(
        &mut self,
        py: Python<'_>,
        data: &[u8],
        first_line: Option<u64>,
        max_line: usize,
    ) -> PyResult<()> {
        let table = &mut self.table;
        if table.config.text.is_none() {
            return Err(PyRuntimeError::new_err("scan_text needs set_text first"));
        }
        if let Some(first_line) = first_line {
            if table.has_partial() {
                return Err(PyValueError::new_err(
                    "first_line given while a line cut by the last block is pending",
                ));
            }
            table.next_line = first_line;
        }
        py.allow_threads(|| table.scan_text(data, max_line));
        Ok(())
    }

    /// At the end of a text input: read the line kept without its end, close the last event.
    fn end_text(&mut self) {
        self.table.end_text();
    }

    /// Add one event normalized in Python.
    #[pyo3(signature = (seq, timestamp, message, level, service, request_id, user_id, stack_trace, origin, duration = None, version = None, host = None))]
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        seq: u64,
        timestamp: f64,
        message: &str,
        level: &str,
        service: &str,
        request_id: Option<&str>,
        user_id: Option<&str>,
        stack_trace: Option<&str>,
        origin: &str,
        duration: Option<f64>,
        version: Option<&str>,
        host: Option<&str>,
    ) -> PyResult<()> {
        let level = level_rank(level)
            .ok_or_else(|| PyValueError::new_err(format!("unknown level {level:?}")))?;
        self.table.push(Pushed {
            seq,
            ts: timestamp,
            message,
            level,
            service,
            request: request_id,
            user: user_id,
            stack: stack_trace,
            origin: Some(origin),
            duration,
            version: version.filter(|text| !text.is_empty()),
            host: host.filter(|text| !text.is_empty()),
        });
        Ok(())
    }

    /// Every (service, version or None, host or None, first time, last time, events) among the
    /// events kept, by service, then first time.
    #[allow(clippy::type_complexity)]
    fn instances(&self) -> Vec<(&str, Option<&str>, Option<&str>, f64, f64, u64)> {
        let table = &self.table;
        fn text(strings: &strings::Strings, id: u32) -> Option<&str> {
            (id != strings::NO_ID).then(|| &strings[id as usize])
        }
        let mut found: Vec<_> = table
            .instances
            .seen
            .iter()
            .map(|(&(service, version, host), seen)| {
                (
                    &table.services[service as usize],
                    text(&table.versions, version),
                    text(&table.hosts, host),
                    seen.first,
                    seen.last,
                    seen.events,
                )
            })
            .collect();
        found.sort_by(|a, b| {
            a.0.cmp(b.0)
                .then(a.3.total_cmp(&b.3))
                .then(a.1.cmp(&b.1))
                .then(a.2.cmp(&b.2))
        });
        found
    }

    #[getter]
    fn stats(&self, py: Python<'_>) -> PyResult<ScanStats> {
        let stats = &self.table.stats;
        let reasons = PyDict::new_bound(py);
        for (reason, count) in self.table.reasons() {
            reasons.set_item(reason, count)?;
        }
        // Unknown level names of JSON lines are handed back to Python, which counts them;
        // those of text lines are counted here.
        let unknown = PyDict::new_bound(py);
        for (name, count) in &stats.unknown_levels {
            unknown.set_item(name, count)?;
        }
        let formats = PyDict::new_bound(py);
        if let Some(text) = &self.table.config.text {
            for (name, count) in text.names.iter().zip(&stats.formats) {
                if *count > 0 {
                    formats.set_item(name, count)?;
                }
            }
            for (name, count) in text.names.iter().zip(&stats.inner_formats) {
                if *count > 0 {
                    formats.set_item(format!("json + {name}"), count)?;
                }
            }
        }
        Ok(ScanStats {
            read: stats.read,
            malformed_reasons: reasons.unbind(),
            malformed_examples: PyList::new_bound(py, &stats.examples).unbind(),
            missing_level: stats.missing_level,
            missing_service: stats.missing_service,
            unknown_levels: unknown.unbind(),
            undecodable: stats.undecodable,
            formats: formats.unbind(),
            year_assumed: stats.year_assumed,
            zone_assumed: stats.zone_assumed,
            continuation_dropped: stats.continuation_dropped,
            joined: stats.joined,
        })
    }

    /// From now on, keep in full the rows of shapes that can form an issue, and of the others a
    /// uniform sample of requests of about `budget` rows, counting totals over every row (see
    /// `table/sampler.rs`), distinct values exactly up to `exact_limit` each and estimated past
    /// it; false, and nothing changes, unless the table was made with a `window_start` and no
    /// lookback, and has read nothing yet.
    #[pyo3(signature = (budget, change_words, exact_limit = sampler::EXACT_LIMIT))]
    fn sample_rest(&mut self, budget: u64, change_words: Vec<String>, exact_limit: usize) -> bool {
        let words = change_words
            .iter()
            .map(|w| w.to_lowercase().into())
            .collect();
        self.table.sample_rest(budget, exact_limit, words)
    }

    /// At the end of the read: drop what the sampler kept only while it could take
    /// continuation records, and return what it counted; None unless it left rows out.
    fn sampled(&mut self, py: Python<'_>) -> PyResult<Option<SampleStats>> {
        self.table.finish_sample();
        let table = &self.table;
        let Some(sampler) = &table.sampler else {
            return Ok(None);
        };
        let out = sampler.finish();
        if out.level == 0 {
            return Ok(None);
        }
        let sampled: std::collections::HashSet<u32> = out.sampled_shapes.iter().copied().collect();
        let in_sample = table
            .rows
            .iter()
            .filter(|row| sampled.contains(&row.shape))
            .count() as u64;
        let shapes = out.sampled_shapes.iter().map(|&shape| {
            let (service, class, masked, print) = table.shapes[shape as usize];
            let print = (print != NO_ID).then(|| &table.fingerprints[print as usize]);
            (
                &table.services[service as usize],
                CLASS_NAMES[class as usize],
                &table.masked[masked as usize],
                print,
            )
        });
        let mut services: Vec<&str> = out
            .services
            .iter()
            .map(|&id| &table.services[id as usize])
            .collect();
        services.sort_unstable();
        Ok(Some(SampleStats {
            level: out.level,
            events: (out.events[0], out.events[1]),
            requests: (out.requests[0], out.requests[1]),
            universe: (out.universe[0], out.universe[1]),
            requests_per_minute: counts_dict(py, &out.requests_per_minute)?,
            users: out.users,
            services: PyList::new_bound(py, services).unbind(),
            baseline_first: out.baseline_first,
            sampled_shapes: PyList::new_bound(py, shapes).unbind(),
            in_full: table.rows.len() as u64 - in_sample,
            sampled: in_sample,
            estimated: out.estimated,
            exact_limit: out.exact_limit,
        }))
    }

    /// Rows held now (kept so far, minus those dropped by lookback).
    #[getter]
    fn rows(&self) -> usize {
        self.table.rows.len()
    }

    /// The line number that follows the last complete line scanned (1 before any): that of the
    /// line `scan_json` keeps without its end, if any.
    #[getter]
    fn next_line(&self) -> u64 {
        self.table.next_line
    }

    #[getter]
    fn earliest(&self) -> Option<f64> {
        self.table.earliest
    }

    #[getter]
    fn newest(&self) -> Option<f64> {
        self.table.newest
    }

    /// Where a window without an end ends: (time of the newest event outside a detached tail,
    /// events in that tail, the tail's oldest time or None, seconds of silence before it);
    /// None when no event was kept.
    fn anchor(&self) -> Option<(f64, u64, Option<f64>, f64)> {
        self.table
            .anchor()
            .map(|a| (a.time, a.detached, a.detached_first, a.silence))
    }

    fn aggregate(
        slf: &Bound<'_, Self>,
        low: f64,
        window_start: f64,
        window_end: f64,
        samples: usize,
    ) -> PyResult<Aggregate> {
        let py = slf.py();
        let names = Py::new(py, RequestNames::new(slf.clone().unbind()))?;
        let mut this = slf.borrow_mut();
        let table = &mut this.table;
        let out = py.allow_threads(|| table.aggregate(low, window_start, window_end, samples));
        let _paused = GcPause::new(py);
        Converter::new(py, &this.table).aggregate(out, names)
    }

    /// The rows of this table from time `low` on (all without one) and what they refer to, as
    /// bytes for `merge` (a worker's part); its `hours()` too, unless `hours` is False.
    #[pyo3(signature = (low = None, hours = true))]
    fn partial<'py>(&self, py: Python<'py>, low: Option<f64>, hours: bool) -> Bound<'py, PyBytes> {
        let data = py.allow_threads(|| export::encode(&self.table, low, hours));
        PyBytes::new_bound(py, &data)
    }

    /// The kept events per clock hour: (hour, events, oldest time, newest time).
    fn hours(&self) -> Vec<(i64, u64, f64, f64)> {
        self.table.hour_counts().collect()
    }

    /// Count events kept elsewhere, as `hours()` gives them, toward this table's `anchor()`.
    fn add_hours(&mut self, hours: Vec<(i64, u64, f64, f64)>) {
        for (hour, count, oldest, newest) in hours {
            self.table.add_hour(hour, count, oldest, newest);
        }
    }

    /// Add the rows of another table's `partial()`, as if this table had read them; ValueError
    /// (and nothing added) when `data` is not a whole partial.
    fn merge(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let table = &mut self.table;
        py.allow_threads(|| export::merge(table, data))
            .map_err(|reason| PyValueError::new_err(format!("cannot merge: {reason}")))
    }

    /// (origin, shape index in the last aggregate's shapes) of every row it kept, in seq order.
    fn row_shapes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let table = &self.table;
        let last = table.last.as_ref().ok_or_else(|| {
            PyRuntimeError::new_err("row_shapes needs an aggregate() after the last change")
        })?;
        let mut kept: Vec<(u64, u32)> = last
            .kept
            .iter()
            .map(|&index| (table.rows[index as usize].seq, index))
            .collect();
        kept.sort_unstable();
        let items = kept.iter().map(|&(_, index)| -> PyObject {
            let row = &table.rows[index as usize];
            (table.origin(row), last.shape_index[row.shape as usize]).into_py(py)
        });
        Ok(PyList::new_bound(py, items))
    }
}

/// Python's cyclic garbage collector paused while alive (restored as it was on drop).
///
/// An aggregate of 830k events is some 250k new tuples (most of them gap and slot samples),
/// dicts and sets, none in a cycle: each few hundred would otherwise start a collection that
/// walks every tracked object.
struct GcPause {
    was_enabled: bool,
}

impl GcPause {
    fn new(_py: Python<'_>) -> Self {
        // SAFETY: the GIL is held (`_py`).
        let was_enabled = unsafe { pyo3::ffi::PyGC_Disable() } != 0;
        Self { was_enabled }
    }
}

impl Drop for GcPause {
    fn drop(&mut self) {
        if self.was_enabled {
            // SAFETY: dropped in the scope that holds the GIL.
            unsafe { pyo3::ffi::PyGC_Enable() };
        }
    }
}

/// Builds the Python result objects, creating each distinct string object once.
struct Converter<'py, 't> {
    py: Python<'py>,
    table: &'t Table,
    services: Vec<Option<Py<PyString>>>,
    requests: Vec<Option<Py<PyString>>>,
    users: Vec<Option<Py<PyString>>>,
    levels: Vec<Py<PyString>>,
    classes: Vec<Py<PyString>>,
}

impl<'py, 't> Converter<'py, 't> {
    fn new(py: Python<'py>, table: &'t Table) -> Self {
        let interned = |names: &[&str]| {
            names
                .iter()
                .map(|name| PyString::intern_bound(py, name).unbind())
                .collect()
        };
        Self {
            py,
            table,
            services: (0..table.services.len()).map(|_| None).collect(),
            requests: (0..table.requests.len()).map(|_| None).collect(),
            users: (0..table.users.len()).map(|_| None).collect(),
            levels: interned(&LEVEL_NAMES),
            classes: interned(&CLASS_NAMES),
        }
    }

    fn aggregate(mut self, out: AggregateOut, names: Py<RequestNames>) -> PyResult<Aggregate> {
        let py = self.py;
        let shapes = PyList::empty_bound(py);
        // Each shape's own data is freed once converted: its Python objects take its place.
        for shape in out.shapes {
            shapes.append(Py::new(py, self.shape(shape)?)?)?;
        }
        let services: Vec<_> = out
            .services
            .iter()
            .map(|&id| cached(py, &mut self.services, &self.table.services, id))
            .collect();
        Ok(Aggregate {
            shapes: shapes.unbind(),
            events: out.events,
            services: PyList::new_bound(py, services).unbind(),
            requests: out.requests,
            requests_per_minute: counts_dict(py, &out.requests_per_minute)?,
            users: out.users,
            outside: out.outside,
            baseline_events: out.baseline_events,
            baseline_requests: out.baseline_requests,
            baseline_first: out.baseline_first,
            hops: self.hops(&out.hops).unbind(),
            request_names: names,
        })
    }

    /// The hops as (from shape, to shape, baseline count, window count, baseline gaps, window
    /// gaps), each gap a (seconds, request id) pair.
    fn hops(&self, hops: &[aggregate::HopOut]) -> Bound<'py, PyList> {
        let py = self.py;
        let items: Vec<PyObject> = hops
            .iter()
            .map(|hop| {
                let (before_count, count, before, now) = self.timings(&hop.timings);
                (hop.from, hop.to, before_count, count, before, now).into_py(py)
            })
            .collect();
        PyList::new_bound(py, items)
    }

    /// (baseline count, window count, baseline sample, window sample), each sample a list of
    /// (seconds, request id or None).
    #[allow(clippy::type_complexity)]
    fn timings(
        &self,
        timings: &aggregate::Timings,
    ) -> (u64, u64, Vec<(f64, Option<u32>)>, Vec<(f64, Option<u32>)>) {
        let sample = |items: &[(f64, u32)]| -> Vec<(f64, Option<u32>)> {
            items
                .iter()
                .map(|&(seconds, request)| (seconds, (request != NO_ID).then_some(request)))
                .collect()
        };
        let (before, now) = (sample(&timings.baseline), sample(&timings.window));
        (timings.baseline_count, timings.window_count, before, now)
    }

    fn shape(&mut self, shape: aggregate::ShapeOut) -> PyResult<ShapeStats> {
        let durations = shape
            .durations
            .as_ref()
            .map(|d| self.timings(d).into_py(self.py));
        let (py, table) = (self.py, self.table);
        let (service, class, masked, print) = table.shapes[shape.shape as usize];
        let users = PySet::empty_bound(py)?;
        for &user in &shape.users {
            users.add(cached(py, &mut self.users, &table.users, user))?;
        }
        let samples = PyList::empty_bound(py);
        for &(position, index) in &shape.samples {
            let row = &table.rows[index as usize];
            let request = (row.request != NO_ID)
                .then(|| cached(py, &mut self.requests, &table.requests, row.request));
            let sample = (
                position,
                table.text(row),
                table.origin(row),
                row.ts,
                request,
            );
            samples.append(PyTuple::new_bound(
                py,
                [
                    sample.0.into_py(py),
                    sample.1.into_py(py),
                    sample.2.into_py(py),
                    sample.3.into_py(py),
                    sample.4.into_py(py),
                ],
            ))?;
        }
        Ok(ShapeStats {
            service: cached(py, &mut self.services, &table.services, service),
            level_class: self.classes[class as usize].clone_ref(py),
            masked: PyString::new_bound(py, &table.masked[masked as usize]).unbind(),
            fingerprint: (print != NO_ID)
                .then(|| PyString::new_bound(py, &table.fingerprints[print as usize]).unbind()),
            first_position: shape.first_position,
            level: self.levels[shape.level as usize].clone_ref(py),
            count: shape.count,
            baseline_count: shape.baseline_count,
            first_seen: shape.first_seen,
            last_seen: shape.last_seen,
            per_minute: counts_dict(py, &shape.per_minute)?,
            requests: request_buffers(py, table.first_rows(&shape.requests))?,
            baseline_requests: request_buffers(py, table.first_rows(&shape.baseline_requests))?,
            baseline_per_minute: counts_dict(py, &shape.baseline_per_minute)?,
            durations,
            users: users.unbind(),
            samples: samples.unbind(),
            slots: slots_list(py, &shape.slots)?.unbind(),
        })
    }
}

/// The Python list of a shape's measured slots: (token index, unit, minutes, top values: numbers,
/// or str for text slots), each minute (minute, count, sum, min, max, largest fraction of the
/// limit or None).
fn slots_list<'py>(py: Python<'py>, slots: &[slots::SlotOut]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty_bound(py);
    for slot in slots {
        let minutes: Vec<PyObject> = slot
            .minutes
            .iter()
            .map(|m| {
                let fraction = (!m.fraction.is_nan()).then_some(m.fraction);
                (m.minute, m.count, m.sum, m.min, m.max, fraction).into_py(py)
            })
            .collect();
        let top: PyObject = match &slot.top {
            slots::TopValues::Numbers(top) => top.clone().into_py(py),
            slots::TopValues::Texts(top) => top
                .iter()
                .map(|(value, count, over)| (&**value, *count, *over))
                .collect::<Vec<_>>()
                .into_py(py),
        };
        let item: PyObject = (slot.token, slot.unit.name(), minutes, top).into_py(py);
        list.append(item)?;
    }
    Ok(list)
}

/// The Python list of (line number, raw line) pairs handed back by the scanner.
fn lines_list(py: Python<'_>, lines: Vec<(u64, Vec<u8>)>) -> Bound<'_, PyList> {
    let items = lines
        .into_iter()
        .map(|(line, raw)| -> PyObject { (line, PyBytes::new_bound(py, &raw)).into_py(py) });
    PyList::new_bound(py, items)
}

/// The Python string of interned id `id`, created on first use.
fn cached(
    py: Python<'_>,
    cache: &mut [Option<Py<PyString>>],
    strings: &Strings,
    id: u32,
) -> Py<PyString> {
    cache[id as usize]
        .get_or_insert_with(|| PyString::new_bound(py, &strings[id as usize]).unbind())
        .clone_ref(py)
}

fn counts_dict(py: Python<'_>, counts: &[(i64, u64)]) -> PyResult<Py<PyDict>> {
    let dict = PyDict::new_bound(py);
    for &(minute, count) in counts {
        dict.set_item(minute, count)?;
    }
    Ok(dict.unbind())
}
