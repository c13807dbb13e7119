"""Mixed loads in the county: one run picks up a village's pupils for two nearby schools.

In a township the central primary, the junior middle school and the central kindergarten stand
in the same town, and their riders come from the same villages. :func:`with_mixed` adds to a
day's fleet problem a mixed school (:mod:`ruralnet.buses.mixed`) for every chain of two to
``bus_mixed_schools`` of the day's site runs (:func:`ruralnet.buses.mixed.mixed_chains`) that

* follow each other at most ``bus_mixed_minutes`` of driving apart (one town; 0 switches
  mixed loads off), so a village's riders of all of them may share a bus, and
* can be unloaded on one run: in bell order, each school by its bell, none more than
  ``bus_early_minutes`` before its own (in the time-reversed afternoon: a later school's
  pupils wait at most that long after their dismissal).

A run that carries kindergarten children (when ``kindergarten_buses`` lets them ride) needs a
kindergarten-standard bus: a mixed run of a kindergarten and a school is planned with the
kindergarten bus's seats and the young pupils' ride limit (the strictest of its schools') and
only a kindergarten bus's day may take it (:attr:`ruralnet.buses.fleet.FleetProblem.bus_types`).
So a village's kindergarten children and its school pupils may share one run, and no
kindergarten child rides any other bus. :func:`split_run` gives each school its part of a mixed
run, for the per-site tables.
"""

from __future__ import annotations

import itertools

import numpy as np

from .fleet import FleetProblem, Run
from .mixed import MixedSchool, add_mixed, mixed_chains, mixed_problem
from .school_runs import RunKind, SiteRun

#: The kind of bus a run with kindergarten children needs.
KINDERGARTEN = RunKind.KINDERGARTEN.bus_type


def with_mixed(problem: FleetProblem, sub: list[SiteRun], net, settings, day: str) -> FleetProblem:
    """``problem`` (one day, one bus type; :func:`ruralnet.buses.county_fleet.day_problem`,
    bells chosen) with the mixed schools of :mod:`this module <ruralnet.buses.county_mixed>`."""
    gap = float(settings.bus_mixed_minutes) * 60.0
    if gap <= 0 or len(sub) < 2:
        return problem
    sites = np.array([g.nodes[0] for g in sub])
    real_s, real_m = net.matrix.between(sites, sites)
    afternoon = day == "afternoon"
    drive_s, drive_m = (real_s.T, real_m.T) if afternoon else (real_s, real_m)  # fleet's order
    n = len(sub)  # the groups' own rows (time copies and mixed schools come after them)
    early = problem.bell_s[:n] - problem.dwell_s[:n] - float(settings.bus_early_minutes) * 60.0
    hop_s = problem.dwell_s[:n, None] + drive_s
    chains = mixed_chains(
        problem, drive_s <= gap, hop_s, early, int(settings.bus_mixed_schools),
        lambda a, b: _in_bell_order(problem, a, b),
    )  # fmt: skip
    mixed = []
    for drops, hops, bell in chains:
        metres = [float(drive_m[a, b]) for a, b in itertools.pairwise(drops)]
        bp = _problem(problem, sub, net, drops, afternoon, sum(hops), sum(metres))
        legs = tuple(zip(hops, metres, strict=True))
        mixed.append(MixedSchool(drops, bp, bell, legs, _bus_type(problem, drops)))
    return add_mixed(problem, mixed)


def _bus_type(problem: FleetProblem, drops: tuple[int, ...]) -> str:
    """A kindergarten bus for a run with kindergarten children, else the schools' kind."""
    kinds = {str(problem.bus_types[d]) for d in drops}
    return KINDERGARTEN if KINDERGARTEN in kinds else kinds.pop()


def _in_bell_order(problem: FleetProblem, a: int, b: int) -> bool:
    """One order per pair: the earlier bell first (ties: the lower row)."""
    return (problem.bell_s[a], a) < (problem.bell_s[b], b)


def _problem(problem, sub, net, drops, afternoon: bool, hop_s: float, hop_m: float):
    """The routing problem of the mixed school ``drops`` in the fleet's direction."""
    a = drops[0]
    stops = np.concatenate([sub[k].nodes[1:] for k in drops])
    first = np.array([sub[a].nodes[0]])
    if afternoon:  # the time-reversed afternoon: every leg read backwards
        t, m = net.matrix.between(stops, stops)
        ft, fm = net.matrix.between(first, stops)
        between_s, between_m, to_s, to_m = t.T, m.T, ft[0], fm[0]
    else:
        between_s, between_m = net.matrix.between(stops, stops)
        ft, fm = net.matrix.between(stops, first)
        to_s, to_m = ft[:, 0], fm[:, 0]
    parts = [problem.schools[k] for k in drops]
    return mixed_problem(
        parts,
        _finite(between_s),
        np.nan_to_num(between_m),
        _finite(to_s),
        np.nan_to_num(to_m),
        hop_s,
        hop_m,
    )


def _finite(seconds: np.ndarray) -> np.ndarray:
    """No way is an infinitely long one (the routing never takes it)."""
    return np.where(np.isfinite(seconds), seconds, 1e9)


def split_run(problem: FleetProblem, run: Run) -> dict[int, list]:
    """Per school the run unloads at: its pick-ups ``(stop, pupils)`` as that school's own
    stop indices, in the run's order (a single-school run: itself)."""
    origin = problem.origins[run.school]
    out: dict[int, list] = {}
    for stop, n in run.stops:
        school, own_stop = (int(v) for v in origin[stop - 1])
        out.setdefault(school, []).append((own_stop, n))
    return out
