"""Maps: builders compose, Gaode overlays are shifted, offline HTML renders in a real browser."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import shapely
from browser import CHROMIUM, LAYOUT, needs_chromium, overlap, probe

import ruralnet as rn
from ruralnet.model.coords import wgs84_to_gcj02
from ruralnet.outputs import maps

DEMO = rn.datasets.bundled_county()


@pytest.fixture(scope="module")
def full_map(county, demo_analysis, tmp_path_factory):
    from ruralnet.analysis.catchments import analyse_catchments

    analysis = demo_analysis
    catchments = analyse_catchments(county, ctx=analysis.context)
    m = maps.county_map(county, analysis, catchments)
    path = maps.save_map(m, tmp_path_factory.mktemp("map") / "county.html")
    return path, analysis


def one_site(lon=112.29, lat=24.72):
    return gpd.GeoDataFrame(
        {
            "site_id": ["s"],
            "name": ["三江镇中心小学"],
            "kind": ["central_primary"],
            "pupils": [500],
            "is_central_primary": [True],
        },
        geometry=[shapely.Point(lon, lat)],
        crs="EPSG:4326",
    )


def _marker_latlon(page: str) -> tuple[float, float]:
    """The site's position in the page (its GeoJSON feature: lon, lat)."""
    lon, lat = re.search(r'"coordinates":\s*\[([-\d.e]+),\s*([-\d.e]+)\]', page).groups()
    return float(lat), float(lon)


def test_gaode_overlays_are_shifted_to_gcj02():
    site = one_site()
    plain = (
        maps.add_sites(site, maps.base_map((112.2, 24.6, 112.4, 24.8), "none")).get_root().render()
    )
    gaode = (
        maps.add_sites(site, maps.base_map((112.2, 24.6, 112.4, 24.8), "gaode")).get_root().render()
    )
    assert _marker_latlon(plain) == pytest.approx((24.72, 112.29))
    glon, glat = wgs84_to_gcj02(112.29, 24.72)
    assert _marker_latlon(gaode) == pytest.approx((float(glat), float(glon)), abs=1e-9)
    assert "autonavi.com" in gaode


def test_tianditu_needs_a_key():
    with pytest.raises(ValueError, match="key"):
        maps.base_map((112.2, 24.6, 112.4, 24.8), "tianditu")
    page = (
        maps.base_map((112.2, 24.6, 112.4, 24.8), "tianditu", tianditu_key="abc")
        .get_root()
        .render()
    )
    assert "tianditu.gov.cn" in page and "tk=abc" in page
    with pytest.raises(ValueError, match="offline"):
        maps.offline_html(maps.base_map((112.2, 24.6, 112.4, 24.8), "osm"))


def test_builders_compose(county):
    m = maps.base_map(county.boundary.bounds)
    for step in (
        lambda m: maps.add_sites(county.sites, m),
        lambda m: maps.add_villages(county.villages, m),
        lambda m: maps.add_boundaries(county.boundary, county.townships, m),
    ):
        before = len(m._children)
        assert step(m) is m and len(m._children) > before
    english = (
        maps.add_sites(county.sites, maps.base_map(county.boundary.bounds, lang="en"))
        .get_root()
        .render()
    )
    # one popup table per site, from the layer's fields: English titles and values
    assert '"kind"' in english and '"teaching point"' in english and "类型" not in english


def test_offline_file_is_self_contained(full_map):
    path, _ = full_map
    page = path.read_text(encoding="utf-8")
    assert not re.search(r'src\s*=\s*"https?://', page)
    assert not re.search(r'<link[^>]+href\s*=\s*"https?://', page)
    assert "cdn.jsdelivr" not in page and "code.jquery.com" not in page
    assert (
        "L.map(" in page and "data:image/png;base64" in page
    )  # inlined Leaflet, embedded hillshade


@pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
)
def test_offline_map_renders_in_a_browser_without_network(full_map, county, tmp_path):
    path, analysis = full_map
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=10000",
        "--window-size=1200,1400",
    ]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "leaflet-container" in dom, "Leaflet did not start (a missing script?)"

    def drawn(cls):  # SVG paths Leaflet drew (the script text names the classes too)
        return len(re.findall(rf'<path[^>]*class="[^"]*{cls}', dom))

    sites_drawn = drawn("ruralnet-site")
    assert sites_drawn == len(county.sites)
    tags = re.findall(r'<path[^>]*class="[^"]*ruralnet-site[^>]*>', dom)
    assert all('fill="#' in t for t in tags), "sites are filled with their kind's colour"
    merges = analysis.candidates["decision"].str.startswith("merge").sum()
    assert drawn("ruralnet-merger") == merges
    lines = analysis.buses[analysis.recommended].lines
    assert drawn("ruralnet-bus") == (lines["direction"] == "morning").sum()
    assert "ruralnet-legend" in dom and "leaflet-control-layers" in dom
    shot = tmp_path / "map.png"
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", path.as_uri()], capture_output=True, timeout=120
    )
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.std() > 20, "the screenshot is blank"
    centre = img[300:1100, 300:900]
    assert (centre < 200).mean() > 0.05, "no map content drawn in the middle of the page"


HOSTILE = [
    "`;document.body.setAttribute('data-pwned','1');`",
    "${document.body.setAttribute('data-pwned','2')}",
    "<script>document.body.setAttribute('data-pwned','3')</script>",
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','4')\">",
    "back\\slash \\u0060 and 'quotes\" = + - @",
    "长" * 300,
]


def _dom(path, tmp_path) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=10000"]  # fmt: skip
    return subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout


@pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
)
def test_hostile_names_run_no_script_and_break_no_map(county, tmp_path):
    """Issue #25: a name written as a template literal or with a backtick ran as code in the
    tooltips and popups, or broke the map's script. In a real browser: every site drawn, no
    name's code run, every name shown as text."""
    import dataclasses

    sites = county.sites.copy()
    for k, name in enumerate(HOSTILE):
        sites.loc[sites.index[k], "name"] = name
    hostile = dataclasses.replace(county, sites=sites)
    path = maps.save_map(maps.county_map(hostile), tmp_path / "hostile.html")
    page = path.read_text(encoding="utf-8")
    assert "<script>document.body" not in page and "${document" not in page
    dom = _dom(path, tmp_path)
    assert "leaflet-container" in dom, "the map's script did not run"
    assert "data-pwned" not in dom.split("<script")[0] and 'data-pwned="' not in dom
    drawn = len(re.findall(r'<path[^>]*class="[^"]*ruralnet-site', dom))
    assert drawn == len(county.sites)
    assert maps.map_text("`${x}`\\") == "&#96;&#36;{x}&#96;&#92;"


def test_the_hillshade_is_the_dem_in_mercator_rows_encoded_once(county):
    """The embedded hillshade: a grey-and-alpha PNG over the DEM's bounds that shows relief
    (not one flat grey), encoded once for all maps of a run."""
    import base64
    import io

    import rasterio
    from PIL import Image

    maps._hillshade_png.cache_clear()
    m = maps.add_hillshade(county.dem_path)
    maps.add_hillshade(county.dem_path, maps.base_map(county.boundary.bounds))
    assert maps._hillshade_png.cache_info().hits == 1
    overlay = next(c for c in m._children.values() if c._name == "ImageOverlay")
    head = "data:image/png;base64,"
    assert overlay.url.startswith(head)
    image = Image.open(io.BytesIO(base64.b64decode(overlay.url[len(head) :])))
    assert image.mode == "LA"
    with rasterio.open(county.dem_path) as src:
        west, south, east, north = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    (s, w), (n, e) = overlay.bounds
    assert abs(w - west) < 0.01 and abs(e - east) < 0.01 and abs(s - south) < 0.01
    assert abs(n - north) < 0.01
    grey, alpha = (np.asarray(image)[..., k].astype(float) for k in (0, 1))
    assert alpha.max() == 255 and grey[alpha > 0].std() > 10  # relief, not a flat grey


@pytest.fixture(scope="module")
def demo_maps(tmp_path_factory):
    """The county map and the report map of the main job (``ruralnet demo``)."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "ruralnet.cli", "--no-progress", "demo", "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return out / "map.html", out / "report" / "map.html"


@needs_chromium
def test_title_legend_and_metric_scale_never_overlap_in_a_browser(county, demo_maps, tmp_path):
    """#29: the legend covered the scale bar, which showed miles or feet; no title, no
    township names. In a real browser (1280 x 800), on the county map and the report map of
    the main job: title, legend, scale bar and layer control all drawn, none over another,
    the scale in metres or kilometres only, every township named."""
    for page in demo_maps:
        rects = probe(page, tmp_path, LAYOUT)
        parts = ("legend", "scale", "title", "layers")
        assert all(rects[p] for p in parts), rects
        for a, b in itertools.combinations(parts, 2):
            assert not overlap(rects[a], rects[b]), (page.name, a, b, rects)
        assert rects["scale_lines"] and all(
            t.endswith(("m", "km")) and "mi" not in t and "ft" not in t
            for t in rects["scale_lines"]
        ), rects["scale_lines"]
        assert rects["towns"] == len(county.townships)


#: The map object, its layer list, the bus routes' group toggled, and two schools at one
#: place clicked apart.
CONTROLS = """function () {
  var map = null;
  Object.keys(window).forEach(function (k) {
    if (/^map_/.test(k) && window[k] instanceof L.Map) { map = window[k]; } });
  function q(s) { return document.querySelectorAll(s); }
  var boxes = Array.prototype.slice.call(q('.leaflet-control-layers input[type=checkbox]'));
  var out = {boxes: boxes.length,
    shown_boxes: boxes.filter(function (b) { return b.offsetParent !== null; }).length,
    groups: q('.leaflet-layerstree-sel-all-checkbox').length,
    group_names: Array.prototype.map.call(q('.leaflet-layerstree-sel-all-checkbox'),
      function (b) { return b.closest('.leaflet-layerstree-header')
        .querySelector('.leaflet-layerstree-header-name').textContent.trim(); }),
    buses: [q('path.ruralnet-bus').length]};
  var all = q('.leaflet-layerstree-sel-all-checkbox');
  if (all.length) { all[0].click(); out.buses.push(q('path.ruralnet-bus').length);
    all[0].click(); out.buses.push(q('path.ruralnet-bus').length); }
  var sites = [];
  map.eachLayer(function (l) {
    if (l instanceof L.CircleMarker && l.options.className === 'ruralnet-site') { sites.push(l); } });
  function px(l) { return map.latLngToContainerPoint(l.getLatLng()); }
  var pair = null;
  for (var i = 0; i < sites.length && !pair; i++) {
    for (var j = i + 1; j < sites.length; j++) {
      if (px(sites[i]).distanceTo(px(sites[j])) < 4) { pair = [sites[i], sites[j]]; break; } } }
  out.sites = sites.length;
  if (pair) {
    var before = px(pair[0]).distanceTo(px(pair[1]));
    pair[0].fire('click');
    out.spread = [before, px(pair[0]).distanceTo(px(pair[1]))];
  }
  return out;
}"""


@needs_chromium
def test_buses_are_one_group_and_schools_at_one_place_spread_apart(county, demo_maps, tmp_path):
    """#29: one checkbox per bus filled half the screen; schools at one place hid each
    other. On the report map of the main job, in a real browser: the bus routes are one
    collapsed node of the layer list (no box of it shown at first, one box toggles every
    route off and on), the list is short, every site is drawn, and a click on one of two
    schools at one place spreads them apart."""
    found = probe(demo_maps[1], tmp_path, CONTROLS)
    towns = county.sites["township_code"].nunique()
    assert found["groups"] == 1 and found["group_names"] == ["校车线路"], found
    assert found["boxes"] <= 16 + towns, found  # layers, the group, one per township
    assert found["shown_boxes"] <= 16, found  # collapsed: the townships' boxes hidden
    shown, off, again = found["buses"]
    assert shown > 0 and off == 0 and again == shown
    assert found["sites"] == len(county.sites)
    before, after = found["spread"]
    assert before < 4 and after >= 15, found["spread"]


#: Each ruralnet pane's z-index and the classes of the paths in it.
PANES = """function () {
  var out = {};
  ['areas', 'lines', 'points'].forEach(function (kind) {
    var pane = document.querySelector('.leaflet-ruralnet-' + kind + '-pane');
    out[kind] = pane ? [+getComputedStyle(pane).zIndex, pane.querySelectorAll('path').length,
      pane.querySelectorAll('path.ruralnet-site').length] : null; });
  return out;
}"""


@needs_chromium
def test_areas_lie_under_lines_under_points_whatever_the_order_added(county, tmp_path):
    """#29: layers added later covered earlier points. Added points first, then lines, then
    areas, the browser still draws areas under roads under the sites."""
    m = maps.base_map(county.boundary.bounds)
    maps.add_sites(county.sites, m)
    maps.add_roads(county.road_lines(), m)
    maps.add_boundaries(county.boundary, county.townships, m)
    page = maps.save_map(maps.finish(m), tmp_path / "order.html")
    found = probe(page, tmp_path, PANES)
    areas, lines, points = found["areas"], found["lines"], found["points"]
    assert areas[0] < lines[0] < points[0]
    assert areas[1] > 0 and lines[1] > 0 and points[2] == len(county.sites) == points[1]


def test_the_legend_explains_the_faint_dashed_sites_only_when_drawn(county):
    """#29: closed or merged sites are drawn faint with a dashed ring; the legend says so
    when the map has one, and not when every site is open."""

    def legend(sites) -> str:
        m = maps.add_sites(sites, maps.base_map(county.boundary.bounds))
        page = maps.finish(m).get_root().render()
        return page[page.index("ruralnet-legend") :][:5000]

    assert (county.sites["status"] != "open").any()
    assert "已撤并或停办" in legend(county.sites)
    assert "已撤并或停办" not in legend(county.sites.assign(status="open"))
