"""Chinese web-map coordinate systems and local metric projections.

Chinese map services publish coordinates in GCJ-02 (Amap/Gaode, Tencent) or BD-09 (Baidu),
offset from WGS84 (GPS, OpenStreetMap, SRTM) by up to several hundred metres. Tianditu uses
CGCS2000, which is within centimetres of WGS84 and needs no shift.

The forward transforms (WGS84 -> GCJ-02 -> BD-09) are the published closed-form
obfuscation formulas. The inverses have no closed form; they are solved here by fixed-point
iteration until the round trip agrees to better than 1e-9 degrees (about 0.1 mm), far better
than the 5 m the planners need. Outside mainland China GCJ-02 equals WGS84, as the services do.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pyproj

from .errors import InputError

CoordSystem = Literal["wgs84", "gcj02", "bd09", "cgcs2000"]
COORD_SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09", "cgcs2000")

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0

ArrayLike = npt.ArrayLike


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(radlat) * np.pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 longitudes/latitudes to GCJ-02 (to overlay on Amap/Gaode tiles)."""
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 (Amap/Gaode, Tencent) longitudes/latitudes to WGS84."""
    return _invert(wgs84_to_gcj02, *_arrays(lon, lat))


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to Baidu's BD-09 (identity outside mainland China, like GCJ-02)."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    outside = _out_of_china(x, y)
    bx = np.where(outside, x, z * np.cos(theta) + 0.0065)
    by = np.where(outside, y, z * np.sin(theta) + 0.006)
    return bx, by


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu's BD-09 to GCJ-02."""
    return _invert(gcj02_to_bd09, *_arrays(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 to Baidu's BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu's BD-09 to WGS84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _invert(forward, lon: np.ndarray, lat: np.ndarray, tol: float = 1e-10, max_iter: int = 30):
    """Solve ``forward(x) == target`` by fixed-point iteration (the shift varies slowly)."""
    x, y = lon.copy(), lat.copy()
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if np.nanmax(np.abs(np.concatenate([np.ravel(ex), np.ravel(ey)])), initial=0.0) < tol:
            break
    return x, y


def to_wgs84(lon: ArrayLike, lat: ArrayLike, coord_system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates given in ``coord_system`` to WGS84.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees.
    coord_system
        One of ``wgs84``, ``cgcs2000`` (both unchanged), ``gcj02`` or ``bd09``.
    """
    system = normalise_coord_system(coord_system)
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return bd09_to_wgs84(lon, lat)
    return _arrays(lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, coord_system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 coordinates to ``coord_system`` (for overlays on Chinese basemaps)."""
    system = normalise_coord_system(coord_system)
    if system == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if system == "bd09":
        return wgs84_to_bd09(lon, lat)
    return _arrays(lon, lat)


_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "gps": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "mars": "gcj02",
    "tencent": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
    "cgcs2000": "cgcs2000",
    "tianditu": "cgcs2000",
    "epsg:4490": "cgcs2000",
}


def normalise_coord_system(name: str) -> str:
    """Return the canonical name (``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000``) of a system.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    key = str(name).strip().lower().replace(" ", "")
    if key not in _ALIASES:
        raise InputError(f"unknown coord_system {name!r}; use one of {', '.join(COORD_SYSTEMS)}")
    return _ALIASES[key]


def transform_geometry(geoms, coord_system: str, *, inverse: bool = False):
    """Apply :func:`to_wgs84` (or :func:`from_wgs84` if ``inverse``) to shapely geometries.

    Parameters
    ----------
    geoms
        A GeoSeries or array of shapely geometries in degrees.
    coord_system
        The system the geometries are in (or are converted to, if ``inverse``).
    """
    import shapely

    func = from_wgs84 if inverse else to_wgs84

    def shift(coords: np.ndarray) -> np.ndarray:
        x, y = func(coords[:, 0], coords[:, 1], coord_system)
        return np.column_stack([x, y])

    return shapely.transform(geoms, shift)


def local_metric_crs(lon: ArrayLike, lat: ArrayLike) -> pyproj.CRS:
    """The UTM zone (WGS84 datum) containing the centre of these points: metres, little distortion.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes (WGS84) of the study area's points.
    """
    lon, lat = _arrays(lon, lat)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise ValueError("no finite coordinates to choose a metric CRS from")
    clon, clat = float(np.median(lon[ok])), float(np.median(lat[ok]))
    zone = int((clon + 180) // 6) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if clat >= 0 else 32700) + zone)
