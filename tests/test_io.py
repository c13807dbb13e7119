"""Readers and writers for every format, rosters with Chinese headers, atomic writes."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ruralnet.model import coords
from ruralnet.model.atomic import atomic_path
from ruralnet.model.errors import SchemaError
from ruralnet.model.geo import haversine_m
from ruralnet.model.schema import validate_sites
from ruralnet.outputs.files import write_layer
from ruralnet.sources.layers import read_layer
from ruralnet.sources.roster import join_roster, read_roster


@pytest.fixture
def layer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "site_id": ["a", "b", "c"],
            "name": ["三江小学", "寨岗教学点", "Escola"],
            "pupils": [300, 12, 55],
        },
        geometry=[
            shapely.Point(112.29, 24.72),
            shapely.Point(112.10, 24.55),
            shapely.Point(1.52, 42.51),
        ],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet", ".geojson", ".csv", ".xlsx"])
def test_round_trip_every_format(tmp_path, layer, suffix):
    path = write_layer(layer, tmp_path / f"sites{suffix}")
    back = read_layer(path)
    assert list(back["site_id"].astype(str)) == ["a", "b", "c"]
    assert list(back["name"]) == list(layer["name"])
    assert back.crs.equals("EPSG:4326")
    np.testing.assert_allclose(back.geometry.x, layer.geometry.x, atol=1e-9)
    np.testing.assert_allclose(back.geometry.y, layer.geometry.y, atol=1e-9)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], (
        "temporary file left behind"
    )


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
@pytest.mark.parametrize("suffix", [".csv", ".gpkg"])
def test_chinese_coordinate_systems_round_trip(tmp_path, layer, system, suffix):
    path = write_layer(layer, tmp_path / f"shifted{suffix}", coord_system=system)
    raw = read_layer(path)  # read without conversion: the shift is really in the file
    moved = haversine_m(raw.geometry.x, raw.geometry.y, layer.geometry.x, layer.geometry.y)
    assert moved[0] > 100 and moved[2] == pytest.approx(0, abs=1e-6)  # China shifted, Andorra not
    back = read_layer(path, coord_system=system)
    err = haversine_m(back.geometry.x, back.geometry.y, layer.geometry.x, layer.geometry.y)
    assert err.max() < 5


def test_csv_with_chinese_coordinate_headers(tmp_path):
    glon, glat = coords.wgs84_to_gcj02([112.29], [24.72])
    pd.DataFrame({"名称": ["三江镇中心小学"], "经度": glon, "纬度": glat}).to_csv(
        tmp_path / "x.csv", index=False
    )
    gdf = read_layer(tmp_path / "x.csv", coord_system="gcj02")
    assert haversine_m(gdf.geometry.x, gdf.geometry.y, 112.29, 24.72)[0] < 1


def test_missing_coordinates_named(tmp_path):
    pd.DataFrame(
        {"name": ["a", "b", "c"], "lon": [112.1, None, "x"], "lat": [24.1, 24.2, 24.3]}
    ).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(SchemaError) as err:
        read_layer(tmp_path / "x.csv")
    assert err.value.problems[0].rows == (1, 2)
    assert err.value.problems[0].column == "lon"


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def make_roster(path, rows=None):
    glon, glat = coords.wgs84_to_gcj02(
        [112.29, 112.10, 112.05, 112.30], [24.72, 24.55, 24.60, 24.71]
    )
    data = {
        "学校名称": ["三江镇中心小学", "寨岗镇石径教学点", "大坪村小", "三江镇中心幼儿园"],
        "学校类型": ["中心小学", "教学点", "村小", "中心幼儿园"],
        "在校生数": ["1,234", "12", "56", "210"],
        "班级数": [28, 2, 6, 8],
        "学位数": [1300, 40, 90, 240],
        "寄宿床位": [0, 0, 0, 0],
        "所属乡镇": ["三江镇", "寨岗镇", "大坪镇", "三江镇"],
        "经度": glon,
        "纬度": glat,
        "联系电话": ["0763-1", "", "", ""],
    }
    if rows:
        for k, v in rows.items():
            data[k] = v
    pd.DataFrame(data).to_excel(path, index=False)
    return path


TOWNS = {"三江镇": "441826100", "寨岗镇": "441826101", "大坪镇": "441826104"}


def test_read_roster_xlsx_with_chinese_headers(tmp_path):
    path = make_roster(tmp_path / "roster.xlsx")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    sites, report = read_roster(path, townships=TOWNS)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "input file modified"
    assert list(sites["kind"]) == [
        "central_primary",
        "teaching_point",
        "village_primary",
        "central_kindergarten",
    ]
    assert list(sites["pupils"]) == [1234, 12, 56, 210]
    assert list(sites["township_code"]) == ["441826100", "441826101", "441826104", "441826100"]
    assert report.unknown_headers == ["联系电话"]
    assert report.generated_ids and list(sites["site_id"]) == ["R0002", "R0003", "R0004", "R0005"]
    # GCJ-02 converted to WGS84
    err = haversine_m(
        sites.geometry.x,
        sites.geometry.y,
        [112.29, 112.10, 112.05, 112.30],
        [24.72, 24.55, 24.60, 24.71],
    )
    assert err.max() < 5
    validated = validate_sites(sites)
    assert validated["is_central_primary"].sum() == 1


def test_read_roster_reports_unknown_values(tmp_path):
    path = make_roster(
        tmp_path / "roster.xlsx", rows={"学校类型": ["中心小学", "民办学校", "村小", "中心幼儿园"]}
    )
    sites, report = read_roster(path, townships={"三江镇": "441826100"})
    assert report.unknown_kinds == {"民办学校": [3]}
    assert set(report.unknown_townships) == {"寨岗镇", "大坪镇"}
    with pytest.raises(SchemaError, match="民办学校"):
        validate_sites(sites)


def test_read_roster_mapping_is_extendable(tmp_path):
    path = make_roster(
        tmp_path / "roster.csv.xlsx",
        rows={"学校类型": ["中心小学", "民办学校", "村小", "中心幼儿园"]},
    )
    sites, report = read_roster(
        path, kinds={"民办学校": "village_primary"}, headers={"联系电话": "phone"}, townships=TOWNS
    )
    assert report.unknown_kinds == {} and report.unknown_headers == []
    assert "phone" in sites.columns


def test_join_roster_by_name(tmp_path, layer):
    roster = pd.DataFrame({"name": ["三江小学", "Escola ", "不存在的学校"], "pupils": [321, 44, 9]})
    joined, unmatched = join_roster(layer.assign(pupils=np.nan), roster)
    assert joined.loc[0, "pupils"] == 321 and joined.loc[2, "pupils"] == 44
    assert np.isnan(joined.loc[1, "pupils"])
    assert set(unmatched["key"]) == {"寨岗教学点", "不存在的学校"}


def test_a_roster_with_two_headers_for_one_column_names_them(tmp_path):
    """Issue #25: 编号 and 学校代码 both mean site_id; was "truth value of a Series is
    ambiguous"."""
    path = make_roster(
        tmp_path / "roster.xlsx",
        rows={"编号": ["1", "2", "3", "4"], "学校代码": ["a", "b", "c", "d"]},
    )
    with pytest.raises(
        SchemaError,
        match=r"headers (学校代码, 编号|编号, 学校代码) all mean site_id",
    ):
        read_roster(path, townships=TOWNS)


def test_one_run_writes_an_output_at_a_time(tmp_path):
    """Issue #25: two runs on one --out ended with a report missing files (the second removed
    the first's staging folder); crashed runs left .old-* folders behind."""
    import os
    import subprocess
    import sys

    from ruralnet.model.errors import OutputError
    from ruralnet.outputs.files import staged_folder

    target = tmp_path / "out"
    lock = tmp_path / ".out.lock"
    lock.write_text(str(os.getpid()), encoding="utf-8")  # a running process holds it
    (tmp_path / ".out.partial-x").mkdir()  # its staging folder
    with pytest.raises(OutputError, match="another ruralnet run"), staged_folder(target):
        pass
    assert lock.exists() and (tmp_path / ".out.partial-x").exists()  # not this run's to remove
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock.write_text(str(gone.pid), encoding="utf-8")  # left by a process that ended
    (tmp_path / ".out.old-y").mkdir()
    with staged_folder(target) as tmp:
        (tmp / "a.csv").write_text("x", encoding="utf-8")
    assert (target / "a.csv").read_text(encoding="utf-8") == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # lock and stale folders gone


def test_defused_tables_make_every_formula_inert_and_keep_numbers():
    """Text that starts a formula gets a leading apostrophe, in text, Arrow-string, mixed and
    categorical columns; numbers and missing values are kept as they were."""
    import pandas as pd

    from ruralnet.outputs.tables import FORMULA_START, defused

    hostile = [f"{c}1+1" for c in FORMULA_START]
    table = pd.DataFrame(
        {
            "text": [*hostile, "plain"],
            "arrow": pd.array([*hostile, "plain"], dtype="string[pyarrow]"),
            "mixed": [7, None, "=A1", 2.5, "-3", "ok", "@x"],
            "kind": pd.Categorical(["=k"] * 3 + ["k"] * 4),
            "n": range(7),
        }
    )
    out = defused(table)
    for col in ("text", "arrow", "mixed", "kind"):
        for before, after in zip(table[col], out[col], strict=True):
            if isinstance(before, str) and before.startswith(FORMULA_START):
                assert after == "'" + before
            elif isinstance(before, str):
                assert after == before
    assert list(out["mixed"][[0, 3]]) == [7, 2.5] and out["mixed"][0].__class__ is int
    assert pd.isna(out["mixed"][1])
    assert out["n"].tolist() == list(range(7))


def test_workbooks_have_number_formats_and_print_like_an_office(tmp_path):
    """#29: every cell was "General" (64369825 without separators) and nothing was set up to
    print. Whole numbers get thousands separators, other numbers one decimal, text and
    true/false stay as they are; each sheet prints A4 landscape, fit to one page's width, the
    header repeated on every page."""
    import openpyxl
    import pandas as pd

    from ruralnet.outputs.files import write_workbook

    table = pd.DataFrame(
        {
            "名称": ["甲", "乙"],
            "学生": [64_369_825, 12],
            "分钟": [27.1533906368386, 3.0],
            "达标": [True, False],
        }
    )
    path = write_workbook({"表": table, "second": table.head(1)}, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        assert ws["B2"].number_format == "#,##0" and ws["C2"].number_format == "#,##0.0"
        assert ws["A2"].number_format == ws["D2"].number_format == "General"
        assert ws["B2"].value == 64_369_825 and ws["C2"].value == pytest.approx(27.1533906368386)
        assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9  # A4
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows == "$1:$1"
        assert ws.print_area.endswith(f"!$A$1:$D${ws.max_row}")


def _as_roster(sites: gpd.GeoDataFrame) -> pd.DataFrame:
    """The sites layer as a bureau would send it: Chinese headers, Chinese school types and
    status words, 是/否 flags, longitude and latitude columns."""
    from ruralnet.sources.roster import ROSTER_HEADERS, ROSTER_KINDS, ROSTER_STATUS

    first = {}
    for words in (ROSTER_HEADERS, ROSTER_KINDS, ROSTER_STATUS):
        for word, value in words.items():
            first.setdefault(value, word)
    out = pd.DataFrame({first[c]: sites[c] for c in sites.columns if c != "geometry"})
    out[first["kind"]] = sites["kind"].map(first)
    out[first["status"]] = sites["status"].map(first)
    for flag in ("is_central_kindergarten", "is_central_primary", "is_public_boarding"):
        out[first[flag]] = sites[flag].map({True: "是", False: "否"})
    out["经度"], out["纬度"] = sites.geometry.x, sites.geometry.y
    return out


def test_a_chinese_roster_in_the_county_folder_reads_as_the_clean_sites(tmp_path):
    """#29: a roster with Chinese headers dropped into the folder as ``sites.xlsx`` failed
    ("missing required column(s)"), and 办学状态 was not understood (停办 sites silently open).
    Now it loads as the clean county's sites, closures included; a status word nobody knows
    stops with a message naming it."""
    import shutil

    import ruralnet as rn
    from ruralnet.model.errors import SchemaError

    demo = rn.datasets.bundled_county()
    clean = rn.load_county(demo).sites
    folder = tmp_path / "county"
    shutil.copytree(demo, folder)
    (folder / "sites.gpkg").unlink()
    layer = gpd.read_file(demo / "sites.gpkg")
    layer.loc[layer.index[:3], "status"] = ["closed", "merged", "open"]
    layer.loc[layer.index[:2], "pupils"] = 0  # a closed site has no pupils
    roster = _as_roster(layer)
    assert not set(roster.columns) & {"site_id", "name", "kind", "pupils", "status"}
    roster.to_excel(folder / "sites.xlsx", index=False)
    got = rn.load_county(folder).sites.set_index("site_id").loc[clean["site_id"]]
    want = clean.set_index("site_id")
    for col in ("name", "kind", "pupils", "capacity", "classes", "township_code", "grades"):
        assert got[col].iloc[2:].astype(str).tolist() == want[col].iloc[2:].astype(str).tolist()
    assert got["status"].iloc[:3].tolist() == ["closed", "merged", "open"]
    assert (got["status"].iloc[3:] == want["status"].iloc[3:]).all()
    assert got["is_central_primary"].astype(bool).tolist() == want["is_central_primary"].tolist()
    assert np.allclose(got.geometry.x, want.geometry.x) and np.allclose(
        got.geometry.y, want.geometry.y
    )
    roster.loc[roster.index[5], "办学状态"] = "待定"
    roster.to_excel(folder / "sites.xlsx", index=False)
    with pytest.raises(SchemaError, match="待定"):
        rn.load_county(folder)
