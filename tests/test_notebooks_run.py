"""The example notebooks execute without errors, and re-running every cell in the same
kernel works too (no store-lock or emulator-port trouble on a second run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("pandas")
pytest.importorskip("folium")
pytest.importorskip("matplotlib")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
KERNEL = "linkeddata-test-python"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernel spec for the interpreter running the tests (no ``ipykernel install`` needed)."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "linkeddata tests", "language": "python"}))
    return root


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_twice_in_one_kernel(path, kernel_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for name in [k for k in list(__import__("os").environ) if k.startswith("LINKEDDATA_") and k.endswith("_URL")]:
        monkeypatch.delenv(name)
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    assert any("USE_REAL_SERVICES = False" in c.source for c in nb.cells if c.cell_type == "code")
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=120, allow_errors=False,
                                     resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        for run in (1, 2):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)  # raises CellExecutionError on an error
            errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                      if o.get("output_type") == "error"]
            assert not errors, f"run {run}: {errors[0]}"
    # every code cell ran and the last one produced something
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
    assert code[-1].get("outputs")
