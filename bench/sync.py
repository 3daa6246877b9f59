"""Sync and build scenarios of the benchmark (``python -m bench --scenarios sync-download,…``).

Each scenario runs in its own child process (see :mod:`bench`), which hosts the emulator
(``Emulator(size=N)``, so its request log counts what the client asked for) and runs the
measured client, ``linkeddata sync`` or ``build``, in a grandchild process that reports its own
peak RSS (``VmHWM``): the emulator's memory never mixes into the client's.

* ``sync-download``  first sync of ``--all`` by the gzipped download into an on-disk store,
  then pyoxigraph ``bulk_load`` of the same quads as N-Quads (the reference), best of two
  each; requests per 1000 records, throughput ratio, peak RSS
* ``sync-download-memory``  the same at ten times the size, once, for the 10x-records memory
  row (run after ``sync-download`` unless ``--no-memory``)
* ``sync-pages``     the same selection page by page, then the biggest library's
  ``itemAndInstance:<sigel>`` (requests per 100 records; dump pages counted apart)
* ``build-find``     ``linkeddata build`` of every instance by ``/find`` (split by publication year
  into queries under the 10000-hit window) with their holdings, without embellishment: requests
  per 100 hits, and the records and holdings per library checked against the emulator's corpus
* ``sync-follow``    a synced store (at most ``FOLLOW_SIZE`` generated records), then 10,000 changes (deletes, moves, repeated edits,
  rows sharing a millisecond) followed; compared graph for graph with a fresh sync
* ``sync-kill``      SIGKILL at >= 20 points during a dump load and >= 20 during a follow;
  the store is compared with the fault-free one
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FOLLOW_CHANGES = 10_000
#: Runs of the download sync and of the bulk-load reference; the best of each is compared.
ATTEMPTS = 2
#: The follow scenario's corpus size at most (its check compares canonical N-Quads of two stores).
FOLLOW_SIZE = 5000
KILLS = 20


def _env(emu: Any) -> dict[str, str]:
    env = {**os.environ, **emu.env(), "LINKEDDATA_NO_CACHE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    return env


#: Runs the CLI and reports its own peak RSS (``VmHWM``) on exit. ``ru_maxrss`` of a child is no
#: use here: Linux keeps it across ``execve``, so it would count the emulator's process it forked from.
LAUNCHER = """
import atexit, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("BENCH-PEAK-KB", line.split()[1], file=sys.stderr, flush=True)
atexit.register(peak)
from linkeddata.cli import main
sys.argv = ["linkeddata", *sys.argv[1:]]
main()
"""


def _cli(emu: Any, args: list[str], timeout: float = 3600) -> dict[str, Any]:
    """Run ``linkeddata ARGS`` in a grandchild: seconds, its peak RSS (MB), output."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *args], env=_env(emu), capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"linkeddata {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    peaks = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("BENCH-PEAK-KB")]
    return {"seconds": seconds, "peak_mb": (peaks[-1] / 1024.0) if peaks else float("nan"),
            "output": proc.stdout.strip(), "exit": proc.returncode}


def _count(emu: Any, start: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in emu.request_log[start:]:
        counts[entry.service] = counts.get(entry.service, 0) + 1
    return counts


def _store_stats(path: Path) -> dict[str, int]:
    from linkeddata.stores import open_store

    with open_store(path, read_only=True) as st:
        return {"graphs": len(st.graphs()), "triples": len(st.inner)}


def _digest(path: Path) -> str:
    """A digest of the store's canonical N-Quads (graph for graph, blank nodes canonicalised)."""
    from linkeddata.stores import open_store

    with open_store(path, read_only=True) as st:
        return hashlib.sha256(st.canonical_nquads().encode("utf-8")).hexdigest()


def _bulk_reference(store: Path, workdir: Path) -> dict[str, Any]:
    """pyoxigraph's own ``bulk_load`` of the same quads, from an N-Quads file."""
    from linkeddata.stores import open_store

    from .reference import time_bulk_load

    nq = workdir / "synced.nq"
    with open_store(store, read_only=True) as st:
        st.dump(nq)
    result = time_bulk_load(nq, workdir)
    nq.unlink()
    return result


def _sync_args(store: Path, *extra: str) -> list[str]:
    return ["sync", "--all", "--store", str(store), "--rate-limit", "0", "--no-organisations", "--quiet", *extra]


def _prepared(size: int) -> Any:
    from linkeddata.emulator import Emulator

    return Emulator(size=size, seed=42)


def _download_syncs(size: int, workdir: Path, attempts: int, reference: bool) -> dict[str, Any]:
    """``attempts`` first syncs of ``--all`` by the download, each into a new store and (with
    ``reference``) followed by the bulk-load reference; the fastest of each is reported."""
    with _prepared(size) as emu, tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        import requests

        # the emulator makes the dump file once (server work, outside the client's measured time)
        requests.get(emu.url("emm") + "/full?selection=all&download=x", timeout=3600).close()
        runs, bulks = [], []
        for attempt in range(attempts):  # alternating with the reference: the machine is shared
            store = Path(tmp) / f"kg{attempt}"
            start = len(emu.request_log)
            runs.append(_cli(emu, _sync_args(store)))
            requests_made = _count(emu, start)
            stats = _store_stats(store)
            if reference:
                bulks.append(_bulk_reference(store, Path(tmp)))
        run = min(runs, key=lambda r: r["seconds"])
    result = {"records": stats["graphs"], "triples": stats["triples"], "seconds": run["seconds"],
              "client_peak_mb": max(r["peak_mb"] for r in runs), "requests": requests_made, "output": run["output"]}
    if bulks:
        result["bulk"] = min(bulks, key=lambda r: r["seconds"])
    return result


def scenario_sync_download(size: int, workdir: Path) -> dict[str, Any]:
    return _download_syncs(size, workdir, ATTEMPTS, reference=True)


def scenario_sync_download_memory(size: int, workdir: Path) -> dict[str, Any]:
    """The download sync once, for its peak memory only (the 10x-records run: no reference)."""
    return _download_syncs(size, workdir, 1, reference=False)


def _dump_pages(emu: Any, start: int) -> int:
    return sum(1 for e in emu.request_log[start:] if e.service == "emm" and "offset" in (e.query or {}))


def scenario_sync_pages(size: int, workdir: Path) -> dict[str, Any]:
    """``--all`` page by page, then the biggest library's ``itemAndInstance:<sigel>`` page by page."""
    with _prepared(size) as emu, tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        store = Path(tmp) / "kg"
        start = len(emu.request_log)
        run = _cli(emu, _sync_args(store, "--pages"))
        requests_made = _count(emu, start)
        pages = _dump_pages(emu, start)
        stats = _store_stats(store)
        sigel = max(emu.corpus.sigels(), key=lambda s: len(emu.corpus.held_by(s)))
        holdings = len(emu.corpus.held_by(sigel))
        library_store = Path(tmp) / "library"
        start = len(emu.request_log)
        library_run = _cli(emu, ["sync", "--library", sigel, "--store", str(library_store), "--rate-limit", "0",
                                 "--no-organisations", "--quiet", "--pages"])
        library = {"sigel": sigel, "holdings": holdings, "records": _store_stats(library_store)["graphs"],
                   "requests": _count(emu, start), "pages": _dump_pages(emu, start), "seconds": library_run["seconds"]}
    return {"records": stats["graphs"], "triples": stats["triples"], "seconds": run["seconds"],
            "client_peak_mb": run["peak_mb"], "requests": requests_made, "pages": pages, "library": library}


#: Hits one ``/find`` query of the build-find scenario aims at (below the 10000 search window).
FIND_SPLIT = 8000
#: The generator's publication years (``Corpus``: 1950 + 0..74).
YEARS = (1950, 2025)


def _find_entries(size: int) -> list[str]:
    """``find`` entries of the build config: one query, or year ranges of about ``FIND_SPLIT`` hits
    each (``/find`` pages at most 10000 hits of one query, so a bigger build splits it)."""
    parts = -(-size // FIND_SPLIT)
    if parts <= 1:
        return ['{ q = "*", filters = { "@type" = "Instance" } }']
    lo, hi = YEARS
    bounds = [lo + round((hi - lo) * k / parts) for k in range(parts + 1)]
    return [f'{{ q = "*", filters = {{ "@type" = "Instance", "min-publication.year" = "{a}", '
            f'"maxEx-publication.year" = "{b}" }} }}' for a, b in zip(bounds, bounds[1:])]


def _expected_build(emu: Any, split: bool) -> tuple[int, dict[str, int]]:
    """What the build must hold, read from the emulator's corpus itself (not through ``/find``):
    the instances the queries select and the number of their holdings per library IRI."""
    from linkeddata.emulator.libris_find import _SUBCLASSES

    corpus = emu.corpus
    lo, hi = YEARS
    instances = 0
    per_library: dict[str, int] = {}
    for doc in list(corpus.records.values()):
        graph = doc["@graph"]
        entity = graph[1] if len(graph) > 1 else {}
        if entity.get("@type") not in _SUBCLASSES["Instance"]:
            continue
        years = [p.get("year") for p in entity.get("publication", []) if isinstance(p, dict)]
        if split and not any(str(y).isdigit() and lo <= int(y) < hi for y in years):
            continue
        instances += 1
        for hold in corpus.holdings_of_exact(entity["@id"]):
            library = corpus.records[hold]["@graph"][1]["heldBy"]["@id"]
            per_library[library] = per_library.get(library, 0) + 1
    return instances, per_library


def scenario_build_find(size: int, workdir: Path) -> dict[str, Any]:
    import re

    from linkeddata.query import results_to_records, run_query
    from linkeddata.stores import open_store

    entries = _find_entries(size)
    with _prepared(size) as emu, tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        config = Path(tmp) / "job.toml"
        config.write_text("[libris]\nfind = [\n  " + ",\n  ".join(entries) + "\n]\n"
                          "[organisations]\nisil_queries = []\n", "utf-8")
        store = Path(tmp) / "kg"
        start = len(emu.request_log)
        run = _cli(emu, ["build", str(config), "--store", str(store), "--quiet"], timeout=5400)
        requests_made = _count(emu, start)
        found = re.search(r"(\d+) bibliographic records, (\d+) holdings", run["output"])
        records, holdings = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
        with open_store(store, read_only=True) as st:
            table = {r["library"]: int(r["items"]) for r in results_to_records(run_query(st, "holdings-by-library"))}
        want_records, want_table = _expected_build(emu, len(entries) > 1)
    return {"hits": records, "holdings": holdings, "queries": len(entries), "seconds": run["seconds"],
            "client_peak_mb": run["peak_mb"], "requests": requests_made,
            "equal": records == want_records and table == want_table and holdings == sum(want_table.values()),
            "expected": {"records": want_records, "holdings": sum(want_table.values())},
            "output": run["output"].splitlines()[:2]}


def scenario_sync_follow(size: int, workdir: Path) -> dict[str, Any]:
    size = min(size, FOLLOW_SIZE)
    with _prepared(size) as emu, tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        followed, fresh = Path(tmp) / "followed", Path(tmp) / "fresh"
        _cli(emu, _sync_args(followed))
        made = emu.corpus.churn(FOLLOW_CHANGES, seed=7)
        start = len(emu.request_log)
        run = _cli(emu, _sync_args(followed))
        requests_made = _count(emu, start)
        emu.options["emm_dump_regenerate"] = True  # a dump taken after the changes
        _cli(emu, _sync_args(fresh))
        same = _digest(followed) == _digest(fresh)
        records = _store_stats(followed)["graphs"]
    return {"changes": FOLLOW_CHANGES, "records": records, "made": made, "seconds": run["seconds"], "client_peak_mb": run["peak_mb"],
            "requests": requests_made, "equal": same, "output": run["output"]}


def _kill_chain(emu: Any, args: list[str], kills: int, seed: str, store: Path | None = None,
                expected: str | None = None) -> tuple[int, int, bool]:
    """SIGKILL runs of ``args`` after a number of requests or at a random moment until ``kills``
    runs were really killed; ``(kills, attempts, every check equal)``. With ``store``, a run that
    finishes before enough kills is checked against ``expected`` and the store started afresh."""
    import shutil

    from linkeddata.testing.kills import kill_chain

    equal = True

    def fresh() -> None:
        nonlocal equal
        assert store is not None
        equal &= _digest(store) == expected
        shutil.rmtree(store)

    def spawn() -> subprocess.Popen[Any]:
        return subprocess.Popen([sys.executable, "-m", "linkeddata", *args], env=_env(emu),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    chain = kill_chain(spawn, emu.request_log, kills, seed=seed, finished=fresh if store is not None else None)
    return chain.killed, chain.attempts, equal


def scenario_sync_kill(size: int, workdir: Path) -> dict[str, Any]:
    from linkeddata.emulator import Emulator

    size = min(size, 300)
    out: dict[str, Any] = {}
    with Emulator(size=size, latency=0.002, emm_dump_page_size=3) as emu, \
            tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        reference, store = Path(tmp) / "reference", Path(tmp) / "killed"
        args_ref = _sync_args(reference, "--pages", "--batch-size", "20")
        args = _sync_args(store, "--pages", "--batch-size", "20")
        _cli(emu, args_ref)
        expected = _digest(reference)
        out["dump_kills"], out["dump_attempts"], earlier = _kill_chain(emu, args, KILLS, "dump", store, expected)
        _cli(emu, args)
        out["dump_equal"] = earlier and _digest(store) == expected
        emu.corpus.churn(900, seed=11)
        _cli(emu, args_ref)
        out["follow_kills"], out["follow_attempts"], _ = _kill_chain(emu, args, KILLS, "follow")
        _cli(emu, args)
        out["follow_equal"] = _digest(store) == _digest(reference)
    return out


SCENARIOS = {
    "sync-download": scenario_sync_download,
    "sync-download-memory": scenario_sync_download_memory,
    "sync-pages": scenario_sync_pages,
    "build-find": scenario_build_find,
    "sync-follow": scenario_sync_follow,
    "sync-kill": scenario_sync_kill,
}

#: The memory target compares a sync of this many records (or more) with one of ten times as many.
MEMORY_BASE_RECORDS = 100_000
#: What ``--scenarios sync`` runs (``sync-download-memory`` is the 10x-records run of ``sync-download``).
MEASURED = [name for name in SCENARIOS if name != "sync-download-memory"]

TARGETS = {
    "sync download requests per 1000 records": 1.0,
    "sync pages requests per 100 records": 1.0,
    "build requests per 100 hits": 1.0,
    "sync vs bulk_load": 0.7,
    "sync peak RSS MB": 500.0,
    "sync memory 10x records": 1.3,
}


def summarise(size: int, res: dict[str, dict[str, Any]], rows: list[dict[str, Any]], row: Any) -> None:
    """Rows of the sync scenarios for the bench table (``row`` is the bench's row helper)."""
    down = res.get("sync-download", {})
    if "records" in down:
        total = sum(down["requests"].values())
        per = total * 1000 / down["records"]
        row(rows, size, "sync download requests/1000 rec", f"{per:.2f}", "<= 1",
            per <= TARGETS["sync download requests per 1000 records"],
            note=f"{total} requests ({down['requests']}), {down['records']:,} records")
        rate = down["triples"] / down["seconds"]
        bulk_rate = down["bulk"]["triples"] / down["bulk"]["seconds"]
        ratio = rate / bulk_rate
        row(rows, size, "sync download vs bulk_load", f"{ratio:.2f}x", ">= 0.7x", ratio >= TARGETS["sync vs bulk_load"],
            note=f"{rate:,.0f} vs {bulk_rate:,.0f} triples/s, {down['triples']:,} triples")
        row(rows, size, "sync peak RSS MB (client)", f"{down['client_peak_mb']:.0f}", "< 500",
            down["client_peak_mb"] < TARGETS["sync peak RSS MB"])
    pages = res.get("sync-pages", {})
    if "records" in pages:
        total = sum(pages["requests"].values())
        per = total * 100 / pages["records"]
        row(rows, size, "sync pages requests/100 rec (all)", f"{per:.4f}", "<= 1",
            per <= TARGETS["sync pages requests per 100 records"],
            note=f"{total} requests = {pages['pages']} dump pages (100 ids each) + {total - pages['pages']} "
            f"change-feed catch-up, {pages['records']:,} records, {pages['seconds']:.0f} s")
        lib = pages["library"]
        total = sum(lib["requests"].values())
        per = total * 100 / lib["records"]
        row(rows, size, f"sync pages requests/100 rec (library {lib['sigel']})", f"{per:.2f}", "<= 1",
            per <= TARGETS["sync pages requests per 100 records"],
            note=f"{total} requests = {lib['pages']} dump pages + index + feed, {lib['holdings']:,} holdings "
            f"with their instances = {lib['records']:,} records ({total * 100 / lib['holdings']:.2f} per 100 holdings)")
    build = res.get("build-find", {})
    if "hits" in build:
        total = sum(build["requests"].values())
        per = total * 100 / build["hits"]
        row(rows, size, "build requests/100 hits", f"{per:.2f}", "<= 1", per <= TARGETS["build requests per 100 hits"],
            note=f"{total} requests ({build['requests']}) for {build['hits']:,} hits ({build['queries']} queries) "
            f"and {build['holdings']:,} holdings, {build['seconds']:.0f} s")
        row(rows, size, "build == emulator's counts", "yes" if build["equal"] else "NO", "equal", build["equal"],
            note=f"expected {build['expected']}")
    follow = res.get("sync-follow", {})
    if "equal" in follow:
        row(rows, size, "follow 10,000 changes == fresh sync", "yes" if follow["equal"] else "NO", "equal",
            follow["equal"], note=f"{sum(follow['requests'].values())} requests, {follow['seconds']:.0f} s, "
            f"{follow['records']:,} records, {follow['made']}")
    kill = res.get("sync-kill", {})
    if "dump_equal" in kill:
        ok = kill["dump_equal"] and kill["follow_equal"] and min(kill["dump_kills"], kill["follow_kills"]) >= KILLS
        row(rows, size, "sync kill -9 then re-run == fault-free", "yes" if ok else "NO", f">= {KILLS} kills each", ok,
            note=f"dump: {kill['dump_kills']} kills, equal {kill['dump_equal']}; "
            f"follow: {kill['follow_kills']} kills, equal {kill['follow_equal']}")
    for name, r in res.items():
        if name in SCENARIOS and "error" in r:
            row(rows, size, f"{name} FAILED", r["error"])


def memory_rows(small: int, base: dict[str, Any], big: dict[str, Any], rows: list[dict[str, Any]], row: Any) -> None:
    """The 10x-records row: the peak of the download sync of ``small`` (the measured run) against
    the one of ten times its size (``sync-download-memory``), both the client's own."""
    if "client_peak_mb" in base and "client_peak_mb" in big:
        growth = big["client_peak_mb"] / base["client_peak_mb"]
        # the target is the issue's: a sync of 100,000 records, then ten times that. A smaller sync
        # is a load or two and stays below the memory loads are sized for, so its ratio says less.
        judged = base["records"] >= MEMORY_BASE_RECORDS
        row(rows, small * 10, "memory 10x records (sync-download)", f"{growth:.2f}x RSS",
            "<= 1.3x" if judged else f"(from {MEMORY_BASE_RECORDS:,})",
            growth <= TARGETS["sync memory 10x records"] if judged else None,
            note=f"{base['client_peak_mb']:.0f} MB ({base['records']:,} records) -> {big['client_peak_mb']:.0f} MB "
            f"({big['records']:,} records, {big['triples'] / big['seconds']:,.0f} triples/s, "
            f"{sum(big['requests'].values())} requests)")
        row(rows, small * 10, "sync peak RSS MB (client)", f"{big['client_peak_mb']:.0f}", "< 500",
            big["client_peak_mb"] < TARGETS["sync peak RSS MB"])
    elif "error" in big:
        row(rows, small * 10, "sync-download-memory FAILED", big["error"])
