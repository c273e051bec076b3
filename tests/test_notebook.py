"""`notebooks/explore.ipynb` runs clean, top to bottom, in a fresh kernel: it never rots.

The kernel is ipykernel's own `python3` (a dev dependency), found in this environment without
any `ipykernel install`; it imports logsense from this checkout, whatever else is installed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "explore.ipynb"
BUDGET = 60.0


def test_the_stored_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_the_notebook_runs_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), path])))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # A stale user kernel spec named python3 could point at another interpreter: say so.
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    began = time.monotonic()
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    assert time.monotonic() - began < BUDGET
    kernel_python = notebook.cells.pop().outputs[0].text.strip()
    assert Path(kernel_python).samefile(sys.executable), "the kernel runs another Python"
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2, "the embedding map and the timeline chart"
    tables = [o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert tables and "| 1 | high |" in tables[0] and "orders: `java.lang.NullPointer" in tables[0]
    printed = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert "orders: Deploying version 2.17.0" in printed and "recovery" in printed
