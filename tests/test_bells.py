"""Bells chosen inside windows: never worse than either end, and able to find the staggering
that lets one bus serve two schools; the benchmark's fleets under the mixed rules pass the
independent check."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ruralnet.buses.bells import choose_bells, with_starts
from ruralnet.buses.fleet import FleetProblem, fewest_buses
from ruralnet.buses.routing import BusProblem

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_fleet.py"


def _two_schools(window_a, window_b):
    """Schools A and B 1,000 s apart, one stop each 100 s from its school; dwell 60 s."""
    t = np.array([[0.0, 100.0], [100.0, 0.0]])
    probs = [BusProblem([f"{k}1"], np.array([5]), t, t, 10, 900.0, 0.0, 0.0) for k in "AB"]
    dead = np.array([[100.0, 1000.0], [1000.0, 100.0]])  # school -> the stops of A, B
    early = np.array([window_a[0], window_b[0]], dtype=float)
    late = np.array([window_a[1], window_b[1]], dtype=float)
    problem = FleetProblem(["A", "B"], late + 60.0, 60.0, probs, [[0], [1]], dead)
    runs = [problem.run(0, [(1, 5)]), problem.run(1, [(1, 5)])]
    return problem, early, late, runs


def test_staggered_bells_let_one_bus_serve_two_schools():
    # B after A needs 60 + 1,000 + 100 s: B's window [1000, 2000], A's [0, 1500]
    problem, early, late, runs = _two_schools((0, 1500), (1000, 2000))
    at_early = fewest_buses(with_starts(problem, early), runs).buses
    at_late = fewest_buses(with_starts(problem, late), runs).buses
    starts, buses = choose_bells(problem, early, late, runs, steps=4)
    assert (at_early, at_late, buses) == (2, 2, 1)
    assert ((early <= starts) & (starts <= late)).all()
    assert fewest_buses(with_starts(problem, starts), runs).buses == 1
    assert starts[1] - starts[0] >= 60 + 1000 + 100


@pytest.mark.parametrize("seed", range(6))
def test_bells_are_never_worse_than_the_windows_ends_nor_than_the_grid_allows(seed):
    rng = np.random.default_rng(seed)
    s = 3
    t = np.array([[0.0, 100.0], [100.0, 0.0]])
    probs = [BusProblem([f"{k}"], np.array([5]), t, t, 10, 900.0, 0.0, 0.0) for k in range(s)]
    dead = rng.uniform(100, 1500, (s, s))
    early = rng.uniform(0, 2000, s)
    late = early + rng.uniform(0, 1500, s)
    problem = FleetProblem([str(k) for k in range(s)], late + 60, 60.0, probs,
                           [[k] for k in range(s)], dead)  # fmt: skip
    runs = [problem.run(k, [(1, 5)]) for k in range(s)]
    starts, buses = choose_bells(problem, early, late, runs, steps=3)
    ends = min(fewest_buses(with_starts(problem, v), runs).buses for v in (early, late))
    grid = min(
        fewest_buses(with_starts(problem, np.array(c)), runs).buses
        for c in itertools.product(*(np.linspace(early[k], late[k], 3) for k in range(s)))
    )
    assert grid <= buses <= ends
    assert fewest_buses(with_starts(problem, starts), runs).buses == buses


def test_windows_must_be_ordered():
    problem, early, late, runs = _two_schools((0, 1500), (1000, 2000))
    with pytest.raises(ValueError, match="early <= late"):
        choose_bells(problem, late, early, runs)


def test_the_benchmarks_mixed_rule_fleet_passes_the_independent_check(geodata, tmp_path):
    run = [sys.executable, str(SCRIPT), "--rules", "mixed", "--instances", "RSRB01",
           "--time-limit", "20", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(run, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = pd.read_csv(tmp_path / "fleet_summary.csv")
    assert summary["park"].iloc[0] == 30 and summary["buses"].iloc[0] >= summary["bound"].iloc[0]
    events = pd.read_csv(tmp_path / "fleet.csv", dtype=str)
    assert events["bus"].nunique() == summary["buses"].iloc[0]
    check = subprocess.run([sys.executable, str(SCRIPT), "--check", str(tmp_path / "fleet.csv")],
                           capture_output=True, text=True, timeout=900)  # fmt: skip
    assert check.returncode == 0 and "0 violations" in check.stdout, check.stdout[-2000:]
