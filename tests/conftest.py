"""Shared fixtures: real data from ../shared/geodata, skipped with a reason when absent."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from ruralnet.model.errors import RuralnetWarning
from ruralnet.sources import datasets

NO_SHARED = (
    "../shared/geodata is not on this machine (a clone outside the ruralnet workspace); "
    "set RURALNET_GEODATA to run the real-data tests"
)


@pytest.fixture(scope="session")
def geodata() -> Path:
    root = datasets.shared_geodata()
    if root is None:
        pytest.skip(NO_SHARED)
    return root


@pytest.fixture(scope="session")
def andorra_pbf(geodata) -> Path:
    path = geodata / "andorra" / "andorra-2025-01.osm.pbf"
    if not path.exists():
        pytest.skip(f"{path} missing")
    return path


@pytest.fixture(scope="session")
def andorra_dem(geodata) -> Path:
    return geodata / "andorra" / "srtm3_andorra.tif"


@pytest.fixture(scope="session")
def andorra_roads(andorra_pbf):
    from ruralnet.sources.osm import read_highways

    return read_highways(andorra_pbf)


@pytest.fixture(scope="session")
def bus_net(andorra_roads):
    from ruralnet.network.build import build_network

    return build_network(andorra_roads, "bus")


@pytest.fixture(scope="session")
def walk_net(andorra_roads):
    from ruralnet.network.build import build_network

    return build_network(andorra_roads, "walk")


@pytest.fixture(scope="session")
def andorra_county_dir(andorra_pbf, tmp_path_factory) -> Path:
    from ruralnet.demo.andorra import make_andorra_county

    return make_andorra_county(tmp_path_factory.mktemp("andorra") / "county")


@pytest.fixture(scope="session")
def andorra_county(andorra_county_dir):
    from ruralnet import load_county

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)  # Andorra has no "three schools"
        return load_county(andorra_county_dir)


@pytest.fixture(scope="session")
def county():
    """The bundled demo county (generated; needs no shared data)."""
    from ruralnet import load_county

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)  # its crowded county-seat schools
        return load_county(datasets.bundled_county())


@pytest.fixture(scope="session")
def demo_analysis(county):
    """The bundled county's whole analysis as ``make demo`` makes it (every plan, every
    rider routed, the county fleet): made once for the suite, read by many tests."""
    from ruralnet.study import analyse_county

    return analyse_county(county)


@pytest.fixture(scope="session")
def demo_analysis_no_buses(county):
    """The bundled county's analysis without bus routing (the plans and their checks)."""
    from ruralnet.study import analyse_county

    return analyse_county(county, buses=None)


def way_to_school(grade, walk, bus, s) -> str:
    """The way-to-school rules written out by hand from DOMAIN.md, one pupil group at a time:
    the oracle the library's rules are checked against (``NaN``: no way)."""
    walk = np.inf if not np.isfinite(walk) else walk
    bus = np.inf if not np.isfinite(bus) else bus
    if walk <= s.max_walk_minutes:
        return "walk"
    limit = (
        min(s.young_ride_minutes, s.max_ride_minutes)
        if grade <= s.young_max_grade
        else s.max_ride_minutes
    )
    if bus <= limit:
        return "bus"
    if grade >= s.boarding_min_grade and (np.isfinite(walk) or np.isfinite(bus)):
        return "board"
    return "beyond"


@pytest.fixture(scope="session")
def way_oracle():
    """:func:`way_to_school`, for the tests that re-check the rules."""
    return way_to_school
