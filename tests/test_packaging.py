"""The built wheel ships its assets and works outside the source tree."""

from __future__ import annotations

import os
import re
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


def test_messages_name_only_extras_that_exist():
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"])
    named = {}
    for path in [*(ROOT / "linkeddata").rglob("*.py"), ROOT / "README.md", *(ROOT / "notebooks").glob("*.ipynb")]:
        for match in re.finditer(r"linkeddata\[([\w,-]+)\]", path.read_text("utf-8")):
            for extra in match[1].split(","):
                named.setdefault(extra, str(path.relative_to(ROOT)))
    assert named, "no message names an extra: the pattern is wrong"
    unknown = {extra: where for extra, where in named.items() if extra not in extras}
    assert not unknown, f"extras that pyproject.toml does not define: {unknown}"


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with linkeddata from the wheel only: (its python, an environment to run it in).

    The dependencies come from the test environment through a ``.pth`` file, which puts them
    AFTER the venv's own site-packages, so linkeddata (code and metadata, entry points
    included) is the wheel's.
    """
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(purelib, "test-dependencies.pth").write_text("".join(f"{d}\n" for d in deps), "utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    return python, env


def test_installed_wheel_runs_a_bundled_query(installed, tmp_path):
    python, env = installed
    code = (
        "import linkeddata, pathlib, sys\n"
        "assert linkeddata.__file__.startswith(sys.prefix), linkeddata.__file__\n"
        "from linkeddata.stores import open_store\nfrom linkeddata.query import run_query, results_to_records\n"
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


USER_TEST = """
import os

import pytest

from linkeddata.errors import HTTPError
from linkeddata.libris.read import fetch_record
from linkeddata.testing import Emulator


def test_fixtures_reach_the_emulator(ld_emulator, ld_session, ld_store):
    assert isinstance(ld_emulator, Emulator)
    assert set(ld_emulator.services) == {"libris"}
    assert os.environ["LINKEDDATA_LIBRIS_URL"] == ld_emulator.urls["libris"]
    record = fetch_record("k9dt4hbw6p1ncz8", session=ld_session)
    assert record.iri == "https://libris.kb.se/k9dt4hbw6p1ncz8"
    stats = ld_store.load_records([record])
    assert stats.records == 1 and len(ld_store) > 0
    assert ld_emulator.requests_to("libris")


def test_a_fault_fails_the_request(ld_emulator, ld_session):
    ld_emulator.faults.add("status", service="libris", status=404, times=None)
    with pytest.raises(HTTPError):
        fetch_record("k9dt4hbw6p1ncz8", session=ld_session)


def test_faults_end_with_their_test(ld_emulator, ld_session, ld_store):
    assert not ld_emulator.faults.rules
    assert len(ld_store) == 0
    assert fetch_record("k9dt4hbw6p1ncz8", session=ld_session).data
"""

USER_CONFTEST = """
import pytest


@pytest.fixture(scope="session")
def ld_emulator_options():
    return {"services": ["libris"]}
"""


def test_installed_wheel_gives_users_the_pytest_fixtures(installed, tmp_path):
    """The README's example and a few more checks, as a user's own suite next to the installed wheel."""
    python, env = installed
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("## Testing your own code"):]
    (tmp_path / "test_readme_example.py").write_text(re.search(r"```python\n(.*?)```", section, re.DOTALL)[1], "utf-8")
    (tmp_path / "test_user.py").write_text(USER_TEST, "utf-8")
    (tmp_path / "conftest.py").write_text(USER_CONFTEST, "utf-8")
    out = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:timeout",
                          "--trace-config", "test_readme_example.py", "test_user.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "5 passed" in out.stdout
    # the fixtures came from the wheel's entry point, not from this checkout
    plugin = next(line for line in out.stdout.splitlines() if "linkeddata.testing.pytest_plugin" in line)
    assert str(python.parent.parent) in plugin, plugin
