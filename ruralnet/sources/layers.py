"""Read and write layers: GeoPackage, GeoParquet, GeoJSON, CSV/XLSX with lon/lat columns.

Also reads a bureau's school roster (a spreadsheet with Chinese headers and Amap GCJ-02
coordinates) into the sites layer. Input files are never modified; every writer writes to a
temporary file next to the target and moves it into place (an interrupted write leaves the
old file intact).
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..model.coords import normalise_coord_system, to_wgs84, transform_geometry
from ..model.errors import Problem, SchemaError

log = logging.getLogger(__name__)

VECTOR_SUFFIXES = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": None}
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
TABLE_SUFFIXES = (".csv", ".xlsx", ".xls")

#: Header spellings recognised as longitude / latitude in CSV and spreadsheet files.
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬")


def _find_column(columns, names) -> str | None:
    lowered = {str(c).strip().lower(): c for c in columns}
    for n in names:
        if n in lowered:
            return lowered[n]
    return None


def read_table(path: str | Path, sheet: str | int = 0) -> pd.DataFrame:
    """Read a CSV (UTF-8 with or without BOM, GBK fallback) or an XLSX sheet, all as text."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            return pd.read_csv(
                path, encoding="utf-8-sig", dtype=str, keep_default_na=False, na_values=[""]
            )
        except UnicodeDecodeError:
            return pd.read_csv(
                path, encoding="gbk", dtype=str, keep_default_na=False, na_values=[""]
            )
    if suffix in (".xlsx", ".xls"):
        return pd.read_excel(path, sheet_name=sheet, dtype=str)
    raise ValueError(f"{path}: not a CSV or spreadsheet")


def points_from_table(
    table: pd.DataFrame,
    lon: str | None = None,
    lat: str | None = None,
    coord_system: str = "wgs84",
    source: str = "table",
) -> gpd.GeoDataFrame:
    """Turn a table with longitude/latitude columns into WGS84 points.

    Parameters
    ----------
    table
        Any table; ``lon``/``lat`` are found among :data:`LON_NAMES`/:data:`LAT_NAMES` if not given.
    lon, lat
        Column names.
    coord_system
        ``wgs84``, ``cgcs2000``, ``gcj02`` (Amap/Gaode, Tencent) or ``bd09`` (Baidu).
    source
        Name used in error messages.

    Raises
    ------
    SchemaError
        If the columns are missing or values are not numbers (rows named).
    """
    system = normalise_coord_system(coord_system)
    lon = lon or _find_column(table.columns, LON_NAMES)
    lat = lat or _find_column(table.columns, LAT_NAMES)
    if lon is None or lat is None:
        raise SchemaError(
            source,
            [
                Problem(
                    f"no longitude/latitude columns found (looked for {LON_NAMES} / {LAT_NAMES})"
                )
            ],
        )
    problems = []
    xy = {}
    for col in (lon, lat):
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            problems.append(
                Problem("missing or non-numeric coordinate", col, tuple(table.index[bad]))
            )
        xy[col] = values.to_numpy(dtype=float)
    if problems:
        raise SchemaError(source, problems)
    x, y = to_wgs84(xy[lon], xy[lat], system)
    out = gpd.GeoDataFrame(
        table.drop(columns=[lon, lat]), geometry=gpd.points_from_xy(x, y), crs="EPSG:4326"
    )
    out.attrs["coord_system"] = system
    return out


def read_layer(
    path: str | Path,
    layer: str | None = None,
    coord_system: str = "wgs84",
    lon: str | None = None,
    lat: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a point or polygon layer from any supported format.

    Parameters
    ----------
    path
        ``.gpkg``, ``.parquet``/``.geoparquet``, ``.geojson``/``.json``, ``.shp``,
        ``.csv`` or ``.xlsx`` (the last two with longitude/latitude columns).
    layer
        Layer name in a GeoPackage, or sheet name in a spreadsheet.
    coord_system
        The system the coordinates are in; GCJ-02 and BD-09 are converted to WGS84 (a
        vector file's CRS must then be geographic).
    lon, lat
        Coordinate columns of a CSV/XLSX (found automatically if omitted).

    Returns
    -------
    geopandas.GeoDataFrame
        In the file's CRS (vector formats) or EPSG:4326 (tables and shifted layers).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    name = path.name.lower()
    suffix = path.suffix.lower()
    system = normalise_coord_system(coord_system)
    if suffix in TABLE_SUFFIXES:
        table = read_table(path, sheet=layer if layer is not None else 0)
        return points_from_table(table, lon, lat, system, source=path.name)
    if suffix in PARQUET_SUFFIXES:
        gdf = gpd.read_parquet(path)
    elif suffix in VECTOR_SUFFIXES or name.endswith(".geojson"):
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    else:
        raise ValueError(f"{path}: unsupported format (use .gpkg, .parquet, .geojson, .csv, .xlsx)")
    if system in ("gcj02", "bd09"):
        if gdf.crs is not None and not gdf.crs.is_geographic:
            raise ValueError(f"{path}: {system} coordinates must be longitude/latitude")
        gdf = gdf.set_crs("EPSG:4326", allow_override=True)
        gdf["geometry"] = transform_geometry(gdf.geometry.to_numpy(), system)
    gdf.attrs["coord_system"] = system
    return gdf


# --------------------------------------------------------------------------------------
# Bureau rosters with Chinese headers
