"""Exact fewest-bus plans for one school: every feasible stop set, then set covering (HiGHS).

A school's pick-ups are few (tens) and the ride limit keeps routes short, so the sets of stops
that one bus can serve are few enough to list. For the ride rule of :mod:`ruralnet.buses.routing`
(travel from the first stop to the school plus the service of every later stop) a subset of a
feasible set is feasible too (with travel times that obey the triangle inequality, as shortest
paths and Manhattan distances do): the sets are grown level by level, a set of ``k + 1`` stops
only from feasible sets of ``k``, and each set's best visiting order comes from a dynamic
programme over its subsets (``g(S, i)``: the shortest path that starts at ``i``, visits ``S``
and ends at the school), vectorised with NumPy.

Choosing the fewest sets that cover every stop is a set-covering model solved with HiGHS
(:func:`scipy.optimize.milp`); only sets that cannot take another stop are offered (any other
set lies inside one of them). A cover is turned into routes by keeping each stop on one bus.
HiGHS proves the optimum, or gives its best plan and a lower bound when time runs out.

The enumeration stops, and the caller falls back on the heuristic, when the sets are too many
(``max_sets``) or the pick-ups more than 62.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from ..model.highs import quiet_stdout, time_left

log = logging.getLogger(__name__)

MAX_PICKUPS = 62  # sets are bit masks in 64-bit integers


@dataclass
class ExactResult:
    """Fewest-bus cover of one school's pick-ups.

    Attributes
    ----------
    routes
        One list of pick-up indices (0-based, into the pick-up list) per bus, in visiting order
        (morning: towards the school).
    lower_bound
        Proven lower bound on the number of buses (equal to ``len(routes)`` when optimal).
    optimal
        HiGHS proved the plan optimal.
    columns
        Number of stop sets offered to the cover (those no other pick-up can join).
    runtime_s
        Enumeration and HiGHS time.
    """

    routes: list[list[int]]
    lower_bound: int
    optimal: bool
    columns: int
    runtime_s: float


def feasible_sets(
    time_s: np.ndarray,
    service_s: np.ndarray,
    pupils: np.ndarray,
    seats: int,
    max_ride_s: float,
    max_sets: int = 1_000_000,
    tolerance_s: float = 1e-6,
    deadline: float | None = None,
) -> list[np.ndarray] | None:
    """Every set of pick-ups one bus can serve within its seats and the ride limit.

    Parameters
    ----------
    time_s
        ``(n + 1) x (n + 1)`` travel times, index 0 the school, in the direction of travel
        towards the school (``time_s[i, 0]``: pick-up ``i`` to the school).
    service_s, pupils
        Service time and pupils of each pick-up (length ``n``).
    seats, max_ride_s
        Seats per bus; longest ride (first pick-up to the school plus the service of every
        later pick-up).
    max_sets
        Give up (return ``None``) when there are more sets than this.
    tolerance_s
        Rides up to this much over the limit count as within it (float rounding).
    deadline
        Give up when :func:`time.perf_counter` passes this.

    Returns
    -------
    list of ndarray or None
        The *maximal* feasible sets (no other pick-up can join them), each a sorted array of
        0-based pick-up indices; ``None`` when over ``max_sets``, past the deadline or
        ``n > 62``.
    """
    n = len(pupils)
    if n == 0:
        return []
    if n > MAX_PICKUPS:
        return None
    pupils = np.asarray(pupils, dtype=np.int64)
    service_s = np.asarray(service_s, dtype=float)
    bit = np.uint64(1) << np.arange(n, dtype=np.uint64)
    between = time_s[1:, 1:]
    direct = time_s[1:, 0]
    first = np.flatnonzero((direct <= max_ride_s + tolerance_s) & (pupils <= seats))
    sets = first[:, None]
    g = direct[first][:, None]  # g[s, r]: shortest path from sets[s, r] through the set to school
    masks = bit[first]
    total = len(first)
    maximal_sets: list[np.ndarray] = []
    while len(sets):
        load = pupils[sets].sum(axis=1)
        grow, add = np.nonzero(
            (np.arange(n)[None, :] > sets[:, -1:]) & (load[:, None] + pupils[None, :] <= seats)
        )
        if total + len(grow) > max_sets:  # bound the memory before building the candidates
            log.info("more than %d candidate stop sets: no exact model", max_sets)
            return None
        bigger, big_masks, g_big, parents, feasible = _extend(
            sets, masks, g, grow, add, bit, between, service_s, max_ride_s + tolerance_s
        )
        maximal = np.ones(len(sets), dtype=bool)
        maximal[parents[feasible].ravel()] = False
        maximal_sets.extend(sets[maximal])
        sets, g, masks = bigger[feasible], g_big[feasible], big_masks[feasible]
        total += len(sets)
        if total > max_sets:
            log.info("more than %d feasible stop sets: no exact model", max_sets)
            return None
        if deadline is not None and time.perf_counter() > deadline:
            log.info("stop sets not listed in time: no exact model")
            return None
    return maximal_sets


def _extend(sets, masks, g, grow, add, bit, between, service_s, limit_s):
    """The sets one pick-up bigger, their shortest paths through the set to the school, and
    which keep within the ride limit.

    Every k-subset of a feasible set is feasible, so a bigger set is kept only when all its
    subsets are known (``parents``); ``g[s, r]`` is the shortest path from ``sets[s, r]``
    through the set to the school.
    """
    k = sets.shape[1]
    bigger = np.concatenate([sets[grow], add[:, None]], axis=1)
    big_masks = masks[grow] | bit[add]
    order = np.argsort(masks)
    sorted_masks = masks[order]
    parents = np.empty((len(bigger), k + 1), dtype=np.int64)
    known = np.ones(len(bigger), dtype=bool)
    for r in range(k + 1):
        sub = big_masks & ~bit[bigger[:, r]]
        pos = np.minimum(np.searchsorted(sorted_masks, sub), len(sorted_masks) - 1)
        known &= sorted_masks[pos] == sub
        parents[:, r] = order[pos]
    bigger, big_masks, parents = bigger[known], big_masks[known], parents[known]
    g_big = np.empty(bigger.shape)
    for r in range(k + 1):
        rest = np.delete(bigger, r, axis=1)
        g_big[:, r] = np.min(between[bigger[:, r][:, None], rest] + g[parents[:, r]], axis=1)
    svc = service_s[bigger]
    ride = np.min(g_big - svc, axis=1) + svc.sum(axis=1)
    return bigger, big_masks, g_big, parents, ride <= limit_s


def _cover_matrix(cols: list[np.ndarray], n: int):
    """Stops x sets incidence matrix (sparse), or ``None`` when a stop is in no set."""
    from scipy.sparse import csr_matrix

    if not cols:
        return None
    rows = np.concatenate(cols)
    if len(np.unique(rows)) < n:
        return None
    col_of = np.repeat(np.arange(len(cols)), [len(c) for c in cols])
    return csr_matrix((np.ones(len(rows)), (rows, col_of)), shape=(n, len(cols)))


def best_order(
    stops: list[int], time_s: np.ndarray, service_s: np.ndarray
) -> tuple[list[int], float]:
    """The visiting order of a few pick-ups (0-based) with the shortest ride, and that ride.

    A dynamic programme over the subsets of ``stops`` (exact; a route has few stops).
    """
    k = len(stops)
    idx = np.asarray(stops) + 1
    between = time_s[np.ix_(idx, idx)]
    # best[mask][i]: shortest path that starts at i, visits mask, ends at the school
    best: dict[int, dict[int, tuple[float, int]]] = {
        1 << i: {i: (float(time_s[idx[i], 0]), -1)} for i in range(k)
    }
    for size in range(2, k + 1):
        for combo in itertools.combinations(range(k), size):
            mask = sum(1 << i for i in combo)
            entry = {}
            for i in combo:
                rest = best[mask & ~(1 << i)]
                j, (cost, _) = min(rest.items(), key=lambda kv: between[i, kv[0]] + kv[1][0])
                entry[i] = (float(between[i, j] + cost), j)
            best[mask] = entry
    full = (1 << k) - 1
    svc = np.asarray(service_s)[np.asarray(stops)]
    start = min(best[full], key=lambda i: best[full][i][0] - svc[i])
    order, mask, i = [], full, start
    while i != -1:
        order.append(stops[i])
        nxt = best[mask][i][1]
        mask &= ~(1 << i)
        i = nxt
    ride = best[full][start][0] - svc[start] + svc.sum()
    return order, float(ride)


def _deadline(started: float, time_limit_s: float | None) -> float | None:
    """When the listing of sets gives up: 70 % into an optional wall-clock cap."""
    return None if time_limit_s is None else started + 0.7 * time_limit_s


def _milp_options(started: float, time_limit_s: float | None, node_limit: int) -> dict:
    """HiGHS options: the node limit, and what is left of an optional wall-clock cap."""
    options = {"node_limit": int(node_limit), "disp": False}
    if time_limit_s is not None:
        options["time_limit"] = time_left(started, time_limit_s)
    return options


def fewest_buses(
    time_s: np.ndarray,
    service_s: np.ndarray,
    pupils: np.ndarray,
    seats: int,
    max_ride_s: float,
    max_sets: int = 1_000_000,
    node_limit: int = 10_000,
    time_limit_s: float | None = None,
) -> ExactResult | None:
    """Fewest buses for the pick-ups, proven optimal when HiGHS finishes within its nodes.

    Parameters
    ----------
    time_s, service_s, pupils, seats, max_ride_s
        As in :func:`feasible_sets` (morning direction; mirror the matrix for afternoon runs).
    max_sets
        Size cap of the enumeration (work limit).
    node_limit
        Branch-and-bound nodes of the set-covering model (work limit).
    time_limit_s
        Optional wall-clock cap (at most 70 % for listing the sets); ``None``, the default,
        keeps the result independent of the machine's load.

    Returns
    -------
    ExactResult or None
        ``None`` when the enumeration is too large or HiGHS found no plan within its limits.
    """

    started = time.perf_counter()
    n = len(pupils)
    cols = feasible_sets(
        time_s,
        service_s,
        pupils,
        seats,
        max_ride_s,
        max_sets=max_sets,
        deadline=_deadline(started, time_limit_s),
    )
    if cols is None:
        return None
    a = _cover_matrix(cols, n)
    if a is None:
        return None  # a pick-up no bus can serve alone: the caller reports it
    seats_bound = _cheap_bound(cols, np.asarray(pupils), seats)
    greedy = min(
        (_greedy_cover(cols, a, w) for w in (np.ones(n), np.asarray(pupils, float))), key=len
    )
    if len(greedy) > seats_bound:  # the LP relaxation's bound, in milliseconds
        seats_bound = max(seats_bound, _lp_bound(a))
    if len(greedy) <= seats_bound:  # no plan has fewer buses: proven without branching
        routes = _routes([cols[j] for j in greedy], n, time_s, service_s)
        return ExactResult(routes, len(routes), True, len(cols), time.perf_counter() - started)
    res = _solve_cover(a, greedy, node_limit, time_left(started, time_limit_s))
    if res is None:
        return None
    routes = _routes([cols[j] for j in np.flatnonzero(res["x"] > 0.5)], n, time_s, service_s)
    bound = res["bound"]
    lower = max(math.ceil(bound - 1e-6) if np.isfinite(bound) else 0, seats_bound)
    optimal = res["optimal"]
    if optimal:
        lower = len(routes)
    return ExactResult(routes, lower, optimal, len(cols), time.perf_counter() - started)


def _cheap_bound(cols: list[np.ndarray], pupils: np.ndarray, seats: int) -> int:
    """A lower bound on the buses without a solver: a pick-up that shares no set with another
    needs a bus of its own; the others need at least their pupils' worth of seats."""
    shared = np.zeros(len(pupils), dtype=bool)
    for c in cols:
        if len(c) > 1:
            shared[c] = True
    return int((~shared).sum()) + math.ceil(int(pupils[shared].sum()) / seats)


def _lp_bound(a) -> int:
    """The set cover's LP relaxation rounded up: a lower bound on the buses. When the greedy
    cover meets it, the cover is optimal without branch and bound (on the bundled county the
    MIP had spent 0.1-0.9 s per school proving covers the LP proves in 15 ms)."""
    rows, cols = a.shape
    res = linprog(
        np.ones(cols), A_ub=-sp.csr_matrix(a), b_ub=-np.ones(rows), bounds=(0, 1), method="highs"
    )
    return math.ceil(res.fun - 1e-6) if res.status == 0 else 0


def _greedy_cover(cols: list[np.ndarray], a, weight: np.ndarray) -> list[int]:
    """A set cover, greedily: the sets (their columns) with the most uncovered ``weight``
    first (pick-ups, or pupils, which fills the buses; ``a`` the stops x sets incidence)."""
    left = np.ones(a.shape[0])
    at = a.T.tocsr()
    out = []
    while left.any():
        j = int(np.argmax(at @ (left * weight)))
        if not (left[cols[j]] > 0).any():
            break
        out.append(j)
        left[cols[j]] = 0
    return out


def _routes(chosen: list[np.ndarray], n: int, time_s, service_s) -> list[list[int]]:
    """The buses of a cover: a cover may pick a stop up twice, so each pick-up rides the first
    chosen set only (a subset of a feasible set is feasible), each bus's stops in their best
    order."""
    seen = np.zeros(n, dtype=bool)
    routes = []
    for c in chosen:
        mine = [int(i) for i in c if not seen[i]]
        seen[mine] = True
        if mine:
            routes.append(best_order(mine, time_s, service_s)[0])
    return routes


def _solve_cover(a, start: list[int], node_limit: int, time_limit_s: float | None):
    """Fewest sets covering every row of ``a`` (stops x sets), with HiGHS, started from the
    cover ``start``: the start's incumbent lets HiGHS close the root in a fraction of the time
    (a 41-stop, 5,132-set school of a generated county: 0.09 s against 4.5 s). ``None`` when
    no cover was found within the limits; else ``{"x", "bound", "optimal"}``."""
    import highspy

    a = sp.csc_matrix(a)
    rows, cols = a.shape
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = cols, rows
    lp.col_cost_ = np.ones(cols)
    lp.col_lower_, lp.col_upper_ = np.zeros(cols), np.ones(cols)
    lp.row_lower_, lp.row_upper_ = np.ones(rows), np.full(rows, highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = a.indptr, a.indices
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * cols
    with quiet_stdout():
        h = highspy.Highs()
        for option, value in (
            ("output_flag", False),
            ("mip_max_nodes", int(node_limit)),
            ("threads", 1),
            ("random_seed", 0),
            *((("time_limit", float(time_limit_s)),) if time_limit_s is not None else ()),
        ):
            h.setOptionValue(option, value)
        h.passModel(lp)
        given = highspy.HighsSolution()
        x0 = np.zeros(cols)
        x0[start] = 1.0
        given.col_value = x0
        given.value_valid = True
        h.setSolution(given)
        h.run()
    info = h.getInfo()
    if info.primal_solution_status != 2:
        return None
    return {
        "x": np.asarray(h.getSolution().col_value),
        "bound": float(info.mip_dual_bound),
        "optimal": h.getModelStatus() == highspy.HighsModelStatus.kOptimal,
    }


def split_lower_bound(
    time_s: np.ndarray,
    stop_s: float,
    per_pupil_s: float,
    pupils: np.ndarray,
    seats: int,
    max_ride_s: float,
    max_sets: int = 1_000_000,
    node_limit: int = 10_000,
    time_limit_s: float | None = None,
) -> int | None:
    """A lower bound on the buses when a stop's pupils may ride on several buses.

    Every bus visits a set of stops and boards at least one pupil at each, so its ride is at
    least that of the set with one pupil per stop: such sets (listed as in
    :func:`feasible_sets`, with no seat limit) must cover every stop, and the seats of the
    buses, at most ``min(seats, pupils of the set)`` each, must hold every pupil. The fewest
    buses of that relaxation (HiGHS; a set may be used more than once) bound any split plan.

    Parameters
    ----------
    time_s
        ``(n + 1) x (n + 1)`` travel times, index 0 the school, towards the school.
    stop_s, per_pupil_s
        Service time per stop and per pupil boarding.
    pupils, seats, max_ride_s
        Pupils per stop, seats per bus, longest ride.
    max_sets, node_limit
        Work limits (as in :func:`fewest_buses`).
    time_limit_s
        Optional wall-clock cap.

    Returns
    -------
    int or None
        The bound, or ``None`` when the sets are too many or time ran out.
    """
    from scipy.optimize import LinearConstraint, milp
    from scipy.sparse import csr_matrix, vstack

    started = time.perf_counter()
    pupils = np.asarray(pupils, dtype=np.int64)
    n = len(pupils)
    cols = feasible_sets(
        time_s,
        np.full(n, stop_s + per_pupil_s),
        np.ones(n, dtype=np.int64),
        n,
        max_ride_s,
        max_sets=max_sets,
        deadline=_deadline(started, time_limit_s),
    )
    cover = _cover_matrix(cols, n) if cols is not None else None
    if cover is None:
        return None
    carry = np.array([min(seats, int(pupils[c].sum())) for c in cols], dtype=float)
    a = vstack([cover, csr_matrix(carry[None, :])])
    lower = np.concatenate([np.ones(n), [pupils.sum()]])
    res = milp(
        np.ones(len(cols)),
        constraints=LinearConstraint(a, lower, np.inf),
        integrality=np.ones(len(cols)),
        options=_milp_options(started, time_limit_s, node_limit),
    )
    bound = getattr(res, "mip_dual_bound", None)
    if bound is None or not np.isfinite(bound):
        return None
    return math.ceil(bound - 1e-6)
