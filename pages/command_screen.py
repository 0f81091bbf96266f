"""指挥大屏: the jurisdiction at a glance on a 1920×1080 wall display (SPEC §10); `?screen=1` hides the chrome.

Title bar, KPI row, alerts | map | trend and categories, then 领导包案 | 督办. Everything below the CSS runs
in a fragment that reruns every REFRESH_S seconds and re-reads the current snapshot, so the screen
follows new refreshes without a click; the map's view state lives in session_state and the deck keeps
a stable key, so the wall's pan/zoom survives those reruns.
"""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import maplayers, palette, ui, views
from dashboard.formatting import fmt_count, fmt_rate
from dashboard.suppression import as_numbers, is_suppressed
from dashboard.texts import t

REFRESH_S = 30
MAP_HEIGHT = 455
MEASURE_KEYS = {"cases": "measure_cases", "open": "measure_open", "red": "measure_red", "rate": "measure_rate"}
VIEWS_KEY = "cmd_views"  # session_state: map view state per unit and 2-D/3-D, kept across reruns
WEEKDAYS = "一二三四五六日"

MID = '.st-key-cmd-mid > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"]'  # middle row
CSS = f"""<style>
[data-testid="stMainBlockContainer"] {{ padding-top: 3.2rem; padding-bottom: 0.5rem; }}
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] {{ gap: 0.45rem; }}
[data-testid="stMetric"] {{ background: {palette.PANEL}; padding: 0.4rem 0.7rem 0.3rem; min-height: 6.9rem; }}
[data-testid="stMetricLabel"] p {{ font-size: 0.95rem; color: {palette.MUTED}; }}
[data-testid="stMetricValue"] {{ font-size: 1.85rem; font-weight: 600; line-height: 1.25; }}
[data-testid="stMetricDelta"] {{ font-size: 0.8rem; }}
/* Narrower than a wall display (sidebar open, laptop): KPI tiles wrap into rows, the right-hand charts
   move below alerts and map. Container queries follow the page's width, not the window's. */
.st-key-kpis, .st-key-cmd-mid {{ container-type: inline-size; }}
@container (max-width: 1700px) {{
  .st-key-kpis [data-testid="stMetricValue"] {{ font-size: 1.35rem; }}
  .st-key-kpis [data-testid="stMetric"] {{ padding: 0.35rem 0.5rem 0.25rem; }}
}}
@container (max-width: 1450px) {{
  .st-key-kpis [data-testid="stHorizontalBlock"] {{ flex-wrap: wrap; row-gap: 0.5rem; }}
  .st-key-kpis [data-testid="stColumn"] {{ flex: 1 1 15% !important; width: 15% !important; min-width: 0; }}
  .st-key-kpis [data-testid="stMetricLabel"] p {{ font-size: 0.82rem; }}
}}
@container (max-width: 800px) {{
  .st-key-kpis [data-testid="stColumn"] {{ flex: 1 1 22% !important; width: 22% !important; }}
}}
@container (max-width: 480px) {{  /* a phone: two tiles a row, so that the labels are not cut to one character */
  .st-key-kpis [data-testid="stColumn"] {{ flex: 1 1 40% !important; width: 40% !important; }}
}}
@container (max-width: 1450px) {{
  {MID} {{ flex-wrap: wrap; }}
  {MID} > [data-testid="stColumn"]:nth-child(1) {{ flex: 1 1 34% !important; width: 34% !important; }}
  {MID} > [data-testid="stColumn"]:nth-child(2) {{ flex: 1 1 60% !important; width: 60% !important; }}
  {MID} > [data-testid="stColumn"]:nth-child(3) {{ flex: 1 1 100% !important; width: 100% !important; }}
  .st-key-cmd-right {{ flex-direction: row !important; flex-wrap: wrap; gap: 1.5rem !important; }}
  .st-key-cmd-right > [data-testid="stLayoutWrapper"] {{ flex: 1 1 40%; min-width: 18rem; }}
}}
.gw-bar {{ display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.2rem 1.1rem;
  border-bottom: 1px solid {palette.PANEL_EDGE}; padding: 0 0.2rem 0.35rem; }}
.gw-bar > * {{ white-space: nowrap; }}
.gw-bar h1 {{ font-size: 1.9rem; margin: 0; padding: 0; font-weight: 700; letter-spacing: 0.06em;
  color: {palette.TEXT}; }}
.gw-bar .gw-sub {{ color: {palette.MUTED}; font-size: 1.1rem; font-weight: 400; letter-spacing: 0.1em; }}
.gw-bar .gw-meta {{ margin-left: auto; color: {palette.MUTED}; font-size: 1.0rem; }}
.gw-bar .gw-meta b {{ color: {palette.TEXT}; font-weight: 600; }}
@media (max-width: 640px) {{  /* a phone (grid workers open this page too): the scope and time line wraps */
  .gw-bar .gw-meta {{ white-space: normal; margin-left: 0; }}
}}
.gw-chip {{ display: inline-block; padding: 0.1rem 0.6rem; border-radius: 0.3rem; font-size: 0.95rem;
  font-weight: 600; }}
.gw-chip.sensitive {{ background: {palette.level_hex("red")}; color: #fff; }}
.gw-chip.demo {{ background: #5a4a12; color: #ffd866; }}
.gw-h {{ font-size: 1.05rem; font-weight: 600; color: {palette.TEXT}; margin: 0.1rem 0 0.3rem;
  display: flex; align-items: center; gap: 0.5rem; }}
.gw-h .gw-n {{ font-size: 0.85rem; font-weight: 500; padding: 0 0.4rem; border-radius: 0.25rem; color: #0e1a2b; }}
.gw-note {{ color: {palette.MUTED}; font-size: 0.85rem; margin: -0.2rem 0 0.1rem; }}
.gw-alerts {{ list-style: none; margin: 0; padding: 0; }}
.gw-alerts li {{ display: flex; gap: 0.6rem; padding: 0.42rem 0.3rem; border-bottom: 1px solid {palette.PANEL_EDGE}; }}
.gw-alerts .dot {{ flex: none; width: 0.8rem; height: 0.8rem; border-radius: 50%; margin-top: 0.32rem; }}
.gw-alerts .body {{ min-width: 0; }}
.gw-alerts .title {{ font-size: 1.0rem; color: {palette.TEXT}; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }}
.gw-alerts .meta {{ font-size: 0.8rem; color: {palette.MUTED}; }}
.gw-empty {{ color: {palette.MUTED}; font-size: 0.95rem; padding: 0.6rem 0.2rem; }}
.gw-legend {{ display: flex; flex-wrap: wrap; gap: 0.7rem; font-size: 0.8rem; color: {palette.MUTED};
  margin-top: 0.2rem; }}
.gw-legend i {{ display: inline-block; width: 0.85rem; height: 0.85rem; margin-right: 0.25rem;
  vertical-align: -0.1rem; border-radius: 2px; }}
.gw-legend i.ring {{ background: transparent; border: 2px solid; }}
.gw-key {{ font-size: 0.8rem; font-weight: 400; color: {palette.MUTED}; margin-left: 0.6rem; }}
.gw-key i {{ display: inline-block; width: 0.7rem; height: 0.7rem; border-radius: 2px; margin-right: 0.25rem;
  vertical-align: -0.05rem; }}
.gw-stats {{ display: grid; grid-template-columns: repeat(2, 1fr); gap: 0.45rem; }}
.gw-stat {{ background: {palette.PANEL}; border: 1px solid {palette.PANEL_EDGE}; border-radius: 0.4rem;
  padding: 0.3rem 0.6rem; }}
.gw-stat .l {{ display: block; font-size: 0.85rem; color: {palette.MUTED}; }}
.gw-stat .v {{ font-size: 1.45rem; font-weight: 600; color: {palette.TEXT}; }}
.gw-stat .v small {{ font-size: 0.8rem; font-weight: 400; color: {palette.MUTED}; margin-left: 0.2rem; }}
.gw-stat .v.red {{ color: {palette.light_hex("red")}; }}
.gw-stat .v.green {{ color: {palette.light_hex("green")}; }}
</style>"""


# --- title bar and KPIs ------------------------------------------------------------------------------

def sensitive_period(ctx: ui.PageContext) -> str | None:
    """Name of the 重点时期 in force at the snapshot's as_of (ui.period_in_force), else None."""
    period = ui.period_in_force(ctx.settings, ctx.snap)
    return None if period is None else period.name


def title_bar(ctx: ui.PageContext) -> None:
    lang, tz = ctx.lang, ctx.settings.timezone
    now = datetime.now(ZoneInfo(tz))
    created = views.as_of(ctx.snap, ctx.settings)
    chips = []
    if (name := sensitive_period(ctx)) is not None:
        chips.append(f'<span class="gw-chip sensitive">【{html.escape(t("cmd_sensitive", lang))}】'
                     f'{html.escape(name)}</span>')
    if ui.screen_mode() and ui.demo_mode(ctx.settings, ctx.snap):  # the wall has no room for the banner
        chips.append(f'<span class="gw-chip demo">{html.escape(t("cmd_demo", lang))}</span>')
    units = ui.cached_units(ctx.settings, ctx.snap, ctx.viewer)
    scope = views.unit_label(units, ctx.filters.unit, jurisdiction=ctx.jurisdiction, lang=lang)
    if not ctx.viewer.sees_all:
        scope = f"{ctx.viewer.name} · {t('viewer_scope', lang).format(n=len(ctx.viewer.grids or ()))}"
    day = f"{now:%Y-%m-%d}" + (f" 周{WEEKDAYS[now.weekday()]}" if lang == "zh" else f" {now:%a}")
    updated = f"{created:%H:%M}" if created.date() == now.date() else f"{created:%m-%d %H:%M}"
    title = ctx.jurisdiction + ("" if lang == "zh" else " ") + t("cmd_title", lang)
    st.html(f'<div class="gw-bar"><h1>{html.escape(title)}</h1>'
            f'<span class="gw-sub">{html.escape(t("page_command", lang))}</span>{"".join(chips)}'
            f'<span class="gw-meta">{html.escape(scope)} · <b>{day} {now:%H:%M}</b> · '
            f'{html.escape(t("updated_at", lang))} <b>{updated}</b></span></div>')


# --- panels ----------------------------------------------------------------------------------------------

def key_html(items: list[tuple[str, str]]) -> str:
    """An inline colour key (the charts draw no legends of their own: they would eat the plot height)."""
    return "".join(f'<span class="gw-key"><i style="background:{colour}"></i>{html.escape(label)}</span>'
                   for colour, label in items)


def header(text: str, extra: str = "") -> None:
    st.html(f'<div class="gw-h">{html.escape(text)}{extra}</div>')


def alerts_panel(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    data = ui.cached_view(views.top_alerts, ctx, ctx.filters.unit, 9)
    counts = "".join(
        f'<span class="gw-n" style="background:{palette.level_hex(lv)}">{html.escape(t(f"level_{lv}", lang))} '
        f'{data.counts.get(lv, 0)}</span>' for lv in palette.LEVEL_ORDER if data.counts.get(lv))
    header(t("cmd_alerts", lang), counts)
    if not data.available:
        st.html(f'<div class="gw-empty">{html.escape(t("cmd_alerts_unavailable", lang))}</div>')
        return
    if data.rows.empty:
        st.html(f'<div class="gw-empty">{html.escape(t("cmd_alerts_none", lang))}</div>')
        return
    items = []
    for r in data.rows.itertuples(index=False):
        items.append(
            f'<li title="{html.escape(r.summary)}"><span class="dot" style="background:{palette.level_hex(r.level)}">'
            f'</span><div class="body"><div class="title">{html.escape(_short(r.title, ctx.jurisdiction))}</div>'
            f'<div class="meta">{html.escape(r.level_label)} · {html.escape(r.detector)} · {html.escape(r.state)}'
            f' · {html.escape(r.last_seen)}</div></div></li>')
    total = sum(data.counts.values())
    more = (f'<div class="gw-note">{html.escape(t("cmd_alerts_more", lang).format(n=total - len(items)))}</div>'
            if total > len(items) else "")
    st.html(f'<ul class="gw-alerts">{"".join(items)}</ul>{more}')


def _short(title: str, jurisdiction: str) -> str:
    """Alert titles start with the jurisdiction's name, which the title bar already shows."""
    return title[len(jurisdiction):].lstrip() if jurisdiction and title.startswith(jurisdiction) else title


def map_panel(ctx: ui.PageContext) -> views.MapData:
    lang = ctx.lang
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        header(t("cmd_map", lang))
        measure = st.segmented_control(t("measure", lang), list(MEASURE_KEYS), default="cases", key="cmd_measure",
                                       format_func=lambda m: t(MEASURE_KEYS[m], lang), label_visibility="collapsed")
        can_level = ctx.viewer.sees_all and ctx.filters.unit.is_county
        level = "grid"
        if can_level:
            level = st.segmented_control(t("map_level", lang), list(views.MAP_LEVELS), default="grid",
                                         key="cmd_level", label_visibility="collapsed",
                                         format_func=lambda v: t(f"map_level_{v}", lang)) or "grid"
        three_d = st.toggle(t("map_3d", lang), key="cmd_3d")
    data = ui.cached_view(views.map_data, ctx, ctx.filters, level, measure or "cases")
    views_state = st.session_state.setdefault(VIEWS_KEY, {})
    view_key = f"{ctx.viewer.scope_key}:{ctx.filters.unit.type}:{ctx.filters.unit.id}:{'3d' if three_d else '2d'}"
    if view_key not in views_state:
        views_state[view_key] = maplayers.view_for(data.bounds, width_px=900, height_px=MAP_HEIGHT,
                                                   pitch=45 if three_d else 0)
    layers = [maplayers.grid_layer(data.areas, opacity=0.35 if three_d else 1.0)]
    layers.append(maplayers.outline_layer(data.outlines))
    if data.hot is not None:
        layers.append(maplayers.hotspot_layer(data.hot))
    if three_d and len(data.columns):
        layers.append(maplayers.column_layer(data.columns, radius_m=600 if data.level == "township" else 200))
    layers.append(maplayers.label_layer(maplayers.declutter(data.labels, views_state[view_key], size_px=14),
                                        size=14))
    label = t(MEASURE_KEYS[data.measure], lang)
    tooltip = (f"<b>{{name}}</b><br/>{{community_name}} {{township_name}}<br/>{html.escape(label)}：{{shown}}"
               if data.level in ("grid", "community") else f"<b>{{name}}</b><br/>{html.escape(label)}：{{shown}}")
    deck = maplayers.deck(layers, views_state[view_key], tooltip_html=tooltip, tile_url=ctx.settings.map.tile_url,
                          tiles_coord_sys=ctx.settings.map.tiles_coord_sys)
    st.pydeck_chart(deck, height=MAP_HEIGHT, key="cmd-map")
    swatches = "".join(f'<span><i style="background:{hx}"></i>{html.escape(lab)}</span>' for hx, lab in data.legend)
    if data.hot is not None:
        swatches += (f'<span><i class="ring" style="border-color:{palette.hex_of(palette.HOTSPOT_RGB[3])}"></i>'
                     f'{html.escape(t("map_hot", lang).format(window=data.hot_window))}</span>')
    if data.level == "community":
        swatches += f'<span>{html.escape(t("map_by_community", lang))}</span>'
    st.html(f'<div class="gw-legend"><span>{html.escape(label)}</span>{swatches}</div>')
    return data


def _chart(chart: alt.Chart, height: int) -> alt.Chart:
    return (chart.properties(height=height, background="transparent")
            .configure_axis(labelFont=ui.CHART_FONT, titleFont=ui.CHART_FONT, labelColor=palette.MUTED, title=None,
                            gridColor=palette.PANEL_EDGE, domainColor=palette.PANEL_EDGE, labelFontSize=12)
            .configure_view(strokeWidth=0))


def bar_labels(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """`frame` for bars with value labels: `value` as numbers (a suppressed "<5" becomes NaN: no bar, no tooltip),
    `at`, where the label goes (0 for a suppressed bar), and `shown`, the label ("<5" for a suppressed bar)."""
    numbers = as_numbers(frame[value])
    return frame.assign(**{value: numbers, "at": numbers.fillna(0),
                           "shown": [v if is_suppressed(v) else f"{int(v)}" for v in frame[value]]})


def trend_panel(ctx: ui.PageContext) -> pd.DataFrame:
    lang = ctx.lang
    series = [t("series_received", lang), t("series_closed", lang)]
    colours = [palette.SERIES["received"], palette.SERIES["closed"]]
    header(t("cmd_trend", lang), key_html(list(zip(colours, series, strict=True))))
    data = ui.cached_view(views.trend, ctx, ctx.filters.unit, 30)
    # suppressed days are NaN: the line breaks there (Vega-Lite's default for invalid values)
    chart = alt.Chart(data.assign(cases=as_numbers(data["cases"]))).mark_line(
        point=alt.OverlayMarkDef(size=14), strokeWidth=2).encode(
        x=alt.X("date:T", axis=alt.Axis(format="%m-%d", labelAngle=0, tickCount=6)),
        y=alt.Y("cases:Q"),
        color=alt.Color("series:N", scale=alt.Scale(domain=series, range=colours), legend=None),
        tooltip=[alt.Tooltip("date:T", format="%Y-%m-%d"), "series:N", "cases:Q"])
    st.altair_chart(_chart(chart, 190), width="stretch", key="cmd-trend")
    return data


def categories_panel(ctx: ui.PageContext) -> pd.DataFrame:
    lang = ctx.lang
    header(t("cmd_categories", lang))
    data = ui.cached_view(views.categories, ctx, ctx.filters, 8)
    if data.empty:
        st.html(f'<div class="gw-empty">{html.escape(t("cmd_no_data", lang))}</div>')
        return data
    shown = bar_labels(data[["category", "cases"]], "cases")  # not the share: it would tell a suppressed count
    base = alt.Chart(shown).encode(y=alt.Y("category:N", sort=list(shown["category"]),
                                           axis=alt.Axis(labelLimit=120)), x=alt.X("cases:Q", axis=None))
    rest = t("other_categories", lang)
    bars = base.mark_bar(cornerRadiusEnd=2).encode(color=alt.condition(
        alt.datum.category == rest, alt.value(palette.MUTED), alt.value(palette.SERIES["received"])))
    text = base.mark_text(align="left", dx=4, color=palette.TEXT, font=ui.CHART_FONT).encode(x="at:Q", text="shown:N")
    st.altair_chart(_chart(bars + text, 215), width="stretch", key="cmd-categories")
    return data


def stats(items: list[tuple[str, str, str, str]]) -> None:
    """A grid of small numbers: (label, value, unit, tone) with tone "", "red" or "green"."""
    cells = "".join(f'<div class="gw-stat"><span class="l">{html.escape(label)}</span><span class="v {tone}">'
                    f'{html.escape(value)}<small>{html.escape(unit)}</small></span></div>'
                    for label, value, unit, tone in items)
    st.html(f'<div class="gw-stats">{cells}</div>')


def leaders_panel(ctx: ui.PageContext) -> views.LeaderSummary:
    lang = ctx.lang
    order = [t("leader_resolved", lang), t("leader_pending", lang), t("leader_overdue", lang)]
    colours = [palette.SERIES["resolved"], palette.SERIES["pending"], palette.SERIES["overdue"]]
    header(t("cmd_leaders", lang))
    s = ui.cached_view(views.leader_summary, ctx, ctx.filters.unit, 6)
    numbers, chart_col = st.columns([0.36, 0.64], gap="small")
    with numbers:
        stats([(t("stat_leaders", lang), fmt_count(s.leaders, lang), t("unit_people", lang), ""),
               (t("stat_cases", lang), fmt_count(s.cases, lang), t("unit_cases", lang), ""),
               (t("stat_resolved", lang), fmt_count(s.resolved, lang), fmt_rate(s.resolved, s.cases, lang=lang),
                "green"),
               (t("stat_overdue", lang), fmt_count(s.overdue, lang), t("unit_cases", lang), "red")])
    if s.per_leader.empty:
        return s
    chart = alt.Chart(s.per_leader.assign(cases=as_numbers(s.per_leader["cases"]))).mark_bar().encode(
        y=alt.Y("leader:N", sort=None, scale=alt.Scale(paddingInner=0.3),
                axis=alt.Axis(labelLimit=110, labelOverlap=False)),
        x=alt.X("cases:Q", stack="zero", axis=alt.Axis(tickMinStep=1, labelFontSize=10)),
        color=alt.Color("status:N", scale=alt.Scale(domain=order, range=colours), legend=None),
        order=alt.Order("status_rank:Q"),
        tooltip=["leader:N", "status:N", "cases:Q"],
    ).transform_calculate(status_rank=f"indexof({order!r}, datum.status)")
    with chart_col:
        st.html(f'<div class="gw-note">{html.escape(t("cmd_leaders_top", lang))} '
                f'{key_html(list(zip(colours, order, strict=True)))}</div>')
        st.altair_chart(_chart(chart, 150), width="stretch", key="cmd-leaders")
    return s


def supervision_panel(ctx: ui.PageContext) -> views.SupervisionSummary:
    lang = ctx.lang
    header(t("cmd_supervision", lang))
    s = ui.cached_view(views.supervision_summary, ctx, ctx.filters.unit)
    numbers, chart_col = st.columns([0.36, 0.64], gap="small")
    with numbers:
        stats([("/".join(name for name, _, _ in s.by_tier),
                " / ".join(fmt_count(total, lang) for _, total, _ in s.by_tier), t("unit_cases", lang), ""),
               (t("stat_open", lang), fmt_count(s.open, lang), t("unit_cases", lang), ""),
               (t("stat_sup_overdue", lang), fmt_count(s.overdue, lang), t("unit_cases", lang), "red"),
               (t("stat_reminders", lang), fmt_count(s.reminders, lang), t("unit_times", lang), "")])
    frame = s.red_by_unit.head(10)
    with chart_col:
        unit_name = t(f"unit_{s.red_unit_type}", lang)
        has_past = bool(frame["red_7d_ago"].notna().any()) if len(frame) else False
        key = "cmd_red_by" if has_past else "cmd_red_by_plain"
        st.html(f'<div class="gw-note">{html.escape(t(key, lang).format(unit=unit_name))}</div>')
        if frame.empty:
            return s
        frame = frame.head(6)
        change = ["" if pd.isna(p) or is_suppressed(r) or is_suppressed(p) else f"{int(r) - int(p):+d}"
                  for r, p in zip(frame["red"], frame["red_7d_ago"])]  # no change against a suppressed count
        frame = bar_labels(frame[["name", "red"]], "red")
        frame["label"] = frame["shown"] + [f" ({c})" if c else "" for c in change]
        top = frame["red"].max()
        base = alt.Chart(frame).encode(
            y=alt.Y("name:N", sort=None, scale=alt.Scale(paddingInner=0.3),
                    axis=alt.Axis(labelLimit=120, labelOverlap=False)),
            x=alt.X("red:Q", axis=None, scale=alt.Scale(domainMax=float(top) * 1.25 if top > 0 else 1)))
        bars = base.mark_bar(color=palette.light_hex("red"), cornerRadiusEnd=2)
        text = base.mark_text(align="left", dx=4, color=palette.TEXT, font=ui.CHART_FONT, fontSize=12).encode(
            x="at:Q", text="label:N")
        st.altair_chart(_chart(bars + text, 150), width="stretch", key="cmd-red")
    return s


# --- page ----------------------------------------------------------------------------------------------

def render(ctx: ui.PageContext) -> None:
    title_bar(ctx)
    kpis = ui.cached_view(views.kpis, ctx, ctx.filters)
    ui.kpi_row(kpis)
    today = views.snapshot_today(ctx.snap, ctx.settings)
    note = t("cmd_period_note", ctx.lang).format(period=views.period_label(ctx.filters.period, today, ctx.lang))
    note_slot = st.empty()  # filled below, once the panels tell whether they hold suppressed counts ("<5")
    left, middle, right = st.container(key="cmd-mid").columns([0.25, 0.5, 0.25], gap="medium")
    with left:
        alerts_panel(ctx)
    with middle:
        areas = map_panel(ctx).areas["features"]
        shown: list[object] = [kpis, [f["properties"].get("shown") for f in areas]]  # the tooltips, not the shapes
    with right.container(key="cmd-right"):
        with st.container(key="cmd-trend-panel"):
            shown.append(trend_panel(ctx))
        with st.container(key="cmd-categories-panel"):
            shown.append(categories_panel(ctx))
    bottom_left, bottom_right = st.columns(2, gap="medium")
    with bottom_left:
        shown.append(leaders_panel(ctx))
    with bottom_right:
        shown.append(supervision_panel(ctx))
    suppressed = ui.suppression_note(ctx, *shown)
    note_slot.html(f'<div class="gw-note">{html.escape(note)}'
                   f'{" · " + html.escape(suppressed) if suppressed else ""}</div>')


@st.fragment(run_every=REFRESH_S)
def live() -> None:
    """Re-read the current snapshot and draw everything; reruns by itself every REFRESH_S seconds."""
    wall = ui.screen_mode()  # the title bar's chips show 示例数据 and the 重点时期 instead of banners
    ctx = ui.page_context(demo_banner=not wall, period_banner=not wall)
    if ctx is not None:
        render(ctx)


st.html(CSS)
if not ui.screen_mode():  # the wall is not clicked; elsewhere drill county → township → community → grid
    ui.breadcrumbs(key="cmd-crumbs")  # outside the fragment: a click reruns the app (sidebar, URL)
live()
