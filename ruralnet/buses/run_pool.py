"""Candidate runs for one county fleet, and the fleet plan (see :mod:`ruralnet.buses.fleet`).

:func:`plan_fleet` pools each school's fewest-bus runs under several ride caps
(:func:`scenario_runs`; a school above its proven fewest runs is searched once more), selects
the runs that need the fewest buses exactly, then reroutes each school for the buses left idle
at earlier schools (:func:`reroute`) and selects again, round after round, until a round brings
no fewer buses, the lower bound is reached, or the rounds are spent.

Every limit is one of work (PyVRP iterations, HiGHS nodes, rounds), so the same problem and
seed give the same fleet on any machine under any load; a wall-clock cap is optional
(``FleetOptions.time_limit_s``, for benchmarks against published times).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, replace

import numpy as np
from tqdm.auto import tqdm

from .fleet import (
    RIDE_CAPS,
    FleetProblem,
    FleetSolution,
    Run,
    fewest_buses,
    fleet_lower_bound,
    latest_starts,
    select_runs,
    time_copies,
)
from .routing import EXACT_SETS, TICKS, BusProblem, Origin, chain_routes, servable, solve

log = logging.getLogger(__name__)


def _part(bp: BusProblem, mask: np.ndarray, limit_s: float) -> BusProblem:
    """The problem of some of a school's stops, under another ride limit."""
    keep = np.concatenate([[0], np.flatnonzero(mask) + 1])
    return BusProblem(
        [bp.stop_ids[i - 1] for i in keep[1:]],
        bp.pupils[mask],
        bp.time_s[np.ix_(keep, keep)],
        bp.dist_m[np.ix_(keep, keep)],
        bp.seats,
        limit_s,
        bp.stop_s,
        bp.per_pupil_s,
        None if bp.depot_dist_m is None else np.asarray(bp.depot_dist_m)[mask],
    )


def scenario_runs(
    problem: FleetProblem,
    k: int,
    caps=RIDE_CAPS,
    effort: tuple[int, float | None] = (5_000, None),
    seed: int = 0,
    no_improvement: int = 20_000,
    cache: dict | None = None,
    polish: tuple[int, float | None] = (0, None),
    exact_sets: int = EXACT_SETS,
    cap_effort: float = 1.0,
) -> tuple[list[Run], int]:
    """School ``k``'s fewest-bus runs under each cap on the ride.

    Under a cap ``c`` (a share of the ride limit), the stops whose direct ride fits in ``c``
    are routed with the limit ``c`` and the others with the full limit.

    Parameters
    ----------
    effort
        PyVRP iterations of each routing, and an optional wall-clock cap (``None``: none).
    cache
        Routes of identical schools (same stops, pupils, seats and limit) found before.
    polish
        Iterations (and optional seconds) of one more search under the full limit when the
        first found more runs than the school's proven bound (0: none).
    exact_sets
        Work limit of the exact model of each routing (stop sets listed).
    cap_effort
        Share of the iterations spent on the parts under a cap below 1 (their runs add
        variety to the pool; the full-limit routing keeps the whole effort).

    Returns
    -------
    runs, fewest
        The runs of every cap, and a proven lower bound on the school's runs.
    """
    bp = problem.schools[k]
    key = (tuple(bp.stop_ids), tuple(bp.pupils), bp.seats, bp.max_ride_s, tuple(caps))
    key += (bp.time_s.tobytes(), seed, tuple(effort), tuple(polish), no_improvement, exact_sets)
    key += (cap_effort,)
    cache = {} if cache is None else cache
    if key not in cache:
        cache[key] = _cap_routes(
            bp, caps, effort, seed, no_improvement, polish, exact_sets, cap_effort, cache
        )
    routes, fewest = cache[key]
    return [problem.run(k, r) for r in routes], fewest


def _cap_routes(
    bp: BusProblem,
    caps,
    effort,
    seed,
    no_improvement,
    polish=(0, None),
    exact_sets=EXACT_SETS,
    cap_effort=1.0,
    cache: dict | None = None,
) -> tuple[list, int]:
    """Routes of one school under each cap, and the proven fewest runs. A part routed before
    with the same inputs (the far stops of both caps, or of another plan's school) is taken
    from ``cache``: the routing is deterministic, so the routes are the same."""
    cache = {} if cache is None else cache
    direct = np.ceil(np.round(bp.time_s[1:, 0] * TICKS, 6))
    # the seats bound counts only the pupils a bus can serve within the ride limit (the others
    # are reported, not routed): with them, the weekly bound stood above the fleet (390 > 382)
    pupils = int(bp.pupils[servable(bp)].sum())
    fewest = math.ceil(pupils / bp.seats) if pupils else 0
    routes: list = []
    for cap in caps:
        iterations = effort[0] if cap >= 1 else max(int(effort[0] * cap_effort), 1)
        near = direct <= math.floor(cap * bp.max_ride_s * TICKS)
        parts = [(near, cap * bp.max_ride_s), (~near, bp.max_ride_s)] if cap < 1 else []
        for mask, limit in parts or [(np.ones(len(direct), bool), bp.max_ride_s)]:
            if not mask.any():
                continue
            part = _part(bp, mask, limit)
            args = dict(iterations=iterations, seed=seed, no_improvement=no_improvement,
                        time_limit_s=effort[1], exact_sets=exact_sets)  # fmt: skip
            key = ("part", _problem_key(part), tuple(sorted(args.items())))
            if key not in cache or effort[1] is not None:  # a clock limit: never reused
                found = solve(part, **args)  # kept light: no matrices held in the cache
                cache[key] = _Routed(found.routes, found.buses, dict(found.meta))
            sol = cache[key]
            back = np.flatnonzero(mask) + 1
            routes += [[(int(back[a - 1]), n) for a, n in r] for r in sol.routes]
            if cap >= 1:
                fewest = max(fewest, int(sol.meta.get("lower_bound", 0)))
                routes += _search_again(bp, sol, fewest, polish, seed)
    return routes, fewest


@dataclass(frozen=True)
class _Routed:
    """What the pool keeps of a part's routing."""

    routes: list
    buses: int
    meta: dict


def _problem_key(bp: BusProblem) -> tuple:
    """Everything a routing of ``bp`` depends on (the matrices as a digest)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (bp.pupils, bp.time_s, bp.dist_m, bp.depot_dist_m):
        digest.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
    return (tuple(bp.stop_ids), digest.digest(), bp.seats, bp.max_ride_s, bp.stop_s,
            bp.per_pupil_s, bp.direction)  # fmt: skip


def _search_again(bp: BusProblem, sol, fewest: int, polish, seed: int) -> list:
    """When a school's routing has more runs than its proven bound, one longer search (each
    run of a school no bus can reach from an earlier one is a bus of the fleet)."""
    if polish[0] <= 0 or sol.buses <= fewest:
        return []
    again = solve(
        bp, iterations=polish[0], seed=seed + 1, no_improvement=None, time_limit_s=polish[1]
    )
    return again.routes if again.buses < sol.buses else []


def idle_buses(problem: FleetProblem, k: int, solution: FleetSolution) -> np.ndarray:
    """Per school: buses of ``solution`` that are free there for good, or go on to a run of
    school ``k`` (and would be free if ``k`` were routed again)."""
    idle = np.zeros(len(problem.bell_s), dtype=int)
    for day in solution.days:
        for pos, r in enumerate(day):
            s1 = solution.runs[r].school
            after = solution.runs[day[pos + 1]].school if pos + 1 < len(day) else None
            if s1 != k and (after is None or after == k):
                idle[s1] += 1
    return idle


def reroute(
    problem: FleetProblem,
    k: int,
    solution: FleetSolution,
    effort: tuple[int, float | None] = (5_000, None),
    seed: int = 0,
    reuse_share: float = 0.1,
    no_improvement: int = 20_000,
) -> list[Run]:
    """School ``k``'s runs for the buses idle at earlier schools in ``solution`` (each may
    come if it can reach the school by its bell and is the kind of bus ``k`` needs) and new
    buses from the yard; none when no idle bus could come."""
    idle = idle_buses(problem, k, solution)
    cols = problem.columns[k]
    bp = problem.schools[k]
    quickest = bp.time_s[1:, 0].min() if len(cols) else np.inf
    origins = []
    same_bus = problem.type_codes == problem.type_codes[k]
    for s1 in np.flatnonzero((idle > 0) & same_bus & (problem.bell_s < problem.bell_s[k])):
        budget = problem.bell_s[k] - problem.dwell_s[k] - problem.bell_s[s1]
        if problem.deadhead_s[s1, cols].min() + quickest < budget:
            origins.append(
                Origin(
                    int(idle[s1]),
                    problem.deadhead_s[s1, cols],
                    problem.deadhead_m[s1, cols],
                    budget,
                )
            )
    if not origins:
        return []
    routes = chain_routes(bp, origins, effort[0], seed, reuse_share, no_improvement, effort[1])
    return [problem.run(k, r) for r, _ in routes]


@dataclass(frozen=True)
class FleetOptions:
    """How hard :func:`plan_fleet` works.

    Attributes
    ----------
    per_school_iterations
        PyVRP iterations of each routing of one school.
    polish_iterations
        Iterations of one more routing of a school under the full limit when the first found
        more runs than its proven bound (0: none; see :func:`scenario_runs`).
    selection_nodes
        HiGHS branch-and-bound nodes of each selection of runs.
    caps
        Caps on the ride (shares of the limit) for the first pool.
    rounds
        Most rounds of fleet-aware rerouting.
    patience
        Stop after this many rounds without fewer buses.
    seed
        Seed of the routing's random numbers.
    no_improvement
        Stop a routing after this many iterations without a better plan.
    progress
        Show progress bars.
    time_limit_s, per_school_s, polish_s
        Optional wall-clock caps (``None``: none) on the whole plan, each routing and the
        polish: with them the fleet depends on the machine's speed and load (benchmarks
        against published times only).
    exact_sets
        Work limit of each routing's exact model: stop sets listed before a school is left to
        PyVRP (:func:`ruralnet.buses.routing.solve`).
    cap_effort
        Share of :attr:`per_school_iterations` spent on the routings under a cap below 1
        (see :func:`scenario_runs`).
    mixed_effort
        Share of :attr:`per_school_iterations` spent on each mixed school (two schools' stops
        on one run, :mod:`ruralnet.buses.mixed`), routed once at the full limit.
    """

    per_school_iterations: int = 5_000
    polish_iterations: int = 50_000
    selection_nodes: int = 5_000
    caps: tuple = RIDE_CAPS
    rounds: int = 20
    patience: int = 3
    seed: int = 0
    no_improvement: int = 20_000
    progress: bool = False
    time_limit_s: float | None = None
    per_school_s: float | None = None
    polish_s: float | None = None
    exact_sets: int = EXACT_SETS
    cap_effort: float = 1.0
    mixed_effort: float = 1.0

    @property
    def effort(self) -> tuple[int, float | None]:
        return (self.per_school_iterations, self.per_school_s)

    @property
    def polish(self) -> tuple[int, float | None]:
        return (self.polish_iterations, self.polish_s)


def plan_fleet(
    problem: FleetProblem,
    options: FleetOptions = FleetOptions(),
    pool: list[Run] | None = None,
    fewest: list[int] | None = None,
    cache: dict | None = None,
    previous: list[Run] | None = None,
) -> FleetSolution:
    """The fewest buses for all schools, each bus's day, and a lower bound.

    Parameters
    ----------
    problem
        Schools, bell times, pick-ups, deadhead.
    options
        Time, caps, rounds (:class:`FleetOptions`).
    pool
        Runs to start from (e.g. each school's own plan): the fleet is never worse than
        theirs chained.
    fewest
        Proven lower bounds on each school's runs, if known (for the fleet's lower bound).
    cache
        Routes of identical schools from earlier plans (see :func:`scenario_runs`).
    previous
        The runs of an earlier fleet covering every school (e.g. the year before's, with the
        own plans where the riders changed): pooled, and the selection starts from them
        chained when that needs no more buses than the pool's own start.

    Returns
    -------
    FleetSolution
        With ``lower_bound`` and ``meta``: ``pool`` (runs pooled), ``lower_bounds`` (per kind
        of bus, :attr:`~ruralnet.buses.fleet.FleetProblem.bus_types`), ``rounds``, ``history``
        (buses after the first selection and each round), ``optimal`` (the bound is reached),
        ``seconds``.
    """
    o = options
    started = time.perf_counter()
    runs = _Pool(pool or [], problem)
    least = list(fewest or [])  # schools without a known bound (e.g. mixed ones): 0
    least += [0] * (len(problem.bell_s) - len(least))
    bar = dict(disable=not o.progress, unit="school")
    time_copy = problem.time_copy
    for k in tqdm(range(len(problem.bell_s)), desc="runs", **bar):
        if time_copy[k]:
            continue  # a time copy: its school's runs are pooled at it (_Pool)
        own = bool(problem.own[k])  # a mixed school: its fewest runs, searched once, lighter
        effort = o.effort if own else (max(int(o.effort[0] * o.mixed_effort), 1), o.effort[1])
        found, bound = scenario_runs(
            problem, k, o.caps if own else (1.0,), effort, o.seed, o.no_improvement, cache,
            o.polish if own else (0, None), o.exact_sets, o.cap_effort,
        )  # fmt: skip
        runs.add(found)
        least[k] = max(least[k], bound)
    lowers = {str(t): fleet_lower_bound(problem, least, t) for t in np.unique(problem.bus_types)}
    lower = sum(lowers.values())
    log.info("fleet: %d runs pooled in %.0f s", len(runs.runs), time.perf_counter() - started)
    given = fewest_buses(problem, list(pool)) if pool else None  # never worse than the pool's
    if previous:
        runs.add(previous)
        before = fewest_buses(problem, list(previous))
        given = before if given is None or before.buses <= given.buses else given
    first_slice = _slice_s(o, started, 2 if runs.copies else 4)  # time copies: a larger model
    best = select_runs(problem, runs.list(), o.selection_nodes, given, o.seed, first_slice)
    log.info("fleet: %d buses selected, %.0f s in", best.buses, time.perf_counter() - started)
    best, history = _rounds(problem, o, runs, best, lower, started)
    best = latest_starts(problem, best)
    best.lower_bound = lower
    best.meta.update(
        pool=len(runs.runs),
        lower_bounds=lowers,
        rounds=len(history) - 1,
        history=history,
        optimal=best.buses <= lower,
        seconds=round(time.perf_counter() - started, 1),
    )
    log.info("fleet: %d buses (bound %d), %s", best.buses, lower, history)
    return best


def _slice_s(o: FleetOptions, started: float, share: int = 4) -> float | None:
    """Under a wall-clock cap, seconds for one selection: at most a ``share``-th of the cap
    (a quarter; HiGHS keeps its best answer when cut short), so the rounds of rerouting get
    the rest."""
    if o.time_limit_s is None:
        return None
    return min(max(_left(started, o.time_limit_s), 10), max(30.0, o.time_limit_s / share))


def _rounds(
    problem: FleetProblem,
    o: FleetOptions,
    runs: _Pool,
    best: FleetSolution,
    lower: int,
    started: float,
) -> tuple[FleetSolution, list[int]]:
    """Rounds of fleet-aware rerouting, each followed by a selection that starts from the best
    fleet so far; stops at the bound, out of time, or after ``o.patience`` rounds without
    fewer buses (or past the optional wall-clock cap). Returns the best fleet and the buses
    after each selection."""
    history = [best.buses]
    bar = dict(disable=not o.progress, unit="school")
    order = np.argsort(problem.bell_s, kind="stable")
    time_copy = problem.time_copy
    for rnd in range(o.rounds):
        if best.buses <= lower or _left(started, o.time_limit_s) <= 1:
            break  # (no cap: never out of time)
        share = SHARES[rnd % len(SHARES)]
        used = {r.school for r in best.runs}
        ks = [k for k in _round_order(order, rnd, o.seed) if k in used or not time_copy[k]]
        for k in tqdm(ks, desc=f"round {rnd + 1}", **bar):  # (time copies: those in use)
            runs.add(
                reroute(problem, int(k), best, o.effort, o.seed + rnd, share, o.no_improvement)
            )
            if _left(started, o.time_limit_s) <= 0:
                break
        sol = select_runs(
            problem, runs.list(), o.selection_nodes, best, o.seed, _slice_s(o, started)
        )
        history.append(sol.buses)
        log.info(
            "fleet: round %d, %d buses, %.0f s in",
            rnd + 1,
            sol.buses,
            time.perf_counter() - started,
        )
        best = sol if sol.buses <= best.buses else best
        if len(history) > o.patience and history[-1] >= history[-1 - o.patience]:
            break  # rounds without fewer buses
    return best, history


class _Pool:
    """Candidate runs, each stop set of a school once (its quickest order); a run of a school
    with time copies (:func:`ruralnet.buses.bells.arrival_slots`) at each of them."""

    def __init__(self, runs: list[Run], problem: FleetProblem | None = None) -> None:
        self.runs: dict = {}
        groups = time_copies(problem) if problem is not None else []
        self.copies = {int(k): [int(c) for c in g] for g in groups for k in g}  # and its copies
        self.add(runs)

    def add(self, runs: list[Run]) -> None:
        for found in runs:
            for k in self.copies.get(found.school, [found.school]):
                r = found if k == found.school else replace(found, school=k)
                if r.key not in self.runs or r.duration_s < self.runs[r.key].duration_s:
                    self.runs[r.key] = r

    def list(self) -> list[Run]:
        return list(self.runs.values())


#: What a waiting bus costs against a new one, round after round (cheaper: more chaining).
SHARES = (0.1, 0.3, 0.05, 0.2)


def _round_order(order: np.ndarray, rnd: int, seed: int) -> np.ndarray:
    """Schools in bell order, then the reverse, then shuffled (reproducibly)."""
    if rnd < 2:
        return order if rnd == 0 else order[::-1]
    return np.random.default_rng(seed + rnd).permutation(order)


def _left(started: float, limit_s: float | None) -> float:
    """Seconds left of a wall-clock cap (infinite without one)."""
    return math.inf if limit_s is None else limit_s - (time.perf_counter() - started)
