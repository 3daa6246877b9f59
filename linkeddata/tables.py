"""Plain-text tables for terminals.

>>> print(format_table([{"a": 1, "b": None}]))
a  b
-  -
1
"""

from __future__ import annotations

from typing import Any


def format_table(rows: Any, headers: list[str] | None = None) -> str:
    if rows and isinstance(rows[0], dict):
        headers = headers or list(rows[0].keys())
        rows = [[r.get(h) for h in headers] for r in rows]
    headers = headers or []
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, v in enumerate(row):
            if i >= len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(v))
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), line]
    for row in cells:
        out.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    return "\n".join(out)
