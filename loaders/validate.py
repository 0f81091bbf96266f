"""Validate raw source frames into canonical frames; every problem becomes a row of `rejected`.

Rules (SPEC §3, §5): a row that cannot be used at all (required value missing or unparsable,
unknown enumeration value, duplicate id, dangling parent) is rejected with its reason; a bad
optional value (a future or out-of-order date, an unusable coordinate) is cleared and flagged
while the row is kept; an invalid polygon is repaired with `make_valid` and reported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from loaders.enums import ENUMERATIONS, Enumeration, category_enumeration
from loaders.errors import SchemaError
from loaders.schema import (
    ACTION_REPAIRED,
    ACTION_ROW_REJECTED,
    ACTION_VALUE_CLEARED,
    REJECTED_COLUMNS,
    TABLES,
    Column,
    Table,
)

# Threads converting the columns of one table (most of the work is in Arrow kernels, outside the GIL).
CONVERT_THREADS = min(4, os.cpu_count() or 1)
GEOGRAPHIC_COORD_SYS = frozenset({"wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:4326", "EPSG:4490"})
_COORD_SYS_RE = re.compile(r"^(wgs84|cgcs2000|gcj02|bd09|EPSG:\d{4,6})$")
_COORD_SYS_ALIASES = {"wgs-84": "wgs84", "wgs_84": "wgs84", "gps": "wgs84", "gcj-02": "gcj02",
                      "gcj": "gcj02", "mars": "gcj02", "火星": "gcj02", "bd-09": "bd09", "baidu": "bd09",
                      "cgcs": "cgcs2000", "epsg:4326": "EPSG:4326", "epsg:4490": "EPSG:4490"}
_TRUE = {"1", "true", "t", "yes", "y", "是", "true.0", "1.0"}
_FALSE = {"0", "false", "f", "no", "n", "否", "false.0", "0.0"}
_CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
STR = "str"


@dataclass(frozen=True)
class ValidationContext:
    """What validation needs to know besides the rows themselves."""

    source: str
    timezone: str = "Asia/Shanghai"
    now: datetime | None = None
    future_tolerance_hours: float = 24.0
    bounds: tuple[float, float, float, float] = (73.0, 3.0, 136.0, 54.0)
    category_aliases: dict[str, str] = field(default_factory=dict)
    coord_sys: str = "wgs84"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def latest_allowed(self) -> pd.Timestamp:
        now = pd.Timestamp(self.now) if self.now is not None else pd.Timestamp.now(tz=self.tz)
        if now.tzinfo is None:
            now = now.tz_localize(self.tz)
        return now + timedelta(hours=self.future_tolerance_hours)


class Rejections:
    """Collects rejected rows and flagged values; `frame()` returns them in REJECTED_COLUMNS."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, table: str, keys: pd.Series, column: str, reason: str | pd.Series, action: str,
            values: pd.Series | None = None) -> None:
        if len(keys) == 0:
            return
        part = pd.DataFrame({
            "table": table,
            "row_key": keys.astype(STR).to_numpy(),
            "column": column,
            "reason": reason.to_numpy() if isinstance(reason, pd.Series) else reason,
            "action": action,
            "value": (values.astype(STR).str.slice(0, 100).to_numpy() if values is not None
                      else pd.Series([pd.NA] * len(keys), dtype=STR).to_numpy()),
        })
        self._parts.append(part)

    def extend(self, other: Rejections) -> None:
        self._parts.extend(other._parts)

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return empty_rejected()
        out = pd.concat(self._parts, ignore_index=True)
        return out.astype({c: STR for c in REJECTED_COLUMNS})

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts)


def empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=STR) for c in REJECTED_COLUMNS})


def check_required_columns(raw: pd.DataFrame, table: Table, *, source: str) -> None:
    """Raise SchemaError naming the table, the missing column and the config key to fix."""
    missing = [c for c in table.required if c not in raw.columns]
    if missing:
        have = ", ".join(map(str, raw.columns[:20]))
        raise SchemaError(
            f"数据源 {source} 表 {table.name}（{table.label}）缺少必需列 {', '.join(missing)} / "
            f"required column(s) missing. Found: {have or '(none)'}. Fix: return them from "
            f"sources.{source}.queries.{table.name} (… AS {missing[0]}) or map them in "
            f"sources.{source}.columns.{table.name}."
        )


def validate_table(raw: pd.DataFrame, table_name: str, ctx: ValidationContext, *, consume: bool = False
                   ) -> tuple[pd.DataFrame, Rejections]:
    """Canonical frame of one table plus its rejections.

    Never mutates `raw` unless `consume` is true: then each raw column is dropped once converted,
    which keeps the peak memory of a million-row load near one copy of the table.
    """
    table = TABLES[table_name]
    check_required_columns(raw, table, source=ctx.source)
    rej = Rejections()
    df = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    if consume:  # columns outside the canonical schema are not needed
        for extra in [c for c in raw.columns if c not in table.names]:
            del raw[extra]
    keys = _row_keys(raw, table)
    n_rows = len(raw)
    drop = np.zeros(n_rows, dtype=bool)
    sources = {col.name: raw[col.name].reset_index(drop=True) for col in table.columns if col.name in raw.columns}
    if consume:
        for name in sources:
            del raw[name]
    # Columns are converted on a few threads (Arrow's kernels release the GIL) and taken in schema order.
    with ThreadPoolExecutor(max_workers=CONVERT_THREADS, thread_name_prefix="validate") as pool:
        pending = {name: pool.submit(_convert, source, table.column(name), ctx) for name, source in sources.items()}
        for col in table.columns:
            if col.name not in pending:
                df[col.name] = _empty(col, ctx, n_rows)
                continue
            values, bad, reason = pending.pop(col.name).result()
            source = sources.pop(col.name)
            if consume and col.dtype == "datetime":  # the biggest temporaries: give their memory back as we go
                pa.default_memory_pool().release_unused()
            df[col.name] = values
            if bad.any():
                reject_row = col.required or col.dtype in ("enum", "category")
                action = ACTION_ROW_REJECTED if reject_row else ACTION_VALUE_CLEARED
                shown = None if col.personal else source[bad]
                rej.add(table.name, keys[bad], col.name, reason[bad] if isinstance(reason, pd.Series)
                        else reason, action, shown)
                if reject_row:
                    drop |= bad.to_numpy()
            if col.required:
                missing = df[col.name].isna().to_numpy() & ~drop
                if missing.any():
                    rej.add(table.name, keys[missing], col.name, f"必需字段 {col.name}（{col.label}）为空",
                            ACTION_ROW_REJECTED)
                    drop |= missing
    df["_key"] = keys
    # Rows are selected once, at the end (a million-row frame costs ~0.4 s per selection): the checks
    # and the duplicate test look only at the rows still alive and report only those.
    alive = ~drop
    df, dropped = _TABLE_CHECKS.get(table.name, _no_check)(df, table, ctx, rej, alive)
    alive &= ~dropped
    if table.unique:
        alive &= ~_duplicate_losers(df, table, rej, alive)
    if not alive.all():
        df = df[alive]
    df = df.drop(columns="_key").reset_index(drop=True)
    return df, rej


def _row_keys(raw: pd.DataFrame, table: Table) -> pd.Series:
    """The row's id (joined for composite keys), or "第N行" (its 1-based position) where it has none."""
    parts = [raw[k].reset_index(drop=True).astype(STR) for k in table.key if k in raw.columns
             and table.column(k).dtype == "id"]
    if not parts:
        key = pd.Series(pd.NA, index=pd.RangeIndex(len(raw)), dtype=STR)
    else:
        key = parts[0].str.strip()
        for p in parts[1:]:
            key = key + "/" + p.str.strip()
    missing = (key.isna() | (key.str.len() == 0)).to_numpy()
    if missing.any():
        key = key.copy()
        key[missing] = [f"第{i + 1}行" for i in np.flatnonzero(missing)]
    return key


def _empty(col: Column, ctx: ValidationContext, n: int) -> pd.Series:
    dtype = _dtype(col, ctx)
    if col.dtype == "geometry":
        return pd.Series([None] * n, dtype=object)
    return pd.Series([pd.NA if dtype != "float64" else np.nan] * n, dtype=dtype)


def _dtype(col: Column, ctx: ValidationContext) -> str | pd.DatetimeTZDtype:
    return {
        "id": STR, "str": STR, "enum": STR, "category": STR, "int": "Int64", "float": "float64",
        "bool": "boolean", "geometry": "object",
        "datetime": pd.DatetimeTZDtype(unit="us", tz=ctx.timezone),
    }[col.dtype]


def _convert(s: pd.Series, col: Column, ctx: ValidationContext
             ) -> tuple[pd.Series, pd.Series, str | pd.Series]:
    """Converted values, a mask of values that were present but unusable, and the reason."""
    if col.dtype in ("id", "str"):
        return _to_str(s, is_id=col.dtype == "id"), pd.Series(False, index=s.index), ""
    if col.dtype in ("int", "float") and (pd.api.types.is_numeric_dtype(s.dtype)
                                          and not pd.api.types.is_bool_dtype(s.dtype)):
        num = s.astype("float64")  # already numeric (typed database column): nothing to parse
        if col.dtype == "int":
            frac = num.notna() & (num % 1 != 0)
            return num.where(~frac).round().astype("Int64"), frac, f"{col.label} 不是整数"
        return num, pd.Series(False, index=s.index), ""
    if col.dtype in ("int", "float"):
        text = _to_str(s, is_id=False)
        num = pd.to_numeric(text, errors="coerce")
        bad = num.isna() & text.notna()
        if col.dtype == "int":
            frac = num.notna() & (num % 1 != 0)
            bad |= frac
            num = num.where(~frac)
            return num.round().astype("Int64"), bad, f"{col.label} 不是整数"
        return num.astype("float64"), bad, f"{col.label} 不是数字"
    if col.dtype == "bool":
        text = _to_str(s, is_id=False).str.lower()
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[text.isin(_TRUE)] = True
        out[text.isin(_FALSE)] = False
        return out, out.isna() & text.notna(), f"{col.label} 不是是/否值"
    if col.dtype == "datetime":
        return _to_datetime(s, col, ctx)
    if col.dtype in ("enum", "category"):
        enum = (category_enumeration(ctx.category_aliases) if col.dtype == "category"
                else ENUMERATIONS[col.enum or ""])
        return _to_enum(s, col, enum)
    if col.dtype == "geometry":
        return _to_geometry(s, col)
    raise AssertionError(col.dtype)


def _to_str(s: pd.Series, *, is_id: bool) -> pd.Series:
    if pd.api.types.is_float_dtype(s.dtype) and is_id:
        # Excel turns codes into floats (150102001.0); ids are written without the fraction.
        whole = s.notna() & (s % 1 == 0)
        out = s.astype(object)
        out[whole] = s[whole].astype("int64").astype(str)
        s = out
    if s.dtype == object:
        s = s.map(_scalar_text, na_action="ignore")
    out = s.astype(STR).str.strip()
    if is_id:
        dotted = out.str.endswith(".0").fillna(False).astype(bool)
        if dotted.any():
            out = out.where(~dotted, out.str.slice(0, -2))
    return out.where(out.str.len() > 0)


def _scalar_text(v: object) -> object:
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v).decode("utf-8", errors="replace")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v


def _to_datetime(s: pd.Series, col: Column, ctx: ValidationContext
                 ) -> tuple[pd.Series, pd.Series, pd.Series]:
    tz = ctx.timezone
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        parsed = s.dt.tz_convert(tz)
        present = s.notna()
    elif pd.api.types.is_datetime64_dtype(s.dtype):
        parsed = s.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        present = s.notna()
    else:
        text = _to_str(s, is_id=False) if s.dtype == object or pd.api.types.is_string_dtype(s.dtype) \
            else s.astype(STR)
        present = text.notna()
        parsed = _parse_datetime_text(text, tz)
    parsed = parsed.astype(pd.DatetimeTZDtype(unit="us", tz=tz))
    unparsable = present & parsed.isna()
    future = (parsed > ctx.latest_allowed) if not col.future_ok else pd.Series(False, index=s.index)
    bad = unparsable | future
    reason = pd.Series(f"{col.label} 无法解析为日期时间", index=s.index[bad], dtype=STR)
    reason[future[bad]] = f"{col.label} 晚于当前时间（未来日期）"
    return parsed.where(~future), bad, reason.reindex(s.index)


def _parse_datetime_text(text: pd.Series, tz: str) -> pd.Series:
    out = pd.Series(pd.NaT, index=text.index, dtype=pd.DatetimeTZDtype(unit="us", tz=tz))
    todo = text.notna()
    if not todo.any():
        return out
    fast = _strptime_common(text[todo])
    if fast is not None:
        out = _merge_times(out, fast, tz)
        todo = todo & out.isna()
        if not todo.any():
            return out
    has_offset = pd.Series(False, index=text.index)
    has_offset[todo] = text[todo].str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).fillna(False)
    naive = todo & ~has_offset
    if naive.any():
        out = _merge_times(out, pd.to_datetime(text[naive], format="ISO8601", errors="coerce"), tz)
    if has_offset.any():
        out = _merge_times(out, pd.to_datetime(text[has_offset], format="ISO8601", errors="coerce",
                                               utc=True), tz)
    rest = todo & out.isna()
    if rest.any():
        t = text[rest].str.replace(_CN_DATE, r"\1-\2-\3", regex=True)
        numeric = pd.to_numeric(t, errors="coerce")
        serial = numeric.between(20000, 80000)  # Excel serial day numbers (1954..2119)
        conv = pd.Series(pd.NaT, index=t.index, dtype="datetime64[us]")
        if serial.any():
            conv[serial] = pd.to_datetime(numeric[serial], unit="D", origin="1899-12-30")
        other = ~serial & numeric.isna()
        if other.any():
            conv[other] = _to_datetime_each(t[other])
        out = _merge_times(out, conv, tz)
    return out


_ISO_LOCAL = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$"


def _strptime_common(text: pd.Series) -> pd.Series | None:
    """Arrow's strict ISO cast for naive 'YYYY-MM-DD[ HH:MM[:SS]]' text (most sources), in C++.

    Other layouts stay NaT for the later passes; if any ISO-looking value is impossible
    (2026-02-30) the strict cast fails and None hands everything to the pandas passes.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(text.array) if hasattr(text.array, "__arrow_array__") \
            else pa.array(text.astype(object).where(text.notna(), None), type=pa.string())
        ok = pc.fill_null(pc.match_substring_regex(arr, _ISO_LOCAL), False)
        cand = pc.filter(arr, ok)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        return None
    try:
        parsed = pc.cast(cand, pa.timestamp("us"))
    except pa.ArrowInvalid:  # some impossible date among them: parse leniently, drop roll-overs
        parsed = pc.strptime(cand, format="%Y-%m-%d %H:%M:%S", unit="us", error_is_null=True)
        month = pc.cast(pc.utf8_slice_codeunits(cand, 5, 7), pa.int64(), safe=False)
        day = pc.cast(pc.utf8_slice_codeunits(cand, 8, 10), pa.int64(), safe=False)
        same = pc.and_(pc.equal(pc.month(parsed), month), pc.equal(pc.day(parsed), day))
        parsed = pc.if_else(pc.fill_null(same, False), parsed, pa.scalar(None, parsed.type))
    out = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[us]")
    out[np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)] = parsed.to_numpy(zero_copy_only=False)
    return pd.Series(out, index=text.index)


def _to_datetime_each(t: pd.Series) -> pd.Series:
    def one(v: str) -> pd.Timestamp:
        try:
            ts = pd.Timestamp(v)
        except (ValueError, TypeError, OverflowError):
            return pd.NaT
        return ts.tz_localize(None) if ts.tzinfo is not None else ts
    return t.map(one).astype("datetime64[us]")


def _merge_times(out: pd.Series, new: pd.Series, tz: str) -> pd.Series:
    if isinstance(new.dtype, pd.DatetimeTZDtype):
        new = new.dt.tz_convert(tz)
    elif pd.api.types.is_datetime64_dtype(new.dtype):
        new = new.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    else:  # mixed offsets come back as objects; normalise each through UTC
        new = pd.to_datetime(new, utc=True, errors="coerce").dt.tz_convert(tz)
    new = new.astype(out.dtype)
    return out.fillna(new.reindex(out.index)) if out.isna().any() else out


def _to_enum(s: pd.Series, col: Column, enum: Enumeration) -> tuple[pd.Series, pd.Series, pd.Series]:
    # Few distinct values: normalise and look up each distinct spelling once, not every row.
    codes_idx, uniques = pd.factorize(s, use_na_sentinel=True)
    lookup = enum.lookup_table()
    mapped = np.array([lookup.get("".join(str(_scalar_text(u)).split()).lower()) for u in uniques] + [None],
                      dtype=object)
    blank = np.array([not str(_scalar_text(u)).strip() for u in uniques] + [True], dtype=bool)
    codes = take_strings(mapped, codes_idx, s.index)
    bad = pd.Series(~blank[codes_idx], index=s.index) & codes.isna()
    hint = ("; map it in [categories.aliases]" if col.dtype == "category"
            else f"; expected one of {', '.join(enum.codes)} or their Chinese labels")
    return codes, bad, "未知取值 / unknown value for " + col.name + hint


def take_strings(values: Sequence[object], idx: np.ndarray, index: pd.Index) -> pd.Series:
    """values[idx] as a "str" Series (null where idx < 0 or the value is missing), gathered by Arrow's
    take, so a million rows cost no Python object each."""
    import pyarrow as pa

    source = pa.array([None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)
                       for v in values], type=pa.string())
    taken = source.take(pa.array(idx, type=pa.int64(), mask=np.asarray(idx) < 0))
    out = taken.to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow", na_value=np.nan)
                          if pa.types.is_string(t) else None)
    return out.set_axis(index).astype(STR)  # set_axis, not Series(index=...), which would reindex


def parse_geometry(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Shapely geometries from WKB bytes, hex (E)WKB, WKT or GeoJSON text; and a mask of unparsable."""
    arr = values.to_numpy(dtype=object)
    out = np.full(len(arr), None, dtype=object)
    present = pd.notna(values).to_numpy()
    is_bytes = np.fromiter((isinstance(v, bytes | bytearray | memoryview) for v in arr), bool, len(arr))
    if is_bytes.any():
        out[is_bytes] = shapely.from_wkb([bytes(v) for v in arr[is_bytes]], on_invalid="ignore")
    text_mask = present & ~is_bytes
    if text_mask.any():
        text = pd.Series(arr[text_mask]).astype(STR).str.strip()
        geo = out[text_mask]
        is_json = text.str.startswith("{").to_numpy()
        is_hex = text.str.fullmatch(r"(?:00|01)[0-9A-Fa-f]+").fillna(False).to_numpy()
        is_wkt = ~is_json & ~is_hex
        if is_json.any():
            geo[is_json] = [_from_geojson(t) for t in text[is_json]]
        if is_hex.any():
            geo[is_hex] = shapely.from_wkb(text[is_hex].to_numpy(), on_invalid="ignore")
        if is_wkt.any():
            wkt = text[is_wkt].str.replace(r"^SRID=\d+;", "", regex=True).to_numpy()
            geo[is_wkt] = shapely.from_wkt(wkt, on_invalid="ignore")
        out[text_mask] = geo
    bad = present & pd.isna(out)
    return out, bad


def _from_geojson(text: str) -> object:
    try:
        return shapely.from_geojson(text, on_invalid="ignore")
    except Exception:  # noqa: BLE001 - malformed JSON
        return None


def _to_geometry(s: pd.Series, col: Column) -> tuple[pd.Series, pd.Series, str]:
    geoms, bad = parse_geometry(s)
    return pd.Series(geoms, index=s.index, dtype=object), pd.Series(bad, index=s.index), \
        "几何无法解析（应为 WKB、WKT 或 GeoJSON）"


# A table check gets the whole frame and the mask of rows still alive; it reports problems of those rows
# only and returns the frame (values cleared or repaired) and the mask of rows it rejects.
Check = Callable[[pd.DataFrame, Table, "ValidationContext", "Rejections", np.ndarray],
                 tuple[pd.DataFrame, np.ndarray]]


def _no_check(df: pd.DataFrame, table: Table, ctx: ValidationContext, rej: Rejections, alive: np.ndarray
              ) -> tuple[pd.DataFrame, np.ndarray]:
    return df, np.zeros(len(df), dtype=bool)


def _check_polygons(df: pd.DataFrame, table: Table, ctx: ValidationContext, rej: Rejections,
                    alive: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Repair invalid polygons, reject empty or non-polygonal geometry of grids (clear it elsewhere)."""
    if df.empty:
        return df, np.zeros(0, dtype=bool)
    df = df.copy()
    geoms = df["geometry"].to_numpy(dtype=object).copy()
    present = ~pd.isna(geoms) & alive
    geoms[~present] = None
    gtype = np.full(len(geoms), -1)
    gtype[present] = shapely.get_type_id(geoms[present])
    polygonal = np.isin(gtype, (3, 6))  # Polygon, MultiPolygon
    empty = present & shapely.is_empty(geoms)
    wrong = present & ~empty & ~polygonal
    required = table.column("geometry").required
    action = ACTION_ROW_REJECTED if required else ACTION_VALUE_CLEARED
    for mask, reason in ((empty, "几何为空 / empty geometry"),
                         (wrong, "几何不是面（Polygon/MultiPolygon）")):
        if mask.any():
            rej.add(table.name, df["_key"][mask], "geometry", reason, action)
    unusable = empty | wrong
    geoms[unusable] = None
    ok = present & ~unusable
    invalid = np.zeros(len(geoms), bool)
    invalid[ok] = ~shapely.is_valid(geoms[ok])
    if invalid.any():
        reasons = [f"无效多边形已修复（{r}）" for r in shapely.is_valid_reason(geoms[invalid])]
        repaired = shapely.make_valid(geoms[invalid])
        geoms[invalid] = [_polygonal_part(g) for g in repaired]
        rej.add(table.name, df["_key"][invalid], "geometry", pd.Series(reasons), ACTION_REPAIRED)
    df["geometry"] = geoms
    return df, (unusable if required else np.zeros(len(df), dtype=bool))


def _polygonal_part(geom: object) -> object:
    parts = shapely.get_parts(geom)
    polys = [p for p in parts if shapely.get_type_id(p) in (3, 6)]
    if not polys:
        return shapely.Polygon()
    return shapely.union_all(polys) if len(polys) > 1 else polys[0]


def _check_cases(df: pd.DataFrame, table: Table, ctx: ValidationContext, rej: Rejections, alive: np.ndarray
                 ) -> tuple[pd.DataFrame, np.ndarray]:
    df = df.copy(deep=False)  # copy-on-write: columns are copied only where they change
    # Dates that cannot precede the receipt are cleared (the case itself stays usable).
    for col in ("accepted_at", "replied_at", "closed_at"):
        early = (df[col] < df["received_at"]).fillna(False).to_numpy() & alive
        if early.any():
            rej.add(table.name, df["_key"][early], col,
                    f"{table.column(col).label} 早于登记时间", ACTION_VALUE_CLEARED, df[col][early])
            df.loc[early, col] = pd.NaT
    df = _check_coord_sys(df, table, ctx, rej, alive)
    df = _check_coordinates(df, table, ctx, rej, alive)
    # Accusation flag follows purpose when the source leaves it empty.
    if "purpose" in df:
        df["is_accusation"] = df["is_accusation"].fillna(df["purpose"].eq("accusation"))
        df["is_accusation"] = df["is_accusation"].fillna(False).astype("boolean")
    if df["people_count"].notna().any():
        bad = (df["people_count"] < 1).fillna(False).to_numpy() & alive
        if bad.any():
            rej.add(table.name, df["_key"][bad], "people_count", "人数小于1", ACTION_VALUE_CLEARED,
                    df["people_count"][bad])
            df.loc[bad, "people_count"] = pd.NA
    return df, np.zeros(len(df), dtype=bool)


def _check_coord_sys(df: pd.DataFrame, table: Table, ctx: ValidationContext, rej: Rejections,
                     alive: np.ndarray) -> pd.DataFrame:
    raw = df["coord_sys"]
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    names = [_norm_coord_sys(str(u)) for u in uniques]
    norm_u = np.array([n if n and _valid_coord_sys(n) else None for n in names] + [None], dtype=object)
    norm = take_strings(norm_u, codes, raw.index)
    valid = norm.notna()
    bad = (raw.notna() & ~valid).to_numpy() & alive
    if bad.any():
        rej.add(table.name, df["_key"][bad], "coord_sys", "未知坐标系，坐标未使用", ACTION_VALUE_CLEARED,
                raw[bad])
        df.loc[bad, ["lon", "lat"]] = np.nan
    df["coord_sys"] = norm.where(valid, ctx.coord_sys).astype(STR)
    return df


@lru_cache(maxsize=256)
def epsg_known(code: str) -> bool:
    """Whether pyproj knows the EPSG code (e.g. EPSG:4547)."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(code)
    except CRSError:
        return False
    return True


def _norm_coord_sys(value: str) -> str:
    v = value.strip().lower().replace(" ", "")
    v = _COORD_SYS_ALIASES.get(v, v)
    return v.upper() if v.startswith("epsg:") else v


def _valid_coord_sys(value: str) -> bool:
    if not _COORD_SYS_RE.fullmatch(value):
        return False
    return not value.startswith("EPSG:") or epsg_known(value)


def coordinate_problems(lon: np.ndarray, lat: np.ndarray, *,
                        bounds: tuple[float, float, float, float]) -> np.ndarray:
    """Reason per point why a geographic coordinate is unusable ('' if usable or absent)."""
    x0, y0, x1, y1 = bounds
    with np.errstate(invalid="ignore"):
        one_missing = np.isnan(lon) ^ np.isnan(lat)
        present = ~np.isnan(lon) & ~np.isnan(lat)
        zero = present & ((lon == 0) | (lat == 0))
        inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        inside_swapped = (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
        swapped = present & ~zero & ~inside & inside_swapped
        out_of_range = present & ~zero & ~swapped & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
        outside = present & ~zero & ~out_of_range & ~inside & ~inside_swapped
    reason = np.full(len(lon), "", dtype=object)
    reason[one_missing] = "经纬度缺一，坐标未使用"
    reason[zero] = "坐标为0，坐标未使用"
    reason[out_of_range] = "经纬度超出取值范围，坐标未使用"
    reason[swapped] = "疑似经纬度颠倒，坐标未使用（未自动调换）"
    reason[outside] = "坐标不在辖区所在范围内，坐标未使用"
    return reason


def _check_coordinates(df: pd.DataFrame, table: Table, ctx: ValidationContext, rej: Rejections,
                       alive: np.ndarray) -> pd.DataFrame:
    lon = df["lon"].to_numpy(dtype="float64", na_value=np.nan)
    lat = df["lat"].to_numpy(dtype="float64", na_value=np.nan)
    geographic = df["coord_sys"].isin(GEOGRAPHIC_COORD_SYS).to_numpy()
    reason = coordinate_problems(lon, lat, bounds=ctx.bounds)
    reason[~geographic | ~alive] = ""  # projected coordinates are checked after conversion
    bad = reason != ""
    df["coord_issue"] = pd.Series(np.where(bad, reason, None), index=df.index, dtype=STR)
    if bad.any():
        shown = df["lon"][bad].astype(STR) + "," + df["lat"][bad].astype(STR)
        rej.add(table.name, df["_key"][bad], "lon/lat", pd.Series(reason[bad]), ACTION_VALUE_CLEARED, shown)
        df.loc[bad, ["lon", "lat"]] = np.nan
    return df


def _duplicate_losers(df: pd.DataFrame, table: Table, rej: Rejections, alive: np.ndarray) -> np.ndarray:
    """Mask of the alive rows that lose to another alive row with the same key (the one updated last
    stays; without updated_at the last one); each loser is reported."""
    key = list(table.key)
    codes = np.zeros(len(df), dtype=np.int64)
    for k in key:  # one integer per distinct key: duplicate checks on ints, not strings
        c, u = pd.factorize(df[k], use_na_sentinel=False)
        codes = codes * (len(u) + 1) + c
    codes[~alive] = -1 - np.arange(int((~alive).sum()))  # rows already dropped share no key
    dup = pd.Series(codes).duplicated(keep=False).to_numpy()
    lost = np.zeros(len(df), dtype=bool)
    if not dup.any():
        return lost
    sub = df[dup]  # only the rows that share a key are sorted
    order = sub.sort_values("updated_at", na_position="first", kind="stable") \
        if "updated_at" in df.columns else sub
    losers = order.duplicated(key, keep="last")
    loser_idx = losers[losers].index
    reason = ("重复编号，保留更新时间最新的一条" if "updated_at" in df.columns
              else "重复记录，保留最后一条")
    rej.add(table.name, df.loc[loser_idx, "_key"], key[0], reason, ACTION_ROW_REJECTED)
    lost[df.index.get_indexer(loser_idx)] = True
    return lost


_TABLE_CHECKS: dict[str, Check] = {
    "grids": _check_polygons,
    "townships": _check_polygons,
    "communities": _check_polygons,
    "cases": _check_cases,
}


def check_references(tables: dict[str, pd.DataFrame], rej: Rejections) -> dict[str, pd.DataFrame]:
    """Cross-table checks: parents must exist. Dangling children are rejected, dangling case codes cleared.

    Tables absent from `tables` are not checked against. Returns new frames; inputs are not mutated.
    """
    out = check_parents(tables, rej)
    if "cases" in out:
        out["cases"] = clear_unknown_codes(out["cases"], grids=out.get("grids"),
                                           townships=out.get("townships"), rej=rej)
    return out


# (child table, column, parent table, parent column, label); order matters: parents first.
PARENT_LINKS = (
    ("communities", "township_id", "townships", "township_id", "所属乡镇"),
    ("grids", "community_id", "communities", "community_id", "所属社区"),
    ("worker_grids", "worker_id", "grid_workers", "worker_id", "网格员"),
    ("worker_grids", "grid_id", "grids", "grid_id", "网格"),
    ("inspections", "grid_id", "grids", "grid_id", "网格"),
    ("leader_areas", "leader_id", "leaders", "leader_id", "领导"),
    ("leader_areas", "township_id", "townships", "township_id", "乡镇"),
    ("leader_cases", "leader_id", "leaders", "leader_id", "领导"),
    ("leader_cases", "case_id", "cases", "case_id", "事项"),
    ("supervisions", "case_id", "cases", "case_id", "事项"),
)


def check_parents(tables: dict[str, pd.DataFrame], rej: Rejections, *,
                  children: tuple[str, ...] | None = None) -> dict[str, pd.DataFrame]:
    """Reject rows whose parent row does not exist (only for `children` when given)."""
    out = dict(tables)
    for child, col, parent, pcol, label in PARENT_LINKS:
        if child not in out or parent not in out or (children is not None and child not in children):
            continue
        df = out[child]
        bad = df[col].notna() & ~isin_strings(df[col], out[parent][pcol])
        if bad.any():
            keys = _keys_of(df[bad], TABLES[child])
            rej.add(child, keys, col, f"{label} " + df.loc[bad, col].astype(STR) + " 不存在",
                    ACTION_ROW_REJECTED, df.loc[bad, col])
            out[child] = df[~bad].reset_index(drop=True)
    return out


def isin_strings(values: pd.Series, allowed: pd.Series | np.ndarray | list[str]) -> pd.Series:
    """`values.isin(allowed)` for string columns, done by Arrow in C++.

    pandas' isin on Arrow strings converts every allowed value to a Python scalar first, which
    takes seconds for a million case ids.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def arrow(v: pd.Series | np.ndarray | list[str]) -> pa.Array:
        s = v if isinstance(v, pd.Series) else pd.Series(v, dtype=STR)
        if not isinstance(s.dtype, pd.StringDtype):
            s = s.astype(STR)
        arr = pa.array(s.array) if hasattr(s.array, "__arrow_array__") else pa.array(s.astype(object))
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return arr.cast(pa.large_string())

    probe, pool = arrow(values), arrow(allowed)
    if len(pool) > 4 * len(probe) + 1000:
        # Few values against many allowed (15,000 包案 rows against a million case ids): hashing the
        # values and scanning the pool is cheaper than hashing the pool.
        pool = pool.filter(pc.fill_null(pc.is_in(pool, value_set=probe.unique()), False))
    hit = pc.fill_null(pc.is_in(probe, value_set=pool.unique()), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=values.index)


def clear_unknown_codes(cases: pd.DataFrame, *, grids: pd.DataFrame | None,
                        townships: pd.DataFrame | None, rej: Rejections) -> pd.DataFrame:
    """Clear a case's grid or township code that names no known unit (the case itself is kept)."""
    for col, parent, pcol, label in (("grid_id", grids, "grid_id", "网格编码"),
                                     ("township_id", townships, "township_id", "乡镇编码")):
        if parent is None:
            continue
        bad = cases[col].notna() & ~isin_strings(cases[col], parent[pcol])
        if bad.any():
            cases = cases.copy()
            rej.add("cases", cases.loc[bad, "case_id"], col, f"{label}不存在，已忽略",
                    ACTION_VALUE_CLEARED, cases.loc[bad, col])
            cases.loc[bad, col] = pd.NA
    return cases


def _keys_of(df: pd.DataFrame, table: Table) -> pd.Series:
    key = df[table.key[0]].astype(STR)
    for k in table.key[1:]:
        key = key + "/" + df[k].astype(STR)
    return key
