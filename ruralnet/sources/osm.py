"""Read OpenStreetMap files (``.osm``, ``.osm.bz2``, ``.osm.pbf``) with pyosmium.

Only this module parses OSM files. It turns highways into flat arrays (a
:class:`RoadTable`), and schools, places and administrative areas into GeoDataFrames.
Ways whose nodes lie outside a clipped extract keep their complete stretches; the
segments that touch a missing node are dropped and counted, never a reason to fail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..model.coords import local_metric_crs
from ..model.errors import NetworkError

log = logging.getLogger(__name__)

#: Way tags kept for the travel-speed and access rules.
WAY_TAGS: tuple[str, ...] = (
    "highway",
    "name",
    "ref",
    "oneway",
    "junction",
    "maxspeed",
    "surface",
    "tracktype",
    "smoothness",
    "width",
    "access",
    "motor_vehicle",
    "motorcar",
    "psv",
    "bus",
    "foot",
    "service",
    "area",
)

OSM_SUFFIXES: tuple[str, ...] = (".osm.pbf", ".pbf", ".osm.bz2", ".osm", ".osm.gz", ".xml")


def is_osm_file(path: str | Path) -> bool:
    """Whether ``path`` has an OSM file suffix that pyosmium reads."""
    name = str(path).lower()
    return any(name.endswith(s) for s in OSM_SUFFIXES)


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"OSM file not found: {path}")
    if not is_osm_file(path):
        raise NetworkError(f"{path}: not an OSM file (expected one of {', '.join(OSM_SUFFIXES)})")
    return path


@dataclass
class RoadTable:
    """Highways of an OSM file as flat arrays: the input of every road network.

    Attributes
    ----------
    node_id, lon, lat
        OSM id and WGS84 position of every node used by a highway segment.
    seg_u, seg_v
        Each consecutive node pair of a way, as positions in ``node_id`` (way direction).
    seg_way
        Row of ``ways`` each segment belongs to.
    ways
        One row per highway way: ``way_id`` and the tags of :data:`WAY_TAGS`.
    dropped_segments
        Segments dropped because a node had no location (clipped extract).
    source
        Where the roads came from (file path or ``overpass``).
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    seg_u: np.ndarray
    seg_v: np.ndarray
    seg_way: np.ndarray
    ways: pd.DataFrame
    dropped_segments: int = 0
    source: str = ""
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_node_paths(
        cls,
        way_rows: list[dict],
        way_refs: list[np.ndarray],
        node_lonlat: dict[int, tuple[float, float]] | None = None,
        way_coords: list[np.ndarray] | None = None,
        source: str = "",
    ) -> RoadTable:
        """Build the table from ways given as node-id paths.

        Parameters
        ----------
        way_rows
            One dict of tags (and ``way_id``) per way.
        way_refs
            Node ids of each way in order.
        node_lonlat
            Positions by node id (used when ``way_coords`` is None).
        way_coords
            Per way, an ``(n, 2)`` array of lon/lat aligned with ``way_refs`` (NaN if unknown).
        source
            Description of the origin.
        """
        if not way_refs:
            raise NetworkError(f"{source}: no highways found")
        lengths = np.fromiter((len(r) for r in way_refs), dtype=np.int64, count=len(way_refs))
        refs = np.concatenate(way_refs).astype(np.int64)
        if way_coords is not None:
            coords = np.concatenate(way_coords).astype(float)
        else:
            coords = np.array(
                [node_lonlat.get(int(r), (np.nan, np.nan)) for r in refs], dtype=float
            )
        way_of = np.repeat(np.arange(len(way_refs)), lengths)
        same_way = way_of[:-1] == way_of[1:]
        valid = np.isfinite(coords).all(axis=1)
        seg_ok = same_way & valid[:-1] & valid[1:]
        dropped = int((same_way & ~(valid[:-1] & valid[1:])).sum())
        a = np.flatnonzero(seg_ok)
        ends = np.concatenate([refs[a], refs[a + 1]])
        node_id, inverse = np.unique(ends, return_inverse=True)
        seg_u = inverse[: len(a)].astype(np.int64)
        seg_v = inverse[len(a) :].astype(np.int64)
        lonlat = np.empty((len(node_id), 2))
        lonlat[seg_u] = coords[a]
        lonlat[seg_v] = coords[a + 1]
        ways = pd.DataFrame(way_rows)
        for tag in WAY_TAGS:
            if tag not in ways.columns:
                ways[tag] = None
        if dropped:
            log.warning(
                "%s: dropped %d segment(s) touching nodes without location", source, dropped
            )
        return cls(
            node_id=node_id,
            lon=lonlat[:, 0],
            lat=lonlat[:, 1],
            seg_u=seg_u,
            seg_v=seg_v,
            seg_way=way_of[a],
            ways=ways,
            dropped_segments=dropped,
            source=source,
        )


def read_highways(path: str | Path) -> RoadTable:
    """Read every ``highway=*`` way of an OSM file into a :class:`RoadTable`.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` file.
    """
    import osmium

    path = _check_path(path)
    rows: list[dict] = []
    refs: list[np.ndarray] = []
    coords: list[np.ndarray] = []
    proc = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    try:
        for way in proc:
            tags = way.tags
            row = {"way_id": way.id}
            for tag in WAY_TAGS:
                value = tags.get(tag)
                if value is not None:
                    row[tag] = value
            nodes = way.nodes
            n = len(nodes)
            ids = np.empty(n, dtype=np.int64)
            xy = np.empty((n, 2))
            for i, nd in enumerate(nodes):
                ids[i] = nd.ref
                loc = nd.location
                if loc.valid():
                    xy[i, 0] = loc.lon
                    xy[i, 1] = loc.lat
                else:
                    xy[i] = np.nan
            rows.append(row)
            refs.append(ids)
            coords.append(xy)
    except RuntimeError as exc:
        raise NetworkError(f"{path}: cannot read OSM data: {exc}") from exc
    table = RoadTable.from_node_paths(rows, refs, way_coords=coords, source=str(path))
    log.info(
        "%s: %d highway ways, %d nodes, %d segments",
        path.name,
        len(rows),
        len(table.node_id),
        len(table.seg_u),
    )
    return table


def file_bbox(path: str | Path) -> tuple[float, float, float, float] | None:
    """The bounding box (west, south, east, north) in the file header, if it has one."""
    import osmium

    path = _check_path(path)
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
    except RuntimeError as exc:
        raise NetworkError(f"{path.name}: cannot read the OSM file ({exc})") from exc
    try:
        box = reader.header().box()
    finally:
        reader.close()
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


# --------------------------------------------------------------------------------------
# Point features: schools, places, administrative areas


def _features(path: Path, key: str, values: set[str], keep: tuple[str, ...]) -> list[dict]:
    """Nodes and ways (as centroid of their polygon or line) with ``key`` in ``values``."""
    import osmium

    out: list[dict] = []
    proc = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.TagFilter(*[(key, v) for v in values]))
    )
    for obj in proc:
        if obj.is_node():
            if not obj.location.valid():
                continue
            geom = shapely.Point(obj.location.lon, obj.location.lat)
            kind = "node"
        else:
            pts = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if not pts:
                continue
            if len(pts) >= 4 and pts[0] == pts[-1]:
                geom = shapely.Polygon(pts)
                geom = geom if geom.is_valid else geom.buffer(0)
                geom = geom.representative_point() if not geom.is_empty else shapely.Point(pts[0])
            else:
                geom = shapely.LineString(pts).centroid if len(pts) > 1 else shapely.Point(pts[0])
            kind = "way"
        row = {"osm_type": kind, "osm_id": obj.id, key: obj.tags.get(key), "geometry": geom}
        for tag in keep:
            row[tag] = obj.tags.get(tag)
        out.append(row)
    return out


#: OSM ``isced:level`` (or ``school``) values mapped to ruralnet site kinds.
_ISCED_KIND = {"0": "kindergarten", "1": "village_primary", "2": "junior_middle"}


def _osm_kind(amenity: str | None, isced: str | None) -> str:
    if amenity == "kindergarten":
        return "kindergarten"
    levels = sorted({p.strip() for p in str(isced or "").replace(",", ";").split(";") if p.strip()})
    if levels == ["1", "2"]:
        return "nine_year"
    if len(levels) == 1 and levels[0] in _ISCED_KIND:
        return _ISCED_KIND[levels[0]]
    return "village_primary"


def sites_from_osm(
    path: str | Path,
    townships: gpd.GeoDataFrame | None = None,
    township_col: str = "township_code",
    amenities: tuple[str, ...] = ("school", "kindergarten"),
) -> gpd.GeoDataFrame:
    """School and kindergarten sites of an OSM file as points, with their names.

    For a county whose bureau has no coordinates yet. Enrolment is not in OSM: ``pupils`` is
    left empty for :func:`ruralnet.sources.roster.join_roster` (or an assumption labelled as such).
    The kind is a guess from ``amenity`` and ``isced:level`` (``kind_source = "osm"``).

    Parameters
    ----------
    path
        OSM file.
    townships
        Optional township polygons; each site gets the ``township_col`` of the polygon it
        falls in (or the nearest one).
    township_col
        Column of ``townships`` holding the code.
    amenities
        ``amenity`` values to read.

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id`` (``osm:node/1`` style), ``name``, ``kind``, ``pupils`` (empty), OSM tags,
        point geometry in EPSG:4326.
    """
    path = _check_path(path)
    rows = _features(
        path, "amenity", set(amenities), ("name", "name:zh", "name:en", "isced:level", "operator")
    )
    gdf = (
        gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        if rows
        else gpd.GeoDataFrame(
            columns=["osm_type", "osm_id", "amenity", "name", "geometry"],
            geometry="geometry",
            crs="EPSG:4326",
        )
    )
    gdf["site_id"] = "osm:" + gdf["osm_type"].astype(str) + "/" + gdf["osm_id"].astype(str)
    zh = gdf.get("name:zh", pd.Series(None, index=gdf.index))
    gdf["name"] = zh.fillna(gdf["name"]).fillna(gdf["site_id"])
    gdf["kind"] = [
        _osm_kind(a, i)
        for a, i in zip(gdf["amenity"], gdf.get("isced:level", [None] * len(gdf)), strict=True)
    ]
    gdf["kind_source"] = "osm"
    gdf["pupils"] = np.nan
    if townships is not None:
        gdf[township_col] = assign_townships(gdf, townships, township_col)
    log.info("%s: %d school/kindergarten sites", path.name, len(gdf))
    return gdf.sort_values("site_id").reset_index(drop=True)


def places_from_osm(
    path: str | Path,
    places: tuple[str, ...] = ("village", "hamlet", "isolated_dwelling", "town"),
) -> gpd.GeoDataFrame:
    """Settlements (``place=*`` nodes and ways) with their names and OSM population tag."""
    path = _check_path(path)
    rows = _features(path, "place", set(places), ("name", "name:zh", "population"))
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    gdf["population"] = pd.to_numeric(gdf["population"], errors="coerce")
    return gdf.sort_values(["osm_type", "osm_id"]).reset_index(drop=True)


def admin_areas_from_osm(path: str | Path, admin_level: int | str) -> gpd.GeoDataFrame:
    """Administrative boundary polygons of one ``admin_level`` (relations assembled by osmium).

    Returns
    -------
    geopandas.GeoDataFrame
        ``osm_id``, ``name``, ``ref``, ``admin_level`` and (Multi)Polygon geometry.
    """
    import osmium

    path = _check_path(path)
    wkb = osmium.geom.WKBFactory()
    rows = []
    proc = (
        osmium.FileProcessor(str(path))
        .with_areas(osmium.filter.TagFilter(("boundary", "administrative")))
        .with_filter(osmium.filter.EntityFilter(osmium.osm.AREA))
        .with_filter(osmium.filter.TagFilter(("admin_level", str(admin_level))))
    )
    for area in proc:
        try:
            geom = shapely.from_wkb(wkb.create_multipolygon(area))
        except RuntimeError:
            log.warning("admin area %s could not be assembled", area.orig_id())
            continue
        rows.append(
            {
                "osm_id": area.orig_id(),
                "name": area.tags.get("name"),
                "ref": area.tags.get("ref"),
                "admin_level": str(admin_level),
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def assign_townships(points: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, col: str) -> pd.Series:
    """The ``col`` value of the township polygon each point lies in (nearest if in none)."""

    xy = shapely.get_coordinates(points.geometry.to_numpy())
    crs = local_metric_crs(xy[:, 0], xy[:, 1])
    pts = points[["geometry"]].to_crs(crs)
    polys = townships[[col, "geometry"]].to_crs(crs)
    joined = gpd.sjoin_nearest(pts, polys, how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined[col].reindex(points.index)


def road_lines(roads: RoadTable) -> gpd.GeoDataFrame:
    """One (Multi)LineString per highway way, with ``way_id``, ``highway``, ``name`` (for maps)."""
    seg_xy = np.stack(
        [
            np.c_[roads.lon[roads.seg_u], roads.lat[roads.seg_u]],
            np.c_[roads.lon[roads.seg_v], roads.lat[roads.seg_v]],
        ],
        axis=1,
    )
    order = np.argsort(roads.seg_way, kind="stable")
    ways, starts = np.unique(roads.seg_way[order], return_index=True)
    geoms = []
    for k, _w in enumerate(ways):
        end = starts[k + 1] if k + 1 < len(starts) else len(order)
        geoms.append(
            shapely.line_merge(shapely.MultiLineString(list(seg_xy[order[starts[k] : end]])))
        )
    table = roads.ways.iloc[ways]
    return gpd.GeoDataFrame(
        {
            "way_id": table["way_id"].to_numpy(),
            "highway": table["highway"].to_numpy(),
            "name": table["name"].to_numpy(),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
