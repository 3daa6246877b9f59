"""``mypy --strict`` (configured in pyproject.toml) passes on the modules listed here.

The list holds every module that passes today; add a module once it passes, until the list
is the whole package (issue 12). A module that fails: fix the types it reports (removing it
from the list is the last resort, and needs a reason in the commit).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]

STRICT_MODULES = [
    "linkeddata", "linkeddata.__about__", "linkeddata.__main__", "linkeddata.errors", "linkeddata.config",
    "linkeddata.records", "linkeddata.readers", "linkeddata.store", "linkeddata.resources", "linkeddata.tables", "linkeddata.checkpoints",
    "linkeddata.libris", "linkeddata.libris.read", "linkeddata.libris.changes", "linkeddata.libris.marc",
    "linkeddata.libris.xsearch", "linkeddata.organisations", "linkeddata.organisations.bibdb",
    "linkeddata.organisations.isil", "linkeddata.store_protocol", "linkeddata.sources", "linkeddata.harvest",
    "linkeddata.serve", "linkeddata.cli", "linkeddata.cli.core", "linkeddata.cli.emulator", "linkeddata.cli.fetch_cmd",
    "linkeddata.cli.serve", "linkeddata.cli.services", "linkeddata.cli.common", "linkeddata.cli.write",
    "linkeddata.query", "linkeddata.query_run", "linkeddata.dump", "linkeddata.stores", "linkeddata.formats",
    "linkeddata.demo", "linkeddata.testing", "linkeddata.testing.pytest_plugin",
    "linkeddata.emulator", "linkeddata.emulator.bibdb", "linkeddata.emulator.isil", "linkeddata.emulator.libris",
    "linkeddata.emulator.login", "linkeddata.emulator.xsearch", "linkeddata.progress", "linkeddata.notebook",
    "linkeddata.notebook.frames", "linkeddata.notebook.maps", "linkeddata.notebook.magics", "linkeddata.notebook.session",
    "linkeddata.notebook.interop",
    "linkeddata.sync", "linkeddata.build", "linkeddata.buildconfig", "linkeddata.libris.dumps", "linkeddata.libris.find",
    "linkeddata.cli.sync", "linkeddata.cli.harvest", "linkeddata.emulator.emm", "linkeddata.emulator.corpus",
    "linkeddata.http", "linkeddata.libris.oaipmh",
]


def test_listed_modules_pass_mypy_strict(tmp_path):
    args = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir",
            str(tmp_path / "cache"), "--no-error-summary", "--hide-error-context"]
    for module in STRICT_MODULES:
        args += ["-m", module]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_the_list_names_real_modules():
    for module in STRICT_MODULES:
        path = ROOT / module.replace(".", "/")
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), module
