"""Read canonical tables from files: GeoPackage/Shapefile/GeoJSON (pyogrio), CSV and XLSX."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loaders.errors import SourceError

GEO_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb"}
TABLE_SUFFIXES = {".csv", ".xlsx", ".xls", ".xlsm"}


def read_file(path: Path, *, source: str, table: str, sheet: str | None = None,
              layer: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """Read one table from a file. Returns the raw frame and the file's CRS as 'EPSG:n' (or None).

    Geometry arrives as WKB bytes in a `geometry` column; the validator parses it.
    """
    if not path.exists():
        raise SourceError(
            f"数据源 {source}: 文件不存在 / file not found: {path}. Fix sources.{source}.files.{table} "
            f"(relative paths are relative to the config file)."
        )
    suffix = path.suffix.lower()
    try:
        if suffix in GEO_SUFFIXES:
            return _read_geo(path, layer=layer or _default_layer(path, table))
        if suffix == ".csv":
            return _read_csv(path), None
        if suffix in TABLE_SUFFIXES:
            return pd.read_excel(path, sheet_name=sheet or 0, dtype=object, engine="calamine"), None
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - GDAL, zip and parser errors all become one message
        raise SourceError(
            f"数据源 {source}: cannot read {path} for table {table}: {exc}. Check that the file is a valid "
            f"{suffix} file (sources.{source}.files.{table})."
        ) from None
    raise SourceError(
        f"数据源 {source}: unsupported file type {suffix!r} for {table} ({path}). Use .gpkg, .shp or "
        f".geojson for geometry tables and .csv or .xlsx for the rest."
    )


def _default_layer(path: Path, table: str) -> str | None:
    if path.suffix.lower() != ".gpkg":
        return None
    import pyogrio

    layers = [name for name, _ in pyogrio.list_layers(path)]
    return table if table in layers else None


def _read_geo(path: Path, *, layer: str | None) -> tuple[pd.DataFrame, str | None]:
    import pyogrio
    import shapely

    gdf = pyogrio.read_dataframe(path, layer=layer, use_arrow=False)
    crs = None
    if gdf.crs is not None:
        epsg = gdf.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg else None
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    frame["geometry"] = shapely.to_wkb(gdf.geometry.values)
    return frame, crs


def _read_csv(path: Path) -> pd.DataFrame:
    # Exports from older Chinese systems are often GB18030; try UTF-8 (with BOM) first.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding=encoding)
        except UnicodeDecodeError:
            continue
    raise SourceError(f"{path}: cannot decode as UTF-8 or GB18030; save the CSV as UTF-8.")
