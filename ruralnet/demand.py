"""School-age demand: children per village by stage, from counts, census shares or a raster.

Three sources, in order of preference: counts given in the villages layer; population times
the census age shares (:func:`ruralnet.schema.derive_children`); or a population raster summed
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
import shapely
from rasterio.features import rasterize

from .schema import CHILD_COLUMNS, largest_remainder

log = logging.getLogger(__name__)


def village_areas(villages: gpd.GeoDataFrame, boundary=None) -> gpd.GeoDataFrame:
    """The area closest to each village (Voronoi cells), clipped to the boundary.

    Parameters
    ----------
    villages
        Points (any CRS); the result keeps their index.
    boundary
        WGS84 (Multi)Polygon; default: the villages' convex hull buffered by 2 km.
    """
    from .coords import local_metric_crs

    pts = villages.geometry.to_crs("EPSG:4326")
    crs = local_metric_crs(pts.x, pts.y)
    metric = pts.to_crs(crs)
    if boundary is None:
        clip = shapely.convex_hull(shapely.MultiPoint(metric.to_numpy())).buffer(2000)
    else:
        clip = gpd.GeoSeries([boundary], crs="EPSG:4326").to_crs(crs).iloc[0]
    cells = shapely.voronoi_polygons(shapely.MultiPoint(metric.to_numpy()), extend_to=clip)
    cells = gpd.GeoSeries(list(cells.geoms), crs=crs)
    # voronoi_polygons does not keep the input order: match each cell to the point inside it
    joined = gpd.sjoin(
        gpd.GeoDataFrame(geometry=metric.reset_index(drop=True)),
        gpd.GeoDataFrame(geometry=cells),
        predicate="within",
        how="left",
    )
    joined = joined[~joined.index.duplicated()]
    geoms = cells.iloc[joined["index_right"].to_numpy()].intersection(clip).to_numpy()
    return gpd.GeoDataFrame(
        villages.drop(columns=villages.geometry.name), geometry=geoms, crs=crs, index=villages.index
    ).to_crs("EPSG:4326")


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


def demand_totals(villages: pd.DataFrame) -> pd.Series:
    """Children per stage over all villages."""
    return pd.Series({stage: float(villages[col].sum()) for stage, col in CHILD_COLUMNS.items()})
