"""The county fleet per township (#27): runs per bus, single-run buses, bells, empty running,
and what staggered bells and mixed loads save, read back against the fleet's own runs; on the
bundled county with its staggered-bells scenario, single-run buses are a minority and the
fleet is smaller than at the fixed bells with one school a run."""

from __future__ import annotations

import dataclasses
import warnings

import pandas as pd
import pytest

from ruralnet import datasets
from ruralnet.model.errors import RuralnetWarning
from ruralnet.outputs.report_tables import fleet_summary, fleet_townships


def _check_against_runs(table: pd.DataFrame, buses, ctx) -> None:
    """Every township row recomputed from fleet.csv's morning rows, bus by bus."""
    fleet = buses.county_fleet
    runs = fleet.runs[fleet.runs["day"] == "morning"]
    town = dict(zip(ctx.sites["site_id"].astype(str), ctx.sites["township_code"].astype(str),
                    strict=True))  # fmt: skip
    want: dict = {}
    for _, part in runs.groupby(["bus_type", "bus"]):
        part = part.sort_values("order")
        home = town[str(part["site"].iloc[0])]
        n = part["run"].nunique()
        w = want.setdefault(home, {"buses": 0, "runs": 0, "single": 0, "km": 0.0, "dead": 0.0})
        w["buses"] += 1
        w["runs"] += n
        w["single"] += n == 1
        w["km"] += part["km"].sum() + part["deadhead_km"].sum()
        w["dead"] += part["deadhead_km"].sum()
    rows = table[table["township_code"] != "ALL"].set_index("township_code")
    for code, w in want.items():
        r = rows.loc[code]
        assert (r["buses"], r["runs"], r["single_run_buses"]) == (
            w["buses"],
            w["runs"],
            w["single"],
        )
        assert r["bus_km"] == pytest.approx(w["km"], abs=0.06)
        assert r["empty_share"] == pytest.approx(w["dead"] / w["km"])
        assert r["runs_per_bus"] == pytest.approx(w["runs"] / w["buses"], abs=0.005)
    assert rows["buses"].sum() == runs.groupby(["bus_type", "bus"]).ngroups
    county = table[table["township_code"] == "ALL"].iloc[0]
    assert county["buses"] == rows["buses"].sum() and county["runs"] == rows["runs"].sum()
    morning = fleet.summary[fleet.summary["day"] == "morning"]
    assert county["buses"] == morning["buses"].sum() and county["runs"] == morning["runs"].sum()
    assert county["mixed_runs"] == morning["mixed_runs"].sum() == rows["mixed_runs"].sum()
    assert county["saved_by_bells"] == county["fixed_bells"] - county["single_loads"]
    assert county["saved_by_mixed"] == county["single_loads"] - county["buses"]
    # each township lists the bells its schools are given
    bells = fleet.bells[fleet.bells["bell"].astype(str) != ""]
    for code, part in bells.groupby(bells["site_id"].astype(str).map(town)):
        assert rows.loc[code, "bells"].split("、") == sorted(set(part["bell"]))


def test_the_township_table_adds_up_to_the_fleets_runs(demo_analysis):
    buses = demo_analysis.evaluations[demo_analysis.recommended].buses
    table = fleet_townships(buses, demo_analysis.context)
    _check_against_runs(table, buses, demo_analysis.context)
    county = table.iloc[-1]
    # fixed bells, but a run may unload up to bus_early_minutes before its bell: against
    # every run unloaded at the bell, that saves buses, and single-run buses are a minority
    assert county["saved_by_bells"] == county["fixed_bells"] - county["single_loads"] > 0
    assert 2 * county["single_run_buses"] < county["buses"]
    en = fleet_townships(buses, demo_analysis.context, "en")
    assert not en["bells"].str.contains("、").any()


@pytest.fixture(scope="module")
def staggered(county, demo_analysis):
    """The recommended plan's buses under the bundled staggered-bells scenario."""
    from ruralnet.analysis.evaluation import flow_rows
    from ruralnet.buses.plan import plan_buses
    from ruralnet.sources.scenario import read_scenario

    scenario = read_scenario(datasets.bundled_county() / "staggered_bells.toml")
    settings = county.settings.replace(**scenario.levers)
    ev = demo_analysis.evaluations[demo_analysis.recommended]
    plan = dataclasses.replace(ev.plan, flows=ev.plan.flows.toarray())
    rows = flow_rows(demo_analysis.context, plan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)
        return plan_buses(
            dataclasses.replace(county, settings=settings), demo_analysis.context, rows
        )


def test_staggered_bells_make_single_run_buses_a_minority(staggered, demo_analysis):
    """#27's county aim: with the bells staggered, single-run buses are a minority of the
    fleet, and the fleet is smaller than the same plan's at the fixed bells with one school a
    run (both in the tables); every rider still rides."""
    ctx = demo_analysis.context
    table = fleet_townships(staggered, ctx)
    _check_against_runs(table, staggered, ctx)
    county = table.iloc[-1]
    fleet = staggered.buses_needed()
    assert 2 * county["single_run_buses"] < fleet
    whole = fleet_summary(staggered).set_index("day").loc["all"]
    assert whole["shared"] == fleet < whole["fixed_bells"]
    assert county["saved_by_bells"] > 0 and county["runs_per_bus"] > 1.5
    assert not staggered.violations
    # some runs unload at two schools in turn, each row a school the run has pupils for (a
    # school a mixed school's run has none for is passed by, not listed)
    morning = staggered.county_fleet.runs
    morning = morning[morning["day"] == "morning"]
    drops = morning.groupby(["bus", "run"])["site"].size()
    assert drops.max() >= 2 and (morning["pupils"] > 0).all()
    assert (drops > 1).sum() == fleet_summary(staggered).set_index("day").loc[
        "morning", "mixed_runs"
    ]
    fixed = demo_analysis.evaluations[demo_analysis.recommended].buses
    assert staggered.served()["pupils"].sum() == fixed.served()["pupils"].sum()
