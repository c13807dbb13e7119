"""Synthetic mountain terrain: ridges and valleys at a realistic elevation range."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt, gaussian_filter


def fbm(rng: np.random.Generator, shape, scales_cells, persistence: float = 0.5) -> np.ndarray:
    """Fractal noise: smoothed random fields at several scales, larger scales stronger."""
    out = np.zeros(shape)
    amp = 1.0
    for s in scales_cells:
        field = gaussian_filter(rng.standard_normal(shape), s, mode="reflect")
        out += amp * field / (field.std() + 1e-12)
        amp *= persistence
    return out


def make_terrain(
    rng: np.random.Generator,
    shape: tuple[int, int],
    cell: float,
    low_point: tuple[int, int],
    low_m: float = 100.0,
    high_m: float = 1600.0,
) -> np.ndarray:
    """Elevation (m) with ridged mountains rising away from a low valley at ``low_point``.

    Parameters
    ----------
    rng
        Random generator (the result is deterministic for its seed).
    shape
        Grid rows, columns.
    cell
        Cell size (m).
    low_point
        Row, column of the lowest valley (the county seat's).
    low_m, high_m
        Elevation range.
    """
    km = 1000.0 / cell  # cells per km
    # Valleys: the zero lines of a smooth noise field are connected, winding creases, like a
    # drainage network; |noise| rises from them to the ridges. A Gaussian of sigma s gives
    # features about 6 s wide: main valleys ~15 km apart, side valleys ~4 km apart.
    main = _unit(np.abs(fbm(rng, shape, [2.5 * km], 0.5)))
    side = _unit(np.abs(fbm(rng, shape, [0.7 * km], 0.5)))
    detail = fbm(rng, shape, [0.2 * km], 0.5)
    seat = np.ones(shape, dtype=bool)
    seat[low_point] = False
    dist_km = distance_transform_edt(seat) / km
    trend = np.tanh(dist_km / 20.0)  # mountains rise away from the seat's valley
    # side valleys cut into the mountain flanks, not into the main valley floors
    relief = 0.55 * main**0.9 + 0.45 * side**0.9 * np.clip(main * 2.0, 0, 1)
    base = 0.30 * trend + 0.70 * relief * (0.5 + 0.5 * trend) + 0.02 * detail
    base = gaussian_filter(base, 0.1 * km)
    elev = _norm(base) ** 1.25  # broad valley floors, steep upper slopes
    return low_m + (high_m - low_m) * elev


def _unit(a: np.ndarray) -> np.ndarray:
    return np.clip(a / np.percentile(a, 99), 0, 1)


def slope(elevation: np.ndarray, cell: float) -> np.ndarray:
    """Slope (rise over run) of each cell."""
    gy, gx = np.gradient(elevation, cell)
    return np.hypot(gx, gy)


def _norm(a: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(a, [0.5, 99.5])
    return np.clip((a - lo) / (hi - lo), 0, 1)
