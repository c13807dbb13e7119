"""Broken, hostile and unusual inputs: each kind gets a clear error (one line, exit code 2,
naming the file, row or column) or a flagged result; no input file is written, no partial
report is left, and names cannot run code in any output.

Every county here is the bundled county copied and broken one way.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

import ruralnet as rn
from ruralnet.model.errors import (
    CountyFolderError,
    InputError,
    NetworkError,
    RuralnetError,
    SchemaError,
)

DEMO = rn.datasets.bundled_county()


@pytest.fixture
def folder(tmp_path) -> Path:
    out = tmp_path / "county"
    shutil.copytree(DEMO, out)
    return out


def load(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rn.RuralnetWarning)
        return rn.load_county(folder)


def cli(*args, cwd=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "ruralnet.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def one_line_error(res) -> str:
    """The error line of a failed command: exit code 2, no traceback."""
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, res.stderr
    return errors[0]


def edit_layer(folder: Path, layer: str, change) -> None:
    path = folder / f"{layer}.gpkg"
    gdf = gpd.read_file(path)
    gdf = change(gdf)
    path.unlink()
    gdf.to_file(path, driver="GPKG")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# --------------------------------------------------------------------------------------
# layers


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda g: g.iloc[:0], "the layer has no sites"),
        (lambda g: g.assign(status="closed", pupils=0), "no open site"),
        (lambda g: g.assign(pupils=0), "every open site has 0 pupils"),
        (
            lambda g: g.assign(status=np.where(g.index == 3, "closed", g["status"])),
            "closed site lists pupils",
        ),
        (
            lambda g: g.assign(
                township_code=np.where(g.index == 0, "999999999", g["township_code"])
            ),
            "township code not in townships layer: 999999999",  # the code itself, named
        ),
        (lambda g: g.assign(pupils=np.where(g.index == 1, -5, g["pupils"])), "negative value"),
    ],
    ids=["empty", "all-closed", "all-zero", "closed-with-pupils", "unknown-township", "negative"],
)
def test_broken_sites_are_named(folder, change, message):
    edit_layer(folder, "sites", change)
    with pytest.raises(SchemaError, match=message):
        load(folder)


def _grade(col: str, value, row: int = 0):
    """Per-grade pupils that add up (each site's pupils spread over its grades), then one
    cell of ``col`` at the ``row``-th teaching point set to ``value``."""
    from ruralnet.model.grades import GRADE_COLUMNS, parse_grades

    def change(g):
        g = g.copy()
        for name in GRADE_COLUMNS.values():
            g[name] = 0
        for i in g.index:
            levels = sorted(parse_grades(g.loc[i, "grades"]))
            share = np.full(len(levels), g.loc[i, "pupils"] // len(levels))
            share[0] += g.loc[i, "pupils"] - share.sum()
            for level, n in zip(levels, share, strict=True):
                g.loc[i, GRADE_COLUMNS[level]] = int(n)
        g = g.astype({c: object for c in GRADE_COLUMNS.values()})
        at = g.index[g["kind"] == "teaching_point"][row]
        g.loc[at, col] = value
        return g

    return change


def _settings(text: str):
    def change(folder: Path) -> None:
        toml = (folder / "county.toml").read_text(encoding="utf-8")
        (folder / "county.toml").write_text(
            toml.replace("[settings]\n", f"[settings]\n{text}\n"), encoding="utf-8"
        )

    return change


def _sites(change):
    return lambda folder: edit_layer(folder, "sites", change)


#: Broken and hostile county folders (the bundled county, broken one way each) of the inputs
#: added since the first robustness round: each one error naming the thing (issue #25).
BROKEN_COUNTIES = {
    "grade-negative": (_sites(_grade("g1", -3)), SchemaError, r"\[column 'g1'.*negative"),
    "grade-fractional": (_sites(_grade("g2", 2.5)), SchemaError, r"\[column 'g2'.*whole"),
    "grade-text": (_sites(_grade("g1", "many")), SchemaError, r"\[column 'g1'.*not numbers"),
    "grade-outside-span": (_sites(_grade("g7", 4)), SchemaError, "g7, a grade the site does not"),
    "grade-short": (_sites(_grade("g1", 0)), SchemaError, "do not add up to pupils"),
    "bell-superscript": (
        _sites(lambda g: g.assign(bell_time=np.where(g.index == 0, "0\u00b2:30", ""))),
        SchemaError,
        "bell time is not HH:MM",
    ),
    "settings-bell-superscript": (
        _settings('bell_times = { central_primary = "0\u00b2:30" }'),
        rn.SettingsError,
        "central_primary",
    ),
    "pupils-1e7": (
        _sites(lambda g: g.assign(pupils=np.where(g.index == 0, 10_000_000, g["pupils"]))),
        SchemaError,
        "pupils.*more than 30,000",
    ),
    "seats-1": (_settings("bus_seats = 1"), rn.SettingsError, "bus_seats must be a whole number"),
    "outflow-0.99": (_settings("rural_outflow_rate = 0.99"), rn.SettingsError, "up to 0.5"),
    "urban-share-2": (
        lambda folder: (folder / "county.toml").write_text(
            (folder / "county.toml")
            .read_text(encoding="utf-8")
            .replace("urban_share = 0.4532", "urban_share = 2"),
            encoding="utf-8",
        ),
        CountyFolderError,
        "urban_share must be a share",
    ),
    "cost-1e30": (_settings("bus_cost_per_year = 1e30"), rn.SettingsError, "bus_cost_per_year"),
    "weekly-nan": (_settings("weekly_ride_minutes = nan"), rn.SettingsError, "weekly_ride"),
    "unknown-township": (
        _sites(
            lambda g: g.assign(
                township_code=np.where(g.index == 0, "441826999", g["township_code"])
            )
        ),
        SchemaError,
        "441826999",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_COUNTIES))
def test_broken_county_folders_get_one_error_naming_the_thing(folder, case):
    from ruralnet.sources.county import read_county

    edit, error, message = BROKEN_COUNTIES[case]
    edit(folder)
    before = snapshot(folder)
    with pytest.raises(error, match=message):
        read_county(folder)
    assert snapshot(folder) == before, "no input file is written"


def test_a_learning_district_without_a_central_school_is_named_when_read(folder):
    from ruralnet.sources.county import read_county

    sites = gpd.read_file(folder / "sites.gpkg")
    points = sites.index[sites["kind"] == "teaching_point"][:3]
    edit_layer(folder, "sites", lambda g: g.assign(
        district_id=np.where(g.index.isin(points), "XQ-9", None)
    ))  # fmt: skip
    with pytest.warns(rn.RuralnetWarning, match="learning district 'XQ-9' has no open central"):
        read_county(folder)


def test_shared_ids_and_empty_villages(folder):
    villages = gpd.read_file(folder / "villages.gpkg")
    edit_layer(
        folder,
        "sites",
        lambda g: g.assign(
            site_id=np.where(g.index == 0, villages["village_id"].iloc[0], g["site_id"])
        ),
    )
    shared = villages["village_id"].iloc[0]
    with pytest.raises(SchemaError, match=f"stand in both sites .* and villages .*: {shared}"):
        load(folder)
    shutil.copy(DEMO / "sites.gpkg", folder / "sites.gpkg")
    edit_layer(
        folder,
        "villages",
        lambda g: g.assign(
            children_kindergarten=0, children_primary=0, children_junior=0, population=0
        ),
    )
    with pytest.raises(SchemaError, match="no village has any child"):
        load(folder)
    edit_layer(folder, "villages", lambda g: g.iloc[:0])
    with pytest.raises(SchemaError, match="no villages"):
        load(folder)


def test_bell_times_and_depots_are_checked(folder):
    edit_layer(
        folder,
        "sites",
        lambda g: g.assign(
            bell_time=np.where(g.index == 2, "8:70", np.where(g.index == 3, "7:45", ""))
        ),
    )
    depots = gpd.GeoDataFrame(
        {"name": ["车队A", "远处"]},
        geometry=gpd.points_from_xy([112.29, 150.0], [24.72, 10.0]),
        crs="EPSG:4326",
    )
    depots.to_file(folder / "depots.gpkg", driver="GPKG")
    with pytest.raises(SchemaError) as err:
        load(folder)
    text = str(err.value)
    sites = gpd.read_file(folder / "sites.gpkg")
    assert "bell time is not HH:MM" in text and str(sites["site_id"].iloc[2]) in text
    assert "depots.gpkg: depots outside the county" in text
    # fixed, both are read: the site's own bell, the depot layer
    edit_layer(folder, "sites", lambda g: g.assign(bell_time=np.where(g.index == 3, "7:45", "")))
    depots.iloc[:1].to_file(folder / "depots.gpkg", driver="GPKG")
    county = load(folder)
    assert (
        county.sites["bell_time"].iloc[3] == "07:45"
        and county.sites["bell_time"].isna().sum() == len(sites) - 1
    )
    assert list(county.depots["depot_id"]) == ["depot-1"]
    # issue #25: the same depot in a projected CRS (UTM 49N) is the same depot
    (folder / "depots.gpkg").unlink()
    depots.iloc[:1].to_crs("EPSG:32649").to_file(folder / "depots.gpkg", driver="GPKG")
    utm = load(folder).depots
    assert utm.crs.to_epsg() == 4326
    assert (
        abs(utm.geometry.x.iloc[0] - 112.29) < 1e-6 and abs(utm.geometry.y.iloc[0] - 24.72) < 1e-6
    )


def test_problems_of_several_files_come_together(folder):
    edit_layer(folder, "sites", lambda g: g.assign(pupils=np.where(g.index == 1, -5, g["pupils"])))
    (folder / "boundary.geojson").write_text("{ not json", encoding="utf-8")
    with pytest.raises(SchemaError) as err:
        load(folder)
    text = str(err.value)
    assert "negative value" in text and "boundary.geojson" in text


def test_a_county_with_one_site_runs(folder, tmp_path):
    keep = ["441826100-13"]
    edit_layer(folder, "sites", lambda g: g[g["site_id"].isin(keep)])
    out = tmp_path / "out"
    res = cli("--no-progress", "report", folder, "--out", out, "--buses", "none")
    assert res.returncode == 0, res.stderr[-3000:]
    sites = pd.read_csv(out / "county" / "plan_sites.csv")
    assert set(sites["plan"]) == {"current", "merger", "optimised", "concentrated"}
    assert len(sites) == 4


# --------------------------------------------------------------------------------------
# rasters, roads, boundary


def _write_raster(path: Path, data: np.ndarray, crs="EPSG:32649", bounds=(600_000, 2_700_000)):
    from rasterio.transform import from_origin

    with rasterio.open(
        path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
        dtype=data.dtype, crs=crs, transform=from_origin(bounds[0], bounds[1], 100, 100), nodata=-1,
    ) as dst:  # fmt: skip
        dst.write(data, 1)


def test_broken_rasters(folder):
    with rasterio.open(folder / "dem.tif") as src:
        data, profile = src.read(1), src.profile
    profile.pop("crs")
    (folder / "dem.tif").unlink()
    with rasterio.open(folder / "dem.tif", "w", **profile) as dst:
        dst.write(data, 1)
    with pytest.raises(SchemaError, match=r"dem\.tif: the elevation raster has no CRS"):
        load(folder)
    shutil.copy(DEMO / "dem.tif", folder / "dem.tif")
    blob = (folder / "dem.tif").read_bytes()
    (folder / "dem.tif").write_bytes(blob[: len(blob) // 2])  # cut short
    with pytest.raises(SchemaError, match=r"dem\.tif: cannot read the elevation raster"):
        load(folder)
    shutil.copy(DEMO / "dem.tif", folder / "dem.tif")
    _write_raster(folder / "dem.tif", np.full((20, 20), 300, "int16"), bounds=(100_000, 1_000_000))
    with pytest.raises(SchemaError, match="covers none of the county"):
        load(folder)
    shutil.copy(DEMO / "dem.tif", folder / "dem.tif")
    with rasterio.open(folder / "population.tif") as src:
        zeros, profile = np.zeros_like(src.read(1)), src.profile
    (folder / "population.tif").unlink()
    with rasterio.open(folder / "population.tif", "w", **profile) as dst:
        dst.write(zeros, 1)
    with pytest.raises(SchemaError, match="every cell of the population raster is 0"):
        load(folder)
    with rasterio.open(folder / "population.tif", "r+") as dst:
        dst.write(np.full_like(zeros, profile["nodata"]), 1)
    with pytest.raises(SchemaError, match="every cell of the population raster is nodata"):
        load(folder)


def test_roads_of_another_country(folder, andorra_pbf):
    (folder / "roads.osm").unlink()
    shutil.copy(andorra_pbf, folder / "roads.osm.pbf")
    county = load(folder)
    with pytest.raises(NetworkError, match="does not cover the county"):
        county.network("bus")
    res = cli("--no-progress", "demo", folder, "--out", folder.parent / "out")
    assert "does not cover the county" in one_line_error(res)


def test_unreadable_road_file_and_boundary(folder):
    (folder / "roads.osm").write_text("garbage", encoding="utf-8")
    with pytest.raises(RuralnetError, match=r"roads\.osm"):
        load(folder).network("walk")
    shutil.copy(DEMO / "roads.osm", folder / "roads.osm")
    (folder / "boundary.geojson").write_text(
        '{"type": "FeatureCollection", "features": []}', encoding="utf-8"
    )
    with pytest.raises(SchemaError, match=r"boundary\.geojson: no polygon"):
        load(folder)


# --------------------------------------------------------------------------------------
# county.toml and duplicate files


@pytest.mark.parametrize(
    "text, message",
    [
        ('settings = "fast"\n', "settings must be a table"),
        (
            "[setings]\nmax_walk_minutes = 20\n",
            "unknown table \\[setings\\] \\(did you mean 'settings'",
        ),
        (
            '[county]\ncoord_sytem = "gcj02"\n',
            "unknown key 'coord_sytem' in \\[county\\] \\(did you mean 'coord_system'",
        ),
        ('[county]\ncoord_system = "mars-grid"\n', "coord_system 'mars-grid' is not one of"),
        ('[settings]\nmax_walk_minutes = "thirty"\n', "max_walk_minutes must be a positive number"),
        ("[settings]\nmax_walk_minute = 25\n", "did you mean 'max_walk_minutes'"),
    ],
    ids=["settings-text", "table-typo", "key-typo", "coord-system", "wrong-type", "setting-typo"],
)
def test_county_toml_mistakes_are_named(folder, text, message):
    (folder / "county.toml").write_text(text, encoding="utf-8")
    with pytest.raises(RuralnetError, match=message):
        load(folder)


def test_two_sites_files(folder):
    gpd.read_file(folder / "sites.gpkg").to_file(folder / "sites.geojson", driver="GeoJSON")
    with pytest.raises(RuralnetError, match="2 sites files"):
        load(folder)


def test_gcj02_layers_read_as_wgs84_are_flagged(folder):
    from ruralnet.model.coords import transform_geometry

    for layer in ("sites", "villages"):
        edit_layer(
            folder,
            layer,
            lambda g: g.set_geometry(
                gpd.GeoSeries(
                    transform_geometry(g.geometry.to_numpy(), "gcj02", inverse=True), crs=g.crs
                )
            ),
        )
    county = load(folder)
    with pytest.warns(rn.RuralnetWarning, match="GCJ-02"):
        county.network("walk")
    toml = folder / "county.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            'coord_system = "wgs84"', 'coord_system = "gcj02"'
        ),
        encoding="utf-8",
    )
    fixed = load(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error", rn.RuralnetWarning)
        fixed.network("walk")  # no warning once the folder says GCJ-02
    original = load(DEMO)
    d = fixed.sites.to_crs(32649).distance(original.sites.to_crs(32649))
    assert d.max() < 1.0, "converted back to within a metre"


# --------------------------------------------------------------------------------------
# outputs


def test_output_folders_that_would_hurt(folder, tmp_path):
    before = snapshot(folder)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, message in (
        (a_file, "is a file"),
        (folder, "inside or above the input folder"),
        (folder / "sub", "inside or above the input folder"),
        (folder.parent, "inside or above the input folder"),
        (Path("/sys/ruralnet-out"), "cannot write in"),
    ):
        line = one_line_error(cli("--no-progress", "demo", folder, "--out", out))
        assert message in line, line
    # report: OUT/<county> would be the county itself
    line = one_line_error(cli("--no-progress", "report", folder, "--out", folder.parent))
    assert "inside or above the input folder" in line
    twin = tmp_path / "elsewhere" / "county"
    shutil.copytree(folder, twin)
    line = one_line_error(cli("--no-progress", "report", folder, twin, "--out", tmp_path / "out"))
    assert "same name" in line
    others = tmp_path / "others"
    others.mkdir()
    (others / "notes.txt").write_text("mine")
    line = one_line_error(cli("--no-progress", "demo", folder, "--out", others))
    assert "holds files ruralnet did not write" in line
    assert snapshot(folder) == before, "no input file is written"


def _ctrl_c_reaches_it() -> None:
    """A job started in the background (``cmd &``, nohup) inherits an ignored SIGINT, which
    Python then keeps ignoring; the child here must get Ctrl-C as a user's terminal sends it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_runs_leave_the_previous_report_or_nothing(folder, tmp_path):
    out = tmp_path / "out"
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ruralnet.cli",
                "--no-progress",
                "demo",
                str(folder),
                "--out",
                str(out),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_ctrl_c_reaches_it,
        )
        time.sleep(8)  # well into the analysis
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        if sig in (signal.SIGINT, signal.SIGTERM):  # issue #25: SIGTERM left .partial folders
            assert proc.returncode == (130 if sig == signal.SIGINT else 143), err[-2000:]
            assert "Traceback" not in err
            assert err.strip().splitlines()[-1].endswith("interrupted")
        assert not out.exists(), "nothing is left of an interrupted first run"
        left = [p for p in tmp_path.iterdir() if ".partial-" in p.name]
        assert not left or sig == signal.SIGKILL, left  # only SIGKILL cannot clean up
    res = cli("--no-progress", "demo", folder, "--out", out, "--no-progress")
    assert res.returncode == 0, res.stderr[-2000:]
    first = (out / "report" / "plan_sites.csv").read_bytes()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ruralnet.cli",
            "demo",
            str(folder),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    time.sleep(8)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / "report" / "plan_sites.csv").read_bytes() == first, (
        "the previous report is intact"
    )
    assert len(list(out.rglob("*"))) > 20


#: Names that try every context a name reaches: JavaScript template literals and strings,
#: HTML text and attributes, a script's end inside a JSON blob, spreadsheet formulas,
#: matplotlib's mathtext, very long text. Each payload, if run, marks the page's body.
HOSTILE = [
    "`;document.body.setAttribute('data-pwned','1');`",
    "${document.body.setAttribute('data-pwned','2')}",
    "<script>document.body.setAttribute('data-pwned','3')</script>",
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','4')\">",
    "x\" onmouseover=\"document.body.setAttribute('data-pwned','5')\" y=\"",
    "</script><script>document.body.setAttribute('data-pwned','6')</script>",
    "back\\slash \\u0060 and 'quotes\" $\\notacommand$",
    '=HYPERLINK("http://x","click")',
    "+1+2",
    "-2+3",
    "@SUM(A1)",
    "长" * 300,
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _numeric(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _hostile_county(folder: Path) -> None:
    """The bundled county with hostile names on sites (central schools among them), villages
    and townships, and cheap solver limits (the outputs matter here, not the fleet size)."""
    sites = gpd.read_file(folder / "sites.gpkg")
    big = sites.sort_values("pupils", ascending=False).index[:3].tolist()
    for k, i in enumerate([*big, *sites.index[: len(HOSTILE) - 3]]):
        sites.loc[i, "name"] = HOSTILE[k % len(HOSTILE)]
    edit_layer(folder, "sites", lambda g: sites)
    edit_layer(folder, "villages", lambda g: g.assign(
        name=[HOSTILE[i % len(HOSTILE)] if i < 24 else n for i, n in enumerate(g["name"])]
    ))  # fmt: skip
    edit_layer(folder, "townships", lambda g: g.assign(
        name=[HOSTILE[(i + 3) % len(HOSTILE)] if i < 2 else n for i, n in enumerate(g["name"])]
    ))  # fmt: skip
    toml = (folder / "county.toml").read_text(encoding="utf-8")
    toml = toml.replace(
        "[settings]\n", "[settings]\nbus_solver_iterations = 1000\nfleet_solver_nodes = 200\n"
    )
    (folder / "county.toml").write_text(toml, encoding="utf-8")


def test_names_cannot_run_code_in_any_output(folder, tmp_path, page_dom):
    """Issue #25: every output of a run (report with buses and a phase year) with hostile
    names: CSV and XLSX cells never start a formula, no XLSX cell is a formula, JSON and
    GeoPackages keep the names as they are, SVG charts parse, and in a real browser every page
    and map runs its own script (maps draw) and no name's payload runs."""
    import csv
    import json
    import xml.etree.ElementTree as ET

    import openpyxl
    import pyogrio

    _hostile_county(folder)
    out = tmp_path / "out"
    res = cli("--no-progress", "report", folder, "--out", out, "--years", "2026", timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    d = out / "county"
    files = [p for p in d.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".csv", ".xlsx", ".html", ".json", ".gpkg"} <= kinds, kinds
    seen = set()
    for path in files:
        name = str(path.relative_to(d))
        if path.suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as f:
                for row in csv.reader(f):
                    for cell in row:
                        seen.update(h for h in HOSTILE if h.lstrip("=+-@") in cell)
                        assert not (cell.startswith(FORMULA_START) and not _numeric(cell)), (
                            name, cell[:80])  # fmt: skip
        elif path.suffix == ".xlsx":
            wb = openpyxl.load_workbook(path)
            for ws in wb:
                for row in ws.iter_rows():
                    for c in row:
                        assert c.data_type != "f", (name, ws.title, c.coordinate, c.value)
                        if isinstance(c.value, str):
                            assert not c.value.startswith(FORMULA_START), (name, c.coordinate)
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".svg":
            ET.parse(path)
        elif path.suffix == ".gpkg":
            for layer, _ in pyogrio.list_layers(path):
                gdf = gpd.read_file(path, layer=layer)
                for col in gdf.columns.drop("geometry"):
                    texts = set(gdf[col].dropna().astype(str))
                    seen.update(h for h in HOSTILE if h in texts)
    assert HOSTILE[0] in seen and HOSTILE[7] in seen, "names reach the tables as given"
    pages = sorted(p for p in files if p.suffix == ".html")
    assert {"report.html", "map.html", "years.html", "years_map.html"} <= {p.name for p in pages}
    if page_dom is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium): pages unchecked")
    for page in pages:
        dom = page_dom(page)
        assert "<body" in dom, page.name
        assert 'data-pwned="' not in dom, f"a name's code ran in {page.name}"
        if "L.map(" in page.read_text(encoding="utf-8"):
            assert "leaflet-container" in dom, f"the script of {page.name} did not run"
            assert re.search(r'<path[^>]*class="[^"]*ruralnet-site', dom), page.name
        for svg in re.findall(r"<svg.*?</svg>", dom, flags=re.S)[:50]:
            assert "<script" not in svg, page.name


def test_global_flags_after_the_command(folder, tmp_path):
    """Global flags are read after the command too (a quick command: what is tested is the
    command line, not the pipeline)."""
    res = cli("catchments", folder, "--no-progress", "-v", "--out", tmp_path / "out")
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "out" / "village_assignment.csv").is_file()
    assert " INFO " in res.stderr or "INFO" in res.stderr  # -v took effect


# --------------------------------------------------------------------------------------
# the library's own API


def test_bus_solver_refuses_bad_arguments():
    from ruralnet.buses.routing import BusProblem, solve

    t = np.array([[0.0, 60, 70], [60, 0, 20], [70, 20, 0]])
    good = dict(stop_ids=["a", "b"], pupils=np.array([3, 4]), time_s=t, dist_m=t * 10, seats=10,
                max_ride_s=600.0, stop_s=20.0, per_pupil_s=2.0)  # fmt: skip
    assert len(solve(BusProblem(**good), iterations=2500).routes) == 1
    for change, word in (
        ({"seats": 0}, "seats"),
        ({"pupils": np.array([3, -1])}, "pupils"),
        ({"pupils": np.array([3.5, 1])}, "pupils"),
        ({"time_s": np.where(t > 65, np.nan, t)}, "time_s"),
        ({"max_ride_s": 0.0}, "max_ride_s"),
        ({"direction": "evening"}, "direction"),
    ):
        with pytest.raises(InputError, match=word):
            BusProblem(**{**good, **change})


def test_split_pick_ups_never_stop_twice_at_a_stop(geodata):
    from ruralnet.buses.routing import check_routes, solve
    from ruralnet.demo.sbrp import read_instance, school_problem

    schools, stops = read_instance(geodata / "sbrp" / "RSRB01")
    school = schools[schools["ID"] == "200003"].iloc[0]
    problem = school_problem(school, stops)
    sol = solve(problem, iterations=12500, split=True)
    assert check_routes(problem, sol.routes) == []
    for route in sol.routes:
        visited = [stop for stop, _ in route]
        assert len(visited) == len(set(visited)), route


# --------------------------------------------------------------------------------------
# today's fleet


def test_todays_buses_are_read_with_chinese_headers(folder, demo_analysis):
    import dataclasses

    from ruralnet.analysis.costs import plan_costs

    # as Excel saves a CSV for a Chinese desktop: GBK, no BOM
    (folder / "buses.csv").write_text(
        "车牌号,座位数,车型,服务学校代码\n粤R1,56,校车,441826100-13\n粤R2,45,幼儿专用校车,\n粤R3,19,校车,\n",
        encoding="gbk",
    )
    county = load(folder)
    assert county.buses["seats"].tolist() == [56, 45, 19]
    assert county.buses["kind"].tolist() == ["school", "kindergarten", "school"]
    ctx = rn.plan_context(county)
    assert len(ctx.todays_buses) == 3
    # the current plan costs today's buses; a planned plan costs the buses it needs
    ev = demo_analysis.evaluations["current"]
    today = plan_costs(
        dataclasses.replace(demo_analysis.context, todays_buses=county.buses), ev, ev.buses
    )
    needed = plan_costs(demo_analysis.context, ev, ev.buses)
    by_item = today.set_index("item")["quantity"]
    assert by_item["buses"] == 3 and by_item["drivers"] == 3
    assert needed.set_index("item")["quantity"]["buses"] == ev.buses.buses_needed()


def test_a_broken_bus_list_names_every_row(folder):
    (folder / "buses.csv").write_text(
        "bus_id,seats,kind,site_id\nA,56,school,\nB,many,school,\nC,45,truck,\nD,30,school,nowhere\nA,20,school,\n",
        encoding="utf-8",
    )
    with pytest.raises(rn.SchemaError) as err:
        load(folder)
    text = str(err.value)
    for what in ("seats", "kind", "site_id", "bus_id used twice"):
        assert what in text, text
    before = snapshot(folder)
    line = one_line_error(cli("--no-progress", "demo", folder, "--out", folder.parent / "o"))
    assert "buses.csv" in line and "rows 3" in line
    assert snapshot(folder) == before
