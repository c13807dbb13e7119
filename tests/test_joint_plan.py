"""The plan over several years as one decision (#28): on the bundled county, against the
phase-by-phase plan of the same years, and the build-or-rent split against brute force."""

from __future__ import annotations

import dataclasses
import itertools
import warnings

import numpy as np
import pytest

from ruralnet.analysis.joint_plan import classroom_split, joint_plan, phase_weights
from ruralnet.analysis.phases import year_sites
from ruralnet.analysis.plans import plan_context
from ruralnet.analysis.times import county_times
from ruralnet.model.errors import RuralnetWarning
from ruralnet.study import analyse_years

YEARS = [2025, 2027, 2030]


def _analyse(county, joint: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)
        return analyse_years(county, YEARS, buses=None, joint=joint)


@pytest.fixture(scope="module")
def joint(county):
    return _analyse(county, True)


@pytest.fixture(scope="module")
def phased(county):
    return _analyse(county, False)


def _cost(stock, need, weights, build, rent) -> float:
    """What a stock of permanent classrooms per year costs: building, and renting the rest."""
    added = np.diff(np.concatenate([[0], stock]))
    return float((added * build).sum() + (rent * weights * np.maximum(need - stock, 0)).sum())


def test_the_split_into_built_and_temporary_classrooms_is_the_cheapest():
    """Against every non-decreasing stock of permanent classrooms: the split costs the least,
    gives every year its classrooms, and on a tie builds fewer."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 5))
        need = rng.integers(0, 5, n)
        weights, build = rng.uniform(0.5, 4, n), rng.uniform(10, 200, n)
        rent = float(rng.uniform(5, 60))
        built, temporary = classroom_split(need, weights, build, rent)
        stock = np.cumsum(built)

        stocks = [np.array(p) for p in itertools.product(range(need.max() + 1), repeat=n)]
        best = min(_cost(p, need, weights, build, rent) for p in stocks if (np.diff(p) >= 0).all())
        assert (built >= 0).all() and (stock + temporary >= need).all()
        assert _cost(stock, need, weights, build, rent) == pytest.approx(best)
    built, temporary = classroom_split(np.array([2]), np.ones(1), np.array([30.0]), 30.0)
    assert list(built) == [0] and list(temporary) == [2]  # a tie: rent, build nothing


def test_each_phase_counts_for_its_years_discounted():
    assert phase_weights(YEARS, 2030, 0.0) == {2025: 2.0, 2027: 3.0, 2030: 1.0}
    w = phase_weights(YEARS, 2030, 0.05)
    assert w[2025] == pytest.approx(1 + 1 / 1.05) and w[2030] == pytest.approx(1.05**-5)


def test_one_model_builds_nothing_that_stands_empty(joint, phased, county):
    """#28: planned phase by phase, the first year builds classrooms that stand empty three
    years later; planned as one decision, a classroom is built only where the pupils need it
    long enough to pay for it against a temporary one (every built classroom that stands
    empty says why: building cost less), and every year's needs are met."""
    s = county.settings
    rooms = joint.joint.classrooms
    assert (rooms["permanent"] + rooms["temporary"] >= rooms["needed"]).all()
    empty = rooms[rooms["empty_later"] > 0]
    assert (empty["cost_built"] <= empty["cost_temporary"]).all(), empty
    first = {
        t: x[x["year"] == YEARS[0]] for t, x in (("joint", joint.table), ("phased", phased.table))
    }
    assert (
        first["joint"]["classrooms_empty_later"].sum()
        < first["phased"]["classrooms_empty_later"].sum()
    )
    assert first["joint"]["classes_added"].sum() < first["phased"]["classes_added"].sum()
    assert first["joint"]["temporary_classrooms"].sum() > 0
    # a classroom built is there in every later year
    for _, part in rooms.groupby("site_id"):
        assert (np.diff(part.sort_values("year")["permanent"]) >= 0).all()
    assert s.classroom_min_years >= 1


def test_a_closed_site_stays_closed_and_the_first_year_is_explained(joint, county):
    plans = joint.joint.plans
    open_ = np.vstack([plans[y].open for y in YEARS])
    decide = county.sites["status"].eq("open").to_numpy()
    assert (np.diff(open_[:, decide].astype(int), axis=0) <= 0).all()  # no open site reopens
    first = joint.joint.meta["first_year"]
    from ruralnet.analysis.siting import optimised_plan

    y0 = YEARS[0]
    pupils = joint.projection.pupils["central"][joint.projection.years.index(y0)]
    c = county.with_sites(year_sites(county.sites, pupils))
    one = optimised_plan(plan_context(c, county_times(c)))
    same = (one.open == plans[y0].open).all() and np.nansum(one.classes_added) == np.nansum(
        plans[y0].classes_added
    )
    assert first["same"] == bool(same)
    ids = county.sites["site_id"].astype(str).to_numpy()
    assert first["opened"] == ids[plans[y0].open & ~one.open].tolist()


def test_robust_decisions_are_the_same_under_the_low_and_high_projections(joint, county):
    """A site marked robust in a year is open (or closed) that year under the low and high
    projections' plans as under the central one; one not marked differs in one of them."""
    p = joint.projection
    other = {}
    for variant in ("low", "high"):
        contexts = {}
        for y in YEARS:
            c = county.with_sites(year_sites(county.sites, p.pupils[variant][p.years.index(y)]))
            contexts[y] = plan_context(c, county_times(c))
        other[variant] = joint_plan(contexts).plans
    ids = county.sites["site_id"].astype(str).to_numpy()
    for y in YEARS:
        central = joint.joint.plans[y].open
        same = (other["low"][y].open == central) & (other["high"][y].open == central)
        robust = joint.table[joint.table["year"] == y].set_index("site_id")["robust"]
        assert robust.reindex(ids).to_numpy().tolist() == same.tolist()
    # the variants side by side: each row counts its own plan's sites
    side = joint.joint.meta["variants"].set_index(["variant", "year"])
    open_now = county.sites["status"].eq("open").to_numpy()
    plans = {**other, "central": joint.joint.plans}
    for (variant, y), r in side.iterrows():
        is_open = plans[variant][y].open
        assert r["sites_open"] == is_open.sum() and r["closed"] == (open_now & ~is_open).sum()
        pupils = p.pupils[variant][p.years.index(y)].sum()
        assert abs(r["pupils"] - pupils) < 1
    assert len(side) == 3 * len(YEARS)
    assert side.loc[("low", 2030), "pupils"] < side.loc[("high", 2030), "pupils"]


def test_dear_temporary_classrooms_make_the_model_build_and_say_why(county):
    """The other side of the rule: when temporary classrooms cost far more, the model builds,
    and classrooms that stand empty three years on are counted with the costs that made
    building the cheaper way."""
    dear = dataclasses.replace(
        county, settings=county.settings.replace(temporary_classroom_cost_per_year=1e7)
    )
    rooms = _analyse(dear, True).joint.classrooms
    assert rooms["temporary"].sum() == 0 and rooms["built"].sum() > 0
    empty = rooms[rooms["empty_later"] > 0]
    assert len(empty) and (empty["cost_built"] < empty["cost_temporary"]).all()
    assert empty["reason_zh"].str.contains("闲置").all()  # and the report says so


def test_the_small_site_rule_applies_from_its_year(county, joint):
    """#28: the under-20 rule from its year. With ``small_site_rule_year`` 2027 the 2025 plan
    has no wave of small sites and closes fewer than when the rule applies every year;
    from 2027 on every small site left open has its reason (the policy check passes)."""
    later = dataclasses.replace(county, settings=county.settings.replace(small_site_rule_year=2027))
    years = _analyse(later, True)
    t = years.table
    first = t[t["year"] == 2025]
    assert not first["small"].any()
    everywhere = joint.table[joint.table["year"] == 2025]
    # the small sites the rule closes in 2025 stay open until 2027 (none closes for cost)
    assert (first["action"] == "close").sum() < (everywhere["action"] == "close").sum()
    for y in (2027, 2030):
        a = years.phases[y]
        policy = a.evaluations[a.recommended].policy
        small = policy[(policy["rule"] == "small_sites") & (policy["township_code"] == "ALL")]
        assert (small["status"] == "passed").all(), small


def test_each_year_says_what_it_changes_not_what_an_earlier_year_did():
    """Each year's actions are read against the sites as they are now; as one plan, a site
    closed earlier stays closed, grades dropped or a site reopened earlier are kept, and a
    change made only this year is this year's."""
    import pandas as pd

    from ruralnet.analysis.joint_plan import CLASSROOM_COLUMNS, JointPlan, joint_table

    actions = {"a": ["keep", "reduce_grades", "reduce_grades"],
               "b": ["close", "close", "close"],
               "c": ["reopen", "reopen", "reopen"],
               "d": ["keep", "keep", "close"]}  # fmt: skip
    rows = [
        {"year": y, "site_id": s, "action": a[t], "pupils": 10, "places_added": 0,
         "classes_added": 0, "beds_added": 0, "teachers": 1, "name": s, "township_code": "t",
         "small": False, "site_reason": ""}
        for t, y in enumerate(YEARS) for s, a in actions.items()
    ]  # fmt: skip
    joint = JointPlan(YEARS, {}, pd.DataFrame(columns=CLASSROOM_COLUMNS), dict.fromkeys(YEARS, 1.0))
    out = joint_table(pd.DataFrame(rows), joint)
    got = out.pivot(index="site_id", columns="year", values="action")
    assert got.loc["a"].tolist() == ["keep", "reduce_grades", "keep"]
    assert got.loc["b"].tolist() == ["close", "stay_closed", "stay_closed"]
    assert got.loc["c"].tolist() == ["reopen", "keep", "keep"]
    assert got.loc["d"].tolist() == ["keep", "keep", "close"]
    reason = out.pivot(index="site_id", columns="year", values="reason")
    assert reason.loc["b"].tolist() == ["", "2025年已撤并", "2025年已撤并"]
    assert "site_reason" not in out


def test_every_decision_over_the_years_has_its_reason(joint, county):
    """#28: per year and site the decision and its reason: every change, every small site
    left open after the rule's year, every classroom built or rented (with the comparison
    that decided it, which holds), every classroom that stands empty three years on."""
    t = joint.table
    changed = t[t["action"].ne("keep")]
    assert (changed["reason"] != "").all(), changed[changed["reason"] == ""]
    small_open = t[t["small"] & ~t["action"].isin(["close", "stay_closed"])]
    assert len(small_open) and (small_open["reason"] != "").all()
    assert t.loc[t["classes_added"] > 0, "reason"].str.contains("新建教室").all()
    assert t.loc[t["temporary_classrooms"] > 0, "reason"].str.contains("租用临时教室").all()
    assert t.loc[t["classrooms_empty_later"] > 0, "reason"].str.contains("闲置").all()
    # a classroom built that stands empty in a later year within classroom_min_years says so
    rooms = joint.joint.classrooms
    for r in rooms[rooms["built"] > 0].itertuples():
        later = rooms[(rooms["site_id"] == r.site_id) & (rooms["year"] > r.year)
                      & (rooms["year"] < r.year + county.settings.classroom_min_years)]  # fmt: skip
        idle = (later["permanent"] > later["needed"]).any()
        assert ("闲置" in r.reason_zh) == idle, r
    for r in t[t["action"] == "stay_closed"].itertuples():
        closed = t[(t["site_id"] == r.site_id) & (t["action"] == "close")]["year"]
        head = f"{closed.min()}年已撤并" if len(closed) else "调整前已撤并"  # before the plan
        assert r.reason.startswith(head), r
    s = county.settings
    for r in rooms[rooms["built"] > 0].itertuples():  # built: cheaper than renting as long
        yrs = float(r.reason_en.split("at least about ")[1].split(" years")[0])
        build = float(
            r.reason_en.split("building one costs ")[1].split(" yuan")[0].replace(",", "")
        )
        assert build < s.temporary_classroom_cost_per_year * (yrs + 0.05), r
    assert (
        rooms["reason_zh"].ne("").sum() == ((rooms["built"] > 0) | (rooms["temporary"] > 0)).sum()
    )
