"""Travel-time engine and network loading vs osmnx/networkx, on the real Andorra extract.

Prints, all measured in this run on this machine:

* load: our PBF reader + bus-network builder vs osmnx ``graph_from_xml`` on the same bus ways
  (written to .osm first, since osmnx cannot read PBF; that extraction is not counted against
  osmnx) with ``add_edge_speeds``/``add_edge_travel_times``; each in a fresh process, with its
  peak memory. Checks that both give the same roads and the same travel times.
* routing: every village and hamlet x every school and kindergarten (OSM place and amenity
  nodes), our engine vs a networkx loop of ``single_source_dijkstra_path_length`` over the
  origins, on the same graph; checks the results are identical.

Imports are outside the timings on both sides.

Usage: ``python benchmarks/bench_travel.py [--geodata DIR] [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _stage(name: str, pbf: str, osm_xml: str | None) -> dict:
    """Run one loader in this (fresh) process; report seconds (imports excluded) and peak RSS."""
    import osmnx as ox

    from ruralnet.model.settings import Settings
    from ruralnet.network.build import network_from_file

    t0 = time.perf_counter()
    if name in ("ours", "ours_walk"):
        net = network_from_file(pbf, "bus" if name == "ours" else "walk")
        n, e = net.n_nodes, net.n_edges
    else:
        simplify = name == "osmnx"
        g = ox.graph_from_xml(osm_xml, bidirectional=False, simplify=simplify, retain_all=True)
        g = ox.add_edge_speeds(g, hwy_speeds=dict(Settings().bus_speeds_kmh), fallback=25)
        g = ox.add_edge_travel_times(g)
        n, e = g.number_of_nodes(), g.number_of_edges()
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"stage": name, "seconds": seconds, "peak_mb": peak_mb, "nodes": n, "edges": e}


def _in_subprocess(name: str, pbf: Path, osm_xml: Path | None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--pbf", str(pbf), "--osm", str(osm_xml or "")],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _same_roads_and_times(pbf: Path, osm_xml: Path) -> dict:
    """osmnx (unsimplified) and ours: same directed edges, lengths, and, with our speeds, times."""
    import networkx as nx
    import osmnx as ox

    from ruralnet.model.settings import Settings
    from ruralnet.network.build import build_network, way_rules
    from ruralnet.sources.osm import read_highways

    roads = read_highways(pbf)
    net = build_network(roads, "bus")
    g = ox.graph_from_xml(osm_xml, bidirectional=False, simplify=False, retain_all=True)
    rules = way_rules(roads.ways, "bus", Settings())
    speed = dict(zip(roads.ways["way_id"], rules["speed_kmh"], strict=True))
    for _, _, d in g.edges(data=True):
        d["travel_time"] = d["length"] / (speed[d["osmid"]] / 3.6)
    ours = set(zip(net.node_id[net.u].tolist(), net.node_id[net.v].tolist(), strict=True))
    theirs = {(u, v) for u, v in g.edges() if u != v}
    rng = np.random.default_rng(0)
    sample = rng.choice(np.flatnonzero(net.components == 0), 5, replace=False)
    targets = rng.choice(np.flatnonzero(net.components == 0), 200, replace=False)
    times, _ = net.graph.shortest(sample, targets, metres=False)
    worst = 0.0
    for i, s in enumerate(sample):
        ref = nx.single_source_dijkstra_path_length(g, int(net.node_id[s]), weight="travel_time")
        for j, t in enumerate(targets):
            r = ref.get(int(net.node_id[t]), np.inf)
            if np.isfinite(r) != np.isfinite(times[i, j]):
                worst = np.inf  # reachable in one graph only
            elif np.isfinite(r):
                worst = max(worst, abs(r - times[i, j]))
    return {"same_edges": ours == theirs, "edges": len(ours), "max_time_diff_s": worst}


def _pandana(net, o, d, ours) -> dict | None:
    """pandana (contraction hierarchies) on the same directed graph, if it is installed."""
    try:
        import pandana
    except ImportError:
        return None
    import pandas as pd

    t0 = time.perf_counter()
    nodes = pd.DataFrame({"x": net.lon, "y": net.lat})
    edges = pd.DataFrame({"from": net.u, "to": net.v, "t": net.time_s})
    pn = pandana.Network(
        nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["t"]], twoway=False
    )
    prep = time.perf_counter() - t0
    oo, dd = np.repeat(o, len(d)), np.tile(d, len(o))
    t0 = time.perf_counter()
    lengths = np.asarray(pn.shortest_path_lengths(oo, dd, imp_name="t"), dtype=float).reshape(
        len(o), len(d)
    )
    query = time.perf_counter() - t0
    ok = np.isfinite(ours) & (lengths < 1e9)
    return {
        "prepare_s": prep,
        "query_s": query,
        "max_diff_s": float(np.abs(lengths[ok] - ours[ok]).max()),
        "version": pandana.__version__,
    }


def _routing(pbf: Path, repeat: int) -> dict:
    import networkx as nx

    from ruralnet.network.build import network_from_file
    from ruralnet.network.travel import travel_times
    from ruralnet.sources.osm import places_from_osm, sites_from_osm

    net = network_from_file(pbf, "bus")
    places = places_from_osm(pbf, ("village", "hamlet"))
    schools = sites_from_osm(pbf)
    o = net.snap(places)["node"].to_numpy()
    d = net.snap(schools)["node"].to_numpy()
    g = net.to_networkx()
    t0 = time.perf_counter()
    travel_times(net.graph, o, d, metres=False)
    first_s = time.perf_counter() - t0  # includes finding the degree-2 chains (cached after)
    ours_t, ours_tm = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        times, _ = travel_times(net.graph, o, d, metres=False)
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        travel_times(net.graph, o, d, metres=True)
        ours_tm.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    ref = np.full((len(o), len(d)), np.inf)
    for i, s in enumerate(net.node_id[o]):
        dist = nx.single_source_dijkstra_path_length(g, int(s), weight="travel_time")
        ref[i] = [dist.get(int(t), np.inf) for t in net.node_id[d]]
    nx_s = time.perf_counter() - t0
    pandana = _pandana(net, o, d, times)
    finite = np.isfinite(ref)
    assert np.array_equal(finite, np.isfinite(times)), "reachability differs from networkx"
    max_diff = float(np.abs(ref[finite] - times[finite]).max())
    assert max_diff < 1e-6, f"times differ from networkx by {max_diff}"
    return {
        "origins": len(o),
        "destinations": len(d),
        "graph_nodes": net.n_nodes,
        "graph_edges": net.n_edges,
        "first_call_s": first_s,
        "ours_s": min(ours_t),
        "ours_with_metres_s": min(ours_tm),
        "networkx_s": nx_s,
        "max_diff_s": max_diff,
        "pandana": pandana,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--geodata", type=Path, default=None, help="shared geodata folder")
    p.add_argument("--repeat", type=int, default=3, help="repeats of our routing (best is kept)")
    p.add_argument("--stage", help=argparse.SUPPRESS)
    p.add_argument("--pbf", help=argparse.SUPPRESS)
    p.add_argument("--osm", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.stage:
        print(json.dumps(_stage(args.stage, args.pbf, args.osm or None)))
        return

    from ruralnet import datasets
    from ruralnet.model.settings import Settings
    from ruralnet.network.build import way_rules
    from ruralnet.outputs.files import extract_ways
    from ruralnet.sources.osm import read_highways

    root = args.geodata or datasets.shared_geodata()
    if root is None:
        sys.exit("no shared geodata (../shared/geodata); pass --geodata")
    pbf = Path(root) / "andorra" / "andorra-2025-01.osm.pbf"

    with tempfile.TemporaryDirectory() as tmp:
        roads = read_highways(pbf)
        usable = way_rules(roads.ways, "bus", Settings())["usable"].to_numpy()
        t0 = time.perf_counter()
        osm_xml = extract_ways(pbf, roads.ways.loc[usable, "way_id"], Path(tmp) / "bus.osm")
        extract_s = time.perf_counter() - t0
        ours = _in_subprocess("ours", pbf, None)
        ours_walk = _in_subprocess("ours_walk", pbf, None)
        ox_simpl = _in_subprocess("osmnx", pbf, osm_xml)
        ox_raw = _in_subprocess("osmnx_unsimplified", pbf, osm_xml)
        check = _same_roads_and_times(pbf, osm_xml)
    r = _routing(pbf, args.repeat)

    print("== load the Andorra bus network (each in a fresh process) ==")
    print(
        f"ruralnet  PBF -> bus network      {ours['seconds']:7.2f} s  peak {ours['peak_mb']:6.0f} MB  "
        f"({ours['nodes']:,} nodes, {ours['edges']:,} edges)"
    )
    print(
        f"ruralnet  PBF -> walk network     {ours_walk['seconds']:7.2f} s  peak {ours_walk['peak_mb']:6.0f} MB  "
        f"({ours_walk['nodes']:,} nodes, {ours_walk['edges']:,} edges)"
    )
    print(
        f"osmnx     graph_from_xml+speeds   {ox_simpl['seconds']:7.2f} s  peak {ox_simpl['peak_mb']:6.0f} MB  "
        f"({ox_simpl['nodes']:,} nodes, {ox_simpl['edges']:,} edges, simplified)"
    )
    print(
        f"osmnx     same, simplify=False    {ox_raw['seconds']:7.2f} s  peak {ox_raw['peak_mb']:6.0f} MB  "
        f"({ox_raw['nodes']:,} nodes, {ox_raw['edges']:,} edges)"
    )
    print(f"(writing the bus ways to .osm for osmnx took {extract_s:.2f} s, not counted)")
    print(
        f"load ratio osmnx/ruralnet: {ox_simpl['seconds'] / ours['seconds']:.1f}x faster "
        f"(vs unsimplified osmnx {ox_raw['seconds'] / ours['seconds']:.1f}x); "
        f"peak memory {ox_simpl['peak_mb'] / ours['peak_mb']:.1f}x lower"
    )
    print(
        f"same roads as osmnx: {check['same_edges']} ({check['edges']:,} directed edges); "
        f"same travel times: max difference {check['max_time_diff_s']:.2e} s"
    )
    print()
    print("== villages and hamlets x schools and kindergartens, bus, same graph ==")
    print(
        f"{r['origins']} origins x {r['destinations']} destinations on {r['graph_nodes']:,} nodes / "
        f"{r['graph_edges']:,} edges"
    )
    print(f"networkx loop (single_source_dijkstra_path_length) {r['networkx_s']:8.3f} s")
    print(
        f"ruralnet first call (finds degree-2 chains, cached) {r['first_call_s']:8.3f} s  "
        f"ratio {r['networkx_s'] / r['first_call_s']:.0f}x"
    )
    print(
        f"ruralnet travel_times (minutes)                     {r['ours_s']:8.3f} s  "
        f"ratio {r['networkx_s'] / r['ours_s']:.0f}x"
    )
    print(
        f"ruralnet travel_times (minutes and metres)          {r['ours_with_metres_s']:8.3f} s  "
        f"ratio {r['networkx_s'] / r['ours_with_metres_s']:.0f}x"
    )
    print(f"identical to networkx: max difference {r['max_diff_s']:.2e} s")
    pd_ = r["pandana"]
    if pd_ is None:
        print("pandana: not installed (pip install pandana to compare)")
    else:
        print(
            f"pandana {pd_['version']} (contraction hierarchies), same graph: prepare {pd_['prepare_s']:.2f} s, "
            f"query {pd_['query_s']:.3f} s; ruralnet first call is {(pd_['prepare_s'] + pd_['query_s']) / r['first_call_s']:.0f}x "
            f"faster than pandana's prepare + query; max difference {pd_['max_diff_s']:.2e} s"
        )


if __name__ == "__main__":
    main()
