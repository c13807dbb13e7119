"""What the README promises works from the wheel, outside the checkout.

Builds the wheel, installs it into a fresh virtual environment, and from an empty folder runs
``ruralnet demo --out out`` (the bundled county is package data) and ``ruralnet demo-data``
(the Qingyuan reference data too). Slow: a real install of every dependency.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, cwd, timeout=900):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    res = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert res.returncode == 0, f"{args}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"
    return res


@pytest.mark.slow
def test_wheel_installs_and_runs_the_demo_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)], ROOT
    )
    wheel = next(dist.glob("ruralnet-*.whl"))
    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)], tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    # the package is the installed one, and its bundled county lies inside it
    info = _run(
        [
            str(py),
            "-c",
            "import json, sys, ruralnet; print(json.dumps([ruralnet.__file__, "
            "str(ruralnet.datasets.bundled_county()), 'folium' in sys.modules]))",
        ],
        empty,
    )
    location, county, folium_loaded = json.loads(info.stdout)
    assert str(env_dir) in location and str(env_dir) in county
    assert not folium_loaded, "import ruralnet stays light"
    # #29: what geopandas's explore() needs comes with the wheel (mapclassify was only in the
    # dev venv), and the README's short module names import
    _run(
        [
            str(py),
            "-c",
            "import ruralnet as rn, ruralnet.maps; "
            "c = rn.load_county(rn.datasets.bundled_county()); "
            "assert 'leaflet' in c.sites.explore(column='kind').get_root().render().lower()",
        ],
        empty,
    )
    ruralnet = env_dir / "bin" / "ruralnet"
    _run([str(ruralnet), "--no-progress", "demo", "--out", "out"], empty)
    out = empty / "out"
    for name in (
        "map.html",
        "summary.json",
        "catchments/pupil_accounting.csv",
        "report/report.html",
    ):
        assert (out / name).is_file(), name
    for name in ("plan_sites.csv", "assignment.csv", "policy_checks.csv", "routes.csv"):
        assert (out / "report" / name).is_file(), name
    _run([str(ruralnet), "notebooks", "--out", "nb"], empty)  # #29: the notebooks ship too
    assert len(list((empty / "nb").glob("*.ipynb"))) >= 5
    _run([str(ruralnet), "demo-data", "--out", "gen", "--county", "441825"], empty)
    assert (empty / "gen" / "sites.gpkg").is_file() and (empty / "gen" / "roads.osm").is_file()
