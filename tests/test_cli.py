"""The gridwatch command: --help everywhere, one-line reasons and exit codes on failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from canonical import canonical_tables, write_sqlalchemy
from loaders.schema import TABLES

COMMANDS = ["demo", "refresh", "worker", "check-sources", "export", "config"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dashboard.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command: str | None) -> None:
    res = run(*([command] if command else []), "--help")
    assert res.returncode == 0, res.stderr
    assert "Usage" in res.stdout and "--help" in res.stdout


def write_config(folder: Path, body: str) -> Path:
    path = folder / "gridwatch.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_invalid_config_exit_2_one_line(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "[refresh]\ninterval_minutes = -3\n")
    res = run("check-sources", "--config", str(cfg))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "refresh.interval_minutes" in lines[0] and "Traceback" not in res.stderr


def test_unreachable_database_clear_message(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[sources.grid]\nurl = "postgresql+psycopg://u:pw@127.0.0.1:9/nodb"\n'
                                 'connect_timeout_seconds = 2\n')
    res = run("check-sources", "--config", str(cfg))
    assert res.returncode == 3
    assert "cannot connect" in res.stderr and "sources.grid.url" in res.stderr
    assert "pw" not in res.stderr and "Traceback" not in res.stderr


def test_missing_table_and_missing_column(tmp_path: Path) -> None:
    tables = canonical_tables()
    grid = {k: v for k, v in tables.items() if TABLES[k].source == "grid" and k != "inspections"}
    write_sqlalchemy(f"sqlite:///{tmp_path}/grid.sqlite", grid)
    cfg = write_config(tmp_path, '[sources.grid]\nurl = "sqlite:///grid.sqlite"\n')
    res = run("check-sources", "--config", str(cfg))
    assert res.returncode == 3 and "inspections" in res.stderr and "sources.grid.queries.inspections" in res.stderr

    write_sqlalchemy(f"sqlite:///{tmp_path}/grid.sqlite",
                     {**grid, "inspections": tables["inspections"].drop(columns=["inspected_at"])})
    res = run("check-sources", "--config", str(cfg))
    assert res.returncode == 4 and "inspected_at" in res.stderr and "Traceback" not in res.stderr


def test_check_sources_prints_counts_and_reasons(tmp_path: Path) -> None:
    tables = canonical_tables()
    tables["cases"].loc[0, "status"] = "lost"
    write_sqlalchemy(f"sqlite:///{tmp_path}/grid.sqlite", {k: v for k, v in tables.items() if TABLES[k].source == "grid"})
    write_sqlalchemy(f"sqlite:///{tmp_path}/case.sqlite", {k: v for k, v in tables.items() if TABLES[k].source == "case"})
    cfg = write_config(tmp_path, '[sources.grid]\nurl = "sqlite:///grid.sqlite"\n'
                                 '[sources.case]\nurl = "sqlite:///case.sqlite"\n')
    res = run("check-sources", "--config", str(cfg))
    assert res.returncode == 0, res.stderr
    assert "cases" in res.stdout and "unknown value for status" in res.stdout and "C001" in res.stdout
