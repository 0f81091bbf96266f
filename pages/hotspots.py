"""热点追踪: alert registry (level / detector / state filters), hot-spot map with emerging classes, per-alert
evidence, history and lifecycle actions (签收 / 交办 / 化解 / 误报) in the app DB; drill-down breadcrumbs set the
global unit filter (county → township → community → grid)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import appdb, maplayers, ui, views
from dashboard.settings import Settings
from dashboard.texts import t

MAP_HEIGHT = 380
VIEWS_KEY = "hs_views"
FLASH_KEY = "hs_flash"
WINDOWS = ("7d", "30d")


@st.cache_resource(show_spinner=False)
def _app_db(url: str, busy_timeout_s: float) -> appdb.AppDB:
    """One app DB engine per process and URL (migrated once)."""
    return appdb.open_app_db_url(url, busy_timeout_seconds=busy_timeout_s)


def app_db(settings: Settings) -> appdb.AppDB:
    return _app_db(appdb.app_db_url(settings), settings.app_db.busy_timeout_seconds)


def live_states(db: appdb.AppDB | None) -> dict[str, str]:
    """alert_id -> state as of now (uncached: changes without a new snapshot)."""
    if db is None:
        return {}
    live = appdb.current_alerts(db)
    return dict(zip(live["alert_id"].astype("str"), live["state"].astype("str"), strict=True)) if len(live) else {}


def state_label(code: str, lang: str) -> str:
    return appdb.STATES[code].label(lang) if code in appdb.STATES else code


def registry(ctx: ui.PageContext, db: appdb.AppDB | None) -> pd.DataFrame:
    lang = ctx.lang
    frame = ui.cached_view(views.alert_registry, ctx, ctx.filters.unit)
    states = live_states(db)
    frame = frame.assign(state=[states.get(a, s) for a, s in zip(frame["alert_id"], frame["state"], strict=True)])
    levels = list(dict.fromkeys(frame["level"]))
    detectors = dict(zip(frame["detector"], frame["detector_label"], strict=True))
    level_names = dict(zip(frame["level"], frame["level_label"], strict=True))
    everything = t("filter_all", lang)  # none picked = no filter (Streamlit's own placeholder is English)
    with st.container(horizontal=True):
        pick_level = st.multiselect(t("hs_filter_level", lang), levels, key="hs_level", placeholder=everything,
                                    format_func=lambda v: level_names.get(v, v))
        pick_det = st.multiselect(t("hs_filter_detector", lang), list(detectors), key="hs_detector",
                                  placeholder=everything, format_func=lambda v: detectors.get(v, v))
        pick_state = st.multiselect(t("hs_filter_state", lang), list(appdb.STATES), key="hs_state",
                                    placeholder=everything, format_func=lambda v: state_label(v, lang))
    mask = pd.Series(True, index=frame.index)
    if pick_level:
        mask &= frame["level"].isin(pick_level)
    if pick_det:
        mask &= frame["detector"].isin(pick_det)
    if pick_state:
        mask &= frame["state"].isin(pick_state)
    shown = frame[mask.to_numpy()]
    st.subheader(t("hs_registry", lang).format(n=len(shown)))
    if shown.empty:
        st.caption(t("hs_none", lang))
        return shown
    table = pd.DataFrame({
        t("col_level", lang): shown["level_label"], t("col_detector", lang): shown["detector_label"],
        t("col_title", lang): shown["title"], t("col_state", lang): [state_label(s, lang) for s in shown["state"]],
        t("col_last_seen", lang): shown["last_seen"]})
    st.dataframe(table, hide_index=True, width="stretch", height=min(36 * (len(table) + 1), 360))
    return shown


def hot_map(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    window = st.segmented_control(t("hs_window", lang), list(WINDOWS), default="7d", key="hs_window") or "7d"
    data = ui.cached_view(views.hotspot_map, ctx, ctx.filters.unit, window)
    st.subheader(t("hs_map", lang).format(window=window))
    if not data.available:
        st.caption(t("hs_no_stats", lang))
        return
    saved = st.session_state.setdefault(VIEWS_KEY, {})
    key = f"{ctx.viewer.scope_key}:{ctx.filters.unit.type}:{ctx.filters.unit.id}"
    if key not in saved:
        saved[key] = maplayers.view_for(data.bounds, width_px=700, height_px=MAP_HEIGHT)
    tooltip = "<b>{name}</b> {community_name} {township_name}<br/>Gi* {bin} · {trend}"
    deck = maplayers.deck([maplayers.grid_layer(data.areas)], saved[key], tooltip_html=tooltip,
                          tile_url=ctx.settings.map.tile_url,
                          tiles_coord_sys=ctx.settings.map.tiles_coord_sys)
    st.pydeck_chart(deck, height=MAP_HEIGHT, key="hs-map")
    if len(data.trends):
        st.caption(t("hs_trends", lang))
        st.dataframe(data.trends, hide_index=True)


def evidence(raw: str, lang: str) -> None:
    st.markdown(f"**{t('hs_evidence', lang)}**")
    try:
        doc: Any = json.loads(raw) if raw else {}
    except ValueError:
        doc = {"text": raw}
    if not isinstance(doc, dict):
        doc = {"text": str(doc)}
    text = str(doc.get("text") or "")
    if text:
        st.markdown(ui.escape_markdown(text))
    rest = {k: v for k, v in doc.items() if k != "text"}
    if rest:
        st.dataframe(pd.DataFrame({"key": list(rest), "value": [
            v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str) for v in rest.values()]}),
            hide_index=True)


def history(db: appdb.AppDB, alert_id: str, ctx: ui.PageContext) -> None:
    lang = ctx.lang
    st.markdown(f"**{t('hs_history', lang)}**")
    zone = ZoneInfo(ctx.settings.timezone)
    events = appdb.history(db, alert_id)
    st.dataframe(pd.DataFrame({
        t("col_when", lang): [e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M") for e in events],
        t("col_who", lang): [e.who for e in events],
        t("col_action", lang): [e.label(lang) for e in events],
        t("col_note", lang): [e.note for e in events]}), hide_index=True, width="stretch", key="hs-history")


def actions(db: appdb.AppDB, alert_id: str, state: str, ctx: ui.PageContext) -> None:
    lang = ctx.lang
    who = ctx.viewer.name or t(f"role_{sorted(ctx.viewer.roles)[0]}", lang)
    offered = appdb.allowed_actions(state)
    st.markdown(f"**{t('hs_actions', lang)}**")
    if not offered:
        st.caption(t("hs_no_actions", lang))
        return
    tz = ZoneInfo(ctx.settings.timezone)
    for action in offered:
        with st.expander(action.label(lang), expanded=action.code == "acknowledge"):
            run: Any = None
            if action.code == "acknowledge":
                note = st.text_input(t("hs_note", lang), key="hs_ack_note")
                if st.button(action.label(lang), key="hs_acknowledge", type="primary"):
                    run = lambda: appdb.acknowledge(db, alert_id, who=who, note=note)  # noqa: E731
            elif action.code == "dispatch":
                kind = st.radio(t("hs_target_kind", lang), appdb.DISPATCH_TARGETS, key="hs_dispatch_kind",
                                horizontal=True, format_func=lambda k: t(f"hs_target_{k}", lang))
                target = st.text_input(t("hs_target", lang), key="hs_dispatch_to")
                today = dt.datetime.now(tz).date()
                due = st.date_input(t("hs_due", lang), value=today + dt.timedelta(days=7), min_value=today,
                                    key="hs_dispatch_due")
                note = st.text_input(t("hs_note", lang), key="hs_dispatch_note")
                if st.button(action.label(lang), key="hs_dispatch"):
                    due_at = dt.datetime.combine(due, dt.time(23, 59), tzinfo=tz)
                    run = lambda: appdb.dispatch(  # noqa: E731
                        db, alert_id, who=who, due_at=due_at, note=note,
                        to_unit=target if kind == "unit" else None, to_leader=target if kind == "leader" else None)
            elif action.code == "resolve":
                note = st.text_input(t("hs_note", lang), key="hs_resolve_note")
                review = st.text_area(t("hs_review", lang), key="hs_resolve_review")
                recs = [(code, st.text_input(t("hs_rec", lang).format(kind=kind.label(lang)), key=f"hs_rec_{code}"))
                        for code, kind in appdb.RECOMMENDATION_KINDS.items()]
                if st.button(action.label(lang), key="hs_resolve"):
                    picked = [(c, v.strip()) for c, v in recs if v.strip()]
                    run = lambda: appdb.resolve(db, alert_id, who=who, note=note,  # noqa: E731
                                                review_note=review, recommendations=picked)
            elif action.code == "dismiss":
                reason = st.text_input(t("hs_reason", lang), key="hs_dismiss_reason")
                if st.button(action.label(lang), key="hs_dismiss"):
                    run = lambda: appdb.dismiss(db, alert_id, who=who, reason=reason)  # noqa: E731
            if run is not None:
                try:
                    run()
                except appdb.AlertError as exc:
                    st.error(t("hs_failed", lang).format(error=exc))
                else:
                    st.session_state[FLASH_KEY] = t("hs_done", lang).format(action=action.label(lang),
                                                                            alert=alert_id)
                    st.rerun()


def detail(ctx: ui.PageContext, shown: pd.DataFrame, db: appdb.AppDB | None) -> None:
    lang = ctx.lang
    if shown.empty or db is None:
        return
    st.subheader(t("hs_detail", lang))
    titles = dict(zip(shown["alert_id"], shown["level_label"] + " · " + shown["title"], strict=True))
    alert_id = st.selectbox(t("hs_pick", lang), list(titles), key="hs_pick", format_func=lambda a: titles.get(a, a))
    if alert_id is None:
        return
    row = shown[shown["alert_id"] == alert_id].iloc[0]
    try:
        live = appdb.get_alert(db, alert_id)  # uncached: the state as of now
    except appdb.AlertNotFound:
        live = None
    state = str(live["state"]) if live else str(row["state"])
    if live:
        when = live["state_changed_at"].astimezone(ZoneInfo(ctx.settings.timezone)).strftime("%m-%d %H:%M")
        st.markdown(ui.escape_markdown(t("hs_live_state", lang).format(
            state=state_label(state, lang), who=live["state_changed_by"], when=when)))
    evidence(str(row["evidence"]), lang)
    if live:
        history(db, alert_id, ctx)
        actions(db, alert_id, state, ctx)


def main() -> None:
    ctx = ui.page_context()
    if ctx is None:
        return
    st.title(t("page_hotspots", ctx.lang))
    ui.breadcrumbs(ctx, key="hs-crumbs")  # county → township → community → grid, as the sidebar's unit filter
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash)
    db: appdb.AppDB | None
    try:
        db = app_db(ctx.settings)
    except appdb.AppDBError as exc:
        st.warning(t("hs_appdb_error", ctx.lang).format(error=exc))
        db = None
    shown = registry(ctx, db)
    detail(ctx, shown, db)
    hot_map(ctx)


main()
