"""Benchmark: loader read of N cases vs pandas.read_sql through SQLAlchemy, PostgreSQL and SQLite.

Budget (issue #2): loader read from PostgreSQL ≤ 0.35× pandas.read_sql on the same table, same run.
Run: .venv/bin/python bench/load.py [--cases 1000000] [--grids 10000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from dashboard.demo_data import build_demo  # noqa: E402
from dashboard.settings import settings_from_dict  # noqa: E402
from loaders.load import context_for  # noqa: E402
from loaders.sql import read_query  # noqa: E402
from loaders.validate import validate_table  # noqa: E402

BUDGET_PG = 0.35


def best_of(repeat: int, fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def pandas_read_sql(url: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql("SELECT * FROM cases", conn)
    finally:
        engine.dispose()


def copy_to_postgres(frame: pd.DataFrame, url: str) -> None:
    """Typed cases table in PostgreSQL (timestamptz, double, text) via ADBC bulk ingest."""
    import adbc_driver_postgresql.dbapi as adbc_pg

    uri = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    table = pa.Table.from_pandas(frame.drop(columns=["coord_issue"]), preserve_index=False)
    with adbc_pg.connect(uri) as conn:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS cases")
            cur.adbc_ingest("cases", table, mode="create")
        conn.commit()


def measure(label: str, url: str, repeat: int, settings_source: str) -> dict[str, float]:
    settings = settings_from_dict({})
    base, _ = best_of(repeat, lambda: pandas_read_sql(url))
    read_t, res = best_of(repeat, lambda: read_query(url, "SELECT * FROM cases", source="case",
                                                     table="cases"))
    ctx = context_for(settings, "case", "wgs84")
    val_t, (frame, _) = best_of(1, lambda: validate_table(res.frame, "cases", ctx))  # type: ignore[union-attr]
    rows = len(res.frame)  # type: ignore[union-attr]
    print(f"{label:<10} rows {rows:>9,}  pandas.read_sql {base:7.2f}s  loader read ({res.method}) "  # type: ignore[union-attr]
          f"{read_t:6.2f}s = {read_t / base:.3f}×  + validate {val_t:5.2f}s → full load "
          f"{(read_t + val_t) / base:.3f}×")
    return {"base": base, "read": read_t, "validate": val_t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--grids", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    import servers

    with tempfile.TemporaryDirectory(prefix="gridwatch-bench-") as tmp:
        t0 = time.perf_counter()
        info = build_demo(Path(tmp) / "demo", cases=args.cases, grids=args.grids)
        print(f"demo sources built in {time.perf_counter() - t0:.1f}s ({info.counts.get('cases')} cases)")
        sqlite_url = f"sqlite:///{info.case_db}"
        sqlite = measure("SQLite", sqlite_url, args.repeat, "case")

        settings = settings_from_dict({})
        raw = read_query(sqlite_url, "SELECT * FROM cases", source="case", table="cases").frame
        typed, _ = validate_table(raw, "cases", context_for(settings, "case", "wgs84"))
        del raw
        with servers.postgis_server() as pg_url:
            copy_to_postgres(typed, pg_url)
            del typed
            pg = measure("PostgreSQL", pg_url, args.repeat, "case")
    ratio = pg["read"] / pg["base"]
    verdict = "within" if ratio <= BUDGET_PG else "OVER"
    print(f"\nPostgreSQL loader read {ratio:.3f}× pandas.read_sql — budget ≤ {BUDGET_PG}× — {verdict} budget")
    print(f"SQLite loader read {sqlite['read'] / sqlite['base']:.3f}× pandas.read_sql (reported, no budget)")


if __name__ == "__main__":
    main()
