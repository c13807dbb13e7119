"""A bureau's school roster (a spreadsheet with Chinese headers and Amap coordinates) as the
sites layer, and rosters joined to OSM schools by name or code."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..model.errors import Problem, SchemaError
from ..model.kinds import SITE_KINDS, THREE_SCHOOL_FLAGS
from ..model.schema import SITE_REQUIRED
from .layers import LAT_NAMES, LON_NAMES, _find_column, points_from_table, read_table

log = logging.getLogger(__name__)

#: Per-grade enrolment headers (optional): pupils of each grade, for class sizes per grade and
#: the enrolment projection.
GRADE_HEADERS: Mapping[str, str] = {
    "小班": "k1",
    "中班": "k2",
    "大班": "k3",
    "一年级": "g1",
    "二年级": "g2",
    "三年级": "g3",
    "四年级": "g4",
    "五年级": "g5",
    "六年级": "g6",
    "初一": "g7",
    "七年级": "g7",
    "初二": "g8",
    "八年级": "g8",
    "初三": "g9",
    "九年级": "g9",
}

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
    "到校时间": "bell_time",
    "上课时间": "bell_time",
    "到校时间段": "bell_window",
    "可选到校时间段": "bell_window",
    "办学状态": "status",
    "学校状态": "status",
    "状态": "status",
    **GRADE_HEADERS,
}

#: Roster status words mapped to the sites layer's ``status``. A word not here is reported and
#: kept, so validation stops naming its rows: a closed school never silently reopens.
ROSTER_STATUS: Mapping[str, str] = {
    "正常": "open",
    "在办": "open",
    "办学": "open",
    "开办": "open",
    "正常办学": "open",
    "停办": "closed",
    "已停办": "closed",
    "停止招生": "closed",
    "撤销": "closed",
    "已撤销": "closed",
    "撤并": "merged",
    "已撤并": "merged",
    "合并": "merged",
    "并入": "merged",
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
    unknown_statuses: dict[str, list] = field(default_factory=dict)
    generated_ids: bool = False

    def __str__(self) -> str:
        parts = []
        if self.unknown_headers:
            parts.append(f"headers not understood (kept as they are): {self.unknown_headers}")
        for value, rows in self.unknown_kinds.items():
            parts.append(f"school type {value!r} not understood (rows {rows})")
        for value, rows in self.unknown_townships.items():
            parts.append(f"township {value!r} has no known code (rows {rows})")
        for value, rows in self.unknown_statuses.items():
            parts.append(f"status {value!r} not understood (rows {rows})")
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
        The sites layer in WGS84 (pass it to :func:`ruralnet.model.schema.validate_sites`) and a
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
    table = _rename_headers(table, header_map, report)
    if "kind" in table.columns:
        table["kind"] = _kinds(table["kind"], kind_map, report)
    if "status" in table.columns:
        table["status"] = _statuses(table["status"], report)
    if "site_id" not in table.columns:
        table["site_id"] = [f"R{i:04d}" for i in table.index]
        report.generated_ids = True
    if "township_code" not in table.columns and "township" in table.columns:
        table["township_code"] = _township_codes(table["township"], townships, report)
        table = table.rename(columns={"township": "township_name"})
    for col in ("pupils", "classes", "capacity", "boarding_beds", *GRADE_HEADERS.values()):
        if col in table.columns:
            table[col] = _whole(table[col].map(_number))
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
        or report.unknown_statuses
        or report.generated_ids
    ):
        log.warning("%s: %s", Path(path).name, report)
    sites.attrs["roster_report"] = report
    return sites, report


def _rename_headers(table: pd.DataFrame, header_map, report: RosterReport) -> pd.DataFrame:
    """Roster headers to site columns; headers not understood are kept and reported."""

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
        "bell_time",
        "bell_window",
        "status",
        *THREE_SCHOOL_FLAGS,
        *GRADE_HEADERS.values(),
    }
    rename = {}
    for col in table.columns:
        key = str(col).strip()
        if key in header_map:
            rename[col] = header_map[key]
        elif key.lower() in known_english or _find_column([key], LON_NAMES + LAT_NAMES):
            rename[col] = key.lower()
        else:
            report.unknown_headers.append(key)
    targets: dict[str, list[str]] = {}
    for col, target in rename.items():
        targets.setdefault(target, []).append(str(col))
    twice = {t: cols for t, cols in targets.items() if len(cols) > 1}
    if twice:  # two headers for one column: which one is meant?
        raise SchemaError(
            "roster",
            [
                Problem(f"headers {', '.join(cols)} all mean {t}: keep one of them", t)
                for t, cols in sorted(twice.items())
            ],
        )
    return table.rename(columns=rename)


def _kinds(raw: pd.Series, kind_map, report: RosterReport) -> pd.Series:
    """School types to site kinds; types not understood are reported with their rows."""
    return _words(raw, kind_map, set(SITE_KINDS), report.unknown_kinds)


def _statuses(raw: pd.Series, report: RosterReport) -> pd.Series:
    """Status words (办学状态: 正常, 停办, 撤并...) to ``open``, ``closed`` or ``merged``; an
    empty cell is open; words not understood are reported and kept (validation names them)."""
    known = set(ROSTER_STATUS.values())
    out = _words(raw, ROSTER_STATUS, known, report.unknown_statuses, empty_ok=True)
    text = raw.astype("string").str.strip()
    return out.where(text.notna() & (text != ""), "open")


def _words(raw: pd.Series, table, known: set, unknown: dict, empty_ok=False) -> pd.Series:
    """Roster words to the layer's values (``table``, else the word in lower case); each word
    that gives no ``known`` value is added to ``unknown`` with its rows, and kept (an empty
    cell too, unless ``empty_ok``)."""
    text = raw.astype("string").str.strip()
    mapped = text.map(lambda v: table.get(v, v.lower() if isinstance(v, str) else v))
    words = {v for v in text.dropna() if v or not empty_ok}
    for value in sorted(v for v in words if mapped[text == v].iloc[0] not in known):
        unknown[value] = list(text.index[text == value])
    return mapped


def looks_like_roster(columns) -> bool:
    """Whether a table's headers are a roster's (a Chinese header :func:`read_roster` knows),
    not the sites layer's own English columns."""
    return any(str(c).strip() in ROSTER_HEADERS and not str(c).strip().isascii() for c in columns)


def _township_codes(names: pd.Series, townships, report: RosterReport) -> list:
    """Township names (or codes) to 9-digit codes; names without a code are reported."""
    codes = []
    for i, value in names.items():
        text = "" if pd.isna(value) else str(value).strip()
        if text.isdigit():
            codes.append(text)
        elif townships and text in townships:
            codes.append(str(townships[text]))
        else:
            report.unknown_townships.setdefault(text, []).append(i)
            codes.append(text or None)
    return codes


def _whole(values: pd.Series) -> pd.Series:
    """Counts as whole numbers (128, not 128.0) when every given value is whole; otherwise
    as read, so validation names the rows that are not."""
    numbers = pd.to_numeric(values, errors="coerce")
    given = values.notna()
    if numbers[given].notna().all() and (numbers[given] % 1 == 0).all():
        return numbers.astype("Int64")
    return values


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
