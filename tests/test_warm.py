"""Warm starts: a school's routing starts from an earlier plan's routes when its pick-up
points are nearly the same, and the start is always a valid cover of today's pick-ups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ruralnet.buses.routing import BusProblem, _pickups, _warm_start, check_routes, solve
from ruralnet.buses.school_runs import WARM_SHARE, SiteRun, _warm


@pytest.mark.parametrize("seed", range(20))
def test_a_warm_start_covers_every_pickup_once_within_the_seats(seed):
    rng = np.random.default_rng(seed)
    n, seats = int(rng.integers(3, 12)), 10
    pupils = rng.integers(1, 25, n)  # some stops fill more than a bus
    problem = BusProblem([f"p{i}" for i in range(n)], pupils, np.ones((n + 1, n + 1)),
                         np.ones((n + 1, n + 1)), seats, 1e6, 0.0, 0.0)  # fmt: skip
    picks = _pickups(problem, np.ones(n, bool))
    stops = list(rng.permutation(np.arange(1, n + 1)))[: int(rng.integers(1, n + 1))]
    cut = sorted(rng.choice(np.arange(1, len(stops) + 1), size=min(2, len(stops)), replace=False))
    warm = [list(map(int, part)) for part in np.split(np.array(stops), cut) if len(part)]
    warm.append([n + 5])  # a stop that is no longer served
    routes = _warm_start(picks, seats, warm)
    assert sorted(k for r in routes for k in r) == list(range(len(picks)))
    assert all(sum(picks[k][1] for k in r) <= seats for r in routes)


def _site(stops: list[str]) -> SiteRun:
    n = len(stops)
    return SiteRun("s", "primary", pd.Series(np.ones(n, int), index=stops), 10, 3600.0,
                   np.arange(n + 1), np.ones((n + 1, n + 1)), np.ones((n + 1, n + 1)))  # fmt: skip


def test_only_nearly_the_same_pickups_start_warm():
    earlier = [["a", "b"], ["c", "d", "e"]]
    assert _warm(earlier, _site(["a", "b", "c", "d", "e"])) == [[1, 2], [3, 4, 5]]
    assert _warm(earlier, _site(["b", "c", "d", "e", "x"])) == [[1], [2, 3, 4]]  # 4 of 5 known
    assert WARM_SHARE * 5 > 3
    assert _warm(earlier, _site(["c", "d", "e", "x", "y"])) is None  # 3 of 5: routed afresh
    assert _warm(None, _site(["a"])) is None


def test_a_warm_routing_keeps_every_rule(bus_net):
    """A real school on the Andorra roads routed with PyVRP alone from a poor warm start
    (every stop alone but two): checked independently, no more buses than the start."""
    rng = np.random.default_rng(3)
    nodes = rng.choice(bus_net.n_nodes, 16, replace=False)
    time_s, dist_m = bus_net.matrix.between(nodes, nodes)
    ok = np.isfinite(time_s).all(axis=1) & np.isfinite(time_s).all(axis=0)
    nodes = nodes[ok]
    time_s, dist_m = bus_net.matrix.between(nodes, nodes)
    n = len(nodes) - 1
    problem = BusProblem([f"p{i}" for i in range(n)], rng.integers(1, 8, n), time_s, dist_m,
                         20, 14_400.0, 20.0, 2.0)  # fmt: skip
    warm = [[1, 2]] + [[a] for a in range(3, n + 1)]
    sol = solve(problem, iterations=2_000, exact=False, warm=warm)
    assert check_routes(problem, sol.routes) == []
    assert len(sol.routes) <= len(warm)
