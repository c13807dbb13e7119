"""The exact site-selection model against spopt's p-median and against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pulp
import pytest
from scipy.optimize import linprog
from spopt.locate import PMedian

from ruralnet.allocation import SiteSelection, SolverError


@pytest.mark.filterwarnings("ignore:Constructing LpVariable:DeprecationWarning")  # inside spopt
@pytest.mark.parametrize("seed", range(4))
def test_same_optimum_as_spopt_pmedian(seed):
    rng = np.random.default_rng(seed)
    groups, sites, p = int(rng.integers(20, 60)), int(rng.integers(6, 14)), int(rng.integers(2, 5))
    cost = rng.uniform(1, 60, (groups, sites))
    demand = rng.integers(1, 40, groups).astype(float)
    ours = SiteSelection.from_cost_matrix(cost, demand, p=p).solve()
    model = PMedian.from_cost_matrix(cost, demand, p_facilities=p).solve(pulp.HiGHS(msg=False))
    assert ours.optimal and ours.open.sum() == p
    assert ours.objective == pytest.approx(pulp.value(model.problem.objective), rel=1e-7)
    assert ours.flows.sum() == pytest.approx(demand.sum())


def _brute_force(cost, demand, capacity, fixed_open, min_size, penalty):
    """Every subset of sites, each solved as a transportation LP: the best total."""
    g, s = cost.shape
    best = np.inf
    for bits in itertools.product([0, 1], repeat=s):
        y = np.array(bits, bool)
        if (fixed_open & ~y).any():
            continue
        arcs = [(i, j) for i in range(g) for j in range(s) if y[j] and np.isfinite(cost[i, j])]
        n = len(arcs) + g
        c = np.array([demand[i] * cost[i, j] for i, j in arcs] + list(penalty * demand))
        a_eq = np.zeros((g, n))
        for k, (i, _) in enumerate(arcs):
            a_eq[i, k] = 1
        a_eq[np.arange(g), len(arcs) + np.arange(g)] = 1
        a_ub, b_ub = [], []
        for j in np.flatnonzero(y):
            row = np.zeros(n)
            for k, (i, jj) in enumerate(arcs):
                if jj == j:
                    row[k] = demand[i]
            a_ub.append(row)
            b_ub.append(capacity[j])
            a_ub.append(-row)
            b_ub.append(-min_size[j])
        res = linprog(
            c,
            A_ub=np.array(a_ub) if a_ub else None,
            b_ub=b_ub or None,
            A_eq=a_eq,
            b_eq=np.ones(g),
            bounds=(0, 1),
            method="highs",
        )
        if res.status == 0:
            best = min(best, res.fun)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_capacitated_model_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    g, s = 9, 6
    cost = rng.uniform(1, 50, (g, s))
    cost[rng.random((g, s)) < 0.25] = np.inf  # some trips not allowed (beyond the ride limit)
    demand = rng.integers(3, 25, g).astype(float)
    capacity = rng.integers(20, 90, s).astype(float)
    fixed_open = np.zeros(s, bool)
    fixed_open[0] = True
    min_size = np.where(rng.random(s) < 0.5, 20.0, 0.0)
    min_size[0] = 0
    model = SiteSelection.from_cost_matrix(
        cost,
        demand,
        capacity=capacity,
        fixed_open=fixed_open,
        min_size=min_size,
        unassigned_penalty=1000.0,
    )
    res = model.solve()
    total = res.objective + 1000.0 * res.unassigned.sum()
    assert total == pytest.approx(
        _brute_force(cost, demand, capacity, fixed_open, min_size, 1000.0), rel=1e-6
    )
    # the solution respects every constraint
    load = res.flows.sum(axis=0)
    assert (load <= capacity + 1e-6).all()
    assert ((load >= min_size - 1e-6) | ~res.open).all()
    assert (res.flows[:, ~res.open] < 1e-9).all() and res.open[0]
    assert res.flows.sum() + res.unassigned.sum() == pytest.approx(demand.sum())
    assert np.isfinite(cost[res.flows > 1e-9]).all()


def test_unreachable_groups_are_unassigned_not_lost():
    cost = np.array([[5.0, np.inf], [np.inf, np.inf]])
    res = SiteSelection.from_cost_matrix(cost, [10, 7]).solve()
    assert res.unassigned[1] == pytest.approx(7) and res.flows[0, 0] == pytest.approx(10)


def test_inconsistent_inputs():
    with pytest.raises(ValueError, match="both"):
        SiteSelection.from_cost_matrix(
            np.ones((2, 2)), [1, 1], fixed_open=[True, False], fixed_closed=[True, False]
        )
    with pytest.raises(SolverError):
        SiteSelection.from_cost_matrix(
            np.ones((2, 2)), [1, 1], fixed_open=[True, True], p=1
        ).solve()
