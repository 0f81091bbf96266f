"""User-facing strings, Chinese first (English alongside for the language switch), kept in one place."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "app_title": {"zh": "网格信访态势监测", "en": "Gridwatch"},
    "page_map": {"zh": "总览地图", "en": "Overview map"},
    "demo_banner": {"zh": "示例数据：本页所示均为合成的演示数据，不对应真实人员与事项。",
                    "en": "Demo data: everything shown is synthetic."},
    "no_snapshot": {"zh": "还没有可用的数据快照。请运行 `gridwatch refresh`（演示：`gridwatch demo`）。",
                    "en": "No snapshot yet. Run `gridwatch refresh` (demo: `gridwatch demo`)."},
    "updated_at": {"zh": "数据更新于", "en": "Data as of"},
    "measure": {"zh": "着色指标", "en": "Colour by"},
    "measure_cases": {"zh": "事项数", "en": "Cases"},
    "measure_rate": {"zh": "每万人事项数", "en": "Cases per 10k people"},
    "measure_open": {"zh": "在办事项数", "en": "Open cases"},
    "kpi_cases": {"zh": "事项总数", "en": "Cases"},
    "kpi_grids": {"zh": "网格", "en": "Grids"},
    "kpi_townships": {"zh": "乡镇（街道）", "en": "Townships"},
    "kpi_unassigned": {"zh": "未落图事项", "en": "Unplaced cases"},
    "kpi_rejected": {"zh": "被拒绝的源数据行", "en": "Rejected source rows"},
    "tooltip_grid": {"zh": "网格", "en": "Grid"},
    "tooltip_community": {"zh": "社区", "en": "Community"},
    "tooltip_township": {"zh": "乡镇", "en": "Township"},
    "legend_low": {"zh": "少", "en": "low"},
    "legend_high": {"zh": "多", "en": "high"},
    "error_prefix": {"zh": "出错了", "en": "Error"},
    "stale_failed": {"zh": "数据未更新：最近一次刷新失败（{when}，{error}）；正在显示 {shown} 的数据。",
                     "en": "Data not updated: the last refresh failed ({when}, {error}); showing data as of {shown}."},
    "stale_failed_no_data": {"zh": "数据未更新：最近一次刷新失败（{when}，{error}）。",
                             "en": "Data not updated: the last refresh failed ({when}, {error})."},
    "stale_old": {"zh": "数据已超过 {minutes} 分钟未更新（最近一次成功刷新：{shown}）。请检查定时刷新"
                        "（应用内定时刷新或 `gridwatch worker`）。",
                  "en": "Data not updated for more than {minutes} minutes (last successful refresh: {shown}). "
                        "Check the scheduled refresh (in-app scheduler or `gridwatch worker`)."},
    "snapshot_skipped": {"zh": "已跳过损坏的数据快照（{skipped}）；正在显示快照 {shown}。",
                         "en": "Skipped unreadable snapshot(s) ({skipped}); showing snapshot {shown}."},
    "refresh_heading": {"zh": "数据刷新", "en": "Data refresh"},
    "refresh_last_ok": {"zh": "上次成功：{when}", "en": "Last success: {when}"},
    "refresh_last_error": {"zh": "上次失败：{when}", "en": "Last failure: {when}"},
    "refresh_next": {"zh": "下次刷新：{when}", "en": "Next refresh: {when}"},
    "refresh_every": {"zh": "每 {minutes} 分钟刷新一次", "en": "Every {minutes} minutes"},
    "refresh_by_this": {"zh": "由本进程定时刷新", "en": "Scheduled by this process"},
    "refresh_by_other": {"zh": "由另一进程定时刷新（{holder}）", "en": "Refreshed by another process ({holder})"},
    "refresh_no_scheduler": {"zh": "定时刷新未运行", "en": "No scheduled refresh running"},
    "never": {"zh": "无", "en": "never"},
}


def t(key: str, lang: str = "zh") -> str:
    """The text for `key` in `lang` (Chinese when a translation is missing)."""
    entry = TEXTS[key]
    return entry.get(lang) or entry["zh"]
