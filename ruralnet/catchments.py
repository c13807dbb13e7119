"""Catchments: which site serves each village, who walks, who rides the bus, who boards.

Children are assigned grade by grade, so the grade spans are respected: a teaching point with
grades 1-3 takes a village's grades 1-3, while its grades 4-6 go to the nearest site that
teaches them. The rules of DOMAIN.md decide how each group travels:

* within ``max_walk_minutes`` on foot: ``walk``;
* otherwise, where a school bus can make the trip within ``max_ride_minutes``: ``bus``;
* otherwise grades 4-9 ``board`` at the nearest site teaching their grade that has boarding
  beds (the township's own first), and kindergarten and grades 1-3, who do not board, keep the
  long trip (``walk`` or ``bus`` beyond the limit, so the indicators show them).

Catchment polygons follow the road network: every cell of a raster over the county takes
the site that the nearest road node reaches first, so a catchment stops at a ridge that no
road crosses. Every child is accounted for: assigned to a site, or unassigned (no site
teaching the grade can be reached at all).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio.features import shapes
from scipy.sparse.csgraph import dijkstra

from .schema import CHILD_COLUMNS, STAGES, parse_grades, stage_grades
from .settings import Settings

log = logging.getLogger(__name__)

ASSIGNMENT_COLUMNS = ["village_id", "stage", "children", "site_id", "minutes", "mode", "boards"]
STAGE_OF_GRADE = {g: stage for stage in STAGES for g in stage_grades(stage)}


def time_matrix(
    network, villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, origin_id: str = "village_id"
) -> np.ndarray:
    """Minutes from every origin (village) to every site on a network (NaN where unreachable)."""
    from .travel import od_from_snaps

    v = network.snap(villages, ids=villages[origin_id].to_numpy())
    s = network.snap(sites, ids=sites["site_id"].to_numpy())
    od = od_from_snaps(network, v, s, progress=False, metres=False)
    return od["minutes"].to_numpy().reshape(len(villages), len(sites))


def split_by_grade(children: np.ndarray, grades: list[int]) -> np.ndarray:
    """Whole children per grade (villages x grades); lower grades take the remainder first."""
    k = len(grades)
    c = np.asarray(children, dtype=np.int64)
    base, rem = c // k, c % k
    return base[:, None] + (np.arange(k)[None, :] < rem[:, None])


def assign(
    villages: pd.DataFrame,
    sites: pd.DataFrame,
    walk: np.ndarray,
    bus: np.ndarray | None,
    settings: Settings,
    mode: str = "walk",
) -> pd.DataFrame:
    """Assign every village's children, grade by grade, to a site, with travel mode and boarding.

    Parameters
    ----------
    villages, sites
        Validated layers (row order matches the time matrices).
    walk, bus
        Minutes villages x sites on foot and by school bus (``bus=None``: no bus service).
    settings
        Limits (``max_walk_minutes``, ``max_ride_minutes``).
    mode
        Which time picks the nearest site: ``walk`` or ``bus``.

    Returns
    -------
    pandas.DataFrame
        One row per village and grade: ``village``, ``grade``, ``stage``, ``children``,
        ``site`` (row of ``sites``, -1 if unassigned), ``minutes``, ``mode``, ``boards``,
        ``walk_nearest``, ``bus_nearest`` (minutes to the nearest site teaching the grade).
    """
    if mode not in ("walk", "bus"):
        raise ValueError("mode must be 'walk' or 'bus'")
    if mode == "bus" and bus is None:
        raise ValueError("mode='bus' needs bus times")
    nv, ns = walk.shape
    walk = np.where(np.isfinite(walk), walk, np.inf)
    busm = np.full_like(walk, np.inf) if bus is None else np.where(np.isfinite(bus), bus, np.inf)
    choose = walk if mode == "walk" else busm
    offers = np.array(
        [[g in parse_grades(gr) for g in range(-2, 10)] for gr in sites["grades"]]
    ).reshape(ns, 12)
    beds = sites["boarding_beds"].fillna(0).to_numpy() > 0
    town_v = villages["township_code"].astype(str).to_numpy()
    town_s = sites["township_code"].astype(str).to_numpy()
    rows = []
    for stage, col in CHILD_COLUMNS.items():
        grades = sorted(stage_grades(stage))
        per_grade = split_by_grade(villages[col].fillna(0).to_numpy(), grades)
        for j, g in enumerate(grades):
            cand = offers[:, g + 2]
            masked = np.where(cand[None, :], choose, np.inf)
            site = np.argmin(masked, axis=1) if ns else np.zeros(nv, int)
            reach = np.isfinite(masked[np.arange(nv), site]) if ns else np.zeros(nv, bool)
            w = walk[np.arange(nv), site] if ns else np.full(nv, np.inf)
            b = busm[np.arange(nv), site] if ns else np.full(nv, np.inf)
            walk_near = (
                np.where(cand[None, :], walk, np.inf).min(axis=1) if ns else np.full(nv, np.inf)
            )
            bus_near = (
                np.where(cand[None, :], busm, np.inf).min(axis=1) if ns else np.full(nv, np.inf)
            )
            travel = np.full(nv, "none", dtype=object)
            minutes = np.full(nv, np.nan)
            boards = np.zeros(nv, dtype=bool)
            walks = reach & (w <= settings.max_walk_minutes)
            rides = reach & ~walks & (b <= settings.max_ride_minutes)
            travel[walks], minutes[walks] = "walk", w[walks]
            travel[rides], minutes[rides] = "bus", b[rides]
            far = reach & ~walks & ~rides
            if g >= 4:
                board_cand = cand & beds
                for v in np.flatnonzero(far):
                    trip = np.where(np.isfinite(busm[v]), busm[v], walk[v])
                    key = np.where(board_cand, trip + np.where(town_s == town_v[v], 0, 1e6), np.inf)
                    if np.isfinite(key).any():
                        site[v] = int(np.argmin(key))
                    minutes[v] = trip[site[v]] if np.isfinite(trip[site[v]]) else np.nan
                boards[far] = True
                travel[far] = "board"
            else:
                long_walk = far & np.isfinite(w)
                travel[long_walk], minutes[long_walk] = "walk", w[long_walk]
                long_bus = far & ~np.isfinite(w)
                travel[long_bus], minutes[long_bus] = "bus", b[long_bus]
            rows.append(
                pd.DataFrame(
                    {
                        "village": np.arange(nv),
                        "grade": g,
                        "stage": stage,
                        "children": per_grade[:, j],
                        "site": np.where(reach, site, -1),
                        "minutes": minutes,
                        "mode": travel,
                        "boards": boards,
                        "walk_nearest": np.where(np.isfinite(walk_near), walk_near, np.nan),
                        "bus_nearest": np.where(np.isfinite(bus_near), bus_near, np.nan),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def village_assignment(
    grades: pd.DataFrame, villages: pd.DataFrame, sites: pd.DataFrame
) -> pd.DataFrame:
    """The per-grade assignment summed to ``village_id, stage, children, site_id, minutes, mode,
    boards``: one row per village, stage and way of going to school (a village's primary
    pupils split when grades 1-3 attend a teaching point and 4-6 the central primary, or when
    some walk and others board). Villages without children in a stage keep one row with 0."""
    g = grades.copy()
    g["village_id"] = villages["village_id"].to_numpy()[g["village"]]
    site_ids = np.append(sites["site_id"].astype(str).to_numpy(), "")
    g["site_id"] = site_ids[g["site"].to_numpy()]
    has = g[g["children"] > 0]
    out = (
        has.groupby(
            ["village", "village_id", "stage", "site_id", "mode", "boards"],
            sort=False,
            dropna=False,
        )
        .agg(
            children=("children", "sum"), minutes=("minutes", "first"), first_grade=("grade", "min")
        )
        .reset_index()
    )
    empty = g.groupby(["village", "stage"])["children"].transform("sum") == 0
    zero = g[empty].sort_values("grade").groupby(["village", "stage"], sort=False).head(1).copy()
    zero["first_grade"] = zero["grade"]
    out = pd.concat([out, zero[out.columns]], ignore_index=True)
    order = {s: i for i, s in enumerate(STAGES)}
    out["_s"] = out["stage"].map(order)
    out = out.sort_values(["village", "_s", "first_grade", "boards"], kind="stable")
    out["site_id"] = out["site_id"].replace("", None)
    return out[ASSIGNMENT_COLUMNS].reset_index(drop=True)


@dataclass
class RasterCatchments:
    """Network-following labels on a raster over the county."""

    transform: object
    crs: object
    inside: np.ndarray  # cells in the county
    node: np.ndarray  # nearest network node of each cell
    connector_min: np.ndarray  # minutes from the cell to that node


def raster_over(network, boundary, cell_m: float) -> RasterCatchments:
    """A raster over the boundary whose cells know their nearest road node."""
    from affine import Affine
    from rasterio.features import rasterize

    crs = network.metric_crs
    poly = gpd.GeoSeries([boundary], crs="EPSG:4326").to_crs(crs).iloc[0]
    minx, miny, maxx, maxy = poly.bounds
    w, h = int(np.ceil((maxx - minx) / cell_m)), int(np.ceil((maxy - miny) / cell_m))
    transform = Affine(cell_m, 0, minx, 0, -cell_m, maxy)
    inside = rasterize(
        [poly], out_shape=(h, w), transform=transform, fill=0, default_value=1
    ).astype(bool)
    rr, cc = np.nonzero(inside)
    x, y = minx + (cc + 0.5) * cell_m, maxy - (rr + 0.5) * cell_m
    tree, _ = network._tree
    dist, node = tree.query(np.column_stack([x, y]))
    full_node = np.full(inside.shape, -1)
    full_node[inside] = node
    conn = np.full(inside.shape, np.nan)
    conn[inside] = dist / (network.settings.connector_speed_kmh / 3.6) / 60
    return RasterCatchments(transform, crs, inside, full_node, conn)


def _to_sites(
    network, sites: gpd.GeoDataFrame, candidates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Minutes from every node to the nearest candidate site, and which site (row) it is."""
    snap = network.snap(sites.iloc[candidates], ids=candidates)
    nodes = snap["node"].to_numpy()
    uniq, first = np.unique(nodes, return_index=True)
    dist, _, src = dijkstra(
        network.graph.reverse.time, indices=uniq, min_only=True, return_predecessors=True
    )
    site_of_node = dict(zip(uniq.tolist(), candidates[first].tolist(), strict=True))
    label = np.array([site_of_node.get(int(s), -1) for s in src]) if len(src) else np.array([], int)
    return dist / 60.0, label


def _polygons(mask_by_value: dict, raster: RasterCatchments) -> dict:
    """Polygonise boolean rasters (value -> mask) into WGS84 geometries."""
    out = {}
    for value, mask in mask_by_value.items():
        if not mask.any():
            continue
        parts = [
            shapely.geometry.shape(g)
            for g, _ in shapes(mask.astype(np.uint8), mask=mask, transform=raster.transform)
        ]
        geom = shapely.union_all(parts)
        out[value] = gpd.GeoSeries([geom], crs=raster.crs).to_crs("EPSG:4326").iloc[0]
    return out


def catchment_polygons(
    network, sites: gpd.GeoDataFrame, raster: RasterCatchments, assignment: pd.DataFrame
):
    """One polygon per site and stage: the area whose children the site serves, by road.

    Within a stage, grades taught by different sets of sites have their own catchments; a
    site's polygon is the union over them (a central primary's polygon covers the teaching
    points' areas too, for grades 4-6). ``children`` comes from the village assignment.
    """
    offers = np.array(
        [[g in parse_grades(gr) for g in range(-2, 10)] for gr in sites["grades"]]
    ).reshape(len(sites), 12)
    rows = []
    for stage in STAGES:
        groups: dict[tuple, list[int]] = {}
        for g in sorted(stage_grades(stage)):
            groups.setdefault(tuple(np.flatnonzero(offers[:, g + 2])), []).append(g)
        masks: dict[int, np.ndarray] = {}
        for cands in groups:
            if not cands:
                continue
            _, label = _to_sites(network, sites, np.array(cands))
            cell_site = np.where(raster.inside, label[np.clip(raster.node, 0, None)], -1)
            for s in np.unique(cell_site[cell_site >= 0]):
                masks[s] = masks.get(s, np.zeros_like(raster.inside)) | (cell_site == s)
        geoms = _polygons(masks, raster)
        served = assignment[assignment["stage"] == stage].groupby("site_id")["children"].sum()
        for s, geom in geoms.items():
            sid = str(sites["site_id"].iloc[s])
            rows.append(
                {
                    "site_id": sid,
                    "stage": stage,
                    "children": int(served.get(sid, 0)),
                    "geometry": geom,
                }
            )
    return gpd.GeoDataFrame(
        rows,
        columns=["site_id", "stage", "children", "geometry"],
        geometry="geometry",
        crs="EPSG:4326",
    )


def isochrone_bands(
    network, sites, raster: RasterCatchments, bands=(15, 30, 45, 60), label: str = "walk"
):
    """Bands of travel time to the nearest site teaching each stage's first grade."""
    offers = np.array(
        [[g in parse_grades(gr) for g in range(-2, 10)] for gr in sites["grades"]]
    ).reshape(len(sites), 12)
    edges = [0, *bands]
    rows = []
    for stage in STAGES:
        first = min(stage_grades(stage))
        cands = np.flatnonzero(offers[:, first + 2])
        if not len(cands):
            continue
        minutes, _ = _to_sites(network, sites, cands)
        cell = np.where(
            raster.inside, minutes[np.clip(raster.node, 0, None)] + raster.connector_min, np.nan
        )
        masks = {}
        for lo, hi in itertools.pairwise(edges):
            masks[(lo, hi)] = raster.inside & (cell >= lo) & (cell < hi)
        masks[(edges[-1], np.inf)] = raster.inside & ~(cell < edges[-1])
        for (lo, hi), geom in _polygons(masks, raster).items():
            rows.append(
                {
                    "mode": label,
                    "stage": stage,
                    "band": f"{lo}-{hi:g}" if np.isfinite(hi) else f">{lo}",
                    "min_minutes": lo,
                    "max_minutes": hi if np.isfinite(hi) else np.nan,
                    "geometry": geom,
                }
            )
    return gpd.GeoDataFrame(
        rows,
        columns=["mode", "stage", "band", "min_minutes", "max_minutes", "geometry"],
        geometry="geometry",
        crs="EPSG:4326",
    )


def boarding_catchments(
    assignment: pd.DataFrame, villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, boundary
):
    """Per site with boarders: the villages and pupils boarding there, beds needed and available."""
    from .demand import village_areas

    board = assignment[assignment["boards"] & (assignment["children"] > 0)]
    areas = village_areas(villages, boundary).set_index(villages["village_id"].to_numpy())
    info = sites.set_index("site_id")
    rows = []
    for sid, grp in board.groupby("site_id"):
        names = villages.set_index("village_id").loc[grp["village_id"].unique(), "name"].astype(str)
        beds = (
            float(info.loc[sid, "boarding_beds"])
            if pd.notna(info.loc[sid, "boarding_beds"])
            else 0.0
        )
        need = int(grp["children"].sum())
        rows.append(
            {
                "site_id": sid,
                "name": str(info.loc[sid, "name"]),
                "township_code": str(info.loc[sid, "township_code"]),
                "stages": ",".join(sorted(grp["stage"].unique())),
                "villages": len(names),
                "village_names": "、".join(names),
                "boarders": need,
                "beds": beds,
                "beds_needed": need,
                "shortfall": max(0.0, need - beds),
                "geometry": shapely.union_all(
                    areas.loc[grp["village_id"].unique()].geometry.to_numpy()
                ),
            }
        )
    cols = [
        "site_id",
        "name",
        "township_code",
        "stages",
        "villages",
        "village_names",
        "boarders",
        "beds",
        "beds_needed",
        "shortfall",
        "geometry",
    ]
    return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs="EPSG:4326")


@dataclass
class CatchmentResult:
    """Everything the catchment analysis produces for a county.

    Attributes
    ----------
    grades
        Per village and grade: site, minutes, mode, boarding (see :func:`assign`).
    assignment
        ``village_assignment.csv``: ``village_id, stage, children, site_id, minutes, mode, boards``.
    polygons
        Catchment polygon per site and stage (``site_id, stage, children``).
    boarding
        Boarding catchment per site with boarders (villages, pupils, beds needed and available).
    isochrones
        Travel-time bands to the nearest site of each stage, on foot and by bus.
    accessibility
        ``township_code, stage, indicator, value``.
    accounting
        Per stage: children in the villages, assigned, unassigned, in the catchment polygons.
    """

    grades: pd.DataFrame
    assignment: pd.DataFrame
    polygons: gpd.GeoDataFrame
    boarding: gpd.GeoDataFrame
    isochrones: gpd.GeoDataFrame
    accessibility: pd.DataFrame
    accounting: pd.DataFrame


def analyse_catchments(
    county, mode: str = "walk", bus: bool = True, bands=(15, 30, 45, 60)
) -> CatchmentResult:
    """Catchments, boarding catchments, isochrones and accessibility of a loaded county.

    Parameters
    ----------
    county
        A :class:`~ruralnet.county.County` (walking uses its DEM when it has one).
    mode
        Travel time that picks each village's site: ``walk`` or ``bus``.
    bus
        Whether school buses may carry pupils beyond walking distance (``False``: those of
        grades 4-9 board, the younger ones walk far).
    bands
        Isochrone band limits in minutes.
    """
    from .access import indicators

    villages = county.villages.reset_index(drop=True)
    sites = county.sites[county.sites["status"] == "open"].reset_index(drop=True)
    walk_net, bus_net = county.network("walk"), county.network("bus")
    walk = time_matrix(walk_net, villages, sites)
    busm = time_matrix(bus_net, villages, sites) if (bus or mode == "bus") else None
    grades = assign(villages, sites, walk, busm, county.settings, mode=mode)
    assignment = village_assignment(grades, villages, sites)
    boundary = (
        county.boundary if county.boundary is not None else _fallback_boundary(villages, sites)
    )
    rasters = {
        m: raster_over(n, boundary, county.settings.catchment_cell_m)
        for m, n in (("walk", walk_net), ("bus", bus_net))
    }
    net = walk_net if mode == "walk" else bus_net
    polygons = catchment_polygons(net, sites, rasters[mode], assignment)
    iso = pd.concat(
        [
            isochrone_bands(n, sites, rasters[m], bands, m)
            for m, n in (("walk", walk_net), ("bus", bus_net))
        ],
        ignore_index=True,
    )
    boarding = boarding_catchments(assignment, villages, sites, boundary)
    access = indicators(grades, villages, county.settings)
    accounting = _accounting(villages, assignment, polygons)
    return CatchmentResult(
        grades,
        assignment,
        polygons,
        boarding,
        gpd.GeoDataFrame(iso, crs="EPSG:4326"),
        access,
        accounting,
    )


def _fallback_boundary(villages, sites):
    pts = shapely.MultiPoint(
        np.concatenate(
            [
                shapely.get_coordinates(villages.geometry.to_numpy()),
                shapely.get_coordinates(sites.geometry.to_numpy()),
            ]
        )
    )
    return shapely.convex_hull(pts).buffer(0.02)


def _accounting(villages, assignment, polygons) -> pd.DataFrame:
    rows = []
    for stage, col in CHILD_COLUMNS.items():
        a = assignment[assignment["stage"] == stage]
        assigned = int(a.loc[a["site_id"].notna(), "children"].sum())
        unassigned = int(a.loc[a["site_id"].isna(), "children"].sum())
        in_polygons = int(polygons.loc[polygons["stage"] == stage, "children"].sum())
        rows.append(
            {
                "stage": stage,
                "children": int(villages[col].sum()),
                "assigned": assigned,
                "unassigned": unassigned,
                "in_catchments": in_polygons,
                "balanced": int(villages[col].sum())
                == assigned + unassigned
                == in_polygons + unassigned,
            }
        )
    return pd.DataFrame(rows)
