"""Bells as decisions: each school is unloaded at a time chosen inside its window.

A county staggers its bells (junior, then primary, then kindergarten) so that one bus makes two
or three runs a morning; a benchmark gives each school a window ``[early, late]`` for the start
of its unloading. With a start ``u`` chosen per school, the fleet model of
:mod:`ruralnet.buses.fleet` applies unchanged: a run must arrive by ``u`` and the bus is free
after ``u`` plus the school's unloading (its dwell), so the school's "bell" is ``u + dwell``.

:func:`choose_bells` chooses the starts for given runs: the problem's own bells, every start
at the end of its window, every start at the beginning, then school by school (earliest
window first, for a few passes) the start among ``steps`` points of its window that needs the
fewest buses, each candidate measured exactly (:func:`ruralnet.buses.fleet.fewest_buses`, a maximum flow). A candidate
replaces the current starts only when it needs fewer buses, so the result is never worse than
the problem's own bells (moved into the windows) nor either end of the windows.

**A time for every run** (:func:`arrival_slots`). Under a benchmark's windows each *run*, not
each school, may be unloaded at any time inside the window: one bus may reach a school early
and go on, another may come late from a far school. The problem then gets *time copies* of
each school: the same stops, unloaded at another start in its window (a mixed school of one
drop, :mod:`ruralnet.buses.mixed`), at most ``step_s`` apart. The exact selection of runs
(:func:`ruralnet.buses.fleet.select_runs`) chooses each run's copy, so each run its start, and
every fleet it finds is exact for those starts; :func:`ruralnet.buses.run_pool.plan_fleet`
pools every run found for one copy at all copies of its school.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from .fleet import FleetProblem, Run, fewest_buses
from .mixed import MixedSchool, add_mixed

log = logging.getLogger(__name__)


def with_starts(problem: FleetProblem, start_s: np.ndarray) -> FleetProblem:
    """The fleet problem whose schools are unloaded from ``start_s`` on (bell = start + dwell)."""
    return replace(problem, bell_s=np.asarray(start_s, dtype=float) + problem.dwell_s)


def choose_bells(
    problem: FleetProblem,
    early_s: np.ndarray,
    late_s: np.ndarray,
    runs: list[Run],
    steps: int = 5,
    passes: int = 2,
    same: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Starts of unloading inside the windows that let the fewest buses serve ``runs``.

    Parameters
    ----------
    problem
        The fleet problem: its bells (moved into the windows) are the first candidate, its
        dwells are kept.
    early_s, late_s
        Each school's window for the start of unloading (seconds after midnight).
    runs
        The runs to chain (e.g. each school's own routes).
    steps
        Candidate starts per school, evenly spread over its window (both ends included).
    passes
        Rounds over the schools (stops early when a round changes nothing).
    same
        A label per school: schools with the same label (one site's runs of several kinds)
        keep one start, so their windows must be the same.

    Returns
    -------
    starts, buses
        The chosen start per school and the buses the runs then need.
    """
    early = np.asarray(early_s, dtype=float)
    late = np.asarray(late_s, dtype=float)
    if early.shape != late.shape or (late < early).any():
        raise ValueError("each window needs early <= late, one per school")

    def buses(starts: np.ndarray) -> int:
        return fewest_buses(with_starts(problem, starts), runs).buses

    labels = np.arange(len(early)) if same is None else np.asarray(same)
    given = np.clip(problem.bell_s - problem.dwell_s, early, late)  # the problem's own bells
    best, count = given, buses(given)
    for candidate in (late, early):
        if (n := buses(candidate)) < count:
            best, count = candidate.copy(), n
    for _ in range(passes):
        changed = False
        for k in np.argsort(early, kind="stable"):
            together = labels == labels[k]
            if k != np.flatnonzero(together)[0]:
                continue  # one site's schools move once, together
            for value in np.linspace(early[k], late[k], steps):
                if value == best[k]:
                    continue
                trial = best.copy()
                trial[together] = value
                if (n := buses(trial)) < count:
                    best, count, changed = trial, n, True
        if not changed:
            break
    log.info("bells: %d buses for %d runs", count, len(runs))
    return best, count


def slot_starts(early_s: float, late_s: float, step_s: float) -> np.ndarray:
    """Starts of unloading from ``late_s`` back to ``early_s``, at most ``step_s`` apart (both
    ends included; one start when the window is a point)."""
    if late_s < early_s or step_s <= 0:
        raise ValueError("a window needs early <= late and a positive step")
    count = int(np.ceil((late_s - early_s) / step_s - 1e-9)) + 1
    return np.linspace(late_s, early_s, count) if count > 1 else np.array([float(late_s)])


def arrival_slots(
    problem: FleetProblem, early_s: np.ndarray, late_s: np.ndarray, step_s: float = 300.0
) -> FleetProblem:
    """``problem`` (schools of their own) where each run of a school may start its unloading
    at any of :func:`slot_starts` of the school's window: the school itself at the window's
    end, a time copy (:attr:`ruralnet.buses.fleet.FleetProblem.copy_of`) at each earlier start.

    Parameters
    ----------
    problem
        The fleet problem; its dwells are kept, its bells replaced.
    early_s, late_s
        Each school's window for the start of unloading (seconds after midnight).
    step_s
        Longest gap between two starts of a school.
    """
    early = np.asarray(early_s, dtype=float)
    late = np.asarray(late_s, dtype=float)
    if problem.mixed or early.shape != late.shape or len(early) != len(problem.school_ids):
        raise ValueError("arrival slots need schools of their own and one window each")
    at_end = with_starts(problem, late)
    copies = [
        MixedSchool((k,), problem.schools[k], float(t + problem.dwell_s[k]))
        for k in range(len(early))
        for t in slot_starts(early[k], late[k], step_s)[1:]
    ]
    return add_mixed(at_end, copies)
