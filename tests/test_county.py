"""The county folder convention: one call reads and validates everything."""

from __future__ import annotations

import shutil
import warnings

import geopandas as gpd
import pytest
import shapely

from ruralnet import load_county
from ruralnet.model.errors import CountyFolderError, RuralnetWarning, SchemaError, SettingsError


def test_andorra_county_loads(andorra_county, andorra_county_dir):
    c = andorra_county
    assert len(c.sites) == 30 and len(c.villages) >= 61
    assert c.sites["township_code"].str.match(r"AD0[1-7]").all()
    assert (c.sites["pupils_source"].str.startswith("assumed")).all(), (
        "assumed enrolment must be labelled"
    )
    assert c.dem_path is not None and c.roads_path.name == "roads.osm.pbf"
    assert c.network("bus") is c.network("bus"), "networks are cached"
    # children derived from (OSM or assumed) populations; every child whole
    total = c.villages[["children_kindergarten", "children_primary", "children_junior"]].sum().sum()
    assert total > 0 and (c.villages["children_primary"] % 1 == 0).all()


def _copy(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return dst


def test_settings_from_county_toml(andorra_county_dir, tmp_path):
    folder = _copy(andorra_county_dir, tmp_path / "c")
    toml = folder / "county.toml"
    toml.write_text(
        toml.read_text() + "\n[settings]\nwalk_speed_kmh = 3.5\nbus_speeds_kmh = { track = 10.0 }\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)
        c = load_county(folder)
    assert c.settings.walk_speed_kmh == 3.5
    assert c.settings.bus_speeds_kmh["track"] == 10 and c.settings.bus_speeds_kmh["primary"] == 55
    toml.write_text(toml.read_text() + "walking_speed = 3\n")
    with pytest.raises(SettingsError, match="walking_speed"):
        load_county(folder)


def test_missing_roads(tmp_path):
    (tmp_path / "c").mkdir()
    with pytest.raises(CountyFolderError, match=r"roads\.osm\.pbf"):
        load_county(tmp_path / "c")
    with pytest.raises(FileNotFoundError):
        load_county(tmp_path / "nowhere")


def test_problems_of_both_layers_reported_together(andorra_county_dir, tmp_path):
    folder = _copy(andorra_county_dir, tmp_path / "broken")
    sites = gpd.read_file(folder / "sites.gpkg")
    sites.loc[0, "pupils"] = -4
    sites.loc[1, "site_id"] = sites.loc[2, "site_id"]
    sites.loc[3, "geometry"] = shapely.Point(112.3, 24.7)  # in China, far outside Andorra
    sites.to_file(folder / "sites.gpkg")
    villages = gpd.read_file(folder / "villages.gpkg")
    villages.loc[0, "population"] = None
    villages.to_file(folder / "villages.gpkg")
    with pytest.raises(SchemaError) as err:
        load_county(folder)
    text = str(err.value)
    assert "sites: negative value" in text
    assert "sites: duplicate id" in text
    assert "outside the study area" in text
    assert "villages: neither child counts nor population" in text


def test_county_without_sites_file_reads_osm_schools(andorra_county_dir, tmp_path):
    folder = _copy(andorra_county_dir, tmp_path / "nosites")
    (folder / "sites.gpkg").unlink()
    with pytest.raises(SchemaError, match="pupils"):  # OSM has no enrolment: must be supplied
        load_county(folder)
