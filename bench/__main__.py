"""``python -m bench``: run the benchmark scenarios, print one table, write JSON. See bench/__init__.py."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

from . import TARGETS

HERE = Path(__file__).resolve().parent
#: Records the hand-written pyld path converts (it is slow); its throughput is per triple.
PYLD_RECORDS = 300
HARVEST_ITEMS = 120
CACHE_FETCHES = 60
#: Records per load_records transaction (the library's default).
BATCH = int(os.environ.get("BENCH_BATCH", "500"))


# ------------------------------------------------------------------ helpers (run in the child)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _jsonl_file(size: int, workdir: Path) -> Path:
    """The generated corpus as JSON lines (one record per line), made once per size."""
    path = workdir / f"corpus-{size}.jsonl"
    if not path.exists():
        from linkeddata.emulator.corpus import Corpus

        corpus = Corpus(size=size)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for doc in corpus.records.values():
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
        tmp.rename(path)
    return path


def _records(size: int, workdir: Path, limit: int | None = None) -> Iterator[Any]:
    """Records streamed from the JSON-lines corpus (so the loader's memory is what is measured)."""
    from linkeddata.jsonld import record_iri_of
    from linkeddata.records import Record

    with _jsonl_file(size, workdir).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if limit is not None and number >= limit:
                return
            doc = json.loads(line)
            yield Record(record_iri_of(doc), doc)


def scenario_prepare(size: int, workdir: Path) -> dict[str, Any]:
    """Generate the corpus files (JSON lines and N-Quads) outside the measured scenarios."""
    jsonl = _jsonl_file(size, workdir)
    nq = _nquads_file(size, workdir)
    return {"jsonl_bytes": jsonl.stat().st_size, "nquads_bytes": nq.stat().st_size}


def _nquads_file(size: int, workdir: Path) -> Path:
    """The corpus as N-Quads (one graph per record), made once per size and reused."""
    path = workdir / f"corpus-{size}.nq"
    if not path.exists():
        from linkeddata.store import open_store

        store = open_store(None)
        store.load_records(_records(size, workdir), batch_size=1000)
        tmp = path.with_suffix(".tmp")
        store.dump(tmp)
        tmp.rename(path)
    return path


def scenario_load_store(size: int, workdir: Path) -> dict[str, Any]:
    """KBV JSON-LD records → an on-disk store through ``LocalStore.load_records``."""
    from linkeddata.store import open_store

    _jsonl_file(size, workdir)
    with tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        store = open_store(Path(tmp) / "kg")
        started = time.perf_counter()
        stats = store.load_records(_records(size, workdir), batch_size=BATCH)
        store.flush()
        seconds = time.perf_counter() - started
        triples = len(store.inner)
        store.close()
        del store
    return {"records": stats.records, "triples": triples, "seconds": seconds, "skipped": len(stats.skipped)}


def scenario_load_bulk(size: int, workdir: Path) -> dict[str, Any]:
    import pyoxigraph as ox

    nq = _nquads_file(size, workdir)
    with tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        store = ox.Store(str(Path(tmp) / "kg"))
        started = time.perf_counter()
        store.bulk_load(path=str(nq), format=ox.RdfFormat.N_QUADS)
        store.flush()
        seconds = time.perf_counter() - started
        triples = len(store)
        del store
    return {"triples": triples, "seconds": seconds}


def scenario_load_pyld(size: int, workdir: Path) -> dict[str, Any]:
    import rdflib

    from linkeddata import jsonld

    records = list(_records(size, workdir, limit=PYLD_RECORDS))
    loader = jsonld.make_document_loader(offline=True)
    dataset = rdflib.Dataset()
    started = time.perf_counter()
    for record in records:
        text = jsonld.to_nquads(record.data, loader=loader, graph=record.iri)
        dataset.parse(data=text, format="nquads")
    seconds = time.perf_counter() - started
    triples = sum(1 for _ in dataset.quads((None, None, None, None)))
    return {"records": len(records), "triples": triples, "seconds": seconds}


def _queries() -> list[str]:
    return ["holdings-by-library", "holdings-of"]


def scenario_query(size: int, workdir: Path) -> dict[str, Any]:
    import rdflib

    from linkeddata.query import PREFIXES, resolve_query, run_query
    from linkeddata.store import open_store

    nq = _nquads_file(size, workdir)
    store = open_store(None)
    store.inner.load(path=str(nq), format=__import__("pyoxigraph").RdfFormat.N_QUADS)
    dataset = rdflib.Dataset(default_union=True)
    dataset.parse(str(nq), format="nquads")
    out: dict[str, Any] = {"triples": len(store.inner), "queries": {}}
    prologue = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())
    for name in _queries():
        text = resolve_query(name)
        started = time.perf_counter()
        local_rows = len(list(run_query(store, name)))
        local = time.perf_counter() - started
        started = time.perf_counter()
        body = text if "PREFIX kbv:" in text else prologue + text
        rdflib_rows = len(list(dataset.query(body)))
        remote = time.perf_counter() - started
        out["queries"][name] = {"local_s": local, "rdflib_s": remote, "rows": local_rows, "rdflib_rows": rdflib_rows}
    out["local_s"] = sum(q["local_s"] for q in out["queries"].values())
    out["rdflib_s"] = sum(q["rdflib_s"] for q in out["queries"].values())
    return out


def scenario_harvest(size: int, workdir: Path) -> dict[str, Any]:
    from linkeddata.emulator import Emulator
    from linkeddata.harvest import harvest_find
    from linkeddata.http import make_session
    from linkeddata.store import open_store

    out: dict[str, Any] = {}
    with Emulator(services=["libris"], latency=0.05, size=size) as emu:
        for concurrency in (1, 4):
            session = make_session(cache=False, rate_limit=None)
            with tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
                store = open_store(Path(tmp) / "kg")
                started = time.perf_counter()
                summary = harvest_find(store, {"q": "*", "@type": "Instance"}, max_items=HARVEST_ITEMS, full=True,
                                       concurrency=concurrency, page_size=50, resume=False, session=session,
                                       base_url=emu.url("libris"))
                seconds = time.perf_counter() - started
                store.close()
            session.close()
            out[f"c{concurrency}"] = {"seconds": seconds, "records": summary.records}
    return out


def scenario_cache(size: int, workdir: Path) -> dict[str, Any]:
    from linkeddata.emulator import Emulator
    from linkeddata.http import make_session
    from linkeddata.libris.read import fetch_record

    out: dict[str, Any] = {}
    with Emulator(services=["libris"], latency=0.02, size=size) as emu, \
            tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        ids = sorted(emu.corpus.records)[:CACHE_FETCHES]
        for label in ("cold", "warm"):
            session = make_session(cache=Path(tmp) / "http-cache.sqlite", rate_limit=None)
            started = time.perf_counter()
            for iri in ids:
                fetch_record(iri, session=session, base_url=emu.url("libris"))
            out[label] = time.perf_counter() - started
            session.close()
        out["fetches"] = len(ids)
        out["requests_to_server"] = len(emu.requests_to("libris"))
    return out


SCENARIOS = {
    "prepare": scenario_prepare,
    "load-store": scenario_load_store,
    "load-bulk": scenario_load_bulk,
    "load-pyld": scenario_load_pyld,
    "query": scenario_query,
    "harvest": scenario_harvest,
    "cache": scenario_cache,
}


# ------------------------------------------------------------------ the parent


def run_child(name: str, size: int, workdir: Path, timeout: float) -> dict[str, Any]:
    """Run one scenario in a fresh interpreter; its JSON result plus ``peak_mb``."""
    cmd = [sys.executable, "-m", "bench", "--scenario", name, "--size", str(size), "--workdir", str(workdir)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    lines = proc.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": f"no result from the scenario (stdout: {proc.stdout.strip()[-200:]!r})"}


def _rate(result: dict[str, Any]) -> float:
    return result["triples"] / result["seconds"] if result.get("seconds") else 0.0


def _row(rows: list[dict[str, Any]], size: int, metric: str, value: Any, target: str = "", ok: bool | None = None,
         note: str = "") -> None:
    rows.append({"size": size, "metric": metric, "value": value, "target": target,
                 "met": "" if ok is None else ("yes" if ok else "NO"), "note": note})


def summarise(size: int, res: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    store, bulk, pyld = res.get("load-store", {}), res.get("load-bulk", {}), res.get("load-pyld", {})
    for name, r in res.items():
        if "error" in r:
            _row(rows, size, f"{name} FAILED", r["error"])
    if "triples" in store:
        _row(rows, size, "load-store triples/s", f"{_rate(store):,.0f}", note=f"{store['triples']:,} triples")
    if "triples" in bulk:
        _row(rows, size, "load-bulk triples/s", f"{_rate(bulk):,.0f}")
    if "triples" in pyld:
        _row(rows, size, "pyld+rdflib triples/s", f"{_rate(pyld):,.0f}", note=f"first {pyld['records']} records")
    if "triples" in store and "triples" in bulk:
        ratio = _rate(store) / _rate(bulk)
        _row(rows, size, "load vs bulk_load", f"{ratio:.2f}x", ">= 0.5x", ratio >= TARGETS["load vs bulk_load"])
    if "triples" in store and "triples" in pyld:
        ratio = _rate(store) / _rate(pyld)
        _row(rows, size, "load vs pyld+rdflib", f"{ratio:.1f}x", ">= 8x", ratio >= TARGETS["load vs pyld+rdflib"])
    peaks = {n: r["peak_mb"] for n, r in res.items() if "peak_mb" in r}
    if "load-store" in peaks:
        _row(rows, size, "peak RSS load-store MB", f"{peaks['load-store']:.0f}", "< 500",
             peaks["load-store"] < TARGETS["peak RSS MB"],
             note=" ".join(f"{n}={v:.0f}" for n, v in peaks.items() if n != "load-store"))
    harvest = res.get("harvest", {})
    if "c1" in harvest:
        ratio = harvest["c1"]["seconds"] / harvest["c4"]["seconds"]
        _row(rows, size, "harvest c4 vs c1", f"{ratio:.1f}x", ">= 3x", ratio >= TARGETS["harvest c4 vs c1"],
             note=f"{harvest['c4']['records']} records, latency 0.05 s")
    query = res.get("query", {})
    if "local_s" in query:
        ratio = query["rdflib_s"] / query["local_s"] if query["local_s"] else float("inf")
        same = all(q["rows"] == q["rdflib_rows"] for q in query["queries"].values())
        _row(rows, size, "query vs rdflib", f"{ratio:.0f}x", ">= 20x", ratio >= TARGETS["query vs rdflib"],
             note=("same rows" if same else "ROW COUNTS DIFFER ") + f" ({query['local_s']:.3f} s vs {query['rdflib_s']:.2f} s)")
    cache = res.get("cache", {})
    if "warm" in cache:
        ratio = cache["cold"] / cache["warm"] if cache["warm"] else float("inf")
        _row(rows, size, "cache warm vs cold", f"{ratio:.1f}x", note=f"{cache['fetches']} fetches, "
             f"{cache['requests_to_server']} reached the server")


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = ["size", "metric", "value", "target", "met", "note"]
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    print("  ".join("-" * widths[c] for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="1000,5000", help="generated bibliographic records per corpus")
    parser.add_argument("--scenarios", default=",".join(n for n in SCENARIOS if n != "prepare"),
                        help="comma-separated subset")
    parser.add_argument("--no-memory", action="store_true", help="skip the 10x-records memory run")
    parser.add_argument("--json", dest="json_out", type=Path, help="also write the results here")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per scenario")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.scenario:  # child mode
        result = SCENARIOS[args.scenario](args.size, args.workdir)
        result["peak_mb"] = _peak_mb()
        print(json.dumps(result))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes:
        parser.error("--sizes needs at least one size")
    names = [s for s in args.scenarios.split(",") if s and s != "prepare"]
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "python": sys.version.split()[0],
                               "sizes": {}}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="linkeddata-bench-") as tmp:
        workdir = Path(tmp)
        for size in sizes:
            res = {}
            prep = run_child("prepare", size, workdir, args.timeout)
            if "error" in prep:
                print(f"[bench] preparing size {size} failed: {prep['error']}", file=sys.stderr)
            for name in names:
                print(f"[bench] size {size}: {name} …", file=sys.stderr, flush=True)
                res[name] = run_child(name, size, workdir, args.timeout)
            results["sizes"][size] = res
            summarise(size, res, rows)
        if not args.no_memory and "load-store" in names and sizes:
            small = sizes[0]
            run_child("prepare", small * 10, workdir, args.timeout)
            results["memory"] = {"size": small}
            for variant in ("load-store",):
                base = results["sizes"][small].get(variant) or run_child(variant, small, workdir, args.timeout)
                big = run_child(variant, small * 10, workdir, args.timeout)
                results["memory"][variant] = {"x1": base, "x10": big}
                if "peak_mb" in big and "peak_mb" in base:
                    growth = big["peak_mb"] / base["peak_mb"]
                    _row(rows, small * 10, f"memory 10x records ({variant})", f"{growth:.2f}x RSS", "<= 1.5x",
                         growth <= TARGETS["memory 10x records"],
                         note=f"{base['peak_mb']:.0f} MB -> {big['peak_mb']:.0f} MB, {_rate(big):,.0f} triples/s")
                else:
                    _row(rows, small * 10, f"memory 10x FAILED ({variant})", big.get("error") or base.get("error"))
    results["table"] = rows
    print_table(rows)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in [out_dir / f"{stamp}.json", *( [args.json_out] if args.json_out else [])]:
        path.write_text(json.dumps(results, indent=1, default=str) + "\n", "utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
