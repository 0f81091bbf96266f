"""Reports (周通报 / 月分析 / 季研判 / custom period): a viewer-scoped model of the current snapshot, DOCX and XLSX.

`build_report(viewer, snap, settings, request)` gathers everything from the data layer (`dashboard.views`),
so every number equals what the dashboard shows the same viewer: the headline figures are the unit's
week / month rows of metrics.parquet (a quarter: its three months; a custom period: the day rows the
command screen sums), breakdowns come from `views.categories`, `rate_ranking`, `light_board`,
`leader_board`, `supervision_board`, and alerts / hot spots from the scoped readers. A grid worker's
report holds only their grids. For roles without point access every count of cases, 包案 or 督办 below the
small-count threshold — headline figures, sentences and every count table — is "<5", the rates and changes
computed from one "样本<5", and such a rank is left empty (`dashboard.suppression`, as on the pages; the
views are called with `exact=True`, since the report compares periods before it suppresses). `write_docx` and
`write_xlsx` turn the model into files; `audit_export` writes the audit-log row every export needs (SPEC §9).

Typography of the DOCX (GB/T 9704 style): East Asian font names are written to `w:eastAsia`
(`reports.body_font` 仿宋 for text, `reports.heading_font` 黑体 for headings and table headers,
`reports.title_font` for the title); Latin text and digits use Times New Roman. Fonts are not embedded:
Word and WPS substitute a font that is not installed (仿宋_GB2312 / 方正小标宋简体 are common on government
machines and can be configured; 仿宋 and 黑体 ship with every Windows since Vista; LibreOffice falls back
to its CJK default). The map image is drawn offline with matplotlib and the WenQuanYi Micro Hei font
(Debian package fonts-wqy-microhei); without a CJK font it is drawn without names.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import shapely

from dashboard import maplayers, palette, views
from dashboard.filters import Filters, Period, Unit
from dashboard.formatting import fmt_count, fmt_rate
from dashboard.settings import Settings
from dashboard.snapshots import Snapshot
from dashboard.suppression import (count_text, is_small, order_key, shown_count, small_mask, suppress_frame,
                                   suppressed_rate_text, suppressed_text, threshold_for)
from dashboard.texts import TEXTS, t
from dashboard.viewer import Viewer
from geo.metrics import METRICS, combine_periods
from loaders.errors import GridwatchError

KINDS: tuple[str, ...] = ("week", "month", "quarter", "custom")
FORMATS: tuple[str, ...] = ("docx", "xlsx")
HEADLINE: tuple[str, ...] = ("received", "accepted", "closed", "open_end", "overdue", "backlog", "repeat_cases",
                             "skip_level", "skip_level_province", "skip_level_national", "collective_cases",
                             "collective_people", "timely_acceptance", "on_time_conclusion", "participation",
                             "satisfaction", "resolution", "repeat_rate", "avg_handling_days")
ALERT_ROWS = 200        # alerts listed per report (the rest counted in the note)
LEADER_ROWS = 200
HOTSPOT_ROWS = 200
PRINT_NO_DATA = (0.9, 0.9, 0.9)
PRINT_SUPPRESSED = (0.72, 0.72, 0.72)  # grids whose count is suppressed ("<5"): one colour, not their class
_LEADER_COUNTS = ("cases", "open", "resolved", "overdue", "new", "resolved_new")
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "SimHei", "Microsoft YaHei")
MIME = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class ReportError(GridwatchError):
    """A report cannot be made as asked (unknown kind, impossible dates, unknown unit)."""

    exit_code = 11


# --- periods --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportPeriod:
    """The reported dates (inclusive, local) and the previous period of the same length for comparisons."""

    kind: str
    start: dt.date
    end: dt.date
    prev_start: dt.date
    prev_end: dt.date
    issue: int | None  # 第N期: ISO week, month or quarter number in the year; None for a custom period

    def key(self) -> tuple[str, ...]:
        return (self.kind, self.start.isoformat(), self.end.isoformat(), str(self.issue))


def _month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def report_period(kind: str, *, today: dt.date, start: dt.date | None = None, end: dt.date | None = None,
                  issue: int | None = None) -> ReportPeriod:
    """The period of a report. week / month / quarter: the one containing `start`, by default the last
    complete one before `today` (a bulletin reports the week that just ended); custom: `start`..`end`."""
    if kind not in KINDS:
        raise ReportError(f"`period` was {kind!r} but is expected to be one of {', '.join(KINDS)}")
    if kind == "week":
        anchor = start or today - dt.timedelta(days=7)
        s = anchor - dt.timedelta(days=anchor.weekday())
        e = s + dt.timedelta(days=6)
        ps, pe = s - dt.timedelta(days=7), s - dt.timedelta(days=1)
        number = s.isocalendar().week
    elif kind == "month":
        anchor = start or today.replace(day=1) - dt.timedelta(days=1)
        s, e = anchor.replace(day=1), _month_end(anchor)
        pe = s - dt.timedelta(days=1)
        ps = pe.replace(day=1)
        number = s.month
    elif kind == "quarter":
        first = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
        anchor = start or first - dt.timedelta(days=1)
        s = anchor.replace(month=3 * ((anchor.month - 1) // 3) + 1, day=1)
        e = _month_end(s.replace(month=s.month + 2))
        pe = s - dt.timedelta(days=1)
        ps = pe.replace(month=3 * ((pe.month - 1) // 3) + 1, day=1)
        number = (s.month - 1) // 3 + 1
    else:
        if start is None or end is None:
            raise ReportError("a custom period needs --start and --end (YYYY-MM-DD)")
        if start > end:
            raise ReportError(f"`start` ({start}) is after `end` ({end}): give the earlier date first")
        s, e = start, end
        pe = s - dt.timedelta(days=1)
        ps = pe - (e - s)
        number = None
    return ReportPeriod(kind, s, e, ps, pe, issue if issue is not None else number)


@dataclass(frozen=True)
class ReportRequest:
    """What to report: period and unit (hashable; `key()` for cached views)."""

    period: ReportPeriod
    unit: Unit = field(default_factory=Unit)
    include_map: bool = True

    def key(self) -> tuple[str, ...]:
        return (*self.period.key(), *self.unit.key(), str(self.include_map))


# --- the model -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    """One headline figure: this period and the previous one (counts, or rates/means with num/den).

    For a viewer whose small counts are suppressed (`_shown_figure`) a count may be the text "<5", a rate or
    mean computed from one "样本<5" / "n<5", and `hidden_change` is then what the change shows."""

    name: str
    label: str
    kind: str  # count | rate | mean
    value: float | str | None
    previous: float | str | None
    num: float | str = 0.0
    den: float | str = 0.0
    prev_num: float | str = 0.0
    prev_den: float | str = 0.0
    hidden_change: str | None = None

    @property
    def text(self) -> str:
        return _figure_text(self.kind, self.value, self.num, self.den)

    @property
    def prev_text(self) -> str:
        return _figure_text(self.kind, self.previous, self.prev_num, self.prev_den)

    @property
    def change(self) -> float | str | None:
        """Counts and means: relative change (0.12 = +12 %); rates: difference (0.012 = +1.2 points).
        `hidden_change` ("样本<5") when this or the previous value is suppressed (the change would tell it)."""
        if self.value is None or self.previous is None:
            return None
        if self.kind != "rate" and not isinstance(self.previous, str) and not self.previous:
            return None
        if isinstance(self.value, str) or isinstance(self.previous, str):
            return self.hidden_change or "—"
        if self.kind == "rate":
            return self.value - self.previous
        return (self.value - self.previous) / self.previous

    def change_text(self, lang: str) -> str:
        c = self.change
        if c is None:
            return "—"
        if isinstance(c, str):
            return c
        if self.kind == "rate":
            return f"{100 * c:+.1f}" + (t("rp_points", lang))
        return f"{100 * c:+.1f}%"


def _figure_text(kind: str, value: float | str | None, num: float | str, den: float | str) -> str:
    if isinstance(value, str):  # suppressed ("<5", "样本<5")
        return value
    if kind == "count":
        return fmt_count(value)
    if kind == "rate":
        return fmt_rate(num, den)
    return "—" if not den else f"{num / den:.1f}"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    type: str = "text"  # text | int | float | rate | date


@dataclass(frozen=True)
class Table:
    """One table of the report: a title, typed columns and rows (values: numbers, dates, text, None)."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: pd.DataFrame
    note: str = ""


@dataclass(frozen=True)
class Report:
    """Everything a writer needs: title block, headline figures, sentences, notes, tables, map image."""

    kind: str
    lang: str
    title: str
    kind_name: str
    jurisdiction: str
    issuer: str
    unit: Unit
    unit_label: str
    period: ReportPeriod
    period_text: str
    as_of: pd.Timestamp
    generated_for: str
    figures: tuple[Figure, ...]
    sentences: tuple[str, ...]
    notes: tuple[str, ...]
    tables: tuple[Table, ...]
    map_png: bytes | None = None
    map_caption: str = ""
    grid_ids: frozenset[str] = frozenset()  # grids the report covers (for checks and the audit log)

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)

    def table(self, key: str) -> Table:
        return next(tb for tb in self.tables if tb.key == key)

    def filename(self, fmt: str) -> str:
        unit = re.sub(r"[\\/:*?\"<>|\s·]+", "", self.unit_label) or self.unit.id
        return f"{self.kind_name}_{unit}_{self.period.start:%Y%m%d}-{self.period.end:%Y%m%d}.{fmt}"

    def audit_id(self, fmt: str) -> str:
        return (f"{self.kind}:{self.unit.type}:{self.unit.id}:{self.period.start.isoformat()}.."
                f"{self.period.end.isoformat()}:{fmt}")


def jurisdiction_name(snap: Snapshot, settings: Settings) -> str:
    """The jurisdiction's name: manifest or config, else the demo district's name (demo_truth.json)."""
    name = snap.manifest.get("jurisdiction_name") or settings.jurisdiction_name
    if not name:
        try:
            doc = json.loads((settings.data_path / "demo" / "demo_truth.json").read_text(encoding="utf-8"))
            name = doc.get("district_name", "") if isinstance(doc, dict) else ""
        except (OSError, ValueError):
            name = ""
    return str(name or "")


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype("datetime64[s]")).dt.date


def _metric_rows(viewer: Viewer, snap: Snapshot, units: pd.DataFrame, unit: Unit, grain: str, start: dt.date,
                 end: dt.date) -> pd.DataFrame:
    """metrics.parquet rows of `grain` (week / month) starting in start..end for the unit; a viewer with a
    grid scope: the sum of their grids' rows in the unit (they get no rows of larger units)."""
    if viewer.sees_all:
        rows = views.scoped_metrics(viewer, snap, unit_type=unit.type, unit_ids=[unit.id], period=grain,
                                    start=start, end=end)
    else:
        grids = units.loc[views.unit_grids(units, unit), "grid_id"].astype("str").tolist()
        rows = views.scoped_metrics(viewer, snap, unit_type="grid", unit_ids=grids, period=grain, start=start,
                                    end=end) if grids else views.scoped_metrics(viewer, snap, unit_type="grid",
                                                                                 unit_ids=["\x00"], period=grain)
    return rows


def period_totals(viewer: Viewer, snap: Snapshot, settings: Settings, units: pd.DataFrame, unit: Unit,
                  kind: str, start: dt.date, end: dt.date) -> pd.Series:
    """Counts and rates (geo.metrics.combine_periods) of the unit over start..end as the dashboard counts them.

    week / month / quarter: the unit's week or month rows of metrics.parquet (a quarter combines its months;
    state counts — 在办, 红灯, 积案 — are those at the end of the period, or as of the refresh for the current
    one); custom: the day rows `views.unit_days` gives the command screen.
    """
    today = views.snapshot_today(snap, settings)
    last = min(end, today)
    if start > last:
        return combine_periods(pd.DataFrame(columns=views.METRIC_COLUMNS))
    if kind == "custom":
        days = views.unit_days(viewer, snap, settings, unit, start, last)
        return combine_periods(days.reset_index().rename(columns={"date": "period_start"}))
    grain = "week" if kind == "week" else "month"
    rows = _metric_rows(viewer, snap, units, unit, grain, start, last)
    values = [c for c in views.METRIC_COLUMNS if c not in ("unit_type", "unit_id", "period", "period_start")]
    frame = pd.DataFrame(rows[values].to_numpy(dtype="float64"), columns=values)
    frame["period_start"] = _dates(rows["period_start"]).to_numpy()
    frame = frame.groupby("period_start").sum()
    if grain == "week":
        expected = [start]
    else:
        expected, m = [], start
        while m <= last:
            expected.append(m)
            m = _month_end(m) + dt.timedelta(days=1)
    frame = frame.reindex(pd.Index(expected, name="period_start"), fill_value=0.0)
    return combine_periods(frame.reset_index())


def _figures(current: pd.Series, previous: pd.Series, lang: str) -> tuple[Figure, ...]:
    out = []
    for name in HEADLINE:
        metric = METRICS[name]
        label = t(f"rp_m_{name}", lang)
        if metric.kind == "count":
            out.append(Figure(name, label, "count", float(current[name]), float(previous[name])))
            continue
        num, den = float(current[f"{name}_num"]), float(current[f"{name}_den"])
        pnum, pden = float(previous[f"{name}_num"]), float(previous[f"{name}_den"])
        out.append(Figure(name, label, metric.kind, num / den if den else None, pnum / pden if pden else None,
                          num, den, pnum, pden))
    return tuple(out)


def _shown_figure(figure: Figure, threshold: int | None, lang: str) -> Figure:
    """`figure` as a viewer with `threshold` may see it (SPEC §9), the way the pages show it: each count
    0 < n < threshold is "<5" (also a rate's numerator and denominator, a mean's denominator), a rate or mean
    computed from one is "样本<5" / "n<5", and so are a change computed from a suppressed value and the
    numerator (days) of a mean whose denominator is suppressed (over one case it is that case's days); zeros and
    larger counts stay numbers. `threshold` None: `figure` itself."""
    if threshold is None:
        return figure
    label = suppressed_rate_text(threshold, lang)
    if figure.kind == "count":
        return replace(figure, value=shown_count(figure.value, threshold),
                       previous=shown_count(figure.previous, threshold), hidden_change=label)
    counts, prev_counts = (((figure.num, figure.den), (figure.prev_num, figure.prev_den)) if figure.kind == "rate"
                           else ((figure.den,), (figure.prev_den,)))  # a mean's numerator is days, not a count
    value = label if is_small(*counts, threshold=threshold) else figure.value
    previous = label if is_small(*prev_counts, threshold=threshold) else figure.previous
    if figure.kind == "rate":
        return replace(figure, value=value, previous=previous, num=shown_count(figure.num, threshold),
                       den=shown_count(figure.den, threshold), prev_num=shown_count(figure.prev_num, threshold),
                       prev_den=shown_count(figure.prev_den, threshold), hidden_change=label)
    return replace(figure, value=value, previous=previous, num=label if isinstance(value, str) else figure.num,
                   den=shown_count(figure.den, threshold),
                   prev_num=label if isinstance(previous, str) else figure.prev_num,
                   prev_den=shown_count(figure.prev_den, threshold), hidden_change=label)


def _change_phrase(cur: float | str, prev: float | str, prev_name: str, lang: str) -> str:
    if not isinstance(prev, str) and not prev:
        return t("rp_change_none", lang).format(prev=prev_name) if not cur else t("rp_change_from_zero", lang).format(
            prev=prev_name)
    if isinstance(cur, str) or isinstance(prev, str):  # suppressed: no change, which would tell the count
        return t("rp_change_hidden", lang).format(prev=prev_name, n=fmt_count(prev, lang))
    if cur == prev:
        return t("rp_change_flat", lang).format(prev=prev_name)
    key = "rp_change_up" if cur > prev else "rp_change_down"
    return t(key, lang).format(pct=f"{abs(100 * (cur - prev) / prev):.1f}%", prev=prev_name, n=fmt_count(prev, lang))


def build_report(viewer: Viewer, snap: Snapshot, settings: Settings, request: ReportRequest) -> Report:
    """The report of `request` for `viewer` from `snap` (see the module docstring)."""
    from dashboard.appdb import STATES
    from geo.hotspots import TREND_CLASS_BY_CODE
    from geo.warnings import DETECTOR_BY_CODE, LEVEL_BY_CODE

    lang, tz = viewer.lang, settings.timezone
    p, unit = request.period, request.unit
    units = views.unit_table(viewer, snap)
    if not unit.is_county and not views.unit_grids(units, unit).any():
        raise ReportError(f"unit {unit.type}:{unit.id} is not in your scope or does not exist; "
                          f"pick a township, community or grid id of the snapshot (or county)")
    today = views.snapshot_today(snap, settings)
    clock = views.as_of(snap, settings)
    threshold = threshold_for(viewer, settings)
    jurisdiction = jurisdiction_name(snap, settings)
    unit_label = views.unit_label(units, unit, jurisdiction=jurisdiction, lang=lang)
    kind_name = t(f"rp_kind_{p.kind}", lang)
    this, prev = t(f"rp_this_{p.kind}", lang), t(f"rp_prev_{p.kind}", lang)
    cur_filters = Filters(Period("custom", p.start, p.end), unit, lang)
    prev_filters = Filters(Period("custom", p.prev_start, p.prev_end), unit, lang)
    in_scope = units.loc[views.unit_grids(units, unit)]
    grid_ids = frozenset(in_scope["grid_id"].astype("str"))

    current = period_totals(viewer, snap, settings, units, unit, p.kind, p.start, p.end)
    previous = period_totals(viewer, snap, settings, units, unit, p.kind, p.prev_start, p.prev_end)
    exact_figures = _figures(current, previous, lang)
    fig = {f.name: f for f in exact_figures}  # the numbers, for the notes
    figures = tuple(_shown_figure(f, threshold, lang) for f in exact_figures)  # what the viewer may see

    notes: list[str] = []
    unit_cases = len(views.scoped_cases(viewer, snap, ["grid_id"], unit=unit))
    if unit_cases == 0:
        notes.append(t("rp_note_no_cases", lang).format(unit=unit_label))
    elif fig["received"].value == 0:
        notes.append(t("rp_note_empty", lang).format(period=this))
    if p.end >= today:
        notes.append(t("rp_note_partial", lang).format(as_of=f"{clock:%Y-%m-%d %H:%M}"))
    if p.prev_start < views.earliest_day(snap, settings):
        notes.append(t("rp_note_history", lang).format(days=settings.metrics.history_days))
    if not viewer.sees_all:
        notes.append(t("rp_note_scope", lang).format(n=len(grid_ids)))
    if threshold:
        notes.append(t("rp_note_suppressed", lang).format(n=threshold))
    notes.append(t("rp_note_state", lang).format(as_of=f"{clock:%Y-%m-%d %H:%M}"))

    def suppress(frame: pd.DataFrame, columns: Sequence[str],
                 rates: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """Small counts of `columns`, and the `rates` computed from them (rate -> counts), as "<5"."""
        return suppress_frame(frame, threshold, counts=columns, rates=rates, lang=lang)

    rate_parts = {r: (f"{r}_num", f"{r}_den") for r in views.THREE_RATES}

    tables: list[Table] = []
    pct = lambda c, pv: (c - pv) / pv if pv else None  # noqa: E731

    # categories
    cats = views.categories(viewer, snap, settings, cur_filters, top=10_000, exact=True)
    pcats = views.categories(viewer, snap, settings, prev_filters, top=10_000, exact=True)
    before = pcats.set_index("category")["cases"]
    cat_rows = pd.DataFrame({"category": cats["category"], "cases": cats["cases"].astype("int64"),
                             "share": cats["share"].astype("float64"),
                             "previous": cats["category"].map(before).fillna(0).astype("int64")})
    missing = before[~before.index.isin(cats["category"])]
    if len(missing):
        cat_rows = pd.concat([cat_rows, pd.DataFrame({"category": missing.index, "cases": 0, "share": 0.0,
                                                      "previous": missing.to_numpy()})], ignore_index=True)
    cat_rows["change"] = cat_rows["cases"] - cat_rows["previous"]
    cat_rows = cat_rows[(cat_rows["cases"] > 0) | (cat_rows["previous"] > 0)].reset_index(drop=True)
    if threshold:  # suppressed counts tie (then by name): in exact order the rows would tell them apart
        cat_rows = cat_rows.assign(_k=order_key(cat_rows["cases"], threshold)).sort_values(
            ["_k", "category"], ascending=[False, True], kind="stable").drop(columns="_k").reset_index(drop=True)
    cat_raw = cat_rows
    tables.append(Table("categories", t("rp_tb_categories", lang), (
        Column("category", t("rp_col_category", lang)), Column("cases", this + t("rp_col_new", lang), "int"),
        Column("share", t("rp_col_share", lang), "rate"), Column("previous", prev + t("rp_col_new", lang), "int"),
        Column("change", t("rp_col_change", lang), "int")),
        suppress(cat_rows, ["cases", "previous", "change"], {"share": ("cases",), "change": ("cases", "previous")})))

    # child units: received (this/previous), lights now, 三率 of the period
    ranking = views.rate_ranking(viewer, snap, settings, cur_filters, exact=True)
    prev_rank = views.rate_ranking(viewer, snap, settings, prev_filters, exact=True)
    board = views.light_board(viewer, snap, settings, unit, exact=True)
    child = ranking.unit_type
    rr = ranking.rows.set_index("unit_id")
    lb = board.rows.set_index("unit_id")
    ids = pd.Series(lb.index.union(rr.index).astype("str"), dtype="object")
    prev_received = prev_rank.rows.set_index("unit_id")["received"]
    unit_rows = pd.DataFrame({
        "unit_id": ids.to_numpy(),
        "name": ids.map(rr["name"]).fillna(ids.map(lb["name"])).fillna(ids).astype("str").to_numpy(),
        "received": ids.map(rr["received"]).fillna(0).astype("int64").to_numpy(),
        "previous": ids.map(prev_received).fillna(0).astype("int64").to_numpy(),
        **{c: ids.map(lb[c]).fillna(0).astype("int64").to_numpy() for c in ("open", "red", "yellow")},
        **{r: ids.map(rr[r]).astype("float64").to_numpy() for r in views.THREE_RATES},
        **{c: ids.map(rr[c]).fillna(0).to_numpy() for parts in rate_parts.values() for c in parts},
    })
    unit_rows["change"] = [pct(c, pv) for c, pv in zip(unit_rows["received"], unit_rows["previous"], strict=True)]
    unit_rows = unit_rows.assign(_r=order_key(unit_rows["received"], threshold),
                                 _red=order_key(unit_rows["red"], threshold)).sort_values(
        ["_r", "_red", "name"], ascending=[False, False, True], kind="stable").drop(
        columns=["_r", "_red"]).reset_index(drop=True)
    unit_raw = unit_rows
    child_name = t(f"rp_unit_{child}", lang)
    rate_cols = tuple(Column(r, t(views.THREE_RATE_KEYS[r], lang), "rate") for r in views.THREE_RATES)
    tables.append(Table("units", t("rp_tb_units", lang).format(unit=child_name), (
        Column("name", child_name), Column("received", this + t("rp_col_new", lang), "int"),
        Column("previous", prev + t("rp_col_new", lang), "int"), Column("change", t("rp_col_change_pct", lang), "rate"),
        Column("open", t("rp_col_open", lang), "int"), Column("red", t("rp_col_red", lang), "int"),
        Column("yellow", t("rp_col_yellow", lang), "int"), *rate_cols),
        suppress(unit_rows, ["received", "previous", "open", "red", "yellow"],
                 {"change": ("received", "previous"), **rate_parts}).drop(
            columns=[c for parts in rate_parts.values() for c in parts])))

    # alerts of the period
    alerts = views.scoped_alerts(viewer, snap, unit=unit)
    alert_rows = pd.DataFrame(columns=["level", "detector", "title", "first_seen", "last_seen", "state", "summary"])
    n_alerts = 0
    if len(alerts):
        first = pd.to_datetime(alerts["first_seen"], utc=True).dt.tz_convert(tz)
        last = pd.to_datetime(alerts["last_seen"], utc=True).dt.tz_convert(tz)
        keep = ((first.dt.date <= p.end) & (last.dt.date >= p.start)).to_numpy(dtype=bool)
        sel = alerts[keep].assign(_rank=alerts["level"][keep].map(palette.level_rank), _last=last[keep],
                                  _first=first[keep])
        sel = sel.sort_values(["_rank", "_last", "alert_id"], ascending=[True, False, True], kind="stable")
        n_alerts = len(sel)
        states = sel["state"] if "state" in sel.columns else pd.Series("new", index=sel.index)
        alert_rows = pd.DataFrame({
            "level": [LEVEL_BY_CODE[v].label if lang == "zh" and v in LEVEL_BY_CODE else t(f"level_{v}", lang)
                      if f"level_{v}" in TEXTS else str(v) for v in sel["level"].astype("str")],
            "detector": [DETECTOR_BY_CODE[d].label if lang == "zh" and d in DETECTOR_BY_CODE else
                         t(f"det_{d}", lang) if f"det_{d}" in TEXTS else d for d in sel["detector"].astype("str")],
            "title": sel["title"].astype("str").to_numpy(),
            "first_seen": sel["_first"].dt.date.to_numpy(), "last_seen": sel["_last"].dt.date.to_numpy(),
            "state": [STATES[s].label(lang) if s in STATES else str(s) for s in states.fillna("new")],
            "summary": [views._evidence_text(e) for e in sel["evidence"]],
            "_level": sel["level"].astype("str").to_numpy(), "_open": [s in ("new", "acknowledged", "dispatched")
                                                                      for s in states.fillna("new")],
        })
    level_counts = alert_rows["_level"].value_counts() if n_alerts else pd.Series(dtype="int64")
    open_alerts = int(alert_rows["_open"].sum()) if n_alerts else 0
    tables.append(Table("alerts", t("rp_tb_alerts", lang), (
        Column("level", t("col_level", lang)), Column("detector", t("col_detector", lang)),
        Column("title", t("col_title", lang)), Column("first_seen", t("rp_col_first_seen", lang), "date"),
        Column("last_seen", t("rp_col_last_seen", lang), "date"), Column("state", t("col_state", lang)),
        Column("summary", t("rp_col_evidence", lang))),
        alert_rows.head(ALERT_ROWS).drop(columns=["_level", "_open"], errors="ignore"),
        note=t("rp_more_rows", lang).format(n=n_alerts - ALERT_ROWS) if n_alerts > ALERT_ROWS else ""))

    # hot spots (Gi*) as of the refresh, with their emerging class
    window = "7d" if p.kind == "week" else "30d"
    stats = views.scoped_grid_stats(viewer, snap, window=window, unit=unit)
    hot = stats[pd.to_numeric(stats["hotspot_bin"], errors="coerce").fillna(0).to_numpy() > 0] if len(stats) \
        else stats
    names = units.set_index(units["grid_id"].astype("str"))

    def trend_label(code: Any) -> str:
        cls = TREND_CLASS_BY_CODE.get(str(code))
        return "—" if cls is None else (cls.label if lang == "zh" else cls.arcgis)

    hot = hot.assign(_bin=pd.to_numeric(hot["hotspot_bin"], errors="coerce"),
                     _cases=order_key(pd.to_numeric(hot["cases"], errors="coerce"), threshold)).sort_values(
        ["_bin", "_cases"], ascending=False, kind="stable") if len(hot) else hot
    gid = hot["grid_id"].astype("str") if len(hot) else pd.Series(dtype="str")
    hot_rows = pd.DataFrame({
        "grid": gid.map(names["grid_name"]).fillna(gid).to_numpy() if len(hot) else [],
        "community": gid.map(names["community_name"]).fillna("").to_numpy() if len(hot) else [],
        "township": gid.map(names["township_name"]).fillna("").to_numpy() if len(hot) else [],
        "confidence": [{3: "99%", 2: "95%", 1: "90%"}.get(int(b), "") for b in hot["_bin"]] if len(hot) else [],
        "cases": pd.to_numeric(hot["cases"], errors="coerce").fillna(0).astype("int64").to_numpy() if len(hot) else [],
        "open": pd.to_numeric(hot["open_cases"], errors="coerce").fillna(0).astype("int64").to_numpy()
        if len(hot) else [],
        "trend": [trend_label(c) for c in hot["trend_class"]] if len(hot) and "trend_class" in hot else
        ["—"] * len(hot),
    })
    tables.append(Table("hotspots", t("rp_tb_hotspots", lang).format(window=t(f"rp_window_{window}", lang)), (
        Column("grid", t("rp_unit_grid", lang)), Column("community", t("rp_unit_community", lang)),
        Column("township", t("rp_unit_township", lang)), Column("confidence", t("rp_col_confidence", lang)),
        Column("cases", t("rp_col_cases_window", lang), "int"), Column("open", t("rp_col_open", lang), "int"),
        Column("trend", t("col_trend", lang))),
        suppress(hot_rows.head(HOTSPOT_ROWS), ["cases", "open"])))

    # 包案 per leader, overdue first
    # views.leader_board fails on a unit without any 包案 (an empty groupby), so that case is handled here
    has_lc = len(views.scoped_leader_cases(viewer, snap, unit=unit)) > 0
    lboard = views.leader_board(viewer, snap, settings, cur_filters, exact=True) if has_lc else None
    ld = lboard.leaders if lboard is not None else pd.DataFrame(
        {c: pd.Series(dtype="int64" if c in _LEADER_COUNTS else "object")
         for c in ("leader_id", "name", "post", "level", "next_due", *_LEADER_COUNTS)})
    if threshold:  # the page's order: suppressed counts tie (ordered by their counts, the rows would tell them)
        ld = (ld.assign(**{f"_{c}": order_key(ld[c], threshold) for c in ("overdue", "open", "cases")})
              .sort_values(["_overdue", "_open", "_cases", "leader_id"], ascending=[False, False, False, True],
                           kind="stable").reset_index(drop=True))
    leader_rows = pd.DataFrame({
        "name": ld["name"].to_numpy(), "post": ld["post"].to_numpy(), "level": ld["level"].to_numpy(),
        "cases": ld["cases"].to_numpy(), "open": ld["open"].to_numpy(), "resolved": ld["resolved"].to_numpy(),
        "overdue": ld["overdue"].to_numpy(),
        "rate": [r / c if c else None for r, c in zip(ld["resolved"], ld["cases"], strict=True)],
        "new": ld["new"].to_numpy(), "resolved_new": ld["resolved_new"].to_numpy(),
        "next_due": [dt.date.fromisoformat(v) if v else None for v in ld["next_due"]],
    })
    tables.append(Table("leaders", t("rp_tb_leaders", lang), (
        Column("name", t("ld_col_leader", lang)), Column("post", t("ld_col_post", lang)),
        Column("level", t("ld_col_level", lang)), Column("cases", t("ld_col_cases", lang), "int"),
        Column("open", t("ld_col_open", lang), "int"), Column("resolved", t("ld_col_resolved", lang), "int"),
        Column("overdue", t("ld_col_overdue", lang), "int"), Column("rate", t("ld_col_rate", lang), "rate"),
        Column("new", this + t("rp_col_lc_new", lang), "int"),
        Column("resolved_new", this + t("rp_col_lc_resolved", lang), "int"),
        Column("next_due", t("ld_col_next_due", lang), "date")),
        suppress(leader_rows.head(LEADER_ROWS), _LEADER_COUNTS, {"rate": ("resolved", "cases")}),
        note=t("rp_more_rows", lang).format(n=len(leader_rows) - LEADER_ROWS) if len(leader_rows) > LEADER_ROWS
        else ""))

    # 督办 by tier, and 灭红灯 per unit
    sboard = views.supervision_board(viewer, snap, settings, cur_filters, exact=True)
    sv = sboard.by_tier
    sv_counts = ("issued", "answered", "closed", "total", "open", "overdue", "reminders", "new")
    sv_rows = pd.DataFrame({"tier": sv["tier_label"], **{c: sv[c].astype("int64") for c in sv_counts}})
    tables.append(Table("supervision", t("rp_tb_supervision", lang), (
        Column("tier", t("sv_col_tier", lang)), Column("issued", t("sv_col_issued", lang), "int"),
        Column("answered", t("sv_col_answered", lang), "int"), Column("closed", t("sv_col_closed", lang), "int"),
        Column("total", t("sv_col_total", lang), "int"), Column("open", t("sv_col_open", lang), "int"),
        Column("overdue", t("sv_col_overdue", lang), "int"), Column("reminders", t("sv_col_reminders", lang), "int"),
        Column("new", this + t("rp_col_issued_new", lang), "int")), suppress(sv_rows, sv_counts)))
    lights = board.rows
    light_rows = pd.DataFrame({
        "name": lights["name"].to_numpy(), "red": lights["red"].to_numpy(), "yellow": lights["yellow"].to_numpy(),
        "green": lights["green"].to_numpy(), "open": lights["open"].to_numpy(),
        "red_share": lights["red_share"].astype("float64").to_numpy(),
        "red_7d_ago": pd.to_numeric(lights["red_7d_ago"], errors="coerce").to_numpy()})
    tables.append(Table("lights", t("rp_tb_lights", lang).format(unit=t(f"rp_unit_{board.unit_type}", lang)), (
        Column("name", t(f"rp_unit_{board.unit_type}", lang)), Column("red", t("rp_col_red", lang), "int"),
        Column("yellow", t("rp_col_yellow", lang), "int"), Column("green", t("rp_col_green", lang), "int"),
        Column("open", t("rp_col_open", lang), "int"), Column("red_share", t("sv_col_red_share", lang), "rate"),
        Column("red_7d_ago", t("sv_col_red_7d_ago", lang), "int")),
        suppress(light_rows, ["red", "yellow", "green", "open", "red_7d_ago"], {"red_share": ("red", "open")})))

    # 三率 ranking, as the 督办督查 page shows it: a unit whose rate is suppressed is unranked (its rank would tell it)
    rk = views.rate_ranking(viewer, snap, settings, cur_filters).rows if threshold else ranking.rows
    rank_rows = pd.DataFrame({"rank": rk["rank"].astype("float64").to_numpy(), "name": rk["name"].to_numpy(),
                              "received": rk["received"].to_numpy(),
                              **{c: rk[c].to_numpy() for r in views.THREE_RATES
                                 for c in (r, f"{r}_num", f"{r}_den")}})
    rank_cols: list[Column] = [Column("rank", t("sv_col_rank", lang), "int"), Column("name", child_name),
                               Column("received", this + t("rp_col_new", lang), "int")]
    for r in views.THREE_RATES:
        label = t(views.THREE_RATE_KEYS[r], lang)
        rank_cols += [Column(r, label, "rate"), Column(f"{r}_num", label + t("rp_col_num", lang), "int"),
                      Column(f"{r}_den", label + t("rp_col_den", lang), "int")]
    tables.append(Table("ranking", t("rp_tb_ranking", lang), tuple(rank_cols),
                        suppress(rank_rows, ["received", *(f"{r}_{x}" for r in views.THREE_RATES
                                                           for x in ("num", "den"))], rate_parts)))

    # longer periods: trend and emerging hot-spot classes
    emerging = pd.DataFrame(columns=["trend", "grids", "examples"])
    if p.kind != "week":
        last = min(p.end, today)
        trend_rows = pd.DataFrame(columns=["week", "received", "closed", "overdue"])
        if p.start <= last:
            days = views.unit_days(viewer, snap, settings, unit, p.start, last)
            week = pd.Index([d - dt.timedelta(days=d.weekday()) for d in days.index], name="week")
            grouped = days.groupby(week)
            trend_rows = pd.DataFrame({"received": grouped["received"].sum(), "closed": grouped["closed"].sum(),
                                       "overdue": grouped["overdue"].last()}).astype("int64").reset_index()
        tables.append(Table("trend", t("rp_tb_trend", lang), (
            Column("week", t("rp_col_week", lang), "date"), Column("received", t("rp_m_received", lang), "int"),
            Column("closed", t("rp_m_closed", lang), "int"), Column("overdue", t("rp_col_red_end", lang), "int")),
            suppress(trend_rows, ["received", "closed", "overdue"])))
        month_stats = views.scoped_grid_stats(viewer, snap, window="30d", unit=unit)
        if len(month_stats) and "trend_class" in month_stats:
            codes = month_stats["trend_class"].astype("str")
            hot_side = codes[codes.map(lambda c: getattr(TREND_CLASS_BY_CODE.get(c), "side", "none")) == "hot"]
            gids = month_stats.loc[hot_side.index, "grid_id"].astype("str")
            rows = []
            for code in [c.code for c in TREND_CLASS_BY_CODE.values() if c.side == "hot"]:
                members = gids[hot_side == code]
                if len(members):
                    rows.append({"trend": trend_label(code), "grids": len(members),
                                 "examples": t("list_sep", lang).join(members.map(names["grid_name"]).fillna(members)
                                                                     .head(8).astype("str"))})
            emerging = pd.DataFrame(rows, columns=["trend", "grids", "examples"])
        tables.append(Table("emerging", t("rp_tb_emerging", lang), (
            Column("trend", t("col_trend", lang)), Column("grids", t("col_grids", lang), "int"),
            Column("examples", t("rp_col_examples", lang))), emerging))

    # sentences (from the figures and tables as the viewer may see them)
    fs = {f.name: f for f in figures}
    s: list[str] = []
    s.append(t("rp_s_received", lang).format(
        this=this, n=fmt_count(fs["received"].value, lang),
        change=_change_phrase(fs["received"].value or 0, fs["received"].previous or 0, prev, lang)))
    s.append(t("rp_s_state", lang).format(closed=fmt_count(fs["closed"].value, lang),
                                          open=fmt_count(fs["open_end"].value, lang),
                                          red=fmt_count(fs["overdue"].value, lang),
                                          backlog=fmt_count(fs["backlog"].value, lang)))
    rates = [f"{fs[r].label}{fs[r].text}（{prev}{fs[r].prev_text}）" if lang == "zh" else
             f"{fs[r].label} {fs[r].text} ({prev}: {fs[r].prev_text})" for r in views.THREE_RATES]
    s.append(t("rp_s_rates", lang).format(rates=t("list_sep", lang).join(rates)))
    s.append(t("rp_s_skip", lang).format(
        skip=fmt_count(fs["skip_level"].value, lang), province=fmt_count(fs["skip_level_province"].value, lang),
        national=fmt_count(fs["skip_level_national"].value, lang),
        coll=fmt_count(fs["collective_cases"].value, lang), people=fmt_count(fs["collective_people"].value, lang)))
    top = cat_raw[cat_raw["cases"] > 0].head(3)
    if len(top):
        # a share or a change computed from a suppressed count would tell it (as in the categories table)
        parts = [t("rp_s_cat_item", lang).format(
            name=c, n=count_text(n, threshold, lang),
            share=suppressed_rate_text(threshold, lang) if is_small(n, threshold=threshold) else f"{100 * sh:.1f}%")
            for c, n, sh in zip(top["category"], top["cases"], top["share"], strict=True)]
        rise = cat_raw.sort_values(["change", "cases"], ascending=False, kind="stable").iloc[0]
        tail = t("rp_s_cat_rise", lang).format(prev=prev, name=rise["category"],
                                               n=count_text(rise["change"], threshold, lang)) \
            if rise["change"] > 0 and not is_small(rise["change"], rise["cases"], rise["previous"],
                                                   threshold=threshold) else ""
        s.append(t("rp_s_categories", lang).format(items=t("list_sep", lang).join(parts)) + tail
                 + ("。" if lang == "zh" else "."))
    if len(unit_raw) > 1 and unit_raw["received"].max() > 0:
        most = unit_raw.iloc[0]
        red = unit_raw.assign(_k=order_key(unit_raw["red"], threshold)).sort_values(
            ["_k", "name"], ascending=[False, True], kind="stable").iloc[0]
        s.append(t("rp_s_units", lang).format(unit=child_name, name=most["name"],
                                              n=count_text(most["received"], threshold, lang), red_name=red["name"],
                                              red=count_text(red["red"], threshold, lang)))
    s.append(t("rp_s_alerts", lang).format(this=this, n=fmt_count(n_alerts, lang),
                                           red=fmt_count(int(level_counts.get("red", 0)), lang),
                                           orange=fmt_count(int(level_counts.get("orange", 0)), lang),
                                           open=fmt_count(open_alerts, lang)))
    lt = lboard.levels.iloc[-1] if lboard is not None else pd.Series({"cases": 0, "resolved": 0, "overdue": 0})
    s.append(t("rp_s_leaders", lang).format(people=fmt_count(len(ld), lang),  # leaders are not suppressed
                                            cases=count_text(lt["cases"], threshold, lang),
                                            resolved=count_text(lt["resolved"], threshold, lang),
                                            rate=fmt_rate(shown_count(lt["resolved"], threshold),
                                                          shown_count(lt["cases"], threshold), lang=lang),
                                            overdue=count_text(lt["overdue"], threshold, lang)))
    total = sv.iloc[-1]
    s.append(t("rp_s_supervision", lang).format(open=count_text(total["open"], threshold, lang),
                                                overdue=count_text(total["overdue"], threshold, lang),
                                                new=count_text(total["new"], threshold, lang), this=this))
    if p.kind != "week" and len(emerging):
        s.append(t("rp_s_emerging", lang).format(items=t("list_sep", lang).join(
            f"{r}{g}" + (t("rp_grids_unit", lang)) for r, g in zip(emerging["trend"], emerging["grids"], strict=True))))

    png, caption = None, ""
    if request.include_map:
        png = render_map(viewer, snap, settings, unit, p.start, min(p.end, today) if p.start <= today else p.end,
                         title=f"{unit_label} {p.start:%Y-%m-%d}—{p.end:%Y-%m-%d}", lang=lang)
        caption = t("rp_map_caption", lang).format(this=this)
    if lang == "zh":
        span = f"{p.start.year}年{p.start.month}月{p.start.day}日—{p.end.year}年{p.end.month}月{p.end.day}日"
    else:
        span = f"{p.start:%Y-%m-%d} – {p.end:%Y-%m-%d}"
    unit_part = "" if unit.is_county else unit_label.replace(" · ", "")
    title = t("rp_title", lang).format(jurisdiction=jurisdiction if unit.is_county or lang != "zh" else "",
                                       unit=unit_part, kind=kind_name).strip()
    return Report(kind=p.kind, lang=lang, title=title, kind_name=kind_name, jurisdiction=jurisdiction,
                  issuer=settings.reports.issuer if hasattr(settings, "reports") else "", unit=unit,
                  unit_label=unit_label, period=p, period_text=span, as_of=clock, generated_for=viewer.name,
                  figures=figures, sentences=tuple(s), notes=tuple(notes), tables=tuple(tables), map_png=png,
                  map_caption=caption, grid_ids=grid_ids)


# --- map image -------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """Path of an installed CJK font for matplotlib (WenQuanYi Micro Hei first), None when none is found."""
    from matplotlib import font_manager

    for family in CJK_FONTS:
        try:
            return str(font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False))
        except ValueError:
            continue
    return None


def _rings(geoms: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Exterior rings of every polygon part, and the index of the geometry each ring belongs to."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings = shapely.get_exterior_ring(parts)
    coords, idx = shapely.get_coordinates(rings, return_index=True)
    cuts = np.flatnonzero(np.diff(idx)) + 1
    return np.split(coords, cuts), owner[np.unique(idx)] if len(idx) else owner[:0]


def render_map(viewer: Viewer, snap: Snapshot, settings: Settings, unit: Unit, start: dt.date, end: dt.date, *,
               title: str = "", lang: str = "zh", width_px: int = 1600) -> bytes:
    """PNG choropleth of cases received start..end per grid of the unit (classes and colours as on the
    dashboard's map: maplayers.class_breaks / colours), township outlines and names; offline, no tiles."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import Patch

    grids = views.scoped_grids(viewer, snap, ["grid_id", "township_id", "geometry"], unit=unit)
    cases = views.scoped_cases(viewer, snap, ["grid_id"], unit=unit, received=(start, end),
                               timezone=settings.timezone)
    counts = cases["grid_id"].astype("str").value_counts()
    value = grids["grid_id"].astype("str").map(counts).fillna(0).to_numpy(dtype="float64")
    threshold = threshold_for(viewer, settings)
    hidden = small_mask(value, threshold)  # small counts of a viewer without point access: not classed
    value = np.where(hidden, np.nan, value)
    breaks = maplayers.class_breaks(value)
    fill = np.array(maplayers.colours(value, breaks, alpha=255), dtype="float64")[:, :3] / 255.0 \
        if len(value) else np.zeros((0, 3))
    fill[~(value > 0)] = PRINT_NO_DATA  # the dashboard's dark no-data grey is too heavy on paper
    fill[hidden] = PRINT_SUPPRESSED
    path = cjk_font_path()
    font = FontProperties(fname=path) if path else None
    fig = MplFigure(figsize=(width_px / 200, width_px / 200 * 0.8), dpi=200)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.9))
    ax.set_axis_off()
    if len(grids):
        geoms = maplayers.simplified(grids.geometry.to_numpy(), tolerance_deg=5e-5)
        rings, owner = _rings(geoms)
        ax.add_collection(PolyCollection(rings, facecolors=fill[owner], edgecolors=(1, 1, 1, 0.6),
                                         linewidths=0.15))
        towns = grids.dissolve(by="township_id") if viewer.sees_all else None
        if towns is not None and len(towns) > 1:
            trings, _ = _rings(maplayers.simplified(towns.geometry.to_numpy(), tolerance_deg=1e-4))
            ax.add_collection(PolyCollection(trings, facecolors="none", edgecolors="#333333", linewidths=0.6))
            if font is not None:
                tnames = views.read_table(snap, "townships", ("township_id", "name"))
                tn = tnames.set_index(tnames["township_id"].astype("str"))["name"]
                pts = towns.geometry.representative_point()
                for tid, pt in zip(towns.index.astype("str"), pts, strict=True):
                    ax.text(pt.x, pt.y, str(tn.get(tid, tid)), fontproperties=font, fontsize=6, ha="center",
                            va="center", color="#111111")
        minx, miny, maxx, maxy = grids.total_bounds
        pad = max(maxx - minx, maxy - miny) * 0.02 or 0.01
        ax.set_xlim(minx - pad, maxx + pad)
        ax.set_ylim(miny - pad, maxy + pad)
        ax.set_aspect(1 / np.cos(np.radians((miny + maxy) / 2)))
    else:
        ax.text(0.5, 0.5, t("rp_map_empty", lang) if font is not None else "—", fontproperties=font,
                ha="center", va="center", transform=ax.transAxes)
    if font is not None:
        if title:
            fig.suptitle(title, fontproperties=font, fontsize=9)
        shades = [(PRINT_NO_DATA, "0")] + ([(PRINT_SUPPRESSED, suppressed_text(threshold))] if hidden.any() else [])
        handles = [Patch(facecolor=colour, edgecolor="#999999", label=label)
                   for colour, label in [*((palette.hex_of(tuple(int(255 * c) for c in rgb)), text)
                                           for rgb, text in shades), *maplayers.legend(breaks, lang=lang)[1:]]]
        ax.legend(handles=handles, prop=font.copy() if font else None, loc="lower right", fontsize=6,
                  title=t("rp_map_legend", lang), title_fontproperties=font, frameon=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=200, facecolor="white")
    return buf.getvalue()


# --- DOCX --------------------------------------------------------------------------------------------------

def _set_font(run: Any, east_asia: str, *, size: float | None = None, bold: bool | None = None,
              colour: str | None = None, latin: str = "Times New Roman") -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    run.font.name = latin
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), east_asia)
    if size is not None:
        run.font.size = Pt(size)
    if bold is not None:
        run.font.bold = bold
    if colour is not None:
        run.font.color.rgb = RGBColor.from_string(colour)


def _style_font(style: Any, east_asia: str, size: float, latin: str = "Times New Roman") -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    style.font.name = latin
    style.font.size = Pt(size)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), east_asia)


def _rule(paragraph: Any, colour: str = "C00000") -> None:
    """A red rule under the title block (版头分隔线) as a paragraph bottom border."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    ppr = paragraph._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "18"), ("w:space", "1"), ("w:color", colour)):
        bottom.set(qn(k), v)
    border.append(bottom)
    ppr.append(border)


def _cell_text(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return "—"
    if isinstance(value, str):
        return value
    if kind == "rate":
        return f"{100 * float(value):.1f}%"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "float":
        return f"{float(value):,.1f}"
    if kind == "date":
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    return str(value)


def write_docx(report: Report, *, settings: Settings | None = None) -> bytes:
    """The report as a government-style Word document (A4, 仿宋 body, 黑体 headings, red title rule)."""
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    cfg = getattr(settings, "reports", None)
    body = getattr(cfg, "body_font", "仿宋")
    head = getattr(cfg, "heading_font", "黑体")
    title_font = getattr(cfg, "title_font", "黑体")
    lang = report.lang
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Cm(3.7), Cm(3.5), Cm(2.8), Cm(2.6)
    _style_font(doc.styles["Normal"], body, 14)
    doc.core_properties.title = report.title
    doc.core_properties.author = report.issuer or report.jurisdiction

    def para(text: str, *, font: str = body, size: float = 14, bold: bool = False, align: Any = None,
             colour: str | None = None, indent: bool = False, space_after: float = 0) -> Any:
        p = doc.add_paragraph()
        if align is not None:
            p.alignment = align
        p.paragraph_format.space_after = Pt(space_after)
        p.paragraph_format.line_spacing = Pt(size * 1.6)
        if indent:
            p.paragraph_format.first_line_indent = Pt(size * 2)
        _set_font(p.add_run(text), font, size=size, bold=bold, colour=colour)
        return p

    # 版头: issuer's bulletin name in red, 第N期, issuer and date, red rule
    para(f"{report.jurisdiction}{report.kind_name}" if lang == "zh" else f"{report.jurisdiction} {report.kind_name}",
         font=title_font, size=26, align=WD_ALIGN_PARAGRAPH.CENTER, colour="C00000", space_after=6)
    if report.period.issue is not None:
        para(t("rp_issue", lang).format(n=report.period.issue), size=16, align=WD_ALIGN_PARAGRAPH.CENTER)
    line = para("", size=14)
    line.paragraph_format.tab_stops.add_tab_stop(Cm(15.6), alignment=2)  # right-aligned date
    _set_font(line.add_run(f"{report.issuer}\t{_long_date(report.as_of.date(), lang)}"), body, size=14)
    _rule(line)
    para(report.title, font=title_font, size=20, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=4)
    para(f"（{report.period_text}）" if lang == "zh" else f"({report.period_text})", size=14,
         align=WD_ALIGN_PARAGRAPH.CENTER, space_after=8)
    scope = t("rp_scope_line", lang).format(unit=report.unit_label,
                                            as_of=f"{report.as_of:%Y-%m-%d %H:%M}")
    para(scope, size=12, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=6)
    for note in report.notes:
        para(t("rp_note_prefix", lang) + note, size=12, indent=True)

    numbers = iter(t("rp_section_numbers", lang).split(","))

    def heading(key: str) -> None:
        para(f"{next(numbers)}{t(key, lang)}", font=head, size=16, space_after=4)

    heading("rp_sec_overview")
    for sentence in report.sentences:
        para(sentence, indent=True)
    headline = doc.add_table(rows=1, cols=4)
    _fill_table(headline, [t("rp_col_metric", lang), t("rp_col_this", lang), t("rp_col_prev", lang),
                           t("rp_col_change", lang)],
                [[f.label, f.text, f.prev_text, f.change_text(lang)] for f in report.figures], head, body)
    if report.map_png:
        heading("rp_sec_map")
        doc.add_picture(io.BytesIO(report.map_png), width=Cm(15.5))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        para(report.map_caption, size=11, align=WD_ALIGN_PARAGRAPH.CENTER)
    for tb in report.tables:
        para("", size=6)
        para(f"{next(numbers)}{tb.title}", font=head, size=16, space_after=4)
        if tb.rows.empty:
            para(t("rp_table_empty", lang), size=12, indent=True)
            continue
        table = doc.add_table(rows=1, cols=len(tb.columns))
        _fill_table(table, [c.label for c in tb.columns],
                    [[_cell_text(v, c.type) for c, v in zip(tb.columns, row, strict=True)]
                     for row in tb.rows[[c.key for c in tb.columns]].itertuples(index=False)], head, body)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        if tb.note:
            para(tb.note, size=11, indent=True)
    footer = sec.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = footer.add_run()
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    _set_font(run, body, size=12)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _long_date(day: dt.date, lang: str) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if lang == "zh" else day.isoformat()


def _fill_table(table: Any, header: Sequence[str], rows: Sequence[Sequence[str]], head: str, body: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        _set_font(cell.paragraphs[0].add_run(text), head, size=10.5)
    trpr = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")  # header row repeated on every page
    repeat.set(qn("w:val"), "true")
    trpr.append(repeat)
    for values in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, values, strict=True):
            _set_font(cell.paragraphs[0].add_run(text), body, size=10.5)


# --- XLSX --------------------------------------------------------------------------------------------------

FORMAT_OF = {"int": "#,##0", "float": "#,##0.0", "rate": "0.0%", "date": "yyyy-mm-dd"}


def _sheet_name(title: str, used: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", "", title)[:31] or "Sheet"
    base, i = name, 2
    while name in used:
        name = f"{base[:28]}_{i}"
        i += 1
    used.add(name)
    return name


def _xl_value(value: Any, kind: str) -> Any:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if kind == "int":
        return int(value)
    if kind in ("float", "rate"):
        return float(value)
    if kind == "date":
        return value if isinstance(value, dt.date) else pd.Timestamp(value).date()
    return str(value)


def _width(values: Sequence[Any]) -> float:
    best = 6
    for v in values:
        text = v if isinstance(v, str) else ("" if v is None else str(v))
        best = max(best, sum(2 if ord(ch) > 0x2E80 else 1 for ch in text))
    return min(best + 2, 60)


def write_xlsx(report: Report) -> bytes:
    """The report as a workbook: 说明, 总体情况 (headline), then one sheet per table; typed cells (dates as
    dates, rates as percentages), frozen header rows, column widths set."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    lang = report.lang
    wb = Workbook()
    used: set[str] = set()
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE5F0")

    def sheet(title: str, header: Sequence[str], rows: Sequence[Sequence[tuple[Any, str]]],
              ws: Any = None) -> Any:
        ws = ws or wb.create_sheet()
        ws.title = _sheet_name(title, used)
        ws.append(list(header))
        for cell in ws[1]:
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for r, row in enumerate(rows, start=2):
            for c, (value, kind) in enumerate(row, start=1):
                cell = ws.cell(row=r, column=c, value=_xl_value(value, kind))
                if kind in FORMAT_OF and not isinstance(cell.value, str):
                    cell.number_format = FORMAT_OF[kind]
        ws.freeze_panes = "A2"
        for c, name in enumerate(header, start=1):
            col = [name, *(ws.cell(row=r, column=c).value for r in range(2, min(len(rows), 300) + 2))]
            text = [(_cell_text(v, "text") if not isinstance(v, (int, float)) else f"{v:,.1f}") for v in col]
            ws.column_dimensions[get_column_letter(c)].width = _width(text)
        if rows:
            ws.auto_filter.ref = ws.dimensions
        return ws

    info = [(t("rp_info_title", lang), report.title, "text"), (t("rp_info_unit", lang), report.unit_label, "text"),
            (t("rp_info_start", lang), report.period.start, "date"), (t("rp_info_end", lang), report.period.end, "date"),
            (t("rp_info_prev_start", lang), report.period.prev_start, "date"),
            (t("rp_info_prev_end", lang), report.period.prev_end, "date"),
            (t("rp_info_issue", lang), report.period.issue, "int"),
            (t("rp_info_as_of", lang), report.as_of.tz_localize(None).to_pydatetime(), "datetime"),
            (t("rp_info_issuer", lang), report.issuer, "text")]
    info += [(t("rp_note_prefix", lang).rstrip("：:"), n, "text") for n in report.notes]
    info += [(t("rp_sec_overview", lang), sentence, "text") for sentence in report.sentences]
    ws = sheet(t("rp_sheet_info", lang), [t("rp_col_item", lang), t("rp_col_value", lang)],
               [[(k, "text"), (v, kind if kind != "datetime" else "text")] for k, v, kind in info], ws=wb.active)
    for r, (_, value, kind) in enumerate(info, start=2):
        if kind == "datetime":
            ws.cell(row=r, column=2, value=value).number_format = "yyyy-mm-dd hh:mm"
    ws.column_dimensions["B"].width = 80

    rows = []
    for f in report.figures:
        kind = "int" if f.kind == "count" else ("rate" if f.kind == "rate" else "float")
        change_kind = "rate"
        rows.append([(f.label, "text"), (f.value, kind), (f.previous, kind), (f.change, change_kind),
                     (f.num if f.kind != "count" else None, "int" if f.kind == "rate" else "float"),
                     (f.den if f.kind != "count" else None, "int"),
                     (f.prev_num if f.kind != "count" else None, "int" if f.kind == "rate" else "float"),
                     (f.prev_den if f.kind != "count" else None, "int")])
    sheet(t("rp_sheet_headline", lang), [t("rp_col_metric", lang), t("rp_col_this", lang), t("rp_col_prev", lang),
                                         t("rp_col_change_xl", lang), t("rp_col_num_this", lang),
                                         t("rp_col_den_this", lang), t("rp_col_num_prev", lang),
                                         t("rp_col_den_prev", lang)], rows)
    for tb in report.tables:
        data = [[(v, c.type) for c, v in zip(tb.columns, row, strict=True)]
                for row in tb.rows[[c.key for c in tb.columns]].itertuples(index=False)]
        sheet(tb.title, [c.label for c in tb.columns], data)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write(report: Report, fmt: str, *, settings: Settings | None = None) -> bytes:
    """The report in `fmt` (docx / xlsx)."""
    if fmt == "docx":
        return write_docx(report, settings=settings)
    if fmt == "xlsx":
        return write_xlsx(report)
    raise ReportError(f"`format` was {fmt!r} but is expected to be one of {', '.join(FORMATS)}")


def audit_export(settings: Settings, report: Report, fmt: str, *, user: str) -> int:
    """Write the export to the audit log (action export, object_type report) and return the row id."""
    from dashboard import appdb

    db = appdb.open_app_db(settings)
    return appdb.audit(db, user=user or "anonymous", action="export", object_type="report",
                       object_id=report.audit_id(fmt),
                       details={"kind": report.kind, "unit": f"{report.unit.type}:{report.unit.id}",
                                "start": report.period.start.isoformat(), "end": report.period.end.isoformat(),
                                "format": fmt, "grids": len(report.grid_ids), "as_of": report.as_of.isoformat()})


__all__ = ["FORMATS", "KINDS", "MIME", "Column", "Figure", "Report", "ReportError", "ReportPeriod", "ReportRequest",
           "Table", "audit_export", "build_report", "cjk_font_path", "jurisdiction_name", "period_totals",
           "render_map", "report_period", "write", "write_docx", "write_xlsx"]
