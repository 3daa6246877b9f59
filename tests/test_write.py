"""The Libris write API and cataloguing endpoints against the emulator: every status-code path."""

from __future__ import annotations

import pytest

from linkeddata.auth import LibrisAuth
from linkeddata.emulator import Emulator
from linkeddata.errors import AuthError, ConflictError, GoneError, HTTPError, InvalidInputError, NotFoundError
from linkeddata.http import make_session
from linkeddata.libris import write

BIB = "https://libris.kb.se/c8pz1vn3km6tf4h"  # held by Sthm only
BIB_HELD_BY_UMU = "https://libris.kb.se/f5nc8rlm2x0vq7s"


def _auth(emu, session, client="test-holdings", secret="holdings-secret", sigel="Umu"):
    return LibrisAuth(client, secret, token_url=emu.url("login") + "/oauth/token", session=session, sigel=sigel)


@pytest.fixture
def env():
    with Emulator(services=["libris", "login"]) as emu, emu.environment():
        session = make_session(cache=False, rate_limit=None)
        yield emu, session, _auth(emu, session)


def test_create_holding_then_duplicate(env):
    emu, session, auth = env
    doc = write.holding_document(BIB, "Umu", shelf_mark="Ueb", location="Magasin")
    result = write.create(doc, auth=auth, session=session)
    assert result.status == 201 and result.iri.startswith("https://libris.kb.se/") and result.etag
    assert write.find_holdings(BIB, "Umu", session=session) == [result.iri]
    stored = emu.corpus.get(result.iri)["@graph"][1]
    assert stored["heldBy"] == {"@id": "https://libris.kb.se/library/Umu"}
    posted = [r for r in emu.requests_to("libris") if r.method == "POST"][0]
    assert posted.headers["xl-active-sigel"] == "Umu"
    assert posted.headers["content-type"].startswith("application/ld+json")
    with pytest.raises(ConflictError, match="duplicate holding"):
        write.create(doc, auth=auth, session=session)


def test_level_one_cannot_create_bib_and_foreign_sigel_is_refused(env):
    emu, session, auth = env
    bib = {"@graph": [
        {"@id": "https://id.kb.se/TEMPID", "@type": "Record", "mainEntity": {"@id": "https://id.kb.se/TEMPID#it"}},
        {"@id": "https://id.kb.se/TEMPID#it", "@type": "Print", "hasTitle": [{"@type": "Title", "mainTitle": "Prov"}]},
    ]}
    with pytest.raises(AuthError, match="403"):
        write.create(bib, auth=auth, session=session)
    with pytest.raises(AuthError, match="403"):
        write.create(write.holding_document(BIB, "S"), auth=auth, session=session, sigel="S")
    cataloguer = _auth(emu, session, "test-cataloguer", "cataloguer-secret", "S")
    created = write.create(bib, auth=cataloguer, session=session)
    assert emu.corpus.kind(created.iri) == "bib"


def test_local_validation_sends_nothing(env):
    emu, session, auth = env
    doc = write.holding_document(BIB, "Umu")
    del doc["@graph"][1]["heldBy"]
    with pytest.raises(InvalidInputError, match="heldBy"):
        write.create(doc, auth=auth, session=session)
    with pytest.raises(InvalidInputError, match="Record"):
        write.create({"@graph": [{"@type": "Item"}]}, auth=auth, session=session)
    assert not [r for r in emu.requests_to("libris") if r.method == "POST"]


def test_server_refuses_body_without_temporary_ids(env):
    emu, session, auth = env
    doc = write.holding_document(BIB, "Umu")
    doc["@graph"][0]["mainEntity"] = {"@id": "https://id.kb.se/OTHER#it"}
    with pytest.raises(HTTPError, match="400.*mainEntity"):
        write.create(doc, auth=auth, session=session, validate=False)
    untyped = write.holding_document(BIB, "Umu")
    del untyped["@graph"][1]["@type"]
    with pytest.raises(HTTPError, match=r"new record \(\?\)"):  # unvalidated: the server judges, no IndexError
        write.create(untyped, auth=auth, session=session, validate=False)


def test_update_with_stale_etag_412_and_409(env):
    emu, session, auth = env
    iri = write.create(write.holding_document(BIB, "Umu"), auth=auth, session=session).iri
    doc, etag = write.fetch_for_update(iri, session=session)
    doc["@graph"][1]["hasComponent"] = [{"@type": "Item", "heldBy": {"@id": "https://libris.kb.se/library/Umu"},
                                         "shelfMark": {"@type": "ShelfMark", "label": ["Hb"]}}]
    first = write.update(iri, doc, etag, auth=auth, session=session)
    assert first.status == 204 and first.etag != etag
    with pytest.raises(ConflictError, match="412.*re-fetch") as info:
        write.update(iri, doc, etag, auth=auth, session=session)
    assert info.value.status == 412
    emu.options["conflict_status"] = 409
    with pytest.raises(ConflictError, match="409"):
        write.update(iri, doc, etag, auth=auth, session=session)
    with pytest.raises(InvalidInputError, match="ETag"):
        write.update(iri, doc, "", auth=auth, session=session)


def test_update_refusals(env):
    emu, session, auth = env
    iri = write.create(write.holding_document(BIB, "Umu"), auth=auth, session=session).iri
    doc, etag = write.fetch_for_update(iri, session=session)
    moved = {"@graph": [dict(doc["@graph"][0], **{"@id": "https://libris.kb.se/zzzzzzzzzzzzzzz"})] + doc["@graph"][1:]}
    moved["@graph"][0]["mainEntity"] = {"@id": doc["@graph"][1]["@id"]}
    with pytest.raises(HTTPError, match="Record ID was modified"):
        write.update(iri, moved, etag, auth=auth, session=session)
    with pytest.raises(NotFoundError):
        write.update("zzzzzzzzzzzzzzz", doc, etag, auth=auth, session=session)
    sthm_holding = "https://libris.kb.se/cz68qhgjsvhtfkp"  # held by S, not one of our sigels
    other, other_etag = write.fetch_for_update(sthm_holding, session=session)
    with pytest.raises(AuthError, match="403"):
        write.update(sthm_holding, other, other_etag, auth=auth, session=session)


def test_safe_update_resolves_concurrent_edit(env):
    emu, session, auth = env
    iri = write.create(write.holding_document(BIB, "Umu"), auth=auth, session=session).iri
    other_session = make_session(cache=False, rate_limit=None)
    calls = []

    def change(doc):
        calls.append(1)
        if len(calls) == 1:  # someone else saves in between our GET and our PUT
            theirs, their_etag = write.fetch_for_update(iri, session=other_session)
            theirs["@graph"][1]["physicalLocation"] = ["Hylla 3"]
            write.update(iri, theirs, their_etag, auth=auth, session=other_session)
        doc["@graph"][1]["cataloguersNote"] = ["kontrollerad"]
        return doc

    result = write.safe_update(iri, change, auth=auth, session=session)
    assert result.status == 204
    assert len(calls) == 2
    item = emu.corpus.get(iri)["@graph"][1]
    assert item["physicalLocation"] == ["Hylla 3"] and item["cataloguersNote"] == ["kontrollerad"]
    statuses = [r.status for r in emu.requests_to("libris") if r.method == "PUT"]
    assert statuses == [204, 412, 204]


def test_safe_update_gives_up(env):
    emu, session, auth = env
    iri = write.create(write.holding_document(BIB, "Umu"), auth=auth, session=session).iri

    def always_conflicting(doc):
        theirs, their_etag = write.fetch_for_update(iri, session=session)
        theirs["@graph"][1]["physicalLocation"] = [f"Hylla {len(emu.corpus.changes)}"]
        write.update(iri, theirs, their_etag, auth=auth, session=session)
        return doc

    with pytest.raises(ConflictError, match="after 2 attempts"):
        write.safe_update(iri, always_conflicting, retries=2, auth=auth, session=session)


def test_delete_paths(env):
    emu, session, auth = env
    cataloguer = _auth(emu, session, "test-cataloguer", "cataloguer-secret", "S")
    with pytest.raises(HTTPError, match="other records link to it") as info:
        write.delete(BIB_HELD_BY_UMU, auth=cataloguer, session=session)
    assert info.value.status == 403
    iri = write.create(write.holding_document(BIB, "Umu"), auth=auth, session=session).iri
    write.delete(iri, auth=auth, session=session)
    with pytest.raises(GoneError):
        write.delete(iri, auth=auth, session=session)
    with pytest.raises(NotFoundError):
        write.delete("zzzzzzzzzzzzzzz", auth=auth, session=session)
    assert write.find_holdings(BIB, "Umu", session=session) == []


def test_bad_token_is_auth_error(env):
    emu, session, auth = env
    auth.ensure_token()
    auth._token["access_token"] = "forged"
    with pytest.raises(AuthError, match="Bad access token"):
        write.delete("zzzzzzzzzzzzzzz", auth=auth, session=session)


def test_findhold_dependencies_compile_and_convert(env):
    emu, session, auth = env
    assert write.find_holdings("http://libris.kb.se/bib/10564432", "Umu", session=session) == [
        "https://libris.kb.se/l7s4v1qjxp3qmfh"]
    with pytest.raises(HTTPError, match="400"):
        write.find_holdings("https://libris.kb.se/l7s4v1qjxp3qmfh", "Umu", session=session)
    holders = write.dependencies(BIB_HELD_BY_UMU, relation="itemOf", reverse=True, session=session)
    assert "https://libris.kb.se/l7s4v1qjxp3qmfh" in holders
    assert write.dependencies("l7s4v1qjxp3qmfh", session=session) == [BIB_HELD_BY_UMU]
    xml = write.compile_marc(BIB_HELD_BY_UMU, library="Umu", format="marcxml", session=session)
    assert b'tag="852"' in xml and b"Umu" in xml
    iso = write.compile_marc(BIB_HELD_BY_UMU, session=session)
    assert iso[5:6] in b"ncd" and iso.endswith(b"\x1d") and b"852" not in iso[:200]
    marc_json = write.convert_to_marc(emu.corpus.get(BIB), session=session)
    assert marc_json["leader"] and {"001": "c8pz1vn3km6tf4h"} in marc_json["fields"]


def test_remote_search(env):
    emu, session, auth = env
    result = write.remote_search("nordlys", databases=["BIBSYS", "LC"], auth=auth, session=session)
    assert result["totalResults"] == {"BIBSYS": 1, "LC": 0}
    assert result["items"][0]["data"]["@graph"][1]["hasTitle"][0]["mainTitle"] == "Nordlys over Tromsø"
    with pytest.raises(InvalidInputError, match="Unknown database"):
        write.remote_search("x", databases="NOPE", auth=auth, session=session)
    names = [d["database"] for d in write.remote_databases(auth=auth, session=session)]
    assert "LC" in names


def test_record_ids_in_every_form_the_read_api_takes(env):
    emu, session, auth = env
    assert write.record_iri("http://libris.kb.se/c8pz1vn3km6tf4h#it") == BIB
    assert write.record_iri("https://libris.kb.se/c8pz1vn3km6tf4h/data.jsonld") == BIB
    doc, etag = write.fetch_for_update("http://libris.kb.se/c8pz1vn3km6tf4h", session=session)
    assert doc["@graph"][0]["@id"] == BIB and etag
    with pytest.raises(InvalidInputError):
        write.record_iri("Not An Id")
