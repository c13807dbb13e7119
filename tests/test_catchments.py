"""Catchments on the bundled county: every pupil accounted for, grade spans respected, the
way-to-school rules re-checked from the raw times, polygons and isochrones that tile the
county, and the same totals as the plans."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import ruralnet as rn
from ruralnet.analysis.catchments import ASSIGNMENT_COLUMNS, analyse_catchments
from ruralnet.analysis.demand import catchment_sites
from ruralnet.model.grades import grade_column, parse_grades

DEMO = rn.datasets.bundled_county()


@pytest.fixture(scope="module")
def result(county):
    return analyse_catchments(county)


@pytest.fixture(scope="module")
def no_bus(county):
    return analyse_catchments(county, bus=False)


@pytest.fixture(scope="module")
def census(county):
    return analyse_catchments(rn.load_county(DEMO, rn.Settings(demand_basis="census")))


def test_every_pupil_accounted_for(county, result, no_bus, census):
    for r in (result, no_bus, census):
        assert r.accounting["balanced"].all()
        demand = r.context.groups.groupby("stage")["pupils"].sum()
        for stage in ("kindergarten", "primary", "junior"):
            a = r.assignment[r.assignment["stage"] == stage]
            assert a["children"].sum() == demand[stage]
            polys = r.polygons[r.polygons["stage"] == stage]["children"].sum()
            assert polys + a.loc[a["site_id"].isna(), "children"].sum() == demand[stage]
    # the enrolled basis counts the sites' pupils; the census basis the villages' children
    assert result.accounting["children"].sum() == county.sites["pupils"].sum()
    for stage in ("kindergarten", "primary", "junior"):
        assert census.accounting.set_index("stage").loc[stage, "children"] == (
            county.villages[f"children_{stage}"].sum()
        )
    # every village appears in every stage
    pairs = result.assignment.loc[
        result.assignment["origin_type"] == "village", ["village_id", "stage"]
    ]
    assert len(pairs.drop_duplicates()) == 3 * len(county.villages)
    assert list(result.assignment.columns[: len(ASSIGNMENT_COLUMNS)]) == ASSIGNMENT_COLUMNS


def test_grade_spans_respected(county, result):
    rows = result.evaluation.rows
    sites = result.context.sites
    taught = [parse_grades(sites.loc[s, "grades"]) for s in rows["site"]]
    assert all(g in levels for g, levels in zip(rows["grade"], taught, strict=True))
    at_tp = rows[sites["kind"].to_numpy()[rows["site"]] == "teaching_point"]
    assert len(at_tp) > 0 and at_tp["grade"].max() <= 4


def test_site_chosen_by_the_way_to_school(county, census, way_oracle):
    """Census children go to the nearest open site they can walk to; else the nearest they
    can ride to; else (old enough) the nearest with beds; else the nearest at all."""
    ctx = census.context
    s = county.settings
    rows = census.evaluation.rows.sample(400, random_state=1)
    for r in rows.itertuples():
        v = ctx.groups["origin_index"].iloc[r.group]
        offers = np.array([r.grade in parse_grades(x) for x in ctx.sites["grades"]]) & ctx.open_now
        w = np.nan_to_num(ctx.times.village_walk[v], nan=np.inf)
        b = np.nan_to_num(ctx.times.village_bus[v], nan=np.inf)
        urban = bool(ctx.groups["urban"].iloc[r.group])
        ways = np.array([way_oracle(r.grade, w[j], b[j], s, urban) for j in range(len(w))])
        rides = np.isin(ways, ("bus", "transit", "guardian"))
        if (offers & (ways == "walk")).any():
            best = np.where(offers & (ways == "walk"), w, np.inf)
            assert w[r.site] == pytest.approx(best.min())
        elif (offers & rides).any():
            best = np.where(offers & rides, b, np.inf)
            assert b[r.site] == pytest.approx(best.min())
        else:
            assert ways[r.site] in ("board", "beyond")


def test_travel_rules_rechecked_from_raw_times(county, result, no_bus, way_check):
    s = county.settings
    for r in (result, no_bus):
        ctx, rows = r.context, r.evaluation.rows
        way_check(ctx, rows.sample(min(len(rows), 600), random_state=2), s)
        assert not rows.loc[rows["grade"] < s.boarding_min_grade, "way"].eq(2).any()
    # without buses, exactly the boarding grades beyond walking distance board
    rows, ctx = no_bus.evaluation.rows, no_bus.context
    w = ctx.walk[rows["group"], rows["site"]]
    far = (rows["grade"] >= s.boarding_min_grade) & ~(w <= s.max_walk_minutes)
    assert rows.loc[rows["way"] == 2, "pupils"].sum() == rows.loc[far, "pupils"].sum()
    assert no_bus.evaluation.stages["boarders"].sum() > result.evaluation.stages["boarders"].sum()


def test_catchments_equal_the_current_plan(result, demo_analysis_no_buses):
    """One demand, one rule: the catchments' totals are the report's current plan."""
    ev = demo_analysis_no_buses.evaluations["current"]
    a = result.assignment
    for way in ("walk", "bus", "board", "beyond", "guardian", "transit"):
        mine = a.loc[a["mode"] == way, "children"].sum()
        theirs = ev.assignment.loc[ev.assignment["way"] == way, "pupils"].sum()
        assert mine == theirs, way
    pd.testing.assert_frame_equal(
        result.evaluation.stages.reset_index(drop=True), ev.stages.reset_index(drop=True)
    )


def test_boarders_go_to_sites_with_beds(county, no_bus):
    sites = county.sites.set_index("site_id")
    b = no_bus.boarding
    assert len(b) > 0
    assert (sites.loc[b["site_id"], "boarding_beds"].to_numpy() > 0).all()
    va = no_bus.assignment
    by_site = (
        va[va["boards"] & (va["origin_type"] == "village")].groupby("site_id")["children"].sum()
    )
    np.testing.assert_array_equal(
        b.set_index("site_id")["beds_needed"], by_site.reindex(b["site_id"])
    )
    np.testing.assert_allclose(b["shortfall"], np.maximum(0, b["beds_needed"] - b["beds"]))
    assert b.geometry.is_valid.all()


def _area(gdf):
    return gdf.to_crs(32649).area.sum()


def test_polygons_follow_the_county(county, result):
    county_area = _area(gpd.GeoDataFrame(geometry=[county.boundary], crs="EPSG:4326"))
    p = result.polygons
    assert p.geometry.is_valid.all()
    first = p[p["stage"] == "junior"]  # one grade group: the junior catchments tile the county
    assert _area(first) == pytest.approx(county_area, rel=0.02)
    assert gpd.GeoSeries(first.geometry).union_all().within(county.boundary.buffer(0.01))
    # a site's catchment contains the site itself (or lies next to it)
    sites = county.sites.set_index("site_id")
    for _, row in p.sample(20, random_state=3).iterrows():
        assert row.geometry.distance(sites.loc[row["site_id"], "geometry"]) < 0.01


def test_isochrones_partition_the_county(county, result):
    county_area = _area(gpd.GeoDataFrame(geometry=[county.boundary], crs="EPSG:4326"))
    for (_mode, _stage), part in result.isochrones.groupby(["mode", "stage"]):
        assert _area(part) == pytest.approx(county_area, rel=0.02)
    walk = result.isochrones[
        (result.isochrones["mode"] == "walk") & (result.isochrones["stage"] == "primary")
    ]
    first = walk[walk["min_minutes"] == 0].geometry.iloc[0]
    central = county.sites[county.sites["kind"] == "central_primary"]
    assert central.geometry.apply(lambda p: first.distance(p) < 0.002).all()


def test_accessibility(county, result):
    a = result.accessibility
    county_rows = a[a["township_code"] == "ALL"].set_index(["stage", "indicator"])["value"]
    for stage in ("kindergarten", "primary", "junior"):
        assert (
            county_rows[(stage, "children")]
            == result.context.groups.loc[result.context.groups["stage"] == stage, "pupils"].sum()
        )
        w = [float(county_rows[(stage, f"within_{t:g}_min_walk")]) for t in (15, 30, 45, 60)]
        assert w == sorted(w) and w[-1] <= county_rows[(stage, "children")]
        moved = sum(
            float(county_rows[(stage, k)])
            for k in (
                "walking",
                "guardian",
                "transit",
                "bus_riders",
                "boarders",
                "beyond_all_limits",
            )
        )
        assert moved == county_rows[(stage, "children")]
    towns = a[(a["township_code"] != "ALL") & (a["indicator"] == "children")]
    assert towns.groupby("stage")["value"].sum().to_dict() == {
        s: float(county_rows[(s, "children")]) for s in towns["stage"].unique()
    }
    names = set(
        "、".join(a.loc[a["indicator"] == "villages_beyond_limits", "value"].astype(str)).split(
            "、"
        )
    ) - {""}
    assert names <= set(county.villages["name"])


def test_bus_mode_catchments(county):
    r = analyse_catchments(county, mode="bus")
    assert r.accounting["balanced"].all()


def test_catchment_without_any_suitable_site():
    villages = pd.DataFrame({"village_id": ["a"], "township_code": ["t"]})
    sites = pd.DataFrame(
        {"site_id": ["s"], "grades": ["1-3"], "boarding_beds": [0], "township_code": ["t"]}
    )
    c = catchment_sites(villages, sites, np.array([[10.0]]), None, rn.Settings())
    assert all(c[0, grade_column(g)] == 0 for g in (1, 2, 3))
    assert all(c[0, grade_column(g)] == -1 for g in (-2, -1, 0, 4, 5, 6, 7, 8, 9))


def test_andorra_with_osm_sites(andorra_county):
    r = analyse_catchments(andorra_county)
    assert r.accounting["balanced"].all()
    assert r.accounting["children"].sum() > 0


def test_cli_writes_the_contract_files(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruralnet.cli",
            "--no-progress",
            "catchments",
            str(DEMO),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    va = pd.read_csv(tmp_path / "village_assignment.csv")
    assert list(va.columns) == [
        "village_id",
        "stage",
        "children",
        "site_id",
        "minutes",
        "mode",
        "boards",
    ]
    ac = pd.read_csv(tmp_path / "accessibility.csv")
    assert list(ac.columns) == ["township_code", "stage", "indicator", "value"]
    # #29: as read (27.1533906368386 minutes before): counts whole, minutes to one decimal
    minutes = ac["indicator"].str.endswith("_minutes")
    values = ac["value"].dropna()
    assert (values[~minutes] % 1 == 0).all() and (values[minutes] % 1 != 0).any()
    assert ((values[minutes] * 10).round(6) % 1 == 0).all()
    assert ((va["minutes"].dropna() * 10).round(6) % 1 == 0).all()
    layers = gpd.list_layers(tmp_path / "catchments.gpkg")["name"].tolist()
    assert {"catchments", "boarding", "isochrones"} <= set(layers)
    c = gpd.read_file(tmp_path / "catchments.gpkg", layer="catchments")
    assert {"site_id", "stage", "children"} <= set(c.columns)


def test_a_mask_traced_in_its_window_is_the_mask_traced_whole():
    """#26: each catchment is traced in the window of rows and columns it covers; the polygon
    equals the one traced on the whole raster (an oracle without the window), and its area is
    the cells' area."""
    import shapely
    from affine import Affine
    from rasterio.features import shapes

    from ruralnet.analysis.catchments import _window

    rng = np.random.default_rng(4)
    mask = np.zeros((60, 80), dtype=bool)
    mask[17:31, 22:45] = rng.random((14, 23)) < 0.7
    transform = Affine(90.0, 0.0, 500_000.0, 0.0, -90.0, 2_700_000.0)

    def traced(m, t):
        parts = [
            shapely.geometry.shape(g) for g, _ in shapes(m.astype(np.uint8), mask=m, transform=t)
        ]
        return shapely.union_all(parts)

    window, moved = _window(mask, transform)
    assert window.shape[0] <= 14 and window.shape[1] <= 23
    whole, cut = traced(mask, transform), traced(window, moved)
    assert cut.equals(whole)
    assert cut.area == pytest.approx(mask.sum() * 90.0 * 90.0)
