"""网格工作台: a grid worker's day at 390 px — my grids, due items, a small map, open cases by urgency, alerts, 排查."""

from __future__ import annotations

import html

import streamlit as st

from dashboard import maplayers, palette, ui, views
from dashboard.filters import Unit
from dashboard.texts import t

MAP_HEIGHT = 260
VIEWS_KEY = "wb_views"
CARD_CSS = """<style>
.gw-card { border-left: 4px solid var(--c); padding: 0.2rem 0.5rem; margin: 0; line-height: 1.45; }
.gw-card b { font-size: 0.95rem; } .gw-card .m { color: #8da2bd; font-size: 0.82rem; }
</style>"""


def esc(text: object) -> str:
    return html.escape(str(text or ""))


def days_text(days: int | None, due: str | None, lang: str) -> str:
    if days is None:
        return t("wb_no_due", lang)
    shown = t("wb_overdue", lang).format(days=-days) if days < 0 else t("wb_days_left", lang).format(days=days)
    return f"{shown} · {t('wb_due_on', lang).format(date=due)}" if due else shown


def header(ctx: ui.PageContext, wb: views.Workbench) -> None:
    lang = ctx.lang
    st.title(t("page_workbench", lang))
    if not wb.grid_names:
        st.info(t("wb_no_grids", lang))
        return
    st.markdown(ui.escape_markdown(t("wb_my_grids", lang).format(grids="、".join(wb.grid_names))))
    st.markdown("**" + ui.escape_markdown(t("wb_due_today", lang).format(cases=wb.due_cases,
                                                                          checks=wb.due_checks)) + "**")


def map_panel(ctx: ui.PageContext, wb: views.Workbench) -> None:
    lang = ctx.lang
    if not wb.grid_names:
        return
    st.subheader(t("wb_map", lang))
    saved = st.session_state.setdefault(VIEWS_KEY, {})
    key = ctx.viewer.scope_key
    if key not in saved:
        saved[key] = maplayers.view_for(wb.bounds, width_px=380, height_px=MAP_HEIGHT)
    layers = [maplayers.grid_layer(wb.areas)]
    if ctx.viewer.can_see_points and len(wb.points):
        layers.append(maplayers.point_layer(wb.points))
    tooltip = ("<b>{name}</b> {community_name}<br/>{case_id} {light_label} {category}")
    deck = maplayers.deck(layers, saved[key], tooltip_html=tooltip, tile_url=ctx.settings.map.tile_url,
                          tiles_coord_sys=ctx.settings.map.tiles_coord_sys)
    st.pydeck_chart(deck, height=MAP_HEIGHT, key="wb-map")


def cases_panel(ctx: ui.PageContext, wb: views.Workbench) -> None:
    lang = ctx.lang
    st.subheader(t("wb_cases", lang).format(n=len(wb.cases)))
    if wb.cases.empty:
        st.caption(t("wb_no_cases", lang))
        return
    for row in wb.cases.head(views.WORKBENCH_CARDS).itertuples(index=False):
        colour = palette.light_hex(row.light)
        label = (f"{esc(row.light_label)} · {esc(row.category)} · "
                 f"{esc(days_text(row.days_left, row.due, lang))}")
        with st.container(border=True):
            st.html(f'<div class="gw-card" style="--c:{colour}"><b>{label}</b><br/>'
                    f'<span class="m">{esc(t("wb_petitioner", lang))}：{esc(row.petitioner)} · '
                    f'{esc(row.grid_name)}<br/>{esc(t("wb_address", lang))}：{esc(row.address)}</span></div>')
            with st.expander(t("wb_summary", lang)):
                st.html(f'<div class="gw-card" style="--c:{colour}"><span class="m">'
                        f'{esc(t("wb_case_id", lang))}：{esc(row.case_id)}</span><br/>{esc(row.summary)}</div>')
    more = len(wb.cases) - views.WORKBENCH_CARDS
    if more > 0:
        st.caption(t("wb_cases_more", lang).format(n=more))


def alerts_panel(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    st.subheader(t("wb_alerts", lang))
    alerts = ui.cached_view(views.top_alerts, ctx, Unit(), 20)
    if alerts.rows.empty:
        st.caption(t("wb_no_alerts", lang))
        return
    for row in alerts.rows.itertuples(index=False):
        st.html(f'<div class="gw-card" style="--c:{palette.level_hex(row.level)}"><b>{esc(row.level_label)} · '
                f'{esc(row.title)}</b><br/><span class="m">{esc(row.detector)} · {esc(row.state)} · '
                f'{esc(row.last_seen)}<br/>{esc(row.summary)}</span></div>')


def checks_panel(ctx: ui.PageContext, wb: views.Workbench) -> None:
    lang = ctx.lang
    if wb.checks.empty:
        return
    st.subheader(t("wb_checks", lang))
    for row in wb.checks.itertuples(index=False):
        tone = palette.light_hex("red" if row.days_left <= 0 else "yellow" if row.days_left <= 3 else "green")
        last = row.last if row.last else t("wb_check_never", lang)
        line = t("wb_check_line", lang).format(last=last, cadence=row.cadence,
                                               due=days_text(int(row.days_left), row.due, lang))
        st.html(f'<div class="gw-card" style="--c:{tone}"><b>{esc(row.grid_name)}</b> '
                f'<span class="m">{esc(row.community_name)}<br/>{esc(line)}</span></div>')


def main() -> None:
    ctx = ui.page_context()
    if ctx is None:
        return
    st.html(CARD_CSS)
    wb = ui.cached_view(views.workbench, ctx)
    header(ctx, wb)
    map_panel(ctx, wb)
    cases_panel(ctx, wb)
    alerts_panel(ctx)
    checks_panel(ctx, wb)


main()
