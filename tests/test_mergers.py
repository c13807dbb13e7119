"""Merger screening: every small site decided, each decision checked against the raw times."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import ruralnet as rn
from ruralnet.analysis.mergers import (
    CANDIDATE_COLUMNS,
    DECISIONS,
    merger_candidates,
    straight_line_minutes,
)
from ruralnet.analysis.times import site_times
from ruralnet.model.geo import haversine_m
from ruralnet.model.grades import parse_grades

DEMO = rn.datasets.bundled_county()


@pytest.fixture(scope="module")
def times(county):
    return site_times(county)


@pytest.fixture(scope="module")
def screened(county, times):
    return merger_candidates(county.sites, *times, county.settings)


def test_every_small_and_closed_site_decided(county, screened):
    cand, _ = screened
    s = county.sites
    small = s[
        (s["status"] == "open")
        & s["kind"].isin(["teaching_point", "village_primary"])
        & (s["pupils"] < 20)
    ]
    closed = s[s["status"] != "open"]
    assert sorted(cand["site_id"]) == sorted([*small["site_id"], *closed["site_id"]])
    assert list(cand.columns[: len(CANDIDATE_COLUMNS)]) == CANDIDATE_COLUMNS
    assert set(cand["decision"]) <= set(DECISIONS)
    assert cand["reason"].str.len().gt(5).all()
    assert set(cand.loc[cand["site_id"].isin(closed["site_id"]), "decision"]) <= {
        "restore",
        "stay_closed",
    }


def test_merges_checked_against_raw_times(county, times, screened):
    cand, _ = screened
    walk, bus = times
    s = county.sites.reset_index(drop=True)
    pos = {sid: i for i, sid in enumerate(s["site_id"])}
    lim = county.settings
    merged = cand[cand["decision"].str.startswith("merge")]
    assert len(merged) > 0
    for _, m in merged.iterrows():
        a, b = pos[m["site_id"]], pos[m["receiving_site_id"]]
        assert parse_grades(s.loc[a, "grades"]) <= parse_grades(s.loc[b, "grades"])
        assert s.loc[b, "kind"] != "teaching_point" and s.loc[b, "status"] == "open"
        if m["decision"] == "merge_walk":
            assert walk[a, b] <= lim.max_walk_minutes
        else:
            assert walk[a, b] > lim.max_walk_minutes and bus[a, b] <= lim.max_ride_minutes
        assert m["minutes_walk"] == pytest.approx(walk[a, b]) and m["minutes_bus"] == pytest.approx(
            bus[a, b]
        )
    # receivers never take more than their spare places, all merges together
    for recv, grp in merged.groupby("receiving_site_id"):
        r = s.loc[pos[recv]]
        spare = min(r["capacity"] - r["pupils"], r["classes"] * 45 - r["pupils"])
        assert grp["pupils"].sum() <= spare
        assert (r["pupils"] + grp["pupils"].sum()) / r["classes"] < 56


def test_keep_means_no_receiver_within_the_limits(county, times):
    walk, bus = times
    tight = county.settings.replace(max_walk_minutes=10.0, max_ride_minutes=8.0)
    cand, _ = merger_candidates(county.sites, walk, bus, tight)
    s = county.sites.reset_index(drop=True)
    pos = {sid: i for i, sid in enumerate(s["site_id"])}
    kept = cand[(cand["decision"] == "keep") & cand["reason_code"].str.startswith("too_remote")]
    assert len(kept) > 0
    for _, k in kept.iterrows():
        a = pos[k["site_id"]]
        for b in range(len(s)):
            if b == a or s.loc[b, "status"] != "open" or s.loc[b, "kind"] == "teaching_point":
                continue
            if s.loc[b, "pupils"] < 20 or not parse_grades(s.loc[a, "grades"]) <= parse_grades(
                s.loc[b, "grades"]
            ):
                continue
            assert not (walk[a, b] <= 10.0) and not (bus[a, b] <= 8.0)
    # with tight limits, the closed sites' pupils are now beyond them: restoration candidates
    assert (
        cand.loc[cand["site_id"].isin(s.loc[s["status"] == "closed", "site_id"]), "decision"]
        == "restore"
    ).all()


def test_english_reasons(county, times):
    cand, _ = merger_candidates(county.sites, *times, county.settings, lang="en")
    assert cand["reason"].str.contains("min").all()
    assert not cand["reason"].str.contains("分钟").any()


def test_oversized_classes_block_a_merger():
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["small", "big"],
            "name": ["a", "b"],
            "kind": ["teaching_point", "central_primary"],
            "township_code": ["t", "t"],
            "pupils": [10, 50],
            "capacity": [30, 200],
            "classes": [1, 1],
            "boarding_beds": [0, 0],
            "grades": ["1-3", "1-6"],
            "status": ["open", "open"],
        },
        geometry=gpd.points_from_xy([0, 0], [0, 0]),
    )
    walk = np.array([[0, 5.0], [5.0, 0]])
    cand, opts = merger_candidates(sites, walk, walk, rn.Settings())
    assert cand.loc[0, "decision"] == "keep" and cand.loc[0, "reason_code"] == "no_spare"
    assert bool(opts.loc[0, "oversized"])


def test_table_only_malaysian_list(geodata):
    """No road network: straight-line distance x detour, on the real Malaysian school list."""
    raw = pd.read_csv(geodata / "malaysia" / "sjkc_schools.csv")
    sites = gpd.GeoDataFrame(
        {
            "site_id": raw["KODSEKOLAH"],
            "name": raw["NAMASEKOLAH_C"].fillna(raw["NAMASEKOLAH"]),
            "kind": "village_primary",
            "township_code": raw["PPD"],
            "pupils": raw["ENROLMEN"],
            "capacity": np.nan,
            "classes": np.nan,
            "boarding_beds": 0,
            "grades": "1-6",
        },
        geometry=gpd.points_from_xy(raw["KOORDINATXX"], raw["KOORDINATYY"]),
        crs="EPSG:4326",
    )
    walk = straight_line_minutes(sites, sites, 4.0, detour=1.4)
    bus = straight_line_minutes(sites, sites, 40.0, detour=1.4)
    cand, _ = merger_candidates(sites, walk, bus, rn.Settings(), lang="en")
    assert len(cand) == (raw["ENROLMEN"] < 20).sum() == 65
    lon = dict(zip(sites["site_id"], sites.geometry.x, strict=True))
    lat = dict(zip(sites["site_id"], sites.geometry.y, strict=True))
    walked = cand[cand["decision"] == "merge_walk"]
    d = haversine_m(
        walked["site_id"].map(lon),
        walked["site_id"].map(lat),
        walked["receiving_site_id"].map(lon),
        walked["receiving_site_id"].map(lat),
    )
    assert (d * 1.4 <= 2000 + 1e-6).all()  # 30 min at 4 km/h over a 1.4 detour
    assert set(cand["decision"]) >= {"merge_bus"}
    # a merged small school's receiver is no farther than any other allowed receiver in its district
    for _, m in cand[cand["decision"] == "merge_bus"].head(10).iterrows():
        i = sites.index[sites["site_id"] == m["site_id"]][0]
        others = sites.index[
            (sites["township_code"] == m["township_code"]) & (sites["pupils"] >= 20)
        ]
        j = sites.index[sites["site_id"] == m["receiving_site_id"]][0]
        if sites.loc[j, "township_code"] == m["township_code"]:
            assert bus[i, j] <= bus[i, others].min() + 1e-9
