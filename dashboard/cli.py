"""The `gridwatch` command: demo, refresh, worker, check-sources, export, config."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dashboard.settings import CONFIG_ENV, Settings, load_settings, reference_markdown
from loaders.errors import GridwatchError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Gridwatch 网格信访态势监测: refresh snapshots from the grid and case databases and "
                       "serve the dashboard.")

ConfigOpt = Annotated[Optional[Path], typer.Option(
    "--config", "-c", help=f"config file (default ./gridwatch.toml or ${CONFIG_ENV}; none = embedded demo)")]
REPO_ROOT = Path(__file__).resolve().parent.parent


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _fail(exc: GridwatchError) -> None:
    typer.echo(f"gridwatch: {exc}", err=True)
    raise typer.Exit(code=exc.exit_code)


@app.command()
def demo(
    config: ConfigOpt = None,
    cases: Annotated[Optional[int], typer.Option(help="synthetic cases over one year (default 30000)")] = None,
    grids: Annotated[Optional[int], typer.Option(help="synthetic grids (default 600, at most 10000)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed of the synthetic data")] = None,
    rebuild: Annotated[bool, typer.Option(help="rebuild the demo sources even if they exist")] = False,
    serve: Annotated[bool, typer.Option(help="start the app after building (--no-serve: build only)")] = True,
) -> None:
    """Build the embedded demo sources if missing, refresh, and serve the app on 127.0.0.1:8501."""
    from dashboard.demo_data import build_demo, demo_exists
    from dashboard.pipeline import refresh

    try:
        settings = _settings(config)
        d = settings.demo
        n_cases, n_grids, n_seed = cases or d.cases, grids or d.grids, seed if seed is not None else d.seed
        out = settings.data_path / "demo"
        if rebuild or not demo_exists(out) or cases or grids or seed is not None:
            typer.echo(f"生成示例数据 / building demo sources: {n_cases} cases, {n_grids} grids → {out}")
            info = build_demo(out, cases=n_cases, grids=n_grids, seed=n_seed, district_code=d.district_code)
            typer.echo(f"  {info.district_name}: " + ", ".join(f"{k} {v}" for k, v in info.counts.items()))
        typer.echo("刷新快照 / refreshing snapshot …")
        snap = refresh(settings, wait_s=60)
        typer.echo(f"  snapshot {snap.version}: {snap.manifest['row_counts'].get('cases', 0)} cases")
    except GridwatchError as exc:
        _fail(exc)
    if serve:
        _serve(settings, config)


def _serve(settings: Settings, config: Path | None) -> None:
    env = dict(os.environ)
    if config:
        env[CONFIG_ENV] = str(Path(config).resolve())
    args = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"),
            "--server.address", settings.server.address, "--server.port", str(settings.server.port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    typer.echo(f"Gridwatch: http://{settings.server.address}:{settings.server.port}")
    os.chdir(REPO_ROOT)  # Streamlit reads .streamlit/config.toml and static/ from here
    os.execvpe(args[0], args, env)


@app.command("refresh")
def refresh_cmd(
    config: ConfigOpt = None,
    full: Annotated[bool, typer.Option("--full", help="rebuild everything instead of an incremental read")] = False,
    wait: Annotated[float, typer.Option(help="seconds to wait for a running refresh before giving up")] = 0.0,
) -> None:
    """Load the sources and publish a new snapshot; the previous one stays current on failure."""
    from dashboard.pipeline import refresh

    try:
        snap = refresh(_settings(config), wait_s=wait, full=full)
    except GridwatchError as exc:
        _fail(exc)
    m = snap.manifest
    typer.echo(f"snapshot {snap.version}: " + ", ".join(f"{k} {v}" for k, v in m["row_counts"].items()
                                                        if "/" not in k))
    rejected = sum(m.get("rejected_counts", {}).values())
    kind = f"incremental since {m['incremental_since']}" if m.get("incremental") else "full"
    typer.echo(f"{kind}; {m.get('batch_rows', 0)} case rows read; rejected rows {rejected}")
    typer.echo("durations " + ", ".join(f"{k} {v:.2f}s" for k, v in m["durations"].items()))


@app.command("check-sources")
def check_sources(
    config: ConfigOpt = None,
    examples: Annotated[int, typer.Option(help="example row keys shown per reason")] = 3,
) -> None:
    """Connect to every source, count rows per table, print rejected rows grouped by reason."""
    from loaders.load import load_sources

    try:
        settings = _settings(config)
        result = load_sources(settings)
    except GridwatchError as exc:
        _fail(exc)
    typer.echo(f"{'table':<14}{'read':>10}{'valid':>10}  method")
    for name, frame in result.tables.items():
        typer.echo(f"{name:<14}{result.rows_read.get(name, 0):>10}{len(frame):>10}  {result.methods.get(name, '')}")
    rej = result.rejected
    if rej.empty:
        typer.echo("no rejected or flagged rows")
        return
    typer.echo(f"\n{len(rej)} rejected or flagged values:")
    grouped = rej.groupby(["table", "column", "action", "reason"], sort=True)
    for (table, column, action, reason), part in grouped:
        keys = ", ".join(part["row_key"].head(examples))
        typer.echo(f"  [{action}] {table}.{column}: {reason} — {len(part)} (e.g. {keys})")


@app.command()
def worker(config: ConfigOpt = None) -> None:
    """Run the refresh schedule in the foreground, logging each refresh; stop with Ctrl-C or SIGTERM.

    With several app processes, set refresh.in_app_scheduler = false and run one worker.

    Exit code 7: another process already runs the schedule for this data_dir.
    """
    import logging

    from dashboard.scheduler import run_worker

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s",
                        force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        run_worker(_settings(config))
    except GridwatchError as exc:
        _fail(exc)


@app.command()
def export(
    period: Annotated[str, typer.Option(help="week (周通报) | month (月分析) | quarter (季研判) | custom")] = "week",
    unit: Annotated[str, typer.Option(help="county, a township / community / grid id, or township:ID, "
                                           "community:ID, grid:ID")] = "county",
    fmt: Annotated[str, typer.Option("--format", "-f", help="docx | xlsx")] = "docx",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="file to write (default: a name made of "
                                                                     "kind, unit and dates in the current folder)")]
    = None,
    start: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD: first day of a custom period; for week/month/"
                                                      "quarter any day in the period (default: the last complete "
                                                      "one)")] = None,
    end: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD: last day of a custom period")] = None,
    issue: Annotated[Optional[int], typer.Option(help="issue number 第N期 (default: week, month or quarter of "
                                                      "the year)")] = None,
    no_map: Annotated[bool, typer.Option("--no-map", help="leave the map image out of a DOCX")] = False,
    config: ConfigOpt = None,
) -> None:
    """Export the 周通报 / 月分析 / 季研判 (or a custom period) of a unit as DOCX or XLSX from the current
    snapshot, for the whole jurisdiction (the joint-meeting office's view), and write it to the audit log.

    Exit codes: 2 config, 5 no snapshot, 11 invalid period, unit or format, 12 the file cannot be written.
    """
    import datetime as dt

    from dashboard import reports, snapshots, views
    from dashboard.filters import UNIT_TYPES, Unit
    from dashboard.viewer import make_viewer

    def day(value: str | None, name: str) -> dt.date | None:
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            _fail(reports.ReportError(f"`--{name}` was {value!r} but is expected to be a date YYYY-MM-DD"))
        return None

    try:
        if fmt not in reports.FORMATS:
            raise reports.ReportError(f"`--format` was {fmt!r} but is expected to be one of "
                                      f"{', '.join(reports.FORMATS)}")
        settings = _settings(config)
        snap = snapshots.open_current(settings.data_path)
        viewer = make_viewer(["office"], name="cli")
        if ":" in unit:
            kind_, _, unit_id = unit.partition(":")
        elif unit == "county":
            kind_, unit_id = "county", "county"
        else:  # a bare id: the township, community or grid that has it
            known = views.unit_known(views.unit_table(viewer, snap))
            kind_ = next((k for k in ("township", "community", "grid") if known(k, unit)), "")
            unit_id = unit
        if kind_ not in UNIT_TYPES or not unit_id:
            raise reports.ReportError(f"`--unit` was {unit!r} but is expected to be county, a township, community "
                                      f"or grid id of the snapshot, or township:ID / community:ID / grid:ID")
        target = Unit() if kind_ == "county" else Unit(kind_, unit_id)
        today = views.snapshot_today(snap, settings)
        rp = reports.report_period(period, today=today, start=day(start, "start"), end=day(end, "end"), issue=issue)
        report = reports.build_report(viewer, snap, settings,
                                      reports.ReportRequest(rp, target, include_map=fmt == "docx" and not no_map))
        data = reports.write(report, fmt, settings=settings)
        path = out or Path(report.filename(fmt))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            err = reports.ReportError(f"cannot write {path}: {exc.strerror or exc}; choose another --out")
            err.exit_code = 12
            raise err from exc
        reports.audit_export(settings, report, fmt, user="cli")
    except GridwatchError as exc:
        _fail(exc)
    typer.echo(f"{report.title} {report.period.start}..{report.period.end} → {path} ({len(data):,} bytes)")
    for note in report.notes:
        typer.echo(f"  {note}")


@app.command("config")
def config_cmd(config: ConfigOpt = None) -> None:
    """Validate the config file and print the configuration reference."""
    try:
        settings = _settings(config)
    except GridwatchError as exc:
        _fail(exc)
    typer.echo(f"config OK (hash {settings.config_hash()}); data_dir {settings.data_path}\n")
    typer.echo(reference_markdown())


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
