"""Service bases: option, env, derived from the Libris base, default; ``linkeddata config`` shows them."""

from __future__ import annotations

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
