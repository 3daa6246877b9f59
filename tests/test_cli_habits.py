"""Command-line habits across commands: - for stdin/stdout, one-line output errors, format names,
one meaning per short option (issue 14)."""

from __future__ import annotations

import click
from click.testing import CliRunner

from linkeddata.cli import cli


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--no-cache", *args], input=input)


def test_fetch_to_dash_is_stdout_and_a_missing_folder_is_one_line(emu_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("fetch", "k9dt4hbw6p1ncz8", "--format", "turtle", "--no-embellished", "-o", "-")
    assert result.exit_code == 0 and "<https://libris.kb.se/k9dt4hbw6p1ncz8#it> a :Instance" in result.output
    assert not (tmp_path / "-").exists()
    result = run("fetch", "k9dt4hbw6p1ncz8", "-o", str(tmp_path / "missing" / "k9.jsonld"))
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {tmp_path / 'missing' / 'k9.jsonld'}: No such file or directory\n"


def test_map_output_errors_are_one_line(emu_env, tmp_path):
    result = run("map", "k9dt4hbw6p1ncz8", "--profile", "sdo", "-o", str(tmp_path / "missing" / "x.jsonld"))
    assert result.exit_code == 1 and result.output.startswith("Error: cannot write "), result.output


def _options(command: click.Command, path: str = "") -> list[tuple[str, str, click.Parameter]]:
    found = []
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += _options(sub, f"{path} {name}".strip())
    for param in command.params:
        for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
            found.append((path, opt, param))
    return found


def test_one_meaning_per_short_option_and_per_format_name():
    meanings: dict[str, set[str]] = {}
    for path, opt, param in _options(cli):
        if len(opt) == 2:  # a short option: -p, -o …
            meanings.setdefault(opt, set()).add(param.name or "")
    assert {k: v for k, v in meanings.items() if len(v) > 1} == {}
    assert meanings["-p"] == {"params"} and meanings["-o"] == {"output"}
    for path, opt, param in _options(cli):  # every --format takes the same spellings
        if opt == "--format" and isinstance(param.type, click.Choice) and "ttl" in param.type.choices:
            assert param.type.convert("turtle", param, None) == "ttl", path


def test_fetch_profile_has_no_short_option_that_means_param_elsewhere(emu_env):
    result = run("fetch", "k9dt4hbw6p1ncz8", "-p", "sdo")
    assert result.exit_code == 2 and "No such option '-p'" in result.output


def test_map_and_acquire_read_standard_input(emu_env, tmp_path):
    from .conftest import DATA

    doc = (DATA / "record-bib.jsonld").read_text("utf-8")
    by_file = run("map", str(DATA / "record-bib.jsonld"), "--profile", "sdo")
    from_stdin = run("map", "-", "--profile", "sdo", input=doc)
    assert from_stdin.exit_code == 0 and from_stdin.output == by_file.output
    batch = (DATA / "supplier-batch.xml").read_text("utf-8")
    result = run("catalogue", "acquire", "-", "--library", "Umu", "-q", input=batch)
    assert result.exit_code == 0 and "DRY RUN: 2 matched, 1 new, 1 skipped" in result.output


def test_create_reads_standard_input_and_bad_json_is_one_line(emu_env):
    result = run("catalogue", "create", "-", input="not json")
    assert result.exit_code == 1 and result.output.startswith("Error: standard input: not a JSON-LD document")


def test_any_os_error_is_one_line_and_exit_1():
    from linkeddata.cli.common import LinkedDataGroup

    @click.group(cls=LinkedDataGroup)
    def group() -> None:
        pass

    @group.command()
    def denied() -> None:
        raise PermissionError(13, "Permission denied", "/etc/shadow")

    result = CliRunner().invoke(group, ["denied"])
    assert result.exit_code == 1 and result.output == "Error: /etc/shadow: Permission denied\n"


def test_store_arguments_that_cannot_be_a_store_are_one_line_before_anything_is_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINKEDDATA_BIBDB_URL", "http://127.0.0.1:9")  # were a request made, it goes nowhere
    (tmp_path / "afile").write_text("x")
    (tmp_path / "r.jsonld").write_text("{}")
    expected = {
        ("load", "r.jsonld", "--store", "ftp://x"):
            "Error: store 'ftp://x': ftp:// is not supported; "
            "expected a directory path or an http(s):// SPARQL endpoint URL\n",
        ("load", "r.jsonld", "--store", "./afile/sub"): "Error: store afile/sub: its parent afile is not a directory\n",
        ("query", "instances", "--store", "afile/sub"): "Error: store afile/sub: its parent afile is not a directory\n",
        ("libraries", "S", "--store", "afile/sub"): "Error: store afile/sub: its parent afile is not a directory\n",
    }
    for args, message in expected.items():
        result = run(*args)
        assert (result.exit_code, result.output) == (1, message), args
        assert isinstance(result.exception, SystemExit)
    monkeypatch.setenv("LINKEDDATA_STORE", "ftp://y")
    result = run("load", "r.jsonld")
    assert result.exit_code == 1 and result.output.startswith("Error: store 'ftp://y': ftp:// is not supported")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "r.jsonld"]
