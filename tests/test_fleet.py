"""One fleet for many schools: each model checked against an oracle written here.

* the exact path cover of fixed runs against a maximum matching on the run-level graph
  (networkx), which knows nothing of the school-level flow;
* the run selection against a brute force over every covering subset of a small pool;
* the lower bound against those optima;
* fleet-aware routes against the ride limit and the time budget, recomputed by hand;
* the benchmark's fleet.csv against the instance files, by a checker written in this file.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from ruralnet.buses.fleet import FleetProblem, Run, fewest_buses, fleet_lower_bound, select_runs
from ruralnet.buses.mixed import MixedSchool, add_mixed, mixed_problem
from ruralnet.buses.routing import BusProblem, Origin, chain_routes, ride_time_s
from ruralnet.model.errors import InputError

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_fleet.py"


def _school(xy_school, xy_stops, pupils, seats=10, max_ride=900.0):
    xy = np.vstack([xy_school, xy_stops])
    d = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)
    return BusProblem([f"p{i}" for i in range(len(xy_stops))], np.asarray(pupils), d / 10, d,
                      seats, max_ride, 10.0, 1.0)  # fmt: skip


def _instance(seed: int, schools: int = 4, stops: int = 3):
    """Random schools with staggered bells; points on a grid; speed 10 m/s."""
    rng = np.random.default_rng(seed)
    sxy = rng.uniform(0, 6000, (schools, 2))
    probs, cols, pts = [], [], []
    for k in range(schools):
        xy = sxy[k] + rng.uniform(-2000, 2000, (stops, 2))
        probs.append(_school(sxy[k], xy, rng.integers(1, 6, stops)))
        cols.append(np.arange(len(pts), len(pts) + stops))
        pts.extend(xy)
    pts = np.array(pts)
    dead = np.abs(sxy[:, None, :] - pts[None, :, :]).sum(axis=2)
    bell = 25_000 + np.sort(rng.choice(np.arange(0, 3600, 300), schools, replace=False))
    return FleetProblem([f"s{k}" for k in range(schools)], bell, 60.0, probs, cols, dead / 10, dead)


def _oracle_cover(problem: FleetProblem, runs: list[Run]) -> int:
    """Minimum path cover of the run-level graph: runs minus a maximum matching."""
    g = nx.DiGraph()
    g.add_nodes_from([("a", i) for i in range(len(runs))] + [("b", i) for i in range(len(runs))])
    for i, r1 in enumerate(runs):
        for j, r2 in enumerate(runs):
            if (
                r1.school == r2.school
                or problem.bus_types[r1.school] != problem.bus_types[r2.school]
            ):
                continue
            start = problem.bell_s[r1.school] + problem.deadhead_s[r1.school, r2.first]
            if start + r2.duration_s + problem.dwell_s[r2.school] <= problem.bell_s[r2.school]:
                g.add_edge(("a", i), ("b", j))
    top = [("a", i) for i in range(len(runs))]
    matching = nx.bipartite.hopcroft_karp_matching(g.to_undirected(), top_nodes=top)
    return len(runs) - sum(1 for n in matching if n[0] == "a")


def _day_ok(problem: FleetProblem, runs: list[Run], day: list[int]) -> bool:
    schools = [runs[k].school for k in day]
    if len(set(schools)) < len(schools):
        return False
    for a, b in itertools.pairwise(day):
        r1, r2 = runs[a], runs[b]
        start = problem.bell_s[r1.school] + problem.deadhead_s[r1.school, r2.first]
        if start + r2.duration_s + problem.dwell_s[r2.school] > problem.bell_s[r2.school] + 1e-9:
            return False
    return True


def _single_runs(problem: FleetProblem) -> list[Run]:
    return [
        problem.run(k, [(i + 1, int(n))])
        for k, bp in enumerate(problem.schools)
        for i, n in enumerate(bp.pupils)
    ]


@pytest.mark.parametrize("seed", range(6))
def test_fewest_buses_is_a_minimum_path_cover(seed):
    problem = _instance(seed)
    runs = _single_runs(problem)
    sol = fewest_buses(problem, runs)
    assert sol.buses == _oracle_cover(problem, runs)
    assert sorted(k for day in sol.days for k in day) == list(range(len(runs)))
    assert all(_day_ok(problem, runs, day) for day in sol.days)
    table = sol.table(problem)
    assert (table["arrives_s"] <= problem.bell_s[0] + 3600).all()
    assert (table.groupby("bus")["order"].max() == [len(d) for d in sol.days]).all()


def _pool(problem: FleetProblem) -> list[Run]:
    """Singles and pairs of stops of every school (pairs that fit the seats and the limit)."""
    pool = _single_runs(problem)
    for k, bp in enumerate(problem.schools):
        for a, b in itertools.permutations(range(1, len(bp.pupils) + 1), 2):
            route = [(a, int(bp.pupils[a - 1])), (b, int(bp.pupils[b - 1]))]
            if sum(n for _, n in route) <= bp.seats and ride_time_s(bp, route) <= bp.max_ride_s:
                pool.append(problem.run(k, route))
    return pool


def _brute_force(problem: FleetProblem, pool: list[Run]) -> int:
    """Fewest buses over every choice of runs that picks up every stop exactly once."""
    by_school = []
    for k, bp in enumerate(problem.schools):
        mine = [r for r in pool if r.school == k]
        covers = []
        for size in range(1, len(bp.pupils) + 1):
            for combo in itertools.combinations(mine, size):
                stops = sorted(a for r in combo for a, _ in r.stops)
                if stops == list(range(1, len(bp.pupils) + 1)):
                    covers.append(list(combo))
        by_school.append(covers)
    return min(
        _oracle_cover(problem, [r for part in choice for r in part])
        for choice in itertools.product(*by_school)
    )


@pytest.mark.parametrize("seed", range(3))
def test_run_selection_is_exact_on_a_small_pool(seed):
    problem = _instance(seed, schools=3, stops=3)
    pool = _pool(problem)
    sol = select_runs(problem, pool)
    best = _brute_force(problem, pool)
    assert sol.buses == best
    assert sol.meta["optimal"]
    served = sorted((r.school, a) for r in sol.runs for a, _ in r.stops)
    assert served == sorted((k, i + 1) for k, bp in enumerate(problem.schools) for i in range(3))
    assert all(_day_ok(problem, sol.runs, day) for day in sol.days)
    lower = fleet_lower_bound(problem, [1] * 3)
    assert 1 <= lower <= best


@pytest.mark.parametrize("seed", range(3))
def test_the_selection_starting_from_a_fleet_is_never_worse(seed):
    problem = _instance(seed, schools=5, stops=4)
    singles = _single_runs(problem)
    given = fewest_buses(problem, singles)  # every stop its own run: a poor fleet
    pool = _pool(problem)
    quick = select_runs(problem, pool, node_limit=1, start=given)
    assert quick.buses <= given.buses
    assert sorted((r.school, a) for r in quick.runs for a, _ in r.stops) == sorted(
        (r.school, a) for r in singles for a, _ in r.stops
    )
    assert all(_day_ok(problem, quick.runs, day) for day in quick.days)
    exact = select_runs(problem, pool, start=given)
    assert exact.meta["optimal"] and exact.buses == select_runs(problem, pool).buses
    assert exact.buses <= quick.buses


@pytest.mark.parametrize("seed", range(3))
def test_a_bus_keeps_to_one_kind_of_bus(seed):
    """#27: kindergarten children only on kindergarten-standard buses: a bus's day never mixes
    kinds. The path cover, the exact selection and the bound against the oracles above (which
    link two runs only when their schools need the same kind), and never below one kind."""
    problem = _instance(seed, schools=4, stops=3)
    kinds = np.random.default_rng(seed).permutation(["school", "kindergarten"] * 2)
    typed = dataclasses.replace(problem, bus_types=kinds)
    runs = _single_runs(typed)
    sol = fewest_buses(typed, runs)
    assert sol.buses == _oracle_cover(typed, runs) >= fewest_buses(problem, runs).buses
    for day in sol.days:
        assert len({kinds[runs[k].school] for k in day}) == 1
    assert sorted(sol.bus_types(typed)) == sorted(kinds[runs[d[0]].school] for d in sol.days)
    pool = _pool(typed)
    best = _brute_force(typed, pool)
    chosen = select_runs(typed, pool)
    assert chosen.buses == best >= select_runs(problem, pool).buses
    assert all(len({kinds[chosen.runs[k].school] for k in day}) == 1 for day in chosen.days)
    bounds = [fleet_lower_bound(typed, [1] * 4, t) for t in ("school", "kindergarten")]
    assert min(bounds) >= 1 and sum(bounds) == fleet_lower_bound(typed, [1] * 4) <= best


def test_a_mixed_school_of_two_kinds_needs_its_kind_named():
    """A run that unloads at schools needing different buses takes the kind it is given."""
    problem = dataclasses.replace(_instance(0, schools=2), bus_types=["school", "kindergarten"])
    drops = (0, 1)
    parts = [problem.schools[d] for d in drops]
    stops = np.concatenate([problem.columns[d] for d in drops])
    between = np.abs(stops[:, None] - stops[None, :]).astype(float)
    bp = mixed_problem(parts, between, between, np.full(6, 60.0), np.zeros(6), 60.0, 600.0)
    bell = float(problem.bell_s[1])
    with pytest.raises(ValueError, match="kindergarten"):
        add_mixed(problem, [MixedSchool(drops, bp, bell)])
    both = add_mixed(problem, [MixedSchool(drops, bp, bell, bus_type="kindergarten")])
    assert list(both.bus_types) == ["school", "kindergarten", "kindergarten"]
    assert bp.seats == min(p.seats for p in parts)


def test_a_full_bus_at_a_big_stop_may_run_twice():
    bp = _school([0, 0], [[1000, 0], [0, 1000]], [20, 3])  # 20 pupils, 10 seats
    problem = FleetProblem(["s"], [30_000], 60.0, [bp], [np.array([0, 1])], np.zeros((1, 2)))
    pool = [problem.run(0, [(1, 10)]), problem.run(0, [(2, 3)])]
    sol = select_runs(problem, pool)
    assert sol.buses == 3 and sum(r.pupils for r in sol.runs) == 23


def test_schools_no_bus_can_chain_need_their_own_buses():
    problem = _instance(1)
    problem.bell_s[:] = problem.bell_s[0]  # one bell: no bus can serve two schools
    runs = _single_runs(problem)
    assert fewest_buses(problem, runs).buses == len(runs)
    assert fleet_lower_bound(problem, [len(bp.pupils) for bp in problem.schools]) == len(runs)


def test_bad_fleet_problems_are_named():
    problem = _instance(0)
    with pytest.raises(InputError) as err:
        FleetProblem(["a", "b"], [1.0, np.nan], -5.0, problem.schools[:1], [], -np.ones((2, 3)))
    text = str(err.value)
    for part in ("bell_s", "dwell_s", "one entry per school", "negative"):
        assert part in text


def test_runs_from_waiting_buses_keep_the_budget_and_the_ride_limit():
    rng = np.random.default_rng(3)
    stops = rng.uniform(-3000, 3000, (12, 2))
    bp = _school([0, 0], stops, rng.integers(1, 5, 12), seats=12, max_ride=700.0)
    origin_xy = np.array([5000.0, 5000.0])
    dead_m = np.abs(stops - origin_xy).sum(axis=1)
    budget = 1500.0
    origin = Origin(3, dead_m / 10, dead_m, budget)
    routes = chain_routes(bp, [origin], iterations=2_000, seed=0)
    assert sorted(a for r, _ in routes for a, _ in r) == list(range(1, 13))
    from_origin = [r for r, o in routes if o == 0]
    assert 0 < len(from_origin) <= 3
    for route, o in routes:
        assert ride_time_s(bp, route) <= bp.max_ride_s + 1e-6
        assert sum(n for _, n in route) <= bp.seats
        if o == 0:
            first = route[0][0]
            total = dead_m[first - 1] / 10 + ride_time_s(bp, route) + bp.service_s(route[0][1])
            assert total <= budget + 1e-6


def _fleet_oracle(table: pd.DataFrame, sbrp: Path, inst: str, max_ride: float) -> int:
    """Every rule of the benchmark, from the instance files; returns the buses."""
    stops = pd.read_csv(sbrp / inst / "Stops.txt", sep="\t", dtype={"ID": str, "EP_ID": str})
    schools = pd.read_csv(sbrp / inst / "Schools.txt", sep="\t", dtype={"ID": str})
    st, sc = stops.set_index("ID"), schools.set_index("ID")
    assert sorted(table["stop_id"]) == sorted(stops["ID"])
    hhmm = sc["AMEARLY"].astype(int)
    bell = (hhmm // 100) * 3600 + (hhmm % 100) * 60
    for _, day in table.groupby("bus"):
        prev = None
        seen = set()
        for _, run in day.sort_values(["order", "seq"]).groupby("order", sort=True):
            school = run["school_id"].iloc[0]
            assert school not in seen
            seen.add(school)
            s = st.loc[run["stop_id"]]
            assert (s["EP_ID"] == school).all() and s["STUDENT_COUNT"].sum() <= 66
            xy = np.vstack(
                [s[["X_COORD", "Y_COORD"]].to_numpy(float), sc.loc[[school], ["X", "Y"]]]
            )
            travel = np.abs(np.diff(xy, axis=0)).sum() / 29.3333
            service = 19 + 2.6 * s["STUDENT_COUNT"].to_numpy(float)
            assert travel + service[1:].sum() <= max_ride + 1e-6
            if prev is not None:
                empty = np.abs(sc.loc[prev, ["X", "Y"]].to_numpy(float) - xy[0]).sum() / 29.3333
                assert bell[prev] + empty + travel + service.sum() + 154.4 <= bell[school] + 1e-6
            prev = school
    return table["bus"].nunique()


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=900
    )


def test_benchmark_fleet_passes_an_independent_oracle(geodata, tmp_path):
    done = _bench("--instances", "RSRB01", "--time-limit", "40", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("RSRB01"))
    buses, pnas, bound = (int(v) for v in line.split()[3:5] + line.split()[6:7])
    table = pd.read_csv(tmp_path / "fleet.csv", dtype=str)
    assert list(table.columns) == ["instance", "bus", "order", "school_id", "run", "seq", "stop_id"]
    table[["order", "seq"]] = table[["order", "seq"]].astype(int)
    assert _fleet_oracle(table, geodata / "sbrp", "RSRB01", 2700) == buses
    assert bound <= buses <= pnas == 31
    # the script's own re-check agrees, and catches a bus that cannot make it in time
    assert _bench("--check", str(tmp_path / "fleet.csv")).returncode == 0
    broken = table.copy()
    busiest = broken.groupby("bus")["order"].max().idxmax()
    mine = broken["bus"] == busiest
    first, second = mine & (broken["order"] == 1), mine & (broken["order"] == 2)
    broken.loc[first, "order"], broken.loc[second, "order"] = 2, 1  # a later bell first
    broken.to_csv(tmp_path / "broken.csv", index=False)
    bad = _bench("--check", str(tmp_path / "broken.csv"))
    assert bad.returncode == 1 and "violations" in bad.stdout


def test_a_school_above_its_bound_is_routed_again_for_fewer_runs():
    from types import SimpleNamespace

    from ruralnet.buses.routing import check_routes
    from ruralnet.buses.run_pool import _search_again

    rng = np.random.default_rng(5)
    bp = _school([0, 0], rng.uniform(-1500, 1500, (10, 2)), rng.integers(1, 4, 10), seats=12)
    poor = SimpleNamespace(buses=10)  # as if the first search had one run per stop
    routes = _search_again(bp, poor, 2, polish=(5_000, None), seed=0)
    assert 0 < len(routes) < 10
    assert sorted(a for r in routes for a, _ in r) == list(range(1, 11))
    assert check_routes(bp, routes) == []
    assert _search_again(bp, poor, 2, polish=(0, None), seed=0) == []  # switched off
    assert (
        _search_again(bp, SimpleNamespace(buses=2), 2, polish=(5_000, None), seed=0) == []
    )  # at its bound


def test_an_empty_pool_needs_no_bus():
    """Issue #25: a weekly ride limit no stop can keep left no run to choose, and HiGHS
    failed on the empty model ('run selection not solved: Empty')."""
    problem = _instance(0, schools=2, stops=3)
    sol = select_runs(problem, [])
    assert sol.buses == 0 and sol.runs == [] and sol.meta["optimal"]


def test_the_bound_counts_only_the_pupils_a_bus_can_serve():
    """Issue #25: the weekly fleet of 英德 reported a bound of 390 buses above the 382 it found:
    the seats bound of a school's run pool counted the boarders no bus can take home within
    the ride limit (829 of them). A school of one far stop (beyond any ride) and 12 near
    pupils (10 seats): the bound is 2, and the fleet meets it."""
    from ruralnet.buses.run_pool import FleetOptions, plan_fleet, scenario_runs

    bp = _school([0, 0], [[1000, 0], [0, 900], [50_000, 0]], [6, 6, 40])  # 900 s ride limit
    problem = FleetProblem(["s"], [30_000], 60.0, [bp], [np.arange(3)], np.zeros((1, 3)))
    runs, bound = scenario_runs(problem, 0, caps=(1.0, 2 / 3))
    assert bound == 2  # 12 servable pupils, 10 seats; the 40 far ones are reported, not routed
    assert all(a != 3 for r in runs for a, _ in r.stops)
    sol = plan_fleet(problem, FleetOptions(progress=False), [], [0])
    assert sol.lower_bound == 2 <= sol.buses == 2


def test_a_fleet_started_from_the_year_before_is_never_worse_than_that_start():
    from ruralnet.buses.run_pool import FleetOptions, plan_fleet

    options = FleetOptions(per_school_iterations=50, selection_nodes=1, caps=(1.0,), rounds=0)
    gained = []
    for seed in range(3):
        problem = _instance(seed, schools=5, stops=4)
        singles = _single_runs(problem)  # the own plans: every stop its own run
        before = select_runs(problem, _pool(problem)).runs  # a better fleet, "the year before"
        fresh = plan_fleet(problem, options, singles)
        started = plan_fleet(problem, options, singles, previous=before)
        assert started.buses <= min(fewest_buses(problem, before).buses, fresh.buses)
        assert sorted((r.school, a) for r in started.runs for a, _ in r.stops) == sorted(
            (r.school, a) for r in singles for a, _ in r.stops
        )
        assert all(_day_ok(problem, started.runs, day) for day in started.days)
        gained.append(fresh.buses - started.buses)
    assert max(gained) > 0  # the year before's runs gave a fleet the search alone did not


def test_the_next_years_fleet_starts_from_this_one(county, demo_analysis):
    """The same plan routed again from its own fleet: every run is checked independently
    and the fleet needs no more buses than the one it starts from."""
    from ruralnet.analysis.evaluation import flow_rows
    from ruralnet.buses.plan import plan_buses

    ev = demo_analysis.evaluations["optimised"]
    plan = dataclasses.replace(ev.plan, flows=ev.plan.flows.toarray())
    rows = flow_rows(demo_analysis.context, plan)
    again = plan_buses(county, demo_analysis.context, rows, previous=ev.buses.chosen)
    assert not again.violations
    assert again.chosen.keys() == ev.buses.chosen.keys()
    assert again.county_fleet.buses() <= ev.buses.county_fleet.buses()
    assert again.served()["pupils"].sum() == ev.buses.served()["pupils"].sum()


def test_the_capped_routings_with_less_effort_still_cover_every_stop_within_the_limit():
    """#26: the routings under a cap get a share of the effort (``cap_effort``). Each cap's
    runs still cover every stop once, within the seats and the full ride limit, and the cache
    never hands one effort's runs to another; a part found in the cache gives the runs its
    routing gives."""
    from ruralnet.buses.run_pool import scenario_runs

    rng = np.random.default_rng(3)
    bp = _school([0, 0], rng.uniform(-3000, 3000, (14, 2)), rng.integers(1, 5, 14), seats=12)
    problem = FleetProblem(["s"], [30_000], 60.0, [bp], [np.arange(14)], np.zeros((1, 14)))
    cache: dict = {}
    caps = (1.0, 2 / 3, 1 / 3)
    runs, bound = scenario_runs(problem, 0, caps, (2_000, None), cache=cache, cap_effort=0.2)
    stops = sorted(a for r in runs for a, _ in r.stops)
    assert stops == sorted(list(range(1, 15)) * len(caps))  # each cap covers every stop once
    assert all(sum(n for _, n in r.stops) <= bp.seats for r in runs)
    assert all(ride_time_s(bp, list(r.stops)) <= bp.max_ride_s + 1e-6 for r in runs)
    assert bound >= math.ceil(bp.pupils.sum() / bp.seats)
    scenario_runs(problem, 0, caps, (2_000, None), cache=cache, cap_effort=1.0)
    assert len([k for k in cache if k[0] != "part"]) == 2  # one entry per school and effort
    parts = [k for k in cache if k[0] == "part"]
    assert {dict(k[2])["iterations"] for k in parts} == {2_000, 400}
    # a part routed before (here: every part) gives the same runs as routing it again
    warm = {k: v for k, v in cache.items() if k[0] == "part"}
    again, _ = scenario_runs(problem, 0, caps, (2_000, None), cache=warm, cap_effort=0.2)
    assert [r.stops for r in again] == [r.stops for r in runs]


def _clock(text: str) -> float:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def test_mixed_runs_in_the_county_unload_each_school_in_its_time(county, demo_analysis):
    """#27: the county fleet's mixed runs (two schools' pupils on one run) appear where they
    cost less; each is one row per school it unloads at (two schools of one town, or two
    kinds of runs of one site), each school unloaded by its bell and
    no more than ``bus_early_minutes`` before it, every pupil on exactly one row; and the
    fleet never needs more buses than with single loads."""
    from ruralnet.buses.county_fleet import bell_seconds

    s = county.settings
    mixed_anywhere = 0
    for ev in demo_analysis.evaluations.values():
        fleet = ev.buses.county_fleet
        summary = fleet.summary
        assert (summary["buses"] <= summary["single_loads"]).all()
        mixed_anywhere += int(summary["mixed_runs"].sum())
        runs = fleet.runs
        for (day, _), rows in runs[runs["run"].str.contains("+", regex=False)].groupby(
            ["day", "run"]
        ):
            assert len(rows) == 2  # one row per school (or per run kind of one site)
            run_id = rows["run"].iloc[0]  # <site>-AM-<kind>+<site>-<kind>-<n>, drop order
            head, second = run_id.rsplit("-", 1)[0].split("+")
            sites = [head.rsplit("-", 2)[0], second.rsplit("-", 1)[0]]
            real = rows["site"].tolist()[::-1] if day == "afternoon" else rows["site"].tolist()
            assert sites == real, (run_id, real)
            assert rows["bus"].nunique() == 1 and rows["order"].nunique() == 1
            bells = bell_seconds(county.sites, s, day)
            dwell = s.bus_dwell_minutes * 60
            for r in rows.itertuples():
                if day == "afternoon":  # leaves the school after its dismissal, not long after
                    t, bell = _clock(r.departs), bells[r.site]
                    assert bell - 60 <= t <= bell + dwell + s.bus_early_minutes * 60 + 60
                else:  # unloaded by the bell, not long before
                    t, bell = _clock(r.arrives), bells[r.site]
                    assert bell - dwell - s.bus_early_minutes * 60 - 60 <= t <= bell - dwell + 60
        for day, part in runs.groupby("day"):
            row = summary[summary["day"] == day]
            assert part["pupils"].sum() == row["pupils"].sum()  # every rider on one row
    assert mixed_anywhere > 0  # the bundled county's boarders share buses between schools


def test_kindergarten_children_ride_only_kindergarten_buses_with_their_villages_pupils(county):
    """#27: with kindergarten buses allowed, one fleet a day of two kinds of bus. Every run
    with kindergarten children is on a kindergarten bus, within its seats and the young
    pupils' ride limit; some of those runs carry the village's school pupils too; every rider
    is on exactly one run; and the day needs fewer buses than the two kinds' fleets with
    single loads."""
    from ruralnet.analysis.evaluation import evaluate
    from ruralnet.analysis.plans import current_plan, plan_context
    from ruralnet.buses.plan import plan_buses

    s = county.settings.replace(kindergarten_buses=True, escort_minutes=5.0)
    kc = dataclasses.replace(county, settings=s)
    ctx = plan_context(kc)
    ev = evaluate(ctx, current_plan(ctx))
    buses = plan_buses(kc, ctx, ev.rows)
    assert buses.violations == [] and buses.unserved.empty
    fleet = buses.county_fleet
    runs = fleet.runs[fleet.runs["day"] != "weekly"]
    kinder = runs["run"].str.contains(r"-K[-+]")  # a kindergarten group's part of the run
    assert kinder.any() and (runs.loc[kinder, "bus_type"] == "kindergarten").all()
    school = runs["run"].str.contains(r"-[YO][-+]")
    assert (kinder & school).any()  # a village's children of all stages on one run
    seats = {"school": s.bus_seats, "kindergarten": s.kindergarten_bus_seats}
    for (day, run, kind), rows in runs.groupby(["day", "run", "bus_type"]):
        assert rows["pupils"].sum() <= seats[kind], run
        assert rows["bus"].nunique() == 1
        if "-K" in run and day == "morning":  # the first stop's boarding, HH:MM rounding
            ride = _clock(rows["arrives"].iloc[-1]) - _clock(rows["departs"].iloc[0])
            boarding = s.bus_stop_seconds + s.bus_seconds_per_pupil * rows["pupils"].sum()
            assert ride <= s.young_ride_minutes * 60 + boarding + 120, run
    riders = ev.assignment.loc[ev.assignment["way"] == "bus", "pupils"].sum()
    summary = fleet.summary[fleet.summary["day"] == "morning"]
    assert runs[runs["day"] == "morning"]["pupils"].sum() == riders == summary["pupils"].sum()
    assert set(summary["bus_type"]) == {"school", "kindergarten"}
    assert summary["buses"].sum() < summary["single_loads"].sum()
    assert (summary["buses"] >= summary["lower_bound"]).all()
