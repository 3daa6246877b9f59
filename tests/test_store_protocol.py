"""The Store protocol: both stores satisfy it, and their capability flags tell the truth."""

from __future__ import annotations

import inspect

import pytest

import linkeddata as ld
from linkeddata.remote import RemoteStore
from linkeddata.store import LocalStore
from linkeddata.stores import open_store
from linkeddata.store_protocol import Store, StoreCapabilities

MEMBERS = [name for name in dir(Store) if not name.startswith("_") or name in ("__len__", "__enter__", "__exit__")]
METHODS = [name for name in MEMBERS if inspect.isfunction(getattr(Store, name))]


@pytest.fixture(params=["local", "remote"])
def store(request):
    if request.param == "local":
        s = open_store(None)
    else:  # no request is made until it is used
        s = RemoteStore("http://127.0.0.1:9")
    yield s
    s.close()


def test_both_stores_are_stores(store):
    assert isinstance(store, Store)
    assert isinstance(store.capabilities, StoreCapabilities)
    assert ld.Store is Store and ld.RemoteStore is RemoteStore and ld.StoreCapabilities is StoreCapabilities


def test_other_objects_are_not_stores():
    import pyoxigraph as ox

    assert not isinstance(ox.Store(), Store)
    assert not isinstance("http://127.0.0.1:9", Store)


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("cls", [LocalStore, RemoteStore])
def test_signatures_accept_every_protocol_call(cls, name):
    """Every parameter the protocol names exists with the same kind, and is optional where it is."""
    wanted = inspect.signature(getattr(Store, name)).parameters
    actual = inspect.signature(getattr(cls, name)).parameters
    var_positional = any(p.kind is p.VAR_POSITIONAL for p in actual.values())
    for pname, param in wanted.items():
        if param.kind is param.VAR_POSITIONAL:
            assert var_positional, f"{cls.__name__}.{name} takes no *{pname}"
            continue
        assert pname in actual, f"{cls.__name__}.{name} has no parameter {pname}"
        assert actual[pname].kind is param.kind, f"{cls.__name__}.{name}({pname}) is {actual[pname].kind}"
        if param.default is not param.empty:
            assert actual[pname].default is not param.empty, f"{cls.__name__}.{name}({pname}) needs a default"
    extra = [p for n, p in actual.items() if n not in wanted and p.default is p.empty
             and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert not extra, f"{cls.__name__}.{name} requires parameters the protocol does not pass: {extra}"


def test_capability_flags_match_what_each_store_does(tmp_path):
    import pyoxigraph as ox

    local, remote = open_store(None), RemoteStore("http://127.0.0.1:9")
    assert not local.capabilities.remote and isinstance(local.inner, ox.Store)
    assert remote.capabilities.remote and not hasattr(remote, "inner")
    assert local.capabilities.optimize and callable(local.optimize)
    assert not remote.capabilities.optimize and remote.optimize() is None  # a no-op: nothing sent
    dump = tmp_path / "d.nq"
    dump.write_text('<http://example.org/s> <http://example.org/p> "o" <http://example.org/g> .\n', "utf-8")
    for store in (local, remote):  # a bulk loader answers with the quads added, its absence with None
        assert store.capabilities.bulk_load == (store._bulk_load(dump, ox.RdfFormat.N_QUADS) is not None)
    assert len(local) == 1
    assert remote.capabilities.atomic_batches and not local.capabilities.atomic_batches


def test_open_for_writing_tells_what_this_process_holds(tmp_path):
    from linkeddata.store import open_for_writing

    assert not open_for_writing(tmp_path / "kg")
    store = open_store(tmp_path / "kg")
    assert open_for_writing(tmp_path / "kg") and open_for_writing(str(tmp_path / "kg"))
    store.close()
    assert not open_for_writing(tmp_path / "kg")


def test_open_store_passes_any_store_through():
    remote = RemoteStore("http://127.0.0.1:9")
    local = open_store(None)
    assert open_store(remote) is remote and open_store(local) is local


def test_run_query_sends_remote_stores_their_own_query(monkeypatch):
    from linkeddata.query import run_query

    remote = RemoteStore("http://127.0.0.1:9")
    calls = []
    monkeypatch.setattr(remote, "remote_query", lambda text, params=None, union=True, name=None: calls.append((text, params, union)))
    run_query(remote, "holdings-by-library", {"isil": "SE-S"}, union=False)
    assert len(calls) == 1 and "SELECT" in calls[0][0] and calls[0][1:] == ({"isil": "SE-S"}, False)


def test_notebook_interop_takes_the_remote_path_by_capability(monkeypatch):
    from linkeddata.notebook.interop import from_rdflib, to_rdflib

    remote = RemoteStore("http://127.0.0.1:9")
    sent = []
    monkeypatch.setattr(remote, "append_quads", lambda quads: sent.extend(quads) or len(quads))
    monkeypatch.setattr(remote, "dump", lambda output, format=None: output.write(
        b'<http://example.org/s> <http://example.org/p> "o" <http://example.org/g> .\n'))
    dataset = to_rdflib(remote)
    assert len(dataset) == 1
    assert from_rdflib(dataset, remote) == 1 and [str(q.graph_name) for q in sent] == ["<http://example.org/g>"]


@pytest.mark.parametrize("where", ["ftp://x", "file:///tmp/kg", "sparql+http://h/q"])
def test_a_url_of_another_scheme_is_refused_not_made_a_folder(tmp_path, monkeypatch, where):
    from linkeddata.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="expected a directory path or an http\\(s\\):// SPARQL endpoint URL"):
        open_store(where)
    assert list(tmp_path.iterdir()) == []


def test_a_store_under_a_file_names_the_parent(tmp_path, monkeypatch):
    from linkeddata.errors import ConfigError
    from linkeddata.stores import store_location

    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    for where in ("./afile/sub", tmp_path / "afile" / "sub" / "deeper"):
        with pytest.raises(ConfigError, match="its parent .*afile is not a directory"):
            open_store(where)
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]
    assert str(store_location("kg/sub")) == "kg/sub" and store_location("HTTPS://h/q") == "HTTPS://h/q"
