"""Mixed-load runs: one bus picks up pupils bound for several schools and drops them at each
school in turn, and each school is unloaded inside its bell window.

The rules are those of Park, Tae & Kim (EJOR 217, 2012), whose published solutions of the
school-bus benchmark they reproduce (:class:`MixedRules`): a bus's morning is a sequence of
events, pick-ups at stops and drop-offs at schools, grouped into runs (a run ends when the bus
is empty). Seats hold at every point of a run; every stop is picked up whole, once; every pupil
is dropped at their own school later in the same run; each school is unloaded starting inside
its window ``[early, late]``; a pupil's ride, from the bus's arrival at their stop to its
arrival at their school (waiting included), is within the limit; a bus may wait anywhere.

**Mixed schools.** The fleet model (:mod:`ruralnet.buses.fleet`) plans mixed loads as schools
of their own: a *mixed school* is a copy of the stops of several schools (for example a
township's primary and junior middle school in the same town) whose runs pick up at any of
them, then unload at each school in turn (:func:`mixed_problem`, :func:`add_mixed`). Its bell
is when its last school is unloaded, no later than each school's own bell allows
(:func:`mixed_bell`). Its stops are covered as the stops they stand for, so the exact selection
of runs chooses freely between single-school and mixed runs. Each pupil's ride is counted to
the last school (for those of an earlier school a little more than theirs) and each school's
unloading as its longest: conservative, so a chosen mixed run keeps every rule.

Whether some timing of a bus's events satisfies every rule is a system of difference
constraints on the events' times (``x_j - x_i <= w``: the arrival at each event and the start of
unloading at each school). It has a solution exactly when its constraint graph has no negative
cycle, and then the shortest-path distances are one (Bellman-Ford, from
``scipy.sparse.csgraph``): :func:`check_mixed` is exact, not a simulation of one timing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import NegativeCycleError, bellman_ford

from .fleet import FleetProblem
from .routing import BusProblem

#: One row per event of a bus's morning: ``order`` is the run's position in the bus's morning,
#: ``seq`` the event's position in the run; ``action`` ``pickup`` (``stop_id`` and the stop's
#: school) or ``dropoff`` (``stop_id`` empty, the school unloaded).
EVENT_COLUMNS = ["bus", "order", "run", "seq", "action", "stop_id", "school_id"]


@dataclass(frozen=True)
class MixedRules:
    """Seats, ride limit and service times of mixed-load runs.

    Attributes
    ----------
    seats
        Pupils on board at any point of a run.
    max_ride_s
        A pupil's ride, from the bus's arrival at their stop to its arrival at their school.
    stop_s, school_s
        Service at a stop and at a school: ``a + b * n`` seconds for the ``n`` pupils picked
        up or dropped there (Park et al.: 19 + 2.6 n and 29 + 1.9 n).
    whole_seconds
        Service times rounded down to whole seconds (as the published solutions count them).
    """

    seats: int = 66
    max_ride_s: float = 2700.0
    stop_s: tuple[float, float] = (19.0, 2.6)
    school_s: tuple[float, float] = (29.0, 1.9)
    whole_seconds: bool = True

    def service(self, action: str, n: int) -> float:
        """Seconds of service for ``n`` pupils picked up (``pickup``) or dropped."""
        a, b = self.stop_s if action == "pickup" else self.school_s
        value = a + b * n
        return float(math.floor(value + 1e-9)) if self.whole_seconds else value


def check_mixed(
    events: pd.DataFrame,
    stops: pd.DataFrame,
    windows: dict[str, tuple[float, float]],
    travel_s: Callable[[list[str], list[str]], np.ndarray],
    rules: MixedRules = MixedRules(),
) -> list[str]:
    """Every rule a fleet of mixed-load runs breaks (empty when it keeps them all).

    Parameters
    ----------
    events
        :data:`EVENT_COLUMNS`.
    stops
        ``stop_id, school_id, pupils``: every stop to serve.
    windows
        School id -> ``(early, late)`` seconds after midnight: when its unloading may start.
    travel_s
        Seconds of driving between points (stop or school ids), pair by pair.
    rules
        Seats, ride limit, service times.

    Returns
    -------
    list of str
        One line per violation, naming the bus, run and stop or school.
    """
    missing = sorted(set(EVENT_COLUMNS) - set(events.columns))
    if missing:
        return [f"fleet table lacks column(s) {missing}"]
    ev = events.sort_values(["bus", "order", "seq"], kind="stable").reset_index(drop=True)
    ev["stop_id"] = ev["stop_id"].fillna("").astype(str)
    ev["school_id"] = ev["school_id"].astype(str)
    info = stops.assign(stop_id=stops["stop_id"].astype(str)).set_index("stop_id")
    bad = _coverage(ev, info, windows)
    if bad:
        return bad
    ev["n"] = ev["stop_id"].map(info["pupils"]).fillna(0).astype(int).to_numpy()
    for bus, part in ev.groupby("bus", sort=False):
        ev_bus = part.reset_index(drop=True)
        served = []
        for order, run in ev_bus.groupby("order", sort=False):
            problems, n = _loads(run, rules, f"bus {bus} run {order}")
            bad += problems
            served.append(n)
        ev_bus["n"] = np.concatenate(served)  # picked up at a stop, or dropped at a school
        if not _schedule(ev_bus, windows, travel_s, rules)[0]:
            bad.append(f"bus {bus}: no timing meets every window and ride limit")
    return bad


def _coverage(ev: pd.DataFrame, info: pd.DataFrame, windows: dict) -> list[str]:
    """Actions known; every stop picked up once, bound for its own school; schools known."""
    bad = [f"row {i}: action {a!r} (pickup or dropoff)" for i, a in ev["action"].items()
           if a not in ("pickup", "dropoff")]  # fmt: skip
    picks = ev[ev["action"] == "pickup"]
    counts = picks["stop_id"].value_counts()
    bad += [f"stop {s}: picked up {n} times" for s, n in counts.items() if n > 1]
    bad += [f"stop {s}: not served" for s in info.index.difference(counts.index)]
    bad += [f"stop {s}: no such stop" for s in counts.index.difference(info.index)]
    known = picks[picks["stop_id"].isin(info.index)]
    wrong = known["school_id"] != known["stop_id"].map(info["school_id"]).astype(str)
    bad += [f"stop {r.stop_id}: bound for {r.school_id}, its school is "
            f"{info.at[r.stop_id, 'school_id']}" for r in known[wrong].itertuples()]  # fmt: skip
    bad += [f"school {s}: no window" for s in sorted(set(ev["school_id"]) - set(windows))]
    return bad


def _loads(run: pd.DataFrame, rules: MixedRules, name: str) -> tuple[list[str], np.ndarray]:
    """Seats at every point; each pupil dropped at their school later in the run; empty at
    the end. Returns the problems and the pupils served at each event (picked up at a stop,
    or dropped at a school: all on board for it)."""
    on: dict[str, int] = {}
    bad = []
    served = run["n"].to_numpy().copy()
    for i, r in enumerate(run.itertuples()):
        if r.action == "pickup":
            on[r.school_id] = on.get(r.school_id, 0) + int(r.n)
            if sum(on.values()) > rules.seats:
                bad.append(f"{name}: {sum(on.values())} pupils on board after {r.stop_id}")
            continue
        served[i] = on.pop(r.school_id, 0)
        if served[i] == 0:
            bad.append(f"{name}: drops nobody at {r.school_id}")
    bad += [f"{name}: {n} pupils for {s} never dropped" for s, n in on.items() if n]
    return bad, served


def _schedule(
    ev_bus: pd.DataFrame, windows: dict, travel_s: Callable, rules: MixedRules
) -> tuple[bool, np.ndarray | None]:
    """Whether some timing keeps every rule, and the earliest arrival at each event.

    Nodes: 0 (time zero), ``1 + e`` (arrival at event ``e``), ``1 + m + e`` (start of
    unloading at drop-off ``e``). Each constraint ``x_j - x_i <= w`` is an edge ``i -> j`` of
    weight ``w``; the distances from a virtual source satisfy them all unless a cycle is
    negative."""
    m = len(ev_bus)
    point = np.where(ev_bus["action"] == "pickup", ev_bus["stop_id"], ev_bus["school_id"])
    drive = travel_s(list(point[:-1]), list(point[1:])) if m > 1 else np.zeros(0)
    edges: dict[tuple[int, int], float] = {}

    def limit(i: int, j: int, w: float) -> None:  # x_j - x_i <= w
        edges[i, j] = min(w, edges.get((i, j), np.inf))

    drop = (ev_bus["action"] == "dropoff").to_numpy()
    n = ev_bus["n"].to_numpy()
    actions = ev_bus["action"].to_numpy()
    for e in range(m):
        leave = 1 + m + e if drop[e] else 1 + e  # service starts at arrival, or at unloading
        if drop[e]:
            early, late = windows[ev_bus["school_id"].iat[e]]
            limit(leave, 1 + e, 0.0)  # unloading starts after the arrival
            limit(0, leave, float(late))
            limit(leave, 0, -float(early))
        if e + 1 < m:  # the next arrival after this service and the drive
            limit(1 + e + 1, leave, -(rules.service(actions[e], int(n[e])) + float(drive[e])))
    ride_from: dict[str, list[int]] = {}
    for e in range(m):  # each pupil's ride: from their stop's arrival to their school's
        school = ev_bus["school_id"].iat[e]
        if not drop[e]:
            ride_from.setdefault(school, []).append(e)
            continue
        for p in ride_from.pop(school, []):
            limit(1 + p, 1 + e, rules.max_ride_s)
    source = 1 + 2 * m  # a virtual source with a 0 edge to every node: every cycle is seen
    for v in range(source):
        limit(source, v, 0.0)
    ij = np.array(list(edges), dtype=np.int64)
    graph = sp.csr_matrix(
        (np.fromiter(edges.values(), float), (ij[:, 0], ij[:, 1])), shape=(source + 1,) * 2
    )
    try:
        x = bellman_ford(graph, indices=source)
    except NegativeCycleError:
        return False, None
    return True, x[1 : 1 + m] - x[0]  # one timing that keeps every rule: arrivals


def fleet_events(problem, solution) -> pd.DataFrame:
    """A fleet (:class:`ruralnet.buses.fleet.FleetSolution` of ``problem``) as events: each
    run's pick-ups in order (its stop visits, :meth:`~ruralnet.buses.fleet.FleetSolution.stops`,
    each bound for its own school), then the drop-off at each school the run unloads at (one
    for a single-school run, each in turn for a mixed one)."""
    rows = []
    for (bus, order, run), visits in solution.stops(problem).groupby(
        ["bus", "order", "run"], sort=False
    ):
        name = f"{bus}-{order}"
        rows += [(bus, order, name, v.seq, "pickup", str(v.stop_id), str(v.school_id))
                 for v in visits.itertuples()]  # fmt: skip
        aboard = set(visits["school_id"].astype(str))
        drops = [str(problem.school_ids[d]) for d in problem.drops[solution.runs[run - 1].school]]
        rows += [(bus, order, name, len(visits) + i, "dropoff", "", school)
                 for i, school in enumerate((d for d in drops if d in aboard), start=1)]  # fmt: skip
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


@dataclass(frozen=True)
class MixedSchool:
    """A mixed school to add to a fleet problem (:func:`add_mixed`).

    Attributes
    ----------
    drops
        The schools its runs unload at, in order (rows of the fleet problem).
    problem
        Its routing problem (:func:`mixed_problem`): the stops of ``drops`` in that order,
        index 0 the last school, reached from each stop through the earlier ones.
    bell_s
        When its last school is unloaded (:func:`mixed_bell`).
    hops
        Per school after the first: seconds (the dwell at the one before and the drive) and
        metres from the school before (for the tables).
    bus_type
        The kind of bus its runs need (default: that of its schools, which must then agree).
    """

    drops: tuple[int, ...]
    problem: BusProblem
    bell_s: float
    hops: tuple[tuple[float, float], ...] = ()
    bus_type: str | None = None


def mixed_bell(
    problem: FleetProblem, drops: tuple[int, ...], hops_s: np.ndarray, early_s=None
) -> float | None:
    """The bell of a mixed school: its runs arrive at the last school as late as every school
    allows (each unloaded by its own bell, the schools ``hops_s`` apart: the dwell at one plus
    the drive to the next), so the bus is free there from this bell on. ``None`` when the
    earlier schools would be reached before their windows open (``early_s``: per school, the
    earliest start of unloading)."""
    bell, dwell = problem.bell_s, problem.dwell_s
    after = np.concatenate([np.cumsum(np.asarray(hops_s, float)[::-1])[::-1], [0.0]])
    arrive_last = min(bell[d] - dwell[d] + after[i] for i, d in enumerate(drops))
    if early_s is not None:
        early = np.asarray(early_s, dtype=float)
        if any(arrive_last - after[i] < early[d] - 1e-9 for i, d in enumerate(drops)):
            return None
    return float(arrive_last + dwell[drops[-1]])


def mixed_chains(
    problem: FleetProblem,
    near: np.ndarray,
    hop_s: np.ndarray,
    early_s,
    max_schools: int = 2,
    ordered: Callable[[int, int], bool] | None = None,
) -> list[tuple[tuple[int, ...], list[float], float]]:
    """The schools one run may unload at in turn: every chain of 2 to ``max_schools`` schools,
    each next one ``near`` the one before (schools x schools) and after it in ``ordered``
    (default: any order), whose windows let one run unload them all (:func:`mixed_bell`; a
    chain that cannot be unloaded is not extended, as a later school only makes the earlier
    ones earlier). ``hop_s``: the dwell at a school and the drive to the next. Each chain as
    ``(drops, hops, bell)``, in order of its first school, then depth first."""
    k = len(near)
    out = []

    def grow(chain: tuple[int, ...], hops: list[float]) -> None:
        for b in np.flatnonzero(near[chain[-1]]):
            b = int(b)
            if b in chain or (ordered is not None and not ordered(chain[-1], b)):
                continue
            new, more = (*chain, b), [*hops, float(hop_s[chain[-1], b])]
            bell = mixed_bell(problem, new, more, early_s)
            if bell is None:
                continue
            out.append((new, more, bell))
            if len(new) < max_schools:
                grow(new, more)

    for a in range(k):
        grow((a,), [])
    return out


def mixed_problem(
    parts: list[BusProblem],
    between_s: np.ndarray,
    between_m: np.ndarray,
    to_first_s: np.ndarray,
    to_first_m: np.ndarray,
    onward_s: float,
    onward_m: float,
) -> BusProblem:
    """The routing problem of a mixed school: the stops of ``parts`` (the schools in their
    drop order), index 0 the last school.

    Parameters
    ----------
    parts
        Each school's own morning problem (the same service times).
    between_s, between_m
        Stops x stops (all parts', in order), as the parts' own matrices count them.
    to_first_s, to_first_m
        Each stop to the first school.
    onward_s, onward_m
        From the first school's arrival to the last school's: the dwells and drives between
        the schools.

    Each pupil's ride is counted to the last school and the seats and ride limit are the
    strictest of the parts': a run this problem allows keeps every part's rules.
    """
    n = sum(len(p.stop_ids) for p in parts)
    time = np.zeros((n + 1, n + 1))
    dist = np.zeros((n + 1, n + 1))
    time[1:, 1:], dist[1:, 1:] = between_s, between_m
    time[1:, 0] = np.asarray(to_first_s, float) + onward_s
    dist[1:, 0] = np.asarray(to_first_m, float) + onward_m
    time[0, 1:], dist[0, 1:] = time[1:, 0], dist[1:, 0]
    np.fill_diagonal(time, 0.0)
    np.fill_diagonal(dist, 0.0)
    depots = [p.depot_dist_m for p in parts]
    return BusProblem(
        [i for p in parts for i in p.stop_ids],
        np.concatenate([p.pupils for p in parts]).astype(int),
        time,
        dist,
        int(min(p.seats for p in parts)),
        float(min(p.max_ride_s for p in parts)),
        parts[0].stop_s,
        parts[0].per_pupil_s,
        None if any(d is None for d in depots) else np.concatenate(depots),
    )


def add_mixed(problem: FleetProblem, mixed: list[MixedSchool]) -> FleetProblem:
    """``problem`` with mixed schools appended after its own (and any mixed ones it has;
    ids ``A>B``; the bus ends at the last school, so its deadhead is that school's)."""
    if not mixed:
        return problem
    base = slice(0, len(problem.school_ids))
    ids = list(problem.school_ids[base])
    last = [m.drops[-1] for m in mixed]
    origins = [o for o in problem.origins[base]]
    for m in mixed:
        origins.append(np.vstack([problem.origins[d] for d in m.drops]))
    return FleetProblem(
        ids + [">".join(str(ids[d]) for d in m.drops) for m in mixed],
        np.concatenate([problem.bell_s[base], [m.bell_s for m in mixed]]),
        np.concatenate([problem.dwell_s[base], problem.dwell_s[last]]),
        list(problem.schools[base]) + [m.problem for m in mixed],
        list(problem.columns[base])
        + [np.concatenate([problem.columns[d] for d in m.drops]) for m in mixed],
        np.vstack([problem.deadhead_s[base], problem.deadhead_s[last]]),
        np.vstack([problem.deadhead_m[base], problem.deadhead_m[last]]),
        drops=list(problem.drops[base]) + [m.drops for m in mixed],
        origins=origins,
        hops=list(problem.hops[base]) + [np.asarray(m.hops, float).reshape(-1, 2) for m in mixed],
        bus_types=list(problem.bus_types[base]) + [_bus_type(problem, m) for m in mixed],
    )


def _bus_type(problem: FleetProblem, m: MixedSchool) -> str:
    """The kind of bus a mixed school's runs need: its own, else that of all its schools."""
    if m.bus_type is not None:
        return m.bus_type
    kinds = {str(problem.bus_types[d]) for d in m.drops}
    if len(kinds) != 1:
        raise ValueError(f"mixed school {m.drops}: its schools need buses {sorted(kinds)}")
    return kinds.pop()
