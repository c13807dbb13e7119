"""A county's buses as one fleet: the morning, the afternoon and the weekly boarders' day.

A county buys buses, not routes. Each site's runs (:mod:`ruralnet.buses.school_runs`) are
chained into bus days across schools with :func:`ruralnet.buses.run_pool.plan_fleet`:

* **bells**: a site's ``bell_time`` column, else ``bell_times`` of its kind (junior schools
  first, kindergartens last, so that buses can chain); a bus unloads for ``bus_dwell_minutes``;
* **morning**: the runs must be unloaded by the bell, and no more than ``bus_early_minutes``
  before it (each school's time copies, ``bus_slot_minutes`` apart); a bus free at one school
  may drive empty (on the bus network) to the first pick-up of another school's run;
* **afternoon**: the mirror image: schools let out at ``dismissal_times`` (kindergartens
  first), a bus loads, drops its pupils and drives empty to the next school;
* **weekly**: boarders go home on Friday and come back on Sunday, all at once
  (``weekly_arrival``, ride within ``weekly_ride_minutes``): that day can set the fleet size;
* two kinds of bus: kindergarten children (when ``kindergarten_buses`` lets them ride) only on
  kindergarten-standard buses (``kindergarten_bus_seats``), which may carry a village's
  school pupils on the same run (:mod:`ruralnet.buses.county_mixed`); each day is one fleet
  problem and a bus's day keeps to one kind of bus;
* depots (the county's ``depots`` layer) only count the empty kilometres to the first pick-up
  and back from the last drop-off; without them a bus parks at the school of its first run.

The fleet a county needs is, per kind of bus, the largest of its days. Each day's plan reports
its lower bound; "school by school" is the fleet when every site keeps its own buses.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..model.settings import clock_seconds, clock_text, clock_window
from .bells import arrival_slots, choose_bells, with_starts
from .county_mixed import split_run, with_mixed
from .fleet import FleetProblem, FleetSolution
from .routing import BusProblem, ride_from_s
from .run_pool import FleetOptions, plan_fleet
from .school_runs import RunKind, SiteRun, route_line

log = logging.getLogger(__name__)

#: Share of the pool's routing effort spent under the caps on the ride (see
#: :attr:`ruralnet.buses.run_pool.FleetOptions.cap_effort`): those runs only add variety to the
#: pool. On the bundled county, generated 英德 and 连山 the fleets (buses and bus-km of every
#: plan) were identical at a twentieth of the work, and the main job 20 % faster.
CAP_EFFORT = 0.05

#: Columns of ``report/fleet.csv``: one row per run of every bus's day.
FLEET_COLUMNS = [
    "bus",
    "order",
    "run",
    "site",
    "departs",
    "arrives",
    "day",
    "bus_type",
    "site_name",
    "pupils",
    "km",
    "deadhead_km",
]
SUMMARY_COLUMNS = [
    "day",
    "bus_type",
    "buses",
    "own_runs",
    "lower_bound",
    "runs",
    "pupils",
    "bus_km",
    "deadhead_km",
    "fixed_bells",
    "single_loads",
    "mixed_runs",
]


@dataclass
class CountyFleet:
    """The county's bus days.

    Attributes
    ----------
    runs
        :data:`FLEET_COLUMNS`: one row per run of every bus's day (times as HH:MM).
    summary
        :data:`SUMMARY_COLUMNS`: per day and bus type, the shared buses, the runs of the
        sites' own plans (``own_runs``: the buses if no bus served two schools), the lower
        bound of that kind's buses, the runs, pupils and kilometres (the weekly day: Friday
        and Sunday),
        ``fixed_bells``: the buses of the same day at the fixed bells (where windows let the
        fleet choose them; else the same), ``single_loads``: the buses with one school per
        run, and ``mixed_runs``: the runs that carry two schools' pupils (kept only when
        they cost less a year; :mod:`ruralnet.buses.county_mixed`). A mixed run is one row
        per school it unloads pupils at, with the same ``run`` id.
    lines
        One line per bus's morning (its runs and empty legs), for the map.
    routes
        ``(group, direction) -> routes``: the runs the fleet chose, in the direction's order.
    weekly
        The boarders' weekly runs (Sunday, to school): ``route, site_id, seq, stop, pupils,
        minutes``; Friday's are the same runs reversed.
    weekly_unserved
        Boarders no bus can take home within ``weekly_ride_minutes``, with the reason.
    bells
        :data:`BELL_COLUMNS`: each site's morning bell and afternoon dismissal, chosen by the
        fleet inside its windows (``bell_windows``, a site's ``bell_window``,
        ``dismissal_windows``) or fixed.
    route_ids
        ``(group, direction) -> ids``: the ``run`` id in :attr:`runs` of each of ``routes``
        (the parts of one mixed run share it).
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    lines: gpd.GeoDataFrame
    routes: dict = field(default_factory=dict)
    weekly: pd.DataFrame = field(default_factory=pd.DataFrame)
    weekly_unserved: pd.DataFrame = field(default_factory=pd.DataFrame)
    own_weekly: pd.DataFrame = field(default_factory=pd.DataFrame)
    bells: pd.DataFrame = field(default_factory=pd.DataFrame)
    route_ids: dict = field(default_factory=dict)

    def buses(self) -> int:
        """Buses the county needs: per bus type, its busiest day."""
        if self.summary.empty:
            return 0
        return int(self.summary.groupby("bus_type")["buses"].max().sum())

    def weekly_own(self) -> pd.DataFrame:
        """Each boarding site's own weekly buses: ``site_id, seats, direction, own_buses``."""
        return self.own_weekly

    def bus_km(self, day: str | None = None) -> float:
        """Kilometres of a day (default: a school day, morning and afternoon), empty legs in."""
        days = ("morning", "afternoon") if day is None else (day,)
        part = self.summary[self.summary["day"].isin(days)]
        return float(part["bus_km"].sum())


def bell_seconds(sites: pd.DataFrame, settings, day: str) -> pd.Series:
    """Per site id: the bell (morning), dismissal (afternoon) or the Sunday arrival (weekly),
    in seconds after midnight."""
    ids = sites["site_id"].astype(str).to_numpy()
    if day == "weekly":
        return pd.Series(clock_seconds(settings.weekly_arrival), index=ids, dtype=float)
    table = settings.bell_times if day == "morning" else settings.dismissal_times
    by_kind = sites["kind"].map(lambda k: clock_seconds(table.get(k, "08:00"))).to_numpy(float)
    if day == "morning" and "bell_time" in sites:
        own = sites["bell_time"].map(lambda v: clock_seconds(v) if isinstance(v, str) else None)
        by_kind = np.where(own.notna(), own.astype(float), by_kind)
    return pd.Series(by_kind, index=ids, dtype=float)


def bell_windows(sites: pd.DataFrame, settings, bells: pd.Series) -> dict[str, tuple[float, float]]:
    """Per site id: the window of its morning bell (seconds after midnight): the site's
    ``bell_window``, else its kind's ``bell_windows`` setting (unless the site has its own
    ``bell_time``), else its fixed bell (a window of no width)."""
    out = {}
    own_time = sites["bell_time"] if "bell_time" in sites else pd.Series(pd.NA, index=sites.index)
    own = sites["bell_window"] if "bell_window" in sites else pd.Series(pd.NA, index=sites.index)
    for site_id, kind, time_, window in zip(
        sites["site_id"].astype(str), sites["kind"], own_time, own, strict=True
    ):
        text = window if isinstance(window, str) else None
        if text is None and not isinstance(time_, str):
            text = settings.bell_windows.get(kind)
        parsed = clock_window(text) if text else None
        out[site_id] = parsed or (float(bells[site_id]), float(bells[site_id]))
    return out


def dismissal_windows(sites: pd.DataFrame, settings, times: pd.Series) -> dict:
    """Per site id: the window of its afternoon dismissal as the time-reversed afternoon
    problem reads it, ``(-late, -early)``: its kind's ``dismissal_windows`` setting, else its
    fixed dismissal."""
    out = {}
    for site_id, kind in zip(sites["site_id"].astype(str), sites["kind"], strict=True):
        window = clock_window(settings.dismissal_windows.get(kind) or "")
        early, late = window or (float(times[site_id]), float(times[site_id]))
        out[site_id] = (-late, -early)
    return out


def _bells_in_windows(problem: FleetProblem, sub: list[SiteRun], start: list, windows: dict,
                      chosen: dict) -> FleetProblem:  # fmt: skip
    """The day's problem with each school's bell (or, in the time-reversed afternoon, its
    dismissal) chosen inside its window for the sites' own runs
    (:func:`ruralnet.buses.bells.choose_bells`; the run kinds of one site, for example its
    kindergarten class and its primary pupils, share one time); a site already given one
    keeps it. ``chosen`` gets every site's time (as the problem reads it)."""
    ids = [g.site_id for g in sub]
    early = np.array([chosen.get(i, windows[i][0]) for i in ids], dtype=float)
    late = np.array([chosen.get(i, windows[i][1]) for i in ids], dtype=float)
    if (late - early).max(initial=0.0) <= 0:  # fixed times: the problem as it is, if the same
        chosen.update(zip(ids, early, strict=True))
        same = np.array_equal(early, problem.bell_s)
        return problem if same else with_starts(problem, early - problem.dwell_s)
    runs = [problem.run(j, r) for j, sol in enumerate(start) for r in sol[0]]
    dwell = problem.dwell_s
    same = np.unique(ids, return_inverse=True)[1]
    starts, _ = choose_bells(problem, early - dwell, late - dwell, runs, same=same)
    chosen.update(zip(ids, starts + dwell, strict=True))
    return with_starts(problem, starts)


def day_problem(groups: list[SiteRun], day: str, bells: pd.Series, net, settings) -> FleetProblem:
    """The fleet problem of one day (the afternoon time-reversed: dismissal times negated,
    runs mirrored, empty legs from the last drop-off to the next school); each group's runs
    need its kind of bus."""
    site_nodes = np.array([g.nodes[0] for g in groups])
    stop_nodes = np.concatenate([g.nodes[1:] for g in groups])
    if day == "afternoon":
        t, m = net.matrix.between(stop_nodes, site_nodes)
        dead_s, dead_m = t.T, m.T
    else:
        dead_s, dead_m = net.matrix.between(site_nodes, stop_nodes)
    bounds = np.cumsum([0] + [len(g.stops) for g in groups])
    bell = np.array([bells[g.site_id] for g in groups], dtype=float)
    return FleetProblem(
        [f"{g.site_id}/{g.run.tag}" for g in groups],
        -bell if day == "afternoon" else bell,
        settings.bus_dwell_minutes * 60.0,
        [
            g.towards_school("afternoon" if day == "afternoon" else "morning", settings)
            for g in groups
        ],
        [np.arange(bounds[k], bounds[k + 1]) for k in range(len(groups))],
        np.where(np.isfinite(dead_s), dead_s, np.inf),
        np.nan_to_num(dead_m, nan=0.0),
        bus_types=[g.run.bus_type for g in groups],
    )


def plan_day(
    problem: FleetProblem,
    start: list,
    settings,
    seed: int = 0,
    cache: dict | None = None,
    previous: list | None = None,
) -> FleetSolution:
    """One day's fleet: the sites' own plans (``start``: their solutions, one per school)
    chained exactly, then better runs chosen with the fleet in view
    (:func:`ruralnet.buses.run_pool.plan_fleet`; one round of rerouting); ``previous``: the
    runs of an earlier fleet (the year before) to start from, where it is no worse."""
    pool = [problem.run(k, r) for k, sol in enumerate(start) for r in sol[0]]
    options = FleetOptions(
        per_school_iterations=max(settings.bus_solver_iterations // 4, 1),
        selection_nodes=settings.fleet_solver_nodes,
        caps=(2 / 3, 1 / 3),
        rounds=settings.fleet_rounds,
        seed=seed,
        no_improvement=2_000,
        exact_sets=settings.bus_exact_sets,
        cap_effort=CAP_EFFORT,
        mixed_effort=CAP_EFFORT,
    )
    return plan_fleet(problem, options, pool, [sol[1] for sol in start], cache, previous)


def county_fleet(
    county,
    net,
    groups: list[SiteRun],
    own: dict,
    seed: int = 0,
    cache: dict | None = None,
    previous: dict | None = None,
) -> CountyFleet:
    """The county's bus days as one fleet.

    Parameters
    ----------
    county
        The loaded county (sites, settings, depots).
    net
        Its bus network.
    groups
        Every site's run kinds (weekly boarders as :attr:`RunKind.WEEKLY`).
    own
        ``(group, direction) -> BusSolution``: each site's own plan, the start of the fleet.
    seed
        Solver seed.
    cache
        Routes of identical runs from earlier plans.
    previous
        ``(group, direction) -> routes`` the year before's fleet ran at the groups whose
        riders are the same: each day starts from them (the own plans elsewhere).
    """
    s = county.settings
    previous = previous or {}
    sites = county.sites
    names = dict(zip(sites["site_id"].astype(str), sites["name"].astype(str), strict=True))
    routes: dict = {}
    route_ids: dict = {}
    tables, summary, lines = [], [], []
    windows = _windows(sites, s)
    chosen: dict = {"morning": {}, "afternoon": {}}
    for day in DAYS:
        direction = "afternoon" if day == "afternoon" else "morning"
        idx = _day_groups(groups, day)
        if not idx:
            continue
        sub = [groups[k] for k in idx]
        start = [
            ([_mirror(r, day) for r in own[k, direction].routes], _proven(own[k, direction]))
            for k in idx
        ]
        problem, sol, facts = _plan_one(
            day_problem(sub, day, bell_seconds(sites, s, day), net, s), sub, start, net, s, day,
            (windows.get(day), chosen.get(day)), (seed, cache),
            _from_previous_idx(idx, own, previous, day),
        )  # fmt: skip
        ids = _run_ids(problem, sol, sub, day)
        for k in idx:
            routes[k, direction], route_ids[k, direction] = [], []
        for r, rid in zip(sol.runs, ids, strict=True):
            for k, part in split_run(problem, r).items():
                routes[idx[k], direction].append(_mirror(part, day))
                route_ids[idx[k], direction].append(rid)
        depot_m = _depot_m(county, net, problem, sub, day)
        table = _day_table(problem, sol, day, names, ids, depot_m)
        tables.append(table)
        summary += _summary_rows(day, problem, sol, start, table, facts)
        if day == "morning":
            lines += _bus_lines(net, problem, sol, sub, table)
    weekly = [(k, g) for k, g in enumerate(groups) if g.run == RunKind.WEEKLY]
    return CountyFleet(
        pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=FLEET_COLUMNS),
        pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
        gpd.GeoDataFrame(lines, columns=LINE_COLUMNS, geometry="geometry", crs="EPSG:4326"),
        routes,
        *_weekly_tables(weekly, own, routes, route_ids, s),
        bells=_bells_table(chosen, windows, names),
        route_ids=route_ids,
    )


def _plan_one(problem, sub, start, net, s, day, bells, run, before):
    """One day's fleet: at the chosen bells (``bells``: the day's windows and the dict that
    records the choice), each run unloading up to ``bus_early_minutes`` before its bell
    (:func:`_early_arrivals`), single-school runs first, then with mixed loads from them
    (:mod:`ruralnet.buses.county_mixed`), kept when they cost less a year. Returns the problem
    solved, the fleet (its buses ordered by kind, :data:`BUS_TYPES`), and per kind of bus what
    the bells and the mixed loads saved: the buses with every run unloaded at the fixed bells,
    with single loads, and the mixed runs."""
    seed, cache = run
    windows, chosen = bells
    fixed = problem
    if windows is not None:  # the bells inside their windows, for these schools' runs
        problem = _bells_in_windows(problem, sub, start, windows, chosen)
    problem = _early_arrivals(problem, s)
    previous = before(problem)
    sol = plan_day(problem, start, s, seed, cache, previous)
    at_fixed = sol  # what the bells saved: the same day, every run unloaded at a fixed bell
    if problem.bell_s.shape != fixed.bell_s.shape or (problem.bell_s != fixed.bell_s).any():
        at_fixed = plan_day(fixed, start, s, seed, cache, previous)
    fixed_kinds, single_kinds = at_fixed.bus_types(fixed), sol.bus_types(problem)
    facts = {
        t: {"fixed_bells": fixed_kinds.count(t), "single_loads": single_kinds.count(t),
            "mixed_runs": 0}
        for t in BUS_TYPES
    }  # fmt: skip
    mixed = with_mixed(problem, sub, net, s, day)
    if mixed.mixed:
        both = plan_day(mixed, start, s, seed, cache, list(sol.runs))
        if _yearly_cost(mixed, both, s, day) < _yearly_cost(problem, sol, s, day):
            problem, sol = mixed, both
            for r in both.runs:
                facts[str(mixed.bus_types[r.school])]["mixed_runs"] += int(
                    len(carried(mixed, r)) > 1
                )
    rank = {t: i for i, t in enumerate(BUS_TYPES)}
    kinds = sol.bus_types(problem)
    order = sorted(range(sol.buses), key=lambda b: rank[kinds[b]])
    return problem, FleetSolution(sol.runs, [sol.days[b] for b in order], sol.lower_bound,
                                  sol.meta), facts  # fmt: skip


def _early_arrivals(problem: FleetProblem, s) -> FleetProblem:
    """``problem`` where a run may unload up to ``bus_early_minutes`` before its school's bell,
    at starts ``bus_slot_minutes`` apart (:func:`ruralnet.buses.bells.arrival_slots`)."""
    early = float(s.bus_early_minutes) * 60.0
    if early <= 0:
        return problem
    late = problem.bell_s - problem.dwell_s
    return arrival_slots(problem, late - early, late, float(s.bus_slot_minutes) * 60.0)


def _yearly_cost(problem: FleetProblem, sol: FleetSolution, s, day: str) -> float:
    """A day's fleet in yuan a year: its buses and drivers, and its kilometres on every such
    day (mixed loads save buses and may drive further: kept only when they cost less)."""
    table = sol.table(problem)
    km = float(table["run_m"].sum() + table["deadhead_m"].sum()) / 1000
    days = 2 * s.school_weeks if day == "weekly" else s.school_days  # Friday and Sunday
    return sol.buses * (s.bus_cost_per_year + s.driver_cost_per_year) + km * days * s.bus_km_cost


def _from_previous_idx(idx, own, previous, day):
    """:func:`_from_previous` for a problem not yet built (its bells may still be chosen)."""
    return lambda problem: _from_previous(problem, idx, own, previous, day)


def _day_groups(groups: list[SiteRun], day: str) -> list[int]:
    """The groups a day's fleet serves (the weekly day: the boarders')."""
    return [k for k, g in enumerate(groups) if (g.run == RunKind.WEEKLY) == (day == "weekly")]


def _windows(sites: pd.DataFrame, s) -> dict:
    """The windows of the morning bells and the afternoon dismissals, per site id."""
    return {
        "morning": bell_windows(sites, s, bell_seconds(sites, s, "morning")),
        "afternoon": dismissal_windows(sites, s, bell_seconds(sites, s, "afternoon")),
    }


def _from_previous(problem: FleetProblem, idx: list[int], own: dict, previous: dict, day: str):
    """The runs of the year before's fleet at the groups whose riders are the same, the own
    plans elsewhere (``None`` when no group is the same)."""
    direction = "afternoon" if day == "afternoon" else "morning"
    if not any((k, direction) in previous for k in idx):
        return None
    return [
        problem.run(j, _mirror(r, day))
        for j, k in enumerate(idx)
        for r in previous.get((k, direction), own[k, direction].routes)
    ]


def _bells_table(chosen: dict, windows: dict, names: dict) -> pd.DataFrame:
    """Per site with runs: its windows, and the bell and dismissal the fleet gives it."""

    def text(window):
        early, late = sorted(abs(v) for v in window)
        return "" if early == late else f"{clock_text(early)}-{clock_text(late)}"

    am, pm = chosen["morning"], chosen["afternoon"]
    rows = [
        (site, names.get(site, site),
         text(windows["morning"][site]) if site in am else "",
         clock_text(am[site]) if site in am else "",
         text(windows["afternoon"][site]) if site in pm else "",
         clock_text(-pm[site]) if site in pm else "")
        for site in sorted(set(am) | set(pm))
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=BELL_COLUMNS)


DAYS = ("morning", "afternoon", "weekly")
#: The kinds of bus (:attr:`ruralnet.buses.school_runs.RunKind.bus_type`), in table order.
BUS_TYPES = ("school", "kindergarten")
#: The bells and dismissals the fleet gives (HH:MM): a window empty where the time is fixed.
BELL_COLUMNS = ["site_id", "name", "bell_window", "bell", "dismissal_window", "dismissal"]
DAY_TAGS = {"morning": "AM", "afternoon": "PM", "weekly": "WK"}
LINE_COLUMNS = ["bus", "bus_type", "runs", "pupils", "km", "first", "last", "geometry"]


def _proven(sol) -> int:
    """The proven fewest runs of a site's own plan (its lower bound)."""
    return int(sol.meta.get("lower_bound", 0))


def _mirror(route, day: str) -> list:
    """Afternoon routes in the fleet's (time-reversed) order and back."""
    return list(route)[::-1] if day == "afternoon" else list(route)


def _run_ids(problem: FleetProblem, sol: FleetSolution, sub: list[SiteRun], day: str) -> list[str]:
    """Route id of each run, as the routes tables name them (``<site>-AM-<tag>-<k>``; a run
    with pupils of several schools ``<site>-AM-<tag>+<site>-<tag>-<k>``, in drop order)."""
    count: dict[str, int] = {}
    ids = []
    for r in sol.runs:
        first, *more = (sub[d] for d in carried(problem, r))
        head = "+".join(
            [f"{first.site_id}-{DAY_TAGS[day]}-{first.run.tag}"]
            + [f"{g.site_id}-{g.run.tag}" for g in more]
        )
        count[head] = count.get(head, 0) + 1
        ids.append(f"{head}-{count[head]}")
    return ids


def _depot_m(county, net, problem: FleetProblem, sub: list[SiteRun], day: str) -> np.ndarray:
    """Per stop column: metres of the empty leg between a depot and the stop (from the depot
    in the morning, to it in the afternoon); ``NaN`` without depots (the school's leg)."""
    depots = getattr(county, "depots", None)
    n = problem.deadhead_s.shape[1]
    if depots is None or not len(depots):
        return np.full(n, np.nan)
    nodes = net.snap(depots.geometry)["node"].to_numpy()
    stops = np.concatenate([g.nodes[1:] for g in sub])
    if day == "afternoon":
        _, m = net.matrix.between(stops, nodes)
        return np.nanmin(np.where(np.isfinite(m), m, np.nan), axis=1)
    _, m = net.matrix.between(nodes, stops)
    return np.nanmin(np.where(np.isfinite(m), m, np.nan), axis=0)


def _day_table(problem, sol, day, names, ids, depot_m) -> pd.DataFrame:
    """One row per run of each bus's day, in the real order of the day; buses numbered per
    kind (``S01``, ``K01``)."""
    rows = []
    count: dict[str, int] = {}
    for chain, bus_type in zip(sol.days, sol.bus_types(problem), strict=True):
        count[bus_type] = bus = count.get(bus_type, 0) + 1
        letter = "K" if bus_type == "kindergarten" else "S"
        real = chain[::-1] if day == "afternoon" else chain
        for order, k in enumerate(real, start=1):
            r = sol.runs[k]
            pos = chain.index(k)
            bp = problem.schools[r.school]
            if pos == 0:  # the depot's leg (or the school's, without depots)
                dead = (
                    depot_m[r.first]
                    if np.isfinite(depot_m[r.first])
                    else bp.dist_m[0, r.stops[0][0]]
                )
            else:
                dead = problem.deadhead_m[sol.runs[chain[pos - 1]].school, r.first]
            for seg, (site, pupils, times, km) in enumerate(_segments(problem, r, day)):
                departs, arrives = times
                rows.append(
                    (f"{letter}{bus:02d}", order, ids[k], site, clock_text(departs), clock_text(arrives),
                     day, bus_type, names.get(site, site), pupils, km, 0.0 if seg else dead / 1000)
                )  # fmt: skip
    return pd.DataFrame(rows, columns=FLEET_COLUMNS)


def _segments(problem: FleetProblem, r, day: str) -> list[tuple]:
    """A run as one row per school it unloads pupils at, in the real order of the day:
    ``(site, pupils, (departs_s, arrives_s), km)``. A single-school run is one segment, from
    its first stop to the school; a mixed run's first segment ends at its first school, each
    later one is the hop to the next school (the afternoon: time-reversed, mirrored back). A
    school the run has no pupils for is passed by: its leg joins the next (the last school's,
    the one before)."""
    drops = problem.drops[r.school]
    hops = problem.hops[r.school]
    end = problem.bell_s[r.school] - problem.dwell_s[r.school]  # at the last school
    arrive = end - np.concatenate([np.cumsum(hops[::-1, 0])[::-1], [0.0]])  # at each school
    begin = np.concatenate([[end - r.duration_s], arrive[:-1]])
    total_km = _run_m(problem.schools[r.school], r) / 1000
    km = np.concatenate([[total_km - hops[:, 1].sum() / 1000], hops[:, 1] / 1000])
    parts = split_run(problem, r)
    out = []
    for i, d in enumerate(drops):
        site = problem.school_ids[d].split("/")[0]
        pupils = int(sum(n for _, n in parts.get(d, [])))
        times = (-arrive[i], -begin[i]) if day == "afternoon" else (begin[i], arrive[i])
        out.append((site, pupils, times, float(km[i])))
    return _pass_by(out[::-1] if day == "afternoon" else out)


def _pass_by(segments: list[tuple]) -> list[tuple]:
    """The segments of schools a run has pupils for, the others' legs joined to them."""
    kept: list[tuple] = []
    begin, km = None, 0.0
    for site, pupils, times, leg in segments:
        if pupils == 0:
            begin, km = times[0] if begin is None else begin, km + leg
            continue
        kept.append((site, pupils, (times[0] if begin is None else begin, times[1]), leg + km))
        begin, km = None, 0.0
    if km and kept:  # on to a school after the last with pupils
        site, pupils, times, leg = kept[-1]
        kept[-1] = (site, pupils, times, leg + km)
    return kept


def carried(problem: FleetProblem, r) -> list[int]:
    """The schools run ``r`` has pupils for, in drop order (a mixed school's run may carry
    only some of its schools' pupils, and passes the others by)."""
    parts = split_run(problem, r)
    return [d for d in problem.drops[r.school] if d in parts]


def _run_m(bp: BusProblem, r) -> float:
    """Metres of a run from its first stop to the school (the fleet's direction)."""
    path = [a for a, _ in r.stops] + [0]
    return float(sum(bp.dist_m[a, b] for a, b in itertools.pairwise(path)))


def _summary_rows(day, problem, sol, start, table, facts) -> list[dict]:
    """One row per kind of bus the day's groups need."""
    trips = 2 if day == "weekly" else 1  # Friday home and Sunday back
    kinds = sol.bus_types(problem)
    bounds = sol.meta.get("lower_bounds", {})
    own_kinds = problem.bus_types[: len(start)]  # the groups' own rows come first
    rows = []
    for t in (t for t in BUS_TYPES if t in set(own_kinds)):
        mine = table[table["bus_type"] == t]
        rows.append({
            "day": day,
            "bus_type": t,
            "buses": kinds.count(t),
            "own_runs": sum(len(r) for (r, _), k in zip(start, own_kinds, strict=True)
                            if k == t),
            "lower_bound": bounds.get(t, kinds.count(t)),
            "runs": sum(str(problem.bus_types[r.school]) == t for r in sol.runs),
            "pupils": int(mine["pupils"].sum()),
            "bus_km": trips * float(mine["km"].sum() + mine["deadhead_km"].sum()),
            "deadhead_km": trips * float(mine["deadhead_km"].sum()),
        } | facts[t])  # fmt: skip
    return rows


def _bus_lines(net, problem, sol, sub, table) -> list[dict]:
    """Each bus's morning as one line along the roads: its runs and the empty legs."""
    rows = []
    for (bus, part), chain in zip(table.groupby("bus", sort=False), sol.days, strict=True):
        pieces = []
        for pos, k in enumerate(chain):
            r = sol.runs[k]
            drops = [sub[d] for d in problem.drops[r.school]]
            nodes = np.concatenate([[drops[0].nodes[0]], *(g.nodes[1:] for g in drops)])
            if pos:
                before = sub[problem.drops[sol.runs[chain[pos - 1]].school][-1]].nodes[0]
                pieces.append(
                    route_line(net, np.array([before, nodes[r.stops[0][0]]]), [(1, 0)], "afternoon")
                )
            pieces.append(route_line(net, nodes, list(r.stops), "morning"))
            for a, b in itertools.pairwise(drops):  # a mixed run: on to its next school
                ends = np.array([b.nodes[0], a.nodes[0]])
                pieces.append(route_line(net, ends, [(1, 0)], "morning"))
        rows.append(
            {
                "bus": bus,
                "bus_type": part["bus_type"].iloc[0],
                "runs": len(chain),
                "pupils": int(part["pupils"].sum()),
                "km": float(part["km"].sum() + part["deadhead_km"].sum()),
                "first": part["departs"].iloc[0],
                "last": part["arrives"].iloc[-1],
                "geometry": shapely.MultiLineString(pieces),
            }
        )
    return rows


def _weekly_tables(weekly, own, routes, route_ids, s):
    """The weekly runs (Sunday), the boarders no bus can take, each site's own buses."""
    rows, unserved, mine = [], [], []
    for k, g in weekly:
        problem = g.problem("morning", s)
        mine_ids = route_ids.get((k, "morning"), [])
        for route, rid in zip(routes.get((k, "morning"), []), mine_ids, strict=True):
            for seq, (stop, p) in enumerate(route, start=1):
                rows.append(
                    (rid, g.site_id, seq, problem.stop_ids[stop - 1], p,
                     ride_from_s(problem, route, seq - 1) / 60)
                )  # fmt: skip
        sol = own[k, "morning"]
        unserved += [(g.site_id, u.stop_id, u.pupils, u.reason) for u in sol.unserved.itertuples()]
        mine.append((g.site_id, g.seats, "weekly", sol.buses))
    return (
        pd.DataFrame(rows, columns=["route", "site_id", "seq", "stop", "pupils", "minutes"]),
        pd.DataFrame(unserved, columns=["site_id", "stop_id", "pupils", "reason"]),
        pd.DataFrame(mine, columns=["site_id", "seats", "direction", "own_buses"]),
    )
