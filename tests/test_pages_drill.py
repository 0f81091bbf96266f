"""AppTest of the drill-down breadcrumbs (ui.breadcrumbs) on 热点追踪 and the 指挥大屏: county → township →
community → grid and back, as the global unit filter (sidebar, URL), within the viewer's scope."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import snapshots, ui, views
from dashboard.filters import Unit
from dashboard.settings import Settings
from dashboard.viewer import make_viewer
from view_fixtures import app_test, build_view_site, open_site

HOTSPOTS = "pages/hotspots.py"
COMMAND = "pages/command_screen.py"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_view_site(tmp_path_factory.mktemp("drill"))


@pytest.fixture(scope="module")
def loaded(site: Path) -> tuple[Settings, snapshots.Snapshot]:
    return open_site(site)


@pytest.fixture
def app(site: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return app_test(site, monkeypatch)


def registry_count(at: AppTest) -> int:
    heading = next(s.value for s in at.subheader if s.value.startswith("预警台账"))
    return int(re.search(r"（(\d+) 条）", heading).group(1))  # type: ignore[union-attr]


NAMES = ["township_name", "community_name", "grid_name"]


def map_grid_names(at: AppTest) -> list[tuple[str, str, str]]:
    """(township, community, grid) names of the grids on the hot-spot map (grid names repeat across communities)."""
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    layer = next(layer for layer in deck["layers"] if layer["id"] == "grids")
    props = [f["properties"] for f in layer["data"]["features"]]
    return sorted((p["township_name"], p["community_name"], p["name"]) for p in props)


def expected(loaded: tuple[Settings, snapshots.Snapshot], unit: Unit) -> tuple[int, list[tuple[str, str, str]]]:
    """Alerts of `unit` an office viewer sees, and the names of its grids."""
    settings, snap = loaded
    office = make_viewer(["office"])
    alerts = views.alert_registry(office, snap, settings, unit)
    units = views.unit_table(office, snap)
    inside = units.loc[views.unit_grids(units, unit).to_numpy(), NAMES]
    return len(alerts), sorted(tuple(str(v) for v in row) for row in inside.itertuples(index=False))


def test_hotspots_drill_down_and_back_up(app: AppTest, loaded: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = loaded
    at = app.run()
    at.switch_page(HOTSPOTS).run()
    assert not at.exception, at.exception
    county_alerts, county_grids = expected(loaded, Unit())
    assert registry_count(at) == county_alerts and map_grid_names(at) == county_grids
    assert "unit" not in at.query_params

    # Step down to the township with the most alerts among those that do not hold all of them.
    down = at.selectbox(key="hs-crumbs-down-county-county")
    towns = dict(views.unit_options(make_viewer(["office"]), snap, settings).townships)
    assert list(down.options) == list(towns.values())
    counts = {tid: expected(loaded, Unit("township", tid))[0] for tid in towns}
    town = max((tid for tid in towns if 0 < counts[tid] < county_alerts), key=lambda tid: counts[tid])
    down.set_value(town).run()
    assert not at.exception, at.exception
    town_alerts, town_grids = expected(loaded, Unit("township", town))
    assert at.query_params["unit"] == f"township:{town}"
    assert at.selectbox(key="gw_township").value == town  # the sidebar's unit filter follows
    assert registry_count(at) == town_alerts < county_alerts
    assert map_grid_names(at) == town_grids and len(town_grids) < len(county_grids)
    assert any(m.value == f"**{towns[town]}**" for m in at.markdown)  # where we are, in bold
    assert [b.label for b in at.button if b.key.startswith("hs-crumbs-up")] == ["新城区"]

    # … then to a community and one of its grids: the trail grows, the map narrows to one grid.
    community = at.selectbox(key=f"hs-crumbs-down-township-{town}").options[0]
    at.selectbox(key=f"hs-crumbs-down-township-{town}").set_value(
        next(k for k, v in views.unit_options(make_viewer(["office"]), snap, settings).communities[town]
             if v == community)).run()
    comm = at.query_params["unit"].removeprefix("community:")
    grid = views.unit_options(make_viewer(["office"]), snap, settings).grids[comm][0][0]
    at.selectbox(key=f"hs-crumbs-down-community-{comm}").set_value(grid).run()
    assert not at.exception, at.exception
    assert at.query_params["unit"] == f"grid:{grid}"
    assert at.selectbox(key="gw_community").value == comm and at.selectbox(key="gw_grid").value == grid
    assert map_grid_names(at) == expected(loaded, Unit("grid", grid))[1] and len(map_grid_names(at)) == 1
    assert [b.label for b in at.button if b.key.startswith("hs-crumbs-up")] == ["新城区", towns[town], community]
    assert not [s for s in at.selectbox if s.key.startswith("hs-crumbs-down")]  # nothing below a grid

    # The township item of the trail takes us back up there; the lower levels are cleared.
    at.button(key="hs-crumbs-up-township").click().run()
    assert not at.exception, at.exception
    assert at.query_params["unit"] == f"township:{town}"
    assert at.selectbox(key="gw_township").value == town and at.selectbox(key="gw_community").value == ""
    assert registry_count(at) == town_alerts and map_grid_names(at) == town_grids

    # The other pages follow the same filter.
    at.switch_page(COMMAND).run()
    assert not at.exception, at.exception
    assert at.query_params["unit"] == f"township:{town}"
    assert any(f"{towns[town]} · " in h.value for h in at.html)  # the title bar's scope

    # The root item goes back to the whole jurisdiction.
    at.button(key="cmd-crumbs-up-county").click().run()
    assert not at.exception, at.exception
    assert "unit" not in at.query_params and at.selectbox(key="gw_township").value == ""
    at.switch_page(HOTSPOTS).run()
    assert registry_count(at) == county_alerts and map_grid_names(at) == county_grids


def test_grid_worker_breadcrumbs_stay_in_their_grids(app: AppTest,
                                                     loaded: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = loaded
    at = app.run()
    at.selectbox(key="gw_role").set_value("grid_worker").run()
    at.switch_page(COMMAND).run()
    assert not at.exception, at.exception
    worker = at.selectbox(key="gw_worker").value
    links = pd.read_parquet(snap.file("worker_grids.parquet"))
    mine = set(links.loc[links["worker_id"] == worker, "grid_id"].astype("str"))
    grids = pd.read_parquet(snap.file("grids.parquet"), columns=["grid_id", "township_id", "township_name"])
    my_towns = set(grids.loc[grids["grid_id"].astype("str").isin(mine), "township_name"])
    all_towns = set(grids["township_name"])
    assert my_towns < all_towns

    assert any(m.value == "**我的网格**" for m in at.markdown)  # not the whole jurisdiction
    down = at.selectbox(key="cmd-crumbs-down-county-county")
    assert set(down.options) == my_towns
    down.set_value(down.options[0]).run()
    assert not at.exception, at.exception
    town = at.query_params["unit"].removeprefix("township:")
    communities = at.selectbox(key=f"cmd-crumbs-down-township-{town}").options
    units = views.unit_table(make_viewer(["office"]), snap)
    theirs = set(units.loc[units["grid_id"].astype("str").isin(mine) & (units["township_id"] == town),
                           "community_name"])
    assert set(communities) == theirs
    assert [b.label for b in at.button if b.key.startswith("cmd-crumbs-up")] == ["我的网格"]

    # A unit outside their grids has no trail below the root, and no children to drill into.
    viewer = make_viewer(["grid_worker"], grids=mine)
    own = views.unit_table(viewer, snap)
    other = next(tid for tid in grids["township_id"].astype("str") if tid not in set(own["township_id"]))
    assert ui.drill_trail(own, Unit("township", other), root="我的网格") == [ui.Crumb(Unit(), "我的网格")]
    assert ui.drill_children(views.unit_options(viewer, snap, settings), Unit("township", other)) == ()
