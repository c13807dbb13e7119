"""Mixed-load runs: the checker against an independent oracle, each rule failing on its own,
and the benchmark's published mixed-rule fleets replayed from the shared instances."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from ruralnet.buses.mixed import EVENT_COLUMNS, MixedRules, check_mixed

RULES = MixedRules(seats=10, max_ride_s=600.0)


def _world(seed: int, n_stops: int = 4, n_schools: int = 2):
    """Points on a line (seconds apart), stops with pupils and schools with windows."""
    rng = np.random.default_rng(seed)
    xs = {f"s{k}": float(rng.integers(0, 400)) for k in range(n_schools)}
    xs |= {f"p{i}": float(rng.integers(0, 400)) for i in range(n_stops)}
    stops = pd.DataFrame(
        {
            "stop_id": [f"p{i}" for i in range(n_stops)],
            "school_id": [f"s{rng.integers(0, n_schools)}" for _ in range(n_stops)],
            "pupils": rng.integers(1, 5, n_stops),
        }
    )
    windows = {}
    for k in range(n_schools):
        early = float(rng.integers(0, 1500))
        windows[f"s{k}"] = (early, early + float(rng.integers(0, 300)))

    def travel(a, b):
        return np.floor(np.abs(np.array([xs[i] for i in a]) - np.array([xs[j] for j in b])))

    return stops, windows, travel


def _events(stops: pd.DataFrame, order: list[int]) -> pd.DataFrame:
    """One bus, one run: the stops in ``order``, then each school on board in order of first
    pick-up."""
    rows, seq = [], 0
    picked = stops.iloc[order]
    for r in picked.itertuples():
        seq += 1
        rows.append((1, 1, "1-1", seq, "pickup", r.stop_id, r.school_id))
    for school in dict.fromkeys(picked["school_id"]):
        seq += 1
        rows.append((1, 1, "1-1", seq, "dropoff", "", school))
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def _lp_feasible(events, stops, windows, travel, rules) -> bool:
    """The oracle: a linear program over the arrival, departure and unloading times (its
    own formulation, solved by HiGHS's simplex), feasible or not."""
    ev = events.reset_index(drop=True)
    m = len(ev)
    n = ev["stop_id"].map(dict(zip(stops["stop_id"], stops["pupils"], strict=True)))
    on, served = {}, []
    for r, k in zip(ev.itertuples(), n, strict=True):
        if r.action == "pickup":
            on[r.school_id] = on.get(r.school_id, 0) + int(k)
            served.append(int(k))
        else:
            served.append(on.pop(r.school_id, 0))
    # variables: arrival a_e, start of service b_e, departure d_e (3m)
    a_ub, b_ub = [], []

    def row(coef: dict, bound: float):
        v = np.zeros(3 * m)
        for i, c in coef.items():
            v[i] = c
        a_ub.append(v)
        b_ub.append(bound)

    points = [r.stop_id if r.action == "pickup" else r.school_id for r in ev.itertuples()]
    for e, r in enumerate(ev.itertuples()):
        row({e: 1, m + e: -1}, 0)  # service starts after the arrival
        service = rules.service(r.action, served[e])
        row({m + e: 1, 2 * m + e: -1}, -service)  # departure after the service
        if r.action == "dropoff":
            early, late = windows[r.school_id]
            row({m + e: -1}, -early)
            row({m + e: 1}, late)
        if e + 1 < m:
            drive = float(travel([points[e]], [points[e + 1]])[0])
            row({2 * m + e: 1, e + 1: -1}, -drive)  # next arrival after the drive
    for e, r in enumerate(ev.itertuples()):
        if r.action == "pickup":
            d = next(
                f for f in range(e + 1, m)
                if ev.at[f, "action"] == "dropoff" and ev.at[f, "school_id"] == r.school_id
            )  # fmt: skip
            row({d: 1, e: -1}, rules.max_ride_s)
    res = linprog(
        np.zeros(3 * m), A_ub=np.array(a_ub), b_ub=np.array(b_ub), bounds=(None, None),
        method="highs",
    )  # fmt: skip
    return res.status == 0


@pytest.mark.parametrize("seed", range(40))
def test_the_timing_check_agrees_with_a_linear_program(seed):
    stops, windows, travel = _world(seed)
    for order in itertools.islice(itertools.permutations(range(len(stops))), 0, 24, 5):
        events = _events(stops, list(order))
        timing = not any(
            "no timing" in b for b in check_mixed(events, stops, windows, travel, RULES)
        )
        assert timing == _lp_feasible(events, stops, windows, travel, RULES), (seed, order)


def test_the_oracle_sees_both_answers():
    answers = set()
    for seed in range(40):
        stops, windows, travel = _world(seed)
        answers.add(_lp_feasible(_events(stops, [0, 1, 2, 3]), stops, windows, travel, RULES))
    assert answers == {True, False}


def _one_school():
    stops = pd.DataFrame({"stop_id": ["a", "b"], "school_id": ["S", "S"], "pupils": [3, 4]})
    xs = {"a": 0.0, "b": 100.0, "S": 300.0, "T": 500.0}

    def travel(p, q):
        return np.array([abs(xs[i] - xs[j]) for i, j in zip(p, q, strict=True)])

    return stops, {"S": (1000.0, 1100.0), "T": (2000.0, 2100.0)}, travel


def test_a_fleet_that_keeps_every_rule_passes():
    stops, windows, travel = _one_school()
    assert check_mixed(_events(stops, [0, 1]), stops, windows, travel, RULES) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda e: e[e["stop_id"] != "b"], "stop b: not served"),
        (lambda e: pd.concat([e.iloc[:1], e]), "stop a: picked up 2 times"),
        (
            lambda e: e.assign(school_id=e["school_id"].where(e["stop_id"] != "a", "T")),
            "bound for T",
        ),
        (lambda e: e[e["action"] != "dropoff"], "never dropped"),
        (lambda e: e.assign(action=e["action"].replace("dropoff", "drop")), "action 'drop'"),
        (lambda e: e.drop(columns="seq"), "lacks column"),
    ],
)
def test_each_broken_rule_is_named(change, expected):
    stops, windows, travel = _one_school()
    bad = check_mixed(change(_events(stops, [0, 1])), stops, windows, travel, RULES)
    assert any(expected in b for b in bad), bad


def test_seats_and_the_ride_limit_each_fail_alone():
    stops, windows, travel = _one_school()
    events = _events(stops, [0, 1])
    assert any(
        "on board" in b for b in check_mixed(events, stops, windows, travel, MixedRules(seats=6))
    )
    # the ride from a: its service (26 s), the drive to b (100), b's service (29), to S (200)
    assert check_mixed(events, stops, windows, travel, MixedRules(seats=10, max_ride_s=355.0)) == []
    tighter = MixedRules(seats=10, max_ride_s=354.0)
    assert any("no timing" in b for b in check_mixed(events, stops, windows, travel, tighter))


def test_a_second_run_needs_the_window_to_be_open_after_the_first():
    """Two runs of one bus to S: the second starts after the first's unloading (42 s), the
    drive back (300 s) and its own ride (355 s): 697 s after the first unloading."""
    stops = pd.DataFrame(
        {"stop_id": ["a", "b", "c", "d"], "school_id": ["S"] * 4, "pupils": [3, 4, 3, 4]}
    )
    xs = {"a": 0.0, "b": 100.0, "c": 0.0, "d": 100.0, "S": 300.0}

    def travel(p, q):
        return np.array([abs(xs[i] - xs[j]) for i, j in zip(p, q, strict=True)])

    first = _events(stops, [0, 1])
    second = _events(stops, [2, 3]).assign(order=2, run="1-2")
    both = pd.concat([first, second], ignore_index=True)
    assert check_mixed(both, stops, {"S": (1000.0, 1697.0)}, travel, RULES) == []
    bad = check_mixed(both, stops, {"S": (1000.0, 1696.0)}, travel, RULES)
    assert any("no timing" in b for b in bad)


def test_mixed_loads_drop_each_pupil_at_their_own_school():
    stops = pd.DataFrame({"stop_id": ["a", "b"], "school_id": ["S", "T"], "pupils": [5, 5]})
    xs = {"a": 0.0, "b": 50.0, "S": 300.0, "T": 400.0}

    def travel(p, q):
        return np.array([abs(xs[i] - xs[j]) for i, j in zip(p, q, strict=True)])

    windows = {"S": (0.0, 5000.0), "T": (0.0, 5000.0)}
    events = _events(stops, [0, 1])  # a (for S), b (for T), drop S, drop T
    assert check_mixed(events, stops, windows, travel, RULES) == []
    seats = MixedRules(seats=9, max_ride_s=600.0)
    assert any(
        "10 pupils on board" in b for b in check_mixed(events, stops, windows, travel, seats)
    )
    # S unloads from 1000 s on (38 s) and T is 100 s on: T's window closes at 1050 s
    late = {"S": (1000.0, 5000.0), "T": (0.0, 1050.0)}
    assert (
        check_mixed(events, stops, {"S": (1000.0, 5000.0), "T": (0.0, 1138.0)}, travel, RULES) == []
    )
    assert any("no timing" in b for b in check_mixed(events, stops, late, travel, RULES))


def _bench(*args):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_fleet.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)


def test_the_benchmark_rechecks_a_mixed_rule_fleet_from_the_instance_files(geodata, tmp_path):
    """A fleet of one bus per stop of RSRB01 (each stop whose direct ride is within the limit)
    under the mixed rules: the script's --check passes it, and names what breaks once one
    bus carries two far-apart stops or a stop is lost."""
    from ruralnet.demo.sbrp import manhattan_travel, read_instance

    schools, stops = read_instance(geodata / "sbrp" / "RSRB01")
    travel = manhattan_travel(schools, stops)
    rows = []
    for bus, r in enumerate(stops.itertuples(), start=1):
        rows += [("RSRB01", bus, 1, f"{bus}-1", 1, "pickup", r.ID, r.EP_ID),
                 ("RSRB01", bus, 1, f"{bus}-1", 2, "dropoff", "", r.EP_ID)]  # fmt: skip
    fleet = pd.DataFrame(rows, columns=["instance", *EVENT_COLUMNS])
    direct = travel(list(stops["ID"]), list(stops["EP_ID"]))
    assert direct.max() + 19 + 2.6 * stops["STUDENT_COUNT"].max() <= 2700  # all within reach
    fleet.to_csv(tmp_path / "fleet.csv", index=False)
    done = _bench("--check", str(tmp_path / "fleet.csv"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(stops)} buses checked, 0 violations" in done.stdout
    lost = fleet[fleet["stop_id"] != stops["ID"].iloc[0]]
    lost.to_csv(tmp_path / "lost.csv", index=False)
    bad = _bench("--check", str(tmp_path / "lost.csv"))
    assert bad.returncode == 1 and f"stop {stops['ID'].iloc[0]}: not served" in bad.stdout
    # the two stops farthest apart of one school on one bus, then two drop-offs: over 2,700 s
    # or through the window
    school = stops["EP_ID"].iloc[0]
    mine = stops[stops["EP_ID"] == school]
    far = travel(list(mine["ID"]), [school] * len(mine))
    a, b = mine["ID"].iloc[int(far.argmax())], mine["ID"].iloc[int(far.argmin())]
    joined = fleet[~fleet["stop_id"].isin([a, b]) & ~fleet["bus"].isin(
        fleet.loc[fleet["stop_id"].isin([a, b]), "bus"])]  # fmt: skip
    extra = pd.DataFrame(
        [("RSRB01", 9999, 1, "9999-1", 1, "pickup", b, school),
         ("RSRB01", 9999, 1, "9999-1", 2, "dropoff", "", school),
         ("RSRB01", 9999, 2, "9999-2", 1, "pickup", a, school),
         ("RSRB01", 9999, 2, "9999-2", 2, "dropoff", "", school)],
        columns=fleet.columns,
    )  # fmt: skip
    pd.concat([joined, extra]).to_csv(tmp_path / "twice.csv", index=False)
    bad = _bench("--check", str(tmp_path / "twice.csv"))
    assert bad.returncode == 1 and "bus 9999: no timing" in bad.stdout, bad.stdout


def _park_world(seed: int | None = None):
    """Two schools in one town (Park et al.'s file layout; feet, HHMM) with the same window,
    and stops around them: the designed case (``seed=None``: 40 and 25 pupils, one bus with
    mixed loads, two without) or a random one."""
    schools = pd.DataFrame({"ID": ["A", "B"], "X": [50_000.0, 50_300.0], "Y": [50_000.0] * 2,
                            "AMEARLY": [750, 750], "AMLATE": [800, 800]})  # fmt: skip
    if seed is None:
        xy, pupils, whose = [(40_000, 47_000), (58_000, 52_000), (45_000, 55_000),
                             (55_000, 44_000)], [30, 10, 20, 5], ["A", "A", "B", "B"]  # fmt: skip
    else:
        rng = np.random.default_rng(seed)
        xy = rng.uniform(38_000, 62_000, (5, 2))
        pupils = rng.integers(3, 24, 5)
        whose = ["A", "B", *rng.choice(["A", "B"], 3)]
    stops = pd.DataFrame({"ID": [f"p{i}" for i in range(len(pupils))],
                          "EP_ID": whose, "X_COORD": [p[0] for p in xy],
                          "Y_COORD": [p[1] for p in xy], "STUDENT_COUNT": pupils})  # fmt: skip
    return schools, stops


def _partitions(items):
    """Every partition of ``items`` into blocks."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        yield [[first], *part]
        for k in range(len(part)):
            yield [*part[:k], [first, *part[k]], *part[k + 1 :]]


def _brute_fewest_runs(schools, stops, rules: MixedRules) -> int:
    """The oracle: no bus can serve two runs (one window for both schools), so the fewest buses
    are the fewest blocks of a partition of the stops such that each block is one run that
    fits the seats, in some pick-up order and drop order (its timing checked by the linear
    programme above, not by the checker)."""
    from ruralnet.demo.sbrp import manhattan_travel, windows

    table = stops.rename(columns={"ID": "stop_id", "EP_ID": "school_id", "STUDENT_COUNT": "pupils"})
    travel, wins = manhattan_travel(schools, stops), windows(schools)

    def one_run(block) -> bool:
        part = table.iloc[list(block)]
        if part["pupils"].sum() > rules.seats:
            return False
        schools_on = list(dict.fromkeys(part["school_id"]))
        for order in itertools.permutations(range(len(part))):
            for drops in itertools.permutations(schools_on):
                rows = [(1, 1, "r", s + 1, "pickup", part["stop_id"].iat[i], part["school_id"].iat[i])
                        for s, i in enumerate(order)]  # fmt: skip
                rows += [
                    (1, 1, "r", len(order) + j + 1, "dropoff", "", d) for j, d in enumerate(drops)
                ]
                if _lp_feasible(
                    pd.DataFrame(rows, columns=EVENT_COLUMNS), table, wins, travel, rules
                ):
                    return True
        return False

    feasible = {}
    best = len(table) + 1
    for p in _partitions(list(range(len(table)))):
        if len(p) < best and all(feasible.setdefault(tuple(b), one_run(b)) for b in p):
            best = len(p)
    return best


@pytest.mark.parametrize("seed", [None, 0, 1, 2, 3])
def test_mixed_schools_carry_two_schools_pupils_on_one_run(seed):
    """#27: a mixed school's runs pick up at both schools' stops and unload at each in turn.
    The fleet passes the checker, is never smaller than the brute-force optimum (a fleet below
    it would break a rule), never larger than the single-load fleet, and in the designed case
    one bus carries what single loads need two for."""
    from ruralnet.buses.mixed import fleet_events
    from ruralnet.buses.run_pool import FleetOptions, plan_fleet
    from ruralnet.demo.sbrp import manhattan_travel, mixed_fleet_problem, mixed_pairs, windows

    schools, stops = _park_world(seed)
    rules = MixedRules()
    table = stops.rename(columns={"ID": "stop_id", "EP_ID": "school_id", "STUDENT_COUNT": "pupils"})
    single = mixed_fleet_problem(schools, stops)
    problem = mixed_pairs(schools, stops, single, gap_s=600.0)
    assert problem.mixed and [tuple(d) for d in problem.drops[2:]] == [(0, 1), (1, 0)]
    options = FleetOptions(per_school_iterations=500, polish_iterations=0, rounds=1)
    alone = plan_fleet(single, options)
    together = plan_fleet(problem, options, pool=alone.runs)
    events = fleet_events(problem, together)
    assert (
        check_mixed(events, table, windows(schools), manhattan_travel(schools, stops), rules) == []
    )
    best = _brute_fewest_runs(schools, stops, rules)
    assert best <= together.buses <= alone.buses
    assert together.lower_bound <= together.buses
    if seed is None:
        assert (alone.buses, together.buses, best) == (2, 1, 1)
        assert (events["action"] == "dropoff").sum() == 2  # one run, unloading at A and B


def _three_schools():
    """Three schools of one town 300 ft apart, one window, a stop of 20 pupils for each:
    one run may carry all 60 (66 seats) when it unloads at all three in turn."""
    schools = pd.DataFrame({"ID": ["A", "B", "C"], "X": [50_000.0, 50_300.0, 50_600.0],
                            "Y": [50_000.0] * 3, "AMEARLY": [750] * 3, "AMLATE": [800] * 3})  # fmt: skip
    stops = pd.DataFrame({"ID": ["pa", "pb", "pc"], "EP_ID": ["A", "B", "C"],
                          "X_COORD": [46_000.0, 47_000.0, 48_000.0], "Y_COORD": [52_000.0] * 3,
                          "STUDENT_COUNT": [20, 20, 20]})  # fmt: skip
    return schools, stops


def test_one_run_unloads_three_schools_in_turn():
    """#27, several schools a run: with chains of three schools the fleet carries the three
    schools' pupils on one run (one bus, the brute-force optimum), where pairs need two; the
    checker passes it and the run has three drop-offs."""
    from ruralnet.buses.mixed import fleet_events
    from ruralnet.buses.run_pool import FleetOptions, plan_fleet
    from ruralnet.demo.sbrp import manhattan_travel, mixed_fleet_problem, mixed_pairs, windows

    schools, stops = _three_schools()
    rules = MixedRules()
    table = stops.rename(columns={"ID": "stop_id", "EP_ID": "school_id", "STUDENT_COUNT": "pupils"})
    single = mixed_fleet_problem(schools, stops)
    options = FleetOptions(per_school_iterations=500, polish_iterations=0, rounds=1)
    alone = plan_fleet(single, options)
    buses = {}
    for k in (2, 3):
        problem = mixed_pairs(schools, stops, single, gap_s=600.0, max_schools=k)
        assert max(len(d) for d in problem.drops) == k
        fleet = plan_fleet(problem, options, pool=alone.runs)
        events = fleet_events(problem, fleet)
        travel = manhattan_travel(schools, stops)
        assert check_mixed(events, table, windows(schools), travel, rules) == []
        buses[k] = (fleet.buses, int((events["action"] == "dropoff").sum()))
    best = _brute_fewest_runs(schools, stops, rules)
    assert alone.buses == 3 and best == 1
    assert buses[2][0] == 2 and buses[3] == (1, 3)
