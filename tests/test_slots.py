"""#27, a time for every run: each run of a school is unloaded at its own time inside the
school's window (:func:`ruralnet.buses.bells.arrival_slots`). Checked against a brute force
over every way to split the stops into runs and the runs into buses, each bus's timing decided
by an independent linear programme; every fleet passes the checker."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from test_mixed import _lp_feasible, _partitions

from ruralnet.buses.bells import arrival_slots, choose_bells, slot_starts, with_starts
from ruralnet.buses.fleet import fewest_buses
from ruralnet.buses.mixed import EVENT_COLUMNS, MixedRules, check_mixed, fleet_events
from ruralnet.buses.run_pool import FleetOptions, plan_fleet
from ruralnet.demo.sbrp import manhattan_travel, mixed_fleet_problem, windows

OPTIONS = FleetOptions(per_school_iterations=300, polish_iterations=0, rounds=1)


def _world(seed: int | None):
    """Park et al.'s layout (feet, HHMM). ``None``: one school, window 07:30-08:00, two stops
    of 40 pupils 5,000 ft away on either side (one bus can do both runs only if the first
    unloads early in the window); else two or three schools and four stops at random."""
    if seed is None:
        schools = pd.DataFrame({"ID": ["A"], "X": [50_000.0], "Y": [50_000.0],
                                "AMEARLY": [730], "AMLATE": [800]})  # fmt: skip
        xy, pupils, whose = [(45_000, 50_000), (55_000, 50_000)], [40, 40], ["A", "A"]
    else:
        rng = np.random.default_rng(seed)
        k = int(rng.integers(2, 4))
        early = rng.choice([700, 710, 720, 730, 740], k)
        schools = pd.DataFrame({"ID": list("ABC"[:k]), "X": rng.uniform(40_000, 60_000, k),
                                "Y": rng.uniform(40_000, 60_000, k), "AMEARLY": early,
                                "AMLATE": early + rng.choice([10, 20, 30], k)})  # fmt: skip
        xy = rng.uniform(35_000, 65_000, (4, 2))
        pupils = rng.integers(25, 45, 4)
        whose = [schools["ID"][i % k] for i in range(4)]
    stops = pd.DataFrame({"ID": [f"p{i}" for i in range(len(pupils))], "EP_ID": whose,
                          "X_COORD": [p[0] for p in xy], "Y_COORD": [p[1] for p in xy],
                          "STUDENT_COUNT": pupils})  # fmt: skip
    return schools, stops


def _table(stops: pd.DataFrame) -> pd.DataFrame:
    return stops.rename(columns={"ID": "stop_id", "EP_ID": "school_id", "STUDENT_COUNT": "pupils"})


def _brute_fewest_buses(schools, stops, rules: MixedRules) -> int:
    """The oracle: every split of the stops into runs of one school each, every split of the
    runs into buses, every order of each bus's runs and of each run's stops; a bus's morning
    is possible when the linear programme of ``test_mixed`` finds a timing."""
    table = _table(stops)
    wins, travel = windows(schools), manhattan_travel(schools, stops)

    def events(runs) -> pd.DataFrame:
        rows = []
        for order, run in enumerate(runs, start=1):
            school = table["school_id"].iat[run[0]]
            rows += [(1, order, f"1-{order}", s + 1, "pickup", table["stop_id"].iat[i], school)
                     for s, i in enumerate(run)]  # fmt: skip
            rows.append((1, order, f"1-{order}", len(run) + 1, "dropoff", "", school))
        return pd.DataFrame(rows, columns=EVENT_COLUMNS)

    def one_bus(blocks) -> bool:
        for order in itertools.permutations(blocks):
            for stops_order in itertools.product(*(itertools.permutations(b) for b in order)):
                if _lp_feasible(events(stops_order), table, wins, travel, rules):
                    return True
        return False

    best, memo = len(table) + 1, {}
    for runs in _partitions(list(range(len(table)))):
        if any(table["school_id"].iloc[r].nunique() > 1 for r in runs):
            continue
        if any(table["pupils"].iloc[r].sum() > rules.seats for r in runs):
            continue
        for buses in _partitions([tuple(r) for r in runs]):
            if len(buses) < best and all(
                memo.setdefault(tuple(sorted(b)), one_bus(b)) for b in buses
            ):
                best = len(buses)
    return best


def _slot_args(schools, stops, step_s: float = 300.0):
    base = mixed_fleet_problem(schools, stops)
    early, late = np.array([windows(schools)[str(i)] for i in schools["ID"]]).T
    return base, early, late, step_s


def _fleets(schools, stops, step_s: float = 300.0):
    """The fleet with one start a school (the best of :func:`choose_bells`) and with a start
    for every run (:func:`arrival_slots`), each checked."""
    base = mixed_fleet_problem(schools, stops)
    early, late = np.array([windows(schools)[str(i)] for i in schools["ID"]]).T
    first = plan_fleet(base, OPTIONS)
    one_bell = with_starts(base, choose_bells(base, early, late, first.runs)[0])
    single = plan_fleet(one_bell, OPTIONS, pool=first.runs)
    slotted = arrival_slots(base, early, late, step_s)
    each = plan_fleet(slotted, OPTIONS, pool=first.runs)
    table, travel = _table(stops), manhattan_travel(schools, stops)
    for problem, fleet in ((one_bell, single), (slotted, each)):
        events = fleet_events(problem, fleet)
        assert check_mixed(events, table, windows(schools), travel, MixedRules()) == []
    return single, each, fleet_events(slotted, each)


def test_one_bus_serves_a_school_twice_when_its_runs_unload_at_different_times():
    schools, stops = _world(None)
    single, each, events = _fleets(schools, stops)
    assert _brute_fewest_buses(schools, stops, MixedRules()) == 1
    assert (single.buses, each.buses) == (2, 1)
    assert each.lower_bound == 1  # a school's runs counted over its time copies, not lost
    assert events.groupby("bus")["order"].nunique().tolist() == [2]  # two runs, one school
    assert set(events.loc[events["action"] == "dropoff", "school_id"]) == {"A"}


@pytest.mark.parametrize("seed", range(5))
def test_a_start_for_every_run_is_never_below_the_optimum_nor_above_one_start_a_school(seed):
    schools, stops = _world(seed)
    single, each, _ = _fleets(schools, stops)
    best = _brute_fewest_buses(schools, stops, MixedRules())
    assert best <= each.buses <= single.buses
    slotted = arrival_slots(*_slot_args(schools, stops))
    for day in each.days:  # each bus's last run unloads at the end of its school's window
        assert not slotted.time_copy[each.runs[day[-1]].school]
    assert 1 <= each.lower_bound <= best  # the bound over the copies holds and says something


def test_slot_starts_cover_the_window_at_most_a_step_apart():
    starts = slot_starts(100.0, 1000.0, 300.0)
    assert starts[0] == 1000.0 and starts[-1] == 100.0
    assert (np.diff(starts) < 0).all() and (-np.diff(starts) <= 300.0 + 1e-9).all()
    assert slot_starts(500.0, 500.0, 300.0).tolist() == [500.0]
    with pytest.raises(ValueError, match="early <= late"):
        slot_starts(900.0, 100.0, 300.0)


def test_time_copies_share_their_schools_stops_and_runs():
    schools, stops = _world(3)
    base = mixed_fleet_problem(schools, stops)
    early, late = np.array([windows(schools)[str(i)] for i in schools["ID"]]).T
    slotted = arrival_slots(base, early, late, 300.0)
    own = len(schools)
    copy_of = slotted.copy_of
    assert (copy_of[:own] == np.arange(own)).all() and (copy_of[own:] < own).all()
    for k in range(own):
        bells = slotted.bell_s[copy_of == k] - slotted.dwell_s[copy_of == k]
        assert np.allclose(np.sort(bells)[::-1], slot_starts(early[k], late[k], 300.0))
    # a run found for a school is a run of each of its copies (same stops, same duration)
    fleet = plan_fleet(slotted, OPTIONS)
    used = fewest_buses(slotted, list(fleet.runs))
    assert used.buses == fleet.buses


@pytest.mark.parametrize("seed", range(3))
def test_the_selection_over_the_relaxations_runs_keeps_the_bound_of_the_whole_pool(seed):
    """With time copies the integer model is solved over the runs the linear relaxation uses:
    never fewer buses than the whole pool's exact selection, never fewer than its bound."""
    from ruralnet.buses.fleet import _select, select_runs
    from ruralnet.buses.run_pool import _Pool

    schools, stops = _world(seed)
    base = mixed_fleet_problem(schools, stops)
    early, late = np.array([windows(schools)[str(i)] for i in schools["ID"]]).T
    slotted = arrival_slots(base, early, late, 300.0)
    pool = _Pool(plan_fleet(base, OPTIONS).runs, slotted).list()
    sol = select_runs(slotted, pool)
    whole = _select(slotted, pool, 5_000, None, 0, None)
    assert sol.meta["support"] <= len(pool) == sol.meta["pool"]
    assert sol.meta["bound"] <= whole.buses <= sol.buses
    assert sol.meta["optimal"] == (sol.buses <= sol.meta["bound"])
