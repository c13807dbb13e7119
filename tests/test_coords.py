"""GCJ-02 / BD-09 conversions: accuracy, round trips, behaviour outside China."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from ruralnet.model import coords
from ruralnet.model.geo import haversine_m

rng = np.random.default_rng(42)
LON = rng.uniform(73.7, 134.7, 2000)
LAT = rng.uniform(18.2, 53.4, 2000)


def test_gcj02_offset_is_hundreds_of_metres_in_china():
    glon, glat = coords.wgs84_to_gcj02(LON, LAT)
    shift = haversine_m(LON, LAT, glon, glat)
    assert shift.min() > 5 and shift.max() < 1000
    # Liannan county seat: the known offset there is roughly 500-600 m
    one = haversine_m(112.29, 24.72, *coords.wgs84_to_gcj02(112.29, 24.72))
    assert 300 < one < 800


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (coords.wgs84_to_gcj02, coords.gcj02_to_wgs84),
        (coords.wgs84_to_bd09, coords.bd09_to_wgs84),
        (coords.gcj02_to_bd09, coords.bd09_to_gcj02),
    ],
)
def test_round_trip_well_under_5_m(forward, inverse):
    back = inverse(*forward(LON, LAT))
    err = haversine_m(LON, LAT, *back)
    assert err.max() < 0.01  # 1 cm, far under the 5 m the planners need


def test_inverse_is_accurate_against_the_forward_formula():
    """Converting a GCJ-02 point to WGS84 must land where the forward formula maps back."""
    glon, glat = coords.wgs84_to_gcj02(LON, LAT)
    wlon, wlat = coords.gcj02_to_wgs84(glon, glat)
    err = haversine_m(LON, LAT, wlon, wlat)
    assert np.percentile(err, 100) < 0.01


def test_identity_outside_china():
    lon, lat = np.array([1.52, -73.9, 151.2]), np.array([42.5, 40.7, -33.9])
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(glon, lon)
    np.testing.assert_array_equal(glat, lat)
    assert np.array_equal(coords.to_wgs84(lon, lat, "cgcs2000")[0], lon)


def test_unknown_system_named_in_error():
    with pytest.raises(ValueError, match="mercator"):
        coords.normalise_coord_system("mercator")
    assert coords.normalise_coord_system("Amap") == "gcj02"
    assert coords.normalise_coord_system("BD-09") == "bd09"


def test_qingyuan_boundary_conversion(geodata):
    """The real GCJ-02 county boundaries move by the expected few hundred metres."""
    data = json.loads((geodata / "qingyuan" / "counties_gcj02.geojson").read_text(encoding="utf-8"))
    geom = shapely.geometry.shape(data["features"][0]["geometry"])
    wgs = coords.transform_geometry(geom, "gcj02")
    a = shapely.get_coordinates(geom)
    b = shapely.get_coordinates(wgs)
    shift = haversine_m(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    assert 300 < shift.mean() < 800
    back = shapely.get_coordinates(coords.transform_geometry(wgs, "gcj02", inverse=True))
    assert haversine_m(a[:, 0], a[:, 1], back[:, 0], back[:, 1]).max() < 0.01


def test_local_metric_crs_is_utm():
    crs = coords.local_metric_crs([112.3, 112.4], [24.7, 24.8])
    assert crs.to_epsg() == 32649
    assert coords.local_metric_crs([1.5], [42.5]).to_epsg() == 32631


def _mixed_folder(tmp_path, declare: bool):
    """The bundled county with its villages copied from Amap (GCJ-02) and its sites kept in
    WGS84; ``declare``: county.toml says so in ``[layers]``."""
    import shutil

    import geopandas as gpd

    import ruralnet as rn
    from ruralnet.model.coords import transform_geometry

    demo = rn.datasets.bundled_county()
    folder = tmp_path / ("declared" if declare else "undeclared")
    shutil.copytree(demo, folder)
    villages = gpd.read_file(demo / "villages.gpkg")
    villages.geometry = gpd.GeoSeries(
        transform_geometry(villages.geometry.to_numpy(), "gcj02", inverse=True), crs=villages.crs
    )
    (folder / "villages.gpkg").unlink()
    villages.to_file(folder / "villages.gpkg", driver="GPKG")
    if declare:
        with open(folder / "county.toml", "a", encoding="utf-8") as f:
            f.write('\n[layers]\nvillages = "gcj02"\n')
    return folder


def test_a_mix_of_coordinate_systems_is_declared_per_layer_or_stopped(tmp_path):
    """#29: villages copied from Amap (GCJ-02) beside WGS84 sites moved 83 of 290 villages to
    another nearest school with only a vague warning. Declared per layer (``[layers]``), the
    county snaps every village to the same road node as the clean county; undeclared, it
    stops naming the layer and the likely system."""
    import ruralnet as rn
    from ruralnet.model.errors import NetworkError

    clean = rn.load_county(rn.datasets.bundled_county())
    declared = rn.load_county(_mixed_folder(tmp_path, declare=True))
    net_a, net_b = clean.network("bus"), declared.network("bus")
    snap_a = net_a.snap(clean.villages.geometry)["node"].to_numpy()
    snap_b = net_b.snap(declared.villages.geometry)["node"].to_numpy()
    assert (snap_a == snap_b).mean() > 0.99
    undeclared = rn.load_county(_mixed_folder(tmp_path, declare=False))
    with pytest.raises(NetworkError, match=r"villages: .*GCJ-02.*\[layers\] villages"):
        undeclared.network("bus")


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ('village = "gcj02"', "unknown layer 'village' in \\[layers\\].*villages"),
        ('sites = "mercator"', "\\[layers\\] sites: coord_system 'mercator' is not one of"),
        ("[layers.sites]\ncoord_system = 3", "\\[layers\\] sites: coord_system 3"),
    ],
)
def test_layers_in_county_toml_are_checked(tmp_path, layers, message):
    import shutil

    import ruralnet as rn
    from ruralnet.model.errors import CountyFolderError

    folder = tmp_path / "c"
    shutil.copytree(rn.datasets.bundled_county(), folder)
    with open(folder / "county.toml", "a", encoding="utf-8") as f:
        f.write(("\n[layers]\n" if not layers.startswith("[") else "\n") + layers + "\n")
    with pytest.raises(CountyFolderError, match=message):
        rn.load_county(folder)
