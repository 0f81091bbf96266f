"""检举控告 page (#6): accusation content for the discipline role only, through the restricted file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import filters as flt
from dashboard import snapshots, views
from dashboard.settings import load_settings
from dashboard.viewer import AccessDenied, make_viewer
from view_fixtures import build_view_site

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/accusations.py"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_view_site(tmp_path_factory.mktemp("accusations"))


def test_discipline_sees_the_accusation_content(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(site))
    settings = load_settings(site)
    snap = snapshots.open_current(settings.data_path)
    restricted = pd.read_parquet(snap.file("restricted/accusations.parquet"))
    assert len(restricted) > 0
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["gw_role"] = "discipline"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "检举控告"
    table = at.dataframe[0].value
    assert len(table) == len(restricted)
    assert set(table["事项编号"]) == set(restricted["case_id"])
    shown = dict(zip(table["事项编号"], table["内容摘要"], strict=True))
    for case_id, summary in zip(restricted["case_id"], restricted["summary"].fillna(""), strict=True):
        assert shown[case_id] == summary
    # the cases table itself never carries the content
    cases = pd.read_parquet(snap.file("cases.parquet"), columns=["case_id", "summary"])
    assert cases.loc[cases["case_id"].isin(restricted["case_id"]), "summary"].isna().all()


def test_other_roles_get_no_accusation_content(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(site)
    snap = snapshots.open_current(settings.data_path)
    for role in ("office", "leader", "admin", "grid_worker"):
        with pytest.raises(AccessDenied):
            views.accusation_list(make_viewer([role], grids=frozenset() if role == "grid_worker" else None),
                                  snap, settings, flt.Unit("county", ""))
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(site))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["gw_role"] = "office"
    at.run()
    try:  # not in the office user's navigation: AppTest refuses the switch, or the page is not shown
        at.switch_page(PAGE).run()
    except Exception:  # noqa: BLE001 - AppTest raises when the page is not registered for this session
        return
    assert not at.title or at.title[0].value != "检举控告"
    restricted = pd.read_parquet(snap.file("restricted/accusations.parquet"))
    text = "\n".join(str(e.value) for e in [*at.markdown, *at.caption, *at.title, *at.subheader])
    text += "\n".join(d.value.to_csv() for d in at.dataframe)
    assert not [s for s in restricted["summary"].dropna() if s and s in text]
