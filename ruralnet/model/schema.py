"""The sites and villages layers: columns, kinds, grades, and validation.

Validation collects every problem and raises one :class:`~ruralnet.model.errors.SchemaError`
naming rows (by id where there is one, else by index) and columns. Suspicious but legal
values become :class:`~ruralnet.model.errors.RuralnetWarning` warnings and are listed in
``gdf.attrs["warnings"]``.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .coords import local_metric_crs
from .errors import Problem, RuralnetWarning, SchemaError
from .grades import GRADE_COLUMNS, parse_grades
from .kinds import DEFAULT_GRADES, DISTRICT_HEAD_KINDS, SITE_KINDS
from .settings import DEFAULT_AGE_SHARES, clock_seconds, clock_text, clock_window

log = logging.getLogger(__name__)


#: ``status`` of a site: open, or closed / merged earlier (kept to check for restoration).
SITE_STATUS: tuple[str, ...] = ("open", "closed", "merged")

SITE_REQUIRED: tuple[str, ...] = ("site_id", "name", "kind", "township_code", "pupils")
SITE_OPTIONAL_NUMERIC: tuple[str, ...] = ("capacity", "classes", "boarding_beds")
VILLAGE_REQUIRED: tuple[str, ...] = ("village_id", "name", "township_code", "population")
CHILD_COLUMNS: dict[str, str] = {
    "kindergarten": "children_kindergarten",
    "primary": "children_primary",
    "junior": "children_junior",
}


def _labels(frame: pd.DataFrame, mask, id_col: str | None) -> tuple:
    mask = np.asarray(mask, dtype=bool)
    if id_col and id_col in frame.columns:
        ids = frame[id_col].to_numpy()[mask]
        idx = frame.index.to_numpy()[mask]
        return tuple(
            i if pd.notna(i) and str(i) != "" else f"index {j}"
            for i, j in zip(ids, idx, strict=True)
        )
    return tuple(frame.index[mask])


def _check_ids(frame: pd.DataFrame, column: str, problems: list) -> None:
    """Ids as text; missing and duplicate ids are problems (duplicates named by id)."""
    frame[column] = _normalise_code(frame[column])
    nulls = frame[column].isna()
    if nulls.any():
        problems.append(Problem("missing id", column, tuple(frame.index[nulls])))
    dup = frame[column].notna() & frame[column].duplicated(keep=False)
    if dup.any():
        problems.append(Problem("duplicate id", column, tuple(sorted(set(frame.loc[dup, column])))))


def _check_allowed(
    frame, column: str, allowed, problems: list, id_col, default: str | None = None
) -> pd.Series:
    """Values normalised (trimmed, lower case); values outside ``allowed`` are problems."""
    values = frame[column].astype("string").str.strip().str.lower()
    if default is not None:
        values = values.fillna(default)
    unknown = ~values.isin(allowed)
    if unknown.any():
        seen = sorted({str(v) for v in frame.loc[unknown, column]})
        problems.append(
            Problem(
                f"unknown {column} {seen}; allowed: {', '.join(allowed)}",
                column,
                _labels(frame, unknown, id_col),
            )
        )
    return values


#: The largest count a site or village may give, per column: beyond these no real school or
#: village committee lies, and the solvers' work would grow without end (issue #25: 10 million
#: pupils at one site ran for hours). The largest Chinese primary and junior schools teach about
#: 10,000 pupils; a 街道 community may have some 100,000 people.
LARGEST_COUNT: dict[str, float] = {
    "pupils": 30_000,
    "capacity": 30_000,
    "boarding_beds": 30_000,
    "classes": 1_000,
    "population": 2_000_000,
    "children_kindergarten": 300_000,
    "children_primary": 300_000,
    "children_junior": 300_000,
}


def _check_count(frame, column, problems, id_col, *, required: bool, integer: bool = True):
    """Numbers that count people or places: numeric, finite, non-negative, whole, and at most
    :data:`LARGEST_COUNT` of the column."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    non_numeric = raw.notna() & values.isna()
    if non_numeric.any():
        problems.append(Problem("not a number", column, _labels(frame, non_numeric, id_col)))
    missing = raw.isna()
    if required and missing.any():
        problems.append(Problem("missing value", column, _labels(frame, missing, id_col)))
    bad = values.notna() & ~np.isfinite(values)
    if bad.any():
        problems.append(Problem("infinite value", column, _labels(frame, bad, id_col)))
    negative = values < 0
    if negative.any():
        problems.append(Problem("negative value", column, _labels(frame, negative, id_col)))
    most = LARGEST_COUNT.get(column, math.inf)
    huge = values.notna() & np.isfinite(values) & (values > most)
    if huge.any():
        problems.append(
            Problem(
                f"more than {most:,.0f} (no real site or village is that large; check the number)",
                column,
                _labels(frame, huge, id_col),
            )
        )
    if integer:
        fractional = values.notna() & np.isfinite(values) & (values % 1 != 0)
        if fractional.any():
            problems.append(
                Problem("must be a whole number", column, _labels(frame, fractional, id_col))
            )
    return values


def _normalise_code(series: pd.Series) -> pd.Series:
    """Codes read from spreadsheets come as floats (441826001.0): keep them as text."""

    def one(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return pd.NA
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        s = str(v).strip()
        return s if s else pd.NA

    return series.map(one).astype("string")


def _check_geometry(gdf, problems, id_col, study_area, buffer_km, warn_list, layer):
    if gdf.crs is None:
        problems.append(
            Problem(
                "layer has no CRS: set it (gdf.set_crs('EPSG:4326') for longitude/latitude)",
                "geometry",
            )
        )
        return gdf
    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    if empty.any():
        problems.append(
            Problem("missing or empty geometry", "geometry", _labels(gdf, empty, id_col))
        )
    ok = ~empty
    types = geom.geom_type
    polygonal = ok & types.isin(["Polygon", "MultiPolygon"])
    if polygonal.any():
        msg = f"{int(polygonal.sum())} {layer} given as polygons: using a point inside each"
        warn_list.append(msg)
        gdf = gdf.copy()
        gdf.loc[polygonal, "geometry"] = geom[polygonal].representative_point()
        geom = gdf.geometry
        types = geom.geom_type
    not_point = ok & (types != "Point")
    if not_point.any():
        problems.append(
            Problem("geometry must be a point", "geometry", _labels(gdf, not_point, id_col))
        )
    invalid = ok & ~not_point & ~geom.is_valid
    if invalid.any():
        problems.append(Problem("invalid geometry", "geometry", _labels(gdf, invalid, id_col)))
    points = ok & (types == "Point")
    if not gdf.crs.equals("EPSG:4326"):
        try:
            gdf = gdf.to_crs("EPSG:4326")
            geom = gdf.geometry
        except Exception as exc:
            problems.append(Problem(f"cannot reproject to EPSG:4326: {exc}", "geometry"))
            return gdf
    xy = np.full((len(gdf), 2), np.nan)
    if points.any():
        xy[points.to_numpy()] = shapely.get_coordinates(geom[points].to_numpy())
    lon, lat = xy[:, 0], xy[:, 1]
    out_of_range = points.to_numpy() & ~(
        np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    )
    if out_of_range.any():
        problems.append(
            Problem(
                "coordinates outside longitude -180..180 / latitude -90..90 "
                "(swapped columns or projected values in a lon/lat layer?)",
                "geometry",
                _labels(gdf, out_of_range, id_col),
            )
        )
    if study_area is not None:
        area = gpd.GeoSeries([study_area], crs="EPSG:4326")
        inside_range = points.to_numpy() & ~out_of_range
        if inside_range.any():
            crs = local_metric_crs(lon[inside_range], lat[inside_range])
            area_m = area.to_crs(crs).iloc[0]
            pts = gpd.GeoSeries(geom[inside_range].to_numpy(), crs="EPSG:4326").to_crs(crs)
            dist_km = np.asarray(pts.distance(area_m)) / 1000.0
            far = np.zeros(len(gdf), dtype=bool)
            far[np.flatnonzero(inside_range)[dist_km > buffer_km]] = True
            if far.any():
                problems.append(
                    Problem(
                        f"more than {buffer_km:g} km outside the study area "
                        "(wrong coordinates, or GCJ-02/BD-09 read as WGS84 far away?)",
                        "geometry",
                        _labels(gdf, far, id_col),
                    )
                )
    return gdf


def _emit(warn_list: list[str], layer: str) -> None:
    for w in warn_list:
        log.warning("%s: %s", layer, w)
        warnings.warn(f"{layer}: {w}", RuralnetWarning, stacklevel=3)


def validate_sites(
    sites: gpd.GeoDataFrame,
    study_area=None,
    *,
    buffer_km: float = 10.0,
    county_code: str | None = None,
    quiet: bool = False,
) -> gpd.GeoDataFrame:
    """Check a sites layer and return a clean copy in EPSG:4326 (``quiet``: the warnings
    only in ``attrs["warnings"]``, for a layer derived from one already checked, e.g. a
    projected year's).

    Missing optional columns are filled: ``capacity``, ``classes`` and ``boarding_beds`` as
    unknown (NaN), ``grades`` from :data:`DEFAULT_GRADES`, the three-school flags from the kind
    (``central_kindergarten``, ``central_primary``, ``boarding_school``), ``county_code`` from
    the argument.

    Parameters
    ----------
    sites
        One row per school site (see the README for the columns).
    study_area
        A shapely (Multi)Polygon in WGS84; sites farther than ``buffer_km`` outside are errors.
    buffer_km
        Tolerance around the study area.
    county_code
        Fills an absent or empty ``county_code`` column.

    Returns
    -------
    geopandas.GeoDataFrame
        The validated layer; ``attrs["warnings"]`` lists the warnings raised.

    Raises
    ------
    SchemaError
        Listing every problem found, with rows and columns.
    """
    layer = "sites"
    problems: list[Problem] = []
    warn_list: list[str] = []
    if not isinstance(sites, gpd.GeoDataFrame):
        raise SchemaError(layer, [Problem(f"expected a GeoDataFrame, got {type(sites).__name__}")])
    if len(sites) == 0:
        raise SchemaError(layer, [Problem("the layer has no sites")])
    gdf = sites.copy()
    missing = [c for c in SITE_REQUIRED if c not in gdf.columns]
    if missing:
        problems.append(Problem(f"missing required column(s) {missing}"))
    id_col = "site_id" if "site_id" in gdf.columns else None
    _site_names_and_codes(gdf, problems, id_col, county_code)
    _site_counts(gdf, problems, id_col)
    _site_grades(gdf, problems, id_col)
    _site_grade_pupils(gdf, problems, id_col)
    _site_flags_and_status(gdf, problems, id_col)
    _site_bell_times(gdf, problems, id_col)
    _site_bell_windows(gdf, problems, id_col)
    gdf = _check_geometry(gdf, problems, id_col, study_area, buffer_km, warn_list, layer)
    if problems:
        raise SchemaError(layer, problems)
    _site_plausibility(gdf, problems, warn_list, id_col)
    if problems:
        raise SchemaError(layer, problems)
    if not quiet:
        _emit(warn_list, layer)
    gdf.attrs["warnings"] = warn_list
    return gdf


def _site_names_and_codes(gdf, problems, id_col, county_code) -> None:
    """Ids, names, kinds, township and county codes (normalised in place)."""
    if id_col:
        _check_ids(gdf, id_col, problems)
    if "name" in gdf.columns:
        gdf["name"] = gdf["name"].astype("string").str.strip()
        blank = gdf["name"].isna() | (gdf["name"] == "")
        if blank.any():
            problems.append(Problem("missing name", "name", _labels(gdf, blank, id_col)))
    if "kind" in gdf.columns:
        gdf["kind"] = _check_allowed(gdf, "kind", SITE_KINDS, problems, id_col)
    for col in ("township_code", "county_code"):
        if col in gdf.columns:
            gdf[col] = _normalise_code(gdf[col])
    if "county_code" not in gdf.columns or gdf["county_code"].isna().all():
        gdf["county_code"] = pd.Series(county_code, index=gdf.index, dtype="string")
    if "township_code" in gdf.columns:
        blank = gdf["township_code"].isna()
        if blank.any():
            problems.append(
                Problem("missing township code", "township_code", _labels(gdf, blank, id_col))
            )


def _site_bell_times(gdf, problems, id_col) -> None:
    """The optional ``bell_time`` (HH:MM; empty: the kind's setting), normalised to text."""
    if "bell_time" not in gdf.columns:
        return
    given = gdf["bell_time"].notna() & (gdf["bell_time"].astype(str).str.strip() != "")
    seconds = gdf["bell_time"].map(lambda v: clock_seconds(v.strip() if isinstance(v, str) else v))
    bad = given & seconds.isna()
    if bad.any():
        problems.append(Problem("bell time is not HH:MM", "bell_time", _labels(gdf, bad, id_col)))
    gdf["bell_time"] = pd.Series(
        [clock_text(v) if pd.notna(v) else pd.NA for v in seconds],
        index=gdf.index,
        dtype="string",
    )


def _site_bell_windows(gdf, problems, id_col) -> None:
    """The optional ``bell_window`` (``HH:MM-HH:MM``: the county fleet chooses the bell inside
    it; empty: the kind's setting), normalised to text."""
    if "bell_window" not in gdf.columns:
        return
    text = gdf["bell_window"].map(lambda v: v.replace(" ", "") if isinstance(v, str) else v)
    given = text.notna() & (text.astype(str).str.strip() != "")
    window = text.map(lambda v: clock_window(v) if isinstance(v, str) else None)
    bad = given & window.isna()
    if bad.any():
        problems.append(
            Problem("bell window is not HH:MM-HH:MM (early to late)", "bell_window",
                    _labels(gdf, bad, id_col))
        )  # fmt: skip
    gdf["bell_window"] = pd.Series(
        [f"{clock_text(w[0])}-{clock_text(w[1])}" if w is not None else pd.NA for w in window],
        index=gdf.index,
        dtype="string",
    )


def _site_counts(gdf, problems, id_col) -> None:
    """Pupils (required) and places, classes, beds (optional): whole, non-negative numbers."""
    if "pupils" in gdf.columns:
        gdf["pupils"] = _check_count(gdf, "pupils", problems, id_col, required=True)
    for col in SITE_OPTIONAL_NUMERIC:
        if col in gdf.columns:
            gdf[col] = _check_count(gdf, col, problems, id_col, required=False)
        else:
            gdf[col] = np.nan


def _site_grades(gdf, problems, id_col) -> None:
    """Grade spans: the kind's default where empty; unreadable spans are problems."""
    if "grades" not in gdf.columns:
        gdf["grades"] = pd.NA
    if "kind" in gdf.columns:
        fill = gdf["grades"].isna() | (gdf["grades"].astype("string").str.strip() == "")
        gdf.loc[fill, "grades"] = gdf.loc[fill, "kind"].map(DEFAULT_GRADES)
    bad_grades = []
    for i, g in gdf["grades"].items():
        if pd.isna(g):
            continue
        try:
            parse_grades(g)
        except ValueError:
            bad_grades.append(i)
    if bad_grades:
        problems.append(
            Problem(
                "cannot read grade span (use e.g. 1-4, 7-9, K1-K3)",
                "grades",
                _labels(gdf, gdf.index.isin(bad_grades), id_col),
            )
        )
    gdf["grades"] = gdf["grades"].astype("string")


def _site_grade_pupils(gdf, problems, id_col) -> None:
    """The optional per-grade pupils (``k1``-``k3``, ``g1``-``g9``): whole numbers of 0 or
    more, only for grades the site teaches, and adding up to its ``pupils`` (no pupil is lost
    between the two)."""
    given = [c for c in GRADE_COLUMNS.values() if c in gdf.columns]
    if not given:
        return
    raw = gdf[given]
    values = raw.apply(pd.to_numeric, errors="coerce")
    text = raw.notna() & values.isna() & (raw.astype("string").apply(lambda c: c.str.strip()) != "")
    checks = (
        (text, "per-grade pupils are not numbers"),
        (values < 0, "negative per-grade pupils"),
        (values.notna() & (values % 1 != 0), "fractional per-grade pupils (whole pupils)"),
    )
    for bad, message in checks:
        for col in given:
            if bad[col].any():
                problems.append(Problem(message, col, _labels(gdf, bad[col].to_numpy(), id_col)))
    level = {c: g for g, c in GRADE_COLUMNS.items()}
    span = [_levels(g) for g in gdf["grades"]]
    outside = pd.DataFrame(
        {c: [level[c] not in lv if lv is not None else False for lv in span] for c in given},
        index=gdf.index,
    )
    for col in given:
        bad = outside[col] & (values[col].fillna(0) > 0)
        if bad.any():
            problems.append(
                Problem(f"pupils in {col}, a grade the site does not teach", col,
                        _labels(gdf, bad.to_numpy(), id_col))
            )  # fmt: skip
    some = values.notna().any(axis=1)
    if "pupils" in gdf.columns:
        pupils = pd.to_numeric(gdf["pupils"], errors="coerce")
        off = some & pupils.notna() & (values.fillna(0).sum(axis=1) != pupils)
        if off.any():
            problems.append(
                Problem(
                    "per-grade pupils do not add up to pupils (give every grade the site "
                    "teaches, or none)",
                    "pupils",
                    _labels(gdf, off.to_numpy(), id_col),
                )
            )


def _levels(grades) -> frozenset[int] | None:
    try:
        return parse_grades(grades) if isinstance(grades, str) and grades else None
    except ValueError:
        return None


def _site_flags_and_status(gdf, problems, id_col) -> None:
    """The three-school flags (default: from the kind) and the status (default: open)."""
    derived = {
        "is_central_kindergarten": "central_kindergarten",
        "is_central_primary": "central_primary",
        "is_public_boarding": "boarding_school",
    }
    for flag, kind in derived.items():
        if flag not in gdf.columns:
            gdf[flag] = gdf["kind"].eq(kind) if "kind" in gdf.columns else False
        else:
            values = gdf[flag].map(as_bool)
            bad = values.isna() & gdf[flag].notna()
            if bad.any():
                problems.append(Problem("not a yes/no value", flag, _labels(gdf, bad, id_col)))
            gdf[flag] = values.fillna(False).astype(bool)
    if "status" in gdf.columns:
        gdf["status"] = _check_allowed(gdf, "status", SITE_STATUS, problems, id_col, default="open")
    else:
        gdf["status"] = pd.Series("open", index=gdf.index, dtype="string")


def _site_plausibility(gdf, problems, warn_list, id_col) -> None:
    """Problems of the layer as a whole (no open site, closed sites with pupils, no pupils at
    all) and warnings for suspicious but legal values."""
    is_open = gdf["status"] == "open"
    if not is_open.any():
        problems.append(Problem("no open site (every site is closed or merged)", "status"))
    ghosts = ~is_open & (gdf["pupils"] > 0)
    if ghosts.any():
        problems.append(
            Problem(
                "a closed site lists pupils (set pupils to 0, or status to open)",
                "pupils",
                _labels(gdf, ghosts, id_col),
            )
        )
    if is_open.any() and gdf.loc[is_open, "pupils"].sum() == 0:
        problems.append(Problem("every open site has 0 pupils: nothing to plan", "pupils"))
    over = gdf["capacity"].notna() & (gdf["pupils"] > gdf["capacity"])
    if over.any():
        warn_list.append(f"pupils above capacity at {list(_labels(gdf, over, id_col))}")
    boarding_over = gdf["boarding_beds"].notna() & (gdf["boarding_beds"] > gdf["pupils"])
    if boarding_over.any():
        warn_list.append(
            f"more boarding beds than pupils at {list(_labels(gdf, boarding_over, id_col))}"
        )
    open_sites = gdf[is_open]
    for flag, label in (
        ("is_public_boarding", "public boarding school"),
        ("is_central_kindergarten", "central kindergarten"),
        ("is_central_primary", "central primary school"),
    ):
        has = (
            open_sites.groupby("township_code")[flag]
            .any()
            .reindex(gdf["township_code"].unique(), fill_value=False)
        )
        lacking = sorted(has.index[~has])
        if lacking:
            warn_list.append(f"township(s) {lacking} have no {label}")
    _site_districts(gdf, warn_list, id_col)


def _site_districts(gdf, warn_list, id_col) -> None:
    """A warning naming each learning district (``district_id``) that no open central school
    heads: it is led by its largest site instead."""
    if "district_id" not in gdf.columns:
        return
    district = gdf["district_id"].where(gdf["district_id"].notna() & (gdf["district_id"] != ""))
    heads = (gdf["status"] == "open") & gdf["kind"].isin(DISTRICT_HEAD_KINDS)
    headed = set(district[heads].dropna().astype(str))
    for d, part in gdf[district.notna()].groupby(district.dropna().astype(str), sort=True):
        if d not in headed:
            warn_list.append(
                f"learning district {d!r} has no open central school (sites "
                f"{list(_labels(gdf, gdf.index.isin(part.index), id_col))}): led by its largest site"
            )


def as_bool(v, blank=False):
    """True/False from a layer's cell (bool, 0/1, yes/no, 是/否, 城镇/乡村); ``pd.NA`` when
    empty or not understood; ``blank`` for an empty text."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return pd.NA
    if isinstance(v, bool | np.bool_):
        return bool(v)
    s = str(v).strip().lower()
    if s == "":
        return blank
    if s in {"1", "true", "yes", "y", "t", "是", "√", "1.0", "城镇", "urban"}:
        return True
    if s in {"0", "false", "no", "n", "f", "否", "0.0", "乡村", "rural"}:
        return False
    return pd.NA


def validate_villages(
    villages: gpd.GeoDataFrame,
    study_area=None,
    *,
    buffer_km: float = 10.0,
    age_shares: Mapping[str, float] = DEFAULT_AGE_SHARES,
) -> gpd.GeoDataFrame:
    """Check a villages (demand) layer and return a clean copy in EPSG:4326.

    Child counts per stage (``children_kindergarten``, ``children_primary``,
    ``children_junior``) are kept where given; where a column is absent or a value empty they
    are derived from ``population`` and ``age_shares`` (see :func:`derive_children`), and
    ``children_source`` records which rows were derived.

    Raises
    ------
    SchemaError
        Listing every problem found, with rows and columns.
    """
    layer = "villages"
    problems: list[Problem] = []
    warn_list: list[str] = []
    if not isinstance(villages, gpd.GeoDataFrame):
        raise SchemaError(
            layer, [Problem(f"expected a GeoDataFrame, got {type(villages).__name__}")]
        )
    if len(villages) == 0:
        raise SchemaError(layer, [Problem("the layer has no villages")])
    gdf = villages.copy()
    if "village_id" not in gdf.columns and "village_code" in gdf.columns:
        gdf = gdf.rename(columns={"village_code": "village_id"})
    missing = [c for c in VILLAGE_REQUIRED if c not in gdf.columns]
    if missing:
        problems.append(Problem(f"missing required column(s) {missing}"))
    id_col = "village_id" if "village_id" in gdf.columns else None
    if id_col:
        _check_ids(gdf, id_col, problems)
    if "name" in gdf.columns:
        gdf["name"] = gdf["name"].astype("string").str.strip()
    if "township_code" in gdf.columns:
        gdf["township_code"] = _normalise_code(gdf["township_code"])
        blank = gdf["township_code"].isna()
        if blank.any():
            problems.append(
                Problem("missing township code", "township_code", _labels(gdf, blank, id_col))
            )
    if "population" in gdf.columns:
        gdf["population"] = _check_count(
            gdf, "population", problems, id_col, required=False, integer=False
        )
    for col in CHILD_COLUMNS.values():
        if col in gdf.columns:
            gdf[col] = _check_count(gdf, col, problems, id_col, required=False)
    gdf = _check_geometry(gdf, problems, id_col, study_area, buffer_km, warn_list, layer)
    if problems:
        raise SchemaError(layer, problems)
    gdf = derive_children(gdf, age_shares)
    unknown = gdf[list(CHILD_COLUMNS.values())].isna().any(axis=1)
    if unknown.any():
        raise SchemaError(
            layer,
            [
                Problem(
                    "neither child counts nor population given: children unknown",
                    "population",
                    _labels(gdf, unknown, id_col),
                )
            ],
        )
    _emit(warn_list, layer)
    gdf.attrs["warnings"] = warn_list
    return gdf


def derive_children(
    villages: pd.DataFrame, age_shares: Mapping[str, float] = DEFAULT_AGE_SHARES
) -> pd.DataFrame:
    """Fill missing child counts per stage from population and age shares.

    Counts are whole children. Rounding uses the largest-remainder method over the whole
    table, so each stage's total equals the rounded total of ``population * share``: no child
    appears or disappears through rounding.

    Parameters
    ----------
    villages
        Table with ``population`` and, optionally, some child-count columns.
    age_shares
        Share of the population per stage (``kindergarten``, ``primary``, ``junior``).

    Returns
    -------
    pandas.DataFrame
        A copy with the three child columns and ``children_source`` (``given``, ``derived``,
        or ``mixed``).
    """
    out = villages.copy()
    derived_any = pd.Series(False, index=out.index)
    given_any = pd.Series(False, index=out.index)
    pop = pd.to_numeric(out.get("population", pd.Series(np.nan, index=out.index)), errors="coerce")
    for stage, col in CHILD_COLUMNS.items():
        if col not in out.columns:
            out[col] = np.nan
        values = pd.to_numeric(out[col], errors="coerce").astype(float)
        fill = values.isna() & pop.notna()
        given_any |= values.notna()
        if fill.any():
            values[fill] = largest_remainder(pop[fill].to_numpy() * age_shares[stage])
            derived_any |= fill
        out[col] = values
    out["children_source"] = np.select(
        [derived_any & given_any, derived_any], ["mixed", "derived"], default="given"
    )
    return out


def largest_remainder(values: np.ndarray) -> np.ndarray:
    """Round non-negative reals to integers whose sum equals the rounded sum of the reals."""
    values = np.asarray(values, dtype=float)
    floors = float(np.floor(values).sum())
    return largest_remainders(values, floors + round(float(values.sum()) - floors)).astype(float)


def largest_remainders(values: np.ndarray, totals) -> np.ndarray:
    """Whole numbers that add up to ``totals`` along the last axis: the floors, plus one for
    the largest remainders (ties by position)."""
    values = np.asarray(values, dtype=float)
    base = np.floor(values).astype(np.int64)
    left = np.asarray(totals, dtype=np.int64) - base.sum(axis=-1)
    order = np.argsort(-(values - base), axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(values.shape[-1]), order.shape), -1)
    return base + (rank < np.expand_dims(left, -1))
