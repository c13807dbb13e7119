"""The travel-time engine: a compact CSR graph and many-to-many shortest paths.

Times come from :func:`scipy.sparse.csgraph.dijkstra` on a CSR matrix whose parallel edges
were collapsed to the fastest one first (``scipy.sparse`` would otherwise *add* them).
Distances in metres are those of the fastest path, recovered from the shortest-path trees.
Unreachable pairs are NaN, never a large sentinel number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

#: Edges faster than this (s) are stored with this time: scipy drops explicit zeros.
MIN_EDGE_S = 1e-9
#: Origins routed per batch (bounds memory to ``BATCH * n_nodes`` floats).
BATCH = 64
#: Shortest-path trees kept per graph for drawing paths (each ``n_nodes`` int32).
TREES = 4096


@dataclass
class CSRGraph:
    """A directed graph in CSR form with aligned travel-time and length data.

    Attributes
    ----------
    time
        ``n x n`` CSR matrix of edge times (s); one entry per node pair, the fastest.
    length
        Same structure: the length (m) of that fastest edge.
    """

    time: sp.csr_matrix
    length: sp.csr_matrix

    @classmethod
    def from_edges(cls, u, v, time_s, length_m, n: int) -> CSRGraph:
        """Build from edge arrays; parallel edges keep the minimum time (and its length)."""
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        t = np.maximum(np.asarray(time_s, dtype=float), MIN_EDGE_S)
        m = np.asarray(length_m, dtype=float)
        order = np.lexsort((m, t, v, u))  # by pair, then fastest, then shortest
        u, v, t, m = u[order], v[order], t[order], m[order]
        first = np.ones(len(u), dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        u, v, t, m = u[first], v[first], t[first], m[first]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.add.at(indptr, u + 1, 1)
        indptr = np.cumsum(indptr)
        time = sp.csr_matrix((t, v, indptr), shape=(n, n))
        length = sp.csr_matrix((m, v.copy(), indptr.copy()), shape=(n, n))
        return cls(time, length)

    @property
    def n(self) -> int:
        """Number of nodes."""
        return self.time.shape[0]

    @cached_property
    def reverse(self) -> CSRGraph:
        """The graph with every edge turned round (to route *to* a few targets)."""
        coo_t = self.time.tocoo()
        return CSRGraph.from_edges(
            coo_t.col, coo_t.row, coo_t.data, self.length.tocoo().data, self.n
        )

    @cached_property
    def chains(self) -> Chains:
        """Junctions and degree-2 chains (computed once; see :func:`find_chains`)."""
        return find_chains(self)

    @cached_property
    def _edge_keys(self) -> np.ndarray:
        rows = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.time.indptr))
        return rows * self.n + self.time.indices  # sorted: CSR rows in order, columns sorted

    def edge_length(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Length of the (fastest) edge a -> b for arrays of node pairs."""
        keys = a.astype(np.int64) * self.n + b
        pos = np.searchsorted(self._edge_keys, keys)
        return self.length.data[pos]

    def shortest(
        self,
        sources: np.ndarray,
        targets: np.ndarray | None = None,
        cutoff_s: float | None = None,
        metres: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Times (s) and fastest-path lengths (m) from each source to the targets.

        Parameters
        ----------
        sources
            Node indices.
        targets
            Node indices (default: every node).
        cutoff_s
            Stop searching beyond this time; farther nodes are ``inf``.
        metres
            Also return the length of each fastest path.

        Returns
        -------
        times, metres
            ``len(sources) x len(targets)`` arrays, ``inf``/NaN where unreachable.
        """
        sources = np.asarray(sources, dtype=np.int64)
        targets = np.arange(self.n) if targets is None else np.asarray(targets, dtype=np.int64)
        limit = np.inf if cutoff_s is None else float(cutoff_s)
        if not metres:
            times = dijkstra(self.time, directed=True, indices=sources, limit=limit)
            return times[:, targets], None
        times, pred = dijkstra(
            self.time, directed=True, indices=sources, limit=limit, return_predecessors=True
        )
        return times[:, targets], self._path_lengths(pred, targets, times[:, targets])

    @cached_property
    def _trees(self) -> dict:
        return {}

    def tree(self, source: int) -> np.ndarray:
        """The shortest-path tree from ``source``: each node's predecessor (-9999 where
        unreachable), computed once per source and kept (at most :data:`TREES` of them)."""
        source = int(source)
        pred = self._trees.get(source)
        if pred is None:
            _, pred = dijkstra(self.time, directed=True, indices=source, return_predecessors=True)
            pred = pred.astype(np.int32)
            if len(self._trees) >= TREES:
                self._trees.pop(next(iter(self._trees)))
            self._trees[source] = pred
        return pred

    def paths(self, source: int, targets) -> list[list[int]]:
        """Node sequence of the fastest path from ``source`` to each target ([] if unreachable).

        The tree from ``source`` is computed once (:meth:`tree`): drawing every leg of a
        county's bus routes costs one Dijkstra per distinct start, not one per leg."""
        pred = self.tree(source)
        out = []
        for t in np.atleast_1d(targets):
            t = int(t)
            if t != source and pred[t] < 0:
                out.append([])
                continue
            path = [t]
            while path[-1] != source:
                path.append(int(pred[path[-1]]))
            out.append(path[::-1])
        return out

    def _path_lengths(self, pred: np.ndarray, targets: np.ndarray, times: np.ndarray):
        """Length of the tree path from each root to each target.

        Each tree edge's length is looked up once, then summed up the tree by pointer jumping
        (each step adds the sum of the ancestor's path so far and jumps twice as far), so the
        work grows with the logarithm of the paths' depth, not with every step of every path.
        """
        k, n = pred.shape
        rows = np.arange(k)[:, None]
        has = pred >= 0
        anc = np.where(has, pred, np.arange(n)[None, :])  # roots and unreached point at themselves
        acc = np.zeros(pred.shape)
        r, c = np.nonzero(has)
        acc[r, c] = self.edge_length(pred[r, c], c)
        while True:
            up = anc[rows, anc]
            if np.array_equal(up, anc):
                break
            acc = acc + acc[rows, anc]
            anc = up
        out = acc[:, targets]
        out[~np.isfinite(times)] = np.nan
        return out


@dataclass
class Chains:
    """Degree-2 chains of a graph: runs of pass-through nodes between junctions.

    A pass-through node has exactly two neighbours and lets traffic through in the same
    directions on both sides (a two-way road, or a one-way road continuing). Every other node
    is a junction (``kept``). Each chain runs from a junction through pass-through nodes to a
    junction; ``nodes`` holds all chains one after the other, ``chain`` the chain of each
    entry, and the cumulative times and lengths along the chain in both directions.
    """

    kept: np.ndarray  # bool per node
    nodes: np.ndarray  # flat chain entries (node indices), endpoints included
    chain: np.ndarray  # chain id of each entry
    fwd_t: np.ndarray  # cumulative time from the chain start, forward
    fwd_m: np.ndarray
    bwd_t: np.ndarray  # cumulative time of the reverse edges, from the chain start
    bwd_m: np.ndarray
    fwd_ok: np.ndarray  # per chain: traversable start -> end
    bwd_ok: np.ndarray  # per chain: traversable end -> start
    direct: np.ndarray  # edge positions (in the CSR) joining two junctions


def _edge_pos(graph: CSRGraph, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR position of each edge a -> b and whether it exists."""
    keys = a.astype(np.int64) * graph.n + b
    pos = np.searchsorted(graph._edge_keys, keys)
    pos = np.minimum(pos, len(graph._edge_keys) - 1)
    return pos, graph._edge_keys[pos] == keys


def find_chains(graph: CSRGraph) -> Chains:
    """Split a graph into junctions and the degree-2 chains between them."""
    kept = _through_nodes(graph)
    chains = _walk_chains(graph, kept)
    return _chain_sums(graph, kept, chains)


def _symmetric_pattern(graph: CSRGraph):
    pattern = graph.time.copy()
    pattern.data = np.ones_like(pattern.data)
    sym = (pattern + pattern.T).tocsr()
    sym.setdiag(0)
    sym.eliminate_zeros()
    sym.sort_indices()
    return sym


def _through_nodes(graph: CSRGraph) -> np.ndarray:
    """Junctions (kept) and the degree-2 nodes a path runs straight through (dropped)."""
    sym = _symmetric_pattern(graph)
    deg = np.diff(sym.indptr)
    cand = np.flatnonzero(deg == 2)
    a = sym.indices[sym.indptr[cand]]
    b = sym.indices[sym.indptr[cand] + 1]
    _, in_a = _edge_pos(graph, a, cand)
    _, out_a = _edge_pos(graph, cand, a)
    _, in_b = _edge_pos(graph, b, cand)
    _, out_b = _edge_pos(graph, cand, b)
    through = (in_a == out_b) & (in_b == out_a) & (in_a | in_b)
    kept = np.ones(graph.n, dtype=bool)
    kept[cand[through]] = False
    return kept


def _walk_chains(graph: CSRGraph, kept: np.ndarray) -> list[list[int]]:
    """The chains from junction to junction (``kept`` gains one node per junction-less ring)."""
    sym = _symmetric_pattern(graph)
    ptr, idx = sym.indptr.tolist(), sym.indices.tolist()
    kept_l = kept.tolist()
    visited = bytearray(graph.n)
    chains: list[list[int]] = []

    def walk(start: int) -> None:
        for first in idx[ptr[start] : ptr[start + 1]]:
            if kept_l[first] or visited[first]:
                continue
            path, prev, cur = [start], start, first
            while not kept_l[cur]:
                visited[cur] = 1
                path.append(cur)
                x, y = idx[ptr[cur]], idx[ptr[cur] + 1]
                prev, cur = cur, (y if x == prev else x)
            path.append(cur)
            chains.append(path)

    for k in np.flatnonzero(kept).tolist():
        walk(k)
    for x in np.flatnonzero(~kept).tolist():  # rings with no junction: make one node a junction
        if not visited[x]:
            kept_l[x] = True
            kept[x] = True
            walk(x)
    return chains


def _chain_sums(graph: CSRGraph, kept: np.ndarray, chains: list[list[int]]) -> Chains:
    """Cumulative times and lengths along each chain, both ways."""
    lengths = np.array([len(c) for c in chains], dtype=np.int64)
    flat = np.array([v for c in chains for v in c], dtype=np.int64)
    chain = np.repeat(np.arange(len(chains)), lengths)
    same = np.flatnonzero(chain[:-1] == chain[1:])
    p, q = flat[same], flat[same + 1]
    fpos, fok = _edge_pos(graph, p, q)
    bpos, bok = _edge_pos(graph, q, p)
    step = {
        "fwd_t": np.where(fok, graph.time.data[fpos], 0.0),
        "fwd_m": np.where(fok, graph.length.data[fpos], 0.0),
        "bwd_t": np.where(bok, graph.time.data[bpos], 0.0),
        "bwd_m": np.where(bok, graph.length.data[bpos], 0.0),
    }
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    cum = {}
    for key, values in step.items():
        c = np.zeros(len(flat))
        c[same + 1] = values
        c = np.cumsum(c)
        cum[key] = c - np.repeat(c[starts], lengths)
    fwd_ok = np.ones(len(chains), dtype=bool)
    bwd_ok = np.ones(len(chains), dtype=bool)
    np.logical_and.at(fwd_ok, chain[same], fok)
    np.logical_and.at(bwd_ok, chain[same], bok)
    rows = np.repeat(np.arange(graph.n), np.diff(graph.time.indptr))
    direct = np.flatnonzero(kept[rows] & kept[graph.time.indices])
    return Chains(
        kept,
        flat,
        chain,
        cum["fwd_t"],
        cum["fwd_m"],
        cum["bwd_t"],
        cum["bwd_m"],
        fwd_ok,
        bwd_ok,
        direct,
    )


def reduce_graph(graph: CSRGraph, keep: np.ndarray) -> tuple[CSRGraph, np.ndarray]:
    """The graph on junctions and ``keep`` nodes only, with chains collapsed to single edges.

    Shortest times and fastest-path lengths between retained nodes are exactly those of the
    full graph. Returns the reduced graph and, for every original node, its index in the
    reduced graph (-1 if not retained).
    """
    ch = graph.chains
    retained = ch.kept.copy()
    retained[np.asarray(keep, dtype=np.int64)] = True
    flat_kept = np.flatnonzero(retained[ch.nodes])
    p, q = flat_kept[:-1], flat_kept[1:]
    same = ch.chain[p] == ch.chain[q]
    p, q = p[same], q[same]
    c = ch.chain[p]
    f, b = ch.fwd_ok[c], ch.bwd_ok[c]
    rows = np.repeat(np.arange(graph.n), np.diff(graph.time.indptr))
    u = np.concatenate([ch.nodes[p[f]], ch.nodes[q[b]], rows[ch.direct]])
    v = np.concatenate([ch.nodes[q[f]], ch.nodes[p[b]], graph.time.indices[ch.direct]])
    t = np.concatenate(
        [
            ch.fwd_t[q[f]] - ch.fwd_t[p[f]],
            ch.bwd_t[q[b]] - ch.bwd_t[p[b]],
            graph.time.data[ch.direct],
        ]
    )
    m = np.concatenate(
        [
            ch.fwd_m[q[f]] - ch.fwd_m[p[f]],
            ch.bwd_m[q[b]] - ch.bwd_m[p[b]],
            graph.length.data[ch.direct],
        ]
    )
    mapping = np.full(graph.n, -1, dtype=np.int64)
    ids = np.flatnonzero(retained)
    mapping[ids] = np.arange(len(ids))
    loop = u == v
    reduced = CSRGraph.from_edges(
        mapping[u[~loop]], mapping[v[~loop]], t[~loop], m[~loop], len(ids)
    )
    return reduced, mapping


def travel_times(
    graph: CSRGraph,
    from_nodes: np.ndarray,
    to_nodes: np.ndarray,
    *,
    cutoff_s: float | None = None,
    metres: bool = True,
    progress: bool = False,
    contract: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Fastest times (s) and their lengths (m) between node sets, as dense matrices.

    With ``contract`` (the default), Dijkstra runs on the graph reduced to junctions and the
    query's own nodes (:func:`reduce_graph`): the same answers on a graph many times smaller.
    It runs from the smaller side: from the origins, or from the targets on the reversed
    graph. Repeated nodes are routed once.

    Returns
    -------
    times, metres
        ``len(from_nodes) x len(to_nodes)``; ``inf``/NaN where unreachable (or beyond cutoff).
    """
    from_nodes = np.asarray(from_nodes, dtype=np.int64)
    to_nodes = np.asarray(to_nodes, dtype=np.int64)
    uf, f_inv = np.unique(from_nodes, return_inverse=True)
    ut, t_inv = np.unique(to_nodes, return_inverse=True)
    if contract:
        graph, mapping = reduce_graph(graph, np.concatenate([uf, ut]))
        uf, ut = mapping[uf], mapping[ut]
    backwards = len(ut) < len(uf)
    g, src, dst = (graph.reverse, ut, uf) if backwards else (graph, uf, ut)
    times = np.empty((len(src), len(dst)))
    dist = np.empty((len(src), len(dst))) if metres else None
    starts = range(0, len(src), BATCH)
    for s in tqdm(
        starts, disable=not progress or len(src) <= 4 * BATCH, desc="routing", unit="batch"
    ):
        t, m = g.shortest(src[s : s + BATCH], dst, cutoff_s=cutoff_s, metres=metres)
        times[s : s + BATCH] = t
        if metres:
            dist[s : s + BATCH] = m
    if backwards:
        times = times.T
        dist = dist.T if metres else None
    times = times[np.ix_(f_inv, t_inv)]
    if metres:
        dist = dist[np.ix_(f_inv, t_inv)]
        dist[~np.isfinite(times)] = np.nan
    return times, dist


class NodeMatrix:
    """Fastest times (s) and their metres between every pair of a set of nodes, both
    directions, on one graph: computed on the contracted graph (:func:`travel_times`) once,
    then read for any sub-matrix.

    The bus work of a county asks for the same pairs again and again (each school's stops,
    the empty legs between schools, every plan, day and year): the county seeds the matrix
    with every village, site and depot node, and each request is a lookup. Nodes not yet in
    the matrix are added with their rows and columns only.
    """

    def __init__(self, graph: CSRGraph) -> None:
        self.graph = graph
        self.nodes = np.empty(0, dtype=np.int64)
        self.time_s = np.empty((0, 0))
        self.dist_m = np.empty((0, 0))

    def include(self, nodes) -> None:
        """Add the rows and columns of ``nodes`` not in the matrix yet."""
        new = np.setdiff1d(np.asarray(nodes, dtype=np.int64), self.nodes)
        if not len(new):
            return
        old = self.nodes
        every = np.concatenate([old, new])
        t_new, m_new = travel_times(self.graph, new, every)  # new rows, every column
        n, k = len(old), len(new)
        t_col, m_col = travel_times(self.graph, old, new) if n else (None, None)
        time = np.empty((n + k, n + k))
        dist = np.empty((n + k, n + k))
        time[:n, :n], dist[:n, :n] = self.time_s, self.dist_m
        if n:  # old rows, new columns
            time[:n, n:], dist[:n, n:] = t_col, m_col
        time[n:, :], dist[n:, :] = t_new, m_new
        order = np.argsort(every, kind="stable")
        self.nodes = every[order]
        self.time_s = time[np.ix_(order, order)]
        self.dist_m = dist[np.ix_(order, order)]
        log.debug("node matrix: %d nodes (%d added)", len(self.nodes), k)

    def between(self, a, b) -> tuple[np.ndarray, np.ndarray]:
        """Times (s, ``inf`` where unreachable) and metres (NaN there) from each node of
        ``a`` to each node of ``b``: ``len(a) x len(b)`` arrays (copies)."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        self.include(np.concatenate([a, b]))
        ia, ib = np.searchsorted(self.nodes, a), np.searchsorted(self.nodes, b)
        return self.time_s[np.ix_(ia, ib)], self.dist_m[np.ix_(ia, ib)]


def od_matrix(
    network,
    origins,
    destinations,
    *,
    origin_ids=None,
    destination_ids=None,
    cutoff_minutes: float | None = None,
    connectors: bool = True,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Many-to-many travel times between two point layers, as a long table.

    Each point is snapped to its nearest network node (:meth:`Network.snap`). With
    ``connectors`` the straight line from point to node is added at
    ``settings.connector_speed_kmh`` at both ends (the walk to the road).

    Parameters
    ----------
    network
        A :class:`~ruralnet.network.build.Network`.
    origins, destinations
        GeoDataFrames of points.
    origin_ids, destination_ids
        Id column names, or arrays of ids (default: the index).
    cutoff_minutes
        Pairs slower than this are NaN (searches stop there: faster for big graphs).
    connectors
        Add the point-to-road connector times and lengths.
    progress
        Show a progress bar (default: ``settings.progress``).

    Returns
    -------
    pandas.DataFrame
        ``from_id, to_id, minutes, metres``: one row per pair, in origin then destination
        order; NaN for unreachable pairs.
    """
    o_ids = _ids(origins, origin_ids)
    d_ids = _ids(destinations, destination_ids)
    o_snap = network.snap(origins, ids=o_ids)
    d_snap = network.snap(destinations, ids=d_ids)
    return od_from_snaps(
        network,
        o_snap,
        d_snap,
        cutoff_minutes=cutoff_minutes,
        connectors=connectors,
        progress=progress,
    )


def od_from_snaps(
    network,
    o_snap: pd.DataFrame,
    d_snap: pd.DataFrame,
    *,
    cutoff_minutes: float | None = None,
    connectors: bool = True,
    progress: bool | None = None,
    metres: bool = True,
) -> pd.DataFrame:
    """:func:`od_matrix` for points already snapped (tables from :meth:`Network.snap`).

    ``metres=False`` skips the path lengths (the column is then NaN): faster when only
    minutes are needed."""
    progress = network.settings.progress if progress is None else progress
    cutoff_s = None if cutoff_minutes is None else cutoff_minutes * 60.0
    times, dist = travel_times(
        network.graph,
        o_snap["node"].to_numpy(),
        d_snap["node"].to_numpy(),
        cutoff_s=None if connectors else cutoff_s,
        progress=progress,
        metres=metres,
    )
    if dist is None:
        dist = np.full_like(times, np.nan)
    if connectors:
        speed = network.settings.connector_speed_kmh / 3.6
        o_m, d_m = o_snap["snap_m"].to_numpy(), d_snap["snap_m"].to_numpy()
        times = times + (o_m[:, None] + d_m[None, :]) / speed
        dist = dist + o_m[:, None] + d_m[None, :]
        if cutoff_s is not None:
            times[times > cutoff_s] = np.inf
    times[~np.isfinite(times)] = np.nan
    dist[np.isnan(times)] = np.nan
    return pd.DataFrame(
        {
            "from_id": np.repeat(o_snap.index.to_numpy(), len(d_snap)),
            "to_id": np.tile(d_snap.index.to_numpy(), len(o_snap)),
            "minutes": times.ravel() / 60.0,
            "metres": dist.ravel(),
        }
    )


def nearest(
    od: pd.DataFrame, destinations: pd.DataFrame | None = None, by: str | None = None, id_col=None
) -> pd.DataFrame:
    """Nearest destination per origin (optionally per destination group, e.g. ``kind``).

    Parameters
    ----------
    od
        Long table from :func:`od_matrix`.
    destinations
        Attribute table of the destinations (needed with ``by``).
    by
        Column of ``destinations`` to group by: the nearest site of each kind.
    id_col
        Id column of ``destinations`` matching ``od.to_id`` (default: its index).

    Returns
    -------
    pandas.DataFrame
        ``from_id`` [, ``by``], ``to_id``, ``minutes``, ``metres``; origins that reach no
        destination keep a row with empty ``to_id`` and NaN minutes (never dropped).
    """
    table = od.copy()
    keys = ["from_id"]
    if by is not None:
        if destinations is None:
            raise ValueError("nearest(..., by=...) needs the destinations table")
        lookup = destinations.set_index(id_col)[by] if id_col else destinations[by]
        table[by] = table["to_id"].map(lookup)
        keys.append(by)
    table = table.sort_values([*keys, "minutes", "to_id"], na_position="last", kind="stable")
    best = table.groupby(keys, sort=True, dropna=False).head(1).copy()
    best.loc[best["minutes"].isna(), "to_id"] = None
    return best[[*keys, "to_id", "minutes", "metres"]].reset_index(drop=True)


def _ids(layer, ids) -> pd.Index:
    if ids is None:
        return pd.Index(layer.index)
    if isinstance(ids, str):
        return pd.Index(layer[ids].to_numpy(), name=ids)
    return pd.Index(np.asarray(ids))


def time_matrix(
    network, origins, destinations, origin_ids=None, destination_ids=None, metres: bool = False
):
    """Minutes from every origin to every destination (point layers) on a network, with the
    connectors at both ends; NaN where unreachable. Rows and columns follow the layers.
    With ``metres``, also the metres of those fastest paths: ``(minutes, metres)``."""
    o = network.snap(origins, ids=_ids(origins, origin_ids))
    d = network.snap(destinations, ids=_ids(destinations, destination_ids))
    od = od_from_snaps(network, o, d, progress=False, metres=metres)
    shape = (len(origins), len(destinations))
    minutes = od["minutes"].to_numpy().reshape(shape)
    return (minutes, od["metres"].to_numpy().reshape(shape)) if metres else minutes
