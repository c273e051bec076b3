//! A shape's requests as three little-endian byte buffers that NumPy reads without a Python
//! object per request (`logsense.requestmap.RequestMap`), and the table's request ids, read
//! back by id only where a text is shown.

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::EventTable;

/// (ids as u32, first times as f64, first positions as i64), sorted by id.
pub type RequestBuffers = (Py<PyBytes>, Py<PyBytes>, Py<PyBytes>);

/// The buffers of (request id, time, position) triples, sorted by request id.
pub fn request_buffers(py: Python<'_>, requests: &[(u32, f64, u64)]) -> RequestBuffers {
    let mut sorted = requests.to_vec();
    sorted.sort_unstable_by_key(|&(id, _, _)| id);
    let (mut ids, mut times, mut positions) = (
        Vec::with_capacity(4 * sorted.len()),
        Vec::with_capacity(8 * sorted.len()),
        Vec::with_capacity(8 * sorted.len()),
    );
    for (id, ts, position) in sorted {
        ids.extend_from_slice(&id.to_le_bytes());
        times.extend_from_slice(&ts.to_le_bytes());
        // Input positions are line numbers and sequence numbers, far below 2**63.
        positions.extend_from_slice(&(position as i64).to_le_bytes());
    }
    (
        PyBytes::new_bound(py, &ids).unbind(),
        PyBytes::new_bound(py, &times).unbind(),
        PyBytes::new_bound(py, &positions).unbind(),
    )
}

/// The request ids of an `EventTable`, by the ids its aggregates hand out. Ids never change
/// once given, so this stays true while the table reads on.
#[pyclass(module = "logsense._native", frozen)]
pub struct RequestNames {
    table: Py<EventTable>,
}

impl RequestNames {
    pub fn new(table: Py<EventTable>) -> Self {
        Self { table }
    }
}

#[pymethods]
impl RequestNames {
    fn __getitem__(&self, py: Python<'_>, id: u32) -> PyResult<String> {
        let table = self.table.bind(py).borrow();
        table
            .table
            .requests
            .get_index(id as usize)
            .map(|text| text.to_string())
            .ok_or_else(|| PyIndexError::new_err(format!("no request id {id}")))
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.table.bind(py).borrow().table.requests.len()
    }
}
