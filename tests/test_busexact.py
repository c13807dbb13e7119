"""The exact fewest-bus model: enumeration and orders against brute force, proofs on RSRB01."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ruralnet.buses.exact import best_order, feasible_sets, fewest_buses, split_lower_bound
from ruralnet.buses.routing import BusProblem, check_routes, ride_time_s, solve
from ruralnet.demo.sbrp import read_instance, reference_routes, school_problem

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # PyVRP penalty warnings


def _random_problem(n: int, seed: int, seats: int = 20, max_ride: float = 900.0) -> BusProblem:
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0.0, 0.0], rng.uniform(-3000, 3000, size=(n, 2))])
    d = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)  # Manhattan, metres
    return BusProblem(
        [f"s{i}" for i in range(n)], rng.integers(1, 9, size=n), d / 10, d, seats, max_ride, 20, 3
    )


def _brute_ride(p: BusProblem, stops) -> float:
    """Shortest ride over every visiting order (0-based stops)."""
    return min(
        ride_time_s(p, [(s + 1, int(p.pupils[s])) for s in order])
        for order in itertools.permutations(stops)
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_feasible_sets_are_exactly_the_maximal_sets_found_by_brute_force(seed):
    p = _random_problem(8, seed)
    svc = p.service_s(p.pupils)
    got = {tuple(int(i) for i in s) for s in feasible_sets(p.time_s, svc, p.pupils, 20, 900.0)}
    feasible = set()
    for k in range(1, 9):
        for combo in itertools.combinations(range(8), k):
            if p.pupils[list(combo)].sum() <= 20 and _brute_ride(p, combo) <= 900.0 + 1e-6:
                feasible.add(combo)
    maximal = {
        s for s in feasible if not any(set(s) < set(t) for t in feasible if len(t) == len(s) + 1)
    }
    assert got == maximal and len(maximal) > 1


def test_best_order_matches_every_permutation():
    p = _random_problem(7, 5, max_ride=5000)
    svc = p.service_s(p.pupils)
    order, ride = best_order(list(range(7)), p.time_s, svc)
    assert sorted(order) == list(range(7))
    assert ride == pytest.approx(_brute_ride(p, range(7)))
    assert ride_time_s(p, [(s + 1, int(p.pupils[s])) for s in order]) == pytest.approx(ride)


def _brute_fewest(p: BusProblem) -> int:
    """Fewest buses by trying every assignment of the stops to k buses, k = 1, 2, ..."""
    n = len(p.pupils)

    def fits(stops) -> bool:
        return (
            p.pupils[list(stops)].sum() <= p.seats and _brute_ride(p, stops) <= p.max_ride_s + 1e-6
        )

    for k in range(1, n + 1):
        for labels in itertools.product(range(k), repeat=n):
            if labels[0] != 0 or len(set(labels)) != k:
                continue
            if all(fits([i for i in range(n) if labels[i] == b]) for b in range(k)):
                return k
    raise AssertionError("no plan")


def test_exact_is_optimal_against_brute_force_partitions():
    p = _random_problem(7, 11, seats=14, max_ride=700)
    svc = p.service_s(p.pupils)
    res = fewest_buses(p.time_s, svc, p.pupils, p.seats, p.max_ride_s)
    assert res.optimal and res.lower_bound == len(res.routes)
    routes = [[(s + 1, int(p.pupils[s])) for s in r] for r in res.routes]
    assert check_routes(p, routes) == []
    assert len(res.routes) == _brute_fewest(p)


@pytest.mark.parametrize("seed", range(6))
def test_the_lp_bound_never_exceeds_the_brute_force_optimum(seed):
    """#26: a greedy cover that meets the LP relaxation's bound is returned as optimal without
    branch and bound; the bound must never stand above the true fewest buses."""
    from ruralnet.buses.exact import _cover_matrix, _lp_bound

    p = _random_problem(7, 100 + seed, seats=12, max_ride=650)
    svc = p.service_s(p.pupils)
    cols = feasible_sets(p.time_s, svc, p.pupils, p.seats, p.max_ride_s)
    best = _brute_fewest(p)
    assert _lp_bound(_cover_matrix(cols, 7)) <= best
    res = fewest_buses(p.time_s, svc, p.pupils, p.seats, p.max_ride_s)
    assert res.optimal and len(res.routes) == best == res.lower_bound


def test_exact_proves_rsrb01_plans_and_never_loses_to_pyvrp(geodata):
    schools, stops = read_instance(geodata / "sbrp" / "RSRB01")
    ref = reference_routes(geodata / "sbrp" / "routes" / "RSRB2700" / "SBRP_RSRB01.txt")
    per_school = ref.groupby("school_id").size()
    for _, school in schools.head(2).iterrows():
        problem = school_problem(school, stops)
        # a limit no loaded machine can miss: the solve stops as soon as its plan is proven
        sol = solve(problem, iterations=300000)
        assert check_routes(problem, sol.routes) == []
        assert sol.meta["optimal"]  # by HiGHS, or the capacity bound reached
        assert sol.buses == sol.meta["lower_bound"] <= per_school[school["ID"]]
        heuristic = solve(problem, iterations=5000, exact=False)
        assert check_routes(problem, heuristic.routes) == []
        assert sol.buses <= heuristic.buses  # a proven optimum is never beaten


def test_afternoon_exact_runs_are_the_mirror_image():
    p = _random_problem(9, 4, max_ride=800)
    rev = BusProblem(
        p.stop_ids,
        p.pupils,
        p.time_s.T.copy(),
        p.dist_m.T.copy(),
        p.seats,
        800.0,
        20,
        3,
        direction="afternoon",
    )
    am, pm = solve(p, iterations=5000), solve(rev, iterations=5000)
    assert check_routes(p, am.routes) == [] and check_routes(rev, pm.routes) == []
    assert am.meta["optimal"] and pm.meta["optimal"] and am.buses == pm.buses


def test_split_pickups_save_a_bus_when_seats_bind():
    """Three stops of 6 pupils near the school, 10 seats: whole stops need 3 buses, split 2."""
    x = np.array([0.0, 300, 600, 900])
    d = np.abs(x[:, None] - x[None, :])
    p = BusProblem(["a", "b", "c"], np.array([6, 6, 6]), d / 10, d, 10, 600.0, 20, 2)
    whole = solve(p, iterations=2500)
    assert whole.buses == 3 and whole.meta["optimal"]
    split = solve(p, iterations=5000, split=True)
    assert check_routes(p, split.routes) == []
    assert split.buses == math.ceil(18 / 10)
    stops_on = [s for r in split.routes for s, _ in r]
    assert len(stops_on) > 3  # some stop is served by two buses


@pytest.mark.parametrize("direction", ["morning", "afternoon"])
def test_split_pickups_pass_the_checker_on_a_real_school(geodata, direction):
    schools, stops = read_instance(geodata / "sbrp" / "RSRB02")
    school = schools[schools["ID"] == "200009"].iloc[0]  # seats bound 5, whole stops need 7
    p = school_problem(school, stops)
    if direction == "afternoon":
        p.time_s, p.dist_m, p.direction = p.time_s.T.copy(), p.dist_m.T.copy(), "afternoon"
    whole = solve(p, iterations=5000)
    split = solve(p, iterations=7500, split=True)
    assert check_routes(p, whole.routes) == [] and check_routes(p, split.routes) == []
    assert math.ceil(p.pupils.sum() / p.seats) <= split.buses <= whole.buses
    assert sum(n for r in split.routes for _, n in r) == p.pupils.sum()


def test_split_bound_sees_the_ride_limit_where_seats_do_not():
    """Four stops in four directions, each 500 s from the school: no two fit in one 700 s ride,
    so even split pick-ups need four buses although 8 pupils fit one bus."""
    xy = np.array([[0, 0], [5000, 0], [-5000, 0], [0, 5000], [0, -5000]], dtype=float)
    d = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)
    p = BusProblem(list("abcd"), np.array([2, 2, 2, 2]), d / 10, d, 50, 700.0, 20, 2)
    bound = split_lower_bound(p.time_s, 20, 2, p.pupils, 50, 700.0)
    assert bound == 4 > math.ceil(8 / 50)
    sol = solve(p, iterations=5000, split=True)
    assert check_routes(p, sol.routes) == []
    assert sol.buses == 4 and sol.meta["optimal"] and sol.meta["lower_bound"] == 4


def test_split_bound_never_exceeds_a_split_plan(geodata):
    schools, stops = read_instance(geodata / "sbrp" / "RSRB04")
    for _, school in schools.head(4).iterrows():
        p = school_problem(school, stops)
        sol = solve(p, iterations=5000, split=True)
        assert check_routes(p, sol.routes) == []
        bound = split_lower_bound(
            p.time_s, p.stop_s, p.per_pupil_s, p.pupils, p.seats, p.max_ride_s
        )
        assert math.ceil(p.pupils.sum() / p.seats) <= bound <= sol.buses


def test_too_many_stop_sets_hand_over_to_pyvrp():
    """40 one-pupil stops a minute apart: the stop sets explode, the exact model steps aside
    (before building them) and PyVRP puts everyone on one bus."""
    x = np.concatenate([[0.0], 60.0 * np.arange(1, 41)])
    d = np.abs(x[:, None] - x[None, :])
    p = BusProblem([f"v{i}" for i in range(40)], np.ones(40, dtype=int), d / 10, d, 56, 2700, 20, 2)
    svc = p.service_s(p.pupils)
    assert feasible_sets(p.time_s, svc, p.pupils, 56, 2700.0, max_sets=100_000) is None
    sol = solve(p, iterations=7500)
    assert check_routes(p, sol.routes) == []
    assert sol.buses == 1 and sol.meta["method"] == "pyvrp" and sol.meta["optimal"]
