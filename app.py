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
    personal: bool = False  # shows case-level rows (petitioners, case ids): each opening is audited


# url_path differs from the file stem: AppTest (and legacy MPA) would otherwise run pages/<stem>.py without app.py.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/command_screen.py", "page_command", "🖥️", "sec_situation", "command", frozenset(ROLES),
             default=True),
    PageSpec("pages/workbench.py", "page_workbench", "🧭", "sec_work", "grid-workbench", frozenset({"grid_worker"}),
             default_for=frozenset({"grid_worker"}), personal=True),
    PageSpec("pages/hotspots.py", "page_hotspots", "🔥", "sec_work", "hot-spots",
             frozenset({"office", "leader", "admin"}), personal=True),
    # Not for grid workers: both pages are about units larger than their grids (leaders' townships, 三率 and
    # lights per township), which they must not get. 督办督查 also for discipline (纪检): overdue orders,
    # reminders, red lights and the 三率 are what accountability (问责) is judged on; 包案 progress is not theirs.
    PageSpec("pages/leaders.py", "page_leaders", "🎖️", "sec_work", "leader-cases",
             frozenset({"office", "leader", "admin"}), personal=True),
    PageSpec("pages/supervision.py", "page_supervision", "📌", "sec_work", "supervision-orders",
             frozenset({"office", "leader", "admin", "discipline"}), personal=True),
    # 报表: grid workers too — their reports hold their own grids only (the data layer scopes every table).
    PageSpec("pages/reports.py", "page_reports", "📄", "sec_work", "report-exports",
             frozenset({"office", "leader", "admin", "grid_worker"})),
    PageSpec("pages/data_quality.py", "page_quality", "🧪", "sec_admin", "data-quality", QUALITY_ROLES),
    PageSpec("pages/accusations.py", "page_accusations", "🔒", "sec_work", "accusation-cases",
             frozenset({"discipline"}), personal=True),
    PageSpec("pages/audit.py", "page_audit", "🔏", "sec_admin", "audit-log", frozenset({"admin"})),
)

screen = ui.screen_mode()
st.set_page_config(page_title=ui.t("app_title"), page_icon="🗺️", layout="wide",
                   initial_sidebar_state="collapsed" if screen else "auto")
ui.start_background_refresh()  # once per process (st.cache_resource), behind a cross-process lock

# Sign-in gate (SPEC §9): a session that may see no page (auth configured and nobody signed in, or a user
# without a mapped role) gets the login prompt for every URL and nothing else: no sidebar filters, no data.
# st.navigation is still called so that pages/ is never served as a legacy multipage app.
if ui.gate() is None:
    st.navigation([st.Page(ui.login_page, title=ui.t("auth_login_title"), icon="🔒", url_path="login",
                           default=True)], position="hidden").run()
    st.stop()

ui.sidebar_controls()          # language, demo identity, global filters (mirrored in the URL)
ui.refresh_sidebar()
ui.apply_screen_mode()

viewer = ui.session_viewer()
visible = [spec for spec in PAGES if viewer.roles & spec.roles]
start = next((spec for spec in visible if viewer.roles & spec.default_for), None) \
    or next((spec for spec in visible if spec.default), None)
sections: dict[str, list[st.Page]] = {}
by_page: dict[int, PageSpec] = {}
for spec in visible:
    page = st.Page(spec.path, title=ui.t(spec.title), icon=spec.icon, url_path=spec.url_path, default=spec is start)
    sections.setdefault(ui.t(spec.section), []).append(page)
    by_page[id(page)] = spec
current = st.navigation(sections, position="hidden" if screen else "sidebar")
shown = by_page.get(id(current))
if shown is not None and shown.personal:
    ui.audit_page_view(shown.url_path, viewer)
current.run()
