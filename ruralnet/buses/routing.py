"""School-bus routes: seats, ride-time limits, morning and afternoon runs, fewest buses.

:func:`solve` first tries the exact model of :mod:`ruralnet.buses.exact` (every stop set one bus
can serve, then set covering with HiGHS), which proves the fewest buses for small schools;
when that model is too large or not proven in time, PyVRP takes over. This is the only module
that imports the VRP solver (PyVRP, pinned in setup.cfg). The PyVRP model:

* one vehicle type per run, ``num_available`` = number of pick-ups; a large fixed cost per
  bus makes the solver minimise buses first, then distance;
* morning: buses leave a depot (or the school), pick up at stops, end at the school. The ride
  time of a route is the travel time from its first stop to the school plus the service time
  (``stop_s + per_pupil_s x pupils``) of every stop after the first: stop service sits on each
  stop's *incoming* edge and the depot's edges to stops take no time (but cost their
  distance), so PyVRP's route duration is exactly that ride time, limited by
  ``shift_duration``;
* afternoon: the mirror image (school -> stops -> depot), on the reverse-direction times;
* integer durations in hundredths of a second, rounded **up** (a limit is never crossed by
  rounding); a stop with more pupils than seats is split into several pick-ups;
* a stop that no bus can serve within the limit on its own (its direct ride is too long, or
  it is unreachable) is reported with the reason, never silently dropped;
* with ``split=True`` each pick-up is offered as two halves that may ride on different buses;
  two halves in a row on one bus are one stop (the fixed stop time once), and are merged back
  into one pick-up in the routes.

Every solution can be re-checked by :func:`check_routes`, which recomputes loads and ride
times from the raw inputs.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..model.errors import InputError, PlanError
from .exact import fewest_buses, split_lower_bound

log = logging.getLogger(__name__)

TICKS = 100  # durations in hundredths of a second


@dataclass
class BusProblem:
    """One school's pick-ups, in matrices.

    Attributes
    ----------
    stop_ids
        Id of each pick-up point (index ``i`` in the matrices is ``stop_ids[i - 1]``; index 0
        is the school).
    pupils
        Pupils per pick-up point.
    time_s, dist_m
        ``(n + 1) x (n + 1)`` travel time (s) and distance (m) matrices, index 0 = school,
        in the direction of travel (morning: stop -> school).
    depot_dist_m
        Distance from the depot to each stop (empty running; default: from the school).
    seats
        Seats per bus.
    max_ride_s
        Longest ride allowed (s).
    stop_s, per_pupil_s
        Service time per stop and per pupil (s).
    """

    stop_ids: list
    pupils: np.ndarray
    time_s: np.ndarray
    dist_m: np.ndarray
    seats: int
    max_ride_s: float
    stop_s: float
    per_pupil_s: float
    depot_dist_m: np.ndarray | None = None
    direction: str = "morning"

    def __post_init__(self) -> None:
        problems = []
        n = len(self.stop_ids)
        self.pupils = np.asarray(self.pupils)
        if self.pupils.shape != (n,):
            problems.append(f"pupils has {self.pupils.size} values for {n} stops")
        elif n and (
            not np.issubdtype(self.pupils.dtype, np.number)
            or not np.isfinite(self.pupils.astype(float)).all()
            or (self.pupils < 0).any()
            or (self.pupils % 1 != 0).any()
        ):
            problems.append("pupils must be whole numbers of 0 or more")
        for name in ("time_s", "dist_m"):
            m = np.asarray(getattr(self, name), dtype=float)
            if m.shape != (n + 1, n + 1):
                problems.append(f"{name} must be {n + 1} x {n + 1} (the school and the stops)")
            elif np.isnan(m).any() or (m < 0).any():
                problems.append(
                    f"{name} has NaN or negative values (use inf where there is no way)"
                )
        if (
            isinstance(self.seats, bool)
            or not isinstance(self.seats, int | np.integer)
            or self.seats < 1
        ):
            problems.append(f"seats must be a whole number of 1 or more, got {self.seats!r}")
        if not (np.isfinite(self.max_ride_s) and self.max_ride_s > 0):
            problems.append(f"max_ride_s must be a positive number, got {self.max_ride_s!r}")
        for name in ("stop_s", "per_pupil_s"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                problems.append(f"{name} must be 0 or more, got {v!r}")
        if self.direction not in ("morning", "afternoon"):
            problems.append(f"direction must be morning or afternoon, got {self.direction!r}")
        if problems:
            raise InputError("bus problem: " + "; ".join(problems))

    def service_s(self, pupils) -> np.ndarray:
        """Service time of a stop with this many pupils boarding."""
        return self.stop_s + self.per_pupil_s * np.asarray(pupils, dtype=float)


@dataclass
class BusSolution:
    """Routes for one school.

    Attributes
    ----------
    routes
        One list of pick-ups per bus, each pick-up ``(stop index (1-based), pupils)``, in
        visiting order.
    unserved
        ``stop_id, pupils, reason`` of stops no bus can serve within the limits.
    runtime_s
        Solver time.
    """

    problem: BusProblem
    routes: list[list[tuple[int, int]]]
    unserved: pd.DataFrame
    runtime_s: float
    meta: dict = field(default_factory=dict)

    @property
    def buses(self) -> int:
        """Number of bus runs."""
        return len(self.routes)

    def ride_times_s(self) -> list[float]:
        """Ride time of each route (first stop to school plus later stops' service)."""
        return [ride_time_s(self.problem, r) for r in self.routes]

    def table(self) -> pd.DataFrame:
        """``route, seq, stop_id, pupils, minutes`` (minutes: the ride of the pupils boarding
        at that stop, to the school; afternoon: from the school)."""
        rows = []
        for k, route in enumerate(self.routes, start=1):
            for seq, (stop, n) in enumerate(route, start=1):
                rows.append(
                    {
                        "route": k,
                        "seq": seq,
                        "stop_id": self.problem.stop_ids[stop - 1],
                        "pupils": n,
                        "minutes": ride_from_s(self.problem, route, seq - 1) / 60,
                    }
                )
        return pd.DataFrame(rows, columns=["route", "seq", "stop_id", "pupils", "minutes"])

    def summary(self) -> dict:
        """Buses, bus-kilometres, longest ride, pupils served and not."""
        rides = self.ride_times_s()
        km = sum(route_length_m(self.problem, r) for r in self.routes) / 1000
        return {
            "buses": self.buses,
            "bus_km": km,
            "longest_ride_min": max(rides, default=0) / 60,
            "pupils": int(sum(n for r in self.routes for _, n in r)),
            "unserved_pupils": int(self.unserved["pupils"].sum()) if len(self.unserved) else 0,
        }


def ride_from_s(problem: BusProblem, route, position: int) -> float:
    """Ride time (s) of the pupils picked up at ``route[position]`` (morning), or dropped
    there (afternoon)."""
    stops = [s for s, _ in route]
    svc = problem.service_s([n for _, n in route])
    if problem.direction == "morning":
        path = [*stops[position:], 0]
        travel = sum(problem.time_s[a, b] for a, b in itertools.pairwise(path))
        return travel + svc[position + 1 :].sum()
    path = [0, *stops[: position + 1]]
    travel = sum(problem.time_s[a, b] for a, b in itertools.pairwise(path))
    return travel + svc[:position].sum()


def rides_s(problem: BusProblem, route) -> np.ndarray:
    """Ride time (s) of the pupils of every stop of a route at once (as :func:`ride_from_s`
    gives one): the legs and services summed from the school backwards (morning) or
    forwards (afternoon)."""
    stops = np.array([s for s, _ in route], dtype=np.int64)
    svc = np.asarray(problem.service_s(np.array([n for _, n in route])), dtype=float)
    if problem.direction == "morning":
        legs = problem.time_s[stops, np.append(stops[1:], 0)]  # each stop to the next, school
        after = np.concatenate([np.cumsum(svc[::-1])[::-1][1:], [0.0]])
        return np.cumsum(legs[::-1])[::-1] + after
    legs = problem.time_s[np.insert(stops[:-1], 0, 0), stops]  # school, then stop to stop
    before = np.concatenate([[0.0], np.cumsum(svc)[:-1]])
    return np.cumsum(legs) + before


def ride_time_s(problem: BusProblem, route) -> float:
    """The longest ride on a route: its first pupils' (morning) or last pupils' (afternoon)."""
    return ride_from_s(problem, route, 0 if problem.direction == "morning" else len(route) - 1)


def route_length_m(problem: BusProblem, route) -> float:
    """Metres driven: depot to first stop, the stops, the school (mirrored in the afternoon)."""
    stops = [s for s, _ in route]
    depot = problem.depot_dist_m if problem.depot_dist_m is not None else problem.dist_m[0, 1:]
    if problem.direction == "morning":
        legs = sum(problem.dist_m[a, b] for a, b in zip(stops, [*stops[1:], 0], strict=True))
        return depot[stops[0] - 1] + legs
    legs = sum(problem.dist_m[a, b] for a, b in zip([0, *stops[:-1]], stops, strict=True))
    return legs + depot[stops[-1] - 1]


def check_routes(problem: BusProblem, routes, tolerance_s: float = 1e-6) -> list[str]:
    """Independent check of a route set: every pupil picked up exactly once, no bus over its
    seats, no ride over the limit. Returns the violations (empty when all is well)."""
    problems = []
    picked = np.zeros(len(problem.pupils) + 1)
    for k, route in enumerate(routes, start=1):
        load = 0
        for stop, n in route:
            if not 1 <= stop <= len(problem.pupils):
                problems.append(f"route {k}: unknown stop {stop}")
                continue
            picked[stop] += n
            load += n
        if load > problem.seats:
            problems.append(f"route {k}: {load} pupils for {problem.seats} seats")
        ride = ride_time_s(problem, route)
        if ride > problem.max_ride_s + tolerance_s:
            problems.append(
                f"route {k}: ride of {ride:.1f} s over the {problem.max_ride_s:.0f} s limit"
            )
    for i, n in enumerate(problem.pupils, start=1):
        if picked[i] != n:
            problems.append(
                f"stop {problem.stop_ids[i - 1]}: {picked[i]:.0f} of {n} pupils picked up"
            )
    return problems


#: Most pick-ups one school's routing takes (a bound on the work: PyVRP's data grow with the
#: square of the pick-ups). A county school's riders fill a few dozen buses at most.
MAX_PICKUPS = 2_000

#: Work limits of the exact model inside :func:`solve`: stop sets listed, HiGHS nodes.
EXACT_SETS = 300_000
EXACT_NODES = 2_000


def solve(
    problem: BusProblem,
    iterations: int = 20_000,
    seed: int = 0,
    no_improvement: int | None = 20_000,
    first_share: float = 0.5,
    exact: bool = True,
    split: bool = False,
    time_limit_s: float | None = None,
    exact_sets: int = EXACT_SETS,
    warm: list[list[int]] | None = None,
) -> BusSolution:
    """Plan the routes of one school with the fewest buses (work limits, not the clock: the
    same problem and seed give the same routes under any load).

    Parameters
    ----------
    problem
        The school's pick-ups.
    iterations
        Work budget: PyVRP iterations for the whole solve (the exact model: see below).
    seed
        Seed of PyVRP's random numbers.
    no_improvement
        Stop a PyVRP run after this many iterations without improvement.
    first_share
        Share of the iterations for the first PyVRP run (the rest goes to fleet reduction).
    exact, exact_sets
        First try the exact model of :mod:`ruralnet.buses.exact` (every feasible stop set, set
        covering with HiGHS) when the school has at most ``exact_sets`` stop sets (default
        :data:`EXACT_SETS`; :data:`EXACT_NODES` nodes); it proves the fewest buses. PyVRP
        takes over when the model is too large or not proven within its limits.
    split
        Let the pupils of one stop ride on more than one bus (each pick-up of two or more pupils
        is offered to PyVRP as two halves; halves on the same bus are one stop).
    time_limit_s
        Optional wall-clock cap (benchmarks against published times; machine-dependent).
    warm
        Routes of an earlier plan of nearly the same stops (each a list of stop indices, 1 is
        ``stop_ids[0]``): PyVRP starts from them when the exact model has no plan (stops not
        in them ride alone; a route over its seats is cut).

    Returns
    -------
    BusSolution
        Routes, unserved stops with reasons (those no bus can serve alone within the limit),
        and ``meta``: ``method`` (``exact`` or ``pyvrp``: which found the plan),
        ``lower_bound`` (proven: the seats bound, the exact model's bound for whole stops, or
        :func:`ruralnet.buses.exact.split_lower_bound`), ``optimal`` (the plan reaches it),
        ``exact_s`` / ``solves`` / ``iterations`` (the exact model's time, PyVRP's runs, iterations).
    """
    started = time.perf_counter()
    ok, unserved = _servable(problem)
    picks = _pickups(problem, ok)
    if not picks:
        return BusSolution(problem, [], unserved, 0.0, {"lower_bound": 0})
    _check_size(problem, picks)
    if len(picks) == 1:  # one servable pick-up: one bus, nothing to search
        return BusSolution(problem, [picks], unserved, 0.0, _ONE_BUS.copy())
    lower = math.ceil(sum(p for _, p in picks) / problem.seats)
    meta: dict = {"lower_bound": lower, "optimal": False, "method": "pyvrp"}
    best, start = None, None
    if exact:
        best, start = _exact_first(problem, picks, ok, time_limit_s, split, meta, exact_sets)
    if best is None or len(best) > meta["lower_bound"]:
        left = None if time_limit_s is None else time_limit_s - (time.perf_counter() - started)
        offered, expand = _halves(picks) if split else (picks, [[k] for k in range(len(picks))])
        start = _pyvrp_start(start, picks, problem.seats, warm, expand)
        budget = _Budget(iterations, None if left is None else max(left, 0.2))
        routes, runs = _solve_pyvrp(
            problem, offered, budget, seed, no_improvement, first_share, start, meta["lower_bound"]
        )
        meta.update(solves=runs, iterations=int(iterations - budget.iterations))
        if routes is not None and (best is None or len(routes) < len(best)):
            best, meta["method"] = routes, "pyvrp"
    if best is None:
        log.warning("no better feasible bus plan found in time: one bus per pick-up")
        best = [[pick] for pick in picks]
    meta["optimal"] = meta["optimal"] or len(best) <= meta["lower_bound"]
    return BusSolution(problem, best, unserved, time.perf_counter() - started, meta)


#: What a solve of one servable pick-up says: one bus, proven.
_ONE_BUS = {"lower_bound": 1, "optimal": True, "method": "exact", "exact_s": 0.0}


def _check_size(problem: BusProblem, picks: list) -> None:
    """Refuse more pick-ups than the route solver takes (a bound on the work)."""
    if len(picks) > MAX_PICKUPS:
        raise PlanError(
            f"{len(picks):,} pick-ups ({int(problem.pupils.sum()):,} pupils, {problem.seats} "
            f"seats a bus) for one school's buses: more than the {MAX_PICKUPS:,} the route solver "
            "takes; check the pupils and the seats"
        )


def _share(seconds: float | None, share: float) -> float | None:
    return None if seconds is None else seconds * share


def _exact_first(
    problem, picks, ok, time_limit_s: float | None, split: bool, meta: dict, max_sets: int
):
    """The exact model's plan (whole stops) and the lower bound it proves, or for split
    pick-ups the split bound; ``(routes, start)`` with ``routes`` None when it gave up."""
    best = start = None
    ex = _solve_exact(problem, picks, _share(time_limit_s, 0.4), max_sets)
    if ex is not None:
        best = [[picks[k] for k in route] for route in ex.routes]
        start = ex.routes
        if not split:
            meta["lower_bound"] = max(meta["lower_bound"], ex.lower_bound)
            meta["optimal"] = ex.optimal
        meta["method"] = "exact"
        meta["exact_s"] = ex.runtime_s
    if split and (best is None or len(best) > meta["lower_bound"]):
        bound = _split_bound(problem, ok, _share(time_limit_s, 0.2), max_sets)
        meta["lower_bound"] = max(meta["lower_bound"], bound or 0)
    return best, start


def servable(problem: BusProblem) -> np.ndarray:
    """Which stops a bus can serve alone within the limit (the fleet asks this of every
    school and every mixed school; :func:`_servable` adds the reasons of the others)."""
    direct = problem.time_s[1:, 0] if problem.direction == "morning" else problem.time_s[0, 1:]
    # over the limit, also once rounded up to the solver's integer ticks
    return np.isfinite(direct) & ~(
        np.ceil(np.round(np.where(np.isfinite(direct), direct, 0) * TICKS, 6))
        > math.floor(problem.max_ride_s * TICKS)
    )


def _servable(problem: BusProblem) -> tuple[np.ndarray, pd.DataFrame]:
    """Which stops a bus can serve alone within the limit (:func:`servable`); the others
    with their reasons."""
    direct = problem.time_s[1:, 0] if problem.direction == "morning" else problem.time_s[0, 1:]
    ok = servable(problem)
    reasons = [
        "no road a bus can use to the school"
        if not np.isfinite(d)
        else f"direct ride {d / 60:.0f} min is over the {problem.max_ride_s / 60:.0f} min limit"
        for d in direct[~ok]
    ]
    unserved = pd.DataFrame(
        {
            "stop_id": np.asarray(problem.stop_ids, dtype=object)[~ok],
            "pupils": problem.pupils[~ok],
            "reason": pd.Series(reasons, dtype=object),
        }
    )
    return ok, unserved


def _pickups(problem: BusProblem, ok: np.ndarray) -> list[tuple[int, int]]:
    """``(stop, pupils)`` pick-ups: a stop with more pupils than seats as full busloads plus
    the rest."""
    picks: list[tuple[int, int]] = []
    for i in np.flatnonzero(ok):
        left = int(problem.pupils[i])
        while left > 0:
            take = min(left, problem.seats)
            picks.append((i + 1, take))
            left -= take
    return picks


def _pyvrp_start(start, picks, seats: int, warm, expand) -> list[list[int]] | None:
    """Where PyVRP starts: the exact model's best plan, else the warm routes (as pick-up
    indices), offered as the halves of split pick-ups."""
    if start is None and warm:
        start = _warm_start(picks, seats, warm)
    return None if start is None else [[j for k in route for j in expand[k]] for route in start]


def _warm_start(picks: list[tuple[int, int]], seats: int, warm: list[list[int]]) -> list[list[int]]:
    """Earlier routes (stop indices) as routes of pick-up indices: each stop's first unused
    pick-up, a route cut where it would exceed the seats, the pick-ups left over alone."""
    free: dict[int, list[int]] = {}
    for k, (stop, _) in enumerate(picks):
        free.setdefault(stop, []).append(k)
    routes = []
    for route in warm:
        current, load = [], 0
        for stop in route:
            if not free.get(stop):
                continue
            k = free[stop].pop(0)
            if current and load + picks[k][1] > seats:
                routes.append(current)
                current, load = [], 0
            current.append(k)
            load += picks[k][1]
        if current:
            routes.append(current)
    return routes + [[k] for left in free.values() for k in left]


def _halves(
    picks: list[tuple[int, int]],
) -> tuple[list[tuple[int, int]], list[list[int]]]:
    """Each pick-up of two or more pupils as two halves (split pick-ups), and the halves'
    indices of each pick-up."""
    out: list[tuple[int, int]] = []
    expand = []
    for stop, n in picks:
        halves = [(stop, n - n // 2), (stop, n // 2)] if n >= 2 else [(stop, n)]
        expand.append(list(range(len(out), len(out) + len(halves))))
        out += halves
    return out, expand


def _towards_school(problem: BusProblem, stops: np.ndarray) -> np.ndarray:
    """Travel times between the school (index 0) and these stops (1-based), as morning runs
    read them: an afternoon run school -> stops is the mirror image, stops -> school on the
    transposed times."""
    rows = np.concatenate([[0], stops])
    t = problem.time_s[np.ix_(rows, rows)]
    return t.T if problem.direction == "afternoon" else t


def _solve_exact(problem: BusProblem, picks, time_limit_s: float | None, max_sets: int):
    """Fewest buses by the exact model, routes as pick-up indices in visiting order."""
    t = _towards_school(problem, np.array([s for s, _ in picks]))
    pupils = np.array([p for _, p in picks])
    res = fewest_buses(
        t, problem.service_s(pupils), pupils, problem.seats, problem.max_ride_s,
        max_sets=max_sets, node_limit=EXACT_NODES, time_limit_s=time_limit_s,
    )  # fmt: skip
    if res is not None and problem.direction == "afternoon":
        res.routes = [route[::-1] for route in res.routes]
    return res


def _split_bound(
    problem: BusProblem, ok: np.ndarray, time_limit_s: float | None, max_sets: int
) -> int | None:
    """Lower bound on the buses with split pick-ups (see
    :func:`ruralnet.buses.exact.split_lower_bound`)."""
    return split_lower_bound(
        _towards_school(problem, np.flatnonzero(ok) + 1),
        problem.stop_s,
        problem.per_pupil_s,
        problem.pupils[ok],
        problem.seats,
        problem.max_ride_s,
        max_sets=max_sets,
        node_limit=EXACT_NODES,
        time_limit_s=time_limit_s,
    )


def _merge_visits(visits: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Pick-ups at the same stop on one route are one stop, at its first visit (the later
    visits dropped: by the triangle inequality of shortest paths no ride gets longer)."""
    merged: dict[int, int] = {}
    for stop, n in visits:
        merged[stop] = merged.get(stop, 0) + n
    return list(merged.items())


@dataclass
class _Budget:
    """PyVRP iterations left for a solve, and an optional wall-clock cap (``None``: none)."""

    iterations: int
    seconds: float | None = None
    started: float = field(default_factory=time.perf_counter)

    def left_s(self) -> float | None:
        return None if self.seconds is None else self.seconds - (time.perf_counter() - self.started)

    def criteria(self, iterations: int, no_improvement: int | None, *more):
        """Stop after ``iterations`` (at least 1), or as the other criteria say."""
        from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, NoImprovement

        crit = [MaxIterations(max(int(iterations), 1)), *more]
        if no_improvement:
            crit.append(NoImprovement(no_improvement))
        left = self.left_s()
        if left is not None:
            crit.append(MaxRuntime(max(left, 0.05)))
        return MultipleCriteria(crit)

    def spend(self, result) -> None:
        self.iterations -= int(result.num_iterations)

    def spent(self) -> bool:
        left = self.left_s()
        return self.iterations <= 0 or (left is not None and left <= 0.05)


def _solve_pyvrp(
    problem: BusProblem,
    picks: list[tuple[int, int]],
    budget: _Budget,
    seed: int,
    no_improvement: int | None,
    first_share: float,
    initial_routes: list[list[int]] | None = None,
    lower: int = 0,
) -> tuple[list[list[tuple[int, int]]] | None, int]:
    """PyVRP on the pick-ups, from a feasible plan ``initial_routes`` (pick-up indices) if given;
    ``None`` when no feasible plan was found within the budget."""
    from pyvrp import IteratedLocalSearchParams, Solution, SolveParams
    from pyvrp import solve as pyvrp_solve
    from pyvrp.IteratedLocalSearch import IteratedLocalSearchCallbacks

    data, _ = _pyvrp_data(problem, picks)
    lower = max(lower, math.ceil(sum(p for _, p in picks) / problem.seats))

    class BoundReached(IteratedLocalSearchCallbacks):
        """Stops the search once its best plan is feasible with no more buses than the proven
        lower bound (a stopping criterion fed by the iteration callback: the new-best one
        never fires when the start is already that good, and the search went on for its whole
        no-improvement budget)."""

        def __init__(self) -> None:
            self.done = False

        def on_iteration(self, current, candidate, best, cost_evaluator) -> None:
            self.done = self.done or (best.is_feasible() and best.num_routes() <= lower)

        def __call__(self, best_cost: float) -> bool:
            return self.done

    def run(d, iterations, initial=None):
        reached = BoundReached()
        result = pyvrp_solve(
            d,
            stop=budget.criteria(iterations, no_improvement, reached),
            seed=seed,
            display=False,
            initial_solution=initial,
            params=SolveParams(ils=IteratedLocalSearchParams(callbacks=reached)),
        )
        budget.spend(result)
        return result

    # first the best plan the budget allows, then one bus fewer while that stays feasible.
    # A hard school may need the whole budget to become feasible: then the search goes on from
    # its best state.
    total = budget.iterations
    initial = Solution(data, initial_routes) if initial_routes is not None else None
    sol = run(data, total * first_share, initial).best
    runs = 1
    if not sol.is_feasible():
        sol = run(data, max(budget.iterations, total // 4), sol).best  # go on from there
        runs += 1
    if not sol.is_feasible():
        return None, runs
    while sol.num_routes() > lower and not budget.spent():
        fewer = data.replace(
            vehicle_types=[data.vehicle_type(0).replace(num_available=sol.num_routes() - 1)]
        )
        attempt = run(fewer, max(budget.iterations // 2, 1))
        runs += 1
        if not attempt.best.is_feasible():
            break
        sol, data = attempt.best, fewer
    routes = []
    for route in sol.routes():
        visits = _merge_visits([picks[a.idx] for a in route.schedule() if a.is_client()])
        if visits:
            routes.append(visits)
    return routes, runs


@dataclass(frozen=True)
class Origin:
    """Buses waiting at another school that may do one of this school's morning runs next.

    Attributes
    ----------
    count
        Buses waiting there.
    deadhead_s, deadhead_m
        Per stop of the problem: empty running from that school to the stop (s, m).
    budget_s
        Seconds from leaving that school to arriving at this one (bell to bell, less the dwell):
        the empty running, the service of every stop (the first included) and the travel.
    """

    count: int
    deadhead_s: np.ndarray
    deadhead_m: np.ndarray
    budget_s: float


def chain_routes(
    problem: BusProblem,
    origins: list[Origin],
    iterations: int = 5_000,
    seed: int = 0,
    reuse_share: float = 0.1,
    no_improvement: int = 20_000,
    time_limit_s: float | None = None,
) -> list[tuple[list[tuple[int, int]], int | None]]:
    """Morning routes of one school for buses that come from the yard or from ``origins``.

    A bus from the yard costs a new bus; one that comes from an origin costs ``reuse_share`` of
    that, and must reach the school within the origin's budget. Every route also keeps the ride
    limit: an origin's budget is capped at the ride limit plus its quickest reach, so that the
    budget alone guarantees it.

    Returns
    -------
    list of (route, origin)
        Each route as ``(stop, pupils)`` pick-ups in visiting order, and the index of the origin
        its bus comes from (``None``: the yard). Stops no bus can serve are left out.
    """
    from pyvrp import solve as pyvrp_solve

    if problem.direction != "morning":
        raise ValueError("chain_routes plans morning runs")
    ok = servable(problem)
    picks = _pickups(problem, ok)
    if not picks:
        return []
    data, kinds = _pyvrp_data(problem, picks, origins, reuse_share)
    crit = _Budget(iterations, time_limit_s).criteria(iterations, no_improvement)
    sol = pyvrp_solve(data, stop=crit, seed=seed, display=False).best
    if not sol.is_feasible():
        return []
    out = []
    for route in sol.routes():
        visits = _merge_visits([picks[a.idx] for a in route.schedule() if a.is_client()])
        if visits:
            out.append((visits, kinds[route.vehicle_type()]))
    return out


def _pyvrp_data(
    problem: BusProblem,
    picks: list[tuple[int, int]],
    origins: list[Origin] = (),
    reuse_share: float = 0.1,
):
    """The PyVRP model of one school's run (see the module docstring), with buses waiting at
    ``origins`` as further vehicle types, and the origin of each vehicle type (``None``: the
    yard)."""
    from pyvrp import Model

    m = Model()
    depot_loc = m.add_location(0, 0, name="depot")
    school_loc = m.add_location(1, 0, name="school")
    locs = [m.add_location(2 + k, 0, name=str(k)) for k in range(len(picks))]
    depot_dist = problem.depot_dist_m if problem.depot_dist_m is not None else problem.dist_m[0, 1:]
    # A bus costs twice the longest single-stop run: fewer buses come first, while PyVRP's
    # infeasibility penalties stay in scale (a cost of all the driving of one-bus-per-stop
    # drowned them, and hard schools never became feasible). Fleet reduction follows.
    stop_rows = np.array([sa for sa, _ in picks])
    to_school = (
        problem.dist_m[stop_rows, 0]
        if problem.direction == "morning"
        else problem.dist_m[0, stop_rows]
    )
    single = np.nan_to_num(depot_dist[stop_rows - 1]) + np.nan_to_num(to_school)
    bus_cost = int(2 * single.max()) + 1
    depot = m.add_depot(depot_loc, name="depot")
    school = m.add_depot(school_loc, name="school")
    for loc, (_, p) in zip(locs, picks, strict=True):
        m.add_client(loc, pickup=int(p))
    start, end = (depot, school) if problem.direction == "morning" else (school, depot)
    m.add_vehicle_type(
        num_available=len(picks),
        capacity=problem.seats,
        start_depot=start,
        end_depot=end,
        fixed_cost=bus_cost,
        shift_duration=math.floor(problem.max_ride_s * TICKS),
    )

    kinds: list[int | None] = [None]
    svc = problem.service_s([p for _, p in picks])
    from_origins = []  # per origin kept: the pick-ups it reaches, metres and seconds to them
    for k, origin in enumerate(origins):
        reach = origin.deadhead_s[stop_rows - 1] + svc  # to the first stop, and serve it
        budget = min(origin.budget_s, problem.max_ride_s + reach.min())
        if origin.count < 1 or not budget > reach.min():
            continue
        loc = m.add_location(3 + len(picks) + k, 0, name=f"origin {k}")
        from_origins.append((np.isfinite(reach), origin.deadhead_m[stop_rows - 1], reach))
        m.add_vehicle_type(
            num_available=int(origin.count),
            capacity=problem.seats,
            start_depot=m.add_depot(loc, name=f"origin {k}"),
            end_depot=school,
            fixed_cost=int(bus_cost * reuse_share),
            shift_duration=math.floor(budget * TICKS),
        )
        kinds.append(k)
    dist, dur = _matrices(problem, stop_rows, svc, depot_dist, from_origins)
    data = m.data().replace(distance_matrices=[dist], duration_matrices=[dur])
    return data, kinds


def _ticks(seconds) -> np.ndarray:
    """Seconds as the solver's integer ticks, rounded up (a limit is never crossed)."""
    return np.ceil(np.round(np.asarray(seconds, dtype=float) * TICKS, 6)).astype(np.int64)


def _matrices(problem: BusProblem, rows: np.ndarray, svc, depot_dist, from_origins):
    """PyVRP's distance (m) and duration (ticks) matrices over its locations: the depot (0),
    the school (1), the pick-ups (2...) and the origins after them, built as arrays (an edge
    per pair through the model's Python API was the slowest part of a small school's routing).

    Service sits on the edge into a stop in the morning and out of it in the afternoon; two
    pick-ups at the same stop in a row are one stop (one fixed stop time). Pairs with no way
    keep PyVRP's missing-edge value, as :meth:`pyvrp.Model.data` gives them."""
    from pyvrp.constants import MAX_VALUE

    k = len(rows)
    n = 2 + k + len(from_origins)
    dist = np.full((n, n), MAX_VALUE, dtype=np.int64)
    dur = np.full((n, n), MAX_VALUE, dtype=np.int64)
    np.fill_diagonal(dist, 0)
    np.fill_diagonal(dur, 0)
    picks = np.arange(2, 2 + k)
    depot_m = np.round(depot_dist[rows - 1]).astype(np.int64)
    if problem.direction == "morning":
        dist[0, picks], dur[0, picks] = depot_m, 0
        dist[picks, 1] = np.round(problem.dist_m[rows, 0]).astype(np.int64)
        dur[picks, 1] = _ticks(problem.time_s[rows, 0])
        extra = np.broadcast_to(svc[None, :], (k, k))  # the stop arrived at
    else:
        dist[1, picks] = np.round(problem.dist_m[0, rows]).astype(np.int64)
        dur[1, picks] = _ticks(problem.time_s[0, rows])
        dist[picks, 0], dur[picks, 0] = depot_m, 0
        extra = np.broadcast_to(svc[:, None], (k, k))  # the stop left
    same = rows[:, None] == rows[None, :]
    t = np.where(same, 0.0, problem.time_s[np.ix_(rows, rows)])
    extra = extra - np.where(same, problem.stop_s, 0.0)
    a, b = np.nonzero(np.isfinite(t) & ~np.eye(k, dtype=bool))
    dist[a + 2, b + 2] = np.round(problem.dist_m[rows[a], rows[b]]).astype(np.int64)
    dur[a + 2, b + 2] = _ticks(t[a, b] + extra[a, b])
    for j, (reached, metres, reach) in enumerate(from_origins):
        dist[2 + k + j, picks[reached]] = np.round(metres[reached]).astype(np.int64)
        dur[2 + k + j, picks[reached]] = _ticks(reach[reached])
    return dist, dur
