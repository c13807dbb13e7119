"""The way to school has one home: every analysis and output follows the settings it reads.

An oracle writes the rules of DOMAIN.md out by hand; the county test changes the walking
limit, the boarding grade and the class-size threshold in ``county.toml`` and checks that the
catchments, the plans' assignments, the merger candidates, the policy checks and the report's
labels all follow.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ruralnet as rn
from ruralnet.analysis import rules

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "s",
    [
        rn.Settings(),
        rn.Settings(max_walk_minutes=12.0, boarding_min_grade=7, young_ride_minutes=20.0),
        rn.Settings(young_max_grade=0, young_ride_minutes=60.0),
        rn.Settings(kindergarten_buses=True, urban_school_buses=True, board_first_grade=10),
        rn.Settings(escort_minutes=10.0, board_first_grade=5),
    ],
)
def test_way_to_school_against_the_oracle(s, way_oracle):
    rng = np.random.default_rng(5)
    grade = rng.integers(-2, 10, 2000)
    walk = np.where(rng.random(2000) < 0.1, np.nan, rng.uniform(0, 120, 2000))
    bus = np.where(rng.random(2000) < 0.2, np.inf, rng.uniform(0, 90, 2000))
    urban = rng.random(2000) < 0.3
    way, minutes = rules.way_to_school(grade, walk, bus, s, urban)
    expected = [
        way_oracle(g, w, b, s, u) for g, w, b, u in zip(grade, walk, bus, urban, strict=True)
    ]
    assert list(way) == expected
    assert {"walk", "bus", "board", "beyond"} <= set(way)
    assert ("transit" in set(way)) == (not s.urban_school_buses)
    np.testing.assert_allclose(minutes[way == "walk"], walk[way == "walk"])
    np.testing.assert_allclose(minutes[way == "bus"], bus[way == "bus"])
    unreachable = ~np.isfinite(walk) & ~np.isfinite(bus)
    assert (way[unreachable] == "beyond").all() and np.isnan(minutes[unreachable]).all()


def _way(grade, walk, bus, urban=False, **settings) -> str:
    return str(rules.way_to_school(grade, walk, bus, rn.Settings(**settings), urban)[0])


def test_each_step_of_the_law_changes_the_outcome():
    """Each rule of the table, with the setting that switches it, decides a pupil's way."""
    # art. 3: school buses are for rural pupils; urban pupils by transit or guardians
    assert _way(2, 40, 10) == "bus"
    assert _way(2, 40, 10, urban=True) == "transit"
    assert _way(2, 40, 10, urban=True, urban_school_buses=True) == "bus"
    # art. 60: guardians bring kindergarten children, within the escort limit
    assert _way(0, 40, 25) == "guardian"
    assert _way(0, 40, 25, escort_minutes=20.0) == "beyond"
    assert _way(0, 40, 25, escort_minutes=20.0, kindergarten_buses=True) == "bus"
    # 国办 2018: rural junior middle schools are boarding schools
    assert _way(8, 40, 10) == "board"
    assert _way(8, 40, 10, board_first_grade=10) == "bus"
    # grades 1-3 do not board; from boarding_min_grade a far pupil boards
    assert _way(2, 40, 80) == "beyond"
    assert _way(5, 40, 80) == "board"
    assert _way(5, 40, 80, boarding_min_grade=6) == "beyond"
    # near home first, whoever the pupil
    assert {_way(g, 20, 5, urban=u) for g in (-1, 2, 8) for u in (False, True)} == {"walk"}


def test_a_bus_line_needs_enough_riders():
    """A pick-up of fewer than ``min_riders_per_line`` riders is no bus line: its riders board
    (from ``boarding_min_grade``, at a site with beds) or are brought by guardians."""
    s = rn.Settings()
    pickup = np.array(["a", "a", "b", "c"])
    grade = np.array([2, 5, 5, 8])
    pupils = np.array([3, 4, 9, 2])
    way = np.array([rules.BUS, rules.BUS, rules.BUS, rules.BOARD])
    thin = rules.thin_pickups(pickup, grade, pupils, way, s)
    assert thin.tolist() == [True, True, False, False]  # a: 7 riders < 8; c boards already
    assert not rules.thin_pickups(
        pickup, grade, pupils, way, s.replace(min_riders_per_line=7)
    ).any()
    instead = rules.instead_of_a_thin_line(grade, np.array([True, True, False, True]), s)
    assert [rules.WAYS[w] for w in instead] == ["guardian", "board", "guardian", "board"]


def test_no_limit_is_compared_outside_the_rules_module():
    """A search for the walk/ride comparison outside ``analysis/rules.py`` finds nothing."""
    pattern = re.compile(
        r"(<=?|>=?)\s*[\w.]*max_(walk|ride)_minutes|max_(walk|ride)_minutes\s*(<=?|>=?)|"
        r"(<=?|>=?)\s*[\w.]*boarding_min_grade|boarding_min_grade\s*(<=?|>=?)"
    )
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "ruralnet").rglob("*.py")
        if path.name != "rules.py" and path.name != "settings.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert hits == []


@pytest.fixture(scope="module")
def changed(tmp_path_factory):
    """The bundled county with a 20-minute walk, boarding from grade 5, 大班额 from 60."""
    folder = tmp_path_factory.mktemp("rules") / "county"
    shutil.copytree(rn.datasets.bundled_county(), folder)
    toml = folder / "county.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            "[settings]",
            "[settings]\nmax_walk_minutes = 20.0\nboarding_min_grade = 5\noversized_class = 60",
        ),
        encoding="utf-8",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rn.RuralnetWarning)
        county = rn.load_county(folder)
    out = tmp_path_factory.mktemp("rules-out")
    from ruralnet.outputs.report import write_catchments, write_county_report

    catch = rn.analyse_catchments(county)
    write_catchments(catch, out / "catchments")
    analysis = rn.analyse_county(county, buses=None)
    write_county_report(analysis, out / "report")
    return county, catch, analysis, out


def test_every_output_follows_the_settings(changed, county, way_check):
    changed_county, catch, analysis, out = changed
    s = changed_county.settings
    assert (s.max_walk_minutes, s.boarding_min_grade, s.oversized_class) == (20.0, 5, 60)
    # catchments and every plan: the ways re-derived from the raw times with the new limits
    for ctx, rows in [(catch.context, catch.evaluation.rows)] + [
        (analysis.context, ev.rows) for ev in analysis.evaluations.values()
    ]:
        way_check(ctx, rows.sample(min(400, len(rows)), random_state=0), s)
        assert not rows.loc[rows["grade"] < 5, "way"].eq(rules.BOARD).any()
    # the written catchments and assignment agree with the limits
    va = pd.read_csv(out / "catchments" / "village_assignment.csv")
    assert va.loc[va["mode"] == "walk", "minutes"].max() <= 20
    a = pd.read_csv(out / "report" / "assignment.csv")
    assert a.loc[a["way"] == "walk", "minutes"].max() <= 20
    # fewer walkers than with the default 30 minutes
    default = rn.analyse_catchments(county)
    assert va.loc[va["mode"] == "walk", "children"].sum() < (
        default.assignment.loc[default.assignment["mode"] == "walk", "children"].sum()
    )
    # merger candidates: walking merges within 20 minutes, the reasons say 20
    cand = analysis.candidates
    assert (cand.loc[cand["decision"] == "merge_walk", "minutes_walk"] <= 20).all()
    bus_reasons = cand.loc[cand["decision"] == "merge_bus", "reason"]
    assert len(bus_reasons) and bus_reasons.str.contains("超过20分钟").all()
    # labels and the report follow: 班额60人及以上, 1-4年级不寄宿, 步行不超过20分钟
    policy = pd.read_csv(out / "report" / "policy_checks.csv")
    labels = set(policy["rule_label"])
    assert "无班额60人及以上大班额" in labels
    assert any("步行不超过20分钟" in x and "1-4年级不寄宿" in x for x in labels)
    html = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert "班额60人及以上" in html and "班额56人" not in html


@pytest.mark.parametrize(
    "change",
    [{}, {"kindergarten_buses": True}, {"young_max_grade": 4, "board_first_grade": 5},
     {"urban_school_buses": True, "boarding_min_grade": 8}, {"max_walk_minutes": 10}],
)  # fmt: skip
def test_ways_worked_out_once_per_origin_and_grade_class_equal_every_group(county, change):
    """#26: the context's ways to school are worked out per origin, grade class and urban
    flag and read for each group: they equal the rule table applied to every group's own row,
    whatever the settings that make grades differ."""
    import dataclasses

    from ruralnet.analysis.plans import plan_context
    from ruralnet.analysis.times import county_times

    c = dataclasses.replace(county, settings=county.settings.replace(**change))
    ctx = plan_context(c, county_times(c))
    code, minutes = ctx.ways
    want = rules.way_codes(ctx.groups["grade"].to_numpy()[:, None], np.asarray(ctx.walk),
                           np.asarray(ctx.bus), ctx.settings, ctx.urban[:, None])  # fmt: skip
    assert np.array_equal(code, want[0])
    assert np.array_equal(minutes, want[1], equal_nan=True)
    assert len(np.unique(code)) > 1
