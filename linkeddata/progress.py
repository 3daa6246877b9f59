"""Progress reports that read well in every viewer.

Long jobs (harvests, loads, builds) take a ``progress`` callback: a callable that is
called with the number of items just done (``progress(500)`` after a batch of 500
records). :func:`progress` makes one that shows itself where the code runs:

* in a Jupyter kernel, a live widget bar (ipywidgets) while the job runs, replaced at the
  end by one text line, so the saved notebook, its HTML export and viewers without live
  widgets show ``OAI-PMH: 1,504 records, 3,200/s`` rather than an empty widget;
* in a terminal, the same line rewritten in place on standard error;
* elsewhere (a pipe, a log file, CI), the final line on standard error only, so output
  stays readable and free of carriage returns.

>>> import io
>>> out = io.StringIO()
>>> with progress("OAI-PMH", file=out, display="text") as report:
...     report(1000)
...     report(504)
>>> report.n
1504
>>> out.getvalue().split("\\r")[-1].startswith("OAI-PMH: 1,504 records, ")
True
>>> format_line("load", 3, total=4, unit="graph", seconds=2.0)
'load: 3 of 4 graphs (75%), 1.5/s, 2.0 s'
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from .errors import InvalidInputError

#: What the library's long jobs accept as ``progress=``: called with the number of items just done.
ProgressCallback = Callable[[int], None]

DISPLAYS = ("auto", "widget", "html", "text", "none")
_PLURALS = {"record": "records", "graph": "graphs", "rec": "records", "item": "items", "page": "pages"}


def _plural(unit: str, n: float) -> str:
    if n == 1:
        return unit
    return _PLURALS.get(unit, unit if unit.endswith("s") else unit + "s")


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def format_line(desc: str, n: int, *, total: int | None = None, unit: str = "record",
                seconds: float | None = None) -> str:
    """The one-line report: ``OAI-PMH: 1,504 records, 3,200/s`` (with ``of N (P%)`` when
    the total is known and the elapsed time when given)."""
    count = f"{n:,}" if total is None else f"{n:,} of {total:,}"
    text = f"{count} {_plural(unit, total if total is not None else n)}"
    if total:
        text += f" ({100 * n / total:.0f}%)"
    if seconds is not None and seconds > 0 and n:
        text += f", {_rate(n / seconds)}/s, {seconds:.1f} s"
    elif seconds is not None:
        text += f", {seconds:.1f} s"
    return f"{desc}: {text}" if desc else text


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # noqa: BLE001 - any failure means no kernel
        return False
    return ip is not None and getattr(ip, "kernel", None) is not None


class Progress:
    """A progress report; call it (or its :meth:`update`) with the number of items just done.

    Use it as a context manager, or call :meth:`close` at the end: the final line is
    written then. ``n`` is the count so far, ``line()`` the current text.
    """

    def __init__(self, desc: str = "", total: int | None = None, unit: str = "record", *,
                 display: str = "auto", file: IO[str] | None = None, interval: float = 0.2):
        if display not in DISPLAYS:
            raise InvalidInputError(f"display must be one of {', '.join(DISPLAYS)}, not {display!r}")
        self.desc, self.total, self.unit, self.interval = desc, total, unit, interval
        self.n = 0
        self.file = file if file is not None else sys.stderr
        self.started = time.perf_counter()
        self._shown = 0.0
        self._closed = False
        self._width = 0
        if display == "auto":
            if _in_kernel():
                display = "widget"
            else:
                display = "text" if getattr(self.file, "isatty", lambda: False)() else "final"
        self.display = display
        self._handle: Any = None
        self._bar: Any = None
        self._label: Any = None
        self._box: Any = None
        if display == "widget":
            self._start_widget()
        elif display == "html":
            self._start_html()

    # -------------------------------------------------------------- updates

    def __call__(self, n: int = 1) -> None:
        self.update(n)

    def update(self, n: int = 1) -> None:
        """Add ``n`` items done and refresh the view (at most every ``interval`` seconds)."""
        self.n += int(n)
        now = time.perf_counter()
        if now - self._shown >= self.interval:
            self._shown = now
            self._refresh(final=False)

    def line(self, final: bool = False) -> str:
        """The report as text (with the elapsed time once ``final``)."""
        seconds = time.perf_counter() - self.started
        if final:
            return format_line(self.desc, self.n, total=self.total, unit=self.unit, seconds=seconds)
        text = format_line(self.desc, self.n, total=self.total, unit=self.unit)
        if seconds > 0 and self.n:
            text += f", {_rate(self.n / seconds)}/s"
        return text

    def close(self) -> None:
        """Write the final line (once)."""
        if self._closed:
            return
        self._closed = True
        self._refresh(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- views

    def _refresh(self, final: bool) -> None:
        text = self.line(final)
        if self.display == "text":
            pad = " " * max(0, self._width - len(text))
            self._width = len(text)
            self.file.write("\r" + text + pad + ("\n" if final else ""))
            self.file.flush()
        elif self.display == "final" and final:
            self.file.write(text + "\n")
            self.file.flush()
        elif self.display in ("widget", "html") and self._handle is not None:
            if final or self._bar is None:
                self._handle.update(self._bundle(text, final), raw=True)
                if final and self._bar is not None:
                    for widget in (self._bar, self._label, self._box):
                        widget.close()
            else:
                self._bar.value = self.n if self.total else 0
                self._label.value = html.escape(text)

    def _bundle(self, text: str, final: bool) -> dict[str, str]:
        fraction = min(1.0, self.n / self.total) if self.total else (1.0 if final else None)
        meter = (f'<progress value="{fraction:.3f}" max="1" style="width:12em;vertical-align:middle"></progress> '
                 if fraction is not None else "")
        return {"text/plain": text,
                "text/html": f'<div class="linkeddata-progress" style="font-family:monospace">{meter}'
                             f"{html.escape(text)}</div>"}

    def _start_html(self) -> None:
        self._handle = _display(self._bundle(self.line(), False))

    def _start_widget(self) -> None:
        try:
            import ipywidgets as widgets
        except ImportError:  # no widgets: a refreshed HTML line does the same job
            self.display = "html"
            self._start_html()
            return
        self._bar = widgets.IntProgress(value=0, min=0, max=self.total or 1,
                                        bar_style="info" if self.total else "")
        self._label = widgets.HTML(value=html.escape(self.line()))
        self._box = widgets.HBox([self._bar, self._label] if self.total else [self._label])
        bundle = dict(self._box._repr_mimebundle_())
        bundle["text/plain"] = self.line()  # what viewers without live widgets show meanwhile
        self._handle = _display(bundle)


def _display(bundle: dict[str, Any]) -> Any:
    """Show a raw MIME bundle in Jupyter; the handle updates it in place."""
    from IPython import display

    show: Any = display.display
    return show(bundle, raw=True, display_id=True)


def progress(desc: str = "", total: int | None = None, unit: str = "record", *, display: str = "auto",
             file: IO[str] | None = None, disable: bool = False) -> Progress:
    """A :class:`Progress` to pass as ``progress=`` (see the module's description).

    :param display: ``auto`` (widget in Jupyter, a rewritten line in a terminal, the final
        line elsewhere), ``widget``, ``html`` (a refreshed HTML line, no widgets),
        ``text`` (a line rewritten with ``\\r``) or ``none``.
    :param disable: report nothing (same as ``display="none"``), e.g. for ``--quiet``.
    """
    return Progress(desc, total, unit, display="none" if disable else display, file=file)


__all__ = ["ProgressCallback", "Progress", "progress", "format_line"]
