"""The one Pager of linkeddata.http: next-page rules, bounds in count and time, repeat detection."""

from __future__ import annotations

import logging
import time

import pytest

from linkeddata.errors import ConfigError, LinkedDataError, NotFoundError, PageLimitError, RepeatedPageError
from linkeddata.http import (
    DEFAULT_MAX_PAGES,
    PageEvent,
    Pager,
    fetch_many,
    link_rule,
    offset_rule,
    session_for,
    token_rule,
)


def _offsets(pages: dict[int, list[int]]) -> Pager[int, list[int]]:
    return Pager("demo", pages.__getitem__, offset_rule(len), 0)


def test_offset_rule_pages_until_an_empty_page():
    asked: list[int] = []

    def fetch(offset: int) -> list[int]:
        asked.append(offset)
        return list(range(offset, min(offset + 3, 7)))

    assert [x for page in Pager("demo", fetch, offset_rule(len), 0) for x in page] == list(range(7))
    assert asked == [0, 3, 6, 7]


def test_offset_rule_stops_at_the_total_without_asking_for_an_empty_page():
    asked: list[int] = []

    def fetch(offset: int) -> dict[str, object]:
        asked.append(offset)
        return {"items": list(range(offset, min(offset + 2, 5))), "total": 5}

    rule = offset_rule(lambda p: len(p["items"]), total=lambda p: p["total"])  # type: ignore[arg-type]
    list(Pager("demo", fetch, rule, 0))
    assert asked == [0, 2, 4]


def test_link_rule_resolves_relative_links_and_ends_without_one():
    pages = {"http://h/a?p=1": {"next": "?p=2"}, "http://h/a?p=2": {"next": "/a?p=3"}, "http://h/a?p=3": {}}
    pager = Pager("demo", pages.__getitem__, link_rule(lambda p: p.get("next")), "http://h/a?p=1")
    assert len(list(pager)) == 3
    assert pager.cursor == "http://h/a?p=3" and pager.next is None


def test_token_rule_ends_at_an_empty_token():
    pages = {None: "t1", "t1": "t2", "t2": ""}
    pager = Pager("demo", pages.__getitem__, token_rule(lambda p: p), None)
    assert list(pager) == ["t1", "t2", ""]
    assert pager.pages == 3


def test_max_pages_raises_one_error_class_naming_the_bound():
    endless = Pager("endless", lambda n: [n], lambda page, n: n + 1, 0, max_pages=5)
    got: list[list[int]] = []
    with pytest.raises(PageLimitError, match=r"endless stopped after 5 pages \(max_pages\)") as info:
        for page in endless:
            got.append(page)
    assert len(got) == 5 and endless.pages == 5
    assert isinstance(info.value, LinkedDataError)


def test_on_limit_stop_warns_and_marks_the_read_truncated(caplog):
    pager = Pager("endless", lambda n: [n], lambda page, n: n + 1, 0, max_pages=3, on_limit="stop")
    with caplog.at_level(logging.WARNING, logger="linkeddata.http"):
        assert len(list(pager)) == 3
    assert pager.truncated
    assert "endless stopped after 3 pages (max_pages)" in caplog.text


def test_max_seconds_bounds_the_read_in_time():
    def slow(n: int) -> list[int]:
        time.sleep(0.03)
        return [n]

    pager = Pager("slow", slow, lambda page, n: n + 1, 0, max_seconds=0.05)
    with pytest.raises(PageLimitError, match="max_seconds"):
        list(pager)
    assert 2 <= pager.pages <= 3


def test_a_cursor_asked_before_is_a_repeated_page():
    pages = {None: "t1", "t1": "t2", "t2": "t1"}  # t2 points back at t1
    pager = Pager("cycle", pages.__getitem__, token_rule(lambda p: p), None)
    with pytest.raises(RepeatedPageError, match="'t1' again"):
        list(pager)
    assert pager.pages == 3


def test_a_page_equal_to_the_one_before_is_a_repeated_page():
    asked: list[int] = []

    def ignores_offset(offset: int) -> list[str]:
        asked.append(offset)
        return ["a", "b"]

    pager = Pager("deaf", ignores_offset, offset_rule(len), 0, fingerprint=tuple)
    with pytest.raises(RepeatedPageError, match="repeats the page before") as info:
        list(pager)
    assert asked == [0, 2]
    assert isinstance(info.value, LinkedDataError) and "same page" in str(info.value)


def test_a_fingerprint_of_none_is_never_a_repeat():
    pages = {0: [], 1: [], 2: []}
    pager = Pager("empty", pages.__getitem__, lambda p, n: n + 1 if n < 2 else None, 0,
                  fingerprint=lambda p: tuple(p) or None)
    assert len(list(pager)) == 3


def test_first_page_is_not_fetched_again_but_counts():
    asked: list[int] = []

    def fetch(offset: int) -> list[int]:
        asked.append(offset)
        return [] if offset else [9]

    pager = Pager("demo", fetch, offset_rule(len), 0, first=[1, 2], max_pages=2)
    assert list(pager) == [[1, 2], []]
    assert asked == [2] and pager.pages == 2


def test_next_page_rule_runs_after_the_consumer_is_done_with_the_page():
    seen: list[int] = []
    pager = Pager("demo", lambda n: n, lambda page, n: None if seen[-1] >= 2 else n + 1, 0)
    for page in pager:
        seen.append(page)  # the rule reads what the consumer learnt
    assert seen == [0, 1, 2]


def test_progress_callback_after_each_page():
    events: list[PageEvent] = []
    list(Pager("demo", lambda n: list(range(n, min(n + 2, 3))), offset_rule(len), 0, progress=events.append))
    assert [(e.what, e.number, e.cursor) for e in events] == [("demo", 1, 0), ("demo", 2, 2), ("demo", 3, 3)]
    assert all(e.elapsed >= 0 for e in events)


def test_cursor_tells_where_to_resume():
    pager = _offsets({0: [1, 2], 2: [3, 4], 4: []})
    pages = iter(pager)
    next(pages)
    next(pages)
    assert pager.cursor == 2  # the page being consumed: resume here


def test_bad_bounds_are_refused_before_any_request():
    for kwargs in ({"max_pages": 0}, {"max_seconds": 0}, {"on_limit": "ignore"}):
        with pytest.raises(ConfigError):
            Pager("demo", lambda n: n, lambda p, n: None, 0, **kwargs)  # type: ignore[arg-type]
    assert DEFAULT_MAX_PAGES >= 1000


def test_fetch_many_keeps_order_and_returns_errors_in_place():
    def fetch(key: str) -> str:
        if key == "bad":
            raise NotFoundError(f"not found: {key}")
        time.sleep(0.01 if key == "a" else 0)
        return key.upper()

    got = fetch_many(["a", "bad", "c"], fetch, concurrency=3)
    assert got[0] == "A" and got[2] == "C" and isinstance(got[1], NotFoundError)
    assert fetch_many(["x"], fetch, concurrency=1) == ["X"]


def test_session_for_closes_only_a_session_it_made(monkeypatch):
    from linkeddata import http

    closed: list[object] = []
    own = http.make_session(cache=False, rate_limit=None)
    monkeypatch.setattr(own, "close", lambda: closed.append(own))
    with session_for(own) as s:
        assert s is own
    assert closed == []
    made: list[object] = []
    real = http.make_session

    def fake(**kwargs: object) -> object:
        assert kwargs == {"purpose": "page"}
        session = real(cache=False, rate_limit=None)
        monkeypatch.setattr(session, "close", lambda: made.append(session))
        return session

    monkeypatch.setattr(http, "make_session", fake)
    with pytest.raises(KeyError), session_for(None, "page"):
        raise KeyError("boom")
    assert len(made) == 1
