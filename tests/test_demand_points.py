"""Demand where children live: a town's residents' committees spread over the population
raster into demand points, every committee's children per stage and grade unchanged."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import ruralnet as rn
from ruralnet.model.schema import CHILD_COLUMNS
from ruralnet.sources.county import read_county
from ruralnet.sources.population import grade_children

DEMO = rn.datasets.bundled_county()


def _per_village(villages: pd.DataFrame) -> pd.DataFrame:
    """Children per original village and grade level, and population (an oracle that adds
    the points up by ``spread_from``)."""
    key = (
        villages["spread_from"].fillna(villages["village_id"])
        if "spread_from" in villages
        else villages["village_id"]
    )
    table = pd.DataFrame(grade_children(villages), index=villages.index)
    table["population"] = villages["population"].to_numpy()
    for col in CHILD_COLUMNS.values():
        table[col] = villages[col].to_numpy()
    return table.groupby(key.to_numpy()).sum().sort_index()


def test_large_villages_become_points_with_the_same_children(county):
    raw = read_county(DEMO).villages
    spread = county.villages
    big = raw.loc[raw["population"] > county.settings.spread_min_population, "village_id"]
    assert len(big) >= 2
    assert set(spread["spread_from"].dropna()) == set(big)
    assert spread["village_id"].is_unique and len(spread) > len(raw)
    pd.testing.assert_frame_equal(_per_village(raw), _per_village(spread), check_dtype=False)
    for vid in big:  # points a few hundred metres apart, around the committee's point
        points = spread[spread["spread_from"] == vid].to_crs(32649)
        assert len(points) >= 2
        gaps = points.geometry.distance(points.geometry.iloc[0]).iloc[1:]
        assert (gaps > 0).all() and gaps.max() > county.settings.spread_spacing_m / 2
        centre = raw[raw["village_id"] == vid].to_crs(32649).geometry.iloc[0]
        assert points.geometry.distance(centre).max() < 10_000
        assert (
            points["township_code"] == raw.set_index("village_id").loc[vid, "township_code"]
        ).all()


def test_demand_groups_keep_every_pupil_of_the_spread_villages(county, demo_analysis_no_buses):
    ctx = demo_analysis_no_buses.context
    assert int(ctx.groups["pupils"].sum()) == int(
        county.sites.loc[county.sites["status"] == "open", "pupils"].sum()
    )
    points = ctx.groups[ctx.groups["origin_id"].str.contains("~")]
    assert points["pupils"].sum() > 0 and points["urban"].all()


def test_without_a_raster_the_point_stays_and_is_named(tmp_path):
    folder = tmp_path / "county"
    shutil.copytree(DEMO, folder)
    (folder / "population.tif").unlink()
    with pytest.warns(rn.RuralnetWarning, match="stay one demand point each") as caught:
        county = rn.load_county(folder)
    assert "三江4区" in str(caught[-1].message)
    assert "spread_from" not in county.villages
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rn.RuralnetWarning)
        off = rn.load_county(DEMO, rn.Settings(spread_min_population=0.0))
    assert len(off.villages) == len(read_county(DEMO).villages)
    assert np.array_equal(off.villages["population"], read_county(DEMO).villages["population"])
