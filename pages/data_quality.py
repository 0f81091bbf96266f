"""数据质量: refresh health and history, rows per table, rejected rows by reason, placement, grid overlaps/gaps.

For the administrator and the joint-meeting office (app.py lists the page for QUALITY_ROLES only; the
views in dashboard/quality.py refuse other roles as well).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import pydeck as pdk
import streamlit as st

from dashboard import maplayers, quality, ui
from dashboard.formatting import fmt_count
from dashboard.texts import t
from dashboard.viewer import AccessDenied
from loaders.errors import GridwatchError


def health(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    status = ui.refresh_status()
    cols = st.columns(4)
    tz = ctx.settings.timezone
    if status is not None:
        cols[0].metric(t("dq_last_ok", lang), ui.format_time(status.last_success_at, tz), border=True)
        cols[1].metric(t("dq_next", lang), ui.format_time(status.next_run_at, tz) if status.next_run_at else "—",
                       border=True)
        if status.this_process:
            who = t("dq_sched_this", lang)
        elif status.scheduler_running:
            who = t("dq_sched_other", lang).format(holder=f"PID {status.scheduler_pid}" if status.scheduler_pid
                                                   else "?")
        else:
            who = t("dq_sched_none", lang)
        cols[2].metric(t("dq_scheduler", lang), who, border=True,
                       help=t("refresh_every", lang).format(minutes=status.interval_minutes))
        if status.last_attempt_ok is False and status.last_error:
            st.error(f"{t('refresh_last_error', lang).format(when=ui.format_time(status.last_error_at, tz))} — "
                     f"{status.last_error}")
    failures = quality.failures_since(ctx.viewer, ctx.snap, ctx.settings, 24)  # history: uncached
    cols[3].metric(t("dq_failures", lang), fmt_count(failures, lang), border=True)


def history_section(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    left, right = st.columns([0.55, 0.45], gap="medium")
    with left:
        st.subheader(t("dq_history", lang))
        history = quality.refresh_history(ctx.viewer, ctx.snap, ctx.settings, 30)
        st.dataframe(history, hide_index=True, height=min(320, 38 + 35 * max(len(history), 1)), key="dq-history")
    with right:
        st.subheader(t("dq_steps", lang))
        steps = quality.step_durations(ctx.viewer, ctx.snap, ctx.settings, 15)
        if steps.empty:
            st.caption(t("cmd_no_data", lang))
        else:
            chart = alt.Chart(steps).mark_bar().encode(
                x=alt.X("started:N", title=None, sort=None, axis=alt.Axis(labelAngle=-30)),
                y=alt.Y("seconds:Q", title=None, stack="zero"),
                color=alt.Color("step:N", title=t("col_step", lang), legend=alt.Legend(orient="right")),
                tooltip=["started:N", "step:N", "seconds:Q"])
            st.altair_chart(chart.properties(height=300), width="stretch", key="dq-steps")


def rows_section(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    st.subheader(t("dq_rows", lang))
    st.dataframe(ui.cached_view(quality.table_rows, ctx), hide_index=True, key="dq-rows")


def rejected_section(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    st.subheader(t("dq_rejected", lang))
    groups = ui.cached_view(quality.rejected_groups, ctx)
    if not groups:
        st.success(t("dq_rejected_none", lang))
        return
    summary = pd.DataFrame({
        t("col_table", lang): [g.table for g in groups], t("col_column", lang): [g.column for g in groups],
        t("col_reason", lang): [g.reason for g in groups], t("col_action", lang): [g.action for g in groups],
        t("col_count", lang): [g.count for g in groups]})
    st.dataframe(summary, hide_index=True, key="dq-rejected")
    for i, g in enumerate(groups):
        with st.expander(f"{g.reason} · {g.column} · {fmt_count(g.count, lang)}"):
            st.caption(t("dq_examples", lang).format(n=quality.EXAMPLES))
            st.dataframe(g.examples, hide_index=True, key=f"dq-rejected-{i}")


def placement_section(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    st.subheader(t("dq_placement", lang))
    left, right = st.columns([0.3, 0.7], gap="medium")
    with left:
        st.dataframe(ui.cached_view(quality.placement, ctx), hide_index=True, key="dq-placement")
    with right:
        problem_table(lang, "dq_unassigned", ui.cached_view(quality.unassigned_cases, ctx, 200), "dq-unassigned")
        problem_table(lang, "dq_coords", ui.cached_view(quality.coordinate_problems, ctx, 200), "dq-coords")
        problem_table(lang, "dq_deadlines", ui.cached_view(quality.deadline_problems, ctx), "dq-deadlines")


def problem_table(lang: str, title_key: str, rows: pd.DataFrame, key: str) -> None:
    """A heading, then the rows, or a success note (text key `<title_key>_none`) when there are none."""
    st.markdown(f"**{t(title_key, lang)}**")
    if rows.empty:
        st.success(t(f"{title_key}_none", lang))
    else:
        st.dataframe(rows, hide_index=True, key=key)


def grid_section(ctx: ui.PageContext) -> None:
    lang = ctx.lang
    st.subheader(t("dq_grid_issues", lang))
    issues = ui.cached_view(quality.grid_issues, ctx)
    if issues.table.empty:
        st.success(t("dq_grid_issues_none", lang))
        return
    left, right = st.columns([0.45, 0.55], gap="medium")
    with left:
        st.dataframe(issues.table, hide_index=True, key="dq-grid-issues")
    with right:
        if "dq_view" not in st.session_state:
            st.session_state["dq_view"] = maplayers.view_for(issues.bounds, width_px=700, height_px=360)
        layers = [maplayers.outline_layer(issues.grids, layer_id="dq-grids"),
                  pdk.Layer("GeoJsonLayer", issues.issues, id="dq-issues", pickable=True, stroked=True, filled=True,
                            get_fill_color="properties.fill", get_line_color=[255, 255, 255, 220],
                            line_width_min_pixels=1)]
        tooltip = f"<b>{{kind}}</b><br/>{t('col_grids', lang)} {{grids}}<br/>{t('col_area', lang)} {{area}}"
        st.pydeck_chart(maplayers.deck(layers, st.session_state["dq_view"], tooltip_html=tooltip,
                                       tile_url=ctx.settings.map.tile_url,
                                       tiles_coord_sys=ctx.settings.map.tiles_coord_sys), height=360, key="dq-map")


def main() -> None:
    ctx = ui.page_context()
    if ctx is None:
        return
    lang = ctx.lang
    st.title(t("dq_title", lang))
    try:
        summary = ui.cached_view(quality.snapshot_summary, ctx)
        st.caption(t("dq_snapshot", lang).format(
            version=summary["version"], created=summary["created"],
            kind=t("dq_incremental" if summary["incremental"] else "dq_full", lang)))
        health(ctx)
        history_section(ctx)
        rows_section(ctx)
        rejected_section(ctx)
        placement_section(ctx)
        grid_section(ctx)
    except AccessDenied:
        st.warning(t("access_denied", lang))
    except GridwatchError as exc:  # an unreadable snapshot table
        ui.show_error(exc)


main()
