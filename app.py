"""Gridwatch entry point: `streamlit run app.py` (or `gridwatch demo`).

Pages are registered in PAGES (file, title key in dashboard/texts.py, icon, section, URL path, roles that
see the page). A page that a viewer's roles do not list is not in their navigation at all; the data layer
(dashboard/views.py) still scopes every row by the viewer. `?screen=1` is the wall display: no sidebar,
navigation, header or toolbar; the filters then come from the URL alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard import ui
from dashboard.viewer import QUALITY_ROLES, ROLES


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str    # key in dashboard/texts.py
    icon: str
    section: str  # key in dashboard/texts.py: sec_situation | sec_work | sec_admin
    url_path: str
    roles: frozenset[str]
    default: bool = False
    default_for: frozenset[str] = frozenset()  # roles whose start page this is (before `default`)


# url_path differs from the file stem: AppTest (and legacy MPA) would otherwise run pages/<stem>.py without app.py.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/command_screen.py", "page_command", "🖥️", "sec_situation", "command", frozenset(ROLES),
             default=True),
    PageSpec("pages/workbench.py", "page_workbench", "🧭", "sec_work", "grid-workbench", frozenset({"grid_worker"}),
             default_for=frozenset({"grid_worker"})),
    PageSpec("pages/hotspots.py", "page_hotspots", "🔥", "sec_work", "hot-spots",
             frozenset({"office", "leader", "admin"})),
    # Not for grid workers: both pages are about units larger than their grids (leaders' townships, 三率 and
    # lights per township), which they must not get. 督办督查 also for discipline (纪检): overdue orders,
    # reminders, red lights and the 三率 are what accountability (问责) is judged on; 包案 progress is not theirs.
    PageSpec("pages/leaders.py", "page_leaders", "🎖️", "sec_work", "leader-cases",
             frozenset({"office", "leader", "admin"})),
    PageSpec("pages/supervision.py", "page_supervision", "📌", "sec_work", "supervision-orders",
             frozenset({"office", "leader", "admin", "discipline"})),
    PageSpec("pages/data_quality.py", "page_quality", "🧪", "sec_admin", "data-quality", QUALITY_ROLES),
)

screen = ui.screen_mode()
st.set_page_config(page_title=ui.t("app_title"), page_icon="🗺️", layout="wide",
                   initial_sidebar_state="collapsed" if screen else "auto")
ui.start_background_refresh()  # once per process (st.cache_resource), behind a cross-process lock
ui.sidebar_controls()          # language, demo identity, global filters (mirrored in the URL)
ui.refresh_sidebar()
ui.apply_screen_mode()

viewer = ui.session_viewer()
visible = [spec for spec in PAGES if viewer.roles & spec.roles]
start = next((spec for spec in visible if viewer.roles & spec.default_for), None) \
    or next((spec for spec in visible if spec.default), None)
sections: dict[str, list[st.Page]] = {}
for spec in visible:
    sections.setdefault(ui.t(spec.section), []).append(
        st.Page(spec.path, title=ui.t(spec.title), icon=spec.icon, url_path=spec.url_path, default=spec is start))
st.navigation(sections, position="hidden" if screen else "sidebar").run()
