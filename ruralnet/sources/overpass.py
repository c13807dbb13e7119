"""Highways from Overpass (online, through osmnx), as the same :class:`RoadTable` a local OSM
file gives; the one optional online source."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.errors import NetworkError, OfflineError
from ..model.settings import Settings
from .datasets import cache_dir
from .osm import WAY_TAGS, RoadTable


def roads_from_overpass(
    polygon=None, place: str | None = None, settings: Settings | None = None
) -> RoadTable:
    """Download the highways in a polygon (or a named place) from Overpass via osmnx.

    Responses are cached by osmnx in ``settings.cache_dir`` (default: the user cache folder),
    so a second call for the same area works offline.

    Parameters
    ----------
    polygon
        A shapely (Multi)Polygon in WGS84.
    place
        A place name osmnx can geocode (e.g. ``"连南瑶族自治县, 广东省"``), instead of a polygon.
    settings
        ``offline`` must be False.

    Raises
    ------
    OfflineError
        When ``settings.offline`` is True.
    """
    settings = settings or Settings()
    if settings.offline:
        raise OfflineError(
            "Overpass download asked for while offline; pass Settings(offline=False) "
            "or use a local OSM file (roads.osm.pbf)"
        )
    if (polygon is None) == (place is None):
        raise ValueError("give exactly one of polygon or place")
    import osmnx as ox

    old = (ox.settings.useful_tags_way, ox.settings.use_cache, ox.settings.cache_folder)
    ox.settings.useful_tags_way = list(set(ox.settings.useful_tags_way) | set(WAY_TAGS))
    ox.settings.use_cache = True
    ox.settings.cache_folder = str(
        Path(settings.cache_dir) if settings.cache_dir else cache_dir() / "overpass"
    )
    try:
        kwargs = {"custom_filter": '["highway"]', "simplify": False, "retain_all": True}
        if polygon is not None:
            g = ox.graph_from_polygon(polygon, truncate_by_edge=True, **kwargs)
        else:
            g = ox.graph_from_place(place, **kwargs)
    finally:
        ox.settings.useful_tags_way, ox.settings.use_cache, ox.settings.cache_folder = old
    return roads_from_osmnx(g, source=f"overpass:{place or 'polygon'}")


def roads_from_osmnx(graph, source: str = "osmnx") -> RoadTable:
    """Turn an unsimplified osmnx graph back into a :class:`RoadTable`.

    osmnx stores each way's segments as edges: two-way streets twice (the added opposite
    direction marked ``reversed``), one-way streets once in their direction of travel
    (``oneway=-1`` ways already turned round). The table keeps each segment once, in that
    direction, with one row of tags per segment.
    """
    rows: dict[int, dict] = {}
    seg_u, seg_v, seg_w = [], [], []
    for a, b, data in graph.edges(data=True):
        if data.get("reversed"):
            continue  # the opposite direction osmnx added to a two-way way
        wid = data["osmid"]
        if isinstance(wid, list):
            raise NetworkError("roads_from_osmnx needs an unsimplified graph (simplify=False)")
        if wid not in rows:
            row = {"way_id": int(wid)}
            for tag in WAY_TAGS:
                value = data.get(tag)
                if isinstance(value, bool):
                    value = "yes" if value else "no"
                if value is not None and tag != "oneway":
                    row[tag] = value
            if data.get("oneway"):
                row["oneway"] = "yes"
            rows[wid] = row
        seg_u.append(a)
        seg_v.append(b)
        seg_w.append(wid)
    refs = [np.array([a, b], dtype=np.int64) for a, b in zip(seg_u, seg_v, strict=True)]
    coords = [
        np.array(
            [[graph.nodes[a]["x"], graph.nodes[a]["y"]], [graph.nodes[b]["x"], graph.nodes[b]["y"]]]
        )
        for a, b in zip(seg_u, seg_v, strict=True)
    ]
    way_rows = [rows[w] for w in seg_w]
    return RoadTable.from_node_paths(way_rows, refs, way_coords=coords, source=source)
