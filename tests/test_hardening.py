"""Hardening (#6): case text escaped wherever rendered (HTML cards, Markdown, pydeck tooltips), injection
strings in URL filters and text filters give no extra rows and no error trace."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import snapshots, views
from dashboard.settings import load_settings
from view_fixtures import build_view_site

APP = str(Path(__file__).resolve().parent.parent / "app.py")
XSS = "<img src=x onerror=alert(1)>"
INJECTIONS = ("' OR '1'='1", "1; DROP TABLE cases; --", "township:' OR 1=1 --", "grid:%", "\"><script>alert(1)</script>")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo site (OIDC sign-in) with the XSS string in the summaries and grid names of worker W0001."""
    cfg = build_view_site(tmp_path_factory.mktemp("hardening"))
    cfg.write_text(cfg.read_text(encoding="utf-8") + '[auth]\nmode = "oidc"\nworker_claim = "preferred_username"\n'
                   'worker_column = "login"\n', encoding="utf-8")
    s = load_settings(cfg)
    snap = snapshots.open_current(s.data_path)
    links = pd.read_parquet(snap.file("worker_grids.parquet"))
    mine = set(links.loc[links["worker_id"] == "W0001", "grid_id"].astype("str"))
    cases = pd.read_parquet(snap.file("cases.parquet"))
    own = cases["grid_id"].astype("str").isin(mine) & ~cases["is_accusation"].fillna(False).astype(bool)
    cases.loc[own, "summary"] = XSS
    cases.loc[own, "category"] = XSS
    cases.to_parquet(snap.file("cases.parquet"), index=False)
    import geopandas as gpd

    grids = gpd.read_parquet(snap.file("grids.parquet"))
    grids.loc[grids["grid_id"].astype("str").isin(mine), "grid_name"] = XSS
    grids.to_parquet(snap.file("grids.parquet"), index=False)
    return cfg


@pytest.fixture
def app(site: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(site))
    views._read.cache_clear()
    return AppTest.from_file(APP, default_timeout=90)


def user(groups: list[str], login: str = "gw0001") -> dict[str, object]:
    return {"is_logged_in": True, "sub": login, "preferred_username": login, "name": "测试", "groups": groups}


def test_case_text_is_escaped_on_the_workbench(app: AppTest) -> None:
    app.user = user(["grid_worker"])
    at = app.run()
    at.switch_page("pages/workbench.py").run()
    assert not at.exception, at.exception
    htmls = [h.proto.body for h in at.get("html")]
    assert any("&lt;img src=x onerror=alert(1)&gt;" in h for h in htmls)  # shown, as text
    assert not any(XSS in h for h in htmls)
    for md in at.markdown:
        assert XSS not in md.value or "\\<img" in md.value
    decks = at.get("deck_gl_json_chart")
    assert decks
    for deck in decks:
        # The text travels as data; Streamlit's tooltip escapes each {field} it interpolates (inert in
        # Chromium: tests/test_browser_auth.py). The template itself holds no case text.
        doc = deck.proto.json
        assert XSS in doc, "case text shown as it is, not pre-escaped (it would show as &lt;…)"
        assert XSS not in deck.proto.tooltip


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_in_url_filters_falls_back(app: AppTest, value: str) -> None:
    app.user = user(["office"], login="office1")
    for key in ("unit", "period", "from", "to", "lang"):
        app.query_params[key] = value
    at = app.run()
    assert not at.exception, at.exception
    assert not any("Traceback" in e.value or "sqlalchemy" in e.value.lower() for e in at.error)
    assert at.query_params.get("unit") in (None, "", [])  # invalid → the whole jurisdiction


def test_scoped_readers_ignore_injected_unit_ids(site: Path) -> None:
    from dashboard.filters import Unit
    from dashboard.viewer import make_viewer

    s = load_settings(site)
    snap = snapshots.open_current(s.data_path)
    viewer = make_viewer(["office"])
    for value in INJECTIONS:
        for kind in ("township", "community", "grid"):
            assert views.scoped_cases(viewer, snap, ["case_id"], unit=Unit(kind, value)).empty
            assert views.scoped_metrics(viewer, snap, unit_ids=[value]).empty
