"""Read and write layers: GeoPackage, GeoParquet, GeoJSON, CSV/XLSX with lon/lat columns.

Also reads a bureau's school roster (a spreadsheet with Chinese headers and Amap GCJ-02
coordinates) into the sites layer. Input files are never modified; every writer writes to a
temporary file next to the target and moves it into place (an interrupted write leaves the
old file intact).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .coords import from_wgs84, normalise_coord_system, to_wgs84, transform_geometry
from .errors import Problem, SchemaError

log = logging.getLogger(__name__)

VECTOR_SUFFIXES = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": None}
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
TABLE_SUFFIXES = (".csv", ".xlsx", ".xls")

#: Header spellings recognised as longitude / latitude in CSV and spreadsheet files.
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes), dir=path.parent
    )
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


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


def write_layer(
    gdf: gpd.GeoDataFrame, path: str | Path, layer: str | None = None, coord_system: str = "wgs84"
) -> Path:
    """Write a layer atomically; the format follows the suffix.

    CSV and XLSX get ``lon``/``lat`` columns of point geometries (in ``coord_system``,
    default WGS84). Parameters as in :func:`read_layer`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    system = normalise_coord_system(coord_system)
    out = gdf.to_crs("EPSG:4326") if gdf.crs is not None and system != "wgs84" else gdf
    with atomic_path(path) as tmp:
        if suffix in TABLE_SUFFIXES:
            table = pd.DataFrame(out.drop(columns=out.geometry.name))
            if not out.geom_type.eq("Point").all():
                raise ValueError("CSV/XLSX output needs point geometries")
            x, y = from_wgs84(out.geometry.x.to_numpy(), out.geometry.y.to_numpy(), system)
            table["lon"], table["lat"] = x, y
            if suffix == ".csv":
                table.to_csv(tmp, index=False, encoding="utf-8-sig" if _has_cjk(table) else "utf-8")
            else:
                table.to_excel(tmp, index=False, sheet_name=layer or "sheet1")
        elif suffix in PARQUET_SUFFIXES:
            out.to_parquet(tmp)
        elif suffix in VECTOR_SUFFIXES:
            if system != "wgs84":
                out = out.copy()
                out["geometry"] = transform_geometry(out.geometry.to_numpy(), system, inverse=True)
            driver = VECTOR_SUFFIXES[suffix] or "ESRI Shapefile"
            out.to_file(tmp, layer=layer or path.stem, driver=driver, engine="pyogrio")
        else:
            raise ValueError(f"{path}: unsupported format")
    return path


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path) -> Path:
    """Write several layers into one GeoPackage atomically (all of them or none)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        for name, gdf in layers.items():
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
    return path


def write_table(table: pd.DataFrame, path: str | Path, **kwargs) -> Path:
    """Write a plain table (CSV or XLSX) atomically; CSV with a BOM if it holds Chinese text."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".xlsx":
            table.to_excel(tmp, index=False, **kwargs)
        else:
            enc = "utf-8-sig" if _has_cjk(table) else "utf-8"
            table.to_csv(tmp, index=False, encoding=enc, **kwargs)
    return path


def _has_cjk(table: pd.DataFrame) -> bool:
    text = " ".join(map(str, table.columns)) + " ".join(
        str(v)
        for col in table.select_dtypes(include=["object", "string"]).columns
        for v in table[col].head(200)
    )
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# --------------------------------------------------------------------------------------
# Bureau rosters with Chinese headers

#: Roster headers (Chinese and English spellings) mapped to site columns. Extend by passing
#: ``headers={...}`` to :func:`read_roster`.
ROSTER_HEADERS: Mapping[str, str] = {
    "学校名称": "name",
    "学校名": "name",
    "校名": "name",
    "名称": "name",
    "学校代码": "site_id",
    "学校标识码": "site_id",
    "学校编号": "site_id",
    "编号": "site_id",
    "学校类型": "kind",
    "办学类型": "kind",
    "类型": "kind",
    "在校生数": "pupils",
    "在校学生数": "pupils",
    "学生数": "pupils",
    "在园幼儿数": "pupils",
    "班级数": "classes",
    "班数": "classes",
    "学位数": "capacity",
    "学位": "capacity",
    "核定学位": "capacity",
    "寄宿床位": "boarding_beds",
    "寄宿床位数": "boarding_beds",
    "床位数": "boarding_beds",
    "所属乡镇": "township",
    "乡镇": "township",
    "所在乡镇": "township",
    "乡镇代码": "township_code",
    "县代码": "county_code",
    "区县代码": "county_code",
    "开设年级": "grades",
    "年级": "grades",
    "年级范围": "grades",
    "经度": "lon",
    "纬度": "lat",
    "是否中心幼儿园": "is_central_kindergarten",
    "是否中心小学": "is_central_primary",
    "是否公办寄宿制学校": "is_public_boarding",
    "公办寄宿制学校": "is_public_boarding",
    "备注": "note",
}

#: Roster school-type values mapped to site kinds. Extend with ``kinds={...}``.
ROSTER_KINDS: Mapping[str, str] = {
    "中心小学": "central_primary",
    "乡镇中心小学": "central_primary",
    "村小": "village_primary",
    "村完小": "village_primary",
    "完全小学": "village_primary",
    "完小": "village_primary",
    "小学": "village_primary",
    "村级小学": "village_primary",
    "教学点": "teaching_point",
    "村教学点": "teaching_point",
    "初级中学": "junior_middle",
    "初中": "junior_middle",
    "中学": "junior_middle",
    "九年一贯制": "nine_year",
    "九年一贯制学校": "nine_year",
    "九年制": "nine_year",
    "中心幼儿园": "central_kindergarten",
    "乡镇中心幼儿园": "central_kindergarten",
    "幼儿园": "kindergarten",
    "村幼儿园": "kindergarten",
    "寄宿制学校": "boarding_school",
    "公办寄宿制学校": "boarding_school",
    "特殊教育学校": "special_education",
    "特教学校": "special_education",
}


@dataclass
class RosterReport:
    """What :func:`read_roster` did not understand, for the planner to check."""

    unknown_headers: list[str] = field(default_factory=list)
    unknown_kinds: dict[str, list] = field(default_factory=dict)
    unknown_townships: dict[str, list] = field(default_factory=dict)
    generated_ids: bool = False

    def __str__(self) -> str:
        parts = []
        if self.unknown_headers:
            parts.append(f"headers not understood (kept as they are): {self.unknown_headers}")
        for value, rows in self.unknown_kinds.items():
            parts.append(f"school type {value!r} not understood (rows {rows})")
        for value, rows in self.unknown_townships.items():
            parts.append(f"township {value!r} has no known code (rows {rows})")
        if self.generated_ids:
            parts.append("no school code column: ids generated from row numbers (R0001...)")
        return "; ".join(parts) or "everything understood"


def read_roster(
    path: str | Path,
    coord_system: str = "gcj02",
    headers: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
    townships: Mapping[str, str] | None = None,
    sheet: str | int = 0,
) -> tuple[gpd.GeoDataFrame, RosterReport]:
    """Read a bureau's school roster into the sites layer (not yet validated).

    Parameters
    ----------
    path
        CSV or XLSX with headers such as 学校名称, 学校类型, 在校生数, 班级数, 学位数, 寄宿床位,
        所属乡镇, 经度, 纬度 (see :data:`ROSTER_HEADERS`). English column names of the sites
        layer are accepted too.
    coord_system
        System of 经度/纬度: Amap exports are ``gcj02`` (the default), Baidu ``bd09``.
    headers, kinds
        Extra header or school-type mappings, merged over the built-in ones.
    townships
        Township name -> 9-digit code; needed when 所属乡镇 holds names rather than codes.
    sheet
        Spreadsheet sheet.

    Returns
    -------
    sites, report
        The sites layer in WGS84 (pass it to :func:`ruralnet.schema.validate_sites`) and a
        :class:`RosterReport` of what was not understood (also logged as warnings).

    Raises
    ------
    SchemaError
        If coordinates are missing or not numeric (rows named).
    """
    header_map = {**ROSTER_HEADERS, **(headers or {})}
    kind_map = {**ROSTER_KINDS, **(kinds or {})}
    table = read_table(path, sheet=sheet)
    table.index = pd.RangeIndex(2, len(table) + 2, name="row")  # spreadsheet row numbers
    report = RosterReport()
    rename = {}
    from .schema import SITE_REQUIRED, THREE_SCHOOL_FLAGS

    known_english = set(SITE_REQUIRED) | {
        "capacity",
        "classes",
        "boarding_beds",
        "grades",
        "county_code",
        "township",
        "lon",
        "lat",
        "note",
        *THREE_SCHOOL_FLAGS,
    }
    for col in table.columns:
        key = str(col).strip()
        if key in header_map:
            rename[col] = header_map[key]
        elif key.lower() in known_english or _find_column([key], LON_NAMES + LAT_NAMES):
            rename[col] = key.lower()
        else:
            report.unknown_headers.append(key)
    table = table.rename(columns=rename)
    if "kind" in table.columns:
        raw = table["kind"].astype("string").str.strip()
        mapped = raw.map(lambda v: kind_map.get(v, v.lower() if isinstance(v, str) else v))
        from .schema import SITE_KINDS

        for value in sorted(
            {v for v in raw.dropna() if mapped[raw == v].iloc[0] not in SITE_KINDS}
        ):
            report.unknown_kinds[value] = list(table.index[raw == value])
        table["kind"] = mapped
    if "site_id" not in table.columns:
        table["site_id"] = [f"R{i:04d}" for i in table.index]
        report.generated_ids = True
    if "township_code" not in table.columns and "township" in table.columns:
        codes = []
        for i, value in table["township"].items():
            text = "" if pd.isna(value) else str(value).strip()
            if text.isdigit():
                codes.append(text)
            elif townships and text in townships:
                codes.append(str(townships[text]))
            else:
                report.unknown_townships.setdefault(text, []).append(i)
                codes.append(text or None)
        table["township_code"] = codes
        table = table.rename(columns={"township": "township_name"})
    for col in ("pupils", "classes", "capacity", "boarding_beds"):
        if col in table.columns:
            table[col] = table[col].map(_number)
    sites = points_from_table(
        table,
        "lon" if "lon" in table.columns else None,
        "lat" if "lat" in table.columns else None,
        coord_system,
        source=Path(path).name,
    )
    if (
        report.unknown_headers
        or report.unknown_kinds
        or report.unknown_townships
        or report.generated_ids
    ):
        log.warning("%s: %s", Path(path).name, report)
    sites.attrs["roster_report"] = report
    return sites, report


def _number(value):
    """Numbers as spreadsheets hold them ("1,234", " 12 "); text that is not a number stays text."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return np.nan
    text = str(value).strip().replace(",", "").replace("，", "")
    if text == "":
        return np.nan
    try:
        return float(text)
    except ValueError:
        return value


def join_roster(
    sites: gpd.GeoDataFrame,
    roster: pd.DataFrame,
    on: str = "name",
    columns: tuple[str, ...] = ("pupils", "capacity", "classes", "boarding_beds", "grades", "kind"),
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Fill site attributes (pupils...) from a roster joined by name or code.

    Names are compared after removing spaces and case. Sites without a roster match keep their
    values; the second result lists the unmatched rows of both sides (``side``, ``key``), so
    nothing goes missing unnoticed.
    """

    def norm(s: pd.Series) -> pd.Series:
        return s.astype("string").str.replace(r"\s+", "", regex=True).str.lower()

    left = sites.copy()
    right = pd.DataFrame(roster).copy()
    right["_key"] = norm(right[on])
    if right["_key"].duplicated().any():
        dups = sorted(set(right.loc[right["_key"].duplicated(), on]))
        raise SchemaError("roster", [Problem(f"duplicate {on} values: {dups}", on)])
    left["_key"] = norm(left[on])
    merged = left.merge(
        right[["_key", *[c for c in columns if c in right.columns]]],
        on="_key",
        how="left",
        suffixes=("", "_roster"),
        indicator=True,
    )
    for col in columns:
        if f"{col}_roster" in merged.columns:
            merged[col] = merged[f"{col}_roster"].combine_first(merged[col])
            merged = merged.drop(columns=f"{col}_roster")
        elif col in right.columns and col not in left.columns:
            pass
    unmatched_sites = merged.loc[merged["_merge"] == "left_only", on]
    unmatched_roster = right.loc[~right["_key"].isin(left["_key"]), on]
    unmatched = pd.concat(
        [
            pd.DataFrame({"side": "sites", "key": unmatched_sites}),
            pd.DataFrame({"side": "roster", "key": unmatched_roster}),
        ],
        ignore_index=True,
    )
    merged = merged.drop(columns=["_key", "_merge"])
    merged.index = sites.index
    return gpd.GeoDataFrame(merged, geometry=sites.geometry.name, crs=sites.crs), unmatched
