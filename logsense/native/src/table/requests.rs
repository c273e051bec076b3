//! A shape's requests as three little-endian byte buffers that NumPy reads without a Python
//! object per request (`logsense.requestmap.RequestMap`), and the table's request ids, read
//! back by id only where a text is shown.

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::EventTable;

/// (ids as u32, first times as f64, first positions as i64), sorted by id.
pub type RequestBuffers = (Py<PyBytes>, Py<PyBytes>, Py<PyBytes>);

/// The buffers of (request id, time, position) triples, sorted by request id (written straight
/// into the Python bytes: a shape of a million requests needs no copy on the side).
pub fn request_buffers(
    py: Python<'_>,
    mut requests: Vec<(u32, f64, u64)>,
) -> PyResult<RequestBuffers> {
    requests.sort_unstable_by_key(|&(id, _, _)| id);
    Ok((
        le_bytes(py, requests.iter().map(|r| r.0.to_le_bytes()))?,
        le_bytes(py, requests.iter().map(|r| r.1.to_le_bytes()))?,
        // Input positions are line numbers and sequence numbers, far below 2**63.
        le_bytes(py, requests.iter().map(|r| (r.2 as i64).to_le_bytes()))?,
    ))
}

/// Python bytes of the little-endian values `items`, one after the other.
fn le_bytes<const N: usize>(
    py: Python<'_>,
    items: impl ExactSizeIterator<Item = [u8; N]>,
) -> PyResult<Py<PyBytes>> {
    PyBytes::new_bound_with(py, N * items.len(), |bytes| {
        for (item, slot) in items.zip(bytes.chunks_exact_mut(N)) {
            slot.copy_from_slice(&item);
        }
        Ok(())
    })
    .map(Bound::unbind)
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
            .get(id as usize)
            .map(|text| text.to_string())
            .ok_or_else(|| PyIndexError::new_err(format!("no request id {id}")))
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.table.bind(py).borrow().table.requests.len()
    }
}
