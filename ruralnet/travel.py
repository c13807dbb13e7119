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

    def _path_lengths(self, pred: np.ndarray, targets: np.ndarray, times: np.ndarray):
        """Length of the tree path from each root to each target, walking predecessors back."""
        k = pred.shape[0]
        rows = np.repeat(np.arange(k), len(targets))
        cur = np.tile(targets, k)
        acc = np.zeros(len(cur))
        active = np.flatnonzero(pred[rows, cur] >= 0)
        while len(active):
            node = cur[active]
            parent = pred[rows[active], node]
            acc[active] += self.edge_length(parent, node)
            cur[active] = parent
            active = active[pred[rows[active], parent] >= 0]
        out = acc.reshape(k, len(targets))
        out[~np.isfinite(times)] = np.nan
        return out


def travel_times(
    graph: CSRGraph,
    from_nodes: np.ndarray,
    to_nodes: np.ndarray,
    *,
    cutoff_s: float | None = None,
    metres: bool = True,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Fastest times (s) and their lengths (m) between node sets, as dense matrices.

    Dijkstra runs from the smaller side: from the origins on the graph, or from the targets
    on the reversed graph. Repeated nodes are routed once.

    Returns
    -------
    times, metres
        ``len(from_nodes) x len(to_nodes)``; ``inf``/NaN where unreachable (or beyond cutoff).
    """
    from_nodes = np.asarray(from_nodes, dtype=np.int64)
    to_nodes = np.asarray(to_nodes, dtype=np.int64)
    uf, f_inv = np.unique(from_nodes, return_inverse=True)
    ut, t_inv = np.unique(to_nodes, return_inverse=True)
    backwards = len(ut) < len(uf)
    g, src, dst = (graph.reverse, ut, uf) if backwards else (graph, uf, ut)
    times = np.empty((len(src), len(dst)))
    dist = np.empty((len(src), len(dst))) if metres else None
    starts = range(0, len(src), BATCH)
    for s in tqdm(starts, disable=not progress or len(src) <= BATCH, desc="routing", unit="batch"):
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
        A :class:`~ruralnet.network.Network`.
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
) -> pd.DataFrame:
    """:func:`od_matrix` for points already snapped (tables from :meth:`Network.snap`)."""
    progress = network.settings.progress if progress is None else progress
    cutoff_s = None if cutoff_minutes is None else cutoff_minutes * 60.0
    times, dist = travel_times(
        network.graph,
        o_snap["node"].to_numpy(),
        d_snap["node"].to_numpy(),
        cutoff_s=None if connectors else cutoff_s,
        progress=progress,
    )
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
