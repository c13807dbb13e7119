"""Batch reports: contract files, a broken county that does not stop the batch, reproducibility."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from browser import needs_chromium, probe

import ruralnet as rn
from ruralnet.model import labels

DEMO = rn.datasets.bundled_county()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    broken = root / "broken-county"
    shutil.copytree(DEMO, broken)
    (broken / "sites.gpkg").write_bytes(b"not a geopackage")
    out = root / "out"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruralnet.cli",
            "--no-progress",
            "report",
            str(DEMO),
            str(broken),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    return res, out


def test_failing_county_is_reported_and_the_rest_goes_on(batch):
    res, out = batch
    assert res.returncode == 1  # a county failed: the command says so
    summary = pd.read_csv(out / "summary.csv")
    status = dict(zip(summary["county"], summary["status"], strict=True))
    assert status == {"demo-liannan": "ok", "broken-county": "error"}
    assert summary.loc[summary["county"] == "broken-county", "error"].str.len().iloc[0] > 0
    assert (out / "demo-liannan" / "report.html").exists()


def test_contract_files(batch):
    _, out = batch
    d = out / "demo-liannan"
    cand = pd.read_csv(d / "merger_candidates.csv", dtype={"township_code": str})
    assert list(cand.columns[:9]) == [
        "site_id",
        "kind",
        "township_code",
        "pupils",
        "decision",
        "receiving_site_id",
        "minutes_bus",
        "minutes_walk",
        "reason",
    ]
    assignment = pd.read_csv(d / "assignment.csv")
    assert {"plan", "village_id", "stage", "site_id", "way", "pupils", "minutes"} <= set(
        assignment.columns
    )
    policy = pd.read_csv(d / "policy_checks.csv", dtype={"township_code": str})
    assert {"plan", "township_code", "township", "rule", "status", "detail", "before_plan"} <= set(
        policy.columns
    )
    # every recorded pupil of an open site appears in each plan's assignment exactly once
    sites = rn.read_layer(DEMO / "sites.gpkg")
    for _, part in assignment.groupby("plan"):
        assert part["pupils"].sum() == sites.loc[sites["status"] == "open", "pupils"].sum()
    merged = cand[cand["decision"].str.startswith("merge")]
    merger = assignment[assignment["plan"] == "merger"]
    assert not merger["site_id"].isin(merged["site_id"]).any(), "no pupil left at a merged site"
    routes = pd.read_csv(d / "routes.csv")
    assert list(routes.columns[:7]) == [
        "route",
        "site_id",
        "direction",
        "seq",
        "stop",
        "pupils",
        "minutes",
    ]
    assert (routes["minutes"] <= 45 + 1e-6).all() and (
        routes.groupby("route")["pupils"].sum() <= 56
    ).all()
    summary = pd.read_csv(out / "summary.csv")
    runs = pd.read_csv(d / "bus_runs.csv")
    fleet = pd.read_csv(d / "fleet.csv", dtype={"site": str})
    assert list(fleet.columns[:6]) == ["bus", "order", "run", "site", "departs", "arrives"]
    # school by school: per site and seat size, its busiest direction (the weekly trip too,
    # the site's own weekly buses as bus_fleet.csv lists them: with mixed loads the shared
    # weekly fleet no longer runs each site's own runs)
    per_school = pd.read_csv(d / "bus_fleet.csv", dtype={"site_id": str}).dropna(subset=["site_id"])
    daily = (
        runs.groupby(["site_id", "seats", "direction"])["own_buses"].sum().groupby("site_id").max()
    )
    own_total = per_school["own_buses"].sum()
    levels = pd.read_csv(d / "bus_fleet.csv", dtype={"site_id": str}).set_index("level")
    assert set(levels.index) == {"school", "township", "county"}  # codes; words in the reports
    assert (
        levels.loc["county", "own_buses"] == own_total == levels.loc["township", "own_buses"].sum()
    )
    assert (per_school.set_index("site_id")["own_buses"].reindex(daily.index) >= daily).all()
    # one fleet: per kind of bus, its busiest day
    per_day = fleet.groupby(["bus_type", "day"])["bus"].nunique()
    shared = per_day.groupby("bus_type").max().sum()
    totals = pd.read_csv(d / "fleet_summary.csv").set_index("day").loc["all"]
    assert totals["shared"] == shared <= totals["own_runs"] == own_total
    assert summary.loc[summary["county"] == "demo-liannan", "buses"].iloc[0] == shared > 0
    xlsx = pd.read_excel(d / "merger_candidates.xlsx")
    assert {"学校代码", "乡镇", "建议", "理由"} <= set(xlsx.columns)
    assert len(xlsx) == len(cand)


def test_html_report(batch):
    _, out = batch
    html = (out / "demo-liannan" / "report.html").read_text(encoding="utf-8")
    assert "连南瑶族自治县中小学校布局调整报告" in html
    assert html.count("<svg") >= 2, "travel-time and capacity charts inline"
    for town in ("三江镇", "寨岗镇", "大麦山镇"):
        assert f"<h2>{town} " in html, "a section per township, by name"
    assert "政策检查" in html and 'src="map.html"' in html
    # #29: the bus table counts each school's own buses, the fleet table shares them: the
    # report says so, and the table's levels are words
    runs = html[html.index("<h2>校车线路</h2>") + 5 :]
    runs = runs[: runs.index("<h2>")]
    assert "各校单独配车时的口径" in runs and "全县合计" in runs and "county" not in runs
    assert not re.search(r'(src|href)="https?://', html), (
        "the report itself loads nothing from the network"
    )


def test_reproducible_and_english(tmp_path, demo_analysis):
    """The same input gives the same bytes: the suite's analysis and a new one, from a county
    loaded again (its travel times, plans, bus routes and fleet computed again), write every
    file of the report identically (solvers stop on work limits, not on the clock; maps,
    charts, workbooks and GeoPackages carry no time of writing)."""
    from ruralnet.outputs.report import write_county_report
    from ruralnet.study import analyse_county

    write_county_report(demo_analysis, tmp_path / "a")
    write_county_report(analyse_county(rn.load_county(DEMO)), tmp_path / "b")
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert {"routes.csv", "fleet.csv", "report.xlsx", "map.html", "districts.gpkg"} <= {
        str(f) for f in files
    }
    different = [
        str(f)
        for f in files
        if (tmp_path / "a" / f).read_bytes() != (tmp_path / "b" / f).read_bytes()
    ]
    assert different == []
    county = demo_analysis.county
    en = write_county_report(
        analyse_county(county, optimise=False, buses=None, lang="en"), tmp_path / "en", lang="en"
    )
    xlsx = pd.read_excel(en["merger_candidates.xlsx"])
    assert {"site id", "decision", "reason"} <= set(xlsx.columns)
    assert "school network report" in en["report.html"].read_text(encoding="utf-8")


def test_charts_keep_chinese_text_and_stay_quiet_about_missing_fonts(caplog):
    """Text stays text in the SVG (the browser draws the glyphs); a machine without the CJK
    fonts must not flood the log with matplotlib's font lookups."""
    import logging

    from ruralnet.outputs.charts import travel_time_chart

    table = pd.DataFrame(
        {
            "stage": ["primary", "junior"],
            "minutes": [12.0, 50.0],
            "pupils": [30, 10],
            "way": ["walk", "bus"],
        }
    )
    with caplog.at_level(logging.INFO):
        svg = travel_time_chart(table, table, "zh")
    assert svg.startswith("<svg") and "小学" in svg
    assert not [r for r in caplog.records if r.name.startswith("matplotlib.font_manager")]


def test_a_dearer_plan_says_what_makes_it_dearer(demo_analysis, tmp_path):
    """The recommended plan against each other plan, item by item: the items add up to the
    totals of costs.csv, and where it costs more, report.html says by how much and why."""
    from ruralnet.outputs.report import write_county_report

    paths = write_county_report(demo_analysis, tmp_path / "r")
    diff = pd.read_csv(paths["cost_differences.csv"])
    costs = pd.read_csv(paths["costs.csv"])
    total = costs[costs["item"] == "total"].set_index("plan")["cost"]
    html = paths["report.html"].read_text(encoding="utf-8")
    rec = demo_analysis.recommended
    for base, part in diff.groupby("base_plan"):
        items = part[part["item"] != "total"]
        row = part[part["item"] == "total"].iloc[0]
        assert abs(items["difference"].sum() - row["difference"]) <= len(items)  # whole yuan
        assert abs(row["difference"] - (total[rec] - total[base])) <= 1
        said = f"比{labels.label(labels.PLANS, base, 'zh')}多" in html
        assert said == (row["difference"] > 0), base


def test_the_cards_count_the_plan_and_say_where_it_differs_from_the_screening(
    demo_analysis, tmp_path
):
    """The cards count what the recommended plan decides; every small site the screening
    merges but the plan keeps (or the reverse) has a line with the plan's reason."""
    from ruralnet.outputs.report import write_county_report

    html = write_county_report(demo_analysis, tmp_path / "r")["report.html"].read_text("utf-8")
    ev = demo_analysis.evaluations[demo_analysis.recommended]
    closed = int((ev.sites["action"] == "close").sum())
    assert f"方案撤并<b>{closed}</b>" in html
    cand = demo_analysis.candidates
    plan = ev.sites.set_index(ev.sites["site_id"].astype(str))["action"]
    differs = [
        r for r in cand.itertuples()
        if r.decision not in ("stay_closed", "restore")
        and str(r.decision).startswith("merge") != (plan[str(r.site_id)] == "close")
    ]  # fmt: skip
    assert len(differs) == len(demo_analysis.screening_differences) > 0
    for r in differs:
        assert f"{r.name}：筛选结果为" in html, r.name


def test_charts_take_any_school_name_as_text():
    """Issue #25: a name matplotlib reads as mathtext crashed the charts."""
    from ruralnet.outputs.charts import capacity_chart

    names = ["$\\notacommand$", "a $ b $ c", "\\frac{1}{2}", "普通小学"]
    sites = pd.DataFrame({"name": names, "open": True, "capacity_use": [0.5, 0.9, 1.2, 0.7]})
    svg = capacity_chart(sites, "zh")
    assert svg.startswith("<svg") and "notacommand" in svg and "普通小学" in svg


def test_the_chinese_workbook_has_no_english_and_prints(batch):
    """#29: route ids (``AM-O``, ``PM-Y``, ``WK-W``) and the county-wide rows (``ALL``) were
    English in the Chinese workbook. Every text cell and header of every sheet: no word of
    Latin letters; numbers formatted; each sheet set up to print."""
    import re

    import openpyxl

    _, out = batch
    wb = openpyxl.load_workbook(out / "demo-liannan" / "report.xlsx")
    english = {}
    formatted = 0
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$1"
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    for word in re.findall(r"[A-Za-z]{2,}", cell.value):
                        english.setdefault(word, (ws.title, cell.coordinate, cell.value[:40]))
                elif isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                    formatted += cell.number_format != "General"
    assert english == {}, english
    assert formatted > 1000


#: Cells of the report's tables whose text (two or more characters) got less than two
#: characters' width, i.e. wraps about one character per line.
CELLS = """function () {
  var cells = document.querySelectorAll('table td, table th'), narrow = [], checked = 0;
  cells.forEach(function (c) {
    var text = c.textContent.trim(); if (text.length < 2) { return; }
    checked += 1;
    var size = parseFloat(getComputedStyle(c).fontSize), range = document.createRange();
    range.selectNodeContents(c);
    var tops = {}; Array.prototype.forEach.call(range.getClientRects(), function (r) {
      tops[Math.round(r.top)] = 1; });
    var lines = Object.keys(tops).length, width = c.getBoundingClientRect().width;
    if (width < 1.8 * size || (lines > 2 && lines >= text.length / 2)) {
      narrow.push([text.slice(0, 20), Math.round(width), lines]); } });
  return {checked: checked, narrow: narrow.slice(0, 10), tables: document.querySelectorAll('table').length};
}"""


@needs_chromium
def test_report_tables_read_across_in_a_browser(batch, tmp_path):
    """#29: in report.html the 调整 column wrapped one character per line. In a real browser
    at an office screen's width, no cell of any table is squeezed to about a character a
    line."""
    _, out = batch
    found = probe(out / "demo-liannan" / "report.html", tmp_path, CELLS, size=(1280, 900))
    assert found["tables"] >= 5 and found["checked"] > 200, found
    assert found["narrow"] == [], found["narrow"]
