"""Kill a process with SIGKILL at chosen points of its work, again and again (crash tests).

:func:`kill_chain` starts a command, kills it once it has made a number of requests to the
emulator (or after a random moment), and repeats until enough runs were really killed. Re-running
the command afterwards must give the store of a run without faults: the sync tests and the
``sync-kill`` bench scenario use it that way.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class KillChain:
    """What :func:`kill_chain` did: runs killed, runs started, and runs that finished first."""

    killed: int = 0
    attempts: int = 0
    finished: int = 0


def kill_chain(spawn: Callable[[], subprocess.Popen[Any]], request_log: Sequence[Any], kills: int, *,
               seed: str, max_attempts: int | None = None, max_requests: int = 40,
               moments: tuple[float, float] = (0.3, 2.5), timeout: float = 120.0,
               finished: Callable[[], None] | None = None) -> KillChain:
    """SIGKILL runs of ``spawn()`` until ``kills`` were killed (at most ``max_attempts`` runs, 4× kills).

    Each run is killed once ``request_log`` (the emulator's) has grown by a random 1 to
    ``max_requests`` entries, every third run at a random moment in ``moments`` seconds instead.
    A run that ends by itself (exit 0) calls ``finished`` while more kills are wanted (e.g. to check
    its store and start it afresh, so that every kill falls into the phase under test). Any other
    exit status is an error.
    """
    rng = random.Random(seed)
    limit = max_attempts if max_attempts is not None else kills * 4
    out = KillChain()
    while out.killed < kills and out.attempts < limit:
        out.attempts += 1
        start = len(request_log)
        after = rng.randint(1, max_requests)
        moment = rng.uniform(*moments) if out.attempts % 3 == 0 else None
        proc = spawn()
        began = time.monotonic()
        while proc.poll() is None and time.monotonic() - began < timeout:
            if (moment is None and len(request_log) - start >= after) or (
                    moment is not None and time.monotonic() - began >= moment):
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=timeout)
        if proc.returncode not in (0, -signal.SIGKILL):
            raise RuntimeError(f"the killed command failed with exit {proc.returncode}")
        out.killed += proc.returncode == -signal.SIGKILL
        if proc.returncode == 0:
            out.finished += 1
            if finished is not None and out.killed < kills:
                finished()
    return out


__all__ = ["KillChain", "kill_chain"]
