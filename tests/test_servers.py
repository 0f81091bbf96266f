"""Smoke tests of the throwaway database servers: connect, round-trip Chinese text and geometry."""

from __future__ import annotations

import pytest
import shapely
import sqlalchemy as sa

pytestmark = pytest.mark.db

CHINESE = "网格信访态势监测 — 𠀀 emoji 🚩"  # includes a 4-byte character (utf8mb4, not utf8mb3)
POLYGON_WKT = "POLYGON ((116.39 39.9, 116.4 39.9, 116.4 39.91, 116.39 39.91, 116.39 39.9))"


def test_postgis_version_and_text(postgis_url: str) -> None:
    engine = sa.create_engine(postgis_url)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT PostGIS_Version()")).scalar_one().startswith("3.")
        conn.execute(sa.text("CREATE TEMP TABLE t (s text)"))
        conn.execute(sa.text("INSERT INTO t VALUES (:s)"), {"s": CHINESE})
        assert conn.execute(sa.text("SELECT s FROM t")).scalar_one() == CHINESE
    engine.dispose()


def test_postgis_geometry_round_trip(postgis_url: str) -> None:
    """Geometry read back through SQLAlchemy/psycopg and through ADBC parses with shapely.

    Findings (PostGIS 3.3, psycopg 3, adbc-driver-postgresql 1.x):
    - psycopg, a bare geometry column: a *str* of hex EWKB (text protocol), SRID flag set;
      shapely.from_wkb accepts hex strings and keeps the SRID (get_srid == 4326).
    - psycopg, ST_AsBinary(geom): *bytes* of plain ISO WKB, no SRID (get_srid == 0).
    - ADBC fetch_arrow_table(), a bare geometry column: Arrow type
      extension<arrow.opaque[storage_type=binary, type_name=geometry, vendor_name=PostgreSQL]>
      with field metadata ADBC:postgresql:typname=geometry; the values are *bytes* of binary EWKB
      (SRID flag 0x20000000 set). `.as_py()` / `to_pandas()` give bytes; `.storage` is a plain
      BinaryArray. shapely.from_wkb parses EWKB and keeps the SRID.
    """
    import adbc_driver_postgresql.dbapi as adbc

    engine = sa.create_engine(postgis_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE IF NOT EXISTS smoke_grids (id int PRIMARY KEY, name text, "
            "geom geometry(Polygon, 4326))"))
        conn.execute(sa.text("TRUNCATE smoke_grids"))
        conn.execute(sa.text("INSERT INTO smoke_grids "
                             "VALUES (1, :name, ST_GeomFromText(:wkt, 4326))"),
                     {"name": CHINESE, "wkt": POLYGON_WKT})
        hex_ewkb, wkb = conn.execute(sa.text(
            "SELECT geom, ST_AsBinary(geom) FROM smoke_grids")).one()
    engine.dispose()

    expected = shapely.from_wkt(POLYGON_WKT)
    assert isinstance(hex_ewkb, str)
    from_hex = shapely.from_wkb(hex_ewkb)
    assert from_hex.equals(expected) and shapely.get_srid(from_hex) == 4326
    from_wkb = shapely.from_wkb(bytes(wkb))
    assert from_wkb.equals(expected) and shapely.get_srid(from_wkb) == 0

    libpq_uri = postgis_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with adbc.connect(libpq_uri) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, name, geom FROM smoke_grids")
        table = cur.fetch_arrow_table()
    assert table.column("name").to_pylist() == [CHINESE]
    field = table.schema.field("geom")
    assert field.metadata[b"ADBC:postgresql:typname"] == b"geometry"
    ewkb = table.column("geom").to_pylist()[0]
    assert isinstance(ewkb, bytes) and ewkb[1:5] == bytes.fromhex("03000020")  # EWKB, SRID flag
    from_adbc = shapely.from_wkb(ewkb)
    assert from_adbc.equals(expected) and shapely.get_srid(from_adbc) == 4326


def test_mariadb_version_and_utf8mb4(mariadb_url: str) -> None:
    engine = sa.create_engine(mariadb_url)
    with engine.begin() as conn:
        assert "MariaDB" in conn.execute(sa.text("SELECT VERSION()")).scalar_one()
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS smoke_text (s VARCHAR(100)) "
                             "CHARACTER SET utf8mb4"))
        conn.execute(sa.text("DELETE FROM smoke_text"))
        conn.execute(sa.text("INSERT INTO smoke_text VALUES (:s)"), {"s": CHINESE})
        assert conn.execute(sa.text("SELECT s FROM smoke_text")).scalar_one() == CHINESE
        wkb = conn.execute(sa.text("SELECT ST_AsBinary(ST_GeomFromText(:wkt, 4326))"),
                           {"wkt": POLYGON_WKT}).scalar_one()
    engine.dispose()
    assert shapely.from_wkb(bytes(wkb)).equals(shapely.from_wkt(POLYGON_WKT))
