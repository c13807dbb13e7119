"""Folium maps for county meetings: layer builders that compose, basemaps, offline HTML.

Every builder takes a layer and an optional map and returns the map (``m = add_sites(sites,
m)``), like ``geopandas.explore``. Labels are Chinese by default (``lang="en"`` for English).

Basemaps: ``none`` (offline; the map still shows roads by class, township boundaries and a
hillshade from the DEM), ``osm``, ``tianditu`` (天地图, CGCS2000 = WGS84 within centimetres;
needs a user key) and ``gaode`` (Amap, GCJ-02: every overlay is shifted from WGS84 so it lines
up with the tiles). :func:`save_map` with ``offline=True`` writes a self-contained HTML file:
Leaflet (and jQuery) are inlined from installed packages, nothing is loaded from a CDN.
"""

from __future__ import annotations

import base64
import html
import json
import re
from importlib import resources
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from ..model.atomic import atomic_path
from ..model.coords import transform_geometry, wgs84_to_gcj02
from ..model.labels import BUS_TYPES, DECISIONS, KINDS, STAGES, label

BASEMAPS = ("none", "osm", "tianditu", "gaode")
KIND_COLORS = {
    "central_kindergarten": "#e7298a",
    "kindergarten": "#f4a6cf",
    "central_primary": "#1b9e77",
    "village_primary": "#66c2a5",
    "teaching_point": "#d95f02",
    "junior_middle": "#3f51b5",
    "nine_year": "#7570b3",
    "boarding_school": "#3f51b5",
    "special_education": "#a6761d",
}
ROAD_STYLE = {
    "motorway": ("#e31a1c", 4),
    "trunk": ("#e31a1c", 3.5),
    "primary": ("#fd8d3c", 3),
    "secondary": ("#fd8d3c", 2.5),
    "tertiary": ("#fecc5c", 2),
    "unclassified": ("#969696", 1.5),
    "residential": ("#bdbdbd", 1.2),
    "service": ("#bdbdbd", 1),
    "track": ("#8c6d31", 1),
    "path": ("#8c6d31", 0.7),
    "footway": ("#8c6d31", 0.7),
}


def base_map(
    bounds, basemap: str = "none", tianditu_key: str | None = None, lang: str = "zh"
) -> folium.Map:
    """An empty map over ``(west, south, east, north)`` with the chosen basemap.

    Raises
    ------
    ValueError
        For an unknown basemap, or ``tianditu`` without a key.
    """
    if basemap not in BASEMAPS:
        raise ValueError(f"basemap must be one of {BASEMAPS}")
    w, s, e, n = bounds
    m = folium.Map(
        location=[(s + n) / 2, (w + e) / 2], tiles=None, control_scale=True, prefer_canvas=False
    )
    m.ruralnet = {
        "coord_system": "gcj02" if basemap == "gaode" else "wgs84",
        "lang": lang,
        "basemap": basemap,
        "bounds": bounds,
    }
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(m)
    elif basemap == "gaode":
        folium.TileLayer(
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            attr="© 高德地图 AutoNavi",
            name="高德地图" if lang == "zh" else "Gaode",
            subdomains="1234",
        ).add_to(m)
    elif basemap == "tianditu":
        if not tianditu_key:
            raise ValueError(
                "the Tianditu basemap needs a user key (tianditu_key=...; apply at console.tianditu.gov.cn)"
            )
        for layer in ("vec", "cva"):
            folium.TileLayer(
                f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
                f"&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={tianditu_key}",
                attr="© 天地图 Tianditu",
                name=f"天地图 {layer}",
                subdomains="01234567",
                overlay=layer == "cva",
            ).add_to(m)
    m.fit_bounds([[s, w], [n, e]])
    return m


def _map(m, gdf) -> folium.Map:
    if m is not None:
        return m
    b = gdf.to_crs("EPSG:4326").total_bounds
    return base_map(tuple(b))


def _shifted(gdf: gpd.GeoDataFrame, m: folium.Map) -> gpd.GeoDataFrame:
    """The layer in the map's coordinate system (GCJ-02 over Gaode tiles)."""
    out = gdf.to_crs("EPSG:4326")
    if getattr(m, "ruralnet", {}).get("coord_system") == "gcj02":
        out = out.copy()
        out["geometry"] = transform_geometry(out.geometry.to_numpy(), "gcj02", inverse=True)
    return out


def _lang(m, lang):
    return lang or getattr(m, "ruralnet", {}).get("lang", "zh")


#: Characters escaped beyond HTML's own: folium puts tooltip and popup text inside
#: JavaScript template literals, where a backtick ends the string, ``${...}`` runs code and a
#: backslash starts an escape.
_TEMPLATE_LITERAL = {"`": "&#96;", "$": "&#36;", "\\": "&#92;"}


def map_text(value) -> str:
    """Text for a map's tooltips, popups and labels: HTML-escaped (quotes too) and inert in
    a JavaScript template literal, so no name can run code or break the map's script."""
    out = html.escape(str(value), quote=True)
    for ch, entity in _TEMPLATE_LITERAL.items():
        out = out.replace(ch, entity)
    return out


def _popup(rows: dict) -> folium.Popup:
    body = "".join(
        f"<tr><th>{map_text(str(k))}</th><td>{map_text(str(v))}</td></tr>" for k, v in rows.items()
    )
    return folium.Popup(f"<table>{body}</table>", max_width=320)


def add_sites(
    sites: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None
) -> folium.Map:
    """Sites coloured by kind, sized by pupils; the three schools get a thick dark ring; popups
    with their figures."""
    m = _map(m, sites)
    lang = _lang(m, lang)
    g = _shifted(sites, m)
    layer = folium.FeatureGroup(name="学校" if lang == "zh" else "schools")
    three = g[
        [
            c
            for c in ("is_central_kindergarten", "is_central_primary", "is_public_boarding")
            if c in g
        ]
    ].any(axis=1)
    for (_, s), is_three in zip(g.iterrows(), three, strict=True):
        pupils = float(s.get("pupils", 0) or 0)
        closed = str(s.get("status", "open")) != "open"
        figures = {
            ("名称" if lang == "zh" else "name"): s.get("name"),
            ("类型" if lang == "zh" else "kind"): label(KINDS, s["kind"], lang),
            ("学生" if lang == "zh" else "pupils"): f"{pupils:.0f}",
            ("班级" if lang == "zh" else "classes"): s.get("classes"),
            ("学位" if lang == "zh" else "places"): s.get("capacity"),
            ("床位" if lang == "zh" else "beds"): s.get("boarding_beds"),
            ("年级" if lang == "zh" else "grades"): s.get("grades"),
            ("代码" if lang == "zh" else "id"): s.get("site_id"),
        }
        folium.CircleMarker(
            [s.geometry.y, s.geometry.x],
            radius=4 + min(14, np.sqrt(max(pupils, 0)) / 3),
            color="#000000"
            if is_three
            else ("#999999" if closed else KIND_COLORS.get(s["kind"], "#333333")),
            weight=3 if is_three else 1,
            fill=True,
            fill_color=KIND_COLORS.get(s["kind"], "#333333"),
            fill_opacity=0.25 if closed else 0.85,
            dash_array="4" if closed else None,
            tooltip=map_text(f"{s.get('name')} · {label(KINDS, s['kind'], lang)} · {pupils:.0f}"),
            popup=_popup(figures),
            class_name="ruralnet-site",
        ).add_to(layer)
    layer.add_to(m)
    return m


def add_villages(
    villages: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None
) -> folium.Map:
    """Villages as small dots sized by children, with their children per stage."""
    m = _map(m, villages)
    lang = _lang(m, lang)
    g = _shifted(villages, m)
    layer = folium.FeatureGroup(name="村庄" if lang == "zh" else "villages")
    for _, v in g.iterrows():
        kids = {label(STAGES, st, lang): v.get(f"children_{st}") for st in STAGES}
        total = sum(float(k or 0) for k in kids.values())
        folium.CircleMarker(
            [v.geometry.y, v.geometry.x],
            radius=2 + min(8, np.sqrt(total) / 4),
            color="#444444",
            weight=0.5,
            fill=True,
            fill_color="#ffffff",
            fill_opacity=0.9,
            tooltip=map_text(f"{v.get('name')} · {total:.0f}"),
            popup=_popup({"": v.get("name"), **kids}),
        ).add_to(layer)
    layer.add_to(m)
    return m


def _geojson(gdf: gpd.GeoDataFrame, name: str, style, tooltip_fields=None, m=None, show=True):
    gdf = gdf.copy()
    for col in gdf.columns:  # text shown in tooltips is escaped: a name cannot run code
        if col != gdf.geometry.name and not pd.api.types.is_numeric_dtype(gdf[col]):
            gdf[col] = gdf[col].map(lambda v: map_text(v) if isinstance(v, str) else v)
    data = json.loads(gdf.to_json(drop_id=True, to_wgs84=True))
    layer = folium.GeoJson(
        data,
        name=name,
        style_function=style,
        show=show,
        tooltip=folium.GeoJsonTooltip(fields=tooltip_fields) if tooltip_fields else None,
    )
    layer.add_to(m)
    return m


def add_polygons(
    polys: gpd.GeoDataFrame,
    m: folium.Map | None = None,
    name: str = "areas",
    color_by: str | None = None,
    tooltip: list[str] | None = None,
    show: bool = True,
    palette: dict | None = None,
) -> folium.Map:
    """Polygons (catchments, boarding areas, bands) coloured by a column."""
    m = _map(m, polys)
    g = _shifted(polys, m)
    values = sorted(g[color_by].astype(str).unique()) if color_by else []
    colors = palette or {v: f"hsl({(i * 137) % 360}, 60%, 55%)" for i, v in enumerate(values)}
    if color_by:
        g = g.assign(_color=g[color_by].astype(str).map(colors))
    else:
        g = g.assign(_color="#3182bd")
    keep = [c for c in (tooltip or []) if c in g.columns]
    g = g[[*keep, "_color", "geometry"]]
    return _geojson(
        g,
        name,
        lambda f: {
            "color": f["properties"]["_color"],
            "weight": 1,
            "fillOpacity": 0.3,
            "fillColor": f["properties"]["_color"],
        },
        keep or None,
        m,
        show,
    )


def add_catchments(
    polygons: gpd.GeoDataFrame,
    m: folium.Map | None = None,
    stage: str = "primary",
    lang: str | None = None,
    show: bool = True,
) -> folium.Map:
    """Catchment polygons of one stage (from :func:`ruralnet.analysis.catchments.analyse_catchments`)."""
    m = _map(m, polygons)
    lang = _lang(m, lang)
    part = polygons[polygons["stage"] == stage]
    name = f"{label(STAGES, stage, lang)}{'服务范围' if lang == 'zh' else ' catchments'}"
    return add_polygons(part, m, name, "site_id", ["site_id", "children"], show)


def add_boarding(
    boarding: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None
) -> folium.Map:
    """Boarding catchments: where each boarding site's boarders come from."""
    m = _map(m, boarding)
    lang = _lang(m, lang)
    return add_polygons(
        boarding,
        m,
        "寄宿生来源范围" if lang == "zh" else "boarding catchments",
        "site_id",
        ["name", "boarders", "beds"],
        show=True,
    )


def add_isochrones(
    iso: gpd.GeoDataFrame,
    m: folium.Map | None = None,
    mode: str = "walk",
    stage: str = "primary",
    lang: str | None = None,
    show: bool = False,
) -> folium.Map:
    """Travel-time bands to the nearest site of a stage."""
    m = _map(m, iso)
    lang = _lang(m, lang)
    part = iso[(iso["mode"] == mode) & (iso["stage"] == stage)]
    palette = {
        b: c
        for b, c in zip(
            sorted(part["band"].unique(), key=lambda b: float(b.strip(">").split("-")[0])),
            ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#7f0000"],
            strict=False,
        )
    }
    name = (
        f"{'步行' if mode == 'walk' else '校车'}{label(STAGES, stage, lang)}等时圈"
        if lang == "zh"
        else f"{mode} isochrones ({stage})"
    )
    return add_polygons(part, m, name, "band", ["band"], show, palette)


def add_mergers(
    candidates, sites: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None
) -> folium.Map:
    """An arrow from each merged site to its receiving school, with the reason."""
    m = _map(m, sites)
    lang = _lang(m, lang)
    pos = _shifted(sites, m).set_index("site_id").geometry
    layer = folium.FeatureGroup(name="撤并" if lang == "zh" else "mergers")
    for _, c in candidates.iterrows():
        if not str(c["decision"]).startswith("merge") or c["receiving_site_id"] not in pos.index:
            continue
        a, b = pos[c["site_id"]], pos[c["receiving_site_id"]]
        tip = f"{label(DECISIONS, c['decision'], lang)}: {c['reason']}"
        folium.PolyLine(
            [(a.y, a.x), (b.y, b.x)],
            color="#d7301f",
            weight=2.5,
            tooltip=map_text(tip),
            class_name="ruralnet-merger",
        ).add_to(layer)
        # arrowhead at the receiving end
        dx, dy = b.x - a.x, b.y - a.y
        length = np.hypot(dx, dy) or 1
        ux, uy = dx / length, dy / length
        size = min(0.004, 0.25 * length)
        left = (b.y - size * (uy - 0.5 * ux), b.x - size * (ux + 0.5 * uy))
        right = (b.y - size * (uy + 0.5 * ux), b.x - size * (ux - 0.5 * uy))
        folium.PolyLine([left, (b.y, b.x), right], color="#d7301f", weight=2.5).add_to(layer)
    layer.add_to(m)
    return m


def add_bus_routes(
    lines: gpd.GeoDataFrame,
    m: folium.Map | None = None,
    direction: str = "morning",
    stops=None,
    lang: str | None = None,
) -> folium.Map:
    """Bus runs along the roads (one colour per run), with their pick-up points."""
    m = _map(m, lines)
    lang = _lang(m, lang)
    g = _shifted(lines[lines["direction"] == direction], m)
    layer = folium.FeatureGroup(name="校车线路" if lang == "zh" else "bus routes")
    for i, r in enumerate(g.itertuples()):
        color = f"hsl({(i * 137) % 360}, 70%, 40%)"
        folium.PolyLine(
            [(y, x) for x, y in r.geometry.coords],
            color=color,
            weight=3,
            opacity=0.8,
            tooltip=map_text(
                f"{r.route} · {r.pupils} · {r.km:.1f} km · {r.longest_ride_min:.0f} min"
            ),
            class_name="ruralnet-bus",
        ).add_to(layer)
    if stops is not None and len(stops):
        for _, s in _shifted(stops, m).iterrows():
            folium.CircleMarker(
                [s.geometry.y, s.geometry.x],
                radius=3,
                color="#6a3d9a",
                fill=True,
                tooltip=map_text(str(s.get("name", ""))),
            ).add_to(layer)
    layer.add_to(m)
    return m


def add_bus_days(lines: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None):
    """One layer per bus: its morning's runs and empty legs between schools (off at first;
    tick a bus in the layer control to see its day)."""
    m = _map(m, lines)
    lang = _lang(m, lang)
    for i, r in enumerate(_shifted(lines, m).itertuples()):
        kind = label(BUS_TYPES, r.bus_type, lang)
        if lang == "zh":
            name = f"{kind} {r.bus}：{r.runs}趟，{r.first}–{r.last}，{r.km:.1f}公里"
        else:
            name = f"{kind} {r.bus}: {r.runs} runs, {r.first}-{r.last}, {r.km:.1f} km"
        layer = folium.FeatureGroup(name=map_text(name), show=False)
        for part in getattr(r.geometry, "geoms", [r.geometry]):
            folium.PolyLine(
                [(y, x) for x, y in part.coords],
                color=f"hsl({(i * 137) % 360}, 75%, 35%)",
                weight=4,
                opacity=0.85,
                tooltip=map_text(name),
                class_name="ruralnet-busday",
            ).add_to(layer)
        layer.add_to(m)
    return m


def add_districts(layer: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None):
    """Learning districts: one outline per district, named by its central school."""
    m = _map(m, layer)
    lang = _lang(m, lang)
    group = folium.FeatureGroup(name="学区" if lang == "zh" else "learning districts", show=False)
    for i, r in enumerate(_shifted(layer, m).itertuples()):
        tip = (
            f"{r.head_name}学区：{r.sites}所学校，{r.pupils}名学生，教师{r.teachers}人"
            if lang == "zh"
            else f"{r.head_name} district: {r.sites} sites, {r.pupils} pupils, {r.teachers} teachers"
        )
        folium.GeoJson(
            r.geometry.__geo_interface__,
            style_function=lambda _f, c=f"hsl({(i * 137) % 360}, 60%, 40%)": {
                "color": c,
                "weight": 2,
                "fill": True,
                "fillOpacity": 0.08,
                "dashArray": "6 4",
            },
            tooltip=map_text(tip),
        ).add_to(group)
    group.add_to(m)
    return m


def add_roads(
    roads: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None
) -> folium.Map:
    """Roads by class (from :func:`ruralnet.sources.osm.road_lines`): context without basemap tiles."""
    m = _map(m, roads)
    lang = _lang(m, lang)
    g = _shifted(roads[["highway", "geometry"]], m)
    g = g.assign(
        _color=[ROAD_STYLE.get(h, ("#bdbdbd", 1))[0] for h in g["highway"]],
        _weight=[ROAD_STYLE.get(h, ("#bdbdbd", 1))[1] for h in g["highway"]],
    )
    return _geojson(
        g,
        "道路" if lang == "zh" else "roads",
        lambda f: {
            "color": f["properties"]["_color"],
            "weight": f["properties"]["_weight"],
            "opacity": 0.9,
        },
        None,
        m,
    )


def add_boundaries(
    boundary=None,
    townships: gpd.GeoDataFrame | None = None,
    m: folium.Map | None = None,
    lang: str | None = None,
) -> folium.Map:
    """County boundary and township boundaries with their names."""
    lang = _lang(m, lang)
    if townships is not None and len(townships):
        m = _map(m, townships)
        g = _shifted(
            townships[[c for c in ("township_code", "name", "geometry") if c in townships]], m
        )
        _geojson(
            g,
            "乡镇界" if lang == "zh" else "townships",
            lambda f: {"color": "#636363", "weight": 1.5, "dashArray": "6 4", "fill": False},
            [c for c in ("name", "township_code") if c in g],
            m,
        )
    if boundary is not None:
        gb = gpd.GeoDataFrame(geometry=[boundary], crs="EPSG:4326")
        m = _map(m, gb)
        _geojson(
            _shifted(gb, m),
            "县界" if lang == "zh" else "county",
            lambda f: {"color": "#252525", "weight": 3, "fill": False},
            None,
            m,
        )
    return m


def add_hillshade(
    dem_path,
    m: folium.Map | None = None,
    opacity: float = 0.45,
    max_pixels: int = 900,
    lang: str | None = None,
) -> folium.Map:
    """A hillshade of the DEM as an image overlay (embedded: works offline)."""
    import rasterio
    from matplotlib.colors import LightSource
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.open(dem_path) as src:
        dst_crs = "EPSG:4326"
        transform, width, height = calculate_default_transform(
            src.crs, dst_crs, src.width, src.height, *src.bounds
        )
        scale = max(1.0, max(width, height) / max_pixels)
        width, height = int(width / scale), int(height / scale)
        transform = transform * transform.scale(scale, scale)
        data = np.full((height, width), np.nan, dtype="float32")
        reproject(
            rasterio.band(src, 1),
            data,
            dst_transform=transform,
            dst_crs=dst_crs,
            resampling=Resampling.bilinear,
            src_nodata=src.nodata,
            dst_nodata=np.nan,
        )
    west, north = transform * (0, 0)
    east, south = transform * (width, height)
    valid = np.isfinite(data)
    filled = np.where(valid, data, np.nanmean(data) if valid.any() else 0)
    dx = abs(transform.a) * 111_320 * np.cos(np.radians((north + south) / 2))
    shade = LightSource(azdeg=315, altdeg=45).hillshade(
        filled, vert_exag=2, dx=dx, dy=abs(transform.e) * 110_540
    )
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[..., :3] = (shade * 255).astype(np.uint8)[..., None]
    rgba[..., 3] = np.where(valid, 255, 0)
    m = m or base_map((west, south, east, north))
    lang = _lang(m, lang)
    bounds = [[south, west], [north, east]]
    if getattr(m, "ruralnet", {}).get("coord_system") == "gcj02":
        (w2, e2), (s2, n2) = wgs84_to_gcj02([west, east], [south, north])
        bounds = [[s2, w2], [n2, e2]]
    folium.raster_layers.ImageOverlay(
        rgba,
        bounds=bounds,
        opacity=opacity,
        mercator_project=True,
        name="地形晕渲" if lang == "zh" else "hillshade",
    ).add_to(m)
    return m


def add_legend(m: folium.Map, lang: str | None = None) -> folium.Map:
    """A legend of site kinds (inline HTML, no external assets)."""
    from branca.element import Element

    lang = _lang(m, lang)
    items = "".join(
        f'<div><span style="display:inline-block;width:12px;height:12px;border-radius:6px;background:{c};'
        f'margin-right:6px"></span>{map_text(label(KINDS, k, lang))}</div>'
        for k, c in KIND_COLORS.items()
        if k != "boarding_school"
    )
    ring = "粗黑边：乡镇“三所学校”" if lang == "zh" else "thick ring: the township's three schools"
    box = (
        f'<div class="ruralnet-legend" style="position:fixed;bottom:24px;left:12px;z-index:9999;background:white;'
        f'padding:8px 10px;border:1px solid #999;border-radius:4px;font:12px sans-serif">'
        f'<b>{"图例" if lang == "zh" else "Legend"}</b>{items}<div style="margin-top:4px">{ring}</div></div>'
    )
    m.get_root().html.add_child(Element(box))
    return m


def finish(m: folium.Map) -> folium.Map:
    """Layer control (and the legend) on a composed map."""
    add_legend(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def county_map(
    county,
    analysis=None,
    catchments=None,
    basemap: str = "none",
    tianditu_key: str | None = None,
    lang: str = "zh",
    hillshade: bool = True,
) -> folium.Map:
    """Everything a county meeting looks at, composed: context, catchments, sites, mergers, buses."""

    b = county.boundary.bounds if county.boundary is not None else tuple(county.sites.total_bounds)
    m = base_map(b, basemap, tianditu_key, lang)
    if hillshade and county.dem_path is not None:
        add_hillshade(county.dem_path, m)
    add_roads(analysis.roads if analysis is not None else county.road_lines(), m)
    add_boundaries(county.boundary, county.townships, m)
    if catchments is not None:
        add_catchments(catchments.polygons, m, "primary", show=False)
        add_boarding(catchments.boarding, m) if len(catchments.boarding) else None
        add_isochrones(catchments.isochrones, m, "walk", "primary")
    add_villages(county.villages, m)
    if analysis is not None:
        add_mergers(analysis.candidates, county.sites, m)
        rec = analysis.evaluations[analysis.recommended]
        buses = rec.buses
        if buses is not None and len(buses.lines):
            add_bus_routes(buses.lines, m)
        fleet = getattr(buses, "county_fleet", None)
        if fleet is not None and len(fleet.lines):
            add_bus_days(fleet.lines, m)
        add_districts(rec.district_layer, m, lang)
    add_sites(county.sites, m)
    return finish(m)


# --------------------------------------------------------------------------------------
# Offline HTML


def _asset(name: str) -> Path:
    """A file shipped with ruralnet for offline maps (see ``assets/LICENSES.md``)."""
    return Path(str(resources.files("ruralnet.outputs") / "assets" / name))


def _leaflet_assets() -> tuple[str, str]:
    css = _asset("leaflet.css").read_text(encoding="utf-8")

    def data_uri(match):
        path = _asset(match.group(1))
        return (
            f"url(data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"
            if path.exists()
            else "none"
        )

    css = re.sub(r"url\((images/[^)]+\.png)\)", data_uri, css)
    return _asset("leaflet.js").read_text(encoding="utf-8"), css


def _jquery() -> str:
    return _asset("jquery.min.js").read_text(encoding="utf-8")


def offline_html(m: folium.Map) -> str:
    """The map's HTML with Leaflet and jQuery inlined and every CDN asset removed.

    Raises
    ------
    ValueError
        If the map uses online basemap tiles, or something external would still load.
    """
    if getattr(m, "ruralnet", {}).get("basemap", "none") not in ("none",):
        raise ValueError("an offline map needs basemap='none' (tiles come from the internet)")
    page = m.get_root().render()
    leaflet_js, leaflet_css = _leaflet_assets()

    def script(match):
        src = match.group(1)
        if "leaflet" in src and "awesome" not in src:
            body = leaflet_js
        elif "jquery" in src:
            body = _jquery()
        else:
            return ""  # bootstrap, awesome-markers: not used by ruralnet's layers
        return "<script>" + body.replace("</script", "<\\/script") + "</script>"

    def link(match):
        href = match.group(1)
        if "leaflet" in href and "awesome" not in href and href.endswith(".css"):
            return f"<style>{leaflet_css}</style>"
        return ""

    page = re.sub(r'<script\s+src="([^"]+)"\s*>\s*</script>', script, page)
    page = re.sub(r'<link\s+rel="stylesheet"\s+href="([^"]+)"\s*/?>', link, page)
    # anything the browser would fetch: script/img sources and stylesheet links (an <a href>
    # attribution link loads nothing)
    leftovers = re.findall(r'src\s*=\s*"(https?://[^"]+)"', page) + re.findall(
        r'<link[^>]+href\s*=\s*"(https?://[^"]+)"', page
    )
    if leftovers:
        raise ValueError(f"offline map still loads {leftovers[:3]}")
    return page


def stable_ids(page: str) -> str:
    """The page with folium's random element ids (``map_<32 hex digits>``) numbered in order
    of first appearance, so that the same map gives the same bytes."""
    numbers: dict[str, str] = {}

    def number(match) -> str:
        key = match.group(1)
        if key not in numbers:
            numbers[key] = f"{len(numbers):032x}"
        return "_" + numbers[key]

    return re.sub(r"_([0-9a-f]{32})(?![0-9a-f])", number, page)


def save_map(m: folium.Map, path: str | Path, offline: bool = True) -> Path:
    """Write the map as HTML (atomically); ``offline`` makes it self-contained."""

    page = stable_ids(offline_html(m) if offline else m.get_root().render())
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)
