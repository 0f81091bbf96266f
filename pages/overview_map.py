"""总览地图: grids coloured by cases, township outlines and names, read from the current snapshot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import maplayers, ui
from dashboard.texts import t
from loaders.errors import GridwatchError

MEASURES = {"measure_cases": "cases", "measure_open": "open_cases", "measure_rate": "rate_per_10k"}


@st.cache_data(show_spinner=False, max_entries=8)
def grid_map_data(data_dir: str, version: str, measure: str) -> tuple[dict, dict, pd.DataFrame, tuple]:
    """Display-ready GeoJSON for grids and townships (cached per snapshot version and measure)."""
    from dashboard import snapshots
    from loaders.enums import OPEN_STATUSES
    from pathlib import Path

    snap = snapshots.Snapshot(root=snapshots.snapshots_dir(Path(data_dir)), version=version, manifest={})
    grids = snapshots.read_table(snap, "grids")
    towns = snapshots.read_table(snap, "townships")
    cases = snapshots.read_table(snap, "cases", ["grid_id", "status"])
    counts = cases.groupby("grid_id").size()
    open_counts = cases[cases["status"].isin(OPEN_STATUSES)].groupby("grid_id").size()
    props = pd.DataFrame({
        "grid_name": grids["grid_name"], "community_name": grids["community_name"],
        "township_name": grids["township_name"],
        "cases": grids["grid_id"].map(counts).fillna(0).astype(int),
        "open_cases": grids["grid_id"].map(open_counts).fillna(0).astype(int),
    })
    pop = grids["population"].astype("float64")
    props["rate_per_10k"] = (props["cases"] / pop * 10000).where(pop > 0).round(1)
    values = props[measure].to_numpy(dtype="float64")
    breaks = maplayers.class_breaks(values)
    props["fill"] = maplayers.colours(values, breaks)
    props["value"] = props[measure]
    geoms = maplayers.simplified(grids.geometry.to_numpy())
    grid_fc = maplayers.feature_collection(geoms, props)
    town_fc = maplayers.feature_collection(maplayers.simplified(towns.geometry.to_numpy()),
                                           towns[["name"]])
    rep = towns.geometry.representative_point()
    labels = pd.DataFrame({"name": towns["name"], "lon": rep.x.round(5), "lat": rep.y.round(5)})
    bounds = tuple(float(v) for v in grids.total_bounds)
    return grid_fc, town_fc, labels, bounds


def main() -> None:
    try:
        settings = ui.settings()
        snap = ui.current_snapshot()
    except GridwatchError as exc:
        ui.banners(None)
        st.info(t("no_snapshot"))
        ui.show_error(exc)
        return
    ui.banners(snap)
    name = snap.manifest.get("jurisdiction_name") or settings.jurisdiction_name
    st.title(f"{name} {t('app_title')}".strip())
    created = pd.Timestamp(snap.manifest["created_at"]).tz_convert(settings.timezone)
    st.caption(f"{t('updated_at')} {created:%Y-%m-%d %H:%M}")

    counts = snap.manifest.get("row_counts", {})
    methods = snap.manifest.get("assign_methods", {})
    cols = st.columns(5)
    cols[0].metric(t("kpi_cases"), f"{counts.get('cases', 0):,}")
    cols[1].metric(t("kpi_grids"), f"{counts.get('grids', 0):,}")
    cols[2].metric(t("kpi_townships"), f"{counts.get('townships', 0):,}")
    cols[3].metric(t("kpi_unassigned"), f"{methods.get('unassigned', 0):,}")
    cols[4].metric(t("kpi_rejected"), f"{sum(snap.manifest.get('rejected_counts', {}).values()):,}")

    label = st.segmented_control(t("measure"), list(MEASURES), default="measure_cases",
                                 format_func=t, key="measure")
    measure = MEASURES[label or "measure_cases"]
    grid_fc, town_fc, labels, bounds = grid_map_data(str(settings.data_path), snap.version, measure)
    if "map_view" not in st.session_state:
        st.session_state["map_view"] = maplayers.view_for(bounds)
    tooltip = (f"<b>{t('tooltip_grid')}</b> {{grid_name}}<br/>{t('tooltip_community')} {{community_name}}<br/>"
               f"{t('tooltip_township')} {{township_name}}<br/>{t(label or 'measure_cases')} {{value}}")
    deck = maplayers.deck(
        [maplayers.grid_layer(grid_fc), maplayers.outline_layer(town_fc), maplayers.label_layer(labels)],
        st.session_state["map_view"], tooltip_html=tooltip, tile_url=settings.map.tile_url)
    st.pydeck_chart(deck, height=640, key="overview-map")


main()
