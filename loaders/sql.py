"""Read a SELECT from a SQLAlchemy URL into pandas: Arrow (ADBC) fast path, plain SQLAlchemy fallback."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from loaders.errors import SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadResult:
    """Raw rows of one query and how they were read (`adbc` or `sqlalchemy`)."""

    frame: pd.DataFrame
    method: str


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as given minus nothing secret
        return url.split("@")[-1]


def parse_url(url: str, *, source: str) -> URL:
    try:
        return make_url(url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises ArgumentError and others
        raise SourceError(
            f"数据源 {source} 的地址无效: {url!r} ({exc}). Fix sources.{source}.url, "
            f"e.g. postgresql://user:${{PGPASSWORD}}@host:5432/db or sqlite:///path/to/file.sqlite"
        ) from None


def read_query(url: str, query: str, *, source: str, table: str, fast_path: bool = True,
               timeout_s: int = 10) -> ReadResult:
    """Run `query` against `url` and return its rows. Raises SourceError with a fix-it message."""
    u = parse_url(url, source=source)
    backend = u.get_backend_name()
    if backend == "sqlite":
        _check_sqlite_file(u, source=source)
    if fast_path and backend in ("postgresql", "sqlite"):
        try:
            return ReadResult(_read_adbc(u, query, backend=backend, timeout_s=timeout_s), "adbc")
        except ImportError:
            log.info("ADBC driver for %s not installed; using SQLAlchemy", backend)
        except Exception as exc:  # noqa: BLE001 - any driver failure falls back, errors resurface below
            log.info("ADBC read of %s.%s failed (%s); falling back to SQLAlchemy", source, table, exc)
    return ReadResult(_read_sqlalchemy(u, query, source=source, table=table, timeout_s=timeout_s),
                      "sqlalchemy")


def _check_sqlite_file(u: URL, *, source: str) -> None:
    db = u.database
    if db and db != ":memory:" and not db.startswith("file:") and not Path(db).exists():
        raise SourceError(
            f"数据源 {source}: SQLite 文件不存在 / file not found: {db}. Fix sources.{source}.url "
            f"(relative paths are relative to the config file), or run `gridwatch demo` to build the demo."
        )


def _read_adbc(u: URL, query: str, *, backend: str, timeout_s: int) -> pd.DataFrame:
    if backend == "postgresql":
        import adbc_driver_postgresql.dbapi as adbc_pg

        uri = u.set(drivername="postgresql").update_query_dict(
            {"connect_timeout": str(timeout_s)}).render_as_string(hide_password=False)
        with adbc_pg.connect(uri) as conn, conn.cursor() as cur:
            cur.execute(query)
            table = cur.fetch_arrow_table()
    else:
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        # SQLite columns are dynamically typed and ADBC infers one type per column from the first
        # batch: a dirty source (text in a REAL column) makes the typed read fail. Then read every
        # column as text (blobs as hex) and let the validator parse it, so one odd value never
        # costs the fast path.
        with adbc_sqlite.connect(u.database or ":memory:") as conn, conn.cursor() as cur:
            try:
                cur.execute(query)
                table = cur.fetch_arrow_table()
            except Exception:  # noqa: BLE001 - the driver raises several error types for mismatches
                cur.execute(f"SELECT * FROM ({query}) AS q LIMIT 0")
                names = [d[0] for d in cur.description or ()]
                cur.fetchall()
                cols = ", ".join(
                    f"CASE WHEN typeof({_qi(n)}) = 'blob' THEN hex({_qi(n)}) ELSE CAST({_qi(n)} AS TEXT) END "
                    f"AS {_qi(n)}" for n in names)
                cur.execute(f"SELECT {cols} FROM ({query}) AS q")
                table = cur.fetch_arrow_table()
    return _arrow_to_pandas(table)


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    # Opaque/extension types (e.g. PostGIS geometry, returned as EWKB bytes) become plain binary.
    fields = []
    for f in table.schema:
        t = f.type
        if isinstance(t, pa.ExtensionType):
            t = t.storage_type
        fields.append(pa.field(f.name, t))
    if any(a.type != b.type for a, b in zip(fields, table.schema)):
        table = pa.Table.from_arrays([c.cast(f.type) if not isinstance(c.type, pa.ExtensionType)
                                      else pa.chunked_array([ch.storage for ch in c.chunks], f.type)
                                      for c, f in zip(table.columns, fields)], schema=pa.schema(fields))
    # ADBC delivers many small batches; one chunk per column makes later takes/filters fast.
    # Combine column by column, dropping each original as we go, so the peak stays near one copy.
    names = table.column_names
    columns = [table.column(i) for i in range(table.num_columns)]
    del table
    data = {}
    for name in names:
        col = columns.pop(0)
        data[name] = pd.Series(pa.chunked_array([col.combine_chunks()], type=col.type).to_pandas(
            types_mapper=_types_mapper), name=name)
        del col
    frame = pd.DataFrame(data, copy=False)
    pa.default_memory_pool().release_unused()  # cheap; the full release runs between refresh steps
    return frame


def release_arrow_memory() -> None:
    """Hand memory the allocators keep after frees back to the OS (hundreds of MB after a big read).

    Arrow's pool (mimalloc) and glibc's heap both hold on to freed blocks; a refresh that reads a
    million rows would otherwise keep its peak for its whole life.
    """
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    pa.default_memory_pool().release_unused()
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        try:
            ctypes.CDLL(libc_name).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass


def _types_mapper(t: pa.DataType) -> Any:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype("pyarrow")
    return None


def _read_sqlalchemy(u: URL, query: str, *, source: str, table: str, timeout_s: int) -> pd.DataFrame:
    connect_args: dict[str, Any] = {}
    backend = u.get_backend_name()
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = timeout_s
    elif backend == "sqlite":
        connect_args["timeout"] = timeout_s
    try:
        engine = sa.create_engine(u, connect_args=connect_args, poolclass=sa.pool.NullPool)
    except Exception as exc:  # noqa: BLE001 - missing DBAPI driver, bad dialect
        raise SourceError(
            f"数据源 {source}: cannot use {safe_url(str(u))}: {exc}. Check sources.{source}.url "
            f"(dialect and driver, e.g. postgresql+psycopg://, mysql+pymysql://, sqlite:///)."
        ) from None
    try:
        with engine.connect() as conn:
            try:
                result = conn.exec_driver_sql(query)
            except sa.exc.DBAPIError as exc:
                raise SourceError(_query_error(exc, source=source, table=table, query=query)) from None
            columns = list(result.keys())
            rows = result.fetchall()
    except sa.exc.OperationalError as exc:
        raise SourceError(
            f"无法连接数据源 {source} / cannot connect to {safe_url(str(u))}: {_first_line(exc)}. "
            f"Check that the server is running and reachable, and sources.{source}.url (host, port, "
            f"user, password)."
        ) from None
    except sa.exc.DBAPIError as exc:
        raise SourceError(f"数据源 {source}: {_first_line(exc)}. Check sources.{source}.url.") from None
    finally:
        engine.dispose()
    return pd.DataFrame.from_records(rows, columns=columns, coerce_float=False)


def _query_error(exc: sa.exc.DBAPIError, *, source: str, table: str, query: str) -> str:
    text = _first_line(exc)
    lowered = text.lower()
    if any(s in lowered for s in ("no such table", "does not exist", "doesn't exist", "undefinedtable")):
        return (f"数据源 {source}: 表 {table} 不存在 / table not found ({text}). Create the table, or set "
                f"sources.{source}.queries.{table} to a SELECT that returns the canonical columns.")
    return (f"数据源 {source}: query for {table} failed: {text}. Query: {query[:200]!r}. Fix "
            f"sources.{source}.queries.{table}.")


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0]
