"""Catchments, boarding and accessibility: every rule checked independently, every pupil counted."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import ruralnet as rn
from ruralnet.catchments import ASSIGNMENT_COLUMNS, analyse_catchments, assign, time_matrix
from ruralnet.schema import parse_grades

DEMO = rn.datasets.BUNDLED / "demo-liannan"


@pytest.fixture(scope="module")
def result(county):
    return analyse_catchments(county)


@pytest.fixture(scope="module")
def no_bus(county):
    return analyse_catchments(county, bus=False)


def test_every_pupil_accounted_for(county, result, no_bus):
    for r in (result, no_bus):
        assert r.accounting["balanced"].all()
        for stage in ("kindergarten", "primary", "junior"):
            total = county.villages[f"children_{stage}"].sum()
            a = r.assignment[r.assignment["stage"] == stage]
            assert a["children"].sum() == total
            polys = r.polygons[r.polygons["stage"] == stage]["children"].sum()
            assert polys + a.loc[a["site_id"].isna(), "children"].sum() == total
    # every village appears in every stage
    pairs = result.assignment[["village_id", "stage"]].drop_duplicates()
    assert len(pairs) == 3 * len(county.villages)
    assert list(result.assignment.columns) == ASSIGNMENT_COLUMNS


def test_grade_spans_respected(county, result):
    sites = county.sites[county.sites["status"] == "open"].reset_index(drop=True)
    g = result.grades[(result.grades["site"] >= 0) & (result.grades["children"] > 0)]
    taught = [parse_grades(sites.loc[s, "grades"]) for s in g["site"]]
    assert all(grade in levels for grade, levels in zip(g["grade"], taught, strict=True))
    tp = set(sites.index[sites["kind"] == "teaching_point"])
    at_tp = g[g["site"].isin(tp)]
    assert len(at_tp) > 0 and at_tp["grade"].max() <= 4


def test_nearest_site_by_walking_time(county, result):
    villages, sites = (
        county.villages.reset_index(drop=True),
        county.sites[county.sites["status"] == "open"].reset_index(drop=True),
    )
    walk = time_matrix(county.network("walk"), villages, sites)
    g = result.grades[(result.grades["mode"] != "board") & (result.grades["site"] >= 0)].sample(
        300, random_state=1
    )
    for _, row in g.iterrows():
        offers = np.array([row["grade"] in parse_grades(x) for x in sites["grades"]])
        best = np.nanmin(np.where(offers, walk[row["village"]], np.nan))
        assert walk[row["village"], row["site"]] == pytest.approx(best)
        assert row["walk_nearest"] == pytest.approx(best)


def test_travel_rules(county, result, no_bus):
    s = county.settings
    for r in (result, no_bus):
        g = r.grades[r.grades["children"] > 0]
        assert not g.loc[g["grade"] <= 3, "boards"].any(), "kindergarten and grades 1-3 never board"
        walk_rows = g[(g["mode"] == "walk") & (g["grade"] >= 4)]
        assert (walk_rows["minutes"] <= s.max_walk_minutes).all()
        assert (
            g.loc[(g["mode"] == "bus") & (g["grade"] >= 4), "minutes"] <= s.max_ride_minutes
        ).all()
    # without buses, exactly the grades 4-9 beyond walking distance board
    g = no_bus.grades
    far = (g["grade"] >= 4) & ~(g["walk_nearest"] <= s.max_walk_minutes) & (g["site"] >= 0)
    assert g.loc[g["boards"], "children"].sum() == g.loc[far, "children"].sum()
    assert (
        no_bus.grades.loc[no_bus.grades["boards"], "children"].sum()
        > result.grades.loc[result.grades["boards"], "children"].sum()
    )


def test_boarders_go_to_sites_with_beds(county, no_bus):
    sites = county.sites.set_index("site_id")
    b = no_bus.boarding
    assert len(b) > 0
    assert (sites.loc[b["site_id"], "boarding_beds"].to_numpy() > 0).all()
    by_site = no_bus.assignment[no_bus.assignment["boards"]].groupby("site_id")["children"].sum()
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
        assert county_rows[(stage, "children")] == county.villages[f"children_{stage}"].sum()
        w = [float(county_rows[(stage, f"within_{t}_min_walk")]) for t in (15, 30, 45)]
        assert w == sorted(w) and w[-1] <= county_rows[(stage, "children")]
        moved = sum(
            float(county_rows[(stage, k)])
            for k in ("walking", "bus_riders", "boarders", "unassigned")
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


def test_assign_without_any_suitable_site():
    villages = pd.DataFrame(
        {
            "village_id": ["a"],
            "name": ["a"],
            "township_code": ["t"],
            "children_kindergarten": [3],
            "children_primary": [12],
            "children_junior": [5],
        }
    )
    sites = pd.DataFrame(
        {"site_id": ["s"], "grades": ["1-3"], "boarding_beds": [0], "township_code": ["t"]}
    )
    g = assign(villages, sites, np.array([[10.0]]), None, rn.Settings())
    assert g.loc[g["grade"].between(1, 3), "site"].eq(0).all()
    assert (
        g.loc[g["grade"] >= 4, "site"].eq(-1).all() and g.loc[g["grade"] <= 0, "site"].eq(-1).all()
    )
    assert g["children"].sum() == 20


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
    layers = gpd.list_layers(tmp_path / "catchments.gpkg")["name"].tolist()
    assert {"catchments", "boarding", "isochrones"} <= set(layers)
    c = gpd.read_file(tmp_path / "catchments.gpkg", layer="catchments")
    assert {"site_id", "stage", "children"} <= set(c.columns)
