"""School buses for a county plan: pick-up points, routes on the road network, route lines.

For every site that receives pupils by bus in a plan, its bus pupils are grouped by pick-up
point (their village, or a merged site's location) and routed with
:func:`ruralnet.busroutes.solve` on the bus network's travel times: morning runs to the
school and afternoon runs from it (one-way streets and slopes make the two differ);
kindergarten pupils ride 45-seat buses, the others 56-seat ones. Buses start at the school.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .busroutes import BusProblem, check_routes, ride_from_s, route_length_m, solve

log = logging.getLogger(__name__)

ROUTE_COLUMNS = ["route", "seq", "stop", "pupils", "minutes"]


@dataclass
class CountyBuses:
    """Bus runs of a plan.

    Attributes
    ----------
    routes
        ``route, seq, stop, pupils, minutes`` (plus ``site_id, direction, seats``); route ids
        are ``<site>-<AM|PM>-<k>`` (``-K`` for kindergarten runs).
    lines
        One LineString per route along the roads, with its site, pupils, km and longest ride.
    schools
        Per site and direction: buses, pupils, bus-km, longest ride.
    unserved
        Pick-up points no bus can serve within the limits, with the reason.
    violations
        Problems found by the independent route check (empty when all is well).
    """

    routes: pd.DataFrame
    lines: gpd.GeoDataFrame
    schools: pd.DataFrame
    unserved: pd.DataFrame
    violations: list[str]

    def buses_needed(self) -> int:
        """Buses needed: per site, the larger of its morning and afternoon runs."""
        if self.schools.empty:
            return 0
        return int(self.schools.groupby(["site_id", "seats"])["buses"].max().sum())


def plan_buses(
    county, assignment: pd.DataFrame, sites=None, direction_both: bool = True, seed: int = 0
) -> CountyBuses:
    """Routes for every bus group of a plan's assignment (``mode == "bus"``).

    Parameters
    ----------
    county
        The loaded county (its bus network and layers).
    assignment
        A plan's assignment table (``origin_id, origin_type, stage, pupils, site_id, mode``).
    sites
        Only the bus pupils of these sites (e.g. a merger plan's receiving sites); default all.
    direction_both
        Plan afternoon runs too.
    seed
        Solver seed.
    """
    s = county.settings
    net = county.network("bus")
    bus = assignment[
        (assignment["mode"] == "bus") & assignment["site_id"].notna() & (assignment["pupils"] > 0)
    ]
    if sites is not None:
        bus = bus[bus["site_id"].isin(set(sites))]
    points = (
        pd.concat(
            [
                county.villages[["village_id", "name", "geometry"]].rename(
                    columns={"village_id": "id"}
                ),
                county.sites[["site_id", "name", "geometry"]].rename(columns={"site_id": "id"}),
            ]
        )
        .drop_duplicates("id")
        .set_index("id")
    )
    snap = net.snap(points.geometry, ids=points.index)
    routes, lines, schools, unserved, violations = [], [], [], [], []
    kinder = bus["stage"] == "kindergarten"
    for (site_id, is_k), part in bus.groupby(["site_id", kinder], sort=True):
        stops = part.groupby("origin_id")["pupils"].sum()
        stops = stops[stops > 0]
        seats = s.kindergarten_bus_seats if is_k else s.bus_seats
        nodes = np.concatenate(
            [[snap.loc[site_id, "node"]], snap.loc[stops.index, "node"].to_numpy()]
        )
        time_s, dist_m = net.graph.shortest(nodes, nodes)
        for direction in ("morning", "afternoon") if direction_both else ("morning",):
            # directed node-to-node matrices: a morning run reads stop -> school ([i, 0]), an
            # afternoon run school -> stop ([0, i]); stop to stop follows the run's order
            problem = BusProblem(
                list(stops.index),
                stops.to_numpy(int),
                time_s,
                dist_m,
                seats,
                s.max_ride_minutes * 60,
                s.bus_stop_seconds,
                s.bus_seconds_per_pupil,
                direction=direction,
            )
            sol = solve(
                problem,
                time_limit_s=s.bus_solver_seconds,
                seed=seed,
                no_improvement=2_000,
                split=s.bus_split_stops,
            )
            bad = check_routes(problem, sol.routes)
            violations += [f"{site_id} {direction}: {b}" for b in bad]
            tag = ("AM" if direction == "morning" else "PM") + ("-K" if is_k else "")
            for k, route in enumerate(sol.routes, start=1):
                rid = f"{site_id}-{tag}-{k}"
                for seq, (stop, n) in enumerate(route, start=1):
                    routes.append(
                        {
                            "route": rid,
                            "seq": seq,
                            "stop": problem.stop_ids[stop - 1],
                            "pupils": n,
                            "minutes": ride_from_s(problem, route, seq - 1) / 60,
                            "site_id": site_id,
                            "direction": direction,
                            "seats": seats,
                        }
                    )
                lines.append(
                    {
                        "route": rid,
                        "site_id": site_id,
                        "direction": direction,
                        "seats": seats,
                        "pupils": sum(n for _, n in route),
                        "km": route_length_m(problem, route) / 1000,
                        "longest_ride_min": max(
                            ride_from_s(problem, route, i) for i in range(len(route))
                        )
                        / 60,
                        "geometry": _route_line(net, nodes, route, direction),
                    }
                )
            summ = sol.summary()
            schools.append(
                {
                    "site_id": site_id,
                    "direction": direction,
                    "seats": seats,
                    "buses": summ["buses"],
                    "pupils": summ["pupils"],
                    "bus_km": summ["bus_km"],
                    "longest_ride_min": summ["longest_ride_min"],
                    "unserved_pupils": summ["unserved_pupils"],
                    "feasible": summ["feasible"],
                    "fewest_buses_proven": bool(sol.meta.get("optimal", False)),
                }
            )
            if len(sol.unserved):
                unserved.append(sol.unserved.assign(site_id=site_id, direction=direction))
    routes_df = pd.DataFrame(routes, columns=[*ROUTE_COLUMNS, "site_id", "direction", "seats"])
    lines_gdf = gpd.GeoDataFrame(
        lines,
        columns=[
            "route",
            "site_id",
            "direction",
            "seats",
            "pupils",
            "km",
            "longest_ride_min",
            "geometry",
        ],
        geometry="geometry",
        crs="EPSG:4326",
    )
    unserved_df = (
        pd.concat(unserved, ignore_index=True)
        if unserved
        else pd.DataFrame(columns=["stop_id", "pupils", "reason", "site_id", "direction"])
    )
    if violations:
        log.error("bus routes failed the independent check: %s", violations[:5])
    return CountyBuses(routes_df, lines_gdf, pd.DataFrame(schools), unserved_df, violations)


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
