"""Reports (周通报 / 月分析 / 季研判): DOCX and XLSX numbers against metrics.parquet, typed cells, scope, notes,
the export command and the 报表 page, on the small demo site (3,000 cases, 80 grids)."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import docx
import numpy as np
import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import appdb, reports, snapshots, views
from dashboard.filters import Filters, Period, Unit
from dashboard.formatting import fmt_count, fmt_rate
from dashboard.settings import Settings
from dashboard.suppression import suppressed_rate_text
from dashboard.texts import t
from dashboard.viewer import make_viewer
from geo.metrics import METRICS
from view_fixtures import build_view_site, open_site

APP = str(Path(__file__).resolve().parent.parent / "app.py")
REPORTS_PAGE = "pages/reports.py"
OFFICE = make_viewer(["office"], name="tester")
LEADER = make_viewer(["leader"], name="leader")
HIDDEN = "<5"                         # a suppressed count (privacy.small_count_threshold 5)
RATE_HIDDEN = suppressed_rate_text(5)  # a rate or change computed from one ("样本<5")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_view_site(tmp_path_factory.mktemp("reports"))


@pytest.fixture(scope="module")
def ctx(site: Path) -> tuple[Settings, snapshots.Snapshot]:
    return open_site(site)


def metric_rows(snap: snapshots.Snapshot, unit_type: str, unit_id: str, period: str) -> pd.DataFrame:
    m = pd.read_parquet(snap.file("metrics.parquet"))
    rows = m[(m["unit_type"] == unit_type) & (m["unit_id"] == unit_id) & (m["period"] == period)].copy()
    rows["start"] = pd.to_datetime(rows["period_start"].astype("datetime64[s]")).dt.date
    return rows


def expected(rows: pd.DataFrame, starts: list[dt.date]) -> dict[str, tuple[float, float, float]]:
    """name -> (value, num, den) summed over the periods `starts` (state counts: the last period's)."""
    sel = rows[rows["start"].isin(starts)].sort_values("start")
    last = sel[sel["start"] == max(starts)]
    out: dict[str, tuple[float, float, float]] = {}
    for name in reports.HEADLINE:
        if METRICS[name].kind == "count":
            src = last if name in ("open_end", "overdue", "backlog") else sel
            out[name] = (float(src[name].sum()), 0.0, 0.0)
        else:
            num, den = float(sel[f"{name}_num"].sum()), float(sel[f"{name}_den"].sum())
            out[name] = (num / den if den else float("nan"), num, den)
    return out


def docx_text(data: bytes) -> tuple[str, list[list[list[str]]]]:
    doc = docx.Document(io.BytesIO(data))
    text = "\n".join(p.text for p in doc.paragraphs)
    tables = [[[c.text for c in row.cells] for row in tb.rows] for tb in doc.tables]
    return text, tables


def xlsx_strings(wb: openpyxl.Workbook) -> str:
    return "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
                     if c.value is not None)


def check_headline(report: reports.Report, want: dict[str, tuple[float, float, float]],
                   prev: dict[str, tuple[float, float, float]]) -> None:
    """Every headline number of the DOCX and the XLSX equals the independently computed metrics."""
    _, tables = docx_text(reports.write_docx(report))
    head = {row[0]: row[1:] for row in tables[0][1:]}
    wb = openpyxl.load_workbook(io.BytesIO(reports.write_xlsx(report)))
    ws = wb.worksheets[1]
    xl = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    assert len(head) == len(reports.HEADLINE) == len(xl)
    for f in report.figures:
        value, num, den = want[f.name]
        pvalue, pnum, pden = prev[f.name]
        kind = METRICS[f.name].kind
        if kind == "count":
            assert head[f.label][0] == fmt_count(value), f.name
            assert head[f.label][1] == fmt_count(pvalue), f.name
            assert xl[f.label][1].value == int(value) and xl[f.label][2].value == int(pvalue), f.name
        elif kind == "rate":
            assert head[f.label][0] == fmt_rate(num, den), f.name
            assert head[f.label][1] == fmt_rate(pnum, pden), f.name
            assert xl[f.label][4].value == num and xl[f.label][5].value == den, f.name
            assert xl[f.label][6].value == pnum and xl[f.label][7].value == pden, f.name
            if den:
                assert xl[f.label][1].value == pytest.approx(num / den)
                assert "%" in xl[f.label][1].number_format
            else:
                assert xl[f.label][1].value is None
        else:  # mean days
            assert xl[f.label][4].value == pytest.approx(num) and xl[f.label][5].value == den, f.name


def test_weekly_bulletin_headline_equals_county_week_metrics(ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = ctx
    today = views.snapshot_today(snap, settings)
    period = reports.report_period("week", today=today)
    assert period.start.weekday() == 0 and period.end < today and period.issue == period.start.isocalendar().week
    report = reports.build_report(OFFICE, snap, settings, reports.ReportRequest(period))
    rows = metric_rows(snap, "county", "county", "week")
    want, prev = expected(rows, [period.start]), expected(rows, [period.prev_start])
    assert want["received"][0] > 0
    check_headline(report, want, prev)
    text, tables = docx_text(reports.write_docx(report, settings=settings))
    received, before = int(want["received"][0]), int(prev["received"][0])
    change = "持平" if received == before else f"{abs(100 * (received - before) / before):.1f}%"
    assert f"本周新增信访事项{fmt_count(received)}件" in text and change in text
    assert f"第{period.issue}期" in text and "周通报" in text
    # East Asian font names are set (w:eastAsia) on the runs
    doc = docx.Document(io.BytesIO(reports.write_docx(report, settings=settings)))
    fonts = {r._element.rPr.rFonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia")
             for p in doc.paragraphs for r in p.runs if r._element.rPr is not None}
    assert {"仿宋", "黑体"} <= fonts
    assert doc.inline_shapes and report.map_png and report.map_png.startswith(b"\x89PNG")


def test_monthly_and_quarterly_township_equal_month_rows(ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = ctx
    today = views.snapshot_today(snap, settings)
    town = views.unit_options(OFFICE, snap, settings).townships[0][0]
    rows = metric_rows(snap, "township", town, "month")
    month = reports.report_period("month", today=today)
    report = reports.build_report(OFFICE, snap, settings, reports.ReportRequest(month, Unit("township", town), False))
    check_headline(report, expected(rows, [month.start]), expected(rows, [month.prev_start]))
    assert {tb.key for tb in report.tables} >= {"trend", "emerging", "categories", "units", "leaders", "ranking"}

    quarter = reports.report_period("quarter", today=today)
    months = [quarter.start.replace(month=quarter.start.month + i) for i in range(3)]
    before = [quarter.prev_start.replace(month=quarter.prev_start.month + i) for i in range(3)]
    report = reports.build_report(OFFICE, snap, settings, reports.ReportRequest(quarter, Unit("township", town),
                                                                                 False))
    check_headline(report, expected(rows, months), expected(rows, before))


def test_xlsx_cells_are_typed_and_headers_frozen(ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = ctx
    period = reports.report_period("month", today=views.snapshot_today(snap, settings))
    report = reports.build_report(OFFICE, snap, settings, reports.ReportRequest(period, include_map=False))
    wb = openpyxl.load_workbook(io.BytesIO(reports.write_xlsx(report)))
    info = wb.worksheets[0]
    start = next(r[1] for r in info.iter_rows(min_row=2) if r[0].value == "统计期起")
    assert start.is_date and isinstance(start.value, dt.datetime) and start.value.date() == period.start
    trend = wb["分周趋势"]
    assert trend["A2"].is_date and trend.freeze_panes == "A2"
    ranking = wb["三率排名"]
    header = [c.value for c in ranking[1]]
    col = header.index("及时受理率") + 1
    cells = [ranking.cell(row=r, column=col) for r in range(2, ranking.max_row + 1)]
    numeric = [c for c in cells if isinstance(c.value, float)]
    assert numeric and all(c.number_format == "0.0%" and 0 <= c.value <= 1 for c in numeric)
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.column_dimensions["A"].width and ws.column_dimensions["A"].width >= 6


def test_grid_worker_report_holds_only_their_grids(ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = ctx
    links = pd.read_parquet(snap.file("worker_grids.parquet"))
    worker = links["worker_id"].iloc[0]
    mine = set(links.loc[links["worker_id"] == worker, "grid_id"].astype(str))
    viewer = make_viewer(["grid_worker"], name=str(worker), grids=mine)
    today = views.snapshot_today(snap, settings)
    period = reports.report_period("month", today=today)
    report = reports.build_report(viewer, snap, settings, reports.ReportRequest(period))
    assert report.grid_ids == mine
    grids = pd.read_parquet(snap.file("grids.parquet"), columns=["grid_id", "grid_name"])
    cases = pd.read_parquet(snap.file("cases.parquet"), columns=["case_id", "grid_id", "received_at"])
    local = pd.to_datetime(cases["received_at"], utc=True).dt.tz_convert(settings.timezone).dt.date
    in_period = cases[(local >= period.start) & (local <= period.end)]
    assert report.figure("received").value == in_period["grid_id"].isin(mine).sum()
    # the per-unit tables list their grids only
    own_names = set(grids.loc[grids["grid_id"].isin(mine), "grid_name"])
    for key in ("units", "lights", "ranking"):
        assert set(report.table(key).rows["name"]) <= own_names, key
    hot = report.table("hotspots").rows
    assert set(hot["grid"]) <= own_names
    wb = openpyxl.load_workbook(io.BytesIO(reports.write_xlsx(report)))
    text = xlsx_strings(wb) + docx_text(reports.write_docx(report))[0]
    others = set(cases.loc[~cases["grid_id"].isin(mine), "case_id"].astype(str)) | (
        set(grids["grid_id"].astype(str)) - mine)
    assert not any(o in text for o in others if len(o) >= 6)
    assert "仅含您负责的" in text


def test_empty_period_no_case_unit_and_period_spanning_refresh(ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = ctx
    today = views.snapshot_today(snap, settings)
    first = pd.to_datetime(pd.read_parquet(snap.file("cases.parquet"), columns=["received_at"])["received_at"],
                           utc=True).dt.tz_convert(settings.timezone).min().date()
    empty = reports.report_period("custom", today=today, start=first - dt.timedelta(days=20),
                                  end=first - dt.timedelta(days=14))
    report = reports.build_report(OFFICE, snap, settings, reports.ReportRequest(empty))
    assert report.figure("received").value == 0
    for data, reader in ((reports.write_docx(report), lambda d: docx_text(d)[0]),
                         (reports.write_xlsx(report), lambda d: xlsx_strings(openpyxl.load_workbook(io.BytesIO(d))))):
        assert "没有登记的信访事项" in reader(data)

    nobody = make_viewer(["office"], name="empty", grids=[])  # a scope without any case
    week = reports.report_period("week", today=today)
    report = reports.build_report(nobody, snap, settings, reports.ReportRequest(week))
    assert report.figure("received").value == 0
    assert "没有任何信访事项" in docx_text(reports.write_docx(report))[0]
    assert "没有任何信访事项" in xlsx_strings(openpyxl.load_workbook(io.BytesIO(reports.write_xlsx(report))))

    current = reports.report_period("week", today=today, start=today)
    assert current.start <= today <= current.end
    report = reports.build_report(OFFICE, snap, settings, reports.ReportRequest(current, include_map=False))
    text = docx_text(reports.write_docx(report))[0]
    assert "本期尚未结束" in text
    rows = metric_rows(snap, "county", "county", "week")
    assert report.figure("received").value == rows.loc[rows["start"] == current.start, "received"].sum()


def test_suppression_for_roles_without_points(ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = ctx
    leader = make_viewer(["leader"], name="leader")
    period = reports.report_period("week", today=views.snapshot_today(snap, settings))
    report = reports.build_report(leader, snap, settings, reports.ReportRequest(period, include_map=False))
    cats = report.table("categories").rows
    threshold = settings.privacy.small_count_threshold if hasattr(settings, "privacy") else 5
    values = [v for v in cats["cases"]]
    assert all(not (isinstance(v, (int, float)) and 0 < v < threshold) for v in values)
    assert any(v == f"<{threshold}" for v in values) or all(v >= threshold or v == 0 for v in values)
    assert any("<" in n for n in report.notes)


def small(value: object) -> bool:
    """A count of 1-4 (a number, not a text)."""
    return pd.api.types.is_number(value) and not isinstance(value, bool) and not pd.isna(value) and 0 < value < 5


def small_unit(settings: Settings, snap: snapshots.Snapshot, period: reports.ReportPeriod) -> Unit:
    """The first community or grid with 2-4 cases received in `period` (a number seen nowhere else in the
    sentences), a leader with 1-4 包案 and 1-4 督办 orders."""
    opts = views.unit_options(OFFICE, snap, settings)
    units = [("community", c) for comms in opts.communities.values() for c, _ in comms]
    units += [("grid", g) for grids in opts.grids.values() for g, _ in grids]
    for unit_type, unit_id in units:
        rows = metric_rows(snap, unit_type, unit_id, "month")
        if not 2 <= rows.loc[rows["start"] == period.start, "received"].sum() <= 4:
            continue
        report = reports.build_report(OFFICE, snap, settings, reports.ReportRequest(period, Unit(unit_type, unit_id),
                                                                                     include_map=False))
        leaders, supervision = report.table("leaders").rows, report.table("supervision").rows
        if leaders["cases"].map(small).any() and small(supervision["total"].iloc[-1]) and \
                not leaders[["name", "post"]].duplicated().any():
            return Unit(unit_type, unit_id)
    raise AssertionError("the fixture has no unit with such small figures")


def xlsx_table(wb: openpyxl.Workbook, columns: tuple[reports.Column, ...]) -> list[dict[str, object]]:
    """The rows (column key -> cell value) of the sheet whose header row holds the `columns` labels."""
    labels = [c.label for c in columns]
    ws = next(ws for ws in wb.worksheets if [c.value for c in ws[1]] == labels)
    return [{c.key: cell.value for c, cell in zip(columns, row, strict=True)} for row in ws.iter_rows(min_row=2)]


def row_id(row: dict[str, object], key: tuple[str, ...]) -> tuple[str, ...]:
    """A row's key as text, the same for an XLSX row (dates as datetimes) and a DOCX row (dates as text)."""
    return tuple(v.date().isoformat() if isinstance(v, dt.datetime) else str(v) for v in (row[k] for k in key))


def docx_table(tables: list[list[list[str]]], columns: tuple[reports.Column, ...]) -> list[dict[str, str]]:
    labels = [c.label for c in columns]
    table = next(tb for tb in tables if tb[0] == labels)
    return [dict(zip((c.key for c in columns), row, strict=True)) for row in table[1:]]


def test_leader_export_of_a_small_unit_hides_every_small_count(ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    """#6: the leaders, 督办 and trend tables and the headline figures and sentences of a leader's DOCX and
    XLSX show each count of 1-4 as "<5" and each rate or change from one as "样本<5"; the office's hold the
    numbers (zeros and counts of 5 or more are the same in both)."""
    settings, snap = ctx
    period = reports.report_period("month", today=views.snapshot_today(snap, settings))
    unit = small_unit(settings, snap, period)
    request = reports.ReportRequest(period, unit, include_map=False)
    office = reports.build_report(OFFICE, snap, settings, request)
    leader = reports.build_report(LEADER, snap, settings, request)
    files = {}
    for name, report in (("office", office), ("leader", leader)):
        text, tables = docx_text(reports.write_docx(report, settings=settings))
        files[name] = (text, tables, openpyxl.load_workbook(io.BytesIO(reports.write_xlsx(report))))

    # the tables: the office's cells against the leader's, row by row
    keys = {"leaders": ("name", "post"), "supervision": ("tier",), "trend": ("week",)}
    rates = {"leaders": {"rate": ("resolved", "cases")}}
    hidden: dict[str, int] = {}
    for key, row_key in keys.items():
        columns = office.table(key).columns
        counts = [c.key for c in columns if c.type == "int"]
        exact = {row_id(r, row_key): r for r in xlsx_table(files["office"][2], columns)}
        exact_docx = {row_id(r, row_key): r for r in docx_table(files["office"][1], columns)}
        shown = xlsx_table(files["leader"][2], columns)
        shown_docx = {row_id(r, row_key): r for r in docx_table(files["leader"][1], columns)}
        assert len(shown) == len(exact) == len(shown_docx) > 0, key
        hidden[key] = 0
        for row in shown:
            k = row_id(row, row_key)
            want, want_docx, got_docx = exact[k], exact_docx[k], shown_docx[k]
            for col in counts:
                assert isinstance(want[col], int), (key, col, want[col])  # the office: numbers
                if small(want[col]):
                    assert row[col] == got_docx[col] == HIDDEN, (key, col, want[col], row[col], got_docx[col])
                    hidden[key] += 1
                else:
                    assert row[col] == want[col] and got_docx[col] == want_docx[col], (key, col, row[col])
            for col, parts in rates.get(key, {}).items():
                if any(small(want[p]) for p in parts):
                    assert row[col] == got_docx[col] == RATE_HIDDEN, (key, col)
                else:
                    assert row[col] == want[col] and got_docx[col] == want_docx[col], (key, col)
    assert all(hidden.values()), hidden

    # the headline figures: DOCX table 本期 / 上期 / 变化, XLSX 总体情况 with numerators and denominators
    head = {name: {row[0]: row[1:] for row in files[name][1][0][1:]} for name in files}
    sheet = {name: {row[0].value: [c.value for c in row[1:]] for row in files[name][2].worksheets[1].iter_rows(
        min_row=2)} for name in files}
    n_hidden = {"count": 0, "rate": 0}
    for f in office.figures:
        label = f.label
        this, before = head["leader"][label][:2]
        this_xl, before_xl = sheet["leader"][label][:2]
        if f.kind == "count":
            parts, prev_parts = (f.value,), (f.previous,)
            hide_value, hide_prev = small(f.value), small(f.previous)
            mark = HIDDEN
        else:
            parts = (f.num, f.den) if f.kind == "rate" else (f.den,)
            prev_parts = (f.prev_num, f.prev_den) if f.kind == "rate" else (f.prev_den,)
            hide_value, hide_prev = any(map(small, parts)), any(map(small, prev_parts))
            mark = RATE_HIDDEN
        for hide, docx_cell, xl_cell, col in ((hide_value, this, this_xl, 0), (hide_prev, before, before_xl, 1)):
            if hide:
                assert docx_cell == xl_cell == mark, (f.name, col, docx_cell, xl_cell)
                n_hidden["count" if f.kind == "count" else "rate"] += 1
            else:
                assert docx_cell == head["office"][label][col], (f.name, col)
                assert xl_cell == sheet["office"][label][col], (f.name, col)
        if (hide_value or hide_prev) and head["office"][label][2] != "—":
            assert head["leader"][label][2] == sheet["leader"][label][2] == RATE_HIDDEN, f.name  # the change
        elif not (hide_value or hide_prev):
            assert head["leader"][label][2] == head["office"][label][2], f.name
        if f.kind == "rate":  # numerators and denominators: counts
            for col, value in zip((3, 4, 5, 6), (f.num, f.den, f.prev_num, f.prev_den), strict=True):
                assert sheet["leader"][label][col] == (HIDDEN if small(value) else value), (f.name, col)
                assert sheet["office"][label][col] == value
        elif f.kind == "mean":  # days ÷ cases: the days of fewer than 5 cases are hidden with their number
            for col, days, cases in ((3, f.num, f.den), (5, f.prev_num, f.prev_den)):
                assert sheet["leader"][label][col + 1] == (HIDDEN if small(cases) else cases), (f.name, col)
                assert sheet["leader"][label][col] == (RATE_HIDDEN if small(cases) else pytest.approx(days)), f.name
    assert all(n_hidden.values()), n_hidden
    received = office.figure("received")
    assert 2 <= received.value <= 4 and sheet["office"][received.label][0] == received.value
    assert sheet["leader"][received.label][0] == HIDDEN and head["leader"][received.label][0] == HIDDEN

    # the sentences (DOCX text, XLSX 说明 sheet)
    filters = Filters(Period("custom", period.start, period.end), unit)
    lt = views.leader_board(OFFICE, snap, settings, filters).levels.iloc[-1]
    n_leaders = len(office.table("leaders").rows)
    for name, want in (("office", (f"新增信访事项{fmt_count(received.value)}件",
                                   f"领导包案{n_leaders}人{fmt_count(lt['cases'])}件",
                                   f"化解率{fmt_rate(lt['resolved'], lt['cases'])}")),
                       ("leader", ("新增信访事项<5件", f"领导包案{n_leaders}人<5件", f"化解率{RATE_HIDDEN}"))):
        text = files[name][0]
        info = "\n".join(str(c.value) for row in files[name][2].worksheets[0].iter_rows() for c in row)
        for phrase in want:
            assert phrase in text and phrase in info, (name, phrase)
    assert f"新增信访事项{fmt_count(received.value)}件" not in files["leader"][0]
    for r in views.THREE_RATES:  # a hidden rate of the figures is hidden in the sentence too
        f = office.figure(r)
        if small(f.num) or small(f.den):
            assert f"{f.label}{f.text}（" not in files["leader"][0] and f"{f.label}{RATE_HIDDEN}（" in files["leader"][0]
    note = t("rp_note_suppressed", "zh").format(n=5)
    assert note in files["leader"][0] and note not in files["office"][0]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dashboard.cli", "export", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cli_writes_files_and_audits(site: Path, tmp_path: Path, ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, snap = ctx
    town = views.unit_options(OFFICE, snap, settings).townships[0][0]
    out = tmp_path / "out" / "bulletin.docx"
    res = run_cli("--config", str(site), "--period", "week", "--unit", town, "--format", "docx", "--out", str(out),
                  cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = docx.Document(str(out))
    assert any("周通报" in p.text for p in doc.paragraphs)
    xl = tmp_path / "analysis.xlsx"
    res = run_cli("--config", str(site), "--period", "month", "--format", "xlsx", "--out", str(xl), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert openpyxl.load_workbook(xl).sheetnames[:2] == ["说明", "总体情况"]
    rows = appdb.audit_entries(appdb.open_app_db(settings), object_type="report")
    mine = rows[rows["who"] == "cli"]
    assert any(f"week:township:{town}:" in i and i.endswith(":docx") for i in mine["object_id"])
    assert any(i.startswith("month:county:county:") and i.endswith(":xlsx") for i in mine["object_id"])
    assert (mine["action"] == "export").all()

    bad = run_cli("--config", str(site), "--period", "custom", "--start", "2026-01-05", cwd=tmp_path)
    assert bad.returncode == 11 and len(bad.stderr.strip().splitlines()) == 1 and "--end" in bad.stderr
    bad = run_cli("--config", str(site), "--format", "pdf", cwd=tmp_path)
    assert bad.returncode == 11 and "docx" in bad.stderr
    bad = run_cli("--config", str(site), "--unit", "township:nowhere", cwd=tmp_path)
    assert bad.returncode == 11 and "Traceback" not in bad.stderr


def test_page_offers_downloads_and_audits(site: Path, monkeypatch: pytest.MonkeyPatch,
                                          ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    settings, _ = ctx
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(site))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(REPORTS_PAGE).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "报表"
    db = appdb.open_app_db(settings)
    before = len(appdb.audit_entries(db, object_type="report"))
    at.button(key="rp_generate").click().run()
    assert not at.exception, at.exception
    downloads = at.get("download_button")
    assert len(downloads) == 2
    after = appdb.audit_entries(db, object_type="report")
    assert len(after) == before + 2 and set(after["action"].head(2)) == {"export"}
    assert {i.rsplit(":", 1)[-1] for i in after["object_id"].head(2)} == {"docx", "xlsx"}


def test_page_for_a_grid_worker(site: Path, monkeypatch: pytest.MonkeyPatch,
                                ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(site))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.selectbox(key="gw_role").set_value("grid_worker").run()
    at.switch_page(REPORTS_PAGE).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="rp_unit").options == [at.selectbox(key="rp_unit").value]  # no township choices
    at.button(key="rp_generate").click().run()
    assert not at.exception, at.exception
    assert len(at.get("download_button")) == 2
    assert any("仅含您负责的" in i.value for i in at.info)


def test_map_image_does_not_class_suppressed_grids(ctx: tuple[Settings, snapshots.Snapshot]) -> None:
    """The report map of a leader paints every grid with 1-4 cases one grey ("<5" in the legend) instead of
    its colour class; the office's map has no such grey."""
    from PIL import Image

    settings, snap = ctx
    period = reports.report_period("month", today=views.snapshot_today(snap, settings))
    grey = tuple(round(255 * c) for c in reports.PRINT_SUPPRESSED)

    def grey_pixels(viewer: object) -> int:
        png = reports.render_map(viewer, snap, settings, Unit(), period.start, period.end, width_px=800)
        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
        return int((np.abs(pixels.astype(int) - grey).max(axis=1) <= 1).sum())

    cases = views.scoped_cases(OFFICE, snap, ["grid_id"], received=(period.start, period.end),
                               timezone=settings.timezone)
    counts = cases["grid_id"].value_counts()
    assert ((counts > 0) & (counts < 5)).any()  # the fixture has grids with small counts this month
    assert grey_pixels(LEADER) > 10_000 and grey_pixels(OFFICE) < 500  # a few anti-aliased edge pixels
