"""School-age demand: children per village by stage, from counts, census shares or a raster.

Three sources, in order of preference: counts given in the villages layer; population times
the census age shares (:func:`ruralnet.model.schema.derive_children`); or a population raster summed
over each village's area (:func:`children_from_raster`). Every total is reported, so nobody
disappears between the raster and the villages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from pyproj import Transformer
from rasterio.features import rasterize

from ..model.coords import local_metric_crs
from ..model.geo import village_areas
from ..model.grades import GRADE_COLUMNS, GRADE_LEVELS, grade_column, split_by_grade, stage_grades
from ..model.schema import CHILD_COLUMNS, largest_remainder

log = logging.getLogger(__name__)


@dataclass
class ZonalReport:
    """Where the raster's people went: into the zones, outside them, or nowhere (nodata)."""

    raster_total: float
    in_zones: float
    outside_zones: float
    nodata_cells: int

    def __str__(self) -> str:
        return (
            f"raster total {self.raster_total:,.0f}: {self.in_zones:,.0f} in zones, "
            f"{self.outside_zones:,.0f} outside; {self.nodata_cells:,} nodata cells"
        )


def zonal_sums(raster: str | Path, zones: gpd.GeoSeries) -> tuple[pd.Series, ZonalReport]:
    """Sum of a raster's valid cells per zone (cells whose centre lies in the zone).

    Zones must not overlap (the first one drawn wins otherwise). Nodata and NaN cells count as
    zero and are reported.
    """
    with rasterio.open(raster) as src:
        data = src.read(1).astype(float)
        valid = np.isfinite(data)
        if src.nodata is not None:
            valid &= data != src.nodata
        shapes_ = zip(zones.to_crs(src.crs).to_numpy(), range(1, len(zones) + 1), strict=True)
        labels = rasterize(
            shapes_, out_shape=data.shape, transform=src.transform, fill=0, dtype="int32"
        )
    values = np.where(valid, data, 0.0)
    sums = np.bincount(labels.ravel(), weights=values.ravel(), minlength=len(zones) + 1)
    report = ZonalReport(
        float(values.sum()), float(sums[1:].sum()), float(sums[0]), int((~valid).sum())
    )
    return pd.Series(sums[1:], index=zones.index), report


def children_from_raster(
    villages: gpd.GeoDataFrame,
    population_raster: str | Path,
    age_shares: dict[str, float],
    boundary=None,
) -> tuple[gpd.GeoDataFrame, ZonalReport]:
    """Population and children per village from a population raster.

    Each village gets the people of its area (:func:`village_areas`); children per stage are
    that population times the age shares, rounded by largest remainder over the county so the
    stage totals equal round(raster people in the areas x share).

    Returns
    -------
    villages, report
        A copy with ``population`` (from the raster), the child columns and
        ``children_source = "raster"``; the report says where the raster's people went.
    """
    areas = village_areas(villages, boundary)
    pop, report = zonal_sums(population_raster, areas.geometry)
    out = villages.copy()
    out["population"] = pop.to_numpy()
    for stage, col in CHILD_COLUMNS.items():
        out[col] = largest_remainder(pop.to_numpy() * age_shares[stage])
    out["children_source"] = "raster"
    log.info("population raster %s: %s", Path(population_raster).name, report)
    return out, report


#: Per-grade children columns a villages layer may carry (``children_k1`` .. ``children_g9``);
#: the spread demand points have them, so that every grade's total stays exact.
CHILD_GRADE_COLUMNS: dict[int, str] = {g: f"children_{c}" for g, c in GRADE_COLUMNS.items()}


@dataclass
class SpreadReport:
    """Which villages were spread into demand points, and into how many."""

    spread: dict  # village id -> points
    kept: list  # large villages kept as one point (a single block of people)

    def __str__(self) -> str:
        points = sum(self.spread.values())
        return f"{len(self.spread)} large village(s) spread into {points} demand points"


def grade_children(villages: pd.DataFrame) -> np.ndarray:
    """Children per village and grade level (villages x :data:`GRADE_LEVELS`, K1..g9): the
    per-grade columns (:data:`CHILD_GRADE_COLUMNS`) where a village has them all, else each
    stage's count spread evenly over its grades (lower grades take the remainder)."""
    out = np.zeros((len(villages), len(GRADE_LEVELS)), dtype=np.int64)
    for stage, col in CHILD_COLUMNS.items():
        cols = [grade_column(g) for g in sorted(stage_grades(stage))]
        out[:, cols] = split_by_grade(villages[col].fillna(0).to_numpy(), len(cols))
    given = [CHILD_GRADE_COLUMNS[g] for g in GRADE_LEVELS]
    if set(given) <= set(villages.columns):
        per = villages[given].apply(pd.to_numeric, errors="coerce")
        full = per.notna().all(axis=1).to_numpy()
        out[full] = per.to_numpy()[full].astype(np.int64)
    return out


def spread_villages(
    villages: gpd.GeoDataFrame,
    population_raster: str | Path,
    min_population: float,
    spacing_m: float,
    boundary=None,
) -> tuple[gpd.GeoDataFrame, SpreadReport]:
    """Large villages (residents' committees of a town) spread over their cells of the
    population raster into demand points about ``spacing_m`` apart.

    Each village above ``min_population`` takes the raster cells of its area
    (:func:`ruralnet.model.geo.village_areas`); its cells are gathered into blocks of
    ``spacing_m``, and each block with people becomes a demand point at the block's
    population-weighted centre. The village's population and its children of every grade are
    shared out over the points by largest remainder, so every village's (and committee's)
    totals per stage and grade stay exactly as they were. The points keep the village's
    township, committee and ``urban`` flag, ``spread_from`` names the village, and their ids
    are ``<village_id>~<k>``.

    Returns
    -------
    villages, report
        The layer with the large villages replaced by their points (the others unchanged, in
        order), and what was spread.
    """
    big = (villages["population"].fillna(0) > min_population).to_numpy()
    report = SpreadReport({}, [])
    if not big.any():
        return villages, report
    areas = village_areas(villages, boundary)
    with rasterio.open(population_raster) as src:
        data = src.read(1).astype(float)
        valid = np.isfinite(data) & ((data != src.nodata) if src.nodata is not None else True)
        geoms = areas.geometry.to_crs(src.crs).to_numpy()
        labels = rasterize(
            [(geoms[i], i + 1) for i in np.flatnonzero(big)],
            out_shape=data.shape, transform=src.transform, fill=0, dtype="int32",
        )  # fmt: skip
        r, c = np.nonzero((labels > 0) & valid & (data > 0))
        x, y = rasterio.transform.xy(src.transform, r, c)
        to_wgs = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True)
        lon, lat = to_wgs.transform(np.asarray(x), np.asarray(y))
    owner, weight = labels[r, c] - 1, data[r, c]
    metric = local_metric_crs(villages.geometry.x, villages.geometry.y)
    mx, my = Transformer.from_crs("EPSG:4326", metric, always_xy=True).transform(lon, lat)
    children = grade_children(villages)
    parts = []
    for i in range(len(villages)):
        row = villages.iloc[[i]]
        mine = owner == i
        if not big[i] or not mine.any():
            parts.append(row)
            continue
        block = np.stack([np.floor(mx[mine] / spacing_m), np.floor(my[mine] / spacing_m)], 1)
        keys, which = np.unique(block, axis=0, return_inverse=True)
        if len(keys) < 2:
            report.kept.append(str(row["village_id"].iloc[0]))
            parts.append(row)
            continue
        which = _merge_thin_blocks(which, weight[mine], mx[mine], my[mine])
        if which.max() < 1:
            report.kept.append(str(row["village_id"].iloc[0]))
            parts.append(row)
            continue
        w = np.bincount(which, weights=weight[mine])
        px = np.bincount(which, weights=weight[mine] * lon[mine]) / w
        py = np.bincount(which, weights=weight[mine] * lat[mine]) / w
        parts.append(_points_of(row, w / w.sum(), px, py, children[i]))
        report.spread[str(row["village_id"].iloc[0])] = len(w)
    out = pd.concat(parts, ignore_index=True)
    log.info("demand points: %s", report)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=villages.crs), report


#: A block with less than this share of its village's people joins the nearest larger block
#: (the sparse outskirts of a town's area are not a neighbourhood of their own).
MIN_BLOCK_SHARE = 0.05


def _merge_thin_blocks(which: np.ndarray, weight: np.ndarray, x, y) -> np.ndarray:
    """Block labels with the thin blocks merged into the nearest kept one (relabelled 0..k)."""
    w = np.bincount(which, weights=weight)
    cx = np.bincount(which, weights=weight * x) / np.where(w > 0, w, 1)
    cy = np.bincount(which, weights=weight * y) / np.where(w > 0, w, 1)
    kept = np.flatnonzero(w >= MIN_BLOCK_SHARE * w.sum())
    if len(kept) == 0:
        return np.zeros_like(which)
    d = (cx[:, None] - cx[kept][None, :]) ** 2 + (cy[:, None] - cy[kept][None, :]) ** 2
    return np.argmin(d, axis=1)[which]


def _points_of(row: gpd.GeoDataFrame, share: np.ndarray, lon, lat, grades: np.ndarray):
    """One village's demand points: its people and every grade's children shared out."""
    n = len(share)
    vid, name = str(row["village_id"].iloc[0]), str(row["name"].iloc[0])
    out = pd.concat([row] * n, ignore_index=True)
    out["spread_from"] = vid
    out["village_id"] = [f"{vid}~{k + 1}" for k in range(n)]
    out["name"] = [f"{name}{k + 1}片" for k in range(n)]
    out["population"] = largest_remainder(share * float(row["population"].iloc[0]))
    per_grade = np.stack([largest_remainder(share * count) for count in grades], 1)
    for g, col in CHILD_GRADE_COLUMNS.items():
        out[col] = per_grade[:, grade_column(g)]
    for stage, col in CHILD_COLUMNS.items():
        out[col] = per_grade[:, [grade_column(g) for g in stage_grades(stage)]].sum(axis=1)
    out["geometry"] = gpd.points_from_xy(lon, lat)
    return out
