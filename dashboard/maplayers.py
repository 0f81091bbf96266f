"""pydeck layer builders: simplified, rounded, aggregated GeoJSON; offline basemap by default."""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

BLANK_STYLE_PATH = "/app/static/blank-style.json"
# YlOrRd, 6 classes: light for few cases, dark red for many.
SEQUENTIAL = [(255, 255, 178), (254, 217, 118), (254, 178, 76), (253, 141, 60), (240, 59, 32), (189, 0, 38)]
NO_DATA = (90, 100, 115)
OUTLINE = [230, 237, 245]
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


def feature_collection(geoms: np.ndarray, props: pd.DataFrame) -> dict[str, Any]:
    """GeoJSON FeatureCollection; string properties are HTML-escaped for the tooltip."""
    geojson = shapely.to_geojson(geoms)
    records = props.to_dict(orient="records")
    features = []
    for g, p in zip(geojson, records):
        if g is None:
            continue
        clean = {k: (html.escape(v) if isinstance(v, str) else _plain(v)) for k, v in p.items()}
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


def grid_layer(collection: dict[str, Any]) -> pdk.Layer:
    return pdk.Layer(
        "GeoJsonLayer", collection, id="grids", pickable=True, stroked=True, filled=True,
        get_fill_color="properties.fill", get_line_color=[14, 26, 43, 160], line_width_min_pixels=0.5,
        auto_highlight=True, highlight_color=[255, 255, 255, 90],
    )


def outline_layer(collection: dict[str, Any], *, layer_id: str = "townships") -> pdk.Layer:
    return pdk.Layer(
        "GeoJsonLayer", collection, id=layer_id, pickable=False, stroked=True, filled=False,
        get_line_color=OUTLINE, line_width_min_pixels=2,
    )


def label_layer(labels: pd.DataFrame) -> pdk.Layer:
    """Township names at representative points; the CJK font comes from the system font stack."""
    return pdk.Layer(
        "TextLayer", labels, id="township-names", get_position=["lon", "lat"], get_text="name",
        # pydeck reads bare strings as expressions: quote literals; list the glyphs explicitly.
        get_size=15, get_color=[255, 255, 255, 235], font_family=f'"{CJK_FONTS}"',
        character_set='"' + "".join(sorted(set("".join(labels["name"].astype(str))) | set(ASCII))) + '"',
        get_text_anchor='"middle"', get_alignment_baseline='"center"', pickable=False,
    )


def view_for(bounds: tuple[float, float, float, float], *, width_px: int = 1000) -> pdk.ViewState:
    """A view that frames `bounds` (lon_min, lat_min, lon_max, lat_max)."""
    x0, y0, x1, y1 = bounds
    span = max(x1 - x0, (y1 - y0) * 1.3, 1e-4)
    zoom = float(np.clip(np.log2(360 * (width_px / 512) / span) - 0.4, 3, 18))  # a little margin
    return pdk.ViewState(longitude=(x0 + x1) / 2, latitude=(y0 + y1) / 2, zoom=round(zoom, 2), pitch=0)


def basemap(tile_url: str | None) -> tuple[str, list[pdk.Layer]]:
    """The map style and any tile layer: a local blank style unless an intranet tile URL is set."""
    if not tile_url:
        return BLANK_STYLE_PATH, []
    tiles = pdk.Layer("TileLayer", data=tile_url, id="tiles", min_zoom=0, max_zoom=19, tile_size=256,
                      render_sub_layers=None)
    return BLANK_STYLE_PATH, [tiles]


def deck(layers: list[pdk.Layer], view: pdk.ViewState, *, tooltip_html: str, tile_url: str | None = None
         ) -> pdk.Deck:
    style, base = basemap(tile_url)
    return pdk.Deck(
        layers=base + layers, initial_view_state=view, map_style=style, map_provider=None,
        tooltip={"html": tooltip_html, "style": {"backgroundColor": "#16263d", "color": "#e6edf5",
                                                 "fontSize": "13px"}},
    )
