"""Properties that hold for any input (Hypothesis): the validators either accept a layer and
return it clean, or raise one SchemaError; and no pupil is ever lost — pupils before = pupils
after + unassigned, in every table, for random small counties, closures and limits."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ruralnet.analysis.demand import GROUP_COLUMNS
from ruralnet.analysis.evaluation import evaluate
from ruralnet.analysis.plans import Plan, PlanContext, current_plan
from ruralnet.analysis.siting import PlanModel
from ruralnet.model.errors import SchemaError
from ruralnet.model.grades import STAGE_OF_GRADE, parse_grades
from ruralnet.model.kinds import SITE_KINDS
from ruralnet.model.schema import validate_sites, validate_villages
from ruralnet.model.settings import Settings

BAD = {
    "site_id": [None, "s0", ""],
    "name": ["", None],
    "kind": ["school", "", None],
    "township_code": [None, 441826101.0],
    "pupils": [None, -3, float("nan"), float("inf"), "x", "1,234", " 7 ", 3.5],
    "capacity": [-1, "many", float("inf"), 2.5],
    "grades": [None, "4-1", "K5", "1-12", "abc", ""],
    "status": ["closed", "OPEN ", "gone", None],
    "geometry": [None, shapely.Point(500, 24.7), shapely.LineString([(112, 24), (113, 25)])],
}


@st.composite
def site_layers(draw):
    """A clean sites layer with none, one or a few cells broken."""
    n = draw(st.integers(1, 8))
    frame = pd.DataFrame(
        {
            "site_id": [f"s{i}" for i in range(n)],
            "name": draw(
                st.lists(st.sampled_from(["甲校", "乙校", "丙校"]), min_size=n, max_size=n)
            ),
            "kind": draw(st.lists(st.sampled_from(SITE_KINDS), min_size=n, max_size=n)),
            "township_code": "441826100",
            "pupils": draw(st.lists(st.integers(0, 500), min_size=n, max_size=n)),
            "capacity": draw(st.lists(st.integers(0, 900), min_size=n, max_size=n)),
            "grades": draw(
                st.lists(
                    st.sampled_from(["1-6", "1-4", "K1-K3", "7-9", "1-9", "1-3,5"]),
                    min_size=n,
                    max_size=n,
                )
            ),
            "status": "open",
            "geometry": [shapely.Point(112.3 + i / 50, 24.7) for i in range(n)],
        }
    ).astype(object)
    for _ in range(draw(st.integers(0, 3))):
        column = draw(st.sampled_from(sorted(BAD)))
        frame.at[draw(st.integers(0, n - 1)), column] = draw(st.sampled_from(BAD[column]))
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(site_layers())
def test_site_validation_accepts_clean_or_raises_one_schema_error(layer):
    before = layer.copy()
    try:
        out = validate_sites(layer)
    except SchemaError as err:
        event("rejected")
        assert err.problems and all(str(p) for p in err.problems)
    else:
        event("accepted")
        assert out["site_id"].is_unique and out["site_id"].notna().all()
        assert (out["pupils"] >= 0).all() and (out["pupils"] % 1 == 0).all()
        assert out["kind"].isin(SITE_KINDS).all()
        assert all(parse_grades(g) for g in out["grades"])
        assert (out["status"] == "open").any()
    pd.testing.assert_frame_equal(layer, before)  # the input is never modified


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.integers(-3, 900), st.floats(allow_nan=True)),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.one_of(st.none(), st.integers(-1, 90)), min_size=1, max_size=6),
)
def test_village_validation_never_loses_a_child(population, children):
    n = min(len(population), len(children))
    layer = gpd.GeoDataFrame(
        {
            "village_id": [f"v{i}" for i in range(n)],
            "name": [f"村{i}" for i in range(n)],
            "township_code": ["441826100"] * n,
            "population": population[:n],
            "children_primary": children[:n],
        },
        geometry=[shapely.Point(112.3 + i / 100, 24.7) for i in range(n)],
        crs="EPSG:4326",
    )
    try:
        out = validate_villages(layer)
    except SchemaError:
        return
    given_kids = [c for c in children[:n] if c is not None]
    assert out["children_primary"].sum() >= sum(given_kids)  # given counts are kept
    for col in ("children_kindergarten", "children_primary", "children_junior"):
        assert (out[col] >= 0).all() and (out[col] % 1 == 0).all()


def random_context(seed: int, limits: Settings) -> PlanContext:
    """A small county: two fixed central schools, small village sites, random times."""
    rng = np.random.default_rng(seed)
    n_small = int(rng.integers(1, 5))
    kinds = [
        "central_primary",
        "junior_middle",
        *rng.choice(["teaching_point", "village_primary"], n_small),
    ]
    grades = ["1-6", "7-9"] + ["1-4" if k == "teaching_point" else "1-6" for k in kinds[2:]]
    n = len(kinds)
    sites = pd.DataFrame(
        {
            "site_id": [f"s{j}" for j in range(n)],
            "name": [f"校{j}" for j in range(n)],
            "kind": kinds,
            "township_code": ["t1"] * n,
            "grades": grades,
            "capacity": rng.integers(40, 400, n).astype(float),
            "classes": rng.integers(2, 10, n).astype(float),
            "boarding_beds": [float(rng.integers(0, 50)), 60.0] + [0.0] * n_small,
            "status": "open",
            "is_central_kindergarten": False,
            "is_central_primary": [True, False] + [False] * n_small,
            "is_public_boarding": [False, True] + [False] * n_small,
        }
    )
    rows = []
    for j, span in enumerate(grades):
        for g in sorted(parse_grades(span)):
            for _ in range(int(rng.integers(1, 3))):
                rows.append(
                    (
                        "village",
                        len(rows),
                        f"v{len(rows)}",
                        "t1",
                        g,
                        STAGE_OF_GRADE[g],
                        int(rng.integers(0, 30)),
                        j,
                    )
                )
    groups = pd.DataFrame(rows, columns=GROUP_COLUMNS[:-1]).assign(urban=False)  # rural
    groups = groups[groups["pupils"] > 0].reset_index(drop=True)
    walk = rng.uniform(2, 120, (len(groups), n))
    bus = np.where(rng.random((len(groups), n)) < 0.2, np.nan, rng.uniform(2, 70, (len(groups), n)))
    return PlanContext(sites, groups, walk, bus, limits)


def _accounted(ctx, ev) -> None:
    total = int(ctx.groups["pupils"].sum())
    assert ev.pupils_before == total == ev.pupils_after + ev.unassigned
    assert round(ev.assignment["pupils"].sum()) == total
    assert round(ev.sites["pupils_after"].sum()) == ev.pupils_after
    status = ev.policy.set_index("rule").loc["pupils_accounted", "status"]
    assert status == "passed"


limits = st.builds(
    Settings,
    max_walk_minutes=st.floats(5, 60),
    max_ride_minutes=st.floats(20, 90),
    young_ride_minutes=st.floats(10, 60),
    boarding_min_grade=st.integers(1, 9),
    small_site_pupils=st.integers(1, 60),
)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), limits, st.data())
def test_any_closures_keep_every_pupil(seed, s, data):
    ctx = random_context(seed, s)
    if ctx.groups.empty:
        return
    plan = current_plan(ctx)
    closed = data.draw(st.lists(st.booleans(), min_size=len(ctx.sites), max_size=len(ctx.sites)))
    flows = np.zeros_like(plan.flows)
    unassigned = np.zeros(len(ctx.groups))
    for i, g in enumerate(ctx.groups.itertuples()):
        options = [
            j
            for j in range(len(ctx.sites))
            if not closed[j] and g.grade in parse_grades(ctx.sites["grades"].iloc[j])
        ]
        if options:
            flows[i, data.draw(st.sampled_from(options))] = g.pupils
        else:
            unassigned[i] = g.pupils
    ev = evaluate(ctx, Plan("random", ~np.array(closed), flows, unassigned))
    _accounted(ctx, ev)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), limits)
def test_the_plan_model_keeps_every_pupil_and_the_rules(seed, s):
    ctx = random_context(seed, s)
    if ctx.groups.empty:
        return
    plan = PlanModel.from_context(ctx, riders_per_bus=25.0).solve()
    ev = evaluate(ctx, plan, evaluate(ctx, current_plan(ctx)))
    _accounted(ctx, ev)
    cur = ctx.groups["current"].to_numpy()
    moved = ev.rows[ev.rows["site"].to_numpy() != cur[ev.rows["group"]]]
    assert (moved["way"] != 3).all(), "every moved pupil within the limits"
