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


WINDOWS = {
    "junior_middle": "07:10-07:40",
    "nine_year": "07:20-07:50",
    "central_primary": "07:40-08:10",
    "village_primary": "07:40-08:10",
    "teaching_point": "07:40-08:10",
}
DISMISSALS = {
    "central_primary": "15:30-16:00",
    "village_primary": "15:30-16:00",
    "teaching_point": "15:30-16:00",
    "nine_year": "16:00-16:30",
    "junior_middle": "16:30-17:00",
}


def test_bell_windows_are_settings_and_a_site_column_checked_at_the_boundary(tmp_path):
    from ruralnet.model.errors import SettingsError
    from ruralnet.model.settings import Settings, clock_window

    assert clock_window("07:30-07:50") == (27000.0, 28200.0)
    assert clock_window("07:50-07:30") is None and clock_window("7:30") is None
    s = Settings.from_dict({"bell_windows": WINDOWS})
    assert s.bell_windows["junior_middle"] == "07:10-07:40"
    with pytest.raises(SettingsError) as err:
        Settings.from_dict({"bell_windows": {"junior_midle": "07:00-07:30", "nine_year": "8-9"}})
    assert "unknown kinds ['junior_midle']" in str(err.value)
    assert "bell_windows['nine_year'] must be 'HH:MM-HH:MM'" in str(err.value)


def test_a_sites_bell_window_column_is_read_and_bad_rows_named(county):
    from ruralnet.model.errors import SchemaError
    from ruralnet.model.schema import validate_sites

    sites = county.sites.copy()
    sites["bell_window"] = pd.NA
    sites.loc[sites.index[0], "bell_window"] = " 07:30 - 07:50 "
    sites.loc[sites.index[1], "bell_window"] = "08:10-07:50"
    with pytest.raises(SchemaError) as err:
        validate_sites(sites)
    assert "bell window is not HH:MM-HH:MM" in str(err.value)
    assert str(sites["site_id"].iloc[1]) in str(err.value)
    sites.loc[sites.index[1], "bell_window"] = pd.NA
    assert validate_sites(sites)["bell_window"].iloc[0] == "07:30-07:50"


def test_the_county_fleet_chooses_each_bell_inside_its_window(county, demo_analysis):
    """The bundled county's recommended plan with bell windows: every site's bell inside its
    window (or its fixed bell), every morning run unloaded by its school's bell and no more
    than ``bus_early_minutes`` before it, fewer buses than with every run unloaded at the
    fixed bells, and every rider still served."""
    import dataclasses

    from ruralnet.analysis.evaluation import flow_rows
    from ruralnet.buses.county_fleet import bell_seconds, bell_windows
    from ruralnet.buses.plan import plan_buses
    from ruralnet.model.settings import clock_seconds, clock_window

    ev = demo_analysis.evaluations["optimised"]
    plan = dataclasses.replace(ev.plan, flows=ev.plan.flows.toarray())
    rows = flow_rows(demo_analysis.context, plan)
    settings = county.settings.replace(bell_windows=WINDOWS, dismissal_windows=DISMISSALS)
    windowed = dataclasses.replace(county, settings=settings)
    buses = plan_buses(windowed, demo_analysis.context, rows)
    assert not buses.violations
    assert buses.served()["pupils"].sum() == ev.buses.served()["pupils"].sum()
    bells = buses.county_fleet.bells.set_index("site_id")
    windows = bell_windows(county.sites, settings, bell_seconds(county.sites, settings, "morning"))
    kinds = county.sites.set_index(county.sites["site_id"].astype(str))["kind"]
    moved = 0
    for site, row in bells.iterrows():
        bell = clock_seconds(row["bell"])
        early, late = windows[site]
        assert early - 30 <= bell <= late + 30, (site, row["bell"], windows[site])
        if kinds[site] in WINDOWS:
            assert clock_window(row["bell_window"]) == (early, late)
        moved += bell != clock_seconds(county.settings.bell_times[kinds[site]])
        out = clock_seconds(row["dismissal"])
        window = clock_window(DISMISSALS.get(kinds[site], "")) or (out, out)
        assert window[0] - 30 <= out <= window[1] + 30, (site, row["dismissal"])
    assert moved > 0  # the windows were used
    # what the bells saved, against the same plan's fleet at the fixed bells
    summary = buses.county_fleet.summary.set_index(["day", "bus_type"])
    fixed = ev.buses.county_fleet.summary.set_index(["day", "bus_type"])
    for day in ("morning", "afternoon"):  # every run unloaded at the fixed bell, both times
        assert (
            summary.at[(day, "school"), "fixed_bells"] == fixed.at[(day, "school"), "fixed_bells"]
        )
        assert fixed.at[(day, "school"), "fixed_bells"] > fixed.at[(day, "school"), "buses"]
        assert summary.at[(day, "school"), "buses"] < summary.at[(day, "school"), "fixed_bells"]
    runs = buses.county_fleet.runs
    morning = runs[runs["day"] == "morning"]
    dwell = settings.bus_dwell_minutes * 60
    for r in morning.itertuples():
        site = str(r.site)
        arrives, bell = clock_seconds(r.arrives), clock_seconds(bells.at[site, "bell"])
        assert bell - dwell - settings.bus_early_minutes * 60 - 60 <= arrives <= bell - dwell + 60


def test_runs_unload_before_the_bell_only_as_far_as_the_setting_allows(county, demo_analysis):
    """Early arrivals: with ``bus_early_minutes`` 0 every morning run unloads at its school's
    bell and the fleet is the one at the fixed bells; with 30 (the default) runs unload
    earlier, never more than 30 minutes before and a bus's last run not at all, and the same
    riders need fewer buses."""
    import dataclasses

    from ruralnet.analysis.evaluation import flow_rows
    from ruralnet.buses.county_fleet import bell_seconds
    from ruralnet.buses.plan import plan_buses
    from ruralnet.model.settings import clock_seconds

    ev = demo_analysis.evaluations[demo_analysis.recommended]
    rows = flow_rows(
        demo_analysis.context, dataclasses.replace(ev.plan, flows=ev.plan.flows.toarray())
    )
    dwell = county.settings.bus_dwell_minutes * 60
    bells = bell_seconds(county.sites, county.settings, "morning")
    fleets = {}
    for minutes in (0.0, 30.0):
        s = county.settings.replace(bus_early_minutes=minutes)
        buses = plan_buses(dataclasses.replace(county, settings=s), demo_analysis.context, rows)
        assert not buses.violations
        runs = buses.county_fleet.runs
        morning = runs[runs["day"] == "morning"]
        early = morning["site"].map(bells) - dwell - morning["arrives"].map(clock_seconds)
        assert (early >= -60).all() and (early <= minutes * 60 + 60).all()
        summary = buses.county_fleet.summary.set_index("day")
        fleets[minutes] = summary.loc["morning", "buses"]
        if minutes == 0:
            assert (early < 60).all()  # at the bell, to the minute the table shows
            assert fleets[0] == summary.loc["morning", "fixed_bells"]
        else:
            assert (early >= 600).any()  # some runs do unload well before the bell
            # ... but only where the bus's next run needs it: a bus's last single-school run
            # unloads at the bell (latest_starts)
            last = morning.groupby("bus")["order"].transform("max") == morning["order"]
            single = ~morning["run"].str.contains("+", regex=False)
            assert (early[last & single] < 60).all()
        assert buses.served()["pupils"].sum() == ev.buses.served()["pupils"].sum()
    assert fleets[30.0] < fleets[0.0]
