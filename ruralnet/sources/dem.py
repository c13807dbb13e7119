"""Elevation rasters: read a DEM with its voids filled, sample it at points."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.fill import fillnodata
from scipy.ndimage import map_coordinates

log = logging.getLogger(__name__)


@dataclass
class DEM:
    """An elevation raster in memory with its voids filled.

    Attributes
    ----------
    elevation
        Metres, float, voids filled (NaN only where filling found nothing within reach).
    void
        Cells that were nodata in the file.
    transform, crs
        Georeferencing of the raster.
    path
        Source file.
    """

    elevation: np.ndarray
    void: np.ndarray
    transform: rasterio.Affine
    crs: rasterio.crs.CRS
    path: str = ""

    @classmethod
    def read(cls, path: str | Path, max_search_px: float = 100.0) -> DEM:
        """Read band 1 of a GeoTIFF, filling nodata (and NaN) cells by interpolation."""
        with rasterio.open(path) as src:
            data = src.read(1).astype(float)
            void = ~np.isfinite(data)
            if src.nodata is not None:
                void |= data == src.nodata
            transform, crs = src.transform, src.crs
        if crs is None:
            raise ValueError(f"{path}: the DEM has no CRS")
        filled = data.copy()
        if void.any():
            filled[void] = 0.0
            filled = fillnodata(
                filled, mask=(~void).astype(np.uint8), max_search_distance=max_search_px
            )
            still = void & (filled == 0.0)
            filled[still] = np.nan
            log.info(
                "%s: filled %d of %d void cells",
                Path(path).name,
                int(void.sum() - still.sum()),
                int(void.sum()),
            )
        return cls(filled, void, transform, crs, str(path))

    def sample(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Bilinear elevation at WGS84 points; NaN outside the raster.

        Returns
        -------
        elevation, near_void
            ``near_void`` marks points whose interpolation used a filled void cell.
        """
        tf = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        x, y = tf.transform(np.asarray(lon, float), np.asarray(lat, float))
        inv = ~self.transform
        col = inv.a * x + inv.b * y + inv.c - 0.5
        row = inv.d * x + inv.e * y + inv.f - 0.5
        h, w = self.elevation.shape
        inside = (row >= -0.5) & (row <= h - 0.5) & (col >= -0.5) & (col <= w - 0.5)
        rr, cc = np.clip(row, 0, h - 1), np.clip(col, 0, w - 1)
        z = map_coordinates(self.elevation, [rr, cc], order=1, mode="nearest")
        z[~inside] = np.nan
        r0, c0 = np.floor(rr).astype(int), np.floor(cc).astype(int)
        r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
        near_void = (
            self.void[r0, c0] | self.void[r0, c1] | self.void[r1, c0] | self.void[r1, c1]
        ) & inside
        return z, near_void
