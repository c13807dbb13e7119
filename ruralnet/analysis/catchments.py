"""Catchments: which site serves each village, who walks, who rides the bus, who boards.

The catchment analysis is the current situation of the run's demand
(:mod:`ruralnet.analysis.demand`), measured by the way-to-school rules
(:mod:`ruralnet.analysis.rules`) exactly as the plans are: the same pupils, the same ways,
the same totals as ``report/assignment.csv`` of the current plan. Each village's pupils are
served grade by grade by the nearest open site teaching the grade (a teaching point with
grades 1-3 takes a village's grades 1-3, its grades 4-6 go to a site that teaches them), and
boarders board at the nearest site with beds, their own township's first.

Catchment polygons follow the road network: every cell of a raster over the county takes
the site that the nearest road node reaches first, so a catchment stops at a ridge that no
road crosses. Every pupil is accounted for: assigned to a site, or unassigned (no site
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

from ..model.geo import village_areas
from ..model.grades import STAGES, grade_column, offer_matrix, stage_grades
from . import rules
from .access import indicators
from .evaluation import evaluate
from .plans import current_plan, plan_context

log = logging.getLogger(__name__)

#: Columns of ``village_assignment.csv``.
ASSIGNMENT_COLUMNS = ["village_id", "stage", "children", "site_id", "minutes", "mode", "boards"]


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


def _co_located(network, sites: gpd.GeoDataFrame, candidates: np.ndarray) -> dict[int, list[int]]:
    """Sites that share their road node with the first candidate at that node (they share
    its catchment)."""
    nodes = network.snap(sites.iloc[candidates], ids=candidates)["node"].to_numpy()
    out: dict[int, list[int]] = {}
    first_at: dict[int, int] = {}
    for site, node in zip(candidates.tolist(), nodes.tolist(), strict=True):
        if node in first_at:
            out.setdefault(first_at[node], []).append(site)
        else:
            first_at[node] = site
    return out


def _polygons(mask_by_value: dict, raster: RasterCatchments) -> dict:
    """Polygonise boolean rasters (value -> mask) into WGS84 geometries.

    The pieces of one mask never overlap (they are its connected regions), so they are merged
    as a coverage (``shapely.coverage_union_all``, linear in the edges; the general overlay
    union was a quarter of the catchments' time), and all values are reprojected at once.
    """
    values, geoms = [], []
    for value, mask in mask_by_value.items():
        if not mask.any():
            continue
        window, transform = _window(mask, raster.transform)
        parts = [
            shapely.geometry.shape(g)
            for g, _ in shapes(window.astype(np.uint8), mask=window, transform=transform)
        ]
        values.append(value)
        geoms.append(shapely.coverage_union_all(parts))
    wgs84 = gpd.GeoSeries(geoms, crs=raster.crs).to_crs("EPSG:4326")
    return dict(zip(values, wgs84, strict=True))


def _window(mask: np.ndarray, transform) -> tuple[np.ndarray, object]:
    """The mask cut to the rows and columns it covers, and the transform of that window (the
    same cell edges: tracing a small catchment no longer walks the whole county's raster)."""
    from affine import Affine

    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    r0, c0 = int(rows[0]), int(cols[0])
    t = transform
    moved = Affine(t.a, t.b, t.c + c0 * t.a + r0 * t.b, t.d, t.e, t.f + c0 * t.d + r0 * t.e)
    return mask[r0 : rows[-1] + 1, c0 : cols[-1] + 1], moved


def _square(point, raster: RasterCatchments):
    """A half-cell square around a point (WGS84), for a site without cells of its own."""
    half = abs(raster.transform.a) / 2
    p = gpd.GeoSeries([point], crs="EPSG:4326").to_crs(raster.crs).iloc[0]
    square = shapely.box(p.x - half, p.y - half, p.x + half, p.y + half)
    return gpd.GeoSeries([square], crs=raster.crs).to_crs("EPSG:4326").iloc[0]


def catchment_polygons(
    network,
    sites: gpd.GeoDataFrame,
    raster: RasterCatchments,
    assignment: pd.DataFrame,
    open_sites: np.ndarray,
):
    """One polygon per site and stage: the area whose children the site serves, by road.

    Within a stage, grades taught by different sets of sites have their own catchments; a
    site's polygon is the union over them (a central primary's polygon covers the teaching
    points' areas too, for grades 4-6). Sites at the same road node share their polygon; a
    site with pupils but no raster cell of its own (outside the boundary, or a cell size
    coarser than its area) gets a half-cell square around it, so its pupils are on the map.
    ``children`` comes from the village assignment.
    """
    offers = offer_matrix(sites["grades"]) & open_sites[:, None]
    rows = []
    for stage in STAGES:
        groups: dict[tuple, list[int]] = {}
        for g in sorted(stage_grades(stage)):
            groups.setdefault(tuple(np.flatnonzero(offers[:, grade_column(g)])), []).append(g)
        masks: dict[int, np.ndarray] = {}
        for cands in groups:
            if not cands:
                continue
            _, label = _to_sites(network, sites, np.array(cands))
            cell_site = np.where(raster.inside, label[np.clip(raster.node, 0, None)], -1)
            shared = _co_located(network, sites, np.array(cands))
            for s in np.unique(cell_site[cell_site >= 0]):
                for site in (s, *shared.get(int(s), [])):
                    masks[site] = masks.get(site, np.zeros_like(raster.inside)) | (cell_site == s)
        geoms = _polygons(masks, raster)
        served = assignment[assignment["stage"] == stage].groupby("site_id")["children"].sum()
        pos = {sid: i for i, sid in enumerate(sites["site_id"].astype(str))}
        for sid in served.index[served > 0]:
            if pos[sid] not in geoms:
                geoms[pos[sid]] = _square(sites.geometry.iloc[pos[sid]], raster)
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
    network, sites, raster: RasterCatchments, bands, label: str, open_sites: np.ndarray
):
    """Bands of travel time to the nearest open site teaching each stage's first grade."""
    offers = offer_matrix(sites["grades"]) & open_sites[:, None]
    edges = [0, *bands]
    rows = []
    for stage in STAGES:
        first = min(stage_grades(stage))
        cands = np.flatnonzero(offers[:, grade_column(first)])
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
    board = assignment[
        assignment["boards"]
        & (assignment["children"] > 0)
        & (assignment["origin_type"] == "village")
    ]
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
    context
        The :class:`~ruralnet.analysis.plans.PlanContext` (demand groups and travel times).
    evaluation
        The current plan measured (:func:`ruralnet.analysis.evaluation.evaluate`).
    assignment
        ``village_assignment.csv``: :data:`ASSIGNMENT_COLUMNS` (plus ``origin_type``), one
        row per village (or site, for pupils no village maps to), stage and way to school.
    polygons
        Catchment polygon per site and stage (``site_id, stage, children``).
    boarding
        Boarding catchment per site with boarders (villages, pupils, beds needed and available).
    isochrones
        Travel-time bands to the nearest site of each stage, on foot and by bus.
    accessibility
        ``township_code, stage, indicator, value``.
    accounting
        Per stage: pupils of the demand, assigned, unassigned, in the catchment polygons.
    """

    context: object
    evaluation: object
    assignment: pd.DataFrame
    polygons: gpd.GeoDataFrame
    boarding: gpd.GeoDataFrame
    isochrones: gpd.GeoDataFrame
    accessibility: pd.DataFrame
    accounting: pd.DataFrame


def analyse_catchments(county, mode: str = "walk", bus: bool = True, ctx=None) -> CatchmentResult:
    """Catchments, boarding catchments, isochrones and accessibility of a loaded county.

    Parameters
    ----------
    county
        A :class:`~ruralnet.network.county.County` (walking uses its DEM when it has one).
    mode
        Travel time that picks each village's site: ``walk`` or ``bus``.
    bus
        Whether school buses may carry pupils beyond walking distance (``False``: those of
        the boarding grades board, the younger ones are beyond the limits).
    ctx
        The run's :class:`~ruralnet.analysis.plans.PlanContext`, when it has one with the
        same ``mode`` and ``bus`` (so catchments and plans share one demand).
    """

    if ctx is None:
        ctx = plan_context(county, mode=mode, bus=bus)
    ev = evaluate(ctx, current_plan(ctx))
    assignment = village_assignment(ctx, ev)
    sites = county.sites.reset_index(drop=True)
    open_sites = ctx.open_now
    walk_net, bus_net = county.network("walk"), county.network("bus")
    villages = county.villages.reset_index(drop=True)
    boundary = (
        county.boundary if county.boundary is not None else _fallback_boundary(villages, sites)
    )
    s = county.settings
    rasters = {
        m: raster_over(n, boundary, s.catchment_cell_m)
        for m, n in (("walk", walk_net), ("bus", bus_net))
    }
    net = walk_net if mode == "walk" else bus_net
    polygons = catchment_polygons(net, sites, rasters[mode], assignment, open_sites)
    iso = pd.concat(
        [
            isochrone_bands(n, sites, rasters[m], s.time_bands_minutes, m, open_sites)
            for m, n in (("walk", walk_net), ("bus", bus_net))
        ],
        ignore_index=True,
    )
    boarding = boarding_catchments(assignment, villages, sites, boundary)
    access = indicators(ctx, ev)
    accounting = _accounting(ctx, assignment, polygons)
    return CatchmentResult(
        ctx,
        ev,
        assignment,
        polygons,
        boarding,
        gpd.GeoDataFrame(iso, crs="EPSG:4326"),
        access,
        accounting,
    )


def village_assignment(ctx, ev) -> pd.DataFrame:
    """A plan's assignment as ``village_assignment.csv`` rows: ``children`` are the pupils
    of the run's demand basis, ``mode`` the way to school (``none`` when unassigned),
    ``boards`` whether they board. A village with no pupils in a stage keeps one row with 0
    (at the site that would serve its first grade)."""

    a = ev.assignment
    table = pd.DataFrame(
        {
            "village_id": a["village_id"].to_numpy(),
            "stage": a["stage"].to_numpy(),
            "children": a["pupils"].round().astype(np.int64).to_numpy(),
            "site_id": a["site_id"].to_numpy(),
            "minutes": a["minutes"].to_numpy(),
            "mode": np.where(a["site_id"].isna(), "none", a["way"].astype(str)),
            "origin_type": a["origin_type"].to_numpy(),
        }
    )
    present = set(zip(table["village_id"], table["stage"], strict=True))
    zero = []
    site_ids = ctx.sites["site_id"].astype(str).to_numpy()
    urban = (
        ctx.village_urban
        if ctx.village_urban is not None
        else np.zeros(len(ctx.village_ids), dtype=bool)
    )
    for v, vid in enumerate(ctx.village_ids):
        for stage in STAGES:
            if (vid, stage) in present:
                continue
            first = min(stage_grades(stage))
            j = ctx.catchment[v, grade_column(first)] if ctx.catchment is not None else -1
            tt = ctx.times
            code, minutes = rules.way_codes(
                first, tt.village_walk[v, j], tt.village_bus[v, j], ctx.settings, urban[v]
            )
            zero.append(
                {
                    "village_id": vid,
                    "stage": stage,
                    "children": 0,
                    "site_id": site_ids[j] if j >= 0 else None,
                    "minutes": float(minutes) if j >= 0 else np.nan,
                    "mode": rules.WAYS[int(code)] if j >= 0 else "none",
                    "origin_type": "village",
                }
            )
    out = pd.concat([table, pd.DataFrame(zero, columns=table.columns)], ignore_index=True)
    order = {s: i for i, s in enumerate(STAGES)}
    out = out.assign(_s=out["stage"].map(order)).sort_values(["village_id", "_s"], kind="stable")
    out["boards"] = out["mode"] == "board"
    return out[[*ASSIGNMENT_COLUMNS, "origin_type"]].reset_index(drop=True)


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


def _accounting(ctx, assignment, polygons) -> pd.DataFrame:
    rows = []
    demand = ctx.groups.groupby("stage")["pupils"].sum()
    for stage in STAGES:
        a = assignment[assignment["stage"] == stage]
        assigned = int(a.loc[a["site_id"].notna(), "children"].sum())
        unassigned = int(a.loc[a["site_id"].isna(), "children"].sum())
        in_polygons = int(polygons.loc[polygons["stage"] == stage, "children"].sum())
        total = int(demand.get(stage, 0))
        rows.append(
            {
                "stage": stage,
                "children": total,
                "assigned": assigned,
                "unassigned": unassigned,
                "in_catchments": in_polygons,
                "balanced": total == assigned + unassigned == in_polygons + unassigned,
            }
        )
    return pd.DataFrame(rows)
