"""A plan's school buses: every rider on a route, morning and afternoon, and the county's fleet.

:func:`plan_buses` groups a plan's riders into each school's runs
(:mod:`ruralnet.buses.school_runs`), routes each run on its own (the fewest buses for that
school), and with ``bus_fleet`` on chains them into the county's bus days
(:mod:`ruralnet.buses.county_fleet`). Unserved pick-ups are listed with the reason, never
dropped; every route is re-checked by the independent checker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from .county_fleet import CountyFleet, county_fleet
from .routing import check_routes, ride_time_s, rides_s, route_length_m
from .school_runs import (
    RunKind,
    bus_riders,
    route_line,
    run_key,
    site_run,
    snaps,
    solve_cached,
    weekly_groups,
)

log = logging.getLogger(__name__)

ROUTE_COLUMNS = ["route", "site_id", "direction", "seq", "stop", "pupils", "minutes"]
LINE_COLUMNS = [
    "route",
    "site_id",
    "direction",
    "run",
    "seats",
    "pupils",
    "km",
    "longest_ride_min",
    "geometry",
]
RUN_COLUMNS = [
    "site_id",
    "direction",
    "run",
    "seats",
    "limit_min",
    "buses",
    "pupils",
    "bus_km",
    "longest_ride_min",
    "unserved_pupils",
    "fewest_buses_proven",
    "own_buses",
]


@dataclass
class CountyBuses:
    """Bus runs of a plan.

    Attributes
    ----------
    routes
        :data:`ROUTE_COLUMNS` plus ``seats``: one row per stop of every route; route ids are
        ``<site>-<AM|PM>-<tag>-<k>`` (:attr:`RunKind.tag`).
    lines
        One LineString per route along the roads, with its site, pupils, km and longest ride.
    schools
        :data:`RUN_COLUMNS`: per site, direction and run, the buses, pupils and bus-km.
    unserved
        Pick-up points no bus can serve within the limits, with the reason.
    violations
        Problems found by the independent route check (empty when all is well).
    county_fleet
        The county's bus days as one fleet (:class:`ruralnet.buses.county_fleet.CountyFleet`), with
        ``bus_fleet`` on; the weekly boarders' trips live there.
    chosen
        :func:`~ruralnet.buses.school_runs.run_key` -> the routes each site runs (the
        fleet's choice): the start of the next year's fleet (``plan_buses(previous=...)``).
    """

    routes: pd.DataFrame
    lines: gpd.GeoDataFrame
    schools: pd.DataFrame
    unserved: pd.DataFrame
    violations: list[str] = field(default_factory=list)
    county_fleet: CountyFleet | None = None
    chosen: dict = field(default_factory=dict)

    def fleet(self) -> pd.DataFrame:
        """Buses each site needs on its own: per seat size, the larger of its morning and
        afternoon runs (its own fewest-bus plans; and its weekly boarders' runs), as
        ``site_id, seats, buses``: not shared with other schools."""
        own = self.schools[["site_id", "seats", "direction", "own_buses"]]
        if self.county_fleet is not None:
            own = pd.concat([own, self.county_fleet.weekly_own()], ignore_index=True)
        if own.empty:
            return pd.DataFrame(columns=["site_id", "seats", "buses"])
        per_direction = own.groupby(["site_id", "seats", "direction"])["own_buses"].sum()
        out = per_direction.groupby(["site_id", "seats"]).max().reset_index()
        return out.rename(columns={"own_buses": "buses"})

    def school_by_school(self) -> int:
        """Buses of the whole county when every school keeps its own buses."""
        return int(self.fleet()["buses"].sum())

    def buses_needed(self) -> int:
        """Buses the county needs: the shared fleet's busiest day per kind of bus (with
        ``bus_fleet`` on), else every school's own buses."""
        if self.county_fleet is not None:
            return self.county_fleet.buses()
        return self.school_by_school()

    def bus_km(self) -> float:
        """Kilometres driven per school day (morning and afternoon; with the fleet, the empty
        legs between schools and from the depots too)."""
        if self.county_fleet is not None:
            return self.county_fleet.bus_km()
        return float(self.lines["km"].sum()) if len(self.lines) else 0.0

    def weekly_km(self) -> float:
        """Kilometres of the boarders' weekly trips (Friday home and Sunday back)."""
        return self.county_fleet.bus_km("weekly") if self.county_fleet is not None else 0.0

    def served(self) -> pd.DataFrame:
        """Riders seated per site (morning runs): ``site_id, pupils``."""
        am = self.routes[self.routes["direction"] == "morning"]
        return am.groupby("site_id", as_index=False)["pupils"].sum()


def plan_buses(
    county,
    ctx,
    rows: pd.DataFrame,
    sites=None,
    seed: int = 0,
    cache: dict | None = None,
    previous: dict | None = None,
) -> CountyBuses:
    """Routes for every rider of a plan, morning and afternoon, and the county's fleet.

    Parameters
    ----------
    county
        The loaded county (its bus network and layers).
    ctx
        The plan context (demand groups, settings).
    rows
        The plan's flow rows (:func:`ruralnet.analysis.evaluation.flow_rows`).
    sites
        Only the riders of these sites (default: every site).
    seed
        Solver seed.
    cache
        Solutions of identical runs (shared between the plans of one run).
    previous
        An earlier fleet's :attr:`CountyBuses.chosen` (the year before): each day's fleet
        starts from its runs at the sites whose riders are the same, and from the sites' own
        runs elsewhere, and is never worse than that start.

    Notes
    -----
    Each site's runs are first planned on their own (the fewest buses for that site). With
    ``bus_fleet`` on, the runs are then chosen again with one county fleet in view
    (:mod:`ruralnet.buses.county_fleet`): the routes reported are the fleet's.
    """
    s = county.settings
    net = county.network("bus")
    snap = snaps(county, net)
    net.matrix.include(snap["node"])  # every village and site: one matrix for every plan
    cache = {} if cache is None else cache
    riders = bus_riders(ctx, rows, sites)
    groups = [
        site_run(net, snap, site_id, run, part, s)
        for (site_id, run), part in riders.groupby(["site_id", "run"], sort=True)
    ]
    weekly = weekly_groups(county, ctx, rows, net, snap, sites) if s.bus_fleet else []
    every = groups + weekly
    own, keys = {}, {}
    for k, g in enumerate(every):
        for direction in ("morning", "afternoon") if g.run != RunKind.WEEKLY else ("morning",):
            keys[k, direction] = run_key(g, direction)
            own[k, direction] = solve_cached(g, direction, s, seed, cache)
    fleet = None
    if s.bus_fleet and every:
        before = {at: previous[key] for at, key in keys.items() if previous and key in previous}
        fleet = county_fleet(county, net, every, own, seed, cache.setdefault("fleet", {}), before)
    final = {at: (fleet.routes[at] if fleet else sol.routes) for at, sol in own.items()}
    out = _tables(net, groups, own, final, fleet, s)
    out.chosen = {keys[at]: routes for at, routes in final.items()}
    return out


def _tables(net, groups, own, final, fleet, s) -> CountyBuses:
    """The output tables of the daily runs (weekly runs live in the fleet)."""
    parts: dict[str, list] = {"routes": [], "lines": [], "schools": [], "unserved": []}
    violations: list[str] = []
    for k, g in enumerate(groups):
        for direction in ("morning", "afternoon"):
            ids = fleet.route_ids.get((k, direction)) if fleet is not None else None
            out = _run_rows(net, g, direction, own[k, direction], final[k, direction], s, ids)
            for key, rows_ in zip(("routes", "lines", "schools", "unserved"), out, strict=False):
                parts[key].extend(rows_)
            violations.extend(out[-1])
    if violations:
        log.error("bus routes failed the independent check: %s", violations[:5])
    return CountyBuses(
        pd.DataFrame(parts["routes"], columns=[*ROUTE_COLUMNS, "seats"]),
        gpd.GeoDataFrame(
            parts["lines"], columns=LINE_COLUMNS, geometry="geometry", crs="EPSG:4326"
        ),
        pd.DataFrame(parts["schools"], columns=RUN_COLUMNS),
        pd.DataFrame(
            parts["unserved"],
            columns=["site_id", "direction", "run", "stop_id", "pupils", "reason"],
        ),
        violations,
        fleet,
    )


def _run_rows(net, g, direction: str, sol, routes, s, ids=None):
    """Rows of every output table for one site's run kind in one direction (``ids``: the
    fleet's run id of each route; default ``<site>-AM-<kind>-<k>``)."""
    problem = g.problem(direction, s)
    violations = [f"{g.site_id} {direction} {g.run}: {b}" for b in check_routes(problem, routes)]
    tag = f"{g.site_id}-{'AM' if direction == 'morning' else 'PM'}-{g.run.tag}"
    out_routes, lines = [], []
    for k, route in enumerate(routes, start=1):
        rid = ids[k - 1] if ids else f"{tag}-{k}"
        rides = (rides_s(problem, route) / 60).tolist()
        for seq, ((stop, n), ride) in enumerate(zip(route, rides, strict=True), start=1):
            out_routes.append(
                (rid, g.site_id, direction, seq, problem.stop_ids[stop - 1], n, ride, g.seats)
            )
        lines.append(
            {
                "route": rid,
                "site_id": g.site_id,
                "direction": direction,
                "run": str(g.run),
                "seats": g.seats,
                "pupils": sum(n for _, n in route),
                "km": route_length_m(problem, route) / 1000,
                "longest_ride_min": max(rides),
                "geometry": route_line(net, g.nodes, route, direction),
            }
        )
    rides_all = [ride_time_s(problem, route) / 60 for route in routes]
    schools = [
        (g.site_id, direction, str(g.run), g.seats, g.limit_s / 60, len(routes),
         int(sum(n for route in routes for _, n in route)),
         sum(route_length_m(problem, r) for r in routes) / 1000, max(rides_all, default=0.0),
         int(sol.unserved["pupils"].sum()) if len(sol.unserved) else 0,
         bool(sol.meta.get("optimal", False)), sol.buses)
    ]  # fmt: skip
    unserved = [
        (g.site_id, direction, str(g.run), u.stop_id, u.pupils, u.reason)
        for u in sol.unserved.itertuples()
    ]
    return out_routes, lines, schools, unserved, violations
