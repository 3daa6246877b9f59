"""Counts and rates given on the command line are checked before any request: one line, exit 2."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from linkeddata.cli import cli
from linkeddata.errors import ConfigError, InvalidInputError

#: Options that take a count (at least 1) or a rate (0 means no limit), wherever they appear.
COUNTS = {"--batch-size", "--concurrency", "--max", "--page-size", "--size"}
RATES = {"--rate-limit"}


def _options(command: click.Command, path: str = "") -> list[tuple[str, click.Option]]:
    found = []
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += _options(sub, f"{path} {name}".strip())
    found += [(path, p) for p in command.params if isinstance(p, click.Option)]
    return found


def test_every_count_and_rate_option_has_a_range():
    for path, option in _options(cli):
        names = set(option.opts)
        if names & COUNTS:
            least = 0 if path.split(" ")[0] in ("emulator", "demo") and "--size" in names else 1  # corpus size: 0 = fixtures only
            assert isinstance(option.type, click.IntRange) and option.type.min is not None, (path, option.opts)
            assert option.type.min >= least, (path, option.opts)
        if names & RATES:
            assert isinstance(option.type, click.FloatRange) and option.type.min == 0, (path, option.opts)


@pytest.mark.parametrize("args", [
    ["sync", "--library", "Umu", "--rate-limit", "-1"],
    ["sync", "--library", "Umu", "--concurrency", "0"],
    ["harvest", "oai", "--set", "bib", "--rate-limit", "-1"],
    ["harvest", "oai", "--set", "bib", "--batch-size", "-3"],
    ["harvest", "find", "*", "--batch-size", "0"],
    ["harvest", "find", "*", "--concurrency", "0"],
    ["harvest", "changes", "--concurrency", "-1"],
])
def test_bad_counts_and_rates_are_one_line_before_any_request(emu_env, tmp_path, args):
    before = len(emu_env.request_log)
    result = CliRunner().invoke(cli, ["--no-cache", *args, "--store", str(tmp_path / "kg")])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert len(emu_env.request_log) == before and not (tmp_path / "kg").exists()


def test_the_library_checks_them_too(tmp_path):
    from linkeddata.harvest import harvest_changes, harvest_find, harvest_oai
    from linkeddata.http import make_session
    from linkeddata.sync import sync

    with pytest.raises(ConfigError, match="rate limit must be a positive number"):
        make_session(rate_limit=-1)
    with pytest.raises(InvalidInputError, match="batch size must be at least 1, got 0"):
        harvest_oai(tmp_path / "a", set="bib", batch_size=0)
    with pytest.raises(InvalidInputError, match="concurrency must be at least 1, got 0"):
        harvest_find(tmp_path / "b", {"q": "*"}, concurrency=0)
    with pytest.raises(InvalidInputError, match="batch size must be at least 1, got -1"):
        harvest_changes(tmp_path / "c", batch_size=-1)
    with pytest.raises(InvalidInputError, match="concurrency must be at least 1, got 0"):
        sync(tmp_path / "d", ["all"], concurrency=0)
    from linkeddata.harvest_files import harvest_oai_files

    with pytest.raises(InvalidInputError, match="batch size must be at least 1, got 0"):
        harvest_oai_files(tmp_path / "e", batch_size=0)
    assert not any((tmp_path / n).exists() for n in "abcde")
