"""A small demo site for the view and page tests: demo sources, one refreshed snapshot, a config file.

Snapshots from pipelines without early warning get alerts.parquet and grid_stats.parquet added the way
the pipeline will write them (geo.warnings.run_detectors, then the app DB's reconcile), so the pages are
tested with alerts; `drop_optional_tables` takes them out again to test older snapshots.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import snapshots
from dashboard.demo_data import build_demo
from dashboard.pipeline import refresh
from dashboard.settings import Settings, load_settings

OPTIONAL_TABLES = ("alerts", "grid_stats")


def build_view_site(root: Path, *, cases: int = 3000, grids: int = 80, seed: int = 11,
                    edit_sources: Callable[[Path], None] | None = None) -> Path:
    """Build the site under `root`; returns the path of its gridwatch.toml. `edit_sources` gets the demo
    folder (grid and case databases) before the refresh, to plant data of a test."""
    build_demo(root / "demo", cases=cases, grids=grids, seed=seed)
    if edit_sources is not None:
        edit_sources(root / "demo")
    cfg = root / "gridwatch.toml"
    cfg.write_text('data_dir = "data"\n[demo]\nenabled = true\n[refresh]\nin_app_scheduler = false\n'
                   '[sources.grid]\nurl = "sqlite:///demo/grid.sqlite"\n'
                   '[sources.case]\nurl = "sqlite:///demo/case.sqlite"\n', encoding="utf-8")
    settings = load_settings(cfg)
    snap = refresh(settings)
    if not snap.file("alerts.parquet").exists():
        add_alerts(settings, snap)
    return cfg


def add_alerts(settings: Settings, snap: snapshots.Snapshot) -> None:
    """Write alerts.parquet and grid_stats.parquet into `snap` (SPEC §4 columns plus the lifecycle)."""
    from dashboard import appdb
    from geo.warnings import run_detectors

    cases = snapshots.read_table(snap, "cases")
    grids = snapshots.read_table(snap, "grids")
    now = pd.Timestamp(snap.manifest["as_of"])
    detected, stats = run_detectors(cases, cases, grids, now=now, settings=settings.warnings,
                                    timezone=settings.timezone, jurisdiction_name="新城区")
    frame = appdb.reconcile(appdb.open_app_db(settings), detected, now=now.to_pydatetime(),
                            quiet_hours=settings.alerts.quiet_hours)
    frame.to_parquet(snap.file("alerts.parquet"), index=False)
    stats.to_parquet(snap.file("grid_stats.parquet"), index=False)
    manifest = dict(snap.manifest)
    manifest["row_counts"] = {**manifest["row_counts"], "alerts": len(frame), "grid_stats": len(stats)}
    snapshots.write_manifest(snap.path, manifest)


def drop_optional_tables(snap: snapshots.Snapshot) -> None:
    """Make `snap` look like an older snapshot: no alerts.parquet, no grid_stats.parquet."""
    for name in OPTIONAL_TABLES:
        snap.file(f"{name}.parquet").unlink(missing_ok=True)
    manifest = json.loads(snap.file(snapshots.MANIFEST).read_text(encoding="utf-8"))
    manifest["row_counts"] = {k: v for k, v in manifest["row_counts"].items() if k not in OPTIONAL_TABLES}
    snapshots.write_manifest(snap.path, manifest)


APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_site(site: Path) -> tuple[Settings, snapshots.Snapshot]:
    """The settings of a site made by `build_view_site` (its gridwatch.toml) and its current snapshot."""
    settings = load_settings(site)
    return settings, snapshots.open_current(settings.data_path)


def app_test(site: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """Streamlit's AppTest of app.py serving the site (GRIDWATCH_CONFIG points at its config)."""
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(site))
    return AppTest.from_file(APP, default_timeout=90)
