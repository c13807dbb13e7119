"""A metric raster grid over a county, and least-cost paths across it.

The generator works on a regular grid in the county's UTM zone. Roads are least-cost paths
on an 8-neighbour graph of a coarser grid, with costs that punish steep grades, so roads wind
along valleys as mountain roads do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy.sparse.csgraph import dijkstra

from ..model.coords import local_metric_crs


@dataclass
class Grid:
    """A north-up grid of square cells in a metric CRS.

    Attributes
    ----------
    crs
        Metric CRS (UTM zone of the county).
    x0, y0
        Coordinates of the top-left corner.
    cell
        Cell size in metres.
    shape
        Rows, columns.
    mask
        Cells whose centre lies inside the county.
    """

    crs: pyproj.CRS
    x0: float
    y0: float
    cell: float
    shape: tuple[int, int]
    mask: np.ndarray

    @classmethod
    def over(cls, boundary_wgs84, cell: float, margin_m: float = 2000.0) -> Grid:
        """A grid covering a WGS84 polygon (plus a margin), in its UTM zone."""
        xy = shapely.get_coordinates(boundary_wgs84)
        crs = local_metric_crs(xy[:, 0], xy[:, 1])
        tf = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        poly = shapely.transform(
            boundary_wgs84, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1]))
        )
        minx, miny, maxx, maxy = poly.bounds
        x0, y1 = minx - margin_m, maxy + margin_m
        w = int(np.ceil((maxx + margin_m - x0) / cell))
        h = int(np.ceil((y1 - (miny - margin_m)) / cell))
        transform = Affine(cell, 0, x0, 0, -cell, y1)
        mask = rasterize(
            [poly], out_shape=(h, w), transform=transform, fill=0, default_value=1
        ).astype(bool)
        return cls(crs, x0, y1, cell, (h, w), mask)

    @property
    def transform(self) -> Affine:
        """Affine transform of the grid (rasterio convention)."""
        return Affine(self.cell, 0, self.x0, 0, -self.cell, self.y0)

    def xy(self, rows, cols) -> tuple[np.ndarray, np.ndarray]:
        """Metric coordinates of cell centres."""
        rows, cols = np.asarray(rows), np.asarray(cols)
        return self.x0 + (cols + 0.5) * self.cell, self.y0 - (rows + 0.5) * self.cell

    def rowcol(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Cell containing metric coordinates (clipped to the grid)."""
        c = np.clip(((np.asarray(x) - self.x0) // self.cell).astype(int), 0, self.shape[1] - 1)
        r = np.clip(((self.y0 - np.asarray(y)) // self.cell).astype(int), 0, self.shape[0] - 1)
        return r, c

    @cached_property
    def to_wgs84(self) -> pyproj.Transformer:
        """Metric -> WGS84 transformer."""
        return pyproj.Transformer.from_crs(self.crs, 4326, always_xy=True)

    @cached_property
    def from_wgs84(self) -> pyproj.Transformer:
        """WGS84 -> metric transformer."""
        return pyproj.Transformer.from_crs(4326, self.crs, always_xy=True)


_STEPS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


class CostSurface:
    """An 8-neighbour graph over a raster where moving costs distance x a slope penalty.

    Parameters
    ----------
    elevation
        Elevation (m) per cell.
    cell
        Cell size (m).
    allowed
        Cells that may be crossed.
    grade
        Comfortable grade: cost grows as ``1 + (slope / grade)**2``.
    max_grade
        Steeper moves cost 25 times more (roads go round, not over).
    """

    def __init__(
        self,
        elevation: np.ndarray,
        cell: float,
        allowed: np.ndarray,
        grade: float,
        max_grade: float,
    ):
        h, w = elevation.shape
        self.shape = (h, w)
        idx = np.arange(h * w).reshape(h, w)
        rows, cols, costs = [], [], []
        for dr, dc in _STEPS:
            r0, r1 = max(0, -dr), h - max(0, dr)
            c0, c1 = max(0, -dc), w - max(0, dc)
            a = idx[r0:r1, c0:c1]
            b = idx[r0 + dr : r1 + dr, c0 + dc : c1 + dc]
            ok = allowed[r0:r1, c0:c1] & allowed[r0 + dr : r1 + dr, c0 + dc : c1 + dc]
            dist = cell * (2**0.5 if dr and dc else 1.0)
            slope = (
                np.abs(elevation[r0 + dr : r1 + dr, c0 + dc : c1 + dc] - elevation[r0:r1, c0:c1])
                / dist
            )
            cost = dist * (1 + (slope / grade) ** 2) * np.where(slope > max_grade, 25.0, 1.0)
            rows.append(a[ok])
            cols.append(b[ok])
            costs.append(cost[ok])
        n = h * w
        self.graph = sp.csr_matrix(
            (np.concatenate(costs), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )

    def from_sources(self, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cost to every cell from the nearest of ``sources`` (flat indices), and predecessors."""
        dist, pred, _ = dijkstra(
            self.graph, indices=np.asarray(sources), min_only=True, return_predecessors=True
        )
        return dist, pred

    @staticmethod
    def trace(pred: np.ndarray, target: int, stop: set[int] | None = None) -> list[int]:
        """Cells from ``target`` back along predecessors to a source (or to a ``stop`` cell)."""
        path = [int(target)]
        cur = int(target)
        while pred[cur] >= 0 and not (stop and cur in stop and len(path) > 1):
            cur = int(pred[cur])
            path.append(cur)
            if stop and cur in stop:
                break
        return path
