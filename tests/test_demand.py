"""Demand from a population raster, with every person accounted for."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

import ruralnet as rn
from ruralnet.sources.population import children_from_raster, village_areas, zonal_sums


def test_village_areas_tile_the_county(county):
    areas = village_areas(county.villages, county.boundary)
    assert list(areas.index) == list(county.villages.index)
    assert all(a.contains(p) for a, p in zip(areas.geometry, county.villages.geometry, strict=True))
    metric = areas.to_crs(32649)
    boundary = rn.read_layer(county.path / "boundary.geojson").to_crs(32649).area.sum()
    assert metric.area.sum() == pytest.approx(boundary, rel=1e-6)
    assert metric.geometry.union_all().area == pytest.approx(boundary, rel=1e-6)  # no overlaps


def test_children_from_raster_accounts_for_everyone(county):
    from ruralnet.sources.county import read_county

    villages = read_county(county.path).villages  # the layer as written, before demand points
    out, report = children_from_raster(
        villages, county.population_path, county.settings.age_shares, county.boundary
    )
    assert report.raster_total == pytest.approx(report.in_zones + report.outside_zones)
    assert report.raster_total == pytest.approx(134691, rel=1e-6)
    for stage, share in county.settings.age_shares.items():
        col = f"children_{stage}"
        assert out[col].sum() == round(out["population"].sum() * share)
    assert (out["children_source"] == "raster").all()
    # the raster was made from the villages: each village gets back roughly its own people
    assert np.corrcoef(out["population"], villages["population"])[0, 1] > 0.8


def test_nodata_inside_is_reported(county, tmp_path):
    path = tmp_path / "pop.tif"
    with rasterio.open(county.population_path) as src:
        data = src.read(1)
        profile = src.profile
    inside = np.argwhere(data > 0)
    holes = inside[:: max(1, len(inside) // 50)][:50]
    lost = data[holes[:, 0], holes[:, 1]].sum()
    data[holes[:, 0], holes[:, 1]] = profile["nodata"]
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    sums, report = zonal_sums(path, village_areas(county.villages, county.boundary).geometry)
    assert report.raster_total == pytest.approx(134691 - lost, rel=1e-6)
    assert report.nodata_cells > 50
    assert sums.sum() == pytest.approx(report.in_zones)


def test_grouped_largest_remainder_matches_one_group_at_a_time():
    from ruralnet.analysis.demand import grouped_largest_remainder
    from ruralnet.model.schema import largest_remainder

    rng = np.random.default_rng(3)
    key = np.sort(rng.integers(0, 40, 500))
    weight = rng.integers(1, 30, 500).astype(float)
    totals = {k: int(rng.integers(0, 200)) for k in np.unique(key)}
    got = grouped_largest_remainder(weight, key, np.array([totals[k] for k in key]))
    for k in np.unique(key):
        mine = key == k
        assert got[mine].sum() == totals[k]
        expected = largest_remainder(weight[mine] * totals[k] / weight[mine].sum())
        assert sorted(got[mine]) == sorted(expected)
