"""The built wheel ships its assets and works outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    return next(out.glob("linkeddata-*.whl"))


def test_wheel_contains_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("linkeddata/py.typed", "linkeddata/queries/holdings-by-library.rq",
                     "linkeddata/contexts/kbv.jsonld", "linkeddata/contexts/index.json",
                     "linkeddata/contexts/target/sdo-w3c.jsonld", "linkeddata/default-build.toml"):
        assert required in names, required
    assert any(n.startswith("linkeddata/emulator/data/") for n in names)


def test_installed_wheel_runs_a_bundled_query(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # dependencies come from the test environment; linkeddata itself only from the wheel
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"] + os.pathsep + sysconfig.get_paths()["platlib"]}
    code = (
        "import linkeddata, pathlib\n"
        "assert 'site-packages' in linkeddata.__file__, linkeddata.__file__\n"
        "from linkeddata.store import open_store\nfrom linkeddata.query import run_query, results_to_records\n"
        "from linkeddata.records import Record\n"
        "s = open_store(None)\n"
        "doc = {'@context': '/context.jsonld', '@graph': [{'@id': 'https://libris.kb.se/w1', '@type': 'Record',"
        " 'mainEntity': {'@id': 'https://libris.kb.se/w1#it'}}, {'@id': 'https://libris.kb.se/w1#it', '@type': 'Item',"
        " 'heldBy': {'@id': 'https://libris.kb.se/library/S'}, 'itemOf': {'@id': 'https://libris.kb.se/b1#it'}}]}\n"
        "s.load_records([Record('https://libris.kb.se/w1', doc)])\n"
        "print(results_to_records(run_query(s, 'holdings-by-library')))\n"
    )
    out = subprocess.run([str(python), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "'isil': 'SE-S'" in out.stdout and "'items': '1'" in out.stdout
    listed = subprocess.run([str(python), "-m", "linkeddata", "queries"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "holdings-by-library" in listed.stdout
