"""README.md cannot drift: every terminal session in it is executed and its output compared.

A *session* is a fenced code block whose lines start with ``$ `` (a command) followed by
the output it prints (stdout and stderr together, as a terminal shows them). The runner
executes every session of README.md in order, in one temporary folder, with ``bash``:
files, ``cd`` and exported variables carry over from one command to the next, as in one
terminal. A command ending in ``&`` runs in the background until the end of the README;
its expected lines are what it prints when it is ready (at least one line: the runner
waits for them, up to a minute, before the next command). Before the README's
own ``source env.sh`` every ``LINKEDDATA_*_URL`` points at a closed loopback port, so no
command can reach a real service.

Placeholders in the expected output (the only differences allowed):

``…`` alone on a line
    any number of lines (none included): the rest of a long record, a progress log.
``…`` inside a line
    any text within that line: times (``in … s``), rates (``… triples/s``), ETags,
    identifiers a server mints, dates.
``127.0.0.1:8700`` … ``127.0.0.1:8707`` and ``127.0.0.1:7878``
    the README's ports. The runner picks free ports and rewrites ``:8700``/``--port 8700``
    (the emulator's first service; the others follow) and ``:7878`` in the commands, and the
    ports it picked back to the README's in the output.

Trailing spaces are ignored. A command must exit 0, or 1 when the output shows an
``Error: `` line, or the status named by a trailing ``# exit N`` comment.

The folder holds ``tests/data`` (the repository's). To add a session, write it in README.md;
nothing here changes. A failure names the README line, the command, and both outputs.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .conftest import TESTS

ROOT = TESTS.parent
README = (ROOT / "README.md").read_text("utf-8")
#: The README's ports → how many consecutive ports each stands for.
README_PORTS = {8700: 8, 7878: 1}
#: Seconds a command may run; a background command may take to print its expected lines.
STEP_TIMEOUT = 240
BACKGROUND_TIMEOUT = 60
ELLIPSIS = "…"


@dataclass
class Step:
    line: int  # README line of the command
    command: str
    expected: list[str] = field(default_factory=list)

    @property
    def background(self) -> bool:
        return re.sub(r"\s+#.*$", "", self.command).rstrip().endswith("&")

    @property
    def exit_status(self) -> int | None:
        m = re.search(r"#\s*exit (\d+)\s*$", self.command)
        return int(m.group(1)) if m else None


def sessions(text: str = README) -> list[list[Step]]:
    """The ``$ `` sessions of a Markdown text, in order, each a list of steps."""
    found: list[list[Step]] = []
    block: list[tuple[int, str]] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            if block is None:
                block = []
                continue
            if block and block[0][1].startswith("$ "):
                found.append(_steps(block))
            block = None
        elif block is not None:
            block.append((number, line))
    return found


def _steps(block: list[tuple[int, str]]) -> list[Step]:
    steps: list[Step] = []
    continued = False
    for number, line in block:
        if continued:
            steps[-1].command += "\n" + line
            continued = line.endswith("\\")
        elif line.startswith("$ "):
            steps.append(Step(number, line[2:]))
            continued = line.endswith("\\")
        else:
            steps[-1].expected.append(line.rstrip())
    return steps


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` lines fit ``expected`` with its ``…`` placeholders."""
    parts = []
    for line in expected:
        if line.strip() == ELLIPSIS:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(r"[^\n]*?".join(re.escape(piece) for piece in line.split(ELLIPSIS)) + r"\n")
    text = "".join(line.rstrip() + "\n" for line in actual)
    return re.fullmatch("".join(parts), text) is not None


def _free_ports(count: int, taken: set[int]) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 45000)
        if any(p in taken for p in range(base, base + count)):
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free loopback ports")


class Terminal:
    """One bash 'terminal' in a temporary folder: state carried from command to command."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.work = folder / "work"
        (self.work / "tests").mkdir(parents=True)
        (self.work / "tests" / "data").symlink_to(TESTS / "data")
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "linkeddata"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m linkeddata "$@"\n', "utf-8")
        shim.chmod(0o755)
        home = folder / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINKEDDATA_")}
        from linkeddata.config import SERVICES, env_name

        env.update({env_name(name): "http://127.0.0.1:9" for name in SERVICES})  # closed: no real service
        env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", HOME=str(home),
                   XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
                   LINKEDDATA_NO_CACHE="1", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", TERM="dumb",
                   COLUMNS="200", PYTHONPATH=str(ROOT))
        self.env = env
        self.cwd = self.work
        self.ports: dict[int, int] = {}
        taken: set[int] = set()
        for port, count in README_PORTS.items():
            self.ports[port] = _free_ports(count, taken)
            taken.update(range(self.ports[port], self.ports[port] + count))
        self.background: list[subprocess.Popen[bytes]] = []

    def to_local(self, command: str) -> str:
        for port, local in self.ports.items():
            command = re.sub(rf"(127\.0\.0\.1:|--port\s+){port}\b",
                             lambda m, p=port, base=local: m.group(1) + str(base), command)
        for port, count in README_PORTS.items():
            for i in range(1, count):
                command = command.replace(f"127.0.0.1:{port + i}", f"127.0.0.1:{self.ports[port] + i}")
        return command

    def to_readme(self, text: str) -> str:
        for port, count in README_PORTS.items():
            for i in range(count):
                text = re.sub(rf"127\.0\.0\.1:{self.ports[port] + i}\b", f"127.0.0.1:{port + i}", text)
        return text

    def run(self, step: Step) -> tuple[int | None, list[str]]:
        command = self.to_local(step.command)
        state = self.folder / "state"
        if step.background:
            log = self.folder / f"background-{len(self.background)}.log"
            body = re.sub(r"&\s*(#.*)?$", "", command.rstrip())
            with open(log, "wb") as out:
                proc = subprocess.Popen(["bash", "-c", body], cwd=self.cwd, env=self.env, stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            self.background.append(proc)
            deadline = time.monotonic() + BACKGROUND_TIMEOUT
            while True:
                lines = self.to_readme(log.read_text("utf-8", "replace")).splitlines()
                if (lines and matches(step.expected, lines)) or proc.poll() is not None or time.monotonic() > deadline:
                    time.sleep(0.2)
                    return None, self.to_readme(log.read_text("utf-8", "replace")).splitlines()
                time.sleep(0.1)
        script = (f"{command}\n__status=$?\nenv -0 > '{state}.env'\npwd > '{state}.cwd'\nexit $__status\n")
        proc = subprocess.run(["bash", "-c", script], cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=STEP_TIMEOUT)
        with contextlib.suppress(FileNotFoundError):
            pairs = (Path(f"{state}.env").read_bytes().decode("utf-8", "replace").split("\0"))
            self.env = dict(p.split("=", 1) for p in pairs if "=" in p)
            self.cwd = Path(Path(f"{state}.cwd").read_text("utf-8").strip())
        return proc.returncode, self.to_readme(proc.stdout.decode("utf-8", "replace")).splitlines()

    def close(self) -> None:
        for proc in self.background:  # only the process groups this terminal started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.background:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


def _allowed(step: Step, status: int | None, output: list[str]) -> bool:
    if status is None:
        return True
    if step.exit_status is not None:
        return status == step.exit_status
    return status == 0 or (status == 1 and any(line.startswith("Error: ") for line in output))


def test_every_readme_session_prints_what_the_readme_shows(tmp_path):
    terminal = Terminal(tmp_path)
    failures = []
    try:
        for steps in sessions():
            for step in steps:
                status, output = terminal.run(step)
                if not (matches(step.expected, output) and _allowed(step, status, output)):
                    diff = "\n".join(difflib.unified_diff(step.expected, output, "README", "actual", lineterm=""))
                    failures.append(f"README.md:{step.line}: $ {step.command}  (exit {status})\n{diff}")
    finally:
        terminal.close()
    assert not failures, "\n\n".join(failures)


def test_the_runner_reads_sessions_and_placeholders():
    text = "x\n```\n$ echo a\na\n$ echo b \\\n  c\nb c\n```\n```\nnot a session\n```\n"
    (first,) = sessions(text)
    assert [(s.line, s.command, s.expected) for s in first] == [(3, "echo a", ["a"]), (5, "echo b \\\n  c", ["b c"])]
    assert matches(["Built in … s: 3 records.", ELLIPSIS, "end"], ["Built in 1.2 s: 3 records.", "x", "y", "end"])
    assert matches(["a", ELLIPSIS], ["a"]) and not matches(["a"], ["a", "b"])
    assert not matches(["Loaded 3 records (… triples/s)"], ["Loaded 4 records (12 triples/s)"])
    assert Step(1, "linkeddata fetch x  # exit 2").exit_status == 2 and Step(1, "serve &").background


def test_python_example_prints_what_the_readme_shows(tmp_path):
    from linkeddata.emulator import Emulator

    section = README[README.index("## Python"):README.index("## Notebooks")]
    code, expected = re.findall(r"```(?:python)?\n(.*?)```", section, re.DOTALL)[:2]
    with Emulator() as emulator:  # its own: other tests write to the shared one
        env = {**os.environ, **emulator.env(), "LINKEDDATA_NO_CACHE": "1"}
        out = subprocess.run([sys.executable, "-c", code.replace("ld.make_session()", "ld.make_session(cache=False)")],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == expected.strip().splitlines()


def test_readme_names_the_two_setup_commands_and_ci_runs_the_second():
    commands = re.findall(r"^   (python3 -m venv .venv && .*)$", README, re.MULTILINE)
    assert len(commands) == 2 and commands[0].endswith("linkeddata demo")
    ci = (TESTS.parent / ".ci" / "run").read_text("utf-8")
    assert commands[1] in ci
