"""报表: 周通报 / 月分析 / 季研判 (or a custom period) of a unit as Word and Excel files, written to the audit log.

The report is built by `dashboard.reports` from the viewer-scoped data layer, so its numbers are the
dashboard's; a grid worker's report holds only their grids. Making the files is the export: it is audited
once per click on 生成报表, then both files are offered for download.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import reports, ui, views
from dashboard.filters import Unit
from dashboard.texts import t

RESULT_KEY = "rp_result"


def unit_choices(ctx: ui.PageContext) -> dict[str, Unit]:
    """The whole jurisdiction (a grid worker: their grids), the townships, and the global filter's unit."""
    lang = ctx.lang
    opts = ui.cached_view(views.unit_options, ctx)
    units = ui.cached_units(ctx.settings, ctx.snap, ctx.viewer)
    out = {views.unit_label(units, Unit(), jurisdiction=ctx.jurisdiction, lang=lang): Unit()}
    if ctx.viewer.sees_all:
        out.update({name: Unit("township", tid) for tid, name in opts.townships})
    current = ctx.filters.unit
    if not current.is_county:
        out.setdefault(views.unit_label(units, current, jurisdiction=ctx.jurisdiction, lang=lang), current)
    return out


def main() -> None:
    ctx = ui.page_context()
    if ctx is None:
        return
    lang = ctx.lang
    st.title(t("page_reports", lang))
    st.caption(t("rp_intro", lang))
    today = views.snapshot_today(ctx.snap, ctx.settings)
    earliest = views.earliest_day(ctx.snap, ctx.settings)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        kind = st.segmented_control(t("rp_kind", lang), list(reports.KINDS), default="week", key="rp_kind",
                                    format_func=lambda k, lang=lang: t(f"rp_kind_{k}", lang)) or "week"
        choices = unit_choices(ctx)
        names = list(choices)
        current = next((n for n, u in choices.items() if u == ctx.filters.unit), names[0])
        picked = st.selectbox(t("rp_unit", lang), names, index=names.index(current), key="rp_unit", width=320)
    start = end = None
    if kind == "custom":
        with st.container(horizontal=True):
            start = st.date_input(t("rp_start", lang), value=today - dt.timedelta(days=13), min_value=earliest,
                                  max_value=today, key="rp_from", width=200)
            end = st.date_input(t("rp_end", lang), value=today, min_value=earliest, max_value=today, key="rp_to",
                                width=200)
    else:
        anchor = st.date_input(t("rp_anchor", lang), value=None, min_value=earliest, max_value=today,
                               key=f"rp_anchor_{kind}", help=t("rp_anchor_help", lang), width=200)
        start = anchor if isinstance(anchor, dt.date) else None
    try:
        period = reports.report_period(kind, today=today, start=start if isinstance(start, dt.date) else None,
                                       end=end if isinstance(end, dt.date) else None)
    except reports.ReportError as exc:
        st.error(str(exc))
        return
    unit = choices[picked]
    st.caption(t("rp_period_line", lang).format(start=period.start, end=period.end, prev_start=period.prev_start,
                                                prev_end=period.prev_end, unit=picked))
    request = reports.ReportRequest(period, unit)
    if st.button(t("rp_generate", lang), type="primary", key="rp_generate"):
        try:
            report = ui.cached_view(reports.build_report, ctx, request)
            files = {fmt: reports.write(report, fmt, settings=ctx.settings) for fmt in reports.FORMATS}
            user = ctx.viewer.name or "(" + ",".join(sorted(ctx.viewer.roles)) + ")"
            for fmt in reports.FORMATS:
                reports.audit_export(ctx.settings, report, fmt, user=user)
        except reports.ReportError as exc:
            st.error(str(exc))
            return
        st.session_state[RESULT_KEY] = (request.key(), ctx.snap.version, ctx.viewer.cache_key,
                                        {fmt: (report.filename(fmt), data) for fmt, data in files.items()},
                                        report.sentences, report.notes)
    result = st.session_state.get(RESULT_KEY)
    if not result or result[0] != request.key() or result[1] != ctx.snap.version or result[2] != ctx.viewer.cache_key:
        return
    _, _, _, files, sentences, notes = result
    st.success(t("rp_audited", lang).format(name=files["docx"][0]))
    with st.container(horizontal=True):
        for fmt, label in (("docx", "rp_download_docx"), ("xlsx", "rp_download_xlsx")):
            name, data = files[fmt]
            st.download_button(t(label, lang), data=data, file_name=name, mime=reports.MIME[fmt],
                               key=f"rp_download_{fmt}", on_click="ignore")
    st.subheader(t("rp_preview", lang))
    for note in notes:
        st.info(note)
    st.markdown("\n".join(f"- {ui.escape_markdown(s)}" for s in sentences))


main()
