"""审计日志: the append-only audit log (sign-ins, personal-data page views, exports, alert actions, config
reloads), filtered by date, user, action and object type; administrators only."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import appdb, ui
from dashboard.texts import t
from dashboard.viewer import AccessDenied

LIMIT = 1000
ACTIONS = ("login", "access_denied", "view_personal_data", "export", "acknowledge", "dispatch", "resolve",
           "dismiss", "config_reload")
OBJECT_TYPES = ("session", "page", "export", "alert", "config")


@st.cache_resource(show_spinner=False)
def _app_db(url: str, busy_timeout_s: float) -> appdb.AppDB:
    return appdb.open_app_db_url(url, busy_timeout_seconds=busy_timeout_s)


def main() -> None:
    ctx = ui.page_context()
    if ctx is None:
        return
    lang = ctx.lang
    try:  # also enforced by the navigation: app.py lists this page for admin only
        ctx.viewer.require({"admin"})
    except AccessDenied as exc:
        ui.show_error(exc)
        return
    st.title(t("page_audit", lang))
    tz = ZoneInfo(ctx.settings.timezone)
    today = dt.datetime.now(tz).date()
    cols = st.columns(4)
    since = cols[0].date_input(t("audit_since", lang), value=today - dt.timedelta(days=7), key="au_since")
    who = cols[1].text_input(t("audit_who", lang), key="au_who", max_chars=128)
    action = cols[2].selectbox(t("audit_action", lang), ["", *ACTIONS], key="au_action",
                               format_func=lambda v, all_=t("audit_all", lang): v or all_)
    kind = cols[3].selectbox(t("audit_object", lang), ["", *OBJECT_TYPES], key="au_kind",
                             format_func=lambda v, all_=t("audit_all", lang): v or all_)
    db = _app_db(appdb.app_db_url(ctx.settings), ctx.settings.app_db.busy_timeout_seconds)
    start = dt.datetime.combine(since if isinstance(since, dt.date) else today, dt.time(), tzinfo=tz)
    rows = appdb.audit_entries(db, since=start, who_contains=who.strip() or None, action=action or None,
                               object_type=kind or None, limit=LIMIT)
    st.caption(t("audit_rows", lang).format(n=len(rows), limit=LIMIT))
    if rows.empty:
        st.info(t("audit_empty", lang))
        return
    shown = pd.DataFrame({
        t("audit_col_at", lang): rows["at"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M:%S"),
        t("audit_col_who", lang): rows["who"].astype("str"),
        t("audit_col_action", lang): rows["action"].astype("str"),
        t("audit_col_object_type", lang): rows["object_type"].astype("str"),
        t("audit_col_object_id", lang): rows["object_id"].astype("str"),
        t("audit_col_details", lang): [json.dumps(d, ensure_ascii=False, sort_keys=True) if d is not None else ""
                                       for d in rows["details"]],
    })
    st.dataframe(shown, hide_index=True, key="au-table")


main()
