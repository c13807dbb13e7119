"""The plan over the years on the bundled county (one model, the default): the sites
that fall under the small-site size by then, the same checks as the one-year plan, teachers
and learning districts recomputed here, and the files."""

from __future__ import annotations

import dataclasses
import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from browser import LAYOUT, needs_chromium, overlap, probe

import ruralnet as rn
from ruralnet.analysis.districts import learning_districts
from ruralnet.analysis.teachers import teacher_posts
from ruralnet.model.errors import InputError, RuralnetWarning
from ruralnet.study import analyse_years

YEARS = [2025, 2027, 2030]


@pytest.fixture(scope="module")
def years(county):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)
        return analyse_years(county, YEARS, buses=None)


@pytest.fixture(scope="module")
def one_year(demo_analysis_no_buses):
    return demo_analysis_no_buses


def test_each_year_lists_the_sites_that_fall_under_the_small_size(years, county):
    """Each year lists the open sites under the small size that year (open after the year
    before's plan), plans every pupil of the year's projection where they live now (one
    model of every year), and a site closed stays closed."""
    s = county.settings
    table = years.table
    assert sorted(table["year"].unique()) == YEARS
    projected = years.projection.table()
    central = projected[projected["variant"] == "central"].groupby(["year", "site_id"])["pupils"]
    closed, was_open = set(), None
    for year in YEARS:
        part = table[table["year"] == year].set_index("site_id")
        pupils = central.sum().xs(year, level="year")
        ev = years.phases[year].evaluations[years.phases[year].recommended]
        now = years.phases[year].evaluations["current"].sites.set_index("site_id")
        is_open = now["open"] if was_open is None else was_open.reindex(now.index)
        small = (
            is_open
            & now["kind"].isin(s.merger_kinds)
            & (now["pupils_before"] < s.small_site_pupils)
        )
        assert set(part.index[part["small"]]) == set(small.index[small])
        here = [i for i in now.index if now.loc[i, "open"] and i in pupils.index]
        assert all(now.loc[i, "pupils_before"] == pupils[i] for i in here)
        # a site closed by a year's plan stays closed, and says so
        after = ev.sites.set_index("site_id")
        assert not after.loc[list(closed), "open"].any()
        assert set(part.loc[list(closed), "action"]) <= {"stay_closed"}
        closed |= set(part.index[part["action"] == "close"])
        assert ev.conserved
        was_open = after["open"]
    assert closed  # the plan does close sites


def test_each_phase_holds_the_projected_pupils_of_its_year(years):
    """Issue #25: phases.csv held 3 pupils more than the projection (each site rounded on its
    own); the phase's pupils are the year's projection, moved, to the pupil."""
    projected = years.projection.table()
    central = projected[projected["variant"] == "central"].groupby("year")["pupils"].sum()
    for year in YEARS:
        phase = years.table[years.table["year"] == year]
        assert phase["pupils"].sum() == central[year], year
        t = years.projection.years.index(year)
        assert central[year] == round(years.projection.pupils["central"][t].sum())


def test_phase_years_are_refused_when_repeated_unordered_or_not_whole(county):
    from ruralnet.analysis.phases import phase_years

    assert phase_years([2025, 2027.0]) == (2025, 2027)
    for bad, says in (
        ([2027, 2025], "increasing order"),
        ([2025, 2025, 2027], "repeated: \\[2025\\]"),
        ([2025.5, "x"], "2025.5 is not a whole year; 'x'"),
    ):
        with pytest.raises(InputError, match=says):
            phase_years(bad)
        with pytest.raises(InputError, match=says):
            analyse_years(county, bad)
        with pytest.raises(InputError, match=says):
            rn.JobOptions(years=bad)


def test_every_year_is_checked_like_the_one_year_plan(years, one_year):
    base = one_year.evaluations["optimised"].policy
    rules = set(base["rule"])
    for year, a in years.phases.items():
        policy = a.evaluations[a.recommended].policy
        assert set(policy["rule"]) == rules, year
        failed = policy[policy["status"] == "failed"]
        # a failure of a year's plan was there before that year's plan
        assert (failed["before_plan"] == "failed").all(), failed[["township_code", "rule"]]


def test_teacher_posts_follow_the_norms(one_year, county):
    s = county.settings
    ev = one_year.evaluations["optimised"]
    posts = teacher_posts(ev, s)
    by = ev.assignment.groupby(["site_id", "stage"])["pupils"].sum().unstack(fill_value=0)
    sites = ev.sites.set_index("site_id")
    for site in sites.index[sites["open"] & (sites["pupils_after"] > 0)][:40]:
        row = by.loc[site] if site in by.index else pd.Series(dtype=float)
        need = row.get("primary", 0) / 19 + row.get("junior", 0) / 13.5
        need += np.ceil(row.get("kindergarten", 0) / s.class_size_kindergarten) * 2
        need += sites.loc[site, "boarders"] / 50
        if sites.loc[site, "kind"] not in ("teaching_point", "village_primary"):
            assert posts[site] == np.ceil(round(need, 9)), site
        else:
            assert posts[site] >= np.ceil(round(need, 9))
    assert (posts[~sites["open"]] == 0).all()
    freed = teacher_posts(one_year.evaluations["current"], s).sum() - posts.sum()
    assert freed > 0  # merging small sites frees posts


def test_learning_districts(one_year, county):
    ctx, ev = one_year.context, one_year.evaluations["optimised"]
    table = learning_districts(ctx, ev)
    sites = ev.sites.set_index("site_id")
    small = sites.index[sites["open"] & sites["kind"].isin(["teaching_point", "village_primary"])]
    assert table["site_id"].is_unique
    assert set(small) <= set(table["site_id"])
    members = table[table["role"] == "member"]
    assert (members["minutes"] <= county.settings.max_ride_minutes + 1e-9).all()
    heads = table[table["role"] == "head"]
    assert set(members["district_id"]) <= set(heads["district_id"])
    tp = members[members["site_id"].map(sites["kind"]) == "teaching_point"]
    assert np.allclose(tp["teacher_minutes_week"], 4 * 2 * tp["minutes"])
    # a district given in the sites layer is respected
    given = ctx.sites.copy()
    head = heads[heads["family"] == "school"]["site_id"].iloc[0]
    other = small[0]
    given["district_id"] = np.where(given["site_id"].isin([head, other]), "XQ-1", None)
    ctx2 = dataclasses.replace(ctx, sites=given)
    again = learning_districts(ctx2, ev).set_index("site_id")
    assert again.loc[other, "district_id"] == "XQ-1" and again.loc[other, "head_site_id"] == head
    # issue #25: a district no central school heads is led by its largest site, and says so
    three = list(small[:3])
    given["district_id"] = np.where(given["site_id"].isin(three), "XQ-9", None)
    headless = learning_districts(dataclasses.replace(ctx, sites=given), ev).set_index("site_id")
    part = headless.loc[three]
    leader = sites.loc[three, "pupils_after"].idxmax()
    assert (part["district_id"] == "XQ-9").all() and (part["head_site_id"] == leader).all()
    assert part.loc[leader, "role"] == "head" and (part["role"] == "member").sum() == 2
    assert (part["note"] == "led_by_largest").all()  # a code in the table, words in reports


def test_years_files_and_the_command(years, one_year, tmp_path, county):
    from ruralnet.outputs.years import write_years_report

    paths = write_years_report(years, one_year, tmp_path, lang="zh")
    enrol = pd.read_csv(paths["enrolment_by_year.csv"], dtype={"site_id": str})
    assert list(enrol.columns) == ["site_id", "year", "grade", "pupils", "variant"]
    assert set(enrol["variant"]) == {"low", "central", "high"}
    phases = pd.read_csv(paths["phases.csv"], dtype={"site_id": str})
    assert list(phases.columns[:8]) == [
        "year", "site_id", "action", "pupils", "places_added", "classes_added", "beds_added",
        "teachers",
    ]  # fmt: skip
    layers = dict(pyogrio.list_layers(paths["districts.gpkg"]))
    assert {"districts", *(f"districts_{y}" for y in YEARS)} <= set(layers)
    d = gpd.read_file(paths["districts.gpkg"], layer="districts")
    assert (d.geometry.geom_type == "Polygon").all() and d["pupils"].sum() > 0
    html = paths["years.html"].read_text(encoding="utf-8")
    assert html.count("<svg") == 1 + county.sites["township_code"].nunique()
    page = paths["years_map.html"].read_text(encoding="utf-8")
    for year in YEARS:  # one layer per year (names JSON-escaped in the page)
        assert json.dumps(f"{year}年")[1:-1] in page
    sheets = pd.read_excel(paths["years.xlsx"], sheet_name=None)
    assert {f"{y}年" for y in YEARS} <= set(sheets)
    # #29: the sheet of pupils by year has Chinese headers and the schools' names; the map
    # has the county's boundary and roads, a title, and a legend of the actions it colours
    pupils = sheets["分年度学生数"]
    assert list(pupils.columns[:2]) == ["学校代码", "学校名称"] and pupils["学校名称"].notna().all()
    from ruralnet.model.labels import ACTIONS, label

    assert "ruralnet-title" in page and "分年度调整图" in page
    for layer in ("道路", "县界"):
        assert json.dumps(layer)[1:-1] in page
    legend = page[page.index("ruralnet-legend") :][:6000]
    for action in set(phases["action"]):
        assert label(ACTIONS, action, "zh") in legend, action
    with pytest.raises(InputError, match="within 2024-2030"):
        analyse_years(county, [2019])
    with pytest.raises(InputError, match="within 2024-2030"):  # issue #25: 3000 ran silently
        analyse_years(county, [2025, 3000])


def test_report_command_with_years(tmp_path):
    import subprocess
    import sys

    folder = rn.datasets.bundled_county()
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "ruralnet.cli", "--no-progress", "report", str(folder), "--out",
         str(out), "--years", "2026", "--buses", "none"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = out / folder.name
    phases = pd.read_csv(report / "phases.csv")
    assert set(phases["year"]) == {2026}
    assert (report / "years.html").is_file() and (report / "districts.gpkg").is_file()
    summary = pd.read_csv(out / "summary.csv", dtype={"years": str})
    assert summary["years"].iloc[0] == "2026"


def test_the_years_outputs_are_the_same_bytes_on_a_rerun(years, one_year, tmp_path):
    """Issue #25: every output of a run is covered by the same-input-same-bytes test; the
    years' files (phases, enrolment, districts, workbook, pages, map) from a county loaded
    again and planned again are identical."""
    from ruralnet.outputs.years import write_years_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)
        again = analyse_years(rn.load_county(rn.datasets.bundled_county()), YEARS, buses=None)
    a = write_years_report(years, one_year, tmp_path / "a", lang="zh")
    b = write_years_report(again, one_year, tmp_path / "b", lang="zh")
    assert set(a) == set(b) and {"phases.csv", "years.xlsx", "years_map.html"} <= set(a)
    different = [name for name in a if a[name].read_bytes() != b[name].read_bytes()]
    assert different == []


#: The colours the first year's sites are drawn in, and the colours of the legend's swatches.
COLOURS = """function () {
  var fills = {}; document.querySelectorAll('path.ruralnet-site').forEach(function (p) {
    fills[p.getAttribute('fill')] = 1; });
  var swatches = {}; document.querySelectorAll('.ruralnet-legend span').forEach(function (s) {
    var c = s.style.backgroundColor; if (c) { swatches[c] = 1; } });
  return {fills: Object.keys(fills), swatches: Object.keys(swatches),
    sites: document.querySelectorAll('path.ruralnet-site').length};
}"""


@needs_chromium
def test_the_years_map_reads_at_a_glance_in_a_browser(years, one_year, tmp_path, county):
    """#29: the years map was dots on grey with a legend by kind while the dots were
    coloured by action. In a real browser: title, legend, scale bar and layer list none over
    another, the scale metric, every township named, every site of the first year drawn, and
    every colour drawn has its swatch in the legend."""
    import itertools

    from ruralnet.outputs.years import write_years_report

    page = write_years_report(years, one_year, tmp_path / "out", lang="zh")["years_map.html"]
    rects = probe(page, tmp_path, LAYOUT)
    parts = ("legend", "scale", "title", "layers")
    assert all(rects[p] for p in parts), rects
    for a, b in itertools.combinations(parts, 2):
        assert not overlap(rects[a], rects[b]), (a, b, rects)
    assert rects["scale_lines"] and all(t.endswith(("m", "km")) for t in rects["scale_lines"])
    assert rects["towns"] == len(county.townships)
    found = probe(page, tmp_path, COLOURS)
    first = years.table[years.table["year"] == min(years.phases)]
    assert found["sites"] == len(first)

    def rgb(hex_colour: str) -> str:
        r, g, b = (int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))
        return f"rgb({r}, {g}, {b})"

    assert found["fills"] and {rgb(f) for f in found["fills"]} <= set(found["swatches"]), found


@needs_chromium
def test_the_years_tables_read_across_in_a_browser(years, one_year, tmp_path):
    """years.html's tables with their reasons: in a real browser at an office screen's width,
    no cell is squeezed to about a character a line (the long reason column squeezed the
    headers and actions to one character a line before the page kept words whole)."""
    from test_report import CELLS

    from ruralnet.outputs.years import write_years_report

    page = write_years_report(years, one_year, tmp_path / "out", lang="zh")["years.html"]
    found = probe(page, tmp_path, CELLS, size=(1280, 900))
    assert found["tables"] >= 5 and found["checked"] > 300, found
    assert found["narrow"] == [], found["narrow"]
