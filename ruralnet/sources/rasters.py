"""Checks of a county's rasters (elevation, population) before anything uses them: readable
to the last row, georeferenced, over the county, and holding values."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.errors import Problem


def raster_problems(path: Path, what: str, area=None, zero_is_empty: bool = False) -> list[Problem]:
    """Problems of a raster file, each naming the file.

    Parameters
    ----------
    path
        The GeoTIFF.
    what
        What it should hold, for the messages (``"elevation"``, ``"population"``).
    area
        The county (a WGS84 polygon), which the raster must overlap.
    zero_is_empty
        Whether a raster of zeros holds nothing (population: yes; elevation: no).
    """
    import rasterio
    from rasterio.warp import transform_bounds

    name = path.name
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                return [Problem(f"{name}: the {what} raster has no CRS (georeference it)")]
            data = src.read(1, masked=True)  # reads every row: a file cut short fails here
            bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    except Exception as exc:  # rasterio/GDAL errors: unreadable, truncated, not a raster
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [Problem(f"{name}: cannot read the {what} raster ({first})")]
    problems = []
    values = np.ma.masked_invalid(data.astype(float))
    if values.count() == 0:
        problems.append(Problem(f"{name}: every cell of the {what} raster is nodata"))
    elif zero_is_empty and float(np.ma.abs(values).sum()) == 0:
        problems.append(Problem(f"{name}: every cell of the {what} raster is 0"))
    if area is not None:
        import shapely

        if not shapely.box(*bounds).intersects(area):
            west, south, east, north = bounds
            problems.append(
                Problem(
                    f"{name}: the {what} raster ({west:.2f}..{east:.2f} E, {south:.2f}..{north:.2f} N) "
                    "covers none of the county"
                )
            )
    return problems
