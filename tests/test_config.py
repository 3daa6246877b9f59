"""Service bases: option, env, derived from the Libris base, default; ``linkeddata config`` shows them."""

from __future__ import annotations

import re
import socket

import pytest
from click.testing import CliRunner

from linkeddata.config import effective_config, service_source, service_url
from linkeddata.errors import ConfigError

LIBRIS = "http://127.0.0.1:8700"


def test_oai_and_change_feed_derive_from_the_libris_base():
    env = {"LINKEDDATA_LIBRIS_URL": LIBRIS + "/"}
    assert service_url("oaipmh", env=env) == LIBRIS + "/api/oaipmh"
    assert service_source("emm", env=env) == (LIBRIS + "/api/emm", "derived from LINKEDDATA_LIBRIS_URL")
    assert service_url("xsearch", env=env) == "http://api.libris.kb.se/xsearch"  # another host: not derived


def test_own_variable_and_option_win_over_derivation():
    env = {"LINKEDDATA_LIBRIS_URL": LIBRIS, "LINKEDDATA_OAIPMH_URL": "http://127.0.0.1:9/oai"}
    assert service_source("oaipmh", env=env) == ("http://127.0.0.1:9/oai", "env LINKEDDATA_OAIPMH_URL")
    assert service_source("oaipmh", "http://127.0.0.1:10/o", env=env) == ("http://127.0.0.1:10/o", "option")
    assert service_source("oaipmh", env={}) == ("https://libris.kb.se/api/oaipmh", "default")
    with pytest.raises(ConfigError, match="LINKEDDATA_EMM_URL"):
        service_url("emm", env={"LINKEDDATA_EMM_URL": "ftp://x"})


def test_clients_of_the_libris_host_follow_the_libris_base(monkeypatch):
    from linkeddata.libris.changes import ChangeFeed
    from linkeddata.libris.oaipmh import OAIClient

    monkeypatch.delenv("LINKEDDATA_OAIPMH_URL", raising=False)
    monkeypatch.delenv("LINKEDDATA_EMM_URL", raising=False)
    monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", LIBRIS)
    assert OAIClient().base_url.startswith(LIBRIS + "/api/oaipmh")
    assert ChangeFeed().base_url.startswith(LIBRIS + "/api/emm")


def test_cli_config_prints_every_service_with_its_source(monkeypatch):
    from linkeddata.cli import cli

    for row in effective_config({}):
        monkeypatch.delenv(f"LINKEDDATA_{row['service'].upper()}_URL", raising=False)
    monkeypatch.setenv("LINKEDDATA_LIBRIS_URL", LIBRIS)
    monkeypatch.setenv("LINKEDDATA_ID_URL", "http://127.0.0.1:8701")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "derived from LINKEDDATA_LIBRIS_URL" in lines["oaipmh"] and LIBRIS + "/api/emm" in lines["emm"]
    assert "env LINKEDDATA_ID_URL" in lines["id"] and "default" in lines["bibdb"]
    assert "LINKEDDATA_MAX_BYTES_RECORD" in lines["record"]


@pytest.mark.parametrize("value", ["", "  "])
def test_a_variable_set_but_empty_is_an_error_not_the_default(value):
    message = "LINKEDDATA_LIBRIS_URL is set but empty: unset it or give an http(s) URL"
    with pytest.raises(ConfigError, match=re.escape(message)):
        service_url("libris", env={"LINKEDDATA_LIBRIS_URL": value})
    with pytest.raises(ConfigError, match=re.escape(message)):  # the derived services too
        service_url("emm", env={"LINKEDDATA_LIBRIS_URL": value})
    with pytest.raises(ConfigError, match="LINKEDDATA_BIBDB_URL is set but empty"):
        effective_config({"LINKEDDATA_BIBDB_URL": value})
    assert service_url("emm", env={"LINKEDDATA_LIBRIS_URL": value, "LINKEDDATA_EMM_URL": LIBRIS}) == LIBRIS
    assert service_url("libris", "http://127.0.0.1:9", env={"LINKEDDATA_LIBRIS_URL": value}) == "http://127.0.0.1:9"


@pytest.mark.parametrize("args, name", [(["config"], "LINKEDDATA_EMM_URL"),
                                        (["fetch", "k9dt4hbw6p1ncz8"], "LINKEDDATA_LIBRIS_URL"),
                                        (["libraries", "S"], "LINKEDDATA_BIBDB_URL"),
                                        (["sync", "--library", "S", "--store", "kg"], "LINKEDDATA_EMM_URL")])
def test_every_command_reports_an_empty_variable_in_one_line(monkeypatch, tmp_path, args, name):
    from linkeddata.cli import cli

    monkeypatch.chdir(tmp_path)
    for row in effective_config({}):  # nothing set but the empty one: no request could go anywhere real
        monkeypatch.setenv(f"LINKEDDATA_{row['service'].upper()}_URL", "http://127.0.0.1:9")
    monkeypatch.setenv(name, "")
    resolve = socket.getaddrinfo

    def loopback_only(host: str, *rest):  # had the empty variable meant the real service: no lookup
        if host not in ("127.0.0.1", "localhost"):
            raise OSError(f"test refused a lookup of {host}")
        return resolve(host, *rest)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    result = CliRunner().invoke(cli, ["--no-cache", *args])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output == f"Error: {name} is set but empty: unset it or give an http(s) URL\n"
    assert not (tmp_path / "kg").exists()  # reported before a store is made
