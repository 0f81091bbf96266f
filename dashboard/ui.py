"""Shared Streamlit helpers: settings, the current snapshot (cached by version), banners, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import snapshots
from dashboard.settings import Settings, load_settings
from dashboard.texts import t
from loaders.errors import GridwatchError


def settings() -> Settings:
    """Settings of this run (a small TOML parse; re-read so a changed config applies on the next rerun)."""
    return load_settings()


def current_snapshot() -> snapshots.Snapshot:
    return snapshots.open_current(settings().data_path)


@st.cache_data(show_spinner=False, max_entries=32)
def read_table(data_dir: str, version: str, name: str, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """A snapshot table; cached by (version, name, columns) so reruns do not re-read Parquet."""
    snap = snapshots.Snapshot(root=snapshots.snapshots_dir(Path(data_dir)), version=version, manifest={})
    return snapshots.read_table(snap, name, list(columns) if columns else None)


def table(snap: snapshots.Snapshot, name: str, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    return read_table(str(settings().data_path), snap.version, name, columns)


def banners(snap: snapshots.Snapshot | None) -> None:
    """The 示例数据 banner in demo mode; shown at the top of every page."""
    if settings().demo.enabled or (snap is not None and snap.manifest.get("demo")):
        st.warning(t("demo_banner"), icon="🧪")


def show_error(exc: GridwatchError) -> None:
    st.error(f"{t('error_prefix')}: {exc}")
