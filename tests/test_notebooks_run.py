"""The example notebooks execute without errors, re-running every cell in the same kernel
works too (no store-lock or emulator-port trouble on a second run), and what they show
reads well without live widgets: progress as a text line, no "None" cells, maps as pictures.
The fifth notebook also runs once at its real size (about 50,000 records)."""

from __future__ import annotations

import json
import os
import re
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
FULL_SIZE = "SIZE = 16_700"
WIDGET = "application/vnd.jupyter.widget-view+json"


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


@pytest.fixture
def kernel_env(kernel_dir, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for name in [k for k in list(os.environ) if k.startswith("LINKEDDATA_") and k.endswith("_URL")]:
        monkeypatch.delenv(name)


def _read(path: Path, size: str | None = None):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    assert any("USE_REAL_SERVICES = False" in c.source for c in nb.cells if c.cell_type == "code")
    assert any("STORE = None" in c.source for c in nb.cells if c.cell_type == "code")
    if size is not None:
        for cell in nb.cells:
            cell.source = cell.source.replace(FULL_SIZE, f"SIZE = {size}")
    return nb


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _check_reads_well(nb) -> None:
    """What an exported notebook shows: no widget left, progress as a line, no "None" cells."""
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert not [o for o in outputs if WIDGET in o.get("data", {})], "a widget left where no viewer can show it"
    for o in outputs:
        html = o.get("data", {}).get("text/html", "")
        assert not re.search(r"<td>\s*None\s*</td>", html), html[:500]
        text = o.get("data", {}).get("text/plain", "") + o.get("text", "")
        assert "record [" not in text and "?record/s" not in text  # tqdm's unreadable fallback
    assert "matplotlib" not in json.dumps(nb.metadata)


def _run(nb, tmp_path, runs: int, timeout: int) -> None:
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=timeout, allow_errors=False,
                                     resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        for run in range(1, runs + 1):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)  # raises CellExecutionError on an error
            errors = [o for o in _outputs(nb) if o.get("output_type") == "error"]
            assert not errors, f"run {run}: {errors[0]}"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
    assert code[-1].get("outputs")


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05"]
    assert FULL_SIZE in NOTEBOOKS[-1].read_text("utf-8")


def _pictures(nb) -> list[str]:
    return [o["data"]["text/plain"] for o in _outputs(nb) if "image/png" in o.get("data", {})]


def _check_maps(nb) -> None:
    """The static map and the interactive one draw all 7 libraries with coordinates, offline."""
    assert "<StaticMap: 7 libraries drawn, 0 without coordinates>" in _pictures(nb)
    html = [o["data"]["text/html"] for o in _outputs(nb) if "circleMarker" in o.get("data", {}).get("text/html", "")]
    assert len(html) == 1 and html[0].count("L.circleMarker(") == 7
    assert not re.search(r"src=(?:&quot;|\")https?://", html[0])  # Leaflet embedded, nothing fetched


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_twice_in_one_kernel(path, kernel_env, tmp_path):
    nb = _read(path, size="300")  # the fifth notebook at a small size here; at full size below
    _run(nb, tmp_path, runs=2, timeout=120)
    _check_reads_well(nb)
    progress = [o["data"]["text/plain"] for o in _outputs(nb) if "linkeddata-progress" in
                o.get("data", {}).get("text/html", "")]
    assert all(re.match(r"[\w-]+: [\d,]+ \w+, ", line) for line in progress), progress
    assert bool(progress) == any("progress_bar" in c.source for c in nb.cells)
    if path.stem.startswith("02"):
        _check_maps(nb)


@pytest.mark.slow
def test_the_fifth_notebook_at_its_real_size(kernel_env, tmp_path):
    nb = _read(NOTEBOOKS[-1])
    _run(nb, tmp_path, runs=1, timeout=400)
    _check_reads_well(nb)
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in _outputs(nb))
    harvested = int(re.search(r"OAI-PMH: ([\d,]+) records", text).group(1).replace(",", ""))
    assert 48_000 <= harvested <= 52_000
    assert "<StaticMap: 7 libraries drawn, 0 without coordinates>" in _pictures(nb)
    assert re.search(r"\d+ of 28 pairs of libraries hold nothing in common", text)
