"""School-bus routes: the independent checker, the benchmark's ride-time rule, real solver runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ruralnet.buses.routing import BusProblem, check_routes, ride_from_s, ride_time_s, solve
from ruralnet.demo.sbrp import read_instance, reference_routes, school_problem

pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning"
)  # PyVRP penalty warnings on tight schools


@pytest.fixture(scope="module")
def rsrb01(geodata):
    schools, stops = read_instance(geodata / "sbrp" / "RSRB01")
    ref = reference_routes(geodata / "sbrp" / "routes" / "RSRB2700" / "SBRP_RSRB01.txt")
    return schools, stops, ref


def test_reference_routes_obey_our_ride_time_rule(rsrb01):
    """SOURCE.md: RSRB01 route 1 (stops 100043, 100087, 100049, 100093, 100001) rides 2,556 s."""
    schools, stops, ref = rsrb01
    for _, r in ref.iterrows():
        school = schools[schools["ID"] == r["school_id"]].iloc[0]
        problem = school_problem(school, stops)
        index = {sid: i + 1 for i, sid in enumerate(problem.stop_ids)}
        route = [(index[s], int(problem.pupils[index[s] - 1])) for s in r["stops"]]
        # the reference truncates each leg's travel time and each stop's service time to whole
        # seconds, so it reads at most 2 s per stop lower than the exact ride computed here
        gap = ride_time_s(problem, route) - r["ride_s"]
        assert 0 <= gap <= 2 * len(route)
        assert ride_time_s(problem, route) <= 2700 + 2 * len(route)
    assert len(ref) == 60


def test_solver_beats_or_matches_the_reference_and_passes_the_checker(rsrb01):
    schools, stops, ref = rsrb01
    per_school = ref.groupby("school_id").size()
    for _, school in schools.head(3).iterrows():
        problem = school_problem(school, stops)
        sol = solve(problem, iterations=5000, seed=1)
        assert len(sol.unserved) == 0
        assert check_routes(problem, sol.routes) == []
        assert sol.buses <= per_school[school["ID"]]
        assert sol.buses >= int(np.ceil(problem.pupils.sum() / problem.seats))
        again = solve(problem, iterations=5000, seed=1)
        assert (
            again.buses == sol.buses
        )  # reproducible for a seed (the stopping rule allows a time race)


def _line_problem(pupils, spacing=600.0, seats=10, max_ride=1200.0, direction="morning"):
    """Stops on a line leading to the school at x = 0, 10 m/s."""
    n = len(pupils)
    x = np.concatenate([[0.0], spacing * np.arange(1, n + 1)])
    d = np.abs(x[:, None] - x[None, :])
    return BusProblem(
        [f"s{i}" for i in range(1, n + 1)],
        np.array(pupils),
        d / 10,
        d,
        seats,
        max_ride,
        30,
        2,
        direction=direction,
    )


def test_checker_finds_every_kind_of_violation():
    p = _line_problem([6, 6, 3])
    good = [[(3, 3), (2, 6)], [(1, 6)]]
    assert check_routes(p, good) == []
    over_seats = [[(3, 3), (2, 6), (1, 6)]]
    assert any("seats" in v for v in check_routes(p, over_seats))
    missing = [[(3, 3), (2, 6)]]
    assert any("s1" in v for v in check_routes(p, missing))
    twice = [[(3, 3), (2, 6)], [(1, 6)], [(1, 6)]]
    assert any("12 of 6" in v for v in check_routes(p, twice))
    slow = _line_problem([2, 2, 2], spacing=5000, seats=10, max_ride=1200)
    assert any("ride" in v for v in check_routes(slow, [[(1, 2)], [(2, 2)], [(3, 2)]]))


def test_ride_time_definition():
    p = _line_problem([4, 5, 1])
    route = [(3, 1), (2, 5), (1, 4)]  # 1800 m out, inwards to the school
    # travel from the first stop to the school (180 s) + service of the later stops (30+2*5, 30+2*4)
    assert ride_time_s(p, route) == pytest.approx(180 + 40 + 38)
    assert ride_from_s(p, route, 2) == pytest.approx(60)
    pm = _line_problem([4, 5, 1], direction="afternoon")
    back = [(1, 4), (2, 5), (3, 1)]
    assert ride_time_s(pm, back) == pytest.approx(
        180 + 38 + 40
    )  # last pupils: travel + earlier services


def test_large_stops_split_and_impossible_stops_reported():
    p = _line_problem([25, 3], spacing=300, seats=10, max_ride=600)
    far = _line_problem([2], spacing=20000, seats=10, max_ride=600)
    sol = solve(p, iterations=2500)
    assert check_routes(p, sol.routes) == [] and sol.buses == 3
    sol_far = solve(far, iterations=2000)
    assert sol_far.routes == [] and sol_far.unserved["pupils"].sum() == 2
    assert "over the 10 min limit" in sol_far.unserved["reason"].iloc[0]


def test_afternoon_runs_are_checked_too():
    p = _line_problem([4, 4, 4, 4], spacing=800, seats=8, max_ride=900, direction="afternoon")
    sol = solve(p, iterations=2500)
    assert check_routes(p, sol.routes) == []


def test_county_buses_for_the_merger_plan(county, demo_analysis_no_buses):
    from ruralnet.buses.plan import ROUTE_COLUMNS, plan_buses

    analysis = demo_analysis_no_buses
    ev = analysis.evaluations["merger"]
    assignment = ev.assignment
    receiving = set(
        analysis.candidates.loc[analysis.candidates["decision"] == "merge_bus", "receiving_site_id"]
    )
    buses = plan_buses(county, analysis.context, ev.rows, sites=receiving)
    assert buses.violations == []
    riders = assignment[(assignment["way"] == "bus") & assignment["site_id"].isin(receiving)]
    for direction in ("morning", "afternoon"):
        routed = buses.routes[buses.routes["direction"] == direction]["pupils"].sum()
        unserved = buses.unserved[buses.unserved["direction"] == direction]["pupils"].sum()
        assert routed + unserved == riders["pupils"].sum(), "every bus pupil on a bus or reported"
    assert list(buses.routes.columns[:7]) == ROUTE_COLUMNS
    assert (buses.routes["minutes"] <= county.settings.max_ride_minutes + 1e-6).all()
    assert buses.lines.geometry.length.gt(0).all() and buses.buses_needed() > 0
    k = buses.routes[buses.routes["seats"] == 45]
    if len(k):
        assert (k.groupby("route")["pupils"].sum() <= 45).all()
    loads = buses.routes.groupby("route")["pupils"].sum()
    assert (loads <= 56).all()
    assert isinstance(buses.schools, pd.DataFrame)


def test_run_kinds_have_readable_names_and_labels():
    from ruralnet.buses.school_runs import RunKind
    from ruralnet.model import labels

    assert set(labels.RUNS) == {k.value for k in RunKind}
    assert {k.bus_type for k in RunKind} == {"kindergarten", "school"}
    assert len({k.tag for k in RunKind}) == len(RunKind)  # route ids stay unique


def test_more_pickups_than_the_solver_takes_are_refused_at_once():
    """Issue #25: 10 million pupils, or one seat a bus, ran for hours; the routing refuses
    more pick-ups than it takes, with the numbers, before any solver runs."""
    from ruralnet.buses.routing import MAX_PICKUPS
    from ruralnet.model.errors import PlanError

    assert solve(_line_problem([100], seats=10), iterations=50).buses == 10  # full buses
    too_many = _line_problem([10 * MAX_PICKUPS + 1], seats=10)
    with pytest.raises(PlanError, match=f"{MAX_PICKUPS + 1:,} pick-ups"):
        solve(too_many, iterations=50)


@pytest.mark.parametrize("stops", [6, 13])
def test_small_weekly_trips_are_proven_and_large_ones_left_to_pyvrp(stops):
    """#26: a weekly trip of up to WEEKLY_EXACT_STOPS pick-ups goes through the exact model
    (proven: its buses equal its lower bound); a larger one is planned by PyVRP alone. Both
    pass the independent checker."""
    from types import SimpleNamespace

    from ruralnet.buses.school_runs import WEEKLY_EXACT_STOPS, RunKind, SiteRun, solve_cached

    rng = np.random.default_rng(stops)
    xy = np.vstack([[0.0, 0.0], rng.uniform(-20_000, 20_000, (stops, 2))])
    dist = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)
    ids = [f"v{i}" for i in range(stops)]
    g = SiteRun("s", RunKind.WEEKLY, pd.Series(rng.integers(3, 12, stops), index=ids), 20,
                3600.0, np.arange(stops + 1), dist / 12, dist)  # fmt: skip
    s = SimpleNamespace(bus_stop_seconds=30, bus_seconds_per_pupil=3, bus_solver_iterations=2000,
                        bus_split_stops=False, bus_exact_sets=30_000)  # fmt: skip
    sol = solve_cached(g, "morning", s, 0, {})
    assert check_routes(g.problem("morning", s), sol.routes) == []
    if stops <= WEEKLY_EXACT_STOPS:
        assert sol.meta["method"] == "exact" and sol.meta["optimal"]
        assert sol.buses == sol.meta["lower_bound"]
    else:
        assert sol.meta["method"] == "pyvrp"


@pytest.mark.parametrize("direction", ["morning", "afternoon"])
def test_all_rides_of_a_route_at_once_match_each_ride(direction):
    """#26: the route tables take every stop's ride from one pass (``rides_s``); each equals
    the ride of that stop alone (``ride_from_s``), on random routes in both directions."""
    from ruralnet.buses.routing import rides_s

    rng = np.random.default_rng(9)
    for _ in range(20):
        n = int(rng.integers(1, 9))
        t = rng.uniform(10, 900, (n + 1, n + 1))
        p = BusProblem([f"s{i}" for i in range(n)], rng.integers(1, 9, n), t, t * 10, 60,
                       1e9, 20, 3, direction=direction)  # fmt: skip
        route = [(int(i) + 1, int(p.pupils[i])) for i in rng.permutation(n)]
        every = [ride_from_s(p, route, i) for i in range(n)]
        assert rides_s(p, route) == pytest.approx(every)


@pytest.mark.parametrize("direction", ["morning", "afternoon"])
def test_the_quick_servable_mask_agrees_with_the_reasons(direction):
    """The fleet's quick ``servable`` mask equals the one that names the reasons, on random
    problems with roads missing and rides over the limit."""
    from ruralnet.buses.routing import _servable, servable

    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(40):
        t = rng.uniform(0, 3000, (9, 9))
        t[rng.random((9, 9)) < 0.15] = np.inf
        p = BusProblem([f"s{i}" for i in range(8)], rng.integers(1, 5, 8), t,
                       np.nan_to_num(t, posinf=1e9), 50, 1800.0, 20, 3, direction=direction)  # fmt: skip
        mask = servable(p)
        assert (mask == _servable(p)[0]).all()
        seen.update(mask.tolist())
    assert seen == {True, False}


def _edge_by_edge(problem, picks, origins, depot_dist, svc):
    """The reference: PyVRP's own ``Model.add_edge`` for every edge the module docstring
    describes (the way ruralnet built its matrices before #26)."""
    import math

    from pyvrp import Model

    m = Model()
    depot, school = m.add_location(0, 0), m.add_location(1, 0)
    locs = [m.add_location(2 + k, 0) for k in range(len(picks))]
    ticks = lambda s: math.ceil(round(s * 100, 6))  # noqa: E731
    morning = problem.direction == "morning"
    for a, (sa, _) in enumerate(picks):
        if morning:
            m.add_edge(depot, locs[a], distance=round(depot_dist[sa - 1]), duration=0)
            m.add_edge(locs[a], school, distance=round(problem.dist_m[sa, 0]),
                       duration=ticks(problem.time_s[sa, 0]))  # fmt: skip
        else:
            m.add_edge(school, locs[a], distance=round(problem.dist_m[0, sa]),
                       duration=ticks(problem.time_s[0, sa]))  # fmt: skip
            m.add_edge(locs[a], depot, distance=round(depot_dist[sa - 1]), duration=0)
        for b, (sb, _) in enumerate(picks):
            t = 0.0 if sa == sb else problem.time_s[sa, sb]
            if a == b or not np.isfinite(t):
                continue
            extra = (svc[b] if morning else svc[a]) - (problem.stop_s if sa == sb else 0)
            m.add_edge(locs[a], locs[b], distance=round(problem.dist_m[sa, sb]),
                       duration=ticks(t + extra))  # fmt: skip
    for k, (reached, metres, reach) in enumerate(origins):
        loc = m.add_location(3 + len(picks) + k, 0)
        for a in np.flatnonzero(reached):
            m.add_edge(loc, locs[a], distance=round(metres[a]), duration=ticks(reach[a]))
    m.add_depot(depot)
    m.add_client(locs[0]) if locs else None
    m.add_vehicle_type()
    data = m.data()
    return data.distance_matrix(0), data.duration_matrix(0)


@pytest.mark.parametrize("direction", ["morning", "afternoon"])
def test_matrices_built_as_arrays_equal_the_model_edge_by_edge(direction):
    """#26: the PyVRP matrices are built with numpy; on random problems with missing roads,
    split pick-ups (one stop twice) and buses from other schools they equal PyVRP's own
    ``Model`` fed one edge at a time."""
    from ruralnet.buses.routing import _matrices

    rng = np.random.default_rng(4)
    for _ in range(30):
        n = int(rng.integers(1, 8))
        t = rng.uniform(5, 900, (n + 1, n + 1)) + rng.random((n + 1, n + 1)) / 7
        t[rng.random((n + 1, n + 1)) < 0.2] = np.inf
        np.fill_diagonal(t, 0)
        t[1:, 0] = t[0, 1:] = rng.uniform(5, 900, n)  # every stop reaches the school
        d = np.where(np.isfinite(t), t * 9.7, np.inf)
        p = BusProblem([f"s{i}" for i in range(n)], rng.integers(1, 9, n), t, d, 60, 1e9,
                       20, 3.3, direction=direction)  # fmt: skip
        rows = np.concatenate([np.arange(1, n + 1), rng.integers(1, n + 1, 2)])
        picks = [(int(r), int(rng.integers(1, 9))) for r in rows]
        depot_dist = rng.uniform(0, 9000, n)
        svc = p.service_s([q for _, q in picks])
        origins = []
        for _o in range(int(rng.integers(0, 3))):
            reach = rng.uniform(10, 500, len(picks))
            reach[rng.random(len(picks)) < 0.3] = np.inf
            origins.append((np.isfinite(reach), rng.uniform(0, 9000, len(picks)), reach))
        dist, dur = _matrices(p, rows, svc, depot_dist, origins)
        want_dist, want_dur = _edge_by_edge(p, picks, origins, depot_dist, svc)
        assert np.array_equal(dist, want_dist)
        assert np.array_equal(dur, want_dur)


def test_one_pickup_is_one_bus_without_a_search():
    """One servable pick-up is one bus, proven, and passes the checker; a second stop no bus
    can serve is still reported."""
    p = _line_problem([7])
    sol = solve(p)
    assert sol.routes == [[(1, 7)]] and sol.meta["optimal"] and sol.meta["lower_bound"] == 1
    assert check_routes(p, sol.routes) == []
    far = _line_problem([7, 3], spacing=9000.0)  # the second stop is 1,800 s from the school
    sol = solve(far)
    assert sol.routes == [[(1, 7)]] and list(sol.unserved["stop_id"]) == ["s2"]


def test_the_search_stops_when_its_start_already_reaches_the_bound():
    """#26: PyVRP's new-best callback never fires when its start is already as good as the
    proven bound, and each such school searched its whole no-improvement budget (2,000
    iterations, 0.2 s) for nothing. Started from a plan at the bound, the search stops at
    once and keeps it; started from a plan with a bus more, it still finds the bound."""
    p = _line_problem([4, 4, 4, 4, 4, 4], seats=12, max_ride=3000.0)  # 24 pupils: 2 buses
    at_bound = solve(p, exact=False, no_improvement=2_000, warm=[[6, 5, 4], [3, 2, 1]])
    assert at_bound.buses == 2 and at_bound.meta["optimal"]
    assert at_bound.meta["iterations"] <= 5, at_bound.meta
    assert check_routes(p, at_bound.routes) == []
    above = solve(p, exact=False, no_improvement=2_000, warm=[[6, 5], [4, 3], [2, 1]])
    assert above.buses == 2 and check_routes(p, above.routes) == []
