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


def way_to_school(grade, walk, bus, s, urban=False) -> str:
    """The way-to-school rules written out by hand from DOMAIN.md ("How pupils travel"), one
    pupil group at a time: the oracle the library's rules are checked against (``NaN``: no
    way). Near home first; urban pupils by transit or guardians, never a school bus;
    kindergarten children with their guardians; juniors board; rural pupils of compulsory
    age ride; grades from ``boarding_min_grade`` board; else beyond every limit."""
    walk = np.inf if not np.isfinite(walk) else walk
    bus = np.inf if not np.isfinite(bus) else bus
    reachable = np.isfinite(walk) or np.isfinite(bus)
    if walk <= s.max_walk_minutes:
        return "walk"
    town = bool(urban) and not s.urban_school_buses
    if town and bus <= s.max_ride_minutes:
        return "transit"
    if grade <= 0 and bus <= s.escort_minutes:
        return "guardian"
    if grade >= s.board_first_grade and reachable:
        return "board"
    young = grade <= s.young_max_grade
    limit = min(s.young_ride_minutes, s.max_ride_minutes) if young else s.max_ride_minutes
    may_ride = grade >= 1 or s.kindergarten_buses
    if not town and may_ride and bus <= limit:
        return "bus"
    if grade >= s.boarding_min_grade and reachable:
        return "board"
    return "beyond"


def check_rows_against_the_oracle(ctx, rows, s) -> None:
    """Every flow row's way re-derived from the raw times by the oracle: a rider of a pick-up
    too small for a bus line (``thin_line``) is brought by a guardian or boards instead."""
    from ruralnet.analysis import rules

    urban = ctx.groups["urban"].to_numpy(bool)
    for r in rows.itertuples():
        w, b = ctx.walk[r.group, r.site], ctx.bus[r.group, r.site]
        expected = way_to_school(r.grade, w, b, s, urban[r.group])
        if r.thin_line:
            assert expected == "bus" and rules.WAYS[r.way] in ("guardian", "board")
        else:
            assert rules.WAYS[r.way] == expected, (r, expected)


@pytest.fixture(scope="session")
def way_oracle():
    """:func:`way_to_school`, for the tests that re-check the rules."""
    return way_to_school


@pytest.fixture(scope="session")
def way_check():
    """:func:`check_rows_against_the_oracle`, for the tests that re-check a plan's rows."""
    return check_rows_against_the_oracle


@pytest.fixture(scope="session")
def page_dom(tmp_path_factory):
    """A function that opens a page in a real headless Chromium, offline, and returns the DOM
    after its scripts ran; ``None`` when no Chromium is installed."""
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return None
    profile = tmp_path_factory.mktemp("chromium-profile")

    def dom(path: Path) -> str:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9",
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=10000"]  # fmt: skip
        done = subprocess.run(
            [chromium, *flags, "--dump-dom", Path(path).as_uri()],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        return done.stdout

    return dom
