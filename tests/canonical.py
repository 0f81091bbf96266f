"""A tiny canonical jurisdiction built in code, and writers that put it into each kind of source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import shapely
import sqlalchemy as sa

from loaders.schema import TABLES

X0, Y0, STEP = 111.70, 40.80, 0.01  # a 3x2 block of 0.01° grids in Hohhot


def _square(i: int, j: int) -> shapely.Polygon:
    return shapely.box(X0 + i * STEP, Y0 + j * STEP, X0 + (i + 1) * STEP, Y0 + (j + 1) * STEP)


def canonical_tables() -> dict[str, pd.DataFrame]:
    """Every canonical table with a few clean rows (geometry as shapely objects, times as text)."""
    townships = pd.DataFrame({
        "township_id": ["150102001", "150102002"],
        "name": ["迎新路街道", "保合少镇"],
        "county_id": ["150102", "150102"],
        "geometry": [None, None],
    })
    communities = pd.DataFrame({
        "community_id": ["150102001001", "150102001002", "150102002001"],
        "township_id": ["150102001", "150102001", "150102002"],
        "name": ["光明社区", "团结社区", "朝阳村"],
        "geometry": [None, None, None],
    })
    cells = [(i, j) for j in range(2) for i in range(3)]
    comm_of = ["150102001001", "150102001001", "150102001002", "150102002001", "150102002001",
               "150102002001"]
    grids = pd.DataFrame({
        "grid_id": [f"{comm_of[k]}{k + 1:03d}" for k in range(6)],
        "community_id": comm_of,
        "name": [f"第{k + 1}网格" for k in range(6)],
        "geometry": [_square(i, j) for i, j in cells],
        "households": [320, 410, 380, 450, 300, 500],
        "population": [830, 1066, 988, 1170, 780, 1300],
    })
    workers = pd.DataFrame({
        "worker_id": ["W1", "W2"], "name": ["王芳", "李强"],
        "phone": ["13800001111", "13900002222"], "login": ["gw0001", "gw0002"],
    })
    worker_grids = pd.DataFrame({
        "worker_id": ["W1", "W1", "W2"],
        "grid_id": [grids.grid_id[0], grids.grid_id[1], grids.grid_id[3]],
    })
    inspections = pd.DataFrame({
        "grid_id": [grids.grid_id[0], grids.grid_id[3]],
        "inspected_at": ["2026-11-01 09:00:00", "2026-11-10 15:30:00"],
        "worker_id": ["W1", "W2"], "issues_found": [1, 0],
    })
    cases = pd.DataFrame({
        "case_id": ["C001", "C002", "C003", "C004"],
        "received_at": ["2026-10-01 08:30:00", "2026-10-05 10:00:00", "2026-11-02 14:00:00",
                        "2026-11-15 09:15:00"],
        "category": ["城乡建设", "劳动和社会保障", "国土资源", "环境保护"],
        "status": ["closed", "handling", "accepted", "registered"],
        "channel": ["online", "visit", "letter", "grid"],
        "kind": ["petition", "petition", "petition", "dispute"],
        "purpose": ["request", "appeal", "accusation", "other"],
        "subcategory": ["物业管理", "拖欠工资", "征地拆迁", "噪声"],
        "summary": ["小区物业问题", "工资拖欠", "反映征地问题", "夜间施工噪声"],
        "lon": [111.705, 111.715, 111.725, None],
        "lat": [40.805, 40.805, 40.815, None],
        "coord_sys": ["wgs84", "wgs84", "wgs84", None],
        "address": ["光明社区1号", "光明社区2号", "团结社区3号", "朝阳村"],
        "grid_id": [None, None, None, grids.grid_id[4]],
        "township_id": [None, None, None, "150102002"],
        "people_count": [1, 6, 1, 1],
        "level_visited": ["county", "city", "county", "county"],
        "petitioner_key": ["P001", "P002", "P003", "P001"],
        "petitioner_name": ["张三", "李四", "王五", "张三"],
        "petitioner_phone": ["13812341234", "13987654321", "13700000000", "13812341234"],
        "petitioner_id_no": ["150102199001011234", "15010219850202123X", "150102197003031111",
                             "150102199001011234"],
        "is_accusation": [False, False, True, False],
        "accepted_at": ["2026-10-03 09:00:00", "2026-10-08 09:00:00", "2026-11-05 09:00:00", None],
        "due_at": ["2026-12-02 00:00:00", "2026-12-07 00:00:00", "2027-01-04 00:00:00", None],
        "extended_due_at": [None, None, None, None],
        "replied_at": ["2026-10-20 16:00:00", None, None, None],
        "closed_at": ["2026-10-25 16:00:00", None, None, None],
        "outcome": ["support", None, None, None],
        "satisfaction": ["satisfied", None, None, None],
        "evaluated_at": ["2026-10-27 10:00:00", None, None, None],
        "review_stage": ["none", "none", "none", "none"],
        "review_requested_at": [None, None, None, None],
        "updated_at": ["2026-10-27 10:00:00", "2026-11-01 10:00:00", "2026-11-05 09:00:00",
                       "2026-11-15 09:15:00"],
    })
    leaders = pd.DataFrame({
        "leader_id": ["L1", "L2"], "name": ["赵书记", "钱区长"], "post": ["区委书记", "副区长"],
        "level": ["county", "county"],
    })
    leader_areas = pd.DataFrame({"leader_id": ["L1", "L2"], "township_id": ["150102001", "150102002"]})
    leader_cases = pd.DataFrame({
        "case_id": ["C002"], "leader_id": ["L1"], "assigned_at": ["2026-10-10 09:00:00"],
        "stage": ["mediating"], "plan": ["约谈企业"], "due_at": ["2026-11-30 00:00:00"],
        "last_progress_at": ["2026-11-10 09:00:00"], "resolved_at": [None], "followed_up_at": [None],
    })
    supervisions = pd.DataFrame({
        "supervision_id": ["S1"], "case_id": ["C002"], "tier": ["督办"],
        "issued_at": ["2026-10-12 09:00:00"], "due_at": ["2026-10-22 00:00:00"], "issuer": ["区联席办"],
        "status": ["answered"], "answered_at": ["2026-10-20 09:00:00"], "closed_at": [None],
        "reminders": [1],
    })
    return {
        "townships": townships, "communities": communities, "grids": grids, "grid_workers": workers,
        "worker_grids": worker_grids, "inspections": inspections, "cases": cases, "leaders": leaders,
        "leader_areas": leader_areas, "leader_cases": leader_cases, "supervisions": supervisions,
    }


def _plain(frame: pd.DataFrame, geometry: str) -> pd.DataFrame:
    """Geometry as WKB bytes or WKT text for databases without a spatial type."""
    out = frame.copy()
    if "geometry" in out:
        geoms = out["geometry"].to_numpy(dtype=object)
        out["geometry"] = (list(shapely.to_wkb(geoms)) if geometry == "wkb"
                           else list(shapely.to_wkt(geoms, rounding_precision=-1)))
        out.loc[pd.isna(geoms), "geometry"] = None
    return out


def write_sqlalchemy(url: str, tables: dict[str, pd.DataFrame], *, geometry: str = "wkb") -> None:
    """Write tables with pandas.to_sql; geometry as WKB blobs or WKT text."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name, frame in tables.items():
            _plain(frame, geometry).to_sql(name, conn, if_exists="replace", index=False)
    engine.dispose()


def write_postgis(url: str, tables: dict[str, pd.DataFrame]) -> None:
    """Write tables to PostGIS with real geometry(…, 4326) columns and timestamp columns."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name, frame in tables.items():
            plain = _plain(frame, "wkt")
            plain.to_sql(name, conn, if_exists="replace", index=False)
            for col in TABLES[name].columns:
                if col.name not in plain.columns:
                    continue
                if col.dtype == "geometry":
                    conn.exec_driver_sql(
                        f'ALTER TABLE {name} ALTER COLUMN geometry TYPE geometry(Geometry, 4326) '
                        f'USING ST_GeomFromText(geometry, 4326)')
                elif col.dtype == "datetime":
                    conn.exec_driver_sql(
                        f'ALTER TABLE {name} ALTER COLUMN {col.name} TYPE timestamp '
                        f'USING {col.name}::timestamp')
    engine.dispose()


def write_mariadb(url: str, tables: dict[str, pd.DataFrame]) -> None:
    """Write tables to MariaDB with GEOMETRY columns (read back with ST_AsWKB in the query)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name, frame in tables.items():
            plain = _plain(frame, "wkt")
            plain.to_sql(name, conn, if_exists="replace", index=False)
            if "geometry" in plain.columns:
                conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN geom GEOMETRY NULL")
                conn.exec_driver_sql(f"UPDATE {name} SET geom = ST_GeomFromText(geometry)")
                conn.exec_driver_sql(f"ALTER TABLE {name} DROP COLUMN geometry")
    engine.dispose()


def mariadb_queries(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """SELECTs mapping MariaDB GEOMETRY columns back to canonical WKB `geometry`."""
    out = {}
    for name, frame in tables.items():
        if "geometry" in frame.columns:
            cols = ", ".join(c for c in frame.columns if c != "geometry")
            out[name] = f"SELECT {cols}, ST_AsWKB(geom) AS geometry FROM {name}"
    return out


def write_files(folder: Path, tables: dict[str, pd.DataFrame], *,
                headers: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """GeoPackage for geometry tables, XLSX for the rest (optionally with renamed headers).

    Returns {table: file path} for `sources.<x>.files`.
    """
    import geopandas as gpd

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for name, frame in tables.items():
        if "geometry" in frame.columns and frame["geometry"].notna().any():
            path = folder / f"{name}.gpkg"
            gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326").to_file(path, layer=name)
        else:
            path = folder / f"{name}.xlsx"
            out = frame.drop(columns=[c for c in ("geometry",) if c in frame.columns])
            if headers and name in headers:
                out = out.rename(columns={v: k for k, v in headers[name].items()})
            out.to_excel(path, index=False)
        files[name] = str(path)
    return files


def fixture_site(folder: Path, *, name: str = "测试区") -> Path:
    """The canonical fixture as two SQLite sources plus a demo-mode config; returns the config path."""
    tables = canonical_tables()
    for source in ("grid", "case"):
        write_sqlalchemy(f"sqlite:///{folder}/{source}.sqlite",
                         {k: v for k, v in tables.items() if TABLES[k].source == source})
    cfg = folder / "gridwatch.toml"
    cfg.write_text(f'jurisdiction_name = "{name}"\n[demo]\nenabled = true\n'
                   '[sources.grid]\nurl = "sqlite:///grid.sqlite"\n'
                   '[sources.case]\nurl = "sqlite:///case.sqlite"\n', encoding="utf-8")
    return cfg
