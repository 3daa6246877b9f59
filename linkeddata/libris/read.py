"""Fetch one Libris record in the representation you ask for.

The record API negotiates the media type from ``Accept`` (or a ``/data.<ext>``
extension) and the vocabulary from a *profile* (``Accept-Profile`` or ``?profile=``).
:func:`fetch_record` sends a q-weighted ``Accept`` (the wanted type first, other RDF
types lower), follows ``sameAs``/merge redirects, checks what came back and returns
a :class:`~linkeddata.records.Record` with the record's canonical IRI
(``https://libris.kb.se/<id>``, never the configured base URL)::

    from linkeddata.libris.read import fetch_record

    rec = fetch_record("f5nc8rlm2x0vq7s", format="ttl", profile="sdo")
    rec.iri, rec.media_type, rec.etag       # canonical IRI, 'text/turtle', '"…"'

>>> record_iri("https://libris.kb.se/f5nc8rlm2x0vq7s#it")
'https://libris.kb.se/f5nc8rlm2x0vq7s'
>>> build_accept("text/turtle")
'text/turtle, application/trig;q=0.9, application/ld+json;q=0.8, application/rdf+xml;q=0.7, application/json;q=0.6'
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from ..config import KBV_PROFILE, SERVICES, service_url, to_canonical_iri
from ..errors import BadResponseError, InvalidInputError, NegotiationError, ParseError
from ..http import make_session, request
from ..records import Record

log = logging.getLogger(__name__)

#: Format names → the media type asked for.
FORMATS: dict[str, str] = {
    "jsonld": "application/ld+json",
    "json": "application/json",
    "ttl": "text/turtle",
    "trig": "application/trig",
    "rdf": "application/rdf+xml",
}
#: Format names → the ``/data.<ext>`` extension.
EXTENSIONS: dict[str, str] = {"jsonld": "jsonld", "json": "json", "ttl": "ttl", "trig": "trig", "rdf": "rdf"}
#: Fallback order of the RDF media types in ``Accept``.
_ACCEPT_ORDER = ("text/turtle", "application/trig", "application/ld+json", "application/rdf+xml", "application/json")
_JSON_TYPES = ("application/ld+json", "application/json")
LENSES = ("chip", "card", "none")
_LIBRIS = SERVICES["libris"]
_LEGACY = re.compile(r"https?://libris\.kb\.se/(?:resource/)?(?:bib|auth|hold)/\d+")
_SHORT_ID = re.compile(r"[0-9a-z]{1,32}")
_DATA_SUFFIX = re.compile(r"/data(?:-view)?(?:\.\w+)?$")


def record_iri(id_or_iri: str) -> str:
    """The canonical record IRI of a short id, record IRI or thing IRI (``#it``, ``#work``).

    Legacy ``http://libris.kb.se/bib/<n>`` IRIs and other IRIs (id.kb.se terms) are
    returned unchanged: only the server knows which record they belong to.

    >>> record_iri("f5nc8rlm2x0vq7s")
    'https://libris.kb.se/f5nc8rlm2x0vq7s'
    >>> record_iri("http://libris.kb.se/bib/10564432")
    'http://libris.kb.se/bib/10564432'
    """
    value = (id_or_iri or "").strip()
    if not value:
        raise InvalidInputError("empty record id")
    if _LEGACY.fullmatch(value):
        return value
    if "://" not in value:
        if not _SHORT_ID.fullmatch(value):
            raise InvalidInputError(f"not a Libris record id or IRI: {id_or_iri!r}")
        return f"{_LIBRIS}/{value}"
    if re.search(r'[\s"<>{}|\\^`]', value):  # never sent: the URL would be another one, or none
        raise InvalidInputError(f"not a valid record IRI (spaces, quotes and <>{{}}|\\^` are not allowed): {id_or_iri!r}")
    value = to_canonical_iri(value.split("#", 1)[0])
    if value.startswith("http://libris.kb.se/"):
        value = "https://" + value[len("http://"):]
    if value.startswith(_LIBRIS + "/"):
        value = _DATA_SUFFIX.sub("", value.split("?", 1)[0])
    return value


def build_accept(media_type: str) -> str:
    """A q-weighted ``Accept``: ``media_type`` first, then the other RDF types lower."""
    others = [m for m in _ACCEPT_ORDER if m != media_type]
    parts = [media_type] + [f"{m};q={0.9 - 0.1 * i:.1f}" for i, m in enumerate(others)]
    return ", ".join(parts)


def resolve_profile(name_or_iri: str) -> str:
    """A profile name (``sdo``, ``bibo``, ``loc``) or IRI → the profile IRI (see :mod:`linkeddata.profiles`)."""
    from ..profiles import resolve_profile as resolve

    return resolve(name_or_iri)


def _request_url(iri: str, base: str) -> str:
    if iri.startswith(_LIBRIS + "/"):
        return base + iri[len(_LIBRIS):]
    if iri.startswith(SERVICES["id"] + "/"):
        from ..config import to_request_url

        return to_request_url(iri)
    return f"{base}/{iri}"  # legacy or foreign IRI written into the path; the server resolves it


def fetch_record(
    id_or_iri: str,
    *,
    format: str = "jsonld",  # noqa: A002
    profile: str | None = None,
    profile_via: str = "header",
    lens: str | None = None,
    embellished: bool | None = None,
    framed: bool | None = None,
    use_extension: bool = False,
    strict: bool = True,
    session: requests.Session | None = None,
    base_url: str | None = None,
    if_none_match: str | None = None,
) -> Record:
    """Fetch one record.

    :param id_or_iri: short id, record IRI, thing IRI (``…#it``) or a legacy
        ``http://libris.kb.se/bib/<n>`` IRI (followed through the server's 302).
    :param format: one of :data:`FORMATS` (``jsonld``, ``json``, ``ttl``, ``trig``, ``rdf``).
    :param profile: ``sdo``, ``bibo``, ``loc`` or a target profile IRI; sent as
        ``Accept-Profile: <iri>`` (``profile_via="header"``) or ``?profile=`` (``"query"``).
    :param lens: ``chip``, ``card`` or ``none``; ``embellished``/``framed``: ``None``
        leaves the server default (embellished; framed only for ``json``).
    :param use_extension: ask for ``/data.<ext>`` instead of negotiating with ``Accept``.
    :param strict: raise :class:`NegotiationError` when another RDF type comes back;
        with ``strict=False`` accept it (with a warning). HTML always fails.
    :param if_none_match: an ETag; when it still matches the server answers 304 and the
        returned Record has ``data=None``.
    :returns: a Record: ``data`` is a dict for JSON types, else bytes; ``etag`` is the
        ``ETag`` header as sent (quoted); ``profile`` is the applied target profile or ``None``.
    :raises NotFoundError: 404; :raises GoneError: 410 (deleted);
        :raises NegotiationError: HTML or an unexpected media type came back.
    """
    if format not in FORMATS:
        raise InvalidInputError(f"unknown format {format!r}; one of {', '.join(FORMATS)}")
    if profile_via not in ("header", "query"):
        raise InvalidInputError(f"profile_via must be 'header' or 'query', not {profile_via!r}")
    if lens is not None and lens.lower() not in LENSES:
        raise InvalidInputError(f"unknown lens {lens!r}; one of {', '.join(LENSES)}")
    wanted = FORMATS[format]
    iri = record_iri(id_or_iri)
    base = service_url("libris", base_url)
    url = _request_url(iri, base)
    if use_extension:
        url += f"/data.{EXTENSIONS[format]}"
    params: dict[str, str] = {}
    headers = {"Accept": build_accept(wanted)}
    profile_iri = resolve_profile(profile) if profile else None
    if profile_iri:
        if profile_via == "query":
            params["profile"] = profile_iri
        else:
            headers["Accept-Profile"] = f"<{profile_iri}>"
    if lens is not None:
        params["lens"] = lens.lower()
    if embellished is not None:
        params["embellished"] = str(embellished).lower()
    if framed is not None:
        params["framed"] = str(framed).lower()
    if if_none_match:
        headers["If-None-Match"] = if_none_match
    own_session = session is None
    session = session or make_session(purpose="record")
    what = f"record {id_or_iri} ({url})"
    try:
        response = request(session, "GET", url, ok=(200, 304), what=what, kind="record",
                           params=params, headers=headers, allow_redirects=True)
        problem = _mismatch(response, params, profile_iri, embellished)
        if problem:
            # a redirect or a proxy lost part of the question: ask the final URL again, explicitly
            log.warning("%s: %s; asking again", response.url, problem)
            again = urlsplit(response.url)._replace(query="", fragment="").geturl()
            response = request(session, "GET", again, ok=(200, 304), what=what, kind="record",
                               params=params, headers=headers, allow_redirects=True)
            problem = _mismatch(response, params, profile_iri, embellished)
            if problem:
                raise NegotiationError(f"{response.url}: {problem} (asked twice)", url=response.url,
                                       status=response.status_code)
        return _to_record(response, iri, wanted, profile_iri, strict)
    finally:
        if own_session:
            session.close()


def _mismatch(response: requests.Response, params: dict[str, str], profile_iri: str | None,
              embellished: bool | None) -> str | None:
    """Why the answer is not what was asked (view parameters, Content-Location, embellishment), or ``None``.

    A profile the server did not apply is not a mismatch: ``Record.profile`` reports
    the applied one (from ``Content-Profile``) and a warning is logged.
    """
    if response.status_code == 304:
        return None
    got = dict(parse_qsl(urlsplit(response.url).query, keep_blank_values=True))
    lost = sorted(k for k, v in params.items() if got.get(k) != v)
    if lost:
        return f"the answer's URL lacks {', '.join(f'{k}={params[k]}' for k in lost)} that was asked"
    location = response.headers.get("Content-Location")
    if location:
        shown = dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
        for key in ("lens", "profile"):
            asked = params.get(key) if key != "profile" else profile_iri
            if key == "lens" and asked == "none":
                asked = None
            if shown.get(key) and shown.get(key) != asked:
                return f"Content-Location {location} is another view than the one asked ({key}={asked})"
    etag = (response.headers.get("ETag") or "").strip('W/"')
    if embellished is False and ":" in etag:
        return "asked for the record as stored (embellished=false), got an embellished one (ETag)"
    return None


def _to_record(response: requests.Response, requested: str, wanted: str, profile_iri: str | None, strict: bool) -> Record:
    url = response.url
    canonical = _canonical_of(response, requested)
    etag = response.headers.get("ETag")
    if response.status_code == 304:
        return Record(iri=canonical, data=None, media_type=wanted, etag=etag, source=url, headers=dict(response.headers))
    received = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if received != wanted:
        if received in ("text/html", "application/xhtml+xml") or received not in FORMATS.values() or strict:
            what = "an HTML page" if "html" in received else (received or "no Content-Type")
            raise NegotiationError(f"{url}: asked for {wanted} but got {what}", url=url, status=response.status_code)
        log.warning("%s: asked for %s, the server sent %s", url, wanted, received)
    if received in _JSON_TYPES:
        try:
            data: Any = response.json()
        except ValueError as exc:
            raise BadResponseError(f"{url}: the {received} body is not valid JSON ({exc})", url=url,
                                   status=response.status_code) from exc
    else:
        data = response.content
    other = other_record(data, canonical)
    if other:
        raise NegotiationError(f"{url}: the answer describes another record ({other}) than {canonical}", url=url,
                               status=response.status_code)
    content_profile = (response.headers.get("Content-Profile") or "").strip().strip("<>") or None
    if profile_iri and content_profile != profile_iri:
        log.warning("%s: asked for profile <%s>, the server answered with %s", url, profile_iri,
                    f"<{content_profile}>" if content_profile else "no Content-Profile")
    applied = content_profile if content_profile and content_profile != KBV_PROFILE else None
    return Record(
        iri=canonical,
        data=data,
        media_type=received,
        etag=etag,
        last_modified=response.headers.get("Last-Modified") or _modified_of(data),
        source=url,
        profile=applied,
        headers=dict(response.headers),
    )


def other_record(data: Any, canonical: str) -> str | None:
    """The record a JSON-LD body describes when it is not ``canonical`` (compared by short id,
    as a test or QA host names records with its own host; an old id in ``sameAs`` counts)."""
    if not canonical.startswith(_LIBRIS + "/") or not isinstance(data, dict):
        return None
    graph = data.get("@graph")
    node = graph[0] if isinstance(graph, list) and graph else data
    found = node.get("@id") if isinstance(node, dict) else None
    if not isinstance(found, str) or "://" not in found:
        return None

    def short(iri: str) -> str:
        return _DATA_SUFFIX.sub("", iri.split("#", 1)[0].split("?", 1)[0]).rstrip("/").rsplit("/", 1)[-1]

    wanted = short(canonical)
    same = node.get("sameAs")
    names: list[str] = [found] + [s["@id"] for s in (same if isinstance(same, list) else [])
                                  if isinstance(s, dict) and isinstance(s.get("@id"), str)]
    return None if any(short(n) == wanted for n in names) else found


def _canonical_of(response: requests.Response, requested: str) -> str:
    document = response.headers.get("Document")
    if document:
        return record_iri(document)
    path_url = urlsplit(response.url)._replace(query="", fragment="").geturl()
    path_url = _DATA_SUFFIX.sub("", path_url)
    canonical = to_canonical_iri(path_url)
    return canonical if canonical.startswith(_LIBRIS + "/") else requested


def _modified_of(data: Any) -> str | None:
    """The Record's ``modified`` in a flat, framed or lens-shaped JSON-LD body."""
    if not isinstance(data, dict):
        return None
    graph = data.get("@graph")
    if isinstance(graph, list) and graph and isinstance(graph[0], dict):
        return graph[0].get("modified")
    if data.get("@type") == "Record":
        return data.get("modified")
    meta = data.get("meta")
    return meta.get("modified") if isinstance(meta, dict) else None


__all__ = ["FORMATS", "build_accept", "fetch_record", "other_record", "record_iri", "resolve_profile"]
