"""督办督查: 督办 orders by tier and state (overdue, reminders), the order list, the 灭红灯 board per unit with
drill-down, and the 三率 ranking with numerator/denominator on hover.

Orders and lights are the state as of the snapshot within the global unit; "本期下发" and the 三率 follow the
global period (sums of metrics.parquet day rows, so they match the command screen's KPIs).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import palette, ui, views
from dashboard.filters import Unit
from dashboard.suppression import as_numbers, is_suppressed
from dashboard.texts import t
from loaders.enums import TIER


def ui_index(options: list[str], key: str) -> int:
    """The remembered choice of a selectbox whose options follow the data (filters), else the first option."""
    value = st.session_state.get(key)
    return options.index(value) if value in options else 0


def styled_chart(chart: alt.Chart, height: int) -> alt.Chart:
    return (chart.properties(height=height, background="transparent")
            .configure_axis(labelFont=ui.CHART_FONT, titleFont=ui.CHART_FONT, labelColor=palette.MUTED, title=None,
                            gridColor=palette.PANEL_EDGE, domainColor=palette.PANEL_EDGE, labelLimit=140)
            .configure_legend(labelFont=ui.CHART_FONT, labelColor=palette.MUTED, title=None, orient="bottom")
            .configure_view(strokeWidth=0))


def intro(ctx: ui.PageContext, board: views.SupervisionBoard) -> None:
    lang = ctx.lang
    st.title(t("page_supervision", lang))
    units = ui.cached_units(ctx.settings, ctx.snap, ctx.viewer)
    scope = views.unit_label(units, ctx.filters.unit, jurisdiction=ctx.jurisdiction, lang=lang)
    today = views.snapshot_today(ctx.snap, ctx.settings)
    period = views.period_label(ctx.filters.period, today, lang)
    st.caption(ui.escape_markdown(t("sv_intro", lang).format(unit=scope, period=period)))
    ui.kpi_row(board.kpis, key="sv-kpis")


def tiers_panel(ctx: ui.PageContext, board: views.SupervisionBoard) -> None:
    lang = ctx.lang
    f = board.by_tier
    st.subheader(t("sv_by_tier", lang))
    c = {k: t(f"sv_col_{k}", lang) for k in ("tier", "issued", "answered", "closed", "total", "open", "overdue",
                                            "reminders", "new")}
    table = pd.DataFrame({c["tier"]: f["tier_label"], c["issued"]: f["issued"], c["answered"]: f["answered"],
                          c["closed"]: f["closed"], c["total"]: f["total"], c["open"]: f["open"],
                          c["overdue"]: f["overdue"], c["reminders"]: f["reminders"], c["new"]: f["new"]})
    table = ui.text_cells(table, lang)
    st.dataframe(table.style.map(ui.red_when_positive, subset=[c["overdue"]]), hide_index=True, width="stretch",
                 key="sv-tiers", column_config={
                     c["overdue"]: ui.count_column(f["overdue"], c["overdue"], help=t("sv_kpi_overdue_help", lang)),
                     c["reminders"]: ui.count_column(f["reminders"], c["reminders"],
                                                     help=t("sv_kpi_reminders_help", lang))})


def orders_panel(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    tiers = {m.code: t(f"tier_{m.rank}", lang) for m in sorted(TIER.members, key=lambda m: m.rank)}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        show = st.segmented_control(t("sv_show", lang), list(views.ORDER_SHOW), default="open", key="sv_show",
                                    format_func=lambda v: t(f"sv_show_{v}", lang)) or "open"
        picked = st.multiselect(t("sv_col_tier", lang), list(tiers), key="sv_tiers", width=420,
                                format_func=lambda v: tiers.get(v, v), placeholder=t("filter_all", lang))
    listing = ui.cached_view(views.supervision_orders, ctx, ctx.filters, show, tuple(picked))
    st.subheader(t("sv_orders", lang).format(n=listing.total))
    f = listing.rows
    if f.empty:
        st.caption(t("sv_orders_none", lang))
        return
    c = {k: t(f"sv_col_{k}", lang) for k in ("id", "tier", "case", "category", "township", "issuer", "issued_at",
                                            "due", "state", "deadline", "reminders")}
    table = pd.DataFrame({c["id"]: f["supervision_id"], c["tier"]: f["tier"], c["case"]: f["case_id"],
                          c["category"]: f["category"], c["township"]: f["township"], c["issuer"]: f["issuer"],
                          c["issued_at"]: f["issued"], c["due"]: f["due"], c["state"]: f["state"],
                          c["deadline"]: f["deadline"], c["reminders"]: f["reminders"]})
    overdue = f["overdue"].to_numpy()
    styled = table.style.apply(lambda col: [ui.RED_TEXT if o else "" for o in overdue], subset=[c["deadline"]])
    st.dataframe(styled, hide_index=True, width="stretch", height=ui.table_height(len(table), most=12), key="sv-orders")
    if listing.total > len(f):
        st.caption(t("sv_orders_more", lang).format(n=listing.total - len(f)))


def lights_panel(ctx: ui.PageContext) -> list[views.LightBoard]:
    """灭红灯 board one level below the global unit; the selectors drill township → community → grid."""
    lang = ctx.lang
    st.subheader(t("sv_lights", lang))
    units = ui.cached_units(ctx.settings, ctx.snap, ctx.viewer)
    unit = ctx.filters.unit
    crumbs = [views.unit_label(units, unit, jurisdiction=ctx.jurisdiction, lang=lang)]
    board = ui.cached_view(views.light_board, ctx, unit)
    boards = [board]  # the drill selectors show the red counts of every level passed
    with st.container(horizontal=True):
        while board.unit_type != "grid" and len(board.rows):
            names = dict(zip(board.rows["unit_id"], board.rows["name"], strict=True))
            reds = dict(zip(board.rows["unit_id"], board.rows["red"], strict=True))
            kind = t(f"unit_{board.unit_type}", lang)
            options = ["", *names]
            key = f"sv_drill_{board.unit_type}"
            pick = st.selectbox(t("sv_drill", lang).format(unit=kind), options, key=key, width=300,
                                index=ui_index(options, key),
                                format_func=lambda v, n=names, r=reds: t("sv_drill_label", lang).format(
                                    name=n[v], red=r[v]) if v else t("filter_all", lang))
            if not pick:
                break
            unit = Unit(board.unit_type, pick)
            crumbs.append(names[pick])
            board = ui.cached_view(views.light_board, ctx, unit)
            boards.append(board)
    kind = t(f"unit_{board.unit_type}", lang)
    st.caption(ui.escape_markdown(" › ".join(crumbs) + " · " + t("sv_lights_by", lang).format(unit=kind)))
    rows = board.rows
    if rows.empty:
        st.caption(t("cmd_no_data", lang))
        return boards
    lights = [("red", t("light_red", lang)), ("yellow", t("light_yellow", lang)), ("green", t("light_green", lang))]
    left, right = st.columns([0.45, 0.55], gap="medium")
    top = rows.head(20)
    long = pd.DataFrame({"name": [n for _ in lights for n in top["name"]],
                         "light": [label for _, label in lights for _ in range(len(top))],
                         "cases": as_numbers(pd.Series([v for code, _ in lights for v in top[code]])),  # "<5": no bar
                         "rank": [i for i in range(len(lights)) for _ in range(len(top))]})
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y("name:N", sort=list(top["name"]), axis=alt.Axis(labelOverlap=False),
                scale=alt.Scale(paddingInner=0.25)),
        x=alt.X("cases:Q", stack="zero", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("light:N", scale=alt.Scale(domain=[label for _, label in lights],
                                                   range=[palette.light_hex(code) for code, _ in lights])),
        order=alt.Order("rank:Q"), tooltip=["name:N", "light:N", "cases:Q"])
    left.altair_chart(styled_chart(chart, max(160, 24 * len(top) + 50)), width="stretch", key="sv-lights-chart")
    c = {k: t(f"sv_col_{k}", lang) for k in ("unit", "red", "yellow", "green", "open_cases", "red_share",
                                            "red_7d_ago")}
    share, share_config = ui.percent_cells(rows["red_share"], c["red_share"], help=t("sv_col_red_share_help", lang))
    table = pd.DataFrame({c["unit"]: rows["name"], c["red"]: rows["red"], c["yellow"]: rows["yellow"],
                          c["green"]: rows["green"], c["open_cases"]: rows["open"], c["red_share"]: share})
    if rows["red_7d_ago"].notna().any():
        table[c["red_7d_ago"]] = rows["red_7d_ago"]
    table = ui.text_cells(table, lang)
    right.dataframe(table.style.map(ui.red_when_positive, subset=[c["red"]]), hide_index=True, width="stretch",
                    height=ui.table_height(len(table), most=12), key="sv-lights",
                    column_config={c["red_share"]: share_config})
    if board.unplaced:
        right.caption(t("sv_unplaced", lang).format(n=board.unplaced))
    return boards


def ranking_panel(ctx: ui.PageContext) -> views.RateRanking:
    """三率 of the units one level below the global unit, ranked; numerator/denominator in the chart's hover
    and in the 分子/分母 columns, each rate's definition in its column help."""
    lang = ctx.lang
    rates = {r: t(views.THREE_RATE_KEYS[r], lang) for r in views.THREE_RATES}
    with st.container(horizontal=True, vertical_alignment="center"):
        st.subheader(t("sv_ranking", lang))
        by = st.segmented_control(t("sv_rank_by", lang), list(rates), default=views.THREE_RATES[0], key="sv_rank_by",
                                  format_func=lambda r: rates[r], label_visibility="collapsed")
    ranking = ui.cached_view(views.rate_ranking, ctx, ctx.filters, by or views.THREE_RATES[0])
    kind = t(f"unit_{ranking.unit_type}", lang)
    st.caption(ui.escape_markdown(t("sv_ranking_note", lang).format(unit=kind, period=ranking.period,
                                                                    rate=rates[ranking.by])))
    f = ranking.rows
    if f.empty:
        st.caption(t("cmd_no_data", lang))
        return ranking
    chart_rows = f[as_numbers(f[ranking.by]).notna()]  # neither units without a denominator nor suppressed rates
    left, right = st.columns([0.4, 0.6], gap="medium")
    if len(chart_rows):
        data = pd.DataFrame({"name": chart_rows["name"], "value": (as_numbers(chart_rows[ranking.by]) * 100).round(1),
                             "shown": chart_rows[f"{ranking.by}_label"],
                             **{rates[r]: chart_rows[f"{r}_label"] for r in views.THREE_RATES}})
        base = alt.Chart(data).encode(
            y=alt.Y("name:N", sort=list(data["name"]), axis=alt.Axis(labelOverlap=False),
                    scale=alt.Scale(paddingInner=0.25)),
            x=alt.X("value:Q", scale=alt.Scale(domain=[0, 100]), axis=alt.Axis(format=".0f")),
            tooltip=[alt.Tooltip("name:N", title=kind),
                     *(alt.Tooltip(f"{rates[r]}:N", title=rates[r]) for r in views.THREE_RATES)])
        bars = base.mark_bar(color=palette.SERIES["received"], cornerRadiusEnd=2)
        text = base.mark_text(align="right", dx=-4, color=palette.TEXT, font=ui.CHART_FONT).encode(text="shown:N")
        left.altair_chart(styled_chart(bars + text, max(160, 24 * len(data) + 40)), width="stretch",
                          key="sv-ranking-chart")
    c = {k: t(f"sv_col_{k}", lang) for k in ("rank", "unit", "received", "num_den")}
    period_note = t("ld_period_col", lang).format(period=ranking.period)
    columns: dict[str, object] = {c["rank"]: f["rank"], c["unit"]: f["name"], c["received"]: f["received"]}
    config: dict[str, object] = {c["received"]: ui.count_column(f["received"], c["received"], help=period_note)}
    for r in views.THREE_RATES:
        detail = f"{rates[r]} {c['num_den']}"
        columns[rates[r]], config[rates[r]] = ui.percent_cells(f[r], rates[r],
                                                               help=f"{t(f'rate_def_{r}', lang)}  \n{period_note}")
        columns[detail] = ["/".join(v if is_suppressed(v) else f"{v:,}" for v in pair)
                           for pair in zip(f[f"{r}_num"], f[f"{r}_den"], strict=True)]
        config[detail] = st.column_config.TextColumn(detail, help=t("sv_col_num_den_help", lang))
    right.dataframe(ui.text_cells(pd.DataFrame(columns), lang), hide_index=True, width="stretch",
                    column_config=config, height=ui.table_height(len(f)), key="sv-ranking")  # type: ignore[arg-type]
    return ranking


def main() -> None:
    ctx = ui.page_context()
    if ctx is None:
        return
    board = ui.cached_view(views.supervision_board, ctx, ctx.filters)
    intro(ctx, board)
    note_slot = st.empty()  # filled at the end, once every panel's figures are known
    tiers_panel(ctx, board)
    orders_panel(ctx)
    boards = lights_panel(ctx)
    ranking = ranking_panel(ctx)
    if (note := ui.suppression_note(ctx, board, boards, ranking)) is not None:
        note_slot.caption(note)


main()
