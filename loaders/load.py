"""Load every canonical table of the configured sources into validated frames plus `rejected`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import pandas as pd

from geo.areas import fill_area_geometry
from loaders.errors import SourceError
from loaders.files import read_file
from loaders.schema import TABLES
from loaders.sql import read_query
from loaders.validate import Rejections, ValidationContext, check_references, validate_table

if TYPE_CHECKING:
    from dashboard.settings import Settings, SourceSettings

SourceName = Literal["grid", "case"]


@dataclass
class LoadResult:
    """Validated canonical frames, what was rejected, and how the read went.

    Geometry columns hold shapely geometries in the source's coordinate system (`coord_sys`);
    `geo.coords` converts them to WGS-84.
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)
    rows_read: dict[str, int] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    coord_sys: dict[str, str] = field(default_factory=dict)

    def rejected_counts(self) -> dict[str, int]:
        if self.rejected.empty:
            return {}
        rows = self.rejected[self.rejected["action"] == "row_rejected"]
        return {str(k): int(v) for k, v in rows.groupby("table").size().items()}


def source_tables(name: SourceName) -> tuple[str, ...]:
    return tuple(t for t, spec in TABLES.items() if spec.source == name)


def default_query(table: str) -> str:
    return f"SELECT * FROM {table}"


def since_clause(since: pd.Timestamp, timezone: str) -> str:
    """WHERE condition on updated_at for rows changed since `since` (naive local time literal).

    Sources keep local naive timestamps (or text in ISO layout), so the literal compares correctly
    as a timestamp in PostgreSQL/MySQL and as text in SQLite.
    """
    local = since.tz_convert(timezone) if since.tzinfo else since
    return f"updated_at >= '{local:%Y-%m-%d %H:%M:%S}'"


def read_raw(settings: Settings, source: SourceName, table: str, *, since: pd.Timestamp | None = None
             ) -> tuple[pd.DataFrame, str, str]:
    """Raw rows of one canonical table (columns renamed per config), the method, and its coord_sys.

    With `since`, only rows whose updated_at is at or after it (incremental reads of `cases`).
    """
    src: SourceSettings = getattr(settings.sources, source)
    coord_sys = src.coord_sys
    if table in src.files:
        frame, crs = read_file(settings.path(src.files[table]), source=source, table=table,
                               sheet=src.sheets.get(table))
        if crs and crs not in ("EPSG:4326", "EPSG:4490"):
            coord_sys = crs  # a file's own projected CRS wins over the source default
        method = "file"
    else:
        if not src.url:
            raise SourceError(
                f"数据源 {source}: 表 {table} 既没有数据库地址也没有文件. Set sources.{source}.url or "
                f"sources.{source}.files.{table}.")
        query = src.queries.get(table, default_query(table))
        if since is not None:
            query = f"SELECT * FROM ({query}) AS q WHERE {since_clause(since, settings.timezone)}"
        res = read_query(settings.resolve_url(src.url), query, source=source, table=table,
                         fast_path=src.fast_path, timeout_s=src.connect_timeout_seconds)
        frame, method = res.frame, res.method
    mapping = src.columns.get(table)
    if mapping:
        frame = frame.rename(columns=mapping)
    if since is not None and method == "file" and "updated_at" in frame.columns:
        stamps = pd.to_datetime(frame["updated_at"], errors="coerce", format="mixed")
        if stamps.dt.tz is None:
            stamps = stamps.dt.tz_localize(settings.timezone, ambiguous="NaT", nonexistent="NaT")
        frame = frame[(stamps >= since).fillna(False).to_numpy()].reset_index(drop=True)
    return frame, method, coord_sys


def context_for(settings: Settings, source: SourceName, coord_sys: str,
                now: datetime | None = None) -> ValidationContext:
    return ValidationContext(
        source=source,
        timezone=settings.timezone,
        now=now,
        future_tolerance_hours=settings.validation.future_tolerance_hours,
        bounds=settings.validation.bounds,
        category_aliases=dict(settings.categories.aliases),
        coord_sys=coord_sys,
    )


def validate_raw(settings: Settings, source: SourceName, raw: dict[str, tuple[pd.DataFrame, str, str]], *,
                 now: datetime | None, rej: Rejections, consume: bool = False) -> dict[str, pd.DataFrame]:
    """Validate raw frames as `read_raw` returned them ({table: (frame, method, coord_sys)}).

    Rejections are added to `rej`; with `consume`, each raw frame is emptied as it is converted.
    """
    tables = {}
    for table, (frame, _, coord_sys) in raw.items():
        tables[table], table_rej = validate_table(frame, table, context_for(settings, source, coord_sys, now),
                                                  consume=consume)
        rej.extend(table_rej)
    return tables


def load_sources(settings: Settings, *, sources: tuple[SourceName, ...] = ("grid", "case"),
                 now: datetime | None = None) -> LoadResult:
    """Read, validate and cross-check every table of the given sources. Raises SourceError/SchemaError."""
    result = LoadResult()
    rej = Rejections()
    for source in sources:
        for table in source_tables(source):
            t0 = time.perf_counter()
            raw, method, coord_sys = read_raw(settings, source, table)
            t1 = time.perf_counter()
            frame, table_rej = validate_table(raw, table, context_for(settings, source, coord_sys, now))
            rej.extend(table_rej)
            result.tables[table] = frame
            result.rows_read[table] = len(raw)
            result.methods[table] = method
            result.coord_sys[table] = coord_sys
            result.durations[f"read.{table}"] = t1 - t0
            result.durations[f"validate.{table}"] = time.perf_counter() - t1
    t0 = time.perf_counter()
    result.tables = check_references(result.tables, rej)
    if "grids" in result.tables:
        result.tables.update(fill_area_geometry(
            grids=result.tables["grids"], communities=result.tables.get("communities"),
            townships=result.tables.get("townships")))
    result.durations["references"] = time.perf_counter() - t0
    result.rejected = rej.frame()
    return result
