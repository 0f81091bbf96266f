"""检举控告: accusation cases of the unit with their content (summary, subcategory, address), for the
discipline (纪检) role only — everyone else sees these cases only as counted cases without content. The
texts come from the snapshot's restricted file through `views.accusation_list`; each opening is audited."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import ui, views
from dashboard.texts import t
from dashboard.viewer import AccessDenied
from loaders.enums import STATUS


def status_text(code: str, lang: str) -> str:
    if code not in STATUS.codes:
        return code
    member = STATUS.member(code)
    return member.label if lang == "zh" else code.replace("_", " ")


def main() -> None:
    ctx = ui.page_context()
    if ctx is None:
        return
    lang = ctx.lang
    st.title(t("page_accusations", lang))
    ui.breadcrumbs(ctx, key="ac_crumbs")
    try:  # also enforced by the navigation: app.py lists this page for discipline only
        rows = ui.cached_view(views.accusation_list, ctx, ctx.filters.unit)
    except AccessDenied as exc:
        ui.show_error(exc)
        return
    st.caption(t("ac_note", lang))
    st.subheader(t("ac_count", lang).format(n=len(rows)))
    if rows.empty:
        st.info(t("ac_empty", lang))
        return
    shown = pd.DataFrame({
        t("ac_col_case", lang): rows["case_id"], t("ac_col_received", lang): rows["received_at"],
        t("ac_col_township", lang): rows["township"], t("ac_col_community", lang): rows["community"],
        t("ac_col_category", lang): rows["category"],
        t("ac_col_status", lang): [status_text(c, lang) for c in rows["status"]],
        t("ac_col_summary", lang): rows["summary"], t("ac_col_subcategory", lang): rows["subcategory"],
        t("ac_col_address", lang): rows["address"]})
    st.dataframe(shown, hide_index=True, width="stretch")  # a data grid: case text is never HTML here


main()
