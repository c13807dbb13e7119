"""One fleet for many schools: buses that serve several schools in turn.

A **run** belongs to one school and ends there by its bell time; its duration is the service
of every stop (the first included) plus the travel to the school. A bus may do run ``r`` of
school ``s2`` after school ``s1`` when::

    bell(s1) + deadhead(s1 -> first stop of r) + duration(r) + dwell(s2) <= bell(s2)

(the rule of Bertsimas, Delarue & Martin, PNAS 2019): the bus is free at ``s1`` from its bell
on, and at ``s2`` it must be unloaded by the bell. Buses leave the yard freely for their first
run. Bells only grow along a bus's day, so no bus serves a school twice at one bell (its time
copies, :func:`ruralnet.buses.bells.arrival_slots`, are schools of their own here).

Every run of ``s1`` ends at ``s1``, so whether a bus can go on from ``s1`` to a run depends on
the school, not on the run: the fewest buses for fixed runs is a minimum path cover solved
exactly as a maximum flow from schools to runs (:func:`fewest_buses`).

The gain comes from choosing each school's runs with the fleet in view (:func:`plan_fleet`):

1. **A pool of runs.** Each school's fewest-bus routes (:func:`ruralnet.buses.routing.solve`)
   under several caps on the ride (short runs free a bus sooner; far stops keep the full
   limit), as the reference's scenarios do; a school whose routing under the full limit found
   more runs than its proven bound is searched once more for longer (a school no bus can
   reach from an earlier one needs a bus for each of its runs).
2. **Exact selection.** :func:`select_runs` chooses, among all pooled runs of all schools
   (not one scenario per school: any mix of runs that covers every pupil once), the runs that
   need the fewest buses: a mixed-integer model solved with HiGHS. Where schools have *time
   copies* (a start of unloading for every run inside a window,
   :func:`ruralnet.buses.bells.arrival_slots`), a bus free at one copy may wait for a later
   one, so only the latest copy that can precede a run keeps its link, and the integer model
   is solved over the runs its linear relaxation uses (interior point, then crossover: a
   small share of a pool several times larger), with the relaxation's bound beside it.
3. **Fleet-aware rerouting.** Given the best fleet so far, each school is routed again with
   the buses that wait idle at earlier schools as vehicles of their own, which start there,
   must arrive by the bell, and cost a fraction of a new bus (a tenth, then other shares
   round after round; the schools in bell order, then reversed, then shuffled)
   (:func:`ruralnet.buses.routing.chain_routes`). Their runs join the pool; the selection is
   solved again, starting from the best fleet so far (so a selection cut short by its time
   slice is never worse), until some rounds bring no fewer buses, the bound is reached, or
   time is up.

:func:`fleet_lower_bound` gives a bound no routing can beat (schools no bus can serve one after
the other need their own buses: a weighted chain cover of the schools), so the gap is known.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import maximum_flow

from ..model.errors import InputError
from ..model.highs import quiet_stdout, time_left
from .routing import BusProblem, ride_time_s, route_length_m, servable

log = logging.getLogger(__name__)

#: Caps on the ride, as shares of the limit, under which each school's runs are pooled.
RIDE_CAPS = (1.0, 8 / 9, 7 / 9, 2 / 3, 5 / 9, 4 / 9, 1 / 3, 2 / 9)


@dataclass(frozen=True)
class Run:
    """One run of one school.

    Attributes
    ----------
    school
        Row of the school in the :class:`FleetProblem`.
    stops
        ``(stop, pupils)`` pick-ups in visiting order (stop: 1-based index into the school's
        :class:`~ruralnet.buses.routing.BusProblem`).
    first
        Column of the first stop in ``FleetProblem.deadhead_s``.
    duration_s
        Service of every stop (the first included) plus the travel to the school.
    """

    school: int
    stops: tuple
    first: int
    duration_s: float

    @property
    def pupils(self) -> int:
        return int(sum(n for _, n in self.stops))

    @property
    def key(self) -> tuple:
        """The school and its stop set: runs with the same key differ only in their order."""
        return self.school, frozenset(self.stops)


@dataclass
class FleetProblem:
    """Schools with their bell times and pick-ups, and the empty running between them.

    Attributes
    ----------
    school_ids
        Id of each school.
    bell_s
        Bell time of each school, seconds after midnight: its runs must be unloaded by then.
    dwell_s
        Time a bus spends at a school after its run (one value, or one per school).
    schools
        Each school's morning :class:`~ruralnet.buses.routing.BusProblem`.
    columns
        Per school, the column in ``deadhead_s`` of each of its stops (stop ``i`` is
        ``columns[k][i - 1]``).
    deadhead_s, deadhead_m
        Schools x points: empty running from a school to a point (s, m).
    drops, origins
        Mixed loads (see :mod:`ruralnet.buses.mixed`): per school, the schools its runs
        unload at, in order, and per stop the ``(school, stop)`` it stands for. ``None``, or
        an entry ``(k,)`` and identity, for a school of its own; a *mixed* school (appended
        after the schools of their own) is a copy of several schools' stops whose runs drop
        at each in turn: its stops are covered as theirs, its bell is when its last school
        is unloaded.
    hops
        Per school, one row ``(seconds, metres)`` per school after the first it unloads at:
        from the arrival at the school before (its dwell and the drive).
    bus_types
        Per school, the kind of bus its runs need (for example kindergarten children only on
        kindergarten-standard buses); a bus's day keeps to one kind (default: one kind for
        all). A mixed school's kind is given by :func:`ruralnet.buses.mixed.add_mixed`.
    """

    school_ids: list
    bell_s: np.ndarray
    dwell_s: np.ndarray
    schools: list[BusProblem]
    columns: list[np.ndarray]
    deadhead_s: np.ndarray
    deadhead_m: np.ndarray | None = None
    drops: list[tuple] | None = None
    origins: list[np.ndarray | None] | None = None
    hops: list[np.ndarray] | None = None
    bus_types: np.ndarray | None = None

    def __post_init__(self) -> None:
        s = len(self.school_ids)
        kinds = [""] * s if self.bus_types is None else [str(v) for v in self.bus_types]
        self.bus_types = np.array(kinds, dtype=str)
        self.bell_s = np.asarray(self.bell_s, dtype=float)
        self.dwell_s = np.broadcast_to(np.asarray(self.dwell_s, dtype=float), (s,)).copy()
        self.deadhead_s = np.asarray(self.deadhead_s, dtype=float)
        if self.deadhead_m is None:
            self.deadhead_m = np.zeros_like(self.deadhead_s)
        self.columns = [np.asarray(c, dtype=np.int64) for c in self.columns]
        problems = []
        if self.bell_s.shape != (s,) or not np.isfinite(self.bell_s).all():
            problems.append(f"bell_s needs one finite time per school ({s})")
        if not (np.isfinite(self.dwell_s).all() and (self.dwell_s >= 0).all()):
            problems.append("dwell_s must be 0 or more")
        if len(self.schools) != s or len(self.columns) != s:
            problems.append(f"schools and columns need one entry per school ({s})")
        if len(self.bus_types) != s:
            problems.append(f"bus_types needs one entry per school ({s})")
        if self.deadhead_s.ndim != 2 or self.deadhead_s.shape[0] != s:
            problems.append("deadhead_s must have one row per school")
        elif np.isnan(self.deadhead_s).any() or (self.deadhead_s < 0).any():
            problems.append("deadhead_s has NaN or negative values (use inf for no way)")
        for k, (bp, cols) in enumerate(zip(self.schools, self.columns, strict=False)):
            if bp.direction != "morning" or len(cols) != len(bp.stop_ids):
                problems.append(f"school {self.school_ids[k]}: morning problem, one column a stop")
            elif len(cols) and self.deadhead_s.ndim == 2 and cols.max() >= self.deadhead_s.shape[1]:
                problems.append(f"school {self.school_ids[k]}: stop column out of range")
        if not problems:
            problems += self._mixed_problems()
        if problems:
            raise InputError("fleet problem: " + "; ".join(problems))

    def _mixed_problems(self) -> list[str]:
        """Fill ``drops`` and ``origins`` (a school of its own: itself) and check the mixed
        schools: after the schools of their own, each stop standing for one of theirs."""
        s = len(self.school_ids)
        drops = list(self.drops) if self.drops is not None else [None] * s
        origins = list(self.origins) if self.origins is not None else [None] * s
        if len(drops) != s or len(origins) != s:
            return [f"drops and origins need one entry per school ({s})"]
        self.drops = [tuple(d) if d is not None else (k,) for k, d in enumerate(drops)]
        own = np.array([d == (k,) for k, d in enumerate(self.drops)])
        self.own = own
        bad = []
        if own.any() and not own[: int(own.sum())].all():
            bad.append("mixed schools must come after the schools of their own")
        sizes = [len(bp.stop_ids) for bp in self.schools]
        for k in range(s):
            if origins[k] is None:
                origins[k] = np.column_stack([np.full(sizes[k], k), np.arange(1, sizes[k] + 1)])
            o = np.asarray(origins[k], dtype=np.int64).reshape(-1, 2)
            origins[k] = o
            if own[k]:
                continue
            if len(o) != sizes[k] or not set(self.drops[k]) <= set(np.flatnonzero(own)):
                bad.append(f"school {self.school_ids[k]}: mixed stops or drops unknown")
            elif len(o) and (
                not set(o[:, 0]) <= set(self.drops[k])
                or (o[:, 1] < 1).any()
                or (o[:, 1] > np.asarray(sizes)[o[:, 0]]).any()
            ):
                bad.append(f"school {self.school_ids[k]}: a stop stands for none of its drops")
        self.origins = origins
        hops = list(self.hops) if self.hops is not None else [None] * s
        self.hops = [
            np.zeros((0, 2)) if h is None else np.asarray(h, dtype=float).reshape(-1, 2)
            for h in (hops + [None] * s)[:s]
        ]
        return bad

    @property
    def mixed(self) -> bool:
        """Whether some school's runs carry pupils of several schools."""
        return not self.own.all()

    @property
    def type_codes(self) -> np.ndarray:
        """Per school, its kind of bus as a number (the same number, the same kind)."""
        return np.unique(self.bus_types, return_inverse=True)[1].reshape(-1)

    @property
    def copy_of(self) -> np.ndarray:
        """Per school, the school of its own whose stops it serves alone: itself for a school
        of its own, ``d`` for a *time copy* of school ``d`` (a mixed school that unloads only
        at ``d``, at another bell: :func:`ruralnet.buses.bells.arrival_slots`), -1 for a school
        whose runs unload at several schools."""
        return np.array([d[0] if len(d) == 1 else -1 for d in self.drops], dtype=np.int64)

    @property
    def time_copy(self) -> np.ndarray:
        """Per school, whether it is a time copy of another (see :attr:`copy_of`)."""
        copy_of = self.copy_of
        return (copy_of >= 0) & (copy_of != np.arange(len(copy_of)))

    def cover_rows(self, k: int) -> np.ndarray:
        """The row of each of school ``k``'s stops among all schools' own stops (a mixed
        school's stops share the rows of the stops they stand for)."""
        if getattr(self, "_offset", None) is None:
            sizes = [
                len(bp.stop_ids) if own else 0
                for bp, own in zip(self.schools, self.own, strict=True)
            ]
            self._offset = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        o = self.origins[k]
        return self._offset[o[:, 0]] + o[:, 1] - 1

    def run(self, school: int, route) -> Run:
        """The run of ``school`` that picks up ``route`` (``(stop, pupils)`` in order)."""
        bp = self.schools[school]
        first = int(route[0][0])
        duration = ride_time_s(bp, route) + float(bp.service_s(route[0][1]))
        return Run(
            school,
            tuple((int(a), int(n)) for a, n in route),
            int(self.columns[school][first - 1]),
            duration,
        )

    def compatible(self, runs: list[Run]) -> sp.csr_matrix:
        """Schools x runs: a bus free at school ``s1`` can do the run next (in time, and the
        run needs the same kind of bus)."""
        school = np.array([r.school for r in runs], dtype=np.int64)
        first = np.array([r.first for r in runs], dtype=np.int64)
        duration = np.array([r.duration_s for r in runs], dtype=float)
        latest = self.bell_s[school] - self.dwell_s[school] - duration  # latest start at 1st stop
        ready = self.bell_s[:, None] + self.deadhead_s[:, first]
        ok = (
            (ready <= latest[None, :] + 1e-9)
            & (np.arange(len(self.bell_s))[:, None] != school[None, :])
            & (self.type_codes[:, None] == self.type_codes[school][None, :])
        )
        return sp.csr_matrix(ok)

    def targets(self) -> list[np.ndarray]:
        """Pupils to pick up at each stop of each school (0 where no bus can serve the stop
        within the ride limit: such stops are reported, not routed); a mixed school's stops
        as the stops they stand for."""
        if getattr(self, "_targets", None) is None:
            own = [
                np.where(servable(bp), bp.pupils, 0).astype(int) if mine else None
                for bp, mine in zip(self.schools, self.own, strict=True)
            ]
            self._targets = [
                own[k] if own[k] is not None else _stood_for(own, self.origins[k])
                for k in range(len(own))
            ]
        return self._targets


def _stood_for(own: list, origin: np.ndarray) -> np.ndarray:
    """The targets of the stops a mixed school's stops stand for."""
    return np.array([own[k][a - 1] for k, a in origin], dtype=int)


@dataclass
class FleetSolution:
    """Buses and their days.

    Attributes
    ----------
    runs
        The runs served.
    days
        One list of run indices per bus, in the order the bus serves them.
    lower_bound
        A bound no plan of these schools can beat (when computed).
    meta
        Solver facts.
    """

    runs: list[Run]
    days: list[list[int]]
    lower_bound: int | None = None
    meta: dict = field(default_factory=dict)

    @property
    def buses(self) -> int:
        return len(self.days)

    def bus_types(self, problem: FleetProblem) -> list[str]:
        """The kind of each bus (:attr:`FleetProblem.bus_types`), in the order of ``days``."""
        return [str(problem.bus_types[self.runs[day[0]].school]) for day in self.days]

    def table(self, problem: FleetProblem) -> pd.DataFrame:
        """One row per run of each bus's day: ``bus, order, school_id, run, departs_s,
        arrives_s, pupils, run_m, deadhead_m``. ``departs_s``: service begins at the first
        stop; ``arrives_s``: at the school (the bell less the dwell); ``deadhead_m``: empty
        running from the school before (0 for a bus's first run, which leaves the yard)."""
        rows = []
        for bus, day in enumerate(self.days, start=1):
            before = None
            for order, k in enumerate(day, start=1):
                r = self.runs[k]
                bp = problem.schools[r.school]
                arrive = problem.bell_s[r.school] - problem.dwell_s[r.school]
                rows.append(
                    {
                        "bus": bus,
                        "order": order,
                        "school_id": problem.school_ids[r.school],
                        "run": k + 1,
                        "departs_s": arrive - r.duration_s,
                        "arrives_s": arrive,
                        "pupils": r.pupils,
                        "run_m": route_length_m(bp, list(r.stops)) - _yard_m(bp, r),
                        "deadhead_m": 0.0
                        if before is None
                        else problem.deadhead_m[before, r.first],
                    }
                )
                before = r.school
        cols = ["bus", "order", "school_id", "run", "departs_s", "arrives_s", "pupils"]
        return pd.DataFrame(rows, columns=[*cols, "run_m", "deadhead_m"])

    def stops(self, problem: FleetProblem) -> pd.DataFrame:
        """One row per stop visit: ``bus, order, school_id, run, seq, stop_id, pupils``."""
        rows = []
        for bus, day in enumerate(self.days, start=1):
            for order, k in enumerate(day, start=1):
                r = self.runs[k]
                ids = problem.schools[r.school].stop_ids
                whose = problem.origins[r.school][:, 0]
                for seq, (stop, n) in enumerate(r.stops, start=1):
                    school = problem.school_ids[whose[stop - 1]]
                    rows.append((bus, order, school, k + 1, seq, ids[stop - 1], n))
        return pd.DataFrame(
            rows, columns=["bus", "order", "school_id", "run", "seq", "stop_id", "pupils"]
        )


def _yard_m(bp: BusProblem, r: Run) -> float:
    """Metres from the yard to a run's first stop (part of :func:`route_length_m`)."""
    depot = bp.depot_dist_m if bp.depot_dist_m is not None else bp.dist_m[0, 1:]
    return float(depot[r.stops[0][0] - 1])


def fewest_buses(problem: FleetProblem, runs: list[Run]) -> FleetSolution:
    """The fewest buses for fixed runs, exactly (minimum path cover), with each bus's day.

    Every run of a school ends there, so the path cover is a maximum flow from schools (as
    many departures as they have runs) to the runs they can precede.
    """
    n, s = len(runs), len(problem.bell_s)
    if n == 0:
        return FleetSolution(runs, [])
    comp = problem.compatible(runs).tocoo()
    count = np.bincount([r.school for r in runs], minlength=s)
    # nodes: 0 source, 1..s schools, s+1..s+n runs, s+n+1 sink
    rows = np.concatenate([np.zeros(s, np.int64), 1 + comp.row, 1 + s + np.arange(n)])
    cols = np.concatenate([1 + np.arange(s), 1 + s + comp.col, np.full(n, 1 + s + n)])
    caps = np.concatenate([count, np.ones(comp.nnz), np.ones(n)]).astype(np.int32)
    graph = sp.csr_matrix((caps, (rows, cols)), shape=(s + n + 2, s + n + 2))
    flow = maximum_flow(graph, 0, s + n + 1).flow.tocoo()
    follow = {}  # run -> the school its bus comes from
    for a, b, v in zip(flow.row, flow.col, flow.data, strict=True):
        if v > 0 and 1 <= a <= s and s + 1 <= b <= s + n:
            follow[int(b - s - 1)] = int(a - 1)
    return FleetSolution(runs, _days(runs, follow, problem))


def _days(runs: list[Run], follow: dict[int, int], problem: FleetProblem) -> list[list[int]]:
    """Chains of runs from "run r follows school s" (any run of s may be the one before: the
    runs are linked in bell order, so a bus's day is always a valid order)."""
    free: dict[int, list[int]] = {}
    for k in sorted(range(len(runs)), key=lambda k: -problem.bell_s[runs[k].school]):
        free.setdefault(runs[k].school, []).append(k)
    successor: dict[int, int] = {}
    for k in sorted(follow, key=lambda k: problem.bell_s[runs[k].school]):
        successor[free[follow[k]].pop()] = k
    has_pred = set(successor.values())
    days = []
    for k in sorted(range(len(runs)), key=lambda k: (problem.bell_s[runs[k].school], k)):
        if k in has_pred:
            continue
        day = [k]
        while day[-1] in successor:
            day.append(successor[day[-1]])
        days.append(day)
    return days


def select_runs(
    problem: FleetProblem,
    pool: list[Run],
    node_limit: int = 5_000,
    start: FleetSolution | None = None,
    seed: int = 0,
    time_limit_s: float | None = None,
) -> FleetSolution:
    """Choose, among candidate runs, those that pick up every pupil once and need the fewest
    buses (HiGHS; exact for the pool, within the node limit).

    Parameters
    ----------
    problem
        Schools, bell times, deadhead.
    pool
        Candidate runs (each school's must include a set that covers its stops); a run may be
        chosen as often as its pupils fit in its stops' (full buses at a big stop).
    node_limit
        HiGHS branch-and-bound nodes (a work limit: the same answer under any load).
    start
        A fleet whose runs are all in ``pool`` (e.g. the best so far): HiGHS starts from it,
        so the answer is never worse, even when the limit cuts the search short.
    seed
        HiGHS's random seed.
    time_limit_s
        Optional wall-clock cap (``None``: none).

    Returns
    -------
    FleetSolution
        The chosen runs, each bus's day, and ``meta``: ``pool``, ``optimal``, ``bound`` (the
        model's bound over this pool), ``seconds``; with time copies also ``support`` (the
        runs the integer model was solved over: :func:`_lp_support` and ``start``'s).
    """
    started = time.perf_counter()
    if not pool:  # nothing to choose (no stop any bus can serve): no bus, no model
        sol = fewest_buses(problem, [])
        sol.meta = {"pool": 0, "optimal": True, "bound": 0, "seconds": 0.0}
        return sol
    if not time_copies(problem):
        return _select(problem, pool, node_limit, start, seed, time_limit_s)
    support, bound = _lp_support(problem, pool, time_limit_s)
    if bound is None and start is None:  # out of time before the relaxation was solved
        return _select(problem, pool, node_limit, None, seed, time_left(started, time_limit_s))
    sub = {pool[k].key: pool[k] for k in support}  # and the start's runs, for the warm start
    sub.update((r.key, r) for r in (start.runs if start else []) if r.key not in sub)
    sub = list(sub.values())
    sol = _select(problem, sub, node_limit, start, seed, time_left(started, time_limit_s))
    sol.meta.update(
        pool=len(pool),
        support=len(sub),
        optimal=bound is not None and sol.buses <= bound,
        bound=bound,
        seconds=round(time.perf_counter() - started, 2),
    )
    return sol


def _lp_support(
    problem: FleetProblem, pool: list[Run], time_limit_s: float | None = None
) -> tuple[np.ndarray, int | None]:
    """The runs the selection's linear relaxation uses (HiGHS's interior point method, then
    crossover to a vertex: a few of the pool's runs), and its bound on the buses (none and
    no runs when the optional wall-clock cap stops it). With time copies the pool is several
    times a school's runs and the full model's relaxation is slow for the simplex method; the
    integer model over the support is small."""
    import highspy

    comp, waits = _latest_links(problem, problem.compatible(pool).tocoo())
    lp = _selection_model(problem, pool, comp, waits)
    lp.integrality_ = []
    with quiet_stdout():
        h = highspy.Highs()
        for option, value in (("output_flag", False), ("threads", 1), ("solver", "ipm")):
            h.setOptionValue(option, value)
        if time_limit_s is not None:
            h.setOptionValue("time_limit", float(max(time_limit_s, 0.1)))
        h.passModel(lp)
        h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return np.zeros(0, dtype=np.int64), None
    x = np.asarray(h.getSolution().col_value)[: len(pool)]
    bound = math.ceil(h.getInfo().objective_function_value - 1e-6)
    return np.flatnonzero(x > 1e-6), bound


def _select(
    problem: FleetProblem,
    pool: list[Run],
    node_limit: int,
    start: FleetSolution | None,
    seed: int,
    time_limit_s: float | None,
) -> FleetSolution:
    """:func:`select_runs` over the whole pool."""
    import highspy

    started = time.perf_counter()
    n = len(pool)
    comp, waits = _latest_links(problem, problem.compatible(pool).tocoo())
    lp = _selection_model(problem, pool, comp, waits)
    with quiet_stdout():
        h = highspy.Highs()
        options = [
            ("output_flag", False),
            ("mip_max_nodes", int(node_limit)),
            ("mip_rel_gap", 1e-9),
            ("random_seed", int(seed)),
            ("threads", 1),
        ]
        if time_limit_s is not None:
            options.append(("time_limit", float(max(time_limit_s, 0.1))))
        for option, value in options:
            h.setOptionValue(option, value)
        h.passModel(lp)
        warm = _start_values(problem, pool, (comp, waits), start) if start is not None else None
        if warm is not None:
            given = highspy.HighsSolution()
            given.col_value = warm
            given.value_valid = True
            h.setSolution(given)
        h.run()
    info = h.getInfo()
    if info.primal_solution_status != 2:  # no feasible solution within the limits
        raise RuntimeError(f"run selection not solved: {h.modelStatusToString(h.getModelStatus())}")
    x = np.asarray(h.getSolution().col_value)
    copies = np.round(x[:n]).astype(int)
    sol = fewest_buses(problem, [pool[k] for k in range(n) for _ in range(copies[k])])
    bound = info.mip_dual_bound
    sol.meta = {
        "pool": n,
        "optimal": h.getModelStatus() == highspy.HighsModelStatus.kOptimal,
        "bound": math.ceil(bound - 1e-6) if np.isfinite(bound) else None,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return sol


def time_copies(problem: FleetProblem) -> list[np.ndarray]:
    """Each school with time copies (:attr:`FleetProblem.copy_of`): it and its copies, by bell."""
    groups: dict[int, list[int]] = {}
    for k, d in enumerate(problem.copy_of):
        if d >= 0:
            groups.setdefault(int(d), []).append(k)
    return [
        np.array(sorted(g, key=lambda k: problem.bell_s[k]), dtype=np.int64)
        for g in groups.values()
        if len(g) > 1
    ]


def latest_starts(problem: FleetProblem, solution: FleetSolution) -> FleetSolution:
    """``solution`` with each run moved to the latest of its school's time copies that its
    bus's day allows (from the day's last run back): the same buses, no pupil waiting at
    school longer than the next run needs. Runs of schools without copies stay."""
    later: dict[int, np.ndarray] = {}
    for group in time_copies(problem):
        for k in group:
            later[int(k)] = group[::-1]  # the school's rows, the latest start first
    runs = list(solution.runs)
    for day in solution.days:
        after = None
        for k in reversed(day):
            r = runs[k]
            for row in later.get(r.school, ()):
                if after is None or _links(problem, int(row), after):
                    runs[k] = dataclasses.replace(r, school=int(row))
                    break
            after = runs[k]
    return FleetSolution(runs, solution.days, solution.lower_bound, solution.meta)


def _links(problem: FleetProblem, k: int, run: Run) -> bool:
    """A bus free at school ``k`` can do ``run`` next (:meth:`FleetProblem.compatible`)."""
    ready = problem.bell_s[k] + problem.deadhead_s[k, run.first]
    latest = problem.bell_s[run.school] - problem.dwell_s[run.school] - run.duration_s
    return bool(ready <= latest + 1e-9)


def _latest_links(problem: FleetProblem, comp: sp.coo_matrix) -> tuple[sp.coo_matrix, np.ndarray]:
    """The links of the selection model, fewer where schools have time copies: a bus free at
    a copy is free at every later copy of its school (a *wait*, ``waits``: pairs of copies in
    bell order), so of each school's copies that can precede a run only the latest keeps its
    link. Without copies: ``comp`` as it is, no waits."""
    groups = time_copies(problem)
    if not groups:
        return comp, np.zeros((0, 2), dtype=np.int64)
    group = np.arange(len(problem.bell_s))
    for g in groups:
        group[g] = g[0]
    bell = problem.bell_s[comp.row]
    order = np.lexsort((bell, group[comp.row], comp.col))
    row, col = comp.row[order], comp.col[order]
    last = np.ones(len(order), dtype=bool)  # the latest copy of each (school, run)
    last[:-1] = (col[1:] != col[:-1]) | (group[row[1:]] != group[row[:-1]])
    shape = comp.shape
    kept = sp.coo_matrix((np.ones(int(last.sum()), bool), (row[last], col[last])), shape=shape)
    waits = np.vstack([np.column_stack([g[:-1], g[1:]]) for g in groups])
    return kept, waits


def _selection_model(
    problem: FleetProblem, pool: list[Run], comp: sp.coo_matrix, waits: np.ndarray
):
    """The run selection as a HiGHS model.

    Columns: ``x`` (copies of each run, integer), ``f`` (buses going on from a school to a
    run, one per link of :func:`_latest_links`) and ``w`` (buses waiting from a time copy of
    a school to its next); buses = sum x - sum f. Rows: every stop's pupils covered exactly;
    departures from a school (links and waits out) at most its runs and the waits in;
    arrivals at a run at most its copies.
    """
    import highspy

    n, s, m, v = len(pool), len(problem.bell_s), comp.nnz, len(waits)
    targets = problem.targets()
    rows_of = [problem.cover_rows(k) for k in range(s)]
    cover = [(rows_of[r.school][a - 1], k, p) for k, r in enumerate(pool) for a, p in r.stops]
    own = [t for t, mine in zip(targets, problem.own, strict=True) if mine]
    nrow = int(sum(len(t) for t in own))
    school = np.array([r.school for r in pool], dtype=np.int64)
    k_all, f_all, w_all = np.arange(n), n + np.arange(m), n + m + np.arange(v)
    rows = np.concatenate(
        [
            [c[0] for c in cover],
            nrow + school,
            nrow + comp.row,
            nrow + waits[:, 0],
            nrow + waits[:, 1],
            nrow + s + k_all,
            nrow + s + comp.col,
        ]
    )
    cols = np.concatenate([[c[1] for c in cover], k_all, f_all, w_all, w_all, k_all, f_all])
    vals = np.concatenate(
        [[c[2] for c in cover], -np.ones(n), np.ones(m), np.ones(v), -np.ones(v), -np.ones(n),
         np.ones(m)]
    )  # fmt: skip
    c = n + m + v
    a = sp.csc_matrix((vals, (rows, cols)), shape=(nrow + s + n, c))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = c, nrow + s + n
    lp.col_cost_ = np.concatenate([np.ones(n), -np.ones(m), np.zeros(v)])
    lp.col_lower_ = np.zeros(c)
    lp.col_upper_ = np.concatenate([_copies(pool, targets), np.full(m + v, highspy.kHighsInf)])
    lp.row_lower_ = np.concatenate([np.concatenate(own), np.full(s + n, -highspy.kHighsInf)])
    lp.row_upper_ = np.concatenate([np.concatenate(own), np.zeros(s + n)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = c, nrow + s + n
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n + [highspy.HighsVarType.kContinuous] * (
        m + v
    )
    return lp


def _start_values(
    problem: FleetProblem, pool: list[Run], links: tuple, start: FleetSolution
) -> np.ndarray | None:
    """The model's columns for a known fleet (None if one of its runs is not in the pool):
    a bus going on from a time copy whose link the model dropped waits to the copy that has
    it (:func:`_latest_links`)."""
    comp, waits = links
    index = {r.key: k for k, r in enumerate(pool)}
    link = {(int(i), int(j)): e for e, (i, j) in enumerate(zip(comp.row, comp.col, strict=True))}
    wait = {int(a): (e, int(b)) for e, (a, b) in enumerate(waits)}
    n, m = len(pool), comp.nnz
    x = np.zeros(n + m + len(waits))
    for day in start.days:
        before = None
        for k in day:
            r = start.runs[k]
            j = index.get(r.key)
            if j is None:
                return None
            x[j] += 1
            while before is not None and (before, j) not in link and before in wait:
                e, before = wait[before]
                x[n + m + e] += 1
            if before is not None:
                e = link.get((before, j))
                if e is None:
                    return None
                x[n + e] += 1
            before = r.school
    return x


def _copies(pool: list[Run], targets: list[np.ndarray]) -> np.ndarray:
    """How often each run can be chosen: a full bus at a stop of many pupils may run several
    times (as often as its pupils fit in the stop's)."""
    out = np.ones(len(pool))
    for k, r in enumerate(pool):
        out[k] = min(targets[r.school][a - 1] // n if n else 1 for a, n in r.stops)
    return out


def fleet_lower_bound(problem: FleetProblem, min_runs, bus_type: str | None = None) -> int:
    """Fewest buses any plan needs.

    School ``s1`` can come before ``s2`` in a bus's day only if a bus free at ``s1`` could do
    at least a one-stop run of ``s2`` (any run of ``s2`` takes at least as long from its first
    stop) and both need the same kind of bus. A bus's day is then a chain in this relation
    (transitively closed: a day may pass through schools in between), and each school needs
    ``min_runs`` runs: the fewest chains that cover every school that often (a linear
    programme, solved with HiGHS) bounds the fleet, each kind of bus on its own.

    Parameters
    ----------
    problem
        The schools.
    min_runs
        A lower bound on each school's runs (seats, or a proven fewest routes). With mixed
        loads a school's stops may ride other schools' runs: the schools in a mixed school
        and the mixed schools count 0 (a weaker bound, still valid). A school's runs may be
        at any of its time copies (:attr:`FleetProblem.copy_of`): they count together.
    bus_type
        The buses of one kind only (default: every kind, their bounds added).
    """
    min_runs = np.asarray(min_runs, dtype=float).copy()
    copy_of = problem.copy_of
    for k in np.flatnonzero(copy_of < 0):
        min_runs[list(problem.drops[k])] = 0
        min_runs[k] = 0
    min_runs[problem.time_copy] = 0  # a time copy's runs count for its school
    group = np.where(copy_of >= 0, copy_of, np.arange(len(copy_of)))
    can = _can_follow(problem)
    kinds = np.unique(problem.bus_types) if bus_type is None else [bus_type]
    return int(
        sum(
            _chain_cover(can, np.where(problem.bus_types == t, min_runs, 0.0), group) for t in kinds
        )
    )


def _can_follow(problem: FleetProblem) -> np.ndarray:
    """Schools x schools: a bus's day may serve the first before the second (transitively
    closed; see :func:`fleet_lower_bound`)."""
    s = len(problem.bell_s)
    can = np.zeros((s, s), dtype=bool)
    for j, (bp, tgt) in enumerate(zip(problem.schools, problem.targets(), strict=True)):
        stops = np.flatnonzero(tgt > 0) + 1
        if not len(stops):
            continue
        fewest = np.where(tgt > bp.seats, tgt % bp.seats, tgt)  # smallest pick-up of a stop
        fewest = np.where(fewest == 0, bp.seats, fewest)[stops - 1]
        single = bp.time_s[stops, 0] + bp.service_s(fewest)
        need = problem.bell_s[j] - problem.dwell_s[j] - single  # latest start, per stop
        ready = problem.bell_s[:, None] + problem.deadhead_s[:, problem.columns[j][stops - 1]]
        can[:, j] = (ready <= need[None, :] + 1e-9).any(axis=1)
    can &= problem.type_codes[:, None] == problem.type_codes[None, :]
    np.fill_diagonal(can, False)
    for k in range(s):  # transitive closure
        can |= can[:, [k]] & can[[k], :]
    return can


def _chain_cover(can: np.ndarray, min_runs: np.ndarray, group: np.ndarray) -> int:
    """The fewest chains of ``can`` that pass each school ``min_runs`` times, at any of the
    rows of its ``group`` (a school and its time copies; rounded up)."""
    s = len(can)
    if not (min_runs > 0).any():
        return 0
    arcs = np.argwhere(can)
    m = len(arcs)
    # variables: start at s (s), flow on arcs (m), end at s (s); through a school's rows >=
    # its min_runs
    ident = sp.identity(s, format="csr")
    into = sp.csr_matrix((np.ones(m), (arcs[:, 1], np.arange(m))), shape=(s, m))
    out = sp.csr_matrix((np.ones(m), (arcs[:, 0], np.arange(m))), shape=(s, m))
    rows = sp.csr_matrix((np.ones(s), (group, np.arange(s))), shape=(s, s))  # school x rows
    res = linprog(
        np.concatenate([np.ones(s), np.zeros(m + s)]),
        A_ub=-(rows @ sp.hstack([ident, into, sp.csr_matrix((s, s))])),
        b_ub=-np.asarray(min_runs, dtype=float),
        A_eq=sp.hstack([ident, into - out, -ident]),
        b_eq=np.zeros(s),
        bounds=(0, None),
        method="highs",
    )
    return math.ceil(res.fun - 1e-6)
