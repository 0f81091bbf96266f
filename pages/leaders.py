"""领导包案: each leader's 包案 (overdue first), 三级代办 by leader level, 包抓 townships with their figures, the 包案 list.

Figures are those of the 包案 of cases in the global unit as of the snapshot; "本期交办 / 本期化解" follow the
global period. All tables are st.dataframe (text shown literally, never as Markdown); rates carry their
numerator/denominator in the cell ("72.6%（29/40）") and their definition in the column header's help.
"""

from __future__ import annotations

import html

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import palette, ui, views
from dashboard.suppression import as_numbers
from dashboard.texts import t


def rate_definition(name: str, lang: str) -> str:
    """Column help of a rate: what its numerator and denominator count (SPEC §7)."""
    return t(f"rate_def_{name}", lang)


def ui_index(options: list[str], key: str) -> int:
    """The remembered choice of a selectbox whose options follow the data (filters), else the first option."""
    value = st.session_state.get(key)
    return options.index(value) if value in options else 0


def intro(ctx: ui.PageContext, board: views.LeaderBoard) -> None:
    lang = ctx.lang
    st.title(t("page_leaders", lang))
    units = ui.cached_units(ctx.settings, ctx.snap, ctx.viewer)
    scope = views.unit_label(units, ctx.filters.unit, jurisdiction=ctx.jurisdiction, lang=lang)
    st.caption(ui.escape_markdown(t("ld_intro", lang).format(unit=scope, period=board.period)))
    ui.kpi_row(board.kpis, key="ld-kpis")


def leaders_panel(ctx: ui.PageContext, board: views.LeaderBoard) -> None:
    lang = ctx.lang
    f = board.leaders
    st.subheader(t("ld_per_leader", lang).format(n=len(f)))
    if f.empty:
        st.caption(t("ld_none", lang))
        return
    c = {k: t(f"ld_col_{k}", lang) for k in ("leader", "post", "level", "cases", "open", "overdue", "stages",
                                            "longest", "next_due", "last_progress", "new", "resolved_new", "areas")}
    rate = t("ld_col_rate", lang)
    table = pd.DataFrame({
        c["leader"]: f["name"], c["post"]: f["post"], c["level"]: f["level"], c["cases"]: f["cases"],
        c["open"]: f["open"], c["overdue"]: f["overdue"], rate: f["rate_label"], c["stages"]: f["stages"],
        c["longest"]: f["longest_open"], c["next_due"]: f["next_due"], c["last_progress"]: f["last_progress"],
        c["new"]: f["new"], c["resolved_new"]: f["resolved_new"], c["areas"]: f["areas"]})
    table = ui.text_cells(table, lang)
    config = {
        rate: st.column_config.TextColumn(rate, help=rate_definition("resolution", lang)),
        c["overdue"]: ui.count_column(f["overdue"], c["overdue"], help=t("ld_kpi_overdue_help", lang)),
        c["longest"]: st.column_config.NumberColumn(c["longest"], help=t("ld_col_longest_help", lang)),
        c["next_due"]: st.column_config.TextColumn(c["next_due"], help=t("ld_col_next_due_help", lang)),
        c["new"]: ui.count_column(f["new"], c["new"], help=t("ld_kpi_new_help", lang).format(period=board.period)),
        c["resolved_new"]: ui.count_column(
            f["resolved_new"], c["resolved_new"], help=t("ld_kpi_resolved_new_help", lang).format(period=board.period)),
    }
    st.dataframe(table.style.map(ui.red_when_positive, subset=[c["overdue"]]), hide_index=True, width="stretch",
                 column_config=config, height=ui.table_height(len(table)), key="ld-leaders")


def levels_panel(ctx: ui.PageContext, board: views.LeaderBoard) -> None:
    lang = ctx.lang
    f = board.levels
    st.subheader(t("ld_levels", lang))
    st.caption(t("ld_levels_note", lang))
    rate = t("ld_col_rate", lang)
    cols = {k: t(f"ld_col_{k}", lang) for k in ("level", "people", "cases", "resolved", "open", "overdue", "new",
                                               "resolved_new")}
    table = pd.DataFrame({cols["level"]: f["level_label"], cols["people"]: f["people"], cols["cases"]: f["cases"],
                          cols["resolved"]: f["resolved"], rate: f["rate_label"], cols["open"]: f["open"],
                          cols["overdue"]: f["overdue"], cols["new"]: f["new"],
                          cols["resolved_new"]: f["resolved_new"]})
    table = ui.text_cells(table, lang)
    left, right = st.columns([0.62, 0.38], gap="medium")
    left.dataframe(table.style.map(ui.red_when_positive, subset=[cols["overdue"]]), hide_index=True, width="stretch",
                   key="ld-levels", column_config={
                       rate: st.column_config.TextColumn(rate, help=rate_definition("resolution", lang)),
                       cols["people"]: st.column_config.NumberColumn(cols["people"],
                                                                     help=t("ld_col_people_help", lang))})
    levels = f[f["level"] != "total"]
    if (as_numbers(levels["cases"]) == 0).all():  # a suppressed count ("<5", NaN here) is not 0
        return
    order = [t("leader_resolved", lang), t("leader_pending", lang), t("leader_overdue", lang)]
    colours = [palette.SERIES["resolved"], palette.SERIES["pending"], palette.SERIES["overdue"]]
    long = pd.DataFrame({
        "level": list(levels["level_label"]) * 3,
        "status": [order[0]] * len(levels) + [order[1]] * len(levels) + [order[2]] * len(levels),
        # a suppressed count becomes NaN: its bar is not drawn
        "cases": as_numbers(pd.Series([*levels["resolved"], *levels["pending"], *levels["overdue"]])),
        "rank": [0] * len(levels) + [1] * len(levels) + [2] * len(levels)})
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y("level:N", sort=list(levels["level_label"]), title=None, axis=alt.Axis(labelOverlap=False)),
        x=alt.X("cases:Q", stack="zero", title=None, axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("status:N", scale=alt.Scale(domain=order, range=colours), legend=None),
        order=alt.Order("rank:Q"), tooltip=["level:N", "status:N", "cases:Q"])
    keys = "".join(f'<span style="margin-right:0.8rem"><i style="display:inline-block;width:0.7rem;height:0.7rem;'
                   f'background:{colour};margin-right:0.25rem"></i>{html.escape(label)}</span>'
                   for colour, label in zip(colours, order, strict=True))
    right.html(f'<div style="font-size:0.8rem;color:{palette.MUTED}">{keys}</div>')
    right.altair_chart(chart.properties(height=140, background="transparent")
                       .configure_axis(labelFont=ui.CHART_FONT, labelColor=palette.MUTED, gridColor=palette.PANEL_EDGE)
                       .configure_view(strokeWidth=0), width="stretch", key="ld-levels-chart")


def areas_panel(ctx: ui.PageContext, board: views.LeaderBoard) -> None:
    lang = ctx.lang
    if not ctx.viewer.sees_all:
        return
    f = board.areas
    st.subheader(t("ld_areas", lang))
    if f.empty:
        st.caption(t("ld_areas_none", lang))
        return
    cols = {k: t(f"ld_col_{k}", lang) for k in ("township", "area_leaders", "town_open", "red", "yellow",
                                               "received", "lc_open", "lc_overdue")}
    rates = {r: t(views.THREE_RATE_KEYS[r], lang) for r in views.THREE_RATES}
    table = pd.DataFrame({cols["township"]: f["township"], cols["area_leaders"]: f["leaders"],
                          cols["town_open"]: f["open"], cols["red"]: f["red"], cols["yellow"]: f["yellow"],
                          cols["received"]: f["received"], **{rates[r]: f[f"{r}_label"] for r in views.THREE_RATES},
                          cols["lc_open"]: f["lc_open"], cols["lc_overdue"]: f["lc_overdue"]})
    table = ui.text_cells(table, lang)
    period_note = t("ld_period_col", lang).format(period=board.period)
    config = {rates[r]: st.column_config.TextColumn(rates[r], help=f"{rate_definition(r, lang)}  \n{period_note}")
              for r in views.THREE_RATES}
    config[cols["received"]] = ui.count_column(f["received"], cols["received"], help=period_note)
    st.dataframe(table.style.map(ui.red_when_positive, subset=[cols["red"], cols["lc_overdue"]]), hide_index=True,
                 width="stretch", column_config=config, height=ui.table_height(len(table)), key="ld-areas")


def cases_panel(ctx: ui.PageContext, board: views.LeaderBoard) -> None:
    lang = ctx.lang
    names = dict(zip(board.leaders["leader_id"], board.leaders["name"] + " · " + board.leaders["post"],
                     strict=True))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        options = ["", *names]
        leader = st.selectbox(t("ld_pick_leader", lang), options, key="ld_leader", width=360,
                              index=ui_index(options, "ld_leader"),
                              format_func=lambda v: names.get(v, v) if v else t("filter_all", lang))
        pending = st.toggle(t("ld_only_pending", lang), key="ld_pending")
    listing = ui.cached_view(views.leader_cases_list, ctx, ctx.filters, leader or "", bool(pending))
    st.subheader(t("ld_cases", lang).format(n=listing.total))
    f = listing.rows
    if f.empty:
        st.caption(t("ld_cases_none", lang))
        return
    c = {k: t(f"ld_col_{k}", lang) for k in ("leader", "case", "category", "township", "stage", "assigned",
                                            "days_open", "due", "state", "last_progress", "light")}
    table = pd.DataFrame({c["leader"]: f["leader"], c["case"]: f["case_id"], c["category"]: f["category"],
                          c["township"]: f["township"], c["stage"]: f["stage"], c["assigned"]: f["assigned"],
                          c["days_open"]: f["days_open"], c["due"]: f["due"], c["state"]: f["state"],
                          c["last_progress"]: f["last_progress"], c["light"]: f["light"]})
    overdue = f["overdue"].to_numpy()
    styled = table.style.apply(lambda col: [f"color: {palette.light_hex('red')}; font-weight: 600" if o else ""
                                            for o in overdue], subset=[c["state"]])
    st.dataframe(styled, hide_index=True, width="stretch", height=ui.table_height(len(table), most=12), key="ld-cases",
                 column_config={c["days_open"]: st.column_config.NumberColumn(c["days_open"],
                                                                             help=t("ld_col_days_open_help", lang))})
    if listing.total > len(f):
        st.caption(t("ld_cases_more", lang).format(n=listing.total - len(f)))


def main() -> None:
    ctx = ui.page_context()
    if ctx is None:
        return
    board = ui.cached_view(views.leader_board, ctx, ctx.filters)
    intro(ctx, board)
    if (note := ui.suppression_note(ctx, board)) is not None:
        st.caption(note)
    leaders_panel(ctx, board)
    levels_panel(ctx, board)
    areas_panel(ctx, board)
    cases_panel(ctx, board)


main()
