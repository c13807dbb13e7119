"""A school's bus runs: its riders grouped by pick-up into runs that share seats and a ride
limit, and each run routed on its own.

For every site whose pupils ride in a plan (the way-to-school rules say ``bus``), its riders
are grouped by pick-up point (their village, or the site they come from) into run kinds
(:class:`RunKind`): kindergarten children (45-seat buses, the young pupils' limit), young
pupils of the grades up to ``young_max_grade`` (56 seats, the young limit) and the older
pupils (56 seats, ``max_ride_minutes``); the boarders' weekly trip home is a run kind of its
own. A pick-up with young pupils keeps the young limit for all its riders. Each
:class:`SiteRun` is routed with :func:`ruralnet.buses.routing.solve` on the bus network's
travel times: morning runs to the school and afternoon runs from it (one-way streets and
slopes make the two differ). Identical runs (same school, stops, pupils, seats and limit) are
solved once and reused, so the plans of one analysis share their work.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
import shapely

from ..analysis import rules
from ..model.errors import PlanError
from .routing import BusProblem, solve

log = logging.getLogger(__name__)


class RunKind(StrEnum):
    """Riders of a site that share seats and a ride limit."""

    KINDERGARTEN = "kindergarten"
    YOUNG = "young"
    OLDER = "older"
    WEEKLY = "weekly"

    @property
    def bus_type(self) -> str:
        """``kindergarten`` (kindergarten buses) or ``school`` (school buses)."""
        return "kindergarten" if self is RunKind.KINDERGARTEN else "school"

    @property
    def tag(self) -> str:
        """The letter of the run kind in route ids (``<site>-AM-<tag>-<k>``)."""
        return {"kindergarten": "K", "young": "Y", "older": "O", "weekly": "W"}[self.value]


@dataclass
class SiteRun:
    """The riders of one site that share seats and a ride limit (one run kind).

    Attributes
    ----------
    site_id, run
        The site and the run kind.
    stops
        Stop id -> pupils.
    seats, limit_s
        Seats per bus, ride limit.
    nodes
        Bus-network node of the site, then of each stop.
    time_s, dist_m
        Travel between the site and the stops, in the real direction (row: from).
    """

    site_id: str
    run: RunKind
    stops: pd.Series
    seats: int
    limit_s: float
    nodes: np.ndarray
    time_s: np.ndarray
    dist_m: np.ndarray

    def problem(self, direction: str, settings) -> BusProblem:
        """The routing problem of this run kind (the afternoon in its own direction)."""
        return BusProblem(
            list(self.stops.index), self.stops.to_numpy(int), self.time_s, self.dist_m,
            self.seats, self.limit_s, settings.bus_stop_seconds, settings.bus_seconds_per_pupil,
            direction=direction,
        )  # fmt: skip

    def towards_school(self, direction: str, settings) -> BusProblem:
        """The problem as a morning run (the afternoon mirrored: stops -> school on the
        transposed times), as the fleet reads it."""
        p = self.problem("morning", settings)
        if direction != "afternoon":
            return p
        p.time_s, p.dist_m = self.time_s.T.copy(), self.dist_m.T.copy()
        return p


def bus_riders(ctx, rows: pd.DataFrame, sites=None) -> pd.DataFrame:
    """A plan's riders by site, run and pick-up: ``site_id, run, stop, pupils, limit_min``.

    ``rows`` are a plan's flow rows (:func:`ruralnet.analysis.evaluation.flow_rows`); ``sites``
    limits them to some sites (default: all).
    """
    s = ctx.settings
    out = way_rows(ctx, rows, rules.BUS, sites)
    young = rules.is_young(out["grade"].to_numpy(), s)
    stop_young = out.assign(y=young).groupby(["site_id", "stop"])["y"].transform("any")
    out["run"] = np.where(
        out["grade"] <= 0,
        RunKind.KINDERGARTEN.value,
        np.where(stop_young, RunKind.YOUNG.value, RunKind.OLDER.value),
    )
    out["limit_min"] = rules.ride_limit(np.where(out["run"] == RunKind.OLDER, 99, 0), s)
    return out.groupby(["site_id", "run", "stop"], as_index=False).agg(
        pupils=("pupils", "sum"), limit_min=("limit_min", "first")
    )


def way_rows(ctx, rows: pd.DataFrame, way: int, sites=None) -> pd.DataFrame:
    """A plan's pupils of one way to school by site and pick-up: ``site_id, stop, grade,
    pupils`` (only ``sites``, when given)."""
    part = rows[(rows["way"] == way) & (rows["pupils"] > 0)]
    site_ids = ctx.sites["site_id"].astype(str).to_numpy()
    out = pd.DataFrame(
        {
            "site_id": site_ids[part["site"].to_numpy()],
            "stop": ctx.groups["origin_id"].to_numpy()[part["group"].to_numpy()],
            "grade": part["grade"].to_numpy(),
            "pupils": part["pupils"].to_numpy(),
        }
    )
    return out[out["site_id"].isin(set(sites))] if sites is not None else out


def weekly_groups(county, ctx, rows: pd.DataFrame, net, snap, sites=None) -> list:
    """The boarders of each site by home pick-up, for the weekly trip."""
    out = way_rows(ctx, rows, rules.BOARD, sites)
    out = out.groupby(["site_id", "stop"], as_index=False)["pupils"].sum()
    out["limit_min"] = rules.weekly_ride_limit(county.settings)
    return [
        site_run(net, snap, site_id, RunKind.WEEKLY, part, county.settings)
        for site_id, part in out.groupby("site_id", sort=True)
    ]


def snaps(county, net) -> pd.DataFrame:
    points = pd.concat(
        [
            county.villages[["village_id", "geometry"]].rename(columns={"village_id": "id"}),
            county.sites[["site_id", "geometry"]].rename(columns={"site_id": "id"}),
        ]
    ).drop_duplicates("id")
    return net.snap(points.geometry, ids=points["id"].astype(str).to_numpy())


def site_run(net, snap, site_id: str, run: str, part: pd.DataFrame, s) -> SiteRun:
    """One site's riders of one run kind, with the travel between the site and the stops."""
    stops = part.groupby("stop", sort=True)["pupils"].sum()
    nodes = np.concatenate([[snap.loc[site_id, "node"]], snap.loc[stops.index, "node"].to_numpy()])
    time_s, dist_m = net.matrix.between(nodes, nodes)
    run = RunKind(run)
    seats = s.kindergarten_bus_seats if run is RunKind.KINDERGARTEN else s.bus_seats
    limit_s = float(part["limit_min"].iloc[0]) * 60
    return SiteRun(str(site_id), run, stops, seats, limit_s, nodes, time_s, dist_m)


def run_key(g: SiteRun, direction: str) -> tuple:
    """What a site's runs of one kind and direction depend on: the same key, the same runs
    (across the plans of a county and the years of its phases)."""
    return (g.site_id, g.run, direction, tuple(g.stops.index), tuple(g.stops), g.seats, g.limit_s)


#: Weekly trips with at most this many pick-ups go through the exact model too (2^12 sets).
WEEKLY_EXACT_STOPS = 12


def solve_cached(g: SiteRun, direction: str, s, seed: int, cache: dict):
    """The site's own routes of one run kind and direction (identical runs solved once).

    The boarders' weekly trips of more than :data:`WEEKLY_EXACT_STOPS` pick-ups skip the exact
    fewest-bus model: their long ride limit makes nearly every set of villages feasible, so
    the enumeration grows past any proof within its limits; PyVRP plans them (the seats give
    their bound). Up to that many, every set is listed in milliseconds and the plan is proven."""
    key = run_key(g, direction)
    if key not in cache:
        last = ("last", g.site_id, g.run, direction)  # the site's runs of another plan or year
        try:
            cache[key] = solve(
                g.problem(direction, s), iterations=s.bus_solver_iterations, seed=seed,
                no_improvement=2_000, split=s.bus_split_stops, exact=g.run != RunKind.WEEKLY or len(g.stops) <= WEEKLY_EXACT_STOPS,
                exact_sets=s.bus_exact_sets, warm=_warm(cache.get(last), g),
            )  # fmt: skip
        except PlanError as exc:
            raise PlanError(f"site {g.site_id} ({g.run.value} runs): {exc}") from exc
        cache[last] = [[g.stops.index[a - 1] for a, _ in r] for r in cache[key].routes]
    return cache[key]


#: A site's riders "differ a little" from an earlier plan's when at least this share of its
#: pick-up points was among the earlier ones: its routing starts from the earlier routes.
WARM_SHARE = 0.8


def _warm(earlier: list | None, g: SiteRun) -> list[list[int]] | None:
    """An earlier plan's routes of the site (pick-up ids) as stop indices of ``g``, when the
    pick-up points are nearly the same (:data:`WARM_SHARE`); else ``None``."""
    if not earlier:
        return None
    index = {stop: a for a, stop in enumerate(g.stops.index, start=1)}
    seen = {stop for route in earlier for stop in route}
    if len(seen & index.keys()) < WARM_SHARE * len(index):
        return None
    return [[index[stop] for stop in route if stop in index] for route in earlier]


def route_line(net, nodes: np.ndarray, route, direction: str) -> shapely.LineString:
    """The route along the roads: school -> stops (afternoon) or stops -> school (morning)."""
    seq = [int(nodes[s]) for s, _ in route]
    seq = [*seq, int(nodes[0])] if direction == "morning" else [int(nodes[0]), *seq]
    coords = []
    for a, b in itertools.pairwise(seq):
        path = net.graph.paths(a, [b])[0] or [a, b]  # one tree per start, kept
        pts = list(zip(net.lon[path].tolist(), net.lat[path].tolist(), strict=True))
        coords.extend(pts if not coords else pts[1:])
    if len(coords) < 2:
        coords = coords * 2
    return shapely.LineString(coords)
