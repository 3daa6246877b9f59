"""Benchmarks for linkeddata (not tests): ``python -m bench [--sizes 1000,5000] [--json out.json]``.

Every scenario runs in its own child process (``python -m bench --scenario NAME --size N``),
which prints one JSON line with its timings and its peak RSS (``resource.getrusage``),
so the memory numbers of one scenario never include another's. The parent prints a
table of throughputs and ratios and writes the JSON to ``bench/results/<timestamp>.json``.

Scenarios (corpora come from the emulator's record generator, ``Corpus(size=N)``):

* ``load-store``   LocalStore.load_records in batches (on disk)
* ``load-bulk``    pyoxigraph ``bulk_load`` of the same triples as N-Quads (on disk)
* ``load-pyld``    the hand-written path: pyld ``to_rdf`` per record → rdflib Dataset
* ``harvest``      ``harvest_find(full=True)`` against ``Emulator(latency=0.05)``, concurrency 1 vs 4
* ``query``        bundled join queries: local store vs rdflib over the same quads
* ``cache``        a repeated fetch loop with a cold vs a warm HTTP cache
* ``file-linkeddata``  ``linkeddata load`` of ONE JSON-LD document of N records (named graph per
                   record, ``@context`` by URL), a whole process (start-up included)
* ``file-flat``    the same records as one flat ``@graph``
* ``file-oxigraph``    the Oxigraph CLI's ``oxigraph load`` of the same quads as N-Quads (made by
                   pyoxigraph's own JSON-LD parser, not by linkeddata)
* ``file-rdflib``  rdflib's own JSON-LD parser on the document (at most 20,000 records)

For the ``file-*`` scenarios a size is a number of records (for the others, the number of
generated bibliographic records, each with 1-3 holdings).
"""

from __future__ import annotations

#: The targets of the performance issue, used to mark each ratio as met or missed.
TARGETS = {
    "load vs bulk_load": 0.5,
    "load vs pyld+rdflib": 8.0,
    "memory 10x records": 1.5,  # upper bound on the RSS growth factor
    "peak RSS MB": 500.0,  # upper bound
    "harvest c4 vs c1": 3.0,
    "query vs rdflib": 20.0,
    "load file vs oxigraph CLI": 0.7,
    "load file vs rdflib": 4.0,
    "memory 10x records (file)": 1.3,  # upper bound on the RSS growth factor
}
