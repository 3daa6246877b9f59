"""Per-harvest state, saved next to the store after each committed batch.

A checkpoint is a small JSON file ``<store>/.linkeddata/checkpoints/<key>.json``;
the key is a hash of the harvest kind and its parameters, so the same command
finds its own state again. Files are written atomically (temporary file, then
``os.replace``), so a killed process leaves either the old or the new state.

>>> harvest_key("find", {"q": "x"}) == harvest_key("find", {"q": "x"})
True
>>> harvest_key("find", {"q": "x"}) == harvest_key("oai", {"q": "x"})
False
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import StoreError

log = logging.getLogger(__name__)

CHECKPOINT_DIR = Path(".linkeddata") / "checkpoints"


def harvest_key(kind: str, params: Any) -> str:
    """A stable short key for a harvest kind and its (JSON-serialisable) parameters."""
    blob = json.dumps({"kind": kind, "params": params}, sort_keys=True, ensure_ascii=False, default=str)
    return f"{kind}-{hashlib.sha256(blob.encode('utf-8')).hexdigest()[:16]}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Checkpoint:
    """The state of one harvest.

    ``state`` holds the kind's resume point (``offset``, ``token``, ``position``…);
    ``completed`` is set once the harvest ran to its end.
    """

    kind: str
    params: Any
    key: str
    state: dict[str, Any] = field(default_factory=dict)
    records: int = 0
    deleted: int = 0
    skipped: int = 0
    #: ``[id, reason]`` of every record skipped so far (``--retry-skipped`` tries them again).
    skip_list: list[list[str]] = field(default_factory=list)
    batches: int = 0
    completed: bool = False
    started: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        return data

    def save(self) -> None:
        """Write the checkpoint atomically (no-op for a store without a directory)."""
        if self.path is None:
            return
        self.updated = _now()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.as_dict(), handle, ensure_ascii=False, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"cannot write checkpoint {self.path}: {exc}") from exc

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def checkpoint_path(store_dir: str | Path, key: str) -> Path:
    return Path(store_dir) / CHECKPOINT_DIR / f"{key}.json"


def open_checkpoint(store_dir: str | Path | None, kind: str, params: Any, *, restart: bool = False) -> Checkpoint:
    """The saved checkpoint of this harvest, or a fresh one (always fresh with ``restart``).

    ``store_dir=None`` (an in-memory store) gives a checkpoint that is never written.
    """
    key = harvest_key(kind, params)
    path = checkpoint_path(store_dir, key) if store_dir is not None else None
    if path is not None and path.exists():
        if restart:
            path.unlink()
            log.info("discarded checkpoint %s", path)
        else:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                data.pop("path", None)
                checkpoint = Checkpoint(**data)
                checkpoint.path = path
                log.info("resuming %s harvest from %s", kind, path)
                return checkpoint
            except (ValueError, TypeError) as exc:
                log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
    return Checkpoint(kind=kind, params=json.loads(json.dumps(params, default=str)), key=key, path=path)


def list_checkpoints(store_dir: str | Path) -> list[Checkpoint]:
    """All checkpoints saved in a store directory."""
    folder = Path(store_dir) / CHECKPOINT_DIR
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data.pop("path", None)
            out.append(Checkpoint(**data, path=path))
        except (ValueError, TypeError):
            continue
    return out


# ---------------------------------------------------------------- Ctrl-C between batches


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, honoured after a committed batch: the message says what was saved."""

    def __init__(self, saved: int):
        super().__init__(f"{saved} records saved; run the same command to resume")
        self.saved = saved


_interrupt = threading.Event()


@contextlib.contextmanager
def graceful_interrupt() -> Iterator[None]:
    """While active, a first Ctrl-C only asks the running job to stop after the batch in hand
    (see :func:`check_interrupt`); a second one interrupts at once. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask(signum: int, frame: Any) -> None:
        if _interrupt.is_set():
            raise KeyboardInterrupt
        _interrupt.set()
        log.warning("interrupted: finishing the batch in hand (Ctrl-C again to stop at once)")

    previous = signal.signal(signal.SIGINT, ask)
    _interrupt.clear()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _interrupt.clear()


def check_interrupt(saved: int) -> None:
    """Raise :class:`Interrupted` if Ctrl-C was pressed; call it right after a checkpoint is saved."""
    if _interrupt.is_set():
        _interrupt.clear()
        raise Interrupted(saved)
