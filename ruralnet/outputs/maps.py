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
import functools
import io
import json
import re
from importlib import resources
from pathlib import Path

import folium
import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import shapely

from ..model.atomic import atomic_path
from ..model.coords import transform_geometry, wgs84_to_gcj02
from ..model.kinds import THREE_SCHOOL_FLAGS
from ..model.labels import ACTIONS, BUS_TYPES, DECISIONS, KINDS, STAGES, label
from .map_layout import Spiderfier, add_layer_tree, group_layer, map_text, pane_for

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
        location=[(s + n) / 2, (w + e) / 2], tiles=None, control_scale=False, prefer_canvas=False
    )
    _MetricScale().add_to(m)  # metric only: a county meeting reads kilometres
    m.ruralnet = {
        "coord_system": "gcj02" if basemap == "gaode" else "wgs84",
        "lang": lang,
        "basemap": basemap,
        "bounds": bounds,
        "drawn": {},  # legend entries of the layers drawn: key -> (colour, shape)
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


class _MetricScale(folium.MacroElement):
    """Leaflet's scale bar in metres and kilometres only (folium's ``control_scale`` also
    draws miles and feet), bottom left; the legend sits bottom right, clear of it."""

    _template = jinja2.Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({imperial: false, metric: true, position: 'bottomleft'})"
        ".addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )


def note_in_legend(m: folium.Map, key: str, colour: str, shape: str) -> None:
    """Record a layer drawn on the map for its legend (:func:`add_legend`)."""
    info = getattr(m, "ruralnet", None)
    if info is not None:
        info.setdefault("drawn", {})[key] = (colour, shape)


def add_title(m: folium.Map, title: str, subtitle: str = "") -> folium.Map:
    """A title (and a line under it, e.g. the data's year) at the top of the map."""
    from branca.element import Element

    box = (
        '<div class="ruralnet-title" style="position:fixed;top:10px;left:50%;'
        "transform:translateX(-50%);z-index:9999;background:rgba(255,255,255,0.92);"
        "padding:6px 14px;border:1px solid #999;border-radius:4px;font:15px sans-serif;"
        f'text-align:center"><b>{map_text(title)}</b>'
        + (f'<div style="font-size:12px;color:#444">{map_text(subtitle)}</div>' if subtitle else "")
        + "</div>"
    )
    m.get_root().html.add_child(Element(box))
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


def add_sites(
    sites: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None
) -> folium.Map:
    """Sites coloured by kind, sized by pupils; the three schools get a thick dark ring; popups
    with their figures. One GeoJSON layer (a template for the layer, not one per site)."""
    m = _map(m, sites)
    lang = _lang(m, lang)
    g = _shifted(sites, m)
    order = pd.to_numeric(g.get("pupils", 0), errors="coerce").fillna(0)
    g = g.iloc[np.argsort(-order.to_numpy(), kind="stable")]  # largest first: none hidden
    three = g[[c for c in THREE_SCHOOL_FLAGS if c in g]].any(axis=1).to_numpy()
    pupils = pd.to_numeric(g.get("pupils", 0), errors="coerce").fillna(0).clip(lower=0)
    closed = (g.get("status", pd.Series("open", index=g.index)).astype(str) != "open").to_numpy()
    fill = g["kind"].map(lambda k: KIND_COLORS.get(k, "#333333")).to_numpy()
    kinds = g["kind"].map(lambda k: label(KINDS, k, lang))
    zh = lang == "zh"
    popup = {
        "名称" if zh else "name": g.get("name"),
        "类型" if zh else "kind": kinds,
        "学生" if zh else "pupils": pupils.map(lambda v: f"{v:.0f}"),
        "班级" if zh else "classes": g.get("classes"),
        "学位" if zh else "places": g.get("capacity"),
        "床位" if zh else "beds": g.get("boarding_beds"),
        "年级" if zh else "grades": g.get("grades"),
        "代码" if zh else "id": g.get("site_id"),
    }
    styles = [
        {
            "radius": round(4 + min(14, np.sqrt(p) / 3), 2),
            "color": "#000000" if t else ("#999999" if c else f),
            "weight": 3 if t else 1,
            "fill": True,
            "fillColor": f,
            "fillOpacity": 0.25 if c else 0.85,
            **({"dashArray": "4"} if c else {}),
        }
        for p, t, c, f in zip(pupils, three, closed, fill, strict=True)
    ]
    tips = [f"{n} · {k} · {p:.0f}" for n, k, p in zip(g.get("name"), kinds, pupils, strict=True)]
    for kind in dict.fromkeys(g["kind"]):
        note_in_legend(m, f"kind:{kind}", KIND_COLORS.get(kind, "#333333"), "dot")
    if closed.any():  # drawn faint with a dashed ring: the legend says what that means
        note_in_legend(m, "closed_sites", "#999999", "dash")
    name = "学校" if zh else "schools"
    layer = feature_layer(g, name, styles, tips, m, popup=popup, class_name="ruralnet-site")
    if len(g):
        Spiderfier(layer, nearby_px=20).add_to(m)
        note_in_legend(m, "spread", "#222222", "line")
    return m


def add_villages(
    villages: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None
) -> folium.Map:
    """Villages as small dots sized by children, with their children per stage."""
    m = _map(m, villages)
    lang = _lang(m, lang)
    g = _shifted(villages, m)
    kids = {
        label(STAGES, st, lang): pd.to_numeric(g.get(f"children_{st}"), errors="coerce")
        for st in STAGES
        if f"children_{st}" in g
    }
    total = sum((k.fillna(0) for k in kids.values()), pd.Series(0.0, index=g.index))
    styles = [
        {"radius": round(2 + min(8, np.sqrt(max(t, 0)) / 4), 2), "color": "#444444",
         "weight": 0.5, "fill": True, "fillColor": "#ffffff", "fillOpacity": 0.9}
        for t in total
    ]  # fmt: skip
    tips = [f"{n} · {t:.0f}" for n, t in zip(g.get("name"), total, strict=True)]
    name = "村庄" if lang == "zh" else "villages"
    note_in_legend(m, "villages", "#ffffff", "dot")
    popup = {"": g.get("name"), **kids}
    return add_features(g, name, styles, tips, m, popup=popup, class_name="ruralnet-village")


def add_features(
    g: gpd.GeoDataFrame,
    name: str,
    styles: list[dict],
    tips: list,
    m: folium.Map,
    popup: dict | None = None,
    class_name: str | None = None,
    show: bool = True,
) -> folium.Map:
    """One GeoJSON layer of many features, each with its own style, tooltip and popup
    (folium renders and compiles one template per element: a county's thousands of markers as
    separate elements took most of the map's writing time); see :func:`feature_layer`."""
    feature_layer(g, name, styles, tips, m, popup, class_name, show)
    return m


def feature_layer(
    g: gpd.GeoDataFrame,
    name: str,
    styles: list[dict],
    tips: list,
    m: folium.Map,
    popup: dict | None = None,
    class_name: str | None = None,
    show: bool = True,
    control: bool = True,
):
    """:func:`add_features`, returning the layer (``control=False``: not listed on its own,
    e.g. a layer of a group). Drawn in the pane of its geometry type (areas under lines under
    points, :mod:`ruralnet.outputs.map_layout`).

    Every text goes through :func:`map_text` (the tooltip and popup are built as HTML in the
    page's script from the feature's properties)."""
    if not len(g):  # nothing to draw: the layer is still listed
        return folium.FeatureGroup(name=name, show=show, control=control).add_to(m)
    pane = pane_for(m, g.geometry.iloc[0].geom_type)
    props = pd.DataFrame({"_tip": [map_text(t) for t in tips]}, index=g.index)
    fields: list[str] = []
    for k, (title, values) in enumerate((popup or {}).items()):
        col = f"_p{k}"
        series = values if isinstance(values, pd.Series) else pd.Series(values, index=g.index)
        props[col] = [map_text(_shown(v)) for v in series.reindex(g.index)]
        fields.append((col, map_text(title)))
    props["_style"] = [json.dumps(st | {"pane": pane}, sort_keys=True) for st in styles]
    data = gpd.GeoDataFrame(props, geometry=g.geometry.to_numpy(), crs="EPSG:4326")
    collection = json.loads(data.to_json(drop_id=True, to_wgs84=True))
    for k, feature in enumerate(collection["features"]):
        feature["id"] = k
    point = g.geometry.iloc[0].geom_type == "Point"
    layer = folium.GeoJson(
        collection,
        name=name,
        show=show,
        style_function=lambda f: json.loads(f["properties"]["_style"]),
        marker=folium.CircleMarker(class_name=class_name) if point else None,
        tooltip=folium.GeoJsonTooltip(fields=["_tip"], labels=False),
        popup=folium.GeoJsonPopup(
            fields=[f for f, _ in fields], aliases=[a for _, a in fields], labels=True
        )
        if fields
        else None,
        className=None if point else class_name,
        pane=pane,
        control=control,
    )
    layer.add_to(m)
    return layer


def _shown(value) -> str:
    """A value as a popup shows it (empty for missing)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return f"{value:.0f}"
    return str(value)


def _geojson(gdf: gpd.GeoDataFrame, name: str, style, tooltip_fields=None, m=None, show=True):
    gdf = gdf.copy()
    for col in gdf.columns:  # text shown in tooltips is escaped: a name cannot run code
        if col != gdf.geometry.name and not pd.api.types.is_numeric_dtype(gdf[col]):
            gdf[col] = gdf[col].map(lambda v: map_text(v) if isinstance(v, str) else v)
    data = json.loads(gdf.to_json(drop_id=True, to_wgs84=True))
    pane = pane_for(m, gdf.geometry.iloc[0].geom_type) if len(gdf) else None
    layer = folium.GeoJson(
        data,
        name=name,
        style_function=style,
        show=show,
        pane=pane,
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
    arrows, tips = [], []
    for _, c in candidates.iterrows():
        if not str(c["decision"]).startswith("merge") or c["receiving_site_id"] not in pos.index:
            continue
        a, b = pos[c["site_id"]], pos[c["receiving_site_id"]]
        dx, dy = b.x - a.x, b.y - a.y  # the arrowhead at the receiving end
        length = np.hypot(dx, dy) or 1
        ux, uy = dx / length, dy / length
        size = min(0.004, 0.25 * length)
        left = (b.x - size * (ux + 0.5 * uy), b.y - size * (uy - 0.5 * ux))
        right = (b.x - size * (ux - 0.5 * uy), b.y - size * (uy + 0.5 * ux))
        arrows.append(
            shapely.MultiLineString([[(a.x, a.y), (b.x, b.y)], [left, (b.x, b.y), right]])
        )
        tips.append(f"{label(DECISIONS, c['decision'], lang)}: {c['reason']}")
    g = gpd.GeoDataFrame(geometry=arrows, crs="EPSG:4326")
    styles = [{"color": "#d7301f", "weight": 2.5}] * len(g)
    name = "撤并" if lang == "zh" else "mergers"
    if len(g):
        note_in_legend(m, "mergers", "#d7301f", "arrow")
    return add_features(g, name, styles, tips, m, class_name="ruralnet-merger")


def add_bus_routes(
    lines: gpd.GeoDataFrame,
    m: folium.Map | None = None,
    direction: str = "morning",
    stops=None,
    lang: str | None = None,
    townships: dict | None = None,
) -> folium.Map:
    """Bus runs along the roads (one colour per run), with their pick-up points.

    With ``townships`` (site id -> township name), the runs of each township are one layer,
    listed under one collapsed node 校车线路 whose box toggles them all (never one box per
    bus); without it, one layer."""
    m = _map(m, lines)
    lang = _lang(m, lang)
    g = _shifted(lines[lines["direction"] == direction], m)
    g = g.assign(_colour=[f"hsl({(i * 137) % 360}, 70%, 40%)" for i in range(len(g))])
    name = "校车线路" if lang == "zh" else "bus routes"
    if len(g):
        note_in_legend(m, "bus_routes", "hsl(137, 70%, 40%)", "line")
    if townships is None:
        _bus_layer(g, name, m)
    else:
        town = g["site_id"].astype(str).map(townships).fillna("")
        for place in sorted(town.unique()):
            part = g[(town == place).to_numpy()]
            count = f"（{len(part)}条）" if lang == "zh" else f" ({len(part)})"
            layer = _bus_layer(part, f"{name} {place}", m, control=False)
            group_layer(m, name, f"{place or '-'}{count}", layer)
    if stops is not None and len(stops):
        p = _shifted(stops, m)
        styles = [{"radius": 3, "color": "#6a3d9a", "fill": True, "fillColor": "#6a3d9a"}] * len(p)
        tips = [str(v) for v in p.get("name", pd.Series("", index=p.index))]
        add_features(p, "上车点" if lang == "zh" else "pick-ups", styles, tips, m)
    return m


def _bus_layer(g: gpd.GeoDataFrame, name: str, m: folium.Map, control: bool = True):
    """One layer of bus runs, each in its colour, named in its tooltip."""
    styles = [{"color": c, "weight": 3, "opacity": 0.8} for c in g["_colour"]]
    tips = [
        f"{r.route} · {r.pupils} · {r.km:.1f} km · {r.longest_ride_min:.0f} min"
        for r in g.itertuples()
    ]
    return feature_layer(g, name, styles, tips, m, class_name="ruralnet-bus", control=control)


def add_bus_days(lines: gpd.GeoDataFrame, m: folium.Map | None = None, lang: str | None = None):
    """Every bus's morning, its runs and the empty legs between schools, as one layer (off at
    first; each bus in its own colour, named in its tooltip)."""
    m = _map(m, lines)
    lang = _lang(m, lang)
    g = _shifted(lines, m)
    tips, styles = [], []
    for i, r in enumerate(g.itertuples()):
        kind = label(BUS_TYPES, r.bus_type, lang)
        if lang == "zh":
            tips.append(f"{kind} {r.bus}：{r.runs}趟，{r.first}–{r.last}，{r.km:.1f}公里")
        else:
            tips.append(f"{kind} {r.bus}: {r.runs} runs, {r.first}-{r.last}, {r.km:.1f} km")
        styles.append({"color": f"hsl({(i * 137) % 360}, 75%, 35%)", "weight": 4, "opacity": 0.85})
    name = "校车每日行程" if lang == "zh" else "each bus's morning"
    if len(g):
        note_in_legend(m, "bus_days", "hsl(274, 75%, 35%)", "line")
    return add_features(g, name, styles, tips, m, class_name="ruralnet-busday", show=False)


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
            pane=pane_for(m, "Polygon"),
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
    note_in_legend(m, "roads", "#969696", "line")
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
        note_in_legend(m, "townships", "#636363", "dash")
        if "name" in g:
            _township_names(g, m, lang)
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
        note_in_legend(m, "county", "#252525", "line")
    return m


def _township_names(g: gpd.GeoDataFrame, m: folium.Map, lang: str) -> None:
    """Each township's name at a point inside it (a layer of its own)."""
    group = folium.FeatureGroup(name="乡镇名称" if lang == "zh" else "township names")
    for r in g.itertuples():
        p = r.geometry.representative_point()
        html = (
            '<div class="ruralnet-township-label" style="font:bold 13px sans-serif;'
            "color:#424242;white-space:nowrap;transform:translate(-50%,-50%);"
            f'text-shadow:0 0 3px #fff,0 0 3px #fff">{map_text(r.name)}</div>'
        )
        folium.Marker([p.y, p.x], icon=folium.DivIcon(html=html, icon_size=(0, 0))).add_to(group)
    group.add_to(m)


def add_hillshade(
    dem_path,
    m: folium.Map | None = None,
    opacity: float = 0.45,
    max_pixels: int = 900,
    lang: str | None = None,
) -> folium.Map:
    """A hillshade of the DEM as an image overlay (embedded: works offline)."""
    path = Path(dem_path)
    stat = path.stat()
    gcj02 = m is not None and getattr(m, "ruralnet", {}).get("coord_system") == "gcj02"
    bounds, url = _hillshade_png(str(path.resolve()), stat.st_mtime_ns, max_pixels, gcj02)
    m = m or base_map((bounds[0][1], bounds[0][0], bounds[1][1], bounds[1][0]))
    lang = _lang(m, lang)
    folium.raster_layers.ImageOverlay(
        url, bounds=bounds, opacity=opacity, name="地形晕渲" if lang == "zh" else "hillshade"
    ).add_to(m)
    return m


@functools.lru_cache(maxsize=4)
def _hillshade_png(dem_path: str, mtime_ns: int, max_pixels: int, gcj02: bool) -> tuple[list, str]:
    """The hillshade's bounds ``[[south, west], [north, east]]`` and its PNG (grey and alpha,
    in Web Mercator rows) as a data URL; one encoding serves every map of a run (the file's
    modification time is part of the key)."""
    from folium.utilities import mercator_transform
    from PIL import Image

    (west, south, east, north), grey, valid = _hillshade(dem_path, max_pixels)
    bounds = [[south, west], [north, east]]
    if gcj02:
        (w2, e2), (s2, n2) = wgs84_to_gcj02([west, east], [south, north])
        bounds = [[s2, w2], [n2, e2]]
    layers = np.dstack([grey, np.where(valid, 255, 0)]).astype(float)
    image = mercator_transform(layers, (bounds[0][0], bounds[1][0]))
    with np.errstate(divide="ignore", invalid="ignore"):  # each layer stretched to 0..255
        image = np.nan_to_num(image * 255.0 / image.max(axis=(0, 1)), nan=0.0)
    buf = io.BytesIO()
    Image.fromarray(image.astype(np.uint8), "LA").save(buf, format="PNG", compress_level=6)
    return bounds, "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _hillshade(dem_path: str, max_pixels: int) -> tuple[tuple, np.ndarray, np.ndarray]:
    """The DEM in WGS84 at most ``max_pixels`` wide or high, shaded from the north-west:
    bounds (west, south, east, north), grey levels 0..255 and the valid cells."""
    import rasterio
    from matplotlib.colors import LightSource
    from rasterio import Affine
    from rasterio.transform import xy
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.open(dem_path) as src:
        dst_crs = "EPSG:4326"
        transform, width, height = calculate_default_transform(
            src.crs, dst_crs, src.width, src.height, *src.bounds
        )
        scale = max(1.0, max(width, height) / max_pixels)
        width, height = int(width / scale), int(height / scale)
        t = transform  # the same corner, cells ``scale`` times larger (no operator: affine
        # 3 deprecates ``*`` for composition, and ``@`` is missing from older releases)
        transform = Affine(t.a * scale, t.b * scale, t.c, t.d * scale, t.e * scale, t.f)
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
    west, north = transform.c, transform.f
    east, south = xy(transform, height, width, offset="ul")
    valid = np.isfinite(data)
    filled = np.where(valid, data, np.nanmean(data) if valid.any() else 0)
    dx = abs(transform.a) * 111_320 * np.cos(np.radians((north + south) / 2))
    shade = LightSource(azdeg=315, altdeg=45).hillshade(
        filled, vert_exag=2, dx=dx, dy=abs(transform.e) * 110_540
    )
    return (west, south, east, north), (shade * 255).astype(np.uint8), valid


#: Legend names of the layers drawn (the site kinds come from their own table).
LEGEND_NAMES = {
    "villages": ("村庄（按儿童数）", "villages (by children)"),
    "roads": ("道路", "roads"),
    "townships": ("乡镇界", "township boundary"),
    "county": ("县界", "county boundary"),
    "mergers": ("撤并（箭头指向接收学校）", "merger (arrow to the receiving school)"),
    "bus_routes": ("校车线路", "bus routes"),
    "bus_days": ("校车每日行程", "each bus's morning"),
    "spread": ("同一处的几所学校：点击展开", "schools at one place: click to spread them"),
    "closed_sites": ("虚线淡色：已撤并或停办的学校", "dashed and faint: a closed or merged site"),
}


def _swatch(colour: str, shape: str) -> str:
    """A small HTML sample of a layer's symbol."""
    base = "display:inline-block;margin-right:6px;vertical-align:middle;"
    if shape == "dot":
        return (
            f'<span style="{base}width:11px;height:11px;border-radius:6px;'
            f'background:{colour};border:1px solid #444"></span>'
        )
    border = "dashed" if shape == "dash" else "solid"
    head = "&#9654;" if shape == "arrow" else ""
    return (
        f'<span style="{base}width:18px;height:0;border-top:3px {border} {colour}"></span>'
        f'<span style="color:{colour};margin-left:-8px;margin-right:4px">{head}</span>'
    )


def add_legend(m: folium.Map, lang: str | None = None) -> folium.Map:
    """A legend of every layer drawn (site kinds present, villages, roads, boundaries, mergers,
    bus routes; inline HTML, no external assets), bottom right, clear of the scale bar."""
    from branca.element import Element

    lang = _lang(m, lang)
    drawn = getattr(m, "ruralnet", {}).get("drawn", {})
    kinds = [k for k in KIND_COLORS if f"kind:{k}" in drawn] or (
        [] if drawn else [k for k in KIND_COLORS if k != "boarding_school"]
    )
    actions = [k.split(":", 1)[1] for k in drawn if k.startswith("action:")]
    if actions:  # a map coloured by what the plan does: its actions, not the kinds
        kinds = []
    rows = [(_swatch(KIND_COLORS[k], "dot"), label(KINDS, k, lang)) for k in kinds]
    rows += [(_swatch(*drawn[f"action:{a}"]), label(ACTIONS, a, lang)) for a in actions]
    rows += [
        (_swatch(*drawn[key]), LEGEND_NAMES[key][0 if lang == "zh" else 1])
        for key in LEGEND_NAMES
        if key in drawn
    ]
    items = "".join(f"<div>{swatch}{map_text(name)}</div>" for swatch, name in rows)
    ring = "粗黑边：乡镇“三所学校”" if lang == "zh" else "thick ring: the township's three schools"
    box = (
        f'<div class="ruralnet-legend" style="position:fixed;bottom:24px;right:12px;z-index:9999;'
        f"background:white;padding:8px 10px;border:1px solid #999;border-radius:4px;"
        f'font:12px sans-serif;max-height:45vh;overflow-y:auto">'
        f'<b>{"图例" if lang == "zh" else "Legend"}</b>{items}<div style="margin-top:4px">{ring}</div></div>'
    )
    m.get_root().html.add_child(Element(box))
    return m


def finish(m: folium.Map) -> folium.Map:
    """Layer control (and the legend) on a composed map."""
    add_legend(m)
    add_layer_tree(m, _lang(m, None))
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
            towns = county.township_names()
            site_town = county.sites.set_index(county.sites["site_id"].astype(str))
            site_town = site_town["township_code"].astype(str).map(towns).to_dict()
            add_bus_routes(buses.lines, m, townships=site_town)
        fleet = getattr(buses, "county_fleet", None)
        if fleet is not None and len(fleet.lines):
            add_bus_days(fleet.lines, m)
        add_districts(rec.district_layer, m, lang)
    add_sites(county.sites, m)
    zh = lang == "zh"
    year = county.settings.enrolment_year
    add_title(
        m,
        f"{county.name}学校布局调整规划图" if zh else f"{county.name}: school network plan",
        f"{year}学年数据" if zh else f"data of the {year} school year",
    )
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


#: The shipped file that stands in for each CDN script or stylesheet a map names (by the
#: end of its address); anything else (bootstrap, awesome-markers) is not used by ruralnet's
#: layers and is left out.
OFFLINE_SCRIPTS = {
    r"/leaflet(\.min)?\.js$": "leaflet.js",
    r"/jquery[-.\d]*(\.min)?\.js$": "jquery.min.js",
    r"/L\.Control\.Layers\.Tree(\.min)?\.js$": "L.Control.Layers.Tree.js",
    r"/oms(\.min)?\.js$": "oms.js",
}
OFFLINE_STYLES = {r"/L\.Control\.Layers\.Tree(\.min)?\.css$": "L.Control.Layers.Tree.css"}


def _shipped(src: str, table: dict) -> str | None:
    """The shipped file for a CDN address, if any."""
    return next((f for pattern, f in table.items() if re.search(pattern, src)), None)


def offline_html(m: folium.Map) -> str:
    """The map's HTML with Leaflet, jQuery and the plugins' scripts inlined and every CDN
    asset removed.

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
        name = _shipped(match.group(1), OFFLINE_SCRIPTS)
        if name is None:
            return ""
        body = leaflet_js if name == "leaflet.js" else _asset(name).read_text(encoding="utf-8")
        return "<script>" + body.replace("</script", "<\\/script") + "</script>"

    def link(match):
        href = match.group(1)
        if href.endswith("/leaflet.css"):
            return f"<style>{leaflet_css}</style>"
        name = _shipped(href, OFFLINE_STYLES)
        return f"<style>{_asset(name).read_text(encoding='utf-8')}</style>" if name else ""

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
