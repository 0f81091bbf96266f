"""The 重点时期 banner: every page says when a sensitive period is in force at the snapshot's as_of
(AppTest on two small demo sites, one with a period around today; unit tests of ui.period_in_force)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import snapshots, ui
from dashboard.demo_data import SHANGHAI, build_demo
from dashboard.pipeline import refresh
from dashboard.settings import Settings, load_settings, settings_from_dict

APP = str(Path(__file__).resolve().parent.parent / "app.py")
HOTSPOTS = "pages/hotspots.py"
CONFIG = ('data_dir = "data"\n[demo]\nenabled = true\n[refresh]\nin_app_scheduler = false\n'
          '[sources.grid]\nurl = "sqlite:///demo/grid.sqlite"\n[sources.case]\nurl = "sqlite:///demo/case.sqlite"\n')


def period_toml(name: str, start: dt.date, end: dt.date, factor: float = 1.0) -> str:
    return (f'[[warnings.sensitive_periods]]\nname = "{name}"\nstart = "{start}"\nend = "{end}"\n'
            f"threshold_factor = {factor}\n")


def build_site(root: Path, periods: str) -> Path:
    """A demo site (3,000 cases, 80 grids, data up to now) refreshed with `periods` in its config."""
    build_demo(root / "demo", cases=3000, grids=80, seed=11)
    cfg = root / "gridwatch.toml"
    cfg.write_text(CONFIG + periods, encoding="utf-8")
    refresh(load_settings(cfg))
    return cfg


TODAY = dt.datetime.now(SHANGHAI).date()
DAY = dt.timedelta(days=1)
BANNER = f"重点时期：全国两会（{TODAY - DAY}—{TODAY + DAY}），预警等级上调一级。计数阈值×0.8（向上取整）。"


@pytest.fixture(scope="module")
def in_force(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("period_on"), period_toml("全国两会", TODAY - DAY, TODAY + DAY, 0.8))


@pytest.fixture(scope="module")
def not_in_force(tmp_path_factory: pytest.TempPathFactory) -> Path:
    last_year = TODAY - dt.timedelta(days=365)
    return build_site(tmp_path_factory.mktemp("period_off"), period_toml("春节", last_year, last_year + 6 * DAY))


def run_pages(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, AppTest]:
    """The command screen (the app's first page) and the hotspot tracker, each run once."""
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(cfg))
    command = AppTest.from_file(APP, default_timeout=90).run()
    tracker = AppTest.from_file(APP, default_timeout=90).run()
    tracker.switch_page(HOTSPOTS).run()
    for at in (command, tracker):
        assert not at.exception, at.exception
    assert tracker.title[0].value == "热点追踪"
    return {"command": command, "tracker": tracker}


def warnings_of(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def test_banner_on_every_page_while_a_period_is_in_force(in_force: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = snapshots.open_current(load_settings(in_force).data_path)
    assert snap.manifest["sensitive_period"] == "全国两会"  # the refresh recorded it
    pages = run_pages(in_force, monkeypatch)
    for page, at in pages.items():
        shown = warnings_of(at)
        assert BANNER in shown, (page, shown)
        assert shown.index(BANNER) < next(i for i, w in enumerate(shown) if "示例数据" in w)  # above the demo banner
    assert any("【重点时期】全国两会" in h.value for h in pages["command"].html)  # and the title bar's chip

    alerts = pd.read_parquet(snap.file("alerts.parquet"))
    assert len(alerts) and all("重点时期“全国两会”" in json.loads(e)["text"] for e in alerts["evidence"])


def test_banner_in_english(in_force: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(in_force))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["lang"] = "en"
    at.run()
    assert not at.exception, at.exception
    assert (f"Sensitive period: 全国两会 ({TODAY - DAY} – {TODAY + DAY}): every alert level is raised one step. "
            "Count thresholds ×0.8 (rounded up).") in warnings_of(at)


def test_wall_display_shows_the_period_in_the_title_bar_only(in_force: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(in_force))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["screen"] = "1"
    at.run()
    assert not at.exception, at.exception
    assert not at.warning and any("【重点时期】全国两会" in h.value for h in at.html)


def test_no_banner_when_no_period_is_in_force(not_in_force: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = snapshots.open_current(load_settings(not_in_force).data_path)
    assert snap.manifest["sensitive_period"] is None
    for page, at in run_pages(not_in_force, monkeypatch).items():
        assert not any("重点时期" in w for w in warnings_of(at)), page
        assert any("示例数据" in w for w in warnings_of(at)), page
        assert not any("重点时期" in h.value for h in at.html), page


# --- which period is in force (ui.period_in_force) ----------------------------------------------------------

AS_OF = "2026-02-18T10:00:00+08:00"
SPRING = {"name": "春节", "start": "2026-02-10", "end": "2026-02-24", "threshold_factor": 0.5}


def snap_with(manifest: dict[str, object]) -> snapshots.Snapshot:
    return snapshots.Snapshot(root=Path("/nonexistent"), version="v", manifest={"as_of": AS_OF, **manifest})


def with_periods(*periods: dict[str, object]) -> Settings:
    return settings_from_dict({"warnings": {"sensitive_periods": list(periods)}})


def test_period_recorded_by_the_refresh_decides() -> None:
    s = with_periods(SPRING)
    assert ui.period_in_force(s, snap_with({"sensitive_period": "春节"})) == ui.PeriodInForce(
        "春节", "2026-02-10", "2026-02-24", 0.5)
    # the refresh raised no level (the period was added to the config since): no banner until the next refresh
    assert ui.period_in_force(s, snap_with({"sensitive_period": None})) is None
    # the config dropped or renamed the period since: the name the alerts were raised for, without dates
    renamed = with_periods({**SPRING, "name": "春运"})
    assert ui.period_in_force(renamed, snap_with({"sensitive_period": "春节"})) == ui.PeriodInForce("春节")
    assert ui.period_message(ui.PeriodInForce("春节")) == "重点时期：春节，预警等级上调一级。"


def test_snapshots_without_the_record_use_the_config_at_as_of() -> None:
    assert ui.period_in_force(with_periods(SPRING), snap_with({})) == ui.PeriodInForce(
        "春节", "2026-02-10", "2026-02-24", 0.5)
    later = {**SPRING, "start": "2026-02-19"}
    assert ui.period_in_force(with_periods(later), snap_with({})) is None
    assert ui.period_in_force(with_periods(), snap_with({})) is None
