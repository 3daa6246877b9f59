"""Notebook helpers: typed DataFrames, the %%sparql magic, maps, rdflib interop."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import pyoxigraph as ox
import pytest

pd = pytest.importorskip("pandas")

from linkeddata import notebook as nb  # noqa: E402
from linkeddata.errors import InvalidInputError, LinkedDataError  # noqa: E402
from linkeddata.records import Record  # noqa: E402
from linkeddata.stores import open_store  # noqa: E402

XSD = "http://www.w3.org/2001/XMLSchema#"


def _vals(column) -> list:
    """A column's values with every missing value as None (and checked to be a real NA)."""
    return [None if pd.isna(v) else v for v in column]


def _typed_query(values: str) -> str:
    return f"SELECT ?v WHERE {{ VALUES ?v {{ {values} UNDEF }} }}"


@pytest.fixture
def mem():
    return open_store(None)


def _record(short: str, title: str, year: str, sigels: list[str]) -> list[Record]:
    iri = f"https://libris.kb.se/{short}"
    bib = {"@graph": [
        {"@id": iri, "@type": "Record", "mainEntity": {"@id": iri + "#it"}},
        {"@id": iri + "#it", "@type": "Print",
         "hasTitle": [{"@type": "Title", "mainTitle": title}],
         "publication": [{"@type": "PrimaryPublication", "year": year}],
         "instanceOf": {"@type": "Text",
                        "contribution": [{"@type": "PrimaryContribution",
                                          "agent": {"@type": "Person", "givenName": "Maja", "familyName": "Lindqvist"}},
                                         {"@type": "Contribution", "agent": {"@id": "https://libris.kb.se/q8wz3hbn1c5vk2r#it"}}],
                        "subject": [{"@id": "https://id.kb.se/term/sao/Sj%C3%B6fart"},
                                    {"@type": "Topic", "prefLabel": "Hamnar"}]}},
    ]}
    out = [Record(iri, bib)]
    for n, sigel in enumerate(sigels):
        hold = f"https://libris.kb.se/h{short[1:]}{n}"
        out.append(Record(hold, {"@graph": [
            {"@id": hold, "@type": "Record", "mainEntity": {"@id": hold + "#it"}},
            {"@id": hold + "#it", "@type": "Item", "itemOf": {"@id": iri + "#it"},
             "heldBy": {"@id": f"https://libris.kb.se/library/{sigel}"}}]}))
    return out


# ---------------------------------------------------------------- to_dataframe types


@pytest.mark.parametrize("values, dtype, expected", [
    ('1 "42"^^xsd:int -7', "Int64", [1, 42, -7]),
    ('"5"^^xsd:nonNegativeInteger "300"^^xsd:unsignedShort', "Int64", [5, 300]),
    ('1.5 "2"^^xsd:double "0.25"^^xsd:float', "float64", [1.5, 2.0, 0.25]),
    ("true false", "boolean", [True, False]),
])
def test_numeric_and_boolean_columns(mem, values, dtype, expected):
    df = nb.query_df(mem, _typed_query(values))
    assert str(df["v"].dtype) == dtype
    assert df["v"].iloc[:-1].tolist() == expected
    assert pd.isna(df["v"].iloc[-1])


def test_date_column(mem):
    df = nb.query_df(mem, _typed_query('"2021-03-04"^^xsd:date "1999-12-31"^^xsd:date'))
    assert pd.api.types.is_datetime64_any_dtype(df["v"])
    assert df["v"].iloc[0] == pd.Timestamp("2021-03-04")
    assert pd.isna(df["v"].iloc[2])


def test_datetime_with_one_offset_is_tz_aware(mem):
    df = nb.query_df(mem, _typed_query('"2020-08-24T11:56:03.142+02:00"^^xsd:dateTime '
                                       '"2021-01-02T03:04:05+02:00"^^xsd:dateTime'))
    col = df["v"]
    assert col.dt.tz is not None and col.iloc[0].utcoffset() == dt.timedelta(hours=2)
    assert col.iloc[0] == pd.Timestamp("2020-08-24T09:56:03.142Z")


def test_datetime_mixed_offsets_become_utc(mem):
    df = nb.query_df(mem, _typed_query('"2020-08-24T11:00:00+02:00"^^xsd:dateTime '
                                       '"2020-12-24T11:00:00+01:00"^^xsd:dateTime '
                                       '"2020-12-25T08:00:00Z"^^xsd:dateTime'))
    assert str(df["v"].dt.tz) == "UTC"
    assert df["v"].iloc[1] == pd.Timestamp("2020-12-24T10:00:00Z")


def test_naive_datetime_stays_naive(mem):
    df = nb.query_df(mem, _typed_query('"2020-08-24T11:00:00"^^xsd:dateTime'))
    assert pd.api.types.is_datetime64_any_dtype(df["v"]) and df["v"].dt.tz is None


def test_iris_strings_and_mixed_columns(mem):
    df = nb.query_df(mem, 'SELECT ?a ?b WHERE { VALUES (?a ?b) { (<https://libris.kb.se/x1> 1) '
                          '("text" "2"^^xsd:date) (UNDEF UNDEF) } }')
    assert _vals(df["a"]) == ["https://libris.kb.se/x1", "text", None]
    assert df["b"].tolist()[:2] == ["1", "2"]  # mixed types stay text
    assert df["b"].iloc[2] is pd.NA and str(df["a"].dtype) == str(df["b"].dtype) == "string"


def test_invalid_lexical_value_falls_back_to_text(mem):
    df = nb.query_df(mem, _typed_query('"abc"^^xsd:integer 3'))
    assert _vals(df["v"]) == ["abc", "3", None]


@pytest.mark.parametrize("mode, expected", [
    ("column", {"t": ["Fjäll", "Mountain", "plain", None], "t_lang": ["sv", "en", None, None]}),
    ("keep", {"t": ["Fjäll@sv", "Mountain@en", "plain", None]}),
    ("drop", {"t": ["Fjäll", "Mountain", "plain", None]}),
])
def test_language_tags(mem, mode, expected):
    df = nb.query_df(mem, 'SELECT ?t WHERE { VALUES ?t { "Fjäll"@sv "Mountain"@en "plain" UNDEF } }', lang=mode)
    assert {c: _vals(df[c]) for c in df.columns} == expected


def test_lang_mode_checked(mem):
    with pytest.raises(InvalidInputError):
        nb.query_df(mem, "SELECT ?x WHERE {}", lang="nope")


def test_sparql_json_results():
    doc = {"head": {"vars": ["lib", "n", "name", "when"]}, "results": {"bindings": [
        {"lib": {"type": "uri", "value": "https://libris.kb.se/library/Q"},
         "n": {"type": "literal", "datatype": XSD + "integer", "value": "3"},
         "name": {"type": "literal", "xml:lang": "sv", "value": "Testbiblioteket"},
         "when": {"type": "literal", "datatype": XSD + "date", "value": "2022-02-02"}},
        {"lib": {"type": "bnode", "value": "b0"}},
    ]}}
    df = nb.to_dataframe(json.dumps(doc))
    assert df["lib"].tolist() == ["https://libris.kb.se/library/Q", "_:b0"]
    assert str(df["n"].dtype) == "Int64" and df["n"].iloc[0] == 3 and pd.isna(df["n"].iloc[1])
    assert _vals(df["name_lang"]) == ["sv", None]
    assert df["when"].iloc[0] == pd.Timestamp("2022-02-02")


def test_not_results():
    with pytest.raises(LinkedDataError):
        nb.to_dataframe({"foo": 1})
    with pytest.raises(InvalidInputError):
        nb.to_dataframe(42)


def test_empty_results(mem):
    df = nb.query_df(mem, "SELECT ?a ?b WHERE { FILTER(false) }")
    assert list(df.columns) == ["a", "b"] and len(df) == 0


def test_bundled_query_with_params(mem):
    mem.load_records(_record("b1xq", "Hamnarnas historia", "1988", ["Q", "R"]))
    df = nb.query_df(mem, "instances")
    assert df["title"].tolist() == ["Hamnarnas historia"]
    assert str(df["holdings"].dtype) == "Int64" and df["holdings"].iloc[0] == 2


def test_polars_backend(mem):
    pl = pytest.importorskip("polars")
    df = nb.query_df(mem, 'SELECT ?n ?t WHERE { VALUES (?n ?t) { (1 "a"@sv) (UNDEF UNDEF) } }', backend="polars")
    assert isinstance(df, pl.DataFrame)
    assert df["n"].to_list() == [1, None] and df["t_lang"].to_list() == ["sv", None]


# ---------------------------------------------------------------- frame_instances


def test_frame_instances(mem):
    mem.load_records(_record("b1xq", "Hamnarnas historia", "c1988", ["Q", "R"]) + _record("b2zr", "Ankare", "2001", []))
    df = nb.frame_instances(mem)
    assert df["title"].tolist() == ["Ankare", "Hamnarnas historia"]
    assert df["year"].tolist() == [2001, 1988] and str(df["year"].dtype) == "Int64"
    row = df.iloc[1]
    assert set(row["contributors"].split("; ")) == {"Maja Lindqvist", "q8wz3hbn1c5vk2r"}
    assert set(row["subjects"].split("; ")) == {"Sjöfart", "Hamnar"}
    assert set(row["libraries"].split(", ")) == {"Q", "R"}
    assert df.iloc[0]["libraries"] is pd.NA and df.iloc[0]["library_names"] is pd.NA


def test_frame_instances_names_libraries_without_an_organisation_record(mem):
    """One library without an organisation record does not blank the others' names."""
    org = {"@graph": [{"@id": "https://libris.kb.se/library/Q", "@type": "Library",
                       "http://schema.org/name": "Qvarnbergs bibliotek"}]}
    mem.load_records(_record("b1xq", "Hamnarnas historia", "1988", ["R", "Q"])
                     + [Record("https://libris.kb.se/library/Q", org)])
    row = nb.frame_instances(mem).iloc[0]
    assert row["libraries"] == "Q, R"
    assert row["library_names"] == "Qvarnbergs bibliotek; R"  # aligned with libraries, sigel when unnamed


def test_year_has_one_dtype_whichever_function_made_it(mem):
    mem.load_records(_record("b1xq", "Hamnarnas historia", "c1988", []) + _record("b2zr", "Ankare", "19uu", []))
    framed = nb.frame_instances(mem)
    queried = nb.query_df(mem, "SELECT ?title ?year WHERE { ?i kbv:hasTitle/kbv:mainTitle ?title . "
                               "OPTIONAL { ?i kbv:publication/kbv:year ?year } } ORDER BY ?title")
    assert str(framed["year"].dtype) == str(queried["year"].dtype) == "Int64"
    assert _vals(queried["year"]) == _vals(framed["year"]) == [None, 1988]  # "19uu" has no year: missing
    assert str(nb.query_df(mem, "SELECT ?year WHERE { ?i kbv:publication/kbv:year ?year }",
                           years=())["year"].dtype) == "string"
    assert str(framed["title"].dtype) == str(queried["title"].dtype) == "string"


def test_missing_values_never_render_as_the_text_none(mem):
    mem.load_records(_record("b2zr", "Ankare", "2001", []))
    frame = nb.frame_instances(mem)
    html = frame.to_html()
    assert "None" not in html and "&lt;NA&gt;" in html
    assert frame.isna().sum()["libraries"] == 1


def test_public_names_importable_from_linkeddata():
    import linkeddata as ld

    assert ld.to_dataframe is nb.to_dataframe and ld.to_rdflib is nb.to_rdflib
    assert ld.from_rdflib is nb.from_rdflib and ld.frame_instances is nb.frame_instances
    assert {"to_dataframe", "to_rdflib", "from_rdflib", "progress"} <= set(ld.__all__)


def test_frame_instances_from_documents():
    docs = [r.data for r in _record("b3kk", "Fyrar", "1950", [])]
    df = nb.frame_instances(docs[:1])
    assert df["title"].tolist() == ["Fyrar"] and df["year"].iloc[0] == 1950


# ---------------------------------------------------------------- magic


@pytest.fixture
def shell():
    ipython = pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "linkeddata")
    yield sh
    assert ipython


def test_cell_magic_on_store_path(shell, tmp_path):
    path = tmp_path / "store"
    st = open_store(path)
    st.load_records(_record("b1xq", "Hamnarnas historia", "1988", ["Q"]))
    st.flush()
    df = shell.run_cell_magic("sparql", f"--store {path} -o titles --param 'year=\"1988\"'",
                              "SELECT ?title WHERE { ?i kbv:hasTitle/kbv:mainTitle ?title ; "
                              "kbv:publication/kbv:year ?year }")
    assert df["title"].tolist() == ["Hamnarnas historia"]
    assert shell.user_ns["titles"] is df


def test_line_magic_bundled_query_and_store_variable(shell, mem):
    mem.load_records(_record("b1xq", "Hamnarnas historia", "1988", ["Q", "R"]))
    shell.user_ns["mystore"] = mem
    df = shell.run_line_magic("sparql", "holdings-by-library --store mystore")
    assert sorted(df["isil"].tolist()) == ["SE-Q", "SE-R"]
    assert str(df["items"].dtype) == "Int64"


def test_magic_errors_are_usage_errors(shell):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError):
        shell.run_line_magic("sparql", "no-such-query --store mystore_missing_dir_xyz --bogus")


def test_magic_falls_back_to_read_only_when_locked(tmp_path, monkeypatch):
    from linkeddata import stores as store_mod
    from linkeddata.errors import StoreLockedError

    path = tmp_path / "locked"
    st = open_store(path)
    st.load_records(_record("b1xq", "Hamnarnas historia", "1988", []))
    st.close()
    real = store_mod.open_store
    calls = []

    def fake(p=None, read_only=False):
        calls.append(read_only)
        if not read_only:
            raise StoreLockedError("locked by another process")
        return real(p, read_only=True)

    monkeypatch.setattr(store_mod, "open_store", fake)
    df = nb.run_sparql_magic(f"instances --store {path}")
    assert calls == [False, True] and df["title"].tolist() == ["Hamnarnas historia"]


class _Endpoint(http.server.BaseHTTPRequestHandler):
    store: ox.Store

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        assert self.headers["Content-Type"].startswith("application/sparql-query")
        data = self.store.query(body).serialize(format=ox.QueryResultsFormat.JSON)
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_endpoint_mode(shell):
    inner = ox.Store()
    inner.add(ox.Quad(ox.NamedNode("https://libris.kb.se/library/Q"), ox.NamedNode("http://schema.org/name"),
                      ox.Literal("Testbiblioteket", language="sv")))
    handler = type("H", (_Endpoint,), {"store": inner})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sparql"
        df = shell.run_cell_magic("sparql", f"--endpoint {url} --param lib=https://libris.kb.se/library/Q",
                                  "SELECT ?name WHERE { ?lib <http://schema.org/name> ?name }")
        assert df.to_dict("records") == [{"name": "Testbiblioteket", "name_lang": "sv"}]
    finally:
        server.shutdown()
        server.server_close()


def test_endpoint_mode_posts_to_the_endpoint_url_itself():
    inner = ox.Store()
    inner.add(ox.Quad(ox.NamedNode("https://libris.kb.se/library/Q"), ox.NamedNode("http://schema.org/name"),
                      ox.Literal("Testbiblioteket")))
    paths: list[str] = []

    class Recording(_Endpoint):
        store = inner

        def do_POST(self):  # noqa: N802
            paths.append(self.path.split("?", 1)[0])
            super().do_POST()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/ds/sparql"
        df = nb.query_df(None, "SELECT ?name WHERE { ?lib <http://schema.org/name> ?name }", endpoint=url)
        assert df["name"].tolist() == ["Testbiblioteket"]
        assert nb.endpoint_query(url, "ASK { ?s ?p ?o }")["boolean"] is True
        assert paths == ["/ds/sparql", "/ds/sparql"]  # not /ds/sparql/query
    finally:
        server.shutdown()
        server.server_close()


def test_frame_instances_of_a_remote_store(mem):
    from linkeddata.remote import RemoteStore

    mem.load_records(_record("b4mm", "Fyrskeppet", "1962", ["Q"]))

    class UnionEndpoint(_Endpoint):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
            data = mem.inner.query(body, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON)
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), UnionEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/query"
        with RemoteStore(url, query_endpoint=url) as remote:
            df = nb.frame_instances(remote)
        assert df["title"].tolist() == ["Fyrskeppet"] and df["libraries"].tolist() == ["Q"]
        assert df.to_dict("records") == nb.frame_instances(mem).to_dict("records")
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- maps


LIBRARIES = pd.DataFrame({
    "name": ["Kungliga biblioteket", "Uppsala universitetsbibliotek", "Lunds universitetsbibliotek",
             "Göteborgs universitetsbibliotek", "Umeå universitetsbibliotek", "Stockholms stadsbibliotek", "Okänd"],
    "latitude": [59.3378, 59.8586, 55.7072, 57.6946, 63.8206, 59.3431, None],
    "longitude": [18.0717, 17.6389, 13.1959, 11.9721, 20.3069, 18.0547, None],
    "items": [12, 7, 5, 3, 2, 4, 2]})


def svg_circles(svg: str) -> int:
    """How many markers the map's ``libraries`` group draws (shared marker defs not counted)."""
    group = svg[svg.index('<g id="libraries">'):]
    group = re.sub(r"<defs>.*?</defs>", "", group[:group.index("</g>")], flags=re.DOTALL)
    return len(re.findall(r"<(?:use|path) ", group))


def _near(rgb, target, tolerance=60):
    return sum(abs(int(a) - int(b)) for a, b in zip(rgb, target)) <= tolerance


def test_static_map_draws_every_library_on_outlines():
    pytest.importorskip("matplotlib")
    np = pytest.importorskip("numpy")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    drawn = nb.static_map(LIBRARIES)
    assert (drawn.drawn, drawn.skipped_rows) == (6, 1)
    canvas = FigureCanvasAgg(drawn.figure)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[:, :, :3]
    height = pixels.shape[0]
    colours = {tuple(int(c) for c in p) for p in pixels[::7, ::7].reshape(-1, 3)}
    assert len(colours) > 20  # not blank: land, water, outlines, circles, text
    ax = drawn.figure.axes[0]

    def share(rgb):
        return float(np.mean(np.abs(pixels.astype(int) - rgb).sum(axis=2) < 30))

    assert share((0xef, 0xea, 0xdf)) > 0.2 and share((0xd4, 0xe6, 0xf1)) > 0.1  # land and sea both drawn
    circle = (0x1f, 0x4e, 0x79)
    for lat, lon in zip(LIBRARIES["latitude"][:6], LIBRARIES["longitude"][:6]):
        x, y = ax.transData.transform((lon, lat))
        px = pixels[int(round(height - y)), int(round(x))]
        assert _near(px, circle, 120), (lat, lon, px)  # a circle (75 % opaque) at every library


def test_static_map_svg_and_png_files(tmp_path):
    pytest.importorskip("matplotlib")
    drawn = nb.save_map(LIBRARIES, tmp_path / "map.svg")
    svg = (tmp_path / "map.svg").read_text("utf-8")
    assert svg_circles(svg) == drawn.drawn == 6
    assert svg.count("Kungliga biblioteket (12)") == 1 and "Okänd" not in svg
    png = nb.save_map(LIBRARIES, tmp_path / "map.png")
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.drawn == 6
    assert drawn._repr_png_()[:4] == b"\x89PNG"
    with pytest.raises(InvalidInputError):
        nb.save_map(LIBRARIES, tmp_path / "map.gif")
    with pytest.raises(LinkedDataError):
        nb.save_map(LIBRARIES, tmp_path / "missing" / "map.png")


def test_static_map_without_any_coordinates():
    pytest.importorskip("matplotlib")
    drawn = nb.static_map(LIBRARIES.iloc[6:])
    assert (drawn.drawn, drawn.skipped_rows) == (0, 1)
    assert "0 libraries (1 without coordinates)" in drawn.figure.axes[0].get_title()


def test_interactive_map_offline_embeds_leaflet_and_outlines():
    pytest.importorskip("folium")
    fmap = nb.map_holdings(LIBRARIES)
    assert (fmap.drawn, fmap.skipped_rows) == (6, 1)
    html = fmap.get_root().render()
    assert html.count("L.circleMarker(") == 6 and "Kungliga biblioteket (12)" in html
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="https?://', html)  # nothing fetched
    assert "tile.openstreetmap" not in html and "L.tileLayer(" not in html
    assert "Leaflet" in html and ".leaflet-container" in html  # the script and style, inline
    assert html.count("L.geoJson(") == 2 and '"kind": "land"' in html and '"kind": "border"' in html
    assert "fitBounds" in html
    assert "$(" not in html  # no jQuery call: folium's popups need it and it is not embedded
    assert html.count('"permanent": true') == 6  # every circle labelled


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM, reason="needs a headless Chromium (Debian package chromium)")
def test_interactive_map_draws_every_library_in_a_browser_offline(tmp_path):
    """Rendered by a real browser with every host unresolvable: all circles and labels are drawn."""
    pytest.importorskip("folium")
    page = tmp_path / "map.html"
    nb.map_holdings(LIBRARIES).save(str(page))
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=3000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60)
    dom = out.stdout
    assert len(re.findall(r'<path class="linkeddata-library', dom)) == 6, out.stderr[-2000:]
    assert len(re.findall(r'class="leaflet-tooltip linkeddata-label', dom)) == 6
    assert "Kungliga biblioteket (12)" in dom and dom.count('class="leaflet-interactive"') > 10  # the outlines


def test_interactive_map_online_uses_tiles_and_cdn():
    pytest.importorskip("folium")
    html = nb.map_holdings(LIBRARIES, online=True).get_root().render()
    assert "openstreetmap" in html.lower() and re.search(r'<script src="https://[^"]*leaflet', html)
    assert html.count("L.circleMarker(") == 6 and "L.geoJson(" not in html


def test_map_from_results_and_missing_column(mem):
    pytest.importorskip("folium")
    results = mem.query('SELECT ?name ?latitude ?longitude WHERE { VALUES (?name ?latitude ?longitude) '
                        '{ ("A" 59.3 18.0) } }')
    assert nb.map_holdings(results).skipped_rows == 0
    with pytest.raises(InvalidInputError):
        nb.map_holdings(pd.DataFrame({"x": [1]}))
    with pytest.raises(InvalidInputError):
        nb.static_map(pd.DataFrame({"x": [1]}))


# ---------------------------------------------------------------- rdflib


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_rdflib_round_trip(mem):
    rdflib = pytest.importorskip("rdflib")
    mem.load_records(_record("b1xq", "Hamnarnas historia", "1988", ["Q"]))
    ds = nb.to_rdflib(mem)
    assert len(ds) == len(mem)
    assert {str(g.identifier) for g in ds.graphs()} >= mem.graphs()
    other = open_store(None)
    assert nb.from_rdflib(ds, other) == len(mem)
    assert other.graphs() == mem.graphs()
    g = rdflib.Graph(identifier=rdflib.URIRef("https://example.org/g1"))
    g.add((rdflib.URIRef("https://example.org/s"), rdflib.URIRef("https://example.org/p"), rdflib.Literal("o")))
    assert nb.from_rdflib(g, other) == 1 and other.has_graph("https://example.org/g1")
    assert nb.from_rdflib(g, other, graph="https://example.org/g2") == 1 and other.has_graph("https://example.org/g2")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_rdflib_with_a_remote_store(mem):
    rdflib = pytest.importorskip("rdflib")
    from linkeddata.remote import RemoteStore

    mem.load_records(_record("b5nn", "Lotsen", "1977", ["Q"]))
    target = ox.Store()

    class GraphStore(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            data = mem.inner.dump(format=ox.RdfFormat.N_QUADS)
            self.send_response(200)
            self.send_header("Content-Type", "application/n-quads")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802
            target.update(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GraphStore)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with RemoteStore(f"http://127.0.0.1:{server.server_address[1]}") as remote:
            ds = nb.to_rdflib(remote)
            assert len(ds) == len(mem)
            g = rdflib.Graph(identifier=rdflib.URIRef("https://example.org/g1"))
            g.add((rdflib.URIRef("https://example.org/s"), rdflib.URIRef("https://example.org/p"), rdflib.Literal("o")))
            assert nb.from_rdflib(g, remote) == 1
        assert [q.graph_name.value for q in target] == ["https://example.org/g1"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_to_rdflib_without_oxrdflib(mem, monkeypatch):
    import sys

    pytest.importorskip("rdflib")
    mem.load_records(_record("b1xq", "Hamnarnas historia", "1988", []))
    monkeypatch.setitem(sys.modules, "oxrdflib", None)
    ds = nb.to_rdflib(mem)
    assert len(ds) == len(mem)


def test_progress_bar_fits_callbacks(mem):
    import io

    out = io.StringIO()
    with nb.progress_bar(desc="loading", total=2, file=out) as bar:
        mem.load_records(_record("b1xq", "Hamnarnas historia", "1988", ["Q"]), batch_size=1, progress=bar)
    assert bar.n == 2
    assert re.fullmatch(r"loading: 2 of 2 records \(100%\), [\d,.]+/s, \d+\.\d s\n", out.getvalue())


# ---------------------------------------------------------------- a store per notebook run


def test_notebook_store_is_fresh_per_run_and_private(tmp_path):
    first = nb.notebook_store("t-01")
    first.load_records(_record("b1xq", "Hamnarnas historia", "1988", []))
    folder = first.path.parent
    again = nb.notebook_store("t-01")  # re-running the cell: an empty store, the old folder gone
    assert len(again) == 0 and again.path != first.path and not folder.exists()
    other = nb.notebook_store("t-02")
    assert other.path.parent != again.path.parent and other.path.parent.name.startswith("linkeddata-t-02-")
    named = nb.notebook_store("t-03", tmp_path / "kept")
    named.load_records(_record("b1xq", "Hamnarnas historia", "1988", []))
    assert nb.notebook_store("t-03", tmp_path / "kept") is named and len(named) > 0  # a named store is kept
    from linkeddata.notebook import magics, session

    assert magics._default_store is named
    for name in ("t-01", "t-02"):
        session._drop(name)
    assert not again.path.parent.exists()


def test_dates_are_python_values():
    col = nb.columns({"head": {"vars": ["d"]}, "results": {"bindings": [
        {"d": {"type": "literal", "datatype": XSD + "dateTime", "value": "2020-01-01T00:00:00.1234567Z"}}]}})[0]
    assert col.kind == "datetime" and col.values[0] == dt.datetime(2020, 1, 1, 0, 0, 0, 123456, tzinfo=dt.timezone.utc)


class _FakeEmulator:
    def __init__(self, port: int):
        self.servers: dict[str, object] = {}
        self.port, self.stopped = port, 0

    def start(self):
        self.servers = {"libris": object()}
        return self

    def stop(self):
        self.stopped += 1
        self.servers = {}

    def env(self):
        return {"LINKEDDATA_LIBRIS_URL": f"http://127.0.0.1:{self.port}"}


def test_connect_takes_its_emulator_from_the_caller(monkeypatch):
    from linkeddata.errors import ConfigError
    from linkeddata.notebook import session as nb_session

    monkeypatch.setenv("LINKEDDATA_ID_URL", "http://127.0.0.1:1")
    first, second = _FakeEmulator(8001), _FakeEmulator(8002)
    try:
        nb_session.connect(emulator=first).close()
        assert first.servers and nb_session.emulator() is first
        assert os.environ["LINKEDDATA_LIBRIS_URL"] == "http://127.0.0.1:8001" and "LINKEDDATA_ID_URL" not in os.environ
        nb_session.connect(emulator=second).close()  # re-running the cell: the earlier one stops
        assert first.stopped == 1 and os.environ["LINKEDDATA_LIBRIS_URL"] == "http://127.0.0.1:8002"
        with pytest.raises(ConfigError, match="needs an emulator"):
            nb_session.connect()
        unused = _FakeEmulator(8003)
        nb_session.connect(True, emulator=unused).close()
        assert not unused.servers and second.stopped == 1 and nb_session.emulator() is None
        assert "LINKEDDATA_LIBRIS_URL" not in os.environ
    finally:
        nb_session.connect(True).close()
        monkeypatch.delenv("LINKEDDATA_LIBRIS_URL", raising=False)
