"""The travel-time engine against networkx Dijkstra (the independent oracle)."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from ruralnet.network.travel import CSRGraph, nearest, od_from_snaps, od_matrix, travel_times


def _nx_graph(u, v, t, m):
    g = nx.MultiDiGraph()
    for a, b, tt, mm in zip(u, v, t, m, strict=True):
        g.add_edge(int(a), int(b), time=float(tt), length=float(mm))
    return g


def _check_against_networkx(g, n, u, v, t, m, sources, targets):
    csr = CSRGraph.from_edges(u, v, t, m, n)
    times, metres = travel_times(csr, sources, targets)
    for i, s in enumerate(sources):
        dist, paths = nx.single_source_dijkstra(g, int(s), weight="time")
        for j, d in enumerate(targets):
            ref = dist.get(int(d))
            if ref is None:
                assert np.isnan(times[i, j]) or np.isinf(times[i, j])
                assert np.isnan(metres[i, j])
                continue
            assert times[i, j] == pytest.approx(ref, abs=1e-6)
            path = paths[int(d)]
            # the metres of networkx's fastest path (ties between equally fast paths aside)
            length = sum(
                min(
                    e["length"]
                    for e in g[a][b].values()
                    if e["time"] == min(x["time"] for x in g[a][b].values())
                )
                for a, b in itertools.pairwise(path)
            )
            assert metres[i, j] == pytest.approx(length, abs=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_random_graphs_match_networkx(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    e = int(rng.integers(n, 4 * n))
    u = rng.integers(0, n, e)
    v = rng.integers(0, n, e)
    keep = u != v
    u, v = u[keep], v[keep]
    t = rng.uniform(1, 100, len(u))  # distinct random times: shortest paths are unique
    m = rng.uniform(10, 2000, len(u))
    g = _nx_graph(u, v, t, m)
    g.add_nodes_from(range(n))
    sources = rng.choice(n, min(n, 12), replace=False)
    targets = rng.choice(n, min(n, 15), replace=False)
    _check_against_networkx(g, n, u, v, t, m, sources, targets)
    # routing from the larger side goes backwards on the reversed graph: same answer
    _check_against_networkx(g, n, u, v, t, m, targets[:3], sources)


def test_parallel_edges_keep_the_minimum():
    """scipy.sparse adds duplicate entries: 5 s and 3 s in parallel must be 3 s, not 8 s."""
    csr = CSRGraph.from_edges([0, 0, 1], [1, 1, 2], [5.0, 3.0, 1.0], [50.0, 40.0, 10.0], 3)
    times, metres = travel_times(csr, [0], [1, 2])
    np.testing.assert_allclose(times, [[3.0, 4.0]])
    np.testing.assert_allclose(metres, [[40.0, 50.0]])


def test_unreachable_is_nan_and_cutoff():
    csr = CSRGraph.from_edges([0, 1], [1, 2], [60.0, 60.0], [1.0, 1.0], 4)
    times, metres = travel_times(csr, [0, 3], [2, 3])
    assert times[0, 0] == 120 and np.isinf(times[0, 1]) and np.isnan(metres[0, 1])
    assert times[1, 1] == 0 and metres[1, 1] == 0
    cut, _ = travel_times(csr, [0], [1, 2], cutoff_s=90)
    assert cut[0, 0] == 60 and np.isinf(cut[0, 1])


def test_andorra_matches_networkx(bus_net):
    """Every pair among random real road nodes, both directions, to 1e-6 s."""
    rng = np.random.default_rng(7)
    g = bus_net.to_networkx()
    main = np.flatnonzero(bus_net.components == 0)
    sources = rng.choice(main, 6, replace=False)
    targets = np.concatenate([rng.choice(bus_net.n_nodes, 40, replace=False), sources[:2]])
    times, _metres = travel_times(bus_net.graph, sources, targets)
    for i, s in enumerate(sources):
        ref = nx.single_source_dijkstra_path_length(
            g, int(bus_net.node_id[s]), weight="travel_time"
        )
        for j, d in enumerate(targets):
            r = ref.get(int(bus_net.node_id[d]))
            if r is None:
                assert not np.isfinite(times[i, j])
            else:
                assert times[i, j] == pytest.approx(r, abs=1e-6)
    assert np.isfinite(times).mean() > 0.8


def test_walk_metres_match_networkx_paths(walk_net):
    rng = np.random.default_rng(3)
    g = walk_net.to_networkx()
    main = np.flatnonzero(walk_net.components == 0)
    s = int(rng.choice(main))
    targets = rng.choice(main, 25, replace=False)
    times, metres = travel_times(walk_net.graph, [s], targets)
    # walking speed is constant: the fastest path is the shortest, so metres = time * speed
    ref = nx.single_source_dijkstra_path_length(g, int(walk_net.node_id[s]), weight="length")
    for j, d in enumerate(targets):
        assert metres[0, j] == pytest.approx(ref[int(walk_net.node_id[d])], abs=1e-6)
    np.testing.assert_allclose(metres[0], times[0] * 4.0 / 3.6, rtol=1e-9)


def test_od_matrix_long_table(andorra_county):
    net = andorra_county.network("bus")
    villages, sites = andorra_county.villages, andorra_county.sites
    od = od_matrix(
        net, villages, sites, origin_ids="village_id", destination_ids="site_id", progress=False
    )
    assert list(od.columns) == ["from_id", "to_id", "minutes", "metres"]
    assert len(od) == len(villages) * len(sites)
    assert set(od["from_id"]) == set(villages["village_id"])
    # connectors: node-to-node time plus the walk to the road at both ends
    v_snap = net.snap(villages.set_index("village_id"))
    s_snap = net.snap(sites.set_index("site_id"))
    bare = od_from_snaps(net, v_snap, s_snap, connectors=False, progress=False)
    extra = (od["minutes"] - bare["minutes"]).to_numpy()
    expected = (
        (
            v_snap["snap_m"].reindex(od["from_id"]).to_numpy()
            + s_snap["snap_m"].reindex(od["to_id"]).to_numpy()
        )
        / (net.settings.connector_speed_kmh / 3.6)
        / 60
    )
    ok = np.isfinite(extra)
    np.testing.assert_allclose(extra[ok], expected[ok], atol=1e-9)
    # unreachable pairs are NaN, never a sentinel
    assert od["minutes"].max() < 24 * 60
    off = v_snap.index[~v_snap["in_main_component"]]
    if len(off):
        assert od.loc[od["from_id"].isin(off), "minutes"].isna().any()


def test_od_cutoff(andorra_county):
    net = andorra_county.network("bus")
    full = od_matrix(net, andorra_county.villages, andorra_county.sites, progress=False)
    cut = od_matrix(
        net, andorra_county.villages, andorra_county.sites, cutoff_minutes=10, progress=False
    )
    within = full["minutes"] <= 10
    np.testing.assert_allclose(cut.loc[within, "minutes"], full.loc[within, "minutes"])
    assert cut.loc[~within, "minutes"].isna().all()


def test_nearest_by_kind_keeps_unreachable_origins():
    od = gpd.pd.DataFrame(
        {
            "from_id": ["v1", "v1", "v1", "v2", "v2", "v2"],
            "to_id": ["a", "b", "c"] * 2,
            "minutes": [10.0, 5.0, 7.0, np.nan, np.nan, np.nan],
            "metres": [1.0, 2.0, 3.0] + [np.nan] * 3,
        }
    )
    sites = gpd.GeoDataFrame(
        {"site_id": ["a", "b", "c"], "kind": ["k", "p", "p"]}, geometry=[shapely.Point(0, 0)] * 3
    )
    best = nearest(od, sites, by="kind", id_col="site_id")
    row = best[(best["from_id"] == "v1") & (best["kind"] == "p")].iloc[0]
    assert row["to_id"] == "b" and row["minutes"] == 5
    assert best["from_id"].tolist().count("v2") == 2
    assert best.loc[best["from_id"] == "v2", "to_id"].isna().all()
    overall = nearest(od)
    assert overall.set_index("from_id").loc["v1", "to_id"] == "b"


def _road_like(seed: int):
    """Junctions joined by subdivided chains: one-way either way, two-way with unequal times,
    parallel chains, dead ends, and a ring with no junction at all."""
    rng = np.random.default_rng(seed)
    n_junctions = int(rng.integers(5, 25))
    u, v, t, m = [], [], [], []
    nxt = n_junctions

    def add(a, b):
        u.append(a)
        v.append(b)
        t.append(rng.uniform(1, 60))
        m.append(rng.uniform(5, 500))

    for _ in range(int(rng.integers(n_junctions, 3 * n_junctions))):
        a, b = (int(x) for x in rng.integers(0, n_junctions, 2))
        interior = list(range(nxt, nxt + int(rng.integers(0, 6))))
        nxt += len(interior)
        path = [a, *interior, b]
        kind = rng.choice(["two", "fwd", "bwd"])
        for p, q in itertools.pairwise(path):
            if p == q:
                continue
            if kind in ("two", "fwd"):
                add(p, q)
            if kind in ("two", "bwd"):
                add(q, p)
    ring = list(range(nxt, nxt + 5))
    for p, q in itertools.pairwise([*ring, ring[0]]):
        add(p, q)
        add(q, p)
    n = nxt + 5
    return n, np.array(u), np.array(v), np.array(t), np.array(m)


@pytest.mark.parametrize("seed", range(10))
def test_contraction_is_exact_on_road_like_graphs(seed):
    n, u, v, t, m = _road_like(seed)
    g = _nx_graph(u, v, t, m)
    g.add_nodes_from(range(n))
    rng = np.random.default_rng(seed + 100)
    nodes = rng.choice(n, min(n, 20), replace=False)
    _check_against_networkx(g, n, u, v, t, m, nodes[:8], nodes[8:])
    csr = CSRGraph.from_edges(u, v, t, m, n)
    full_t, full_m = travel_times(csr, nodes[:8], nodes, contract=False)
    red_t, red_m = travel_times(csr, nodes[:8], nodes, contract=True)
    np.testing.assert_allclose(red_t, full_t, atol=1e-9)
    np.testing.assert_allclose(red_m, full_m, atol=1e-9)


def test_contraction_shrinks_the_real_graph(bus_net):
    from ruralnet.network.travel import reduce_graph

    keep = np.arange(0, bus_net.n_nodes, 1000)
    reduced, mapping = reduce_graph(bus_net.graph, keep)
    assert reduced.n < bus_net.n_nodes / 4
    assert (mapping[keep] >= 0).all()


@pytest.mark.parametrize("seed", range(6))
def test_node_matrix_grown_in_steps_equals_the_full_engine(seed):
    """Issue #26: the county's bus work reads one matrix over its nodes, grown as nodes are
    asked for; every sub-matrix equals the uncontracted engine (itself checked against
    networkx above), duplicates and both directions included."""
    from ruralnet.network.travel import NodeMatrix

    n, u, v, t, m = _road_like(seed)
    csr = CSRGraph.from_edges(u, v, t, m, n)
    rng = np.random.default_rng(seed + 7)
    matrix = NodeMatrix(csr)
    for _ in range(3):
        a = rng.choice(n, 9)  # with repeats
        b = rng.choice(n, 6)
        got_t, got_m = matrix.between(a, b)
        ref_t, ref_m = csr.shortest(a, b)
        np.testing.assert_allclose(got_t, ref_t, atol=1e-9)
        np.testing.assert_allclose(got_m, ref_m, atol=1e-9)
        back_t, _ = matrix.between(b, a)
        np.testing.assert_allclose(back_t, csr.shortest(b, a)[0], atol=1e-9)
    assert len(matrix.nodes) == len(np.unique(matrix.nodes)) <= n
    assert (np.diff(matrix.nodes) > 0).all()


def test_paths_from_a_kept_tree_match_networkx(bus_net):
    """Issue #26: route lines take every leg's path from one tree per start (kept); the
    paths are fastest paths (their time is networkx's shortest time)."""
    g = bus_net.to_networkx()
    graph, osm = bus_net.graph, bus_net.node_id
    rng = np.random.default_rng(3)
    main = np.flatnonzero(bus_net.components == 0)
    sources = rng.choice(main, 3, replace=False)
    targets = np.concatenate([rng.choice(main, 4, replace=False), [sources[0]]])
    for s in sources:
        first = graph.paths(int(s), targets)
        again = graph.paths(int(s), targets)  # from the kept tree
        assert first == again and int(s) in graph._trees
        dist = nx.single_source_dijkstra_path_length(g, int(osm[s]), weight="travel_time")
        for target, path in zip(targets, first, strict=True):
            assert path[0] == int(s) and path[-1] == int(target)
            legs = [
                min(e["travel_time"] for e in g[int(osm[a])][int(osm[b])].values())
                for a, b in itertools.pairwise(path)
            ]
            assert sum(legs) == pytest.approx(dist[int(osm[target])], abs=1e-6)
