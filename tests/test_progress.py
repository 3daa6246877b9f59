"""Progress reports: the text line, the terminal line, the Jupyter views, the callback."""

from __future__ import annotations

import io

import pytest

from linkeddata.errors import InvalidInputError
from linkeddata.progress import Progress, format_line, progress


def test_format_line():
    assert format_line("OAI-PMH", 1504, seconds=0.47) == "OAI-PMH: 1,504 records, 3,200/s, 0.5 s"
    assert format_line("OAI-PMH", 0, seconds=0.2) == "OAI-PMH: 0 records, 0.2 s"
    assert format_line("find", 1, total=10) == "find: 1 of 10 records (10%)"
    assert format_line("", 3, unit="graph") == "3 graphs"


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_terminal_line_is_rewritten_in_place_and_ends_with_a_newline():
    out = _Tty()
    with progress("harvest", file=out) as report:
        report.interval = 0
        for _ in range(3):
            report(500)
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and "\n" not in text[:-1]
    assert text.rsplit("\r", 1)[-1].startswith("harvest: 1,500 records, ")


def test_a_pipe_gets_only_the_final_line():
    out = io.StringIO()
    with progress("load", file=out) as report:
        report(7)
        report(3)
    assert out.getvalue().startswith("load: 10 records, ") and out.getvalue().count("\n") == 1
    report.close()  # closing twice writes nothing more
    assert out.getvalue().count("\n") == 1


def test_disabled_and_bad_display():
    out = io.StringIO()
    with progress("x", file=out, disable=True) as report:
        report(5)
    assert out.getvalue() == "" and report.n == 5
    with pytest.raises(InvalidInputError, match="display must be one of auto, widget"):
        Progress("x", display="fancy")


class _Handle:
    def __init__(self, bundle):
        self.bundles = [bundle]

    def update(self, bundle, raw=False):
        assert raw
        self.bundles.append(bundle)


@pytest.mark.parametrize("display", ["widget", "html"])
def test_jupyter_views_end_as_one_readable_line(monkeypatch, display):
    pytest.importorskip("IPython")
    import IPython.display

    handles = []

    def fake_display(bundle, raw=False, display_id=False):
        assert raw and display_id
        handles.append(_Handle(bundle))
        return handles[-1]

    monkeypatch.setattr(IPython.display, "display", fake_display)
    with progress("OAI-PMH", total=None, display=display) as report:
        report(1504)
    (handle,) = handles
    first, last = handle.bundles[0], handle.bundles[-1]
    if display == "widget":
        pytest.importorskip("ipywidgets")
        assert "application/vnd.jupyter.widget-view+json" in first  # a live bar while it runs
        assert first["text/plain"].startswith("OAI-PMH: 0 records")  # not tqdm's "0record [00:00, ?record/s]"
    assert set(last) == {"text/plain", "text/html"}  # no widget left for viewers without live widgets
    assert last["text/plain"].startswith("OAI-PMH: 1,504 records, ") and "1,504 records" in last["text/html"]
