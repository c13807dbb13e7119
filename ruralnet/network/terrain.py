"""Elevation: read a DEM (voids filled), sample it at road nodes, and slow walking on slopes.

Walking speed follows Tobler's hiking function, scaled so that flat ground gives the
pupil's ``walk_speed_kmh``::

    v(s) = walk_speed_kmh * exp(-3.5 * |s + 0.05|) / exp(-3.5 * 0.05)

where ``s`` is the grade in the direction of travel (rise over run): a gentle descent is
fastest, climbing is slow, and the two directions of an edge differ. Grades are clipped at
``max_walk_grade`` because a 90 m DEM under a road that winds along a slope exaggerates the
road's own grade; grades are measured over windows of about ``grade_window_m`` along the
road (:func:`road_grades`). School buses drive at ``bus_slow_kmh`` on grades steeper than
``bus_steep_grade`` (校车安全管理条例: 20 km/h on steep slopes).

DEM voids (nodata) are filled by inverse-distance interpolation (GDAL ``FillNodata``, via
rasterio); nodes outside the raster keep a flat speed. Both are counted in the report.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from ..model.geo import haversine_m
from ..sources.dem import DEM

log = logging.getLogger(__name__)


def tobler_kmh(grade: np.ndarray, flat_kmh: float) -> np.ndarray:
    """Walking speed (km/h) on a grade, Tobler's function scaled to ``flat_kmh`` on the flat."""
    return flat_kmh * np.exp(-3.5 * np.abs(np.asarray(grade) + 0.05)) / np.exp(-3.5 * 0.05)


def road_grades(network, z: np.ndarray, window_m: float) -> np.ndarray:
    """Grade of every edge in its direction of travel, measured over about ``window_m``.

    Short OSM segments under a 90 m DEM give noisy grades. As osmnx users measure grades on
    simplified edges, the grade here is the rise over the run of a window of up to
    ``window_m`` along the road between junctions (a degree-2 chain), in the edge's direction.
    Edges joining two junctions directly keep their own grade.
    """

    n = network.n_nodes
    grade = np.zeros(network.n_edges)
    own = np.isfinite(z[network.u]) & np.isfinite(z[network.v]) & (network.length_m > 0)
    grade[own] = (z[network.v][own] - z[network.u][own]) / network.length_m[own]
    ch = network.graph.chains
    nodes, chain = ch.nodes, ch.chain
    same = np.flatnonzero(chain[:-1] == chain[1:])
    step = np.zeros(len(nodes))
    step[same + 1] = haversine_m(
        network.lon[nodes[same]],
        network.lat[nodes[same]],
        network.lon[nodes[same + 1]],
        network.lat[nodes[same + 1]],
    )
    cum = np.cumsum(step)
    starts = np.flatnonzero(np.r_[True, chain[1:] != chain[:-1]])
    lengths = np.diff(np.r_[starts, len(nodes)])
    along = cum - np.repeat(cum[starts], lengths)
    window = np.floor(along / window_m).astype(np.int64)
    key = chain.astype(np.int64) * (window.max() + 2) + window
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    # a window ends where the next one starts (or at the chain's last node)
    chain_end = np.repeat(starts + lengths - 1, lengths)
    end = np.where(
        np.r_[first[1:], len(nodes)] - 1 < chain_end[first],
        np.r_[first[1:], len(nodes)],
        chain_end[first],
    )
    rise = z[nodes[end]] - z[nodes[first]]
    run = along[end] - along[first]
    win_grade = np.where(run > 0, rise / np.where(run > 0, run, 1), 0.0)
    entry_grade = np.repeat(win_grade, np.diff(np.r_[first, len(nodes)]))
    p, q, g = nodes[same], nodes[same + 1], entry_grade[same]
    keys = np.concatenate([p * n + q, q * n + p])
    values = np.concatenate([g, -g])
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    ek = network.u.astype(np.int64) * n + network.v
    pos = np.minimum(np.searchsorted(keys, ek), len(keys) - 1)
    found = keys[pos] == ek
    ok = found & np.isfinite(values[pos])
    grade[ok] = values[pos][ok]
    return grade


def apply_terrain(network, dem: DEM | str | Path):
    """A copy of a network with slope-dependent edge times from a DEM.

    Walk: Tobler speeds per direction. Bus: ``bus_slow_kmh`` on grades steeper than
    ``bus_steep_grade``. The report in ``network.meta["terrain"]`` gives the number of edges,
    the edges touching filled DEM voids, the edges left flat because an end lies outside the
    DEM, and the grade distribution.
    """
    if not isinstance(dem, DEM):
        dem = DEM.read(dem)
    s = network.settings
    z, near_void = dem.sample(network.lon, network.lat)
    zu, zv = z[network.u], z[network.v]
    known = np.isfinite(zu) & np.isfinite(zv)
    length = network.length_m
    grade = np.where(known, road_grades(network, z, s.grade_window_m), 0.0)
    ok = known & (length > 0)
    if network.mode == "walk":
        g = np.clip(grade, -s.max_walk_grade, s.max_walk_grade)
        speed = tobler_kmh(g, s.walk_speed_kmh)
    else:
        steep = np.abs(grade) > s.bus_steep_grade
        speed = np.where(steep, np.minimum(network.speed_kmh, s.bus_slow_kmh), network.speed_kmh)
    report = {
        "dem": Path(dem.path).name,
        "edges": int(network.n_edges),
        "edges_near_void": int((near_void[network.u] | near_void[network.v]).sum()),
        "edges_outside_dem": int((~known).sum()),
        "void_cells": int(dem.void.sum()),
        "grade_p50": float(np.median(np.abs(grade[ok]))) if ok.any() else 0.0,
        "grade_p95": float(np.percentile(np.abs(grade[ok]), 95)) if ok.any() else 0.0,
    }
    if report["edges_near_void"] or report["edges_outside_dem"]:
        log.warning(
            "%s network on %s: %d edge(s) touch filled DEM voids, %d edge(s) outside the DEM kept flat",
            network.mode,
            report["dem"],
            report["edges_near_void"],
            report["edges_outside_dem"],
        )
    out = dataclasses.replace(
        network,
        speed_kmh=speed,
        time_s=length / (speed / 3.6),
        meta={**network.meta, "terrain": report},
    )
    return out
