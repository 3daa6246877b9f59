"""Errors classified by rule: one class per kind of fault, whatever the client; one home for the rules."""

from __future__ import annotations

import ast
import inspect
import re
import sys
from pathlib import Path

import pytest
import requests

from linkeddata import errors, http
from linkeddata.errors import (
    BadResponseError,
    ConfigError,
    ConflictError,
    HTTPError,
    InvalidInputError,
    LinkedDataError,
    MissingExtraError,
    NotFoundError,
    ServiceUnavailableError,
)

PACKAGE = Path(__file__).resolve().parents[1] / "linkeddata"


def _calls(name: str) -> list[tuple[Path, ast.Call]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name:
                found.append((path, node))
    return found


def _classes() -> list[type[LinkedDataError]]:
    mine = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, LinkedDataError)]
    return mine + [http.BodyTooLargeError, http.DeadlineError, http.RedirectError]


def test_a_bad_server_answer_is_a_server_fault_never_your_input():
    assert issubclass(BadResponseError, HTTPError)
    assert not issubclass(BadResponseError, InvalidInputError)


def test_the_docstring_tree_names_every_class_with_its_exit_code():
    doc = errors.__doc__ or ""
    for cls in _classes():
        line = next((ln for ln in doc.splitlines() if re.search(rf"[─ ]{cls.__name__}\b", ln)), None)
        assert line is not None, f"{cls.__name__} is not in the tree of linkeddata.errors"
        assert line.rstrip().endswith(f"— {cls.exit_code}"), line


def test_the_cli_exits_with_the_class_exit_code():
    import click
    from click.testing import CliRunner

    from linkeddata.cli.common import LinkedDataGroup

    group = LinkedDataGroup("t")

    @group.command()
    def boom() -> None:
        raise BadResponseError("http://127.0.0.1:9/x: the answer is not JSON\nsecond line")

    result = CliRunner().invoke(group, ["boom"])
    assert result.exit_code == BadResponseError.exit_code == 1
    assert "Error: http://127.0.0.1:9/x: the answer is not JSON" in result.output
    assert "second line" not in result.output and "Traceback" not in result.output
    assert isinstance(group, click.Group)


def test_missing_extras_raise_one_class_naming_an_extra_that_exists():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    extras = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text("utf-8"))["project"]
                 ["optional-dependencies"])
    calls = _calls("MissingExtraError")
    assert len(calls) >= 6
    for path, call in calls:
        if path.name == "errors.py":
            continue
        extra = next((k.value for k in call.keywords if k.arg == "extra"), None)
        message = ast.unparse(call.args[0]) if call.args else ""
        if isinstance(extra, ast.Constant) and extra.value is not None:
            assert extra.value in extras, f"{path.name}: extra {extra.value!r} is not in pyproject"
            named = f"linkeddata[{extra.value}]"
            assert named in message or ("HINT" in message and named in path.read_text("utf-8")), \
                f"{path.name}: the message does not name the extra"
    assert issubclass(MissingExtraError, ConfigError)


def test_missing_extra_error_in_use():
    from linkeddata.libris import marc

    real = sys.modules.get("pymarc")
    sys.modules["pymarc"] = None  # type: ignore[assignment]
    try:
        with pytest.raises(MissingExtraError, match=r"linkeddata\[marc\]") as info:
            marc.pymarc()
    finally:
        if real is not None:
            sys.modules["pymarc"] = real
        else:
            del sys.modules["pymarc"]
    assert info.value.extra == "marc"


def test_not_found_never_carries_status_200():
    for path, call in _calls("NotFoundError"):
        for keyword in call.keywords:
            if keyword.arg == "status":
                assert not (isinstance(keyword.value, ast.Constant) and keyword.value.value == 200), path.name


def _response(status: int, body: bytes = b"", content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.url = "http://127.0.0.1:9/x"
    response.headers["Content-Type"] = content_type
    response.reason = "Reason"
    return response


@pytest.mark.parametrize("status, cls", [(401, errors.AuthError), (403, errors.AuthError), (404, NotFoundError),
                                         (409, ConflictError), (410, errors.GoneError), (412, ConflictError),
                                         (429, ServiceUnavailableError), (503, ServiceUnavailableError),
                                         (400, HTTPError)])
def test_write_uses_the_one_status_mapping(status, cls):
    from linkeddata.libris.write import _error

    assert http.error_class(status) is cls
    for op in ("read", "update", "create"):
        error = _error(_response(status, b'{"message": "nope"}'), "record x", op)
        assert type(error) is (ConflictError if status == 409 else cls), (status, op)
        assert error.status == status and error.url == "http://127.0.0.1:9/x"


def test_write_hints_keep_their_class_by_rule():
    from linkeddata.libris.write import _error

    linked = _error(_response(403, b'{"message": "other records link to it"}'), "record x", "delete")
    assert isinstance(linked, ConflictError) and "link to it" in str(linked)
    duplicate = _error(_response(400, b'{"message": "holding already exists"}'), "new record", "create")
    assert isinstance(duplicate, ConflictError) and "duplicate holding" in str(duplicate)
    jetty = _error(_response(500, b"<html><title>Error 500 Server Error</title></html>", "text/html"), "x", "read")
    assert isinstance(jetty, ServiceUnavailableError) and "Server Error" in str(jetty)


def test_response_json_names_the_answer_as_a_bad_response():
    with pytest.raises(BadResponseError, match=r"thing: the answer from http://127.0.0.1:9/x is not JSON \(text/html\)"):
        http.response_json(_response(200, b"<html/>", "text/html"), "thing")


def test_linkeddata_no_cache_works_in_the_library(monkeypatch, tmp_path):
    monkeypatch.setenv("LINKEDDATA_NO_CACHE", "1")
    assert not hasattr(http.make_session(), "cache")
    assert not hasattr(http.make_session(purpose="record"), "cache")
    assert hasattr(http.make_session(cache=tmp_path / "c.sqlite"), "cache")  # an explicit file stays
    monkeypatch.setenv("LINKEDDATA_NO_CACHE", "0")
    monkeypatch.setattr(http, "default_cache_path", lambda: tmp_path / "default.sqlite")
    assert hasattr(http.make_session(purpose="record"), "cache")


def test_the_cli_keeps_one_table_of_sessions(monkeypatch):
    import click

    from linkeddata.cli.common import get_session

    made: list[tuple[str, float | None]] = []
    real = http.make_session

    def counting(**kwargs: object) -> requests.Session:
        made.append((str(kwargs["purpose"]), kwargs["rate_limit"]))  # type: ignore[arg-type]
        return real(cache=False, rate_limit=None)

    monkeypatch.setattr(http, "make_session", counting)
    with click.Context(click.Command("x"), obj={"cache": True}) as ctx:
        first = get_session(ctx)
        assert get_session(ctx) is first
        harvest = get_session(ctx, purpose="harvest", rate_limit=None)
        assert get_session(ctx, purpose="harvest", rate_limit=None) is harvest is not first
        assert sorted(ctx.obj["sessions"]) == [("default", 10.0), ("harvest", None)]
    assert made == [("default", 10.0), ("harvest", None)]


def test_no_private_http_helpers_are_borrowed_across_modules():
    borrowed = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level and node.module:
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        borrowed.append(f"{path.relative_to(PACKAGE)}: {node.module}.{alias.name}")
    http_ish = [b for b in borrowed if re.search(r"\.(_get_json|_uncached|_session|_get|_request)\b", b)]
    assert not http_ish, http_ish
