"""The bundled county: reproducible, loads like a real county, and is realistic."""

from __future__ import annotations

import tomllib
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

import ruralnet as rn
from ruralnet.demo import (
    DEMO_SEED,
    generate_county,
    generate_province,
    liannan_spec,
    write_county,
)
from ruralnet.demo.census import QINGYUAN_2020
from ruralnet.model.errors import RuralnetWarning
from ruralnet.model.geo import haversine_m
from ruralnet.network.travel import od_matrix
from ruralnet.sources.datasets import bundled_data

BUNDLED = bundled_data()
DEMO = BUNDLED / "demo-liannan"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("regen") / "demo-liannan"
    write_county(generate_county(liannan_spec(), seed=DEMO_SEED), out)
    return out


def test_regenerates_identically(regenerated):
    assert (regenerated / "roads.osm").read_bytes() == (DEMO / "roads.osm").read_bytes()
    assert (regenerated / "county.toml").read_text() == (DEMO / "county.toml").read_text()
    for raster in ("dem.tif", "population.tif"):
        with rasterio.open(DEMO / raster) as a, rasterio.open(regenerated / raster) as b:
            assert a.transform == b.transform and a.crs == b.crs and a.nodata == b.nodata
            np.testing.assert_array_equal(a.read(1), b.read(1))
    for layer in ("sites.gpkg", "villages.gpkg", "townships.gpkg", "boundary.geojson"):
        pd.testing.assert_frame_equal(
            pd.DataFrame(gpd.read_file(DEMO / layer).to_wkt()),
            pd.DataFrame(gpd.read_file(regenerated / layer).to_wkt()),
        )


def test_another_seed_gives_another_county(tmp_path):
    other = generate_county(liannan_spec(), seed=DEMO_SEED + 1)
    assert other.stats != {} and not np.array_equal(
        other.dem, generate_county(liannan_spec(), seed=DEMO_SEED).dem
    )


def test_real_parts_are_real(county):
    boundaries = gpd.read_file(BUNDLED / "qingyuan" / "counties_wgs84.geojson").set_index("adcode")
    real = boundaries.loc["441826"].geometry
    assert county.boundary.symmetric_difference(real).area < 1e-9
    codes = pd.read_csv(BUNDLED / "qingyuan" / "villages_2023.csv", dtype=str)
    codes = codes[codes["areaCode"] == "441826"]
    assert set(county.villages["committee_code"]) == set(codes["code"]) and len(codes) == 71
    assert set(county.villages["committee_name"]) == set(codes["name"])
    towns = gpd.read_file(DEMO / "townships.gpkg")
    assert set(towns["name"]) == {
        "三江镇",
        "大麦山镇",
        "寨岗镇",
        "三排镇",
        "涡水镇",
        "大坪镇",
        "香坪镇",
    }


def test_census_totals(county):
    census = QINGYUAN_2020["441826"]
    v = county.villages
    assert v["population"].sum() == census.population == 134691
    urban = v.loc[v["urban"], "population"].sum() / census.population
    assert urban == pytest.approx(census.urban_share, abs=1e-4)
    for stage, share in census.stage_shares().items():
        assert v[f"children_{stage}"].sum() == round(census.population * share)
    with rasterio.open(DEMO / "population.tif") as src:
        pop = src.read(1, masked=True)
        assert pop.sum() == pytest.approx(census.population, rel=1e-5)
        assert src.nodata == -1 and pop.mask.any()


def test_terrain(county):
    with rasterio.open(DEMO / "dem.tif") as src:
        dem = src.read(1)
        assert src.res == (90.0, 90.0) and src.crs.to_epsg() == 32649
    assert dem.min() == 100 and 1500 <= dem.max() <= 1600
    seat = county.villages[county.villages["committee_name"] == "三江居委会"]
    assert seat["elevation_m"].min() < 150 and seat["elevation_m"].max() < 400, (
        "the seat lies in the valley"
    )
    gy, gx = np.gradient(dem.astype(float), 90)
    assert np.median(np.hypot(gx, gy)) > 0.1, "mountain slopes, not a plain"


def test_loads_and_bus_network_connected(county):
    from ruralnet.sources.county import read_county

    net = county.network("bus")
    assert net.summary()["components"] == 1
    villages = read_county(county.path).villages  # as generated (before demand points)
    snaps = net.snap(villages.set_index("village_id"))
    footpath = villages.set_index("village_id")["road_access"] == "footpath"
    # the only villages far from a bus road are the deliberate, flagged footpath-only hamlets
    assert set(snaps.index[snaps["far_snap"]]) <= set(footpath.index[footpath])
    assert footpath.sum() >= 1
    walk = county.network("walk")
    assert not walk.snap(villages.set_index("village_id"))["far_snap"].any()


def test_three_schools_in_every_town(county):
    s = county.sites
    flags = s.groupby("township_code")[
        ["is_central_kindergarten", "is_central_primary", "is_public_boarding"]
    ].any()
    assert len(flags) == 7 and flags.all().all()
    tp = s[s["kind"] == "teaching_point"]
    assert (tp["pupils"] < 20).sum() >= 5 and (tp["pupils"] >= 20).sum() >= 5
    assert ((s["pupils"] / s["classes"]) >= 56).any(), "some county-seat classes are oversized"
    open_ = s[s["status"] == "open"]
    assert (open_["classes"] > 0).all() and (open_["capacity"] > 0).all()
    closed = s[s["status"] == "closed"]
    assert len(closed) >= 1 and (closed["pupils"] == 0).all()


def test_mountain_roads_are_circuitous(county):
    v = county.villages.set_index("village_id")
    od = od_matrix(county.network("bus"), v, v, progress=False)
    od = od[(od["from_id"] != od["to_id"]) & od["metres"].notna()]
    lon, lat = v.geometry.x, v.geometry.y
    straight = haversine_m(
        lon[od["from_id"]].to_numpy(),
        lat[od["from_id"]].to_numpy(),
        lon[od["to_id"]].to_numpy(),
        lat[od["to_id"]].to_numpy(),
    )
    circuity = od["metres"].to_numpy() / straight
    assert circuity.mean() > 1.2
    assert np.median(circuity) > 1.2


def test_county_toml(county):
    meta = tomllib.loads((DEMO / "county.toml").read_text(encoding="utf-8"))
    assert meta["generated"]["seed"] == DEMO_SEED
    assert county.settings.age_shares["primary"] == pytest.approx(
        QINGYUAN_2020["441826"].stage_shares()["primary"]
    )


def test_synthetic_province(tmp_path):
    paths = generate_province(tmp_path, 2, seed=5, cell=200, progress=False)
    assert len(paths) == 2
    for p in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuralnetWarning)
            c = rn.load_county(p)
        assert c.network("bus").summary()["components"] == 1
        assert c.villages["population"].sum() > 0 and len(c.sites) > 0


def test_an_urban_district_gets_schools_of_a_real_size(tmp_path):
    """清城区 (an urban district): one school per kind and town would take 35,000 pupils, which
    the sites layer refuses; its town schools above SPLIT_ABOVE are split into schools of the
    kind's size, the town's pupils all kept, one central school per town, and it loads."""
    from ruralnet.demo.generate import qingyuan_spec
    from ruralnet.demo.schools import SCHOOL_SIZE, SPLIT_ABOVE, _split_large
    from ruralnet.model.kinds import school_size_cap

    town = {"code": "441802006", "name": "凤城街道", "row": 5, "col": 7}
    rows = [
        {"site_id": "441802006-03", "kind": "central_primary", "pupils": 9_001, "classes": 170,
         "boarding_beds": 11, "grades": "1-6", "name": "凤城街道中心小学"},
        {"site_id": "441802006-04", "kind": "junior_middle", "pupils": 3_999, "classes": 80,
         "boarding_beds": 900, "grades": "7-9", "name": "清城区凤城街道中学"},
    ]  # fmt: skip
    extra = _split_large(rows, town, [(1, 2), (3, 4)])
    primaries = [rows[0], *extra]
    assert sum(r["pupils"] for r in primaries) == 9_001 and len(primaries) == 6  # 9,001 / 1,800
    assert max(r["pupils"] for r in primaries) - min(r["pupils"] for r in primaries) <= 1
    assert rows[1]["pupils"] == 3_999  # not above the threshold: untouched
    assert [r["site_id"] for r in extra] == [f"441802006-{k:02d}" for k in range(5, 10)]
    assert [r["name"] for r in extra] == [f"凤城街道第{k}小学" for k in "二三四五六"]
    assert not any(r["is_central_primary"] for r in extra)
    assert {(r["row"], r["col"]) for r in extra} == {(1, 2), (3, 4)}

    out = tmp_path / "441802"
    write_county(generate_county(qingyuan_spec("441802"), seed=11, cell=400), out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)
        c = rn.load_county(out)  # refused before: a primary of 35,887 pupils
    s = c.sites
    big = s[s["kind"].isin(list(SCHOOL_SIZE))]
    assert big["pupils"].max() <= SPLIT_ABOVE
    split = big[big["name"].str.contains("第") & ~big["name"].str.startswith("清城区")]
    caps = split["kind"].map(lambda k: school_size_cap(k, c.settings))
    assert len(split) and (split["pupils"] <= caps).all()  # under the size caps: no check fails
    assert (s.groupby("township_code")["is_central_primary"].sum() <= 1).all()
    assert s["site_id"].is_unique and s["name"].is_unique


def test_demo_data_command(tmp_path):
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "ruralnet.cli", "demo-data", "--seed", "7", "--out", tmp_path / "c"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "c" / "roads.osm").exists() and (tmp_path / "c" / "sites.gpkg").exists()
