"""The README's Python example runs against the emulator and prints what the README shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from .conftest import TESTS

README = (TESTS.parent / "README.md").read_text("utf-8")


def test_python_example_prints_what_the_readme_shows(tmp_path):
    from linkeddata.emulator import Emulator

    section = README[README.index("## Python"):README.index("## Notebooks")]
    code, expected = re.findall(r"```(?:python)?\n(.*?)```", section, re.DOTALL)[:2]
    with Emulator() as emulator:  # its own: other tests write to the shared one
        env = {**os.environ, **emulator.env(), "LINKEDDATA_NO_CACHE": "1"}
        out = subprocess.run([sys.executable, "-c", code.replace("ld.make_session()", "ld.make_session(cache=False)")],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == expected.strip().splitlines()


def test_readme_names_the_two_setup_commands_and_ci_runs_the_second():
    commands = re.findall(r"^   (python3 -m venv .venv && .*)$", README, re.MULTILINE)
    assert len(commands) == 2 and commands[0].endswith("linkeddata demo")
    ci = (TESTS.parent / ".ci" / "run").read_text("utf-8")
    assert commands[1] in ci
