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
}


def t(key: str, lang: str = "zh") -> str:
    """The text for `key` in `lang` (Chinese when a translation is missing)."""
    entry = TEXTS[key]
    return entry.get(lang) or entry["zh"]
