"""Every example in every command's ``--help`` runs against the emulator, and help texts are whole
(issue 14)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from linkeddata.cli import cli

from .conftest import DATA

#: Examples not run here, and why (each must still be in a help text).
NOT_RUN = {
    "linkeddata serve --store ./kg": "serves until Ctrl-C (the README session runs it)",
    "linkeddata serve --store ./kg --bind 127.0.0.1:8000 --read-only": "serves until Ctrl-C (tests/test_serve.py)",
    "linkeddata emulator serve --port 8700 > env.sh &": "serves until Ctrl-C (the README session runs it)",
    "source env.sh": "a shell command (the README session runs it)",
}


def _commands(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def help_examples() -> list[tuple[str, str]]:
    """``(command path, example line)`` for every example line of every help text."""
    found = []
    for path, command in _commands(cli):
        match = re.search(r"Examples?:\n(.*)", command.help or "", re.DOTALL)
        for line in (match.group(1).splitlines() if match else []):
            if line.strip():
                found.append((" ".join(path), line.strip()))
    return found


def test_examples_are_listed_and_the_skips_are_current():
    lines = [line for _, line in help_examples()]
    assert len(lines) > 25
    assert set(NOT_RUN) <= set(lines), set(NOT_RUN) - set(lines)
    assert all(line.startswith(("linkeddata ", "echo ", "curl ")) or line in NOT_RUN for line in lines), lines


def test_every_help_example_runs_against_the_emulator(tmp_path, monkeypatch):
    from linkeddata.emulator import Emulator

    root = Path(__file__).resolve().parent.parent
    shutil.copy(DATA / "record-bib.jsonld", tmp_path / "record.jsonld")
    shutil.copytree(root / "linkeddata" / "emulator" / "data" / "vocab", tmp_path / "vocab")
    monkeypatch.chdir(tmp_path)
    failures = []
    with Emulator() as emu:  # its own: the examples create and delete records
        for key, value in emu.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("LINKEDDATA_CLIENT_ID", "test-cataloguer")
        monkeypatch.setenv("LINKEDDATA_CLIENT_SECRET", "cataloguer-secret")
        monkeypatch.setenv("LINKEDDATA_NO_CACHE", "1")
        runner = CliRunner()
        assert runner.invoke(cli, ["load", str(DATA / "record-hold.jsonld"), "--store", "seed", "-q"]).exit_code == 0
        assert runner.invoke(cli, ["dump", "--store", "seed", "-o", "dump.nq"]).exit_code == 0
        for path, line in help_examples():
            if line in NOT_RUN or line.startswith("curl "):
                continue
            stdin = None
            piped = re.fullmatch(r"echo '(.*)' \| (linkeddata .*)", line)
            if piped:
                stdin, line = piped.group(1) + "\n", piped.group(2)
            args = shlex.split(line, comments=True)[1:]
            result = runner.invoke(cli, args, input=stdin)
            if result.exit_code != 0:
                failures.append(f"{path or 'linkeddata'} --help: {line}\n  exit {result.exit_code}: "
                                f"{result.output.strip().splitlines()[-1:] or result.exception!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path, command", [pytest.param(p, c, id=" ".join(p) or "linkeddata")
                                           for p, c in _commands(cli)])
def test_short_help_is_not_cut_inside_a_sentence(path, command):
    short = command.get_short_help_str(limit=300)
    assert not re.search(r"\b(e\.g|i\.e|etc|cf)\.$", short), short
