"""School buses for a county plan: every rider on a route, morning and afternoon.

For every site whose pupils ride in a plan (the way-to-school rules say ``bus``), its riders
are grouped by pick-up point (their village, or the site they come from) into runs that share
seats and a ride limit: kindergarten children (45-seat buses, the young pupils' limit), young
pupils of the grades up to ``young_max_grade`` (56 seats, the young limit) and the others
(56 seats, ``max_ride_minutes``). A pick-up with young pupils keeps the young limit for all
its riders. Each run is routed with :func:`ruralnet.buses.routing.solve` on the bus network's
travel times: morning runs to the school and afternoon runs from it (one-way streets and
slopes make the two differ). Buses start at the school; unserved pick-ups are listed with the
reason, never dropped; every route is re-checked by the independent checker.

Identical runs (same school, stops, pupils, seats and limit) are solved once and reused, so
the plans of one run share their work.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..analysis import rules
from .routing import BusProblem, check_routes, ride_from_s, route_length_m, solve

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
]
#: Runs that share seats and a ride limit: kindergarten, young pupils, the others.
RUNS = {"K": "kindergarten", "Y": "young", "O": "others"}


@dataclass
class CountyBuses:
    """Bus runs of a plan.

    Attributes
    ----------
    routes
        :data:`ROUTE_COLUMNS` plus ``seats``: one row per stop of every route; route ids are
        ``<site>-<AM|PM>-<K|Y|O>-<k>``.
    lines
        One LineString per route along the roads, with its site, pupils, km and longest ride.
    schools
        :data:`RUN_COLUMNS`: per site, direction and run, the buses, pupils and bus-km.
    unserved
        Pick-up points no bus can serve within the limits, with the reason.
    violations
        Problems found by the independent route check (empty when all is well).
    """

    routes: pd.DataFrame
    lines: gpd.GeoDataFrame
    schools: pd.DataFrame
    unserved: pd.DataFrame
    violations: list[str] = field(default_factory=list)

    def fleet(self) -> pd.DataFrame:
        """Buses each site needs: per seat size, the larger of its morning and afternoon
        runs together (``site_id, seats, buses``); its own buses, not shared with other
        schools."""
        if self.schools.empty:
            return pd.DataFrame(columns=["site_id", "seats", "buses"])
        per_direction = self.schools.groupby(["site_id", "seats", "direction"])["buses"].sum()
        return per_direction.groupby(["site_id", "seats"]).max().reset_index()

    def buses_needed(self) -> int:
        """Buses of the whole county when every school keeps its own buses."""
        return int(self.fleet()["buses"].sum())

    def bus_km(self) -> float:
        """Kilometres driven per school day (morning and afternoon runs)."""
        return float(self.lines["km"].sum()) if len(self.lines) else 0.0

    def served(self) -> pd.DataFrame:
        """Riders seated per site (morning runs): ``site_id, pupils``."""
        am = self.routes[self.routes["direction"] == "morning"]
        return am.groupby("site_id", as_index=False)["pupils"].sum()


def bus_riders(ctx, rows: pd.DataFrame, sites=None) -> pd.DataFrame:
    """A plan's riders by site, run and pick-up: ``site_id, run, stop, pupils, limit_min``.

    ``rows`` are a plan's flow rows (:func:`ruralnet.analysis.plans.flow_rows`); ``sites``
    limits them to some sites (default: all).
    """
    s = ctx.settings
    bus = rows[(rows["way"] == rules.BUS) & (rows["pupils"] > 0)]
    site_ids = ctx.sites["site_id"].astype(str).to_numpy()
    out = pd.DataFrame(
        {
            "site_id": site_ids[bus["site"].to_numpy()],
            "stop": ctx.groups["origin_id"].to_numpy()[bus["group"].to_numpy()],
            "grade": bus["grade"].to_numpy(),
            "pupils": bus["pupils"].to_numpy(),
        }
    )
    if sites is not None:
        out = out[out["site_id"].isin(set(sites))]
    young = rules.is_young(out["grade"].to_numpy(), s)
    stop_young = out.assign(y=young).groupby(["site_id", "stop"])["y"].transform("any")
    out["run"] = np.where(out["grade"] <= 0, "K", np.where(stop_young, "Y", "O"))
    out["limit_min"] = rules.ride_limit(np.where(out["run"] == "O", 99, 0), s)
    return out.groupby(["site_id", "run", "stop"], as_index=False).agg(
        pupils=("pupils", "sum"), limit_min=("limit_min", "first")
    )


def plan_buses(
    county, ctx, rows: pd.DataFrame, sites=None, seed: int = 0, cache: dict | None = None
) -> CountyBuses:
    """Routes for every rider of a plan, morning and afternoon.

    Parameters
    ----------
    county
        The loaded county (its bus network and layers).
    ctx
        The plan context (demand groups, settings).
    rows
        The plan's flow rows (:attr:`ruralnet.analysis.plans.PlanEvaluation.rows`).
    sites
        Only the riders of these sites (default: every site).
    seed
        Solver seed.
    cache
        Solutions of identical runs (shared between the plans of one run).
    """
    riders = bus_riders(ctx, rows, sites)
    net = county.network("bus")
    snap = _snaps(county, net)
    cache = {} if cache is None else cache
    parts: dict[str, list] = {"routes": [], "lines": [], "schools": [], "unserved": []}
    violations: list[str] = []
    for (site_id, run), part in riders.groupby(["site_id", "run"], sort=True):
        for out, key in zip(
            _route_site(county, net, snap, site_id, run, part, seed, cache),
            ("routes", "lines", "schools", "unserved", "violations"),
            strict=True,
        ):
            (violations if key == "violations" else parts[key]).extend(out)
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
    )


def _snaps(county, net) -> pd.DataFrame:
    points = pd.concat(
        [
            county.villages[["village_id", "geometry"]].rename(columns={"village_id": "id"}),
            county.sites[["site_id", "geometry"]].rename(columns={"site_id": "id"}),
        ]
    ).drop_duplicates("id")
    return net.snap(points.geometry, ids=points["id"].astype(str).to_numpy())


def _route_site(county, net, snap, site_id, run, part, seed, cache):
    """Morning and afternoon routes of one site's run; rows for every output table."""
    s = county.settings
    stops = part.set_index("stop")["pupils"]
    seats = s.kindergarten_bus_seats if run == "K" else s.bus_seats
    limit_s = float(part["limit_min"].iloc[0]) * 60
    nodes = np.concatenate([[snap.loc[site_id, "node"]], snap.loc[stops.index, "node"].to_numpy()])
    time_s, dist_m = net.graph.shortest(nodes, nodes)
    routes, lines, schools, unserved, violations = [], [], [], [], []
    for direction in ("morning", "afternoon"):
        problem = BusProblem(
            list(stops.index), stops.to_numpy(int), time_s, dist_m, seats, limit_s,
            s.bus_stop_seconds, s.bus_seconds_per_pupil, direction=direction,
        )  # fmt: skip
        key = (site_id, run, direction, tuple(stops.index), tuple(stops), seats, limit_s)
        if key not in cache:
            cache[key] = solve(
                problem, time_limit_s=s.bus_solver_seconds, seed=seed, no_improvement=2_000,
                split=s.bus_split_stops,
            )  # fmt: skip
        sol = cache[key]
        violations += [
            f"{site_id} {direction} {run}: {b}" for b in check_routes(problem, sol.routes)
        ]
        tag = f"{site_id}-{'AM' if direction == 'morning' else 'PM'}-{run}"
        for k, route in enumerate(sol.routes, start=1):
            rid = f"{tag}-{k}"
            rides = [ride_from_s(problem, route, i) / 60 for i in range(len(route))]
            for seq, ((stop, n), ride) in enumerate(zip(route, rides, strict=True), start=1):
                routes.append(
                    (rid, site_id, direction, seq, problem.stop_ids[stop - 1], n, ride, seats)
                )
            lines.append(
                {
                    "route": rid,
                    "site_id": site_id,
                    "direction": direction,
                    "run": run,
                    "seats": seats,
                    "pupils": sum(n for _, n in route),
                    "km": route_length_m(problem, route) / 1000,
                    "longest_ride_min": max(rides),
                    "geometry": _route_line(net, nodes, route, direction),
                }
            )
        summ = sol.summary()
        schools.append(
            (site_id, direction, run, seats, limit_s / 60, summ["buses"], summ["pupils"],
             summ["bus_km"], summ["longest_ride_min"], summ["unserved_pupils"],
             bool(sol.meta.get("optimal", False)))
        )  # fmt: skip
        for u in sol.unserved.itertuples():
            unserved.append((site_id, direction, run, u.stop_id, u.pupils, u.reason))
    return routes, lines, schools, unserved, violations


def _route_line(net, nodes: np.ndarray, route, direction: str):
    """The route along the roads: school -> stops (afternoon) or stops -> school (morning)."""
    seq = [int(nodes[s]) for s, _ in route]
    seq = [*seq, int(nodes[0])] if direction == "morning" else [int(nodes[0]), *seq]
    coords = []
    for a, b in itertools.pairwise(seq):
        path = net.graph.paths(a, [b])[0] or [a, b]
        pts = list(zip(net.lon[path].tolist(), net.lat[path].tolist(), strict=True))
        coords.extend(pts if not coords else pts[1:])
    if len(coords) < 2:
        coords = coords * 2
    return shapely.LineString(coords)
