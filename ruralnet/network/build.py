"""Road networks per travel mode, built from OSM highways.

One builder (:func:`build_network`) turns a :class:`~ruralnet.sources.osm.RoadTable` into a
:class:`Network` for a mode; the offline path (:func:`network_from_file`) and the online
path (:func:`network_from_overpass`) both end there, as osmnx's ``graph_from_xml`` and
``graph_from_polygon`` both end in ``_create_graph``.

A :class:`Network` holds directed edges as arrays (``u``, ``v``, ``length_m``, ``time_s``)
over the unsimplified OSM nodes, so every village and school snaps to the nearest real road
vertex. :meth:`Network.to_networkx` gives an osmnx-compatible ``MultiDiGraph``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..model.coords import local_metric_crs
from ..model.errors import NetworkError
from ..model.geo import haversine_m
from ..model.settings import Settings
from ..sources.osm import RoadTable, read_highways
from ..sources.overpass import roads_from_overpass
from .travel import CSRGraph, NodeMatrix

log = logging.getLogger(__name__)

Mode = Literal["walk", "bus"]
MODES: tuple[str, ...] = ("walk", "bus")

#: Highway classes nobody walks on (or that do not exist yet).
WALK_EXCLUDED = frozenset(
    {
        "motorway",
        "motorway_link",
        "construction",
        "proposed",
        "abandoned",
        "platform",
        "raceway",
        "bus_guideway",
        "busway",
        "escape",
        "via_ferrata",
        "elevator",
        "disused",
    }
)
#: Highway classes no bus drives on (paths, steps, unbuilt or disused roads...): the others,
#: when missing from ``bus_speeds_kmh``, get ``bus_default_kmh``.
NOT_DRIVABLE = frozenset(
    {
        "footway",
        "path",
        "pedestrian",
        "steps",
        "cycleway",
        "bridleway",
        "corridor",
        "construction",
        "proposed",
        "planned",
        "abandoned",
        "disused",
        "razed",
        "platform",
        "raceway",
        "bus_guideway",
        "escape",
        "emergency_bay",
        "via_ferrata",
        "elevator",
        "bus_stop",
        "rest_area",
        "services",
    }
)
#: Surfaces a school bus drives at the slow speed.
UNPAVED = frozenset(
    {
        "unpaved",
        "gravel",
        "fine_gravel",
        "dirt",
        "earth",
        "ground",
        "grass",
        "sand",
        "mud",
        "compacted",
        "pebblestone",
        "rock",
        "unhewn_cobblestone",
        "woodchips",
        "grass_paver",
    }
)
_BAD_SMOOTHNESS = frozenset({"bad", "very_bad", "horrible", "very_horrible", "impassable"})
_NO = frozenset({"no", "private", "agricultural", "forestry", "delivery", "discouraged"})
_YES = frozenset({"yes", "designated", "permissive", "destination"})


def parse_maxspeed(value) -> float:
    """Km/h from an OSM ``maxspeed`` value (``"50"``, ``"30 mph"``); NaN if not numeric."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(mph|knots)?", str(value))
    if not m:
        return np.nan
    speed = float(m.group(1))
    if m.group(2) == "mph":
        speed *= 1.609344
    elif m.group(2) == "knots":
        speed *= 1.852
    return speed if speed > 0 else np.nan


def parse_width(value) -> float:
    """Metres from an OSM ``width`` value; NaN if not numeric."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(m)?\s*$", str(value).replace(",", "."))
    return float(m.group(1)) if m else np.nan


def _tag(ways: pd.DataFrame, name: str) -> pd.Series:
    return ways[name].astype("string").str.strip().str.lower()


def way_rules(ways: pd.DataFrame, mode: str, settings: Settings) -> pd.DataFrame:
    """Per way: usable by the mode, speed (km/h), allowed directions.

    Walk: every highway except motorways and the classes in :data:`WALK_EXCLUDED`, and
    except where walking is forbidden (``foot=no``, or ``access=no/private`` without
    ``foot=yes``); both directions at ``walk_speed_kmh``.

    Bus: the classes of ``settings.bus_speeds_kmh``, and any other class a vehicle can drive
    (not in :data:`NOT_DRIVABLE`) at ``bus_default_kmh`` (0: not used); not where motor
    vehicles are forbidden,
    not ``tracktype`` grade4/grade5; the class speed, lowered to ``maxspeed``, capped at
    ``bus_max_kmh``, and ``bus_slow_kmh`` on tracks, unpaved or bad surfaces and roads tagged
    narrower than ``bus_min_width_m``; one-way rules respected.

    Returns
    -------
    pandas.DataFrame
        ``usable``, ``speed_kmh``, ``forward``, ``backward`` aligned with ``ways``.
    """
    hwy = _tag(ways, "highway")
    access = _tag(ways, "access")
    out = pd.DataFrame(index=ways.index)
    if mode == "walk":
        foot = _tag(ways, "foot")
        usable = (
            hwy.notna()
            & ~hwy.isin(WALK_EXCLUDED)
            & ~foot.isin({"no", "private"})
            & ~(access.isin({"no", "private"}) & ~foot.isin(_YES))
            & ~_tag(ways, "area").eq("yes").fillna(False)
        )
        out["usable"] = usable.fillna(False).astype(bool)
        out["speed_kmh"] = settings.walk_speed_kmh
        out["forward"] = True
        out["backward"] = True
        return out
    if mode != "bus":
        raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")
    class_speed = hwy.map(dict(settings.bus_speeds_kmh)).astype(float)
    unlisted = class_speed.isna() & hwy.notna() & ~hwy.isin(NOT_DRIVABLE).fillna(True)
    if settings.bus_default_kmh > 0:
        class_speed = class_speed.mask(unlisted, settings.bus_default_kmh)
    motor = _tag(ways, "motor_vehicle")
    motorcar = _tag(ways, "motorcar")
    psv = _tag(ways, "psv").fillna(_tag(ways, "bus"))
    forbidden = (
        (access.isin(_NO) | motor.isin(_NO) | motorcar.isin(_NO)) & ~psv.isin(_YES)
    ).fillna(False)
    tracktype = _tag(ways, "tracktype")
    usable = class_speed.notna() & ~forbidden & ~tracktype.isin({"grade4", "grade5"}).fillna(False)
    usable &= ~_tag(ways, "area").eq("yes").fillna(False)
    maxspeed = ways["maxspeed"].map(parse_maxspeed).astype(float)
    speed = np.fmin(class_speed, maxspeed).clip(upper=settings.bus_max_kmh)
    width = ways["width"].map(parse_width).astype(float)
    slow = (
        hwy.eq("track").fillna(False)
        | _tag(ways, "surface").isin(UNPAVED).fillna(False)
        | _tag(ways, "smoothness").isin(_BAD_SMOOTHNESS).fillna(False)
        | (width < settings.bus_min_width_m).fillna(False)
    )
    speed = speed.where(~slow, np.fmin(speed, settings.bus_slow_kmh))
    oneway = _tag(ways, "oneway")
    roundabout = _tag(ways, "junction").isin({"roundabout", "circular"}).fillna(False)
    fwd_only = (oneway.isin({"yes", "true", "1"}).fillna(False) | roundabout) & ~oneway.eq(
        "no"
    ).fillna(False)
    back_only = oneway.isin({"-1", "reverse"}).fillna(False)
    out["usable"] = usable.astype(bool)
    out["speed_kmh"] = speed
    out["forward"] = ~back_only
    out["backward"] = ~fwd_only | back_only
    return out


@dataclass
class Network:
    """A directed road network for one travel mode, as flat arrays.

    Attributes
    ----------
    mode
        ``walk`` or ``bus``.
    node_id, lon, lat
        OSM node id and WGS84 position of each node (node index = position here).
    u, v
        Directed edges as node indices.
    length_m, time_s, speed_kmh
        Edge length, travel time and speed.
    way_id, highway, name
        The OSM way of each edge.
    reversed
        Edge runs against the way's node order.
    settings
        The settings used (speeds...).
    source
        Where the roads came from.
    """

    mode: str
    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    time_s: np.ndarray
    speed_kmh: np.ndarray
    way_id: np.ndarray
    highway: np.ndarray
    name: np.ndarray
    reversed: np.ndarray
    settings: Settings = field(default_factory=Settings)
    source: str = ""
    crs: str = "EPSG:4326"
    meta: dict = field(default_factory=dict)
    _warned: set = field(default_factory=set, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.u)

    def __repr__(self) -> str:
        return (
            f"<Network {self.mode}: {self.n_nodes:,} nodes, {self.n_edges:,} edges, "
            f"{self.length_m.sum() / 1000:,.0f} km of edges, source={Path(self.source).name!r}>"
        )

    @cached_property
    def graph(self):
        """The compact CSR graph the travel-time engine routes on (see :mod:`ruralnet.network.travel`)."""

        return CSRGraph.from_edges(self.u, self.v, self.time_s, self.length_m, self.n_nodes)

    @cached_property
    def matrix(self) -> NodeMatrix:
        """Times and metres between the nodes asked for so far, both directions, kept for
        every later request (:class:`~ruralnet.network.travel.NodeMatrix`)."""
        return NodeMatrix(self.graph)

    @cached_property
    def components(self) -> np.ndarray:
        """Weakly connected component label of every node; label 0 is the largest."""
        from scipy.sparse.csgraph import connected_components

        _, labels = connected_components(self.graph.time, directed=True, connection="weak")
        sizes = np.bincount(labels)
        rank = np.empty_like(sizes)
        rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
        return rank[labels]

    @cached_property
    def metric_crs(self):
        """The local UTM CRS used for snapping distances."""

        return local_metric_crs(self.lon, self.lat)

    @cached_property
    def _tree(self):
        from pyproj import Transformer
        from scipy.spatial import cKDTree

        tf = Transformer.from_crs("EPSG:4326", self.metric_crs, always_xy=True)
        x, y = tf.transform(self.lon, self.lat)
        return cKDTree(np.column_stack([x, y])), tf

    def snap(self, points, ids=None, flag: bool = True) -> pd.DataFrame:
        """Snap points to their nearest network node.

        Parameters
        ----------
        points
            A GeoSeries/GeoDataFrame of points (any CRS) or an ``(n, 2)`` lon/lat array.
        ids
            Labels for the rows (default: the index of ``points``).

        Returns
        -------
        pandas.DataFrame
            Indexed by ``ids``: ``node`` (index), ``osm_node``, ``snap_m`` (straight-line
            distance to the node), ``far_snap`` (``snap_m > settings.max_snap_m``),
            ``component`` (0 = the main one) and ``in_main_component``.
        """
        import geopandas as gpd
        import shapely

        if isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
            geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
            if geo.crs is not None and not geo.crs.equals("EPSG:4326"):
                geo = geo.to_crs("EPSG:4326")
            lonlat = shapely.get_coordinates(geo.to_numpy())
            index = points.index if ids is None else pd.Index(ids)
        else:
            lonlat = np.asarray(points, dtype=float).reshape(-1, 2)
            index = pd.RangeIndex(len(lonlat)) if ids is None else pd.Index(ids)
        if len(lonlat) != len(index):
            raise ValueError("snap: every point must be a non-empty Point")
        tree, tf = self._tree
        x, y = tf.transform(lonlat[:, 0], lonlat[:, 1])
        dist, node = tree.query(np.column_stack([x, y]))
        comp = self.components[node]
        out = pd.DataFrame(
            {
                "node": node.astype(np.int64),
                "osm_node": self.node_id[node],
                "snap_m": dist,
                "far_snap": dist > self.settings.max_snap_m,
                "component": comp,
                "in_main_component": comp == 0,
            },
            index=index,
        )
        if not flag:
            return out
        far = [i for i in out.index[out["far_snap"]] if i not in self._warned]
        off = [i for i in out.index[~out["in_main_component"]] if i not in self._warned]
        if far:  # each point is flagged once per network, not on every snap
            log.warning(
                "%d point(s) snapped more than %g m to the %s network: %s",
                len(far),
                self.settings.max_snap_m,
                self.mode,
                far[:10],
            )
        if off:
            log.warning(
                "%d point(s) snapped outside the main %s network component: %s",
                len(off),
                self.mode,
                off[:10],
            )
        self._warned.update(far + off)
        return out

    def to_networkx(self):
        """An osmnx-compatible ``networkx.MultiDiGraph`` of exactly this network.

        Nodes are OSM node ids with ``x``/``y`` (lon/lat) and ``street_count`` (osmnx's own
        count, :func:`osmnx.stats.count_streets_per_node`); edges carry ``osmid``,
        ``highway``, ``name``, ``oneway``, ``reversed``, ``length`` (m), ``speed_kph`` and
        ``travel_time`` (s). The graph attribute ``crs`` is EPSG:4326 and ``simplified`` is
        False, so osmnx functions (``ox.simplify_graph``, ``ox.graph_to_gdfs``,
        ``ox.basic_stats``...) accept it.
        """
        import networkx as nx
        import osmnx as ox

        g = nx.MultiDiGraph(
            crs="epsg:4326", simplified=False, mode=self.mode, created_with="ruralnet"
        )
        ids = self.node_id.tolist()
        g.add_nodes_from(
            (nid, {"x": x, "y": y})
            for nid, x, y in zip(ids, self.lon.tolist(), self.lat.tolist(), strict=True)
        )
        pair = self.u.astype(np.int64) * self.n_nodes + self.v
        two_way = np.isin(pair, self.v.astype(np.int64) * self.n_nodes + self.u)
        uid, vid = self.node_id[self.u].tolist(), self.node_id[self.v].tolist()
        g.add_edges_from(
            (
                uid[i],
                vid[i],
                {
                    "osmid": int(self.way_id[i]),
                    "highway": self.highway[i],
                    "name": self.name[i] if self.name[i] is not None else "",
                    "oneway": not bool(two_way[i]),
                    "reversed": bool(self.reversed[i]),
                    "length": float(self.length_m[i]),
                    "speed_kph": float(self.speed_kmh[i]),
                    "travel_time": float(self.time_s[i]),
                },
            )
            for i in range(self.n_edges)
        )
        nx.set_node_attributes(g, ox.stats.count_streets_per_node(g), name="street_count")
        return g

    def edges_frame(self) -> pd.DataFrame:
        """Edges as a table (node indices, OSM ids, lengths, times, tags)."""
        return pd.DataFrame(
            {
                "u": self.u,
                "v": self.v,
                "u_osm": self.node_id[self.u],
                "v_osm": self.node_id[self.v],
                "way_id": self.way_id,
                "highway": self.highway,
                "name": self.name,
                "length_m": self.length_m,
                "speed_kmh": self.speed_kmh,
                "time_s": self.time_s,
            }
        )

    def summary(self) -> dict:
        """Counts a planner checks first: nodes, edges, km of road, components."""
        comp = self.components
        return {
            "mode": self.mode,
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "edge_km": float(self.length_m.sum() / 1000),
            "components": int(comp.max() + 1) if len(comp) else 0,
            "main_component_share": float((comp == 0).mean()) if len(comp) else 0.0,
        }


def build_network(roads: RoadTable, mode: str, settings: Settings | None = None) -> Network:
    """Build the :class:`Network` of one mode from a road table.

    Parameters
    ----------
    roads
        Highways read by :func:`ruralnet.sources.osm.read_highways` (or from Overpass).
    mode
        ``walk`` or ``bus``.
    settings
        Speeds and rules (default :class:`~ruralnet.model.settings.Settings`).

    Raises
    ------
    NetworkError
        If no road is usable by the mode.
    """
    settings = settings or Settings()
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")
    rules = way_rules(roads.ways, mode, settings)
    seg_rules = rules.iloc[roads.seg_way]
    usable = seg_rules["usable"].to_numpy() & (roads.seg_u != roads.seg_v)
    if not usable.any():
        raise NetworkError(f"{roads.source}: no roads usable by mode {mode!r}")
    su, sv, sw = roads.seg_u[usable], roads.seg_v[usable], roads.seg_way[usable]
    speed = seg_rules["speed_kmh"].to_numpy(dtype=float)[usable]
    fwd = seg_rules["forward"].to_numpy(dtype=bool)[usable]
    bwd = seg_rules["backward"].to_numpy(dtype=bool)[usable]
    length = haversine_m(roads.lon[su], roads.lat[su], roads.lon[sv], roads.lat[sv])
    u = np.concatenate([su[fwd], sv[bwd]])
    v = np.concatenate([sv[fwd], su[bwd]])
    way = np.concatenate([sw[fwd], sw[bwd]])
    length = np.concatenate([length[fwd], length[bwd]])
    speed = np.concatenate([speed[fwd], speed[bwd]])
    rev = np.concatenate([np.zeros(fwd.sum(), bool), np.ones(bwd.sum(), bool)])
    # One-way-backwards ways run against their node order: that is their only direction.
    time_s = length / (speed / 3.6)
    nodes, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    ways = roads.ways
    net = Network(
        mode=mode,
        node_id=roads.node_id[nodes],
        lon=roads.lon[nodes],
        lat=roads.lat[nodes],
        u=inverse[: len(u)].astype(np.int64),
        v=inverse[len(u) :].astype(np.int64),
        length_m=length,
        time_s=time_s,
        speed_kmh=speed,
        way_id=ways["way_id"].to_numpy(dtype=np.int64)[way],
        highway=ways["highway"].to_numpy(dtype=object)[way],
        name=ways["name"].to_numpy(dtype=object)[way],
        reversed=rev,
        settings=settings,
        source=roads.source,
    )
    log.info("built %r", net)
    return net


def network_from_file(path: str | Path, mode: str, settings: Settings | None = None) -> Network:
    """Road network of a mode from a local OSM file, entirely offline.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` file.
    mode
        ``walk`` or ``bus``.
    settings
        Speeds and rules.
    """
    return build_network(read_highways(path), mode, settings)


def network_from_overpass(
    mode: str, polygon=None, place: str | None = None, settings: Settings | None = None
) -> Network:
    """Road network of a mode downloaded from Overpass (online; see
    :func:`ruralnet.sources.overpass.roads_from_overpass`)."""

    return build_network(roads_from_overpass(polygon, place, settings), mode, settings)
