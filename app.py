"""Gridwatch entry point: `streamlit run app.py` (or `gridwatch demo`)."""

from __future__ import annotations

import streamlit as st

from dashboard.texts import t

st.set_page_config(page_title=t("app_title"), page_icon="🗺️", layout="wide")

pages = [
    st.Page("pages/overview_map.py", title=t("page_map"), icon="🗺️", default=True),
]
st.navigation(pages).run()
