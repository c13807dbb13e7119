"""Validation collects every problem, names rows and columns, and warns on suspicious values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ruralnet.model.errors import RuralnetWarning, SchemaError
from ruralnet.model.grades import parse_grades, site_stages
from ruralnet.model.schema import (
    derive_children,
    largest_remainder,
    validate_sites,
    validate_villages,
)


def sites_frame(**overrides) -> gpd.GeoDataFrame:
    data = {
        "site_id": ["S1", "S2", "S3", "S4"],
        "name": ["中心小学", "村小", "教学点", "中心幼儿园"],
        "kind": ["central_primary", "village_primary", "teaching_point", "central_kindergarten"],
        "township_code": ["441826100", "441826100", "441826100", "441826100"],
        "pupils": [420, 85, 12, 150],
        "capacity": [450, 120, 30, 180],
        "classes": [10, 6, 2, 6],
        "boarding_beds": [0, 0, 0, 0],
        "grades": ["1-6", "1-6", "1-3", "K1-K3"],
        "is_public_boarding": [True, False, False, False],
    }
    data.update(overrides)
    geom = [shapely.Point(112.29 + i / 100, 24.72) for i in range(len(data["site_id"]))]
    return gpd.GeoDataFrame(data, geometry=geom, crs="EPSG:4326")


def test_valid_sites_pass_and_fill_defaults():
    out = validate_sites(sites_frame())
    assert out["is_central_primary"].tolist() == [True, False, False, False]
    assert out["is_central_kindergarten"].tolist() == [False, False, False, True]
    assert out["pupils"].dtype.kind in "iuf"
    assert out.crs.equals("EPSG:4326")


def test_every_problem_reported_at_once():
    bad = sites_frame(
        site_id=["S1", "S1", None, "S4"],
        kind=["central_primary", "school", "teaching_point", "central_kindergarten"],
        pupils=[420, -3, "many", 12.5],
        grades=["1-6", "1-6", "9-1", "K1-K3"],
    )
    bad.loc[3, "geometry"] = shapely.Point(200, 24)
    with pytest.raises(SchemaError) as err:
        validate_sites(bad)
    text = str(err.value)
    problems = err.value.problems
    assert len(problems) >= 6
    assert "duplicate id" in text and "'S1'" in text
    assert "missing id" in text
    assert "unknown kind ['school']" in text
    assert "negative value" in text and "not a number" in text and "whole number" in text
    assert "grade span" in text
    assert "outside longitude" in text
    columns = {p.column for p in problems}
    assert {"site_id", "kind", "pupils", "grades", "geometry"} <= columns
    assert isinstance(err.value, ValueError)


def test_missing_columns_and_crs():
    gdf = sites_frame().drop(columns=["pupils", "kind"])
    gdf = gdf.set_crs(None, allow_override=True)
    with pytest.raises(SchemaError) as err:
        validate_sites(gdf)
    text = str(err.value)
    assert "['kind', 'pupils']" in text
    assert "no CRS" in text


def test_empty_and_invalid_geometry_named():
    gdf = sites_frame()
    gdf.loc[1, "geometry"] = None
    gdf.loc[2, "geometry"] = shapely.LineString([(112, 24), (112.1, 24.1)])
    with pytest.raises(SchemaError) as err:
        validate_sites(gdf)
    text = str(err.value)
    assert "empty geometry" in text and "'S2'" in text
    assert "must be a point" in text and "'S3'" in text


def test_polygons_become_points_with_a_warning():
    gdf = sites_frame()
    gdf.loc[0, "geometry"] = shapely.box(112.28, 24.71, 112.30, 24.73)
    with pytest.warns(RuralnetWarning, match="polygons"):
        out = validate_sites(gdf)
    assert out.geometry.geom_type.eq("Point").all()


def test_far_outside_study_area():
    gdf = sites_frame()
    gdf.loc[2, "geometry"] = shapely.Point(113.5, 24.72)  # about 120 km east
    area = shapely.box(112.2, 24.6, 112.4, 24.8)
    with pytest.raises(SchemaError, match="outside the study area") as err:
        validate_sites(gdf, study_area=area, buffer_km=10)
    assert err.value.problems[0].rows == ("S3",)


def test_suspicious_values_warn():
    gdf = sites_frame(pupils=[500, 85, 12, 150], is_public_boarding=[False] * 4)
    with pytest.warns(RuralnetWarning) as record:
        out = validate_sites(gdf)
    messages = " ".join(str(w.message) for w in record)
    assert "above capacity" in messages and "S1" in messages
    assert "no public boarding school" in messages and "441826100" in messages
    assert any("public boarding" in w for w in out.attrs["warnings"])


def test_projected_input_is_reprojected():
    gdf = sites_frame().to_crs(32649)
    out = validate_sites(gdf)
    assert out.crs.equals("EPSG:4326")
    np.testing.assert_allclose(out.geometry.x, sites_frame().geometry.x, atol=1e-9)


def test_codes_from_spreadsheets_become_text():
    out = validate_sites(sites_frame(township_code=[441826100.0] * 4))
    assert out["township_code"].tolist() == ["441826100"] * 4


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("1-4", {1, 2, 3, 4}),
        ("K1-K3", {-2, -1, 0}),
        ("7-9", {7, 8, 9}),
        ("K3,1-2", {0, 1, 2}),
        ("5", {5}),
    ],
)
def test_parse_grades(text, levels):
    assert parse_grades(text) == frozenset(levels)


@pytest.mark.parametrize("text", ["", "0-3", "4-1", "K4", "1-10", "grade one"])
def test_parse_grades_rejects(text):
    with pytest.raises(ValueError):
        parse_grades(text)


def test_site_stages():
    assert site_stages("1-9") == ["primary", "junior"]
    assert site_stages("K1-K3") == ["kindergarten"]
    assert site_stages("1-3") == ["primary"]


def villages_frame(**overrides):
    data = {
        "village_id": ["441826100201", "441826100202", "441826100203"],
        "name": ["甲村", "乙村", "丙村"],
        "township_code": ["441826100"] * 3,
        "population": [1234, 567, 89],
    }
    data.update(overrides)
    geom = [shapely.Point(112.3, 24.7 + i / 100) for i in range(len(data["village_id"]))]
    return gpd.GeoDataFrame(data, geometry=geom, crs="EPSG:4326")


def test_villages_children_derived_and_conserved():
    shares = {"kindergarten": 0.031, "primary": 0.067, "junior": 0.029}
    out = validate_villages(villages_frame(), age_shares=shares)
    for stage, share in shares.items():
        col = f"children_{stage}"
        assert (out[col] % 1 == 0).all()
        assert out[col].sum() == round(out["population"].sum() * share)
    assert set(out["children_source"]) == {"derived"}


def test_villages_given_children_kept():
    out = validate_villages(villages_frame(children_primary=[80, np.nan, 3]))
    assert out["children_primary"].tolist()[0] == 80
    assert out["children_primary"].tolist()[2] == 3
    assert out["children_source"].tolist() == ["mixed", "derived", "mixed"]


def test_villages_problems():
    bad = villages_frame(village_id=["A", "A", "C"], population=[10, -5, None])
    with pytest.raises(SchemaError) as err:
        validate_villages(bad.drop(columns=["township_code"]))
    text = str(err.value)
    assert "duplicate id" in text and "negative value" in text and "township_code" in text


def test_villages_without_population_or_children_are_errors():
    with pytest.raises(SchemaError, match="children unknown"):
        validate_villages(villages_frame(population=[10, None, 30]))


def test_largest_remainder_conserves_totals():
    rng = np.random.default_rng(1)
    for _ in range(50):
        v = rng.uniform(0, 40, rng.integers(1, 30))
        r = largest_remainder(v)
        assert r.sum() == round(v.sum())
        assert np.all(np.abs(r - v) < 1)


def test_derive_children_keeps_index():
    df = pd.DataFrame({"population": [100, 200]}, index=["x", "y"])
    out = derive_children(df)
    assert list(out.index) == ["x", "y"]


def test_per_grade_pupils_lose_no_pupil():
    """Issue #25: negative, fractional, text, partly filled or out-of-span per-grade columns
    ran without a word and the plan's tables lost pupils; now each is named."""
    from ruralnet.sources import datasets

    g = gpd.read_file(datasets.bundled_county() / "sites.gpkg")
    rows = np.flatnonzero((g["grades"] == "1-6").to_numpy())[:6]
    cols = ["g1", "g2", "g3", "g4", "g5", "g6"]
    bad = g.copy()
    bad[[*cols, "g7"]] = np.nan
    bad[[*cols, "g7"]] = bad[[*cols, "g7"]].astype(object)
    whole = int(g.loc[rows[0], "pupils"])
    bad.loc[rows[0], cols] = [whole - 5, 1, 1, 1, 1, 1]  # right: adds up
    bad.loc[rows[1], "g1"] = -3
    bad.loc[rows[2], "g2"] = 2.5
    bad.loc[rows[3], "g7"] = 4
    bad.loc[rows[4], "g1"] = 1  # partly filled: adds up to less
    bad.loc[rows[5], "g3"] = "many"
    with pytest.raises(SchemaError) as err:
        validate_sites(bad)
    text = str(err.value)
    ids = g["site_id"].iloc[rows].tolist()
    for message, site in (
        ("negative per-grade pupils", ids[1]),
        ("fractional per-grade pupils", ids[2]),
        ("a grade the site does not teach", ids[3]),
        ("do not add up to pupils", ids[4]),
        ("not numbers", ids[5]),
    ):
        line = next(x for x in text.splitlines() if message in x)
        assert site in line, (message, line)
    assert ids[0] not in text
    good = bad.drop(columns=["g7"]).copy()
    good.loc[rows[1:], cols] = np.nan
    assert len(validate_sites(good)) == len(g)


def test_a_learning_district_without_a_central_school_is_named():
    """Issue #25: a district_id that no central school carries was kept without a note."""
    ok = validate_sites(sites_frame(district_id=["XQ-1", "XQ-1", "XQ-1", None]))
    assert not [w for w in ok.attrs["warnings"] if "learning district" in w]
    with pytest.warns(RuralnetWarning, match="learning district 'XQ-9'") as caught:
        out = validate_sites(sites_frame(district_id=["XQ-1", "XQ-9", "XQ-9", None]))
    text = " ".join(str(w.message) for w in caught)
    assert "'S2'" in text and "'S3'" in text and "XQ-1" not in text
    assert any("XQ-9" in w for w in out.attrs["warnings"])


def test_counts_no_real_site_or_village_reaches_are_refused():
    """Issue #25: pupils = 1e7 at one site was not refused and the buses ran for hours."""
    from ruralnet.model.schema import LARGEST_COUNT

    with pytest.raises(SchemaError) as err:
        validate_sites(sites_frame(pupils=[420, 10_000_000, 12, 150], classes=[10, 6, 2, 5000]))
    text = str(err.value)
    assert "'pupils'" in text and "'S2'" in text and "more than 30,000" in text
    assert "'classes'" in text and "'S4'" in text
    edge = int(LARGEST_COUNT["pupils"])
    validate_sites(sites_frame(pupils=[edge, 85, 12, 150], capacity=[edge, 120, 30, 180]))
