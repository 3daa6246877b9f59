"""``python -m bench``: run the benchmark scenarios, print one table, write JSON. See bench/__init__.py."""

from __future__ import annotations

import argparse
import contextlib
import io
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
from . import sync as sync_bench
from .reference import time_bulk_load

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
        from linkeddata.stores import open_store

        store = open_store(None)
        store.load_records(_records(size, workdir), batch_size=1000)
        tmp = path.with_suffix(".tmp")
        store.dump(tmp)
        tmp.rename(path)
    return path


def scenario_load_store(size: int, workdir: Path) -> dict[str, Any]:
    """KBV JSON-LD records → an on-disk store through ``LocalStore.load_records``."""
    from linkeddata.stores import open_store

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
    return time_bulk_load(_nquads_file(size, workdir), workdir)


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
    from linkeddata.stores import open_store

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
    from linkeddata.stores import open_store

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


# ------------------------------------------------------------------ one large JSON-LD file (issue 18)

#: Records rdflib's JSON-LD parser is given at most (it needs about 90 KB of memory per record).
RDFLIB_MAX = 20_000
KBV_CONTEXT_URL = "https://id.kb.se/context.jsonld"
_DOC_HEAD = '{"@context": "%s", "@graph": [\n' % KBV_CONTEXT_URL


def _generated_records(count: int) -> Iterator[tuple[str, list[Any]]]:
    """``count`` generated records (bibliographic and holdings), as (record IRI, nodes), in chunks
    of the emulator's generator with one seed each (so 1,000,000 records never sit in memory)."""
    from linkeddata.emulator.corpus import Corpus
    from linkeddata.jsonld import record_iri_of

    seen: set[str] = set()
    seed = 0
    while len(seen) < count:
        seed += 1
        corpus = Corpus(size=min(20_000, max(50, (count - len(seen)) // 2)), seed=1000 + seed)
        for doc in corpus.records.values():
            iri = record_iri_of(doc)
            if iri is None or iri in seen or not isinstance(doc.get("@graph"), list):
                continue
            seen.add(iri)
            yield iri, doc["@graph"]
            if len(seen) >= count:
                return
        del corpus


def _document(size: int, workdir: Path, flat: bool = False) -> Path:
    """One JSON-LD document of ``size`` records, ``@context`` by its published URL, one named
    graph per record (``flat``: the records' nodes side by side in one ``@graph``).

    The same records also go to ``doc-N.nq`` as N-Quads, converted by pyoxigraph's own
    JSON-LD parser (a few hundred records at a time, with the context inline), not by
    linkeddata's loader: the Oxigraph CLI then loads the same quads."""
    import pyoxigraph as ox

    from linkeddata.jsonld import kbv_context

    path = workdir / f"doc-{size}{'-flat' if flat else ''}.jsonld"
    if path.exists():
        return path
    nq = workdir / f"doc-{size}.nq"
    tmp, nq_tmp = path.with_suffix(".jsonld-tmp"), nq.with_suffix(".nq-tmp")
    context = json.dumps(kbv_context(), ensure_ascii=False)
    chunk: list[str] = []

    def convert(out: Any) -> None:
        text = '{"@context": ' + context + ', "@graph": [' + ",".join(chunk) + "]}"
        ox.serialize(ox.parse(text.encode("utf-8"), format=ox.RdfFormat.JSON_LD), out, format=ox.RdfFormat.N_QUADS)
        chunk.clear()

    with tmp.open("w", encoding="utf-8") as out, contextlib.ExitStack() as stack:
        nq_out = None if flat or nq.exists() else stack.enter_context(nq_tmp.open("wb"))
        out.write(_DOC_HEAD)
        for number, (iri, nodes) in enumerate(_generated_records(size)):
            if number:
                out.write(",\n")
            graph = json.dumps({"@id": iri, "@graph": nodes}, ensure_ascii=False)
            if flat:
                out.write(",\n".join(json.dumps(node, ensure_ascii=False) for node in nodes))
            else:
                out.write(graph)
            if nq_out is not None:
                chunk.append(graph)
                if len(chunk) >= 500:
                    convert(nq_out)
        out.write("\n]}\n")
        if nq_out is not None and chunk:
            convert(nq_out)
    tmp.rename(path)
    if nq_tmp.exists():
        nq_tmp.rename(nq)
    return path


def _document_nquads(size: int, workdir: Path) -> Path:
    """The N-Quads made with the document (see :func:`_document`)."""
    path = workdir / f"doc-{size}.nq"
    if not path.exists():
        (workdir / f"doc-{size}.jsonld").unlink(missing_ok=True)
        _document(size, workdir)
    return path


class _InlineContext(io.RawIOBase):
    """The document with its ``@context`` URL replaced by the (pinned, repaired) KBV context."""

    def __init__(self, path: Path):
        from linkeddata.jsonld import kbv_context

        self.head = ('{"@context": ' + json.dumps(kbv_context(), ensure_ascii=False) + ', "@graph": [\n').encode()
        self.handle = path.open("rb")
        assert self.handle.read(len(_DOC_HEAD)) == _DOC_HEAD.encode()

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        if self.head:
            chunk, self.head = self.head[:len(target)], self.head[len(target):]
        else:
            chunk = self.handle.read(len(target))
        target[:len(chunk)] = chunk
        return len(chunk)


def _inline_document(size: int, workdir: Path) -> Path:
    """The document with the context inline (rdflib would fetch the URL)."""
    path = workdir / f"doc-{size}-inline.jsonld"
    if not path.exists():
        with io.BufferedReader(_InlineContext(_document(size, workdir)), 1 << 20) as source, \
                path.with_suffix(".tmp").open("wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        path.with_suffix(".tmp").rename(path)
    return path


def _run_measured(cmd: list[str], timeout: float = 3600) -> dict[str, Any]:
    """Run a command; its wall-clock seconds (start-up included), peak RSS and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024.0, "exit": proc.returncode,
                "stdout": out.read().decode("utf-8", "replace"), "stderr": err.read().decode("utf-8", "replace")}


def _disk_mb(path: Path) -> float:
    """Size of a store on disk (hard-linked files, as in snapshots, counted once)."""
    sizes = {(st.st_dev, st.st_ino): st.st_size for st in (f.stat() for f in path.rglob("*") if f.is_file())}
    return sum(sizes.values()) / 1e6


def _stored_quads(path: Path) -> int:
    import pyoxigraph as ox

    return len(ox.Store.read_only(str(path)))


def _prepare_file(size: int, workdir: Path) -> dict[str, Any]:
    doc = _document(size, workdir)
    nq = _document_nquads(size, workdir)
    return {"doc_bytes": doc.stat().st_size, "nquads_bytes": nq.stat().st_size}


def _linkeddata_file(size: int, workdir: Path, flat: bool) -> dict[str, Any]:
    doc = _document(size, workdir, flat=flat)
    with tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        run = _run_measured([sys.executable, "-m", "linkeddata", "load", str(doc), "--store", f"{tmp}/kg", "-q"])
        if run["exit"] != 0:
            return {"error": f"linkeddata load exit {run['exit']}: {run['stderr'].strip()[-300:]}"}
        triples = _stored_quads(Path(tmp) / "kg")
        disk = _disk_mb(Path(tmp) / "kg")
    return {"records": size, "triples": triples, "seconds": run["seconds"], "rss_mb": run["rss_mb"],
            "disk_mb": disk, "summary": run["stdout"].strip()}


def scenario_file_linkeddata(size: int, workdir: Path) -> dict[str, Any]:
    """``linkeddata load doc.jsonld`` (one named graph per record), a whole process."""
    return _linkeddata_file(size, workdir, flat=False)


def scenario_file_flat(size: int, workdir: Path) -> dict[str, Any]:
    """``linkeddata load`` of the same records as one flat ``@graph``."""
    return _linkeddata_file(size, workdir, flat=True)


def scenario_file_oxigraph(size: int, workdir: Path) -> dict[str, Any]:
    """The Oxigraph CLI's ``oxigraph load`` of the same quads as N-Quads, a whole process."""
    import shutil

    nq = _document_nquads(size, workdir)
    cli = shutil.which("oxigraph") or str(Path(sys.executable).with_name("oxigraph"))
    if not Path(cli).exists():
        return {"error": "no oxigraph CLI (pip install 'linkeddata[server]')"}
    with tempfile.TemporaryDirectory(dir=workdir, ignore_cleanup_errors=True) as tmp:
        run = _run_measured([cli, "load", "--location", f"{tmp}/kg", "--file", str(nq)])
        if run["exit"] != 0:
            return {"error": f"oxigraph load exit {run['exit']}: {run['stderr'].strip()[-300:]}"}
        triples = _stored_quads(Path(tmp) / "kg")
        disk = _disk_mb(Path(tmp) / "kg")
    return {"triples": triples, "seconds": run["seconds"], "rss_mb": run["rss_mb"], "disk_mb": disk}


RDFLIB_CHILD = """
import sys, rdflib
dataset = rdflib.Dataset()
dataset.parse(sys.argv[1], format="json-ld")
print(sum(1 for _ in dataset.quads((None, None, None, None))))
"""


def scenario_file_rdflib(size: int, workdir: Path) -> dict[str, Any]:
    """rdflib's own JSON-LD parser on the document (at most :data:`RDFLIB_MAX` records), a whole process;
    its linkeddata counterpart is loaded too so the triple counts can be compared."""
    records = min(size, RDFLIB_MAX)
    doc = _inline_document(records, workdir)
    run = _run_measured([sys.executable, "-c", RDFLIB_CHILD, str(doc)])
    if run["exit"] != 0:
        return {"error": f"rdflib exit {run['exit']}: {run['stderr'].strip()[-300:]}"}
    same = _linkeddata_file(records, workdir, flat=False) if records != size else None
    return {"records": records, "triples": int(run["stdout"].strip().splitlines()[-1]), "seconds": run["seconds"],
            "rss_mb": run["rss_mb"], "linkeddata_triples": same["triples"] if same else None}


def summarise_file(size: int, res: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Rows for the large-file scenarios (issue 18's targets)."""
    ld, flat, oxi, rdf = (res.get(n, {}) for n in ("file-linkeddata", "file-flat", "file-oxigraph", "file-rdflib"))
    for label, r in (("linkeddata load", ld), ("linkeddata load (flat @graph)", flat), ("oxigraph load (N-Quads)", oxi),
                     ("rdflib JSON-LD parser", rdf)):
        if "seconds" in r:
            note = f"{r['triples']:,} triples, peak RSS {r['rss_mb']:.0f} MB"
            if "disk_mb" in r:
                note += f", store {r['disk_mb']:.0f} MB"
            if label.startswith("rdflib") and r["records"] != size:
                note += f", first {r['records']:,} records"
            _row(rows, size, f"{label} s", f"{r['seconds']:.1f}", note=note)
    if "seconds" in ld and "seconds" in oxi:
        ratio = oxi["seconds"] / ld["seconds"]
        same = "same triples" if ld["triples"] == oxi["triples"] else f"TRIPLES DIFFER ({ld['triples']} vs {oxi['triples']})"
        _row(rows, size, "load file vs oxigraph CLI", f"{ratio:.2f}x", ">= 0.7x", ratio >= TARGETS["load file vs oxigraph CLI"],
             note=same)
    if "seconds" in flat and "seconds" in oxi:
        ratio = oxi["seconds"] / flat["seconds"]
        same = "same triples" if flat["triples"] == oxi["triples"] else "TRIPLES DIFFER"
        _row(rows, size, "load flat file vs oxigraph CLI", f"{ratio:.2f}x", note=same)
    if "seconds" in ld and "seconds" in rdf:
        ours = ld["triples"] / ld["seconds"]
        theirs = rdf["triples"] / rdf["seconds"]
        ratio = ours / theirs
        reference = rdf.get("linkeddata_triples") or ld["triples"]
        same = "same triples" if reference == rdf["triples"] else f"TRIPLES DIFFER ({reference} vs {rdf['triples']})"
        _row(rows, size, "load file vs rdflib (triples/s)", f"{ratio:.1f}x", ">= 4x", ratio >= TARGETS["load file vs rdflib"],
             note=same)
    if "rss_mb" in ld:
        _row(rows, size, "peak RSS linkeddata load MB", f"{ld['rss_mb']:.0f}", "< 500", ld["rss_mb"] < TARGETS["peak RSS MB"])


SCENARIOS = {
    "prepare": scenario_prepare,
    "load-store": scenario_load_store,
    "load-bulk": scenario_load_bulk,
    "load-pyld": scenario_load_pyld,
    "query": scenario_query,
    "harvest": scenario_harvest,
    "cache": scenario_cache,
    "prepare-file": _prepare_file,
    "file-linkeddata": scenario_file_linkeddata,
    "file-flat": scenario_file_flat,
    "file-oxigraph": scenario_file_oxigraph,
    "file-rdflib": scenario_file_rdflib,
}
#: The default scenarios; the sync and build ones (``--scenarios sync``) are added below.
DEFAULT_SCENARIOS = [n for n in SCENARIOS if not n.startswith("prepare")]
SCENARIOS.update(sync_bench.SCENARIOS)


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
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help="comma-separated subset; 'sync' stands for all sync and build scenarios")
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
    names = [s for s in args.scenarios.split(",") if s and not s.startswith("prepare")]
    names = [n for s in names for n in (sync_bench.MEASURED if s == "sync" else [s])]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_SCENARIOS)}, sync")
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "python": sys.version.split()[0],
                               "sizes": {}}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="linkeddata-bench-") as tmp:
        workdir = Path(tmp)
        for size in sizes:
            res = {}
            prep: dict[str, Any] = {}
            if any(not n.startswith("file-") and n not in sync_bench.SCENARIOS for n in names):
                prep = run_child("prepare", size, workdir, args.timeout)
                if "error" in prep:
                    print(f"[bench] preparing size {size} failed: {prep['error']}", file=sys.stderr)
            if any(n.startswith("file-") for n in names):
                print(f"[bench] size {size}: writing the JSON-LD document and its N-Quads …", file=sys.stderr, flush=True)
                prep = run_child("prepare-file", size, workdir, args.timeout)
                if "error" in prep:
                    print(f"[bench] preparing the document of {size} failed: {prep['error']}", file=sys.stderr)
            for name in names:
                print(f"[bench] size {size}: {name} …", file=sys.stderr, flush=True)
                res[name] = run_child(name, size, workdir, args.timeout)
            results["sizes"][size] = res
            summarise(size, res, rows)
            summarise_file(size, res, rows)
            sync_bench.summarise(size, res, rows, _row)
        file_rss = {size: r["file-linkeddata"]["rss_mb"] for size, r in results["sizes"].items()
                    if "rss_mb" in r.get("file-linkeddata", {})}
        for size in file_rss:
            if size * 10 in file_rss:
                growth = file_rss[size * 10] / file_rss[size]
                _row(rows, size * 10, "memory 10x records (linkeddata load)", f"{growth:.2f}x RSS", "<= 1.3x",
                     growth <= TARGETS["memory 10x records (file)"],
                     note=f"{file_rss[size]:.0f} MB -> {file_rss[size * 10]:.0f} MB")
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
        if not args.no_memory and "sync-download" in names and sizes:
            small = sizes[0]
            base = results["sizes"][small].get("sync-download") or {}
            print(f"[bench] size {small * 10}: sync-download-memory …", file=sys.stderr, flush=True)
            big = run_child("sync-download-memory", small * 10, workdir, args.timeout * 4)
            results.setdefault("memory", {})["sync-download"] = {"x1": base, "x10": big}
            sync_bench.memory_rows(small, base, big, rows, _row)
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
