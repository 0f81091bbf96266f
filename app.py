"""Gridwatch entry point: `streamlit run app.py` (or `gridwatch demo`)."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from dashboard.texts import t

st.set_page_config(page_title=t("app_title"), page_icon="🗺️", layout="wide")
ui.start_background_refresh()  # once per process (st.cache_resource), behind a cross-process lock
ui.refresh_sidebar()

pages = [
    st.Page("pages/overview_map.py", title=t("page_map"), icon="🗺️", default=True),
]
st.navigation(pages).run()
