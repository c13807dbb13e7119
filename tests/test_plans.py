"""Plans: enrolled pupils conserved, mergers moved, optimisation under the rules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ruralnet as rn
from ruralnet.errors import RuralnetWarning
from ruralnet.mergers import merger_candidates, site_times
from ruralnet.plans import (
    ASSIGNMENT_COLUMNS,
    POLICY_COLUMNS,
    current_plan,
    evaluate,
    merger_plan,
    optimised_plan,
    plan_context,
)

DEMO = rn.datasets.BUNDLED / "demo-liannan"


@pytest.fixture(scope="module")
def setup():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)
        county = rn.load_county(DEMO)
    ctx = plan_context(county)
    cand, _ = merger_candidates(county.sites, *site_times(county), county.settings)
    return county, ctx, cand


def test_enrolled_demand_reproduces_enrolments(setup):
    _county, ctx, _ = setup
    per_site = ctx.groups.groupby("current")["pupils"].sum()
    recorded = ctx.sites["pupils"]
    np.testing.assert_array_equal(per_site.reindex(range(len(ctx.sites)), fill_value=0), recorded)
    assert set(ctx.groups["origin_type"]) <= {"village", "site"}
    assert ctx.walk.shape == (len(ctx.groups), len(ctx.sites))


def test_current_plan(setup):
    _, ctx, _ = setup
    ev = evaluate(ctx, current_plan(ctx))
    assert ev.conserved and ev.unassigned == 0
    np.testing.assert_array_equal(ev.sites["pupils_after"], ev.sites["pupils_before"])
    assert list(ev.assignment.columns) == ASSIGNMENT_COLUMNS
    assert list(ev.policy.columns) == POLICY_COLUMNS
    assert ev.assignment["pupils"].sum() == ev.pupils_before


def test_merger_plan_moves_pupils(setup):
    _, ctx, cand = setup
    justified = set(cand.loc[cand["decision"] == "keep", "site_id"])
    before = evaluate(ctx, current_plan(ctx), justified)
    ev = evaluate(ctx, merger_plan(ctx, cand), justified)
    assert ev.conserved and ev.pupils_after == before.pupils_after
    merged = cand[cand["decision"].str.startswith("merge")]
    table = ev.sites.set_index("site_id")
    assert not table.loc[merged["site_id"], "open"].any()
    incoming = merged.groupby("receiving_site_id")["pupils"].sum()
    for recv, n in incoming.items():
        assert table.loc[recv, "pupils_after"] == table.loc[recv, "pupils_before"] + n
    tp_rule = ev.policy[ev.policy["rule"].str.startswith("no teaching point")]
    assert (
        tp_rule["passed"].all()
        and not before.policy.loc[
            before.policy["rule"].str.startswith("no teaching"), "passed"
        ].all()
    )


def test_optimised_plan_respects_the_rules(setup):
    _, ctx, cand = setup
    justified = set(cand.loc[cand["decision"] == "keep", "site_id"])
    plan = optimised_plan(ctx, justified)
    ev = evaluate(ctx, plan, justified)
    assert plan.meta["optimal"] and ev.conserved
    table = ev.sites.assign(
        three=ctx.sites[
            ["is_central_kindergarten", "is_central_primary", "is_public_boarding"]
        ].any(axis=1)
    )
    assert table.loc[table["three"], "open"].all(), "each township keeps its three schools"
    cap = np.fmax(table["capacity"], table["pupils_before"])
    assert (table["pupils_after"] <= cap + 1e-9).all()
    small_kinds = (
        table["kind"].isin(ctx.settings.merger_kinds)
        & table["open"]
        & ~table["site_id"].isin(justified)
    )
    assert (table.loc[small_kinds, "pupils_after"] >= 20).all()
    # never worse for the pupils than the merger screening's plan, measured on allowed trips
    from ruralnet.plans import group_costs

    cost = group_costs(ctx)
    merged = merger_plan(ctx, cand)
    if np.isfinite(cost[merged.flows > 0]).all():
        assert (plan.flows * np.nan_to_num(cost, posinf=0)).sum() <= (
            merged.flows * cost
        ).sum() + 1e-6


def test_reproducible(setup):
    _, ctx, _cand = setup
    a = evaluate(ctx, optimised_plan(ctx)).assignment
    b = evaluate(ctx, optimised_plan(ctx)).assignment
    assert a.equals(b)
