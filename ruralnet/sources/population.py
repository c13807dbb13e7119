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
from rasterio.features import rasterize

from ..model.geo import village_areas
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
