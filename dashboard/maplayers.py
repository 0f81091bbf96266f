"""pydeck layer builders: simplified, rounded, aggregated GeoJSON; offline basemap by default."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from dashboard import palette
from dashboard.texts import t

BLANK_STYLE_PATH = "/app/static/blank-style.json"
SEQUENTIAL = list(palette.SEQUENTIAL)  # YlOrRd, 6 classes: light for few cases, dark red for many
NO_DATA = palette.NO_DATA
OUTLINE = list(palette.OUTLINE)
CJK_FONTS = "WenQuanYi Micro Hei, Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"
ASCII = "".join(chr(c) for c in range(32, 127) if chr(c) not in '"\\')
COORD_DECIMALS = 5  # about 1 m: plenty for display, keeps the deck JSON small


def simplified(geoms: np.ndarray, *, tolerance_deg: float = 2e-5) -> np.ndarray:
    """Topology-preserving simplification and rounding of WGS-84 polygons for display."""
    out = shapely.simplify(geoms, tolerance_deg, preserve_topology=True)
    return shapely.set_precision(out, 10.0 ** -COORD_DECIMALS, mode="pointwise")


def class_breaks(values: np.ndarray, *, classes: int = len(SEQUENTIAL)) -> np.ndarray:
    """Quantile class breaks of the positive values (at most `classes` - 1 inner breaks)."""
    pos = values[np.isfinite(values) & (values > 0)]
    if len(pos) == 0:
        return np.array([])
    qs = np.quantile(pos, np.linspace(0, 1, classes + 1)[1:-1])
    return np.unique(qs)


def colours(values: np.ndarray, breaks: np.ndarray, *, alpha: int = 190) -> list[list[int]]:
    """RGBA per value: grey for zero/missing, else its quantile class on the sequential ramp."""
    idx = np.searchsorted(breaks, values, side="right") if len(breaks) else np.zeros(len(values), int)
    ramp = np.array(SEQUENTIAL)[np.linspace(0, len(SEQUENTIAL) - 1, len(breaks) + 1).round().astype(int)]
    out = []
    for v, i in zip(values, idx):
        rgb = NO_DATA if not np.isfinite(v) or v <= 0 else tuple(ramp[min(i, len(ramp) - 1)])
        out.append([int(rgb[0]), int(rgb[1]), int(rgb[2]), alpha])
    return out


def legend(breaks: np.ndarray, decimals: bool = False, *, lang: str = "zh", suppressed: int | None = None
           ) -> list[tuple[str, str]]:
    """(hex colour, value range) per class of `colours` for a legend, starting with the no-data grey, then
    (with `suppressed`, the small-count threshold) the colour of units whose count is shown as "<5"."""
    ramp = np.array(SEQUENTIAL)[np.linspace(0, len(SEQUENTIAL) - 1, len(breaks) + 1).round().astype(int)]
    fmt = (lambda v: f"{v:.1f}") if decimals else (lambda v: f"{v:,.0f}")
    edges = [0.0, *[float(b) for b in breaks]]
    out = [(palette.hex_of(NO_DATA), "0")]
    if suppressed is not None:
        out.append((palette.hex_of(palette.SUPPRESSED), f"<{int(suppressed)}"))
    for i, rgb in enumerate(ramp):
        lo = edges[i]
        label = f"≥{fmt(lo)}" if i == len(ramp) - 1 else f"{fmt(lo)}–{fmt(edges[i + 1])}"
        if i == 0:
            label = f"<{fmt(edges[1])}" if len(edges) > 1 else t("legend_any", lang)
        out.append((palette.hex_of(tuple(int(c) for c in rgb)), label))  # type: ignore[arg-type]
    return out


def feature_collection(geoms: np.ndarray, props: pd.DataFrame) -> dict[str, Any]:
    """GeoJSON FeatureCollection. String properties stay as they are: Streamlit's pydeck tooltip escapes
    every {field} it interpolates, and text layers draw text, not HTML (tests/test_browser_auth.py
    checks in Chromium that case and grid text shows literally and stays inert)."""
    geojson = shapely.to_geojson(geoms)
    records = props.to_dict(orient="records")
    features = []
    for g, p in zip(geojson, records):
        if g is None:
            continue
        clean = {k: (v if isinstance(v, str) else _plain(v)) for k, v in p.items()}
        features.append({"type": "Feature", "geometry": json.loads(g), "properties": clean})
    return {"type": "FeatureCollection", "features": features}


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else round(float(v), 2)
    if v is pd.NA or v is None:
        return None
    return v


def grid_layer(collection: dict[str, Any], *, opacity: float = 1.0) -> pdk.Layer:
    return pdk.Layer(
        "GeoJsonLayer", collection, id="grids", pickable=True, stroked=True, filled=True, opacity=opacity,
        get_fill_color="properties.fill", get_line_color=[14, 26, 43, 160], line_width_min_pixels=0.5,
        auto_highlight=True, highlight_color=[255, 255, 255, 90],
    )


def outline_layer(collection: dict[str, Any], *, layer_id: str = "townships") -> pdk.Layer:
    return pdk.Layer(
        "GeoJsonLayer", collection, id=layer_id, pickable=False, stroked=True, filled=False,
        get_line_color=OUTLINE, line_width_min_pixels=2,
    )


def hotspot_layer(collection: dict[str, Any]) -> pdk.Layer:
    """Outlines of hot-spot grids (colour per Gi* bin in `properties.line`), drawn over the fill."""
    return pdk.Layer(
        "GeoJsonLayer", collection, id="hotspots", pickable=False, stroked=True, filled=False,
        get_line_color="properties.line", line_width_min_pixels=3,
    )


def column_layer(columns: pd.DataFrame, *, radius_m: float, height_m: float = 5000.0) -> pdk.Layer:
    """3-D columns at representative points: height ∝ `value` (tallest `height_m` metres), colour `fill`."""
    top = float(columns["value"].max()) if len(columns) else 1.0
    return pdk.Layer(
        "ColumnLayer", columns, id="columns", get_position=["lon", "lat"], get_elevation="value",
        elevation_scale=height_m / max(top, 1e-9), radius=radius_m, get_fill_color="fill", pickable=True,
        extruded=True, auto_highlight=True, disk_resolution=12,
    )


def label_layer(labels: pd.DataFrame, *, layer_id: str = "township-names", size: int = 15) -> pdk.Layer:
    """Unit names at representative points; the CJK font comes from the system font stack."""
    return pdk.Layer(
        "TextLayer", labels, id=layer_id, get_position=["lon", "lat"], get_text="name",
        # pydeck reads bare strings as expressions: quote literals; list the glyphs explicitly.
        get_size=size, get_color=[255, 255, 255, 235], font_family=f'"{CJK_FONTS}"',
        background=True, get_background_color=[14, 26, 43, 170], background_padding=[4, 2],
        parameters={"depthTest": False, "depthCompare": "always"},  # names stay on top of 3-D columns
        character_set='"' + "".join(sorted(set("".join(labels["name"].astype(str))) | set(ASCII))) + '"',
        get_text_anchor='"middle"', get_alignment_baseline='"center"', pickable=False,
    )


def declutter(labels: pd.DataFrame, view: pdk.ViewState, *, size_px: int = 15, pad_px: int = 4) -> pd.DataFrame:
    """The labels that do not overlap at the view's zoom, keeping higher `weight` first (all when no weight).

    Boxes are estimated from the text length (CJK glyphs about `size_px` wide) in Web Mercator pixels.
    """
    if len(labels) < 2:
        return labels
    scale = 512 * 2 ** float(view.zoom) / 360.0
    x = labels["lon"].to_numpy(dtype="float64") * scale
    lat = np.radians(labels["lat"].to_numpy(dtype="float64"))
    y = -np.degrees(np.log(np.tan(np.pi / 4 + lat / 2))) * scale
    half_w = labels["name"].astype(str).str.len().to_numpy() * size_px / 2 + pad_px
    half_h = size_px / 2 + pad_px
    order = np.argsort(-labels["weight"].to_numpy(dtype="float64"), kind="stable") if "weight" in labels \
        else np.arange(len(labels))
    kept: list[int] = []
    for i in order:
        if all(abs(x[i] - x[j]) >= half_w[i] + half_w[j] or abs(y[i] - y[j]) >= 2 * half_h for j in kept):
            kept.append(int(i))
    return labels.iloc[sorted(kept)]


def view_for(bounds: tuple[float, float, float, float], *, width_px: int = 1000, height_px: int | None = None,
             pitch: float = 0) -> pdk.ViewState:
    """A view that frames `bounds` (lon_min, lat_min, lon_max, lat_max) in a map of that many pixels."""
    x0, y0, x1, y1 = bounds
    if not all(np.isfinite([x0, y0, x1, y1])):
        x0, y0, x1, y1 = 73.0, 18.0, 135.0, 54.0  # nothing to frame: China
    if height_px:  # Web Mercator stretches latitude by 1 / cos(lat)
        stretch = 1 / max(np.cos(np.radians((y0 + y1) / 2)), 0.1)
        span = max(x1 - x0, (y1 - y0) * stretch * width_px / max(height_px, 1), 1e-4)
    else:
        span = max(x1 - x0, (y1 - y0) * 1.3, 1e-4)
    margin = 0.3 if height_px else 0.4
    margin -= 0.2 if pitch else 0.0  # a tilted map looks smaller: come closer
    zoom = float(np.clip(np.log2(360 * (width_px / 512) / span) - margin, 3, 18))
    return pdk.ViewState(longitude=(x0 + x1) / 2, latitude=(y0 + y1) / 2, zoom=round(zoom, 2), pitch=pitch,
                         bearing=0)


def basemap(tile_url: str | None) -> tuple[str, list[pdk.Layer]]:
    """The map style and any tile layer: a local blank style unless an intranet tile URL is set."""
    if not tile_url:
        return BLANK_STYLE_PATH, []
    tiles = pdk.Layer("TileLayer", data=tile_url, id="tiles", min_zoom=0, max_zoom=19, tile_size=256,
                      render_sub_layers=None)
    return BLANK_STYLE_PATH, [tiles]


class CompactDeck(pdk.Deck):
    """A pydeck Deck serialised without indentation (pydeck indents by 2, which triples the JSON of
    polygon coordinates that Streamlit sends to the browser)."""

    def to_json(self) -> str:
        from pydeck.bindings.json_tools import default_serialize

        return json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"),
                          ensure_ascii=False)


def to_tile_coords(layers: list[pdk.Layer], coord_sys: str) -> None:
    """Move every layer's WGS-84 coordinates (GeoJSON features, lon/lat columns) into `coord_sys` in
    place, so that they sit on basemap tiles drawn in that system (GCJ-02 tiles from Chinese map apps
    are offset by several hundred metres)."""
    from geo.coords import from_wgs84

    def shift(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return from_wgs84(x, y, coord_sys)

    for layer in layers:
        data = getattr(layer, "data", None)
        if isinstance(data, dict) and data.get("type") == "FeatureCollection":
            for feature in data["features"]:
                geom = shapely.from_geojson(json.dumps(feature["geometry"]))
                moved = shapely.transform(geom, lambda xy: np.column_stack(shift(xy[:, 0], xy[:, 1])))
                moved = shapely.set_precision(moved, 10.0 ** -COORD_DECIMALS, mode="pointwise")
                feature["geometry"] = json.loads(shapely.to_geojson(moved))
        elif isinstance(data, list) and data and isinstance(data[0], dict) and {"lon", "lat"} <= set(data[0]):
            # pydeck keeps a DataFrame's rows as records
            x, y = shift(np.array([r["lon"] for r in data], dtype="float64"),
                         np.array([r["lat"] for r in data], dtype="float64"))
            for r, lon, lat in zip(data, np.round(x, COORD_DECIMALS), np.round(y, COORD_DECIMALS), strict=True):
                r["lon"], r["lat"] = float(lon), float(lat)


def deck(layers: list[pdk.Layer], view: pdk.ViewState, *, tooltip_html: str, tile_url: str | None = None,
         tiles_coord_sys: str = "wgs84") -> pdk.Deck:
    """The map: `layers` over the offline blank style, or over the configured XYZ tiles; when those
    tiles are GCJ-02 the layers (and the view) are shifted to GCJ-02 to line up with them."""
    style, base = basemap(tile_url)
    if tile_url and tiles_coord_sys != "wgs84":
        to_tile_coords(layers, tiles_coord_sys)
        from geo.coords import from_wgs84

        lon, lat = from_wgs84(np.array([view.longitude]), np.array([view.latitude]), tiles_coord_sys)
        view = pdk.ViewState(**{**view.__dict__, "longitude": float(lon[0]), "latitude": float(lat[0])})
    return CompactDeck(
        layers=base + layers, initial_view_state=view, map_style=style, map_provider=None,
        tooltip={"html": tooltip_html, "style": {"backgroundColor": "#16263d", "color": "#e6edf5",
                                                 "fontSize": "13px"}},
    )


def point_layer(points: pd.DataFrame, *, layer_id: str = "cases", radius_px: int = 6) -> pdk.Layer:
    """Case points (lon, lat, `fill` RGB per row) drawn over the grids; pickable for the tooltip."""
    return pdk.Layer(
        "ScatterplotLayer", points, id=layer_id, get_position=["lon", "lat"], get_fill_color="fill",
        get_line_color=[14, 26, 43, 220], stroked=True, line_width_min_pixels=1, radius_units='"pixels"',
        get_radius=radius_px, pickable=True,
    )
