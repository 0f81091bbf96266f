"""Settings: every key documented, the SPEC §13 minimum shape valid, bad values named clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.settings import iter_settings, load_settings, reference_markdown, settings_from_dict
from loaders.errors import ConfigError

SPEC_MINIMUM = """
data_dir = "data"                      # snapshots, app DB, locks
timezone = "Asia/Shanghai"
jurisdiction_level = "county"          # level of the body running the dashboard (for 越级 tests)

[sources.grid]
url = "sqlite:///data/demo/grid.sqlite" # any SQLAlchemy URL
coord_sys = "wgs84"                      # wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn

[sources.case]
url = "sqlite:///data/demo/case.sqlite"
coord_sys = "wgs84"                      # default for rows whose coord_sys column is empty

[refresh]
interval_minutes = 5
"""


def test_every_setting_is_documented() -> None:
    rows = iter_settings()
    assert len(rows) > 30
    undocumented = [key for key, _, desc in rows if len(desc.strip()) < 8]
    assert undocumented == []


def test_readme_lists_every_setting() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [key for key, _, _ in iter_settings() if f"`{key}`" not in readme and f"`[{key}]`" not in readme]
    assert missing == [], "README configuration reference is stale: run `gridwatch config`"
    assert reference_markdown() in readme


def test_spec_minimum_config_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "gridwatch.toml"
    path.write_text(SPEC_MINIMUM, encoding="utf-8")
    s = load_settings(path)
    assert s.refresh.interval_minutes == 5 and s.sources.case.coord_sys == "wgs84"
    assert s.resolve_url(s.sources.grid.url or "") == f"sqlite:///{tmp_path}/data/demo/grid.sqlite"
    assert s.demo.enabled is False  # a config file means a real deployment unless it says demo


def test_no_config_means_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRIDWATCH_CONFIG", raising=False)
    assert load_settings().demo.enabled is True


@pytest.mark.parametrize(("raw", "key"), [
    ({"refresh": {"interval_minutes": "often"}}, "refresh.interval_minutes"),
    ({"sources": {"case": {"coord_sys": "mercator"}}}, "sources.case.coord_sys"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"jurisdiction_level": "galaxy"}, "jurisdiction_level"),
    ({"sources": {"grid": {"queries": {"gridz": "SELECT 1"}}}}, "sources.grid.queries"),
    ({"refrsh": {"interval_minutes": 5}}, "refrsh"),
])
def test_invalid_values_name_key_and_expected_form(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_dict(raw)
    msg = str(err.value)
    assert f": {key}:" in msg and "Expected" in msg
    assert err.value.exit_code == 2


def test_env_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_PG_PASS", "s3cret")
    s = settings_from_dict({"sources": {"case": {"url": "postgresql://u:${GW_PG_PASS}@h/db"}}})
    assert s.sources.case.url == "postgresql://u:s3cret@h/db"
    monkeypatch.delenv("GW_PG_PASS")
    with pytest.raises(ConfigError, match="GW_PG_PASS is not set"):
        settings_from_dict({"sources": {"case": {"url": "postgresql://u:${GW_PG_PASS}@h/db"}}})


def test_bad_toml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("data_dir = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)
