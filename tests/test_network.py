"""Mode rules, speeds, snapping, components, and compatibility with osmnx/networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from ruralnet.model.settings import Settings
from ruralnet.network.build import parse_maxspeed, way_rules
from ruralnet.outputs.files import extract_ways, write_graphml
from ruralnet.sources import osm


def _ways(**tags) -> pd.DataFrame:
    base = {t: None for t in osm.WAY_TAGS}
    rows = []
    for hwy, extra in tags.items():
        rows.append({**base, "way_id": len(rows) + 1, "highway": hwy.split("__")[0], **extra})
    return pd.DataFrame(rows)


def test_bus_rules():
    ways = _ways(
        primary={},
        primary__fast={"maxspeed": "90"},
        tertiary__slow={"maxspeed": "30"},
        track={},
        track__bad={"tracktype": "grade5"},
        unclassified__gravel={"surface": "gravel"},
        unclassified__narrow={"width": "2.5"},
        residential__private={"access": "private"},
        residential__bus_ok={"access": "no", "psv": "yes"},
        footway={},
        path={},
        steps={},
        secondary__oneway={"oneway": "yes"},
        secondary__backwards={"oneway": "-1"},
        secondary__roundabout={"junction": "roundabout"},
    )
    r = way_rules(ways, "bus", Settings()).set_index(ways["highway"] + ways.index.astype(str))
    s = Settings()
    usable = dict(zip(ways.index, r["usable"], strict=True))
    speed = r["speed_kmh"].to_numpy()
    assert [usable[i] for i in range(len(ways))] == [
        True,
        True,
        True,
        True,
        False,
        True,
        True,
        False,
        True,
        False,
        False,
        False,
        True,
        True,
        True,
    ]
    assert speed[0] == s.bus_speeds_kmh["primary"]
    assert speed[1] == s.bus_speeds_kmh["primary"]  # maxspeed above class speed: class speed
    assert speed[2] == 30
    assert speed[3] == s.bus_slow_kmh and speed[5] == s.bus_slow_kmh and speed[6] == s.bus_slow_kmh
    assert np.nanmax(speed) <= s.bus_max_kmh
    assert r["forward"].tolist()[12:15] == [True, False, True]
    assert r["backward"].tolist()[12:15] == [False, True, False]


def test_bus_never_above_cap():
    ways = _ways(motorway={}, trunk__x={"maxspeed": "120"})
    r = way_rules(ways, "bus", Settings(bus_max_kmh=50.0))
    assert r["speed_kmh"].max() == 50


def test_walk_rules():
    ways = _ways(
        motorway={},
        footway={},
        path={},
        trunk={},
        residential__nofoot={"foot": "no"},
        service__private={"access": "private"},
        service__footok={"access": "private", "foot": "yes"},
    )
    r = way_rules(ways, "walk", Settings())
    assert r["usable"].tolist() == [False, True, True, True, False, False, True]
    assert (r["speed_kmh"] == 4.0).all() and r["forward"].all() and r["backward"].all()


@pytest.mark.parametrize(
    ("value", "kmh"), [("50", 50), ("30 mph", 48.28), ("signals", np.nan), (None, np.nan)]
)
def test_parse_maxspeed(value, kmh):
    got = parse_maxspeed(value)
    assert (np.isnan(got) and np.isnan(kmh)) or got == pytest.approx(kmh, abs=0.01)


def test_bus_network_on_andorra(bus_net, andorra_roads):
    hw = set(bus_net.highway)
    assert not hw & {"footway", "path", "steps", "pedestrian", "cycleway"}
    assert {"primary", "secondary", "residential", "track"} <= hw
    assert bus_net.speed_kmh.max() <= 60
    np.testing.assert_allclose(bus_net.time_s, bus_net.length_m / (bus_net.speed_kmh / 3.6))
    # a one-way way appears in one direction only
    oneway_ids = set(andorra_roads.ways.loc[andorra_roads.ways["oneway"] == "yes", "way_id"])
    edges = bus_net.edges_frame()
    one = edges[edges["way_id"].isin(oneway_ids)]
    pairs = set(zip(one["u"], one["v"], strict=True))
    assert len(one) > 100
    assert not any((v, u) in pairs for u, v in pairs)
    # SOURCE.md: the drivable network has one main component of most nodes
    summary = bus_net.summary()
    assert summary["main_component_share"] > 0.95 and summary["components"] > 1


def test_walk_network_is_symmetric(walk_net):
    fwd = set(zip(walk_net.u.tolist(), walk_net.v.tolist(), strict=True))
    assert all((v, u) in fwd for u, v in fwd)
    assert "footway" in set(walk_net.highway) and "motorway" not in set(walk_net.highway)
    np.testing.assert_allclose(walk_net.speed_kmh, 4.0)


def test_snap_flags_far_points_and_small_components(bus_net):
    on_road = [bus_net.lon[100], bus_net.lat[100]]
    far = [bus_net.lon[100] + 0.05, bus_net.lat[100] + 0.05]  # ~6 km away, outside the roads
    small = np.flatnonzero(bus_net.components > 0)[0]
    snaps = bus_net.snap(
        np.array([on_road, far, [bus_net.lon[small], bus_net.lat[small]]]), ids=["a", "b", "c"]
    )
    assert snaps.loc["a", "snap_m"] < 1 and not snaps.loc["a", "far_snap"]
    assert snaps.loc["b", "far_snap"] and snaps.loc["b", "snap_m"] > 500
    assert snaps.loc["a", "in_main_component"] and not snaps.loc["c", "in_main_component"]
    # the snapped node really is the nearest (brute force over every node)
    from pyproj import Transformer

    tf = Transformer.from_crs(4326, bus_net.metric_crs, always_xy=True)
    x, y = tf.transform(bus_net.lon, bus_net.lat)
    px, py = tf.transform(far[0], far[1])
    assert snaps.loc["b", "node"] == int(np.argmin(np.hypot(x - px, y - py)))


def test_to_networkx_is_osmnx_compatible(bus_net):
    import osmnx as ox

    g = bus_net.to_networkx()
    assert g.number_of_nodes() == bus_net.n_nodes and g.number_of_edges() == bus_net.n_edges
    _nodes, edges = ox.graph_to_gdfs(g)
    assert len(edges) == bus_net.n_edges and edges.crs.equals("EPSG:4326")
    simple = ox.simplify_graph(g)
    assert simple.number_of_nodes() < bus_net.n_nodes / 3
    assert sum(d["length"] for *_, d in simple.edges(data=True)) == pytest.approx(
        bus_net.length_m.sum(), rel=1e-3
    )  # osmnx drops isolated rings


def test_graphml_round_trip(bus_net, tmp_path):
    """#29: osmnx reads the GraphML back with its types (it failed on networkx's writer), and
    its statistics work on the graph (they need ``street_count``)."""
    import osmnx as ox

    path = write_graphml(bus_net, tmp_path / "bus.graphml")
    g = ox.load_graphml(path)
    assert g.number_of_edges() == bus_net.n_edges and g.number_of_nodes() == bus_net.n_nodes
    lengths = sorted(d["length"] for *_, d in g.edges(data=True))
    np.testing.assert_allclose(lengths, np.sort(bus_net.length_m))
    node = next(iter(g.nodes(data=True)))[1]
    assert isinstance(node["x"], float) and isinstance(node["street_count"], int)
    edge = next(iter(g.edges(data=True)))[2]
    assert isinstance(edge["travel_time"], float) and isinstance(edge["oneway"], bool)
    stats = ox.basic_stats(g)
    assert stats["n"] == bus_net.n_nodes and stats["edge_length_total"] == pytest.approx(
        bus_net.length_m.sum()
    )
    # osmnx's own count, from the graph before it was written: dead ends count one street
    counts = nx.get_node_attributes(g, "street_count")
    assert counts == ox.stats.count_streets_per_node(bus_net.to_networkx())
    assert 1 in set(counts.values()) and max(counts.values()) >= 3


@pytest.mark.slow
def test_same_roads_as_osmnx(andorra_pbf, andorra_roads, bus_net, tmp_path):
    """osmnx, fed the same ways, builds the same directed edges with the same lengths."""
    import osmnx as ox

    rules = way_rules(andorra_roads.ways, "bus", Settings())
    ids = andorra_roads.ways.loc[rules["usable"].to_numpy(), "way_id"]
    sub = extract_ways(andorra_pbf, ids, tmp_path / "bus.osm")
    g = ox.graph_from_xml(sub, bidirectional=False, simplify=False, retain_all=True)
    ours = {}
    for u, v, ln in zip(
        bus_net.node_id[bus_net.u].tolist(),
        bus_net.node_id[bus_net.v].tolist(),
        bus_net.length_m.tolist(),
        strict=True,
    ):
        ours[(u, v)] = min(ln, ours.get((u, v), np.inf))
    theirs = {}
    for u, v, d in g.edges(data=True):
        if u != v:
            theirs[(u, v)] = min(d["length"], theirs.get((u, v), np.inf))
    assert set(ours) == set(theirs)
    keys = list(ours)
    np.testing.assert_allclose([ours[k] for k in keys], [theirs[k] for k in keys], rtol=1e-9)


def test_unlisted_drivable_classes_get_the_default_bus_speed():
    """``bus_default_kmh`` is read: a drivable highway class missing from ``bus_speeds_kmh``
    gets it, a path never does, and 0 leaves such roads out."""
    import pandas as pd

    from ruralnet.model.settings import Settings
    from ruralnet.network.build import way_rules
    from ruralnet.sources.osm import WAY_TAGS

    ways = pd.DataFrame({tag: [None] * 3 for tag in WAY_TAGS})
    ways["highway"] = ["primary", "raceway_service_road", "footway"]
    default = way_rules(ways, "bus", Settings())
    assert default["usable"].tolist() == [True, True, False]
    assert default.loc[1, "speed_kmh"] == 25.0
    quick = way_rules(ways, "bus", Settings(bus_default_kmh=35.0))
    assert quick.loc[1, "speed_kmh"] == 35.0
    off = way_rules(ways, "bus", Settings(bus_default_kmh=0.0))
    assert off["usable"].tolist() == [True, False, False]
