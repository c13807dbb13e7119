"""Geometry helpers every layer may use: great-circle distances and the area closest to
each village."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from .coords import local_metric_crs

EARTH_RADIUS_M = 6_371_009.0  # mean radius, as osmnx uses


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres (radius 6,371,009 m, as osmnx)."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2)
    )
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def village_areas(villages: gpd.GeoDataFrame, boundary=None) -> gpd.GeoDataFrame:
    """The area closest to each village (Voronoi cells), clipped to the boundary.

    Parameters
    ----------
    villages
        Points (any CRS); the result keeps their index.
    boundary
        WGS84 (Multi)Polygon; default: the villages' convex hull buffered by 2 km.
    """
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
