"""Terrain-aware times on the real Andorra SRTM (with its real voids) and the bundled county."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from ruralnet.network.terrain import DEM, apply_terrain, road_grades, tobler_kmh


def test_tobler_shape():
    assert tobler_kmh(0.0, 4.0) == pytest.approx(4.0)
    assert tobler_kmh(-0.05, 4.0) == pytest.approx(4.0 / np.exp(-0.175))  # fastest: gentle descent
    assert tobler_kmh(0.2, 4.0) < tobler_kmh(-0.2, 4.0) < tobler_kmh(0.0, 4.0)
    assert tobler_kmh(0.3, 4.0) == pytest.approx(4.0 * np.exp(-3.5 * 0.35) / np.exp(-0.175))


def test_dem_voids_filled(andorra_dem):
    dem = DEM.read(andorra_dem)
    assert dem.void.sum() == 1892  # SOURCE.md: 1,892 void cells
    assert np.isfinite(dem.elevation).all()
    filled = dem.elevation[dem.void]
    assert filled.min() > 349 - 50 and filled.max() < 3100 + 50  # plausible, not 0 or -32768


def test_walk_times_on_andorra(walk_net, andorra_dem):
    net = apply_terrain(walk_net, andorra_dem)
    report = net.meta["terrain"]
    assert report["void_cells"] == 1892 and report["edges_near_void"] > 0
    assert report["edges"] == walk_net.n_edges
    assert np.isfinite(net.time_s).all() and (net.time_s > 0).all()
    speed = net.speed_kmh
    assert speed.max() <= 4.0 / np.exp(-0.175) + 1e-9
    assert speed.min() >= 4.0 * np.exp(-3.5 * 0.45) / np.exp(-0.175) - 1e-9  # grade clipped at 0.4
    # up and down differ: for each two-way pair, the climb is the slower direction
    dem = DEM.read(andorra_dem)
    z, _ = dem.sample(net.lon, net.lat)
    g = road_grades(net, z, net.settings.grade_window_m)
    steep_up = np.flatnonzero(g > 0.1)[:500]
    pair = {(u, v): i for i, (u, v) in enumerate(zip(net.u.tolist(), net.v.tolist(), strict=True))}
    back = np.array([pair[(net.v[i], net.u[i])] for i in steep_up])
    assert (net.time_s[steep_up] > net.time_s[back]).all()
    assert net.time_s.sum() > walk_net.time_s.sum()  # Andorra is steep: walking takes longer


def test_windowed_grades_conserve_rise(bus_net, andorra_dem):
    dem = DEM.read(andorra_dem)
    z, _ = dem.sample(bus_net.lon, bus_net.lat)
    g = road_grades(bus_net, z, 200.0)
    raw_rise = (z[bus_net.v] - z[bus_net.u]).sum()
    assert (g * bus_net.length_m).sum() == pytest.approx(raw_rise, abs=1e-3 * abs(raw_rise) + 1)
    raw = np.abs(z[bus_net.v] - z[bus_net.u]) / bus_net.length_m
    primary = bus_net.highway == "primary"
    assert np.percentile(np.abs(g[primary]), 90) < np.percentile(raw[primary], 90)  # less noise


def test_bus_slowed_on_steep_grades(bus_net, andorra_dem):
    net = apply_terrain(bus_net, andorra_dem)
    dem = DEM.read(andorra_dem)
    z, _ = dem.sample(net.lon, net.lat)
    steep = np.abs(road_grades(net, z, net.settings.grade_window_m)) > net.settings.bus_steep_grade
    assert steep.any() and (net.speed_kmh[steep] <= 20).all()
    np.testing.assert_array_equal(net.speed_kmh[~steep], bus_net.speed_kmh[~steep])


def test_points_outside_the_dem_stay_flat(walk_net, andorra_dem, tmp_path):
    crop = tmp_path / "crop.tif"
    with rasterio.open(andorra_dem) as src:
        window = Window(0, 0, src.width // 2, src.height)
        profile = src.profile | {
            "width": window.width,
            "height": window.height,
            "transform": src.window_transform(window),
        }
        with rasterio.open(crop, "w", **profile) as dst:
            dst.write(src.read(1, window=window), 1)
    net = apply_terrain(walk_net, crop)
    outside = net.meta["terrain"]["edges_outside_dem"]
    assert 0 < outside < walk_net.n_edges
    dem = DEM.read(crop)
    z, _ = dem.sample(net.lon, net.lat)
    flat = ~(np.isfinite(z[net.u]) & np.isfinite(z[net.v]))
    np.testing.assert_allclose(net.speed_kmh[flat], 4.0)


def test_county_walk_uses_its_dem():
    import warnings

    import ruralnet as rn
    from ruralnet.model.errors import RuralnetWarning
    from ruralnet.network.build import network_from_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)
        county = rn.load_county(rn.datasets.bundled_county())
    walk = county.network("walk")
    assert walk.meta["terrain"]["dem"] == "dem.tif"
    flat = network_from_file(county.roads_path, "walk")
    assert walk.time_s.sum() > 1.05 * flat.time_s.sum()
