"""A county road network grown along the terrain, written as OSM XML.

Roads are least-cost paths on a coarse grid (about 180 m) whose cost punishes grades above
about 8 %: county roads (``secondary``) from the seat to every town, ``tertiary`` links
between neighbouring towns, township roads (``unclassified``) to every village committee,
village roads (``track``) to natural villages, and footpaths (``path``) where a hamlet is too
steep for any road, or as shortcuts over ridges. Every path ends on the network built so far,
so the bus network is connected by construction; footpath-only hamlets are deliberate and
flagged in the villages layer (``road_access = "footpath"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .grid import CostSurface


@dataclass
class RoadBuilder:
    """Grows the road network cell by cell.

    Parameters
    ----------
    elevation
        Elevation of the routing grid (m).
    cell
        Routing cell size (m).
    allowed
        Cells roads may use (the county, slightly widened).
    """

    elevation: np.ndarray
    cell: float
    allowed: np.ndarray
    ways: list[tuple[list[int], dict]] = field(default_factory=list)
    road_cells: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.road = CostSurface(self.elevation, self.cell, self.allowed, grade=0.08, max_grade=0.2)
        self.foot = CostSurface(self.elevation, self.cell, self.allowed, grade=0.35, max_grade=0.8)

    def _add(self, path: list[int], tags: dict, network: bool = True) -> list[int]:
        if len(path) < 2:
            return path
        self.ways.append((path, tags))
        if network:
            self.road_cells.update(path)
        return path

    def from_source(self, source: int, targets: list[int], tags: list[dict]) -> None:
        """Roads from one cell to each target, merging into roads already built."""
        _, pred = self.road.from_sources([source])
        self.road_cells.add(source)
        for target, t in zip(targets, tags, strict=True):
            path = _trace(pred, target, self.road_cells)
            self._add(path[::-1], t)

    def to_network(self, targets: list[int], tags: list[dict], foot: bool = False) -> np.ndarray:
        """Connect each target to the nearest road cell; returns the cost to reach each one."""
        surface = self.foot if foot else self.road
        dist, pred = surface.from_sources(np.array(sorted(self.road_cells)))
        order = np.argsort(dist[targets], kind="stable")
        for i in order:
            if np.isfinite(dist[targets[i]]):
                path = _trace(pred, targets[i], self.road_cells)
                self._add(path[::-1], tags[i], network=not foot)
        return dist[targets]

    def path_between(self, a: int, b: int, tags: dict, foot: bool = False) -> None:
        """A road (or footpath) from a to b."""
        surface = self.foot if foot else self.road
        _, pred = surface.from_sources([a])
        path = _trace(pred, b, set() if foot else self.road_cells - {b})
        self._add(path[::-1], tags, network=not foot)

    def network_distance(self, sources: list[int], bus_only: bool = True) -> np.ndarray:
        """Metres along the built ways from each source to every cell (inf off the network)."""
        h, w = self.elevation.shape
        rows, cols, lengths = [], [], []
        for path, tags in self.ways:
            if bus_only and tags["highway"] == "path":
                continue
            a, b = np.array(path[:-1]), np.array(path[1:])
            ra, ca = np.divmod(a, w)
            rb, cb = np.divmod(b, w)
            d = self.cell * np.hypot(ra - rb, ca - cb)
            rows += [a, b]
            cols += [b, a]
            lengths += [d, d]
        g = sp.csr_matrix(
            (np.concatenate(lengths), (np.concatenate(rows), np.concatenate(cols))),
            shape=(h * w, h * w),
        )
        return dijkstra(g, indices=np.asarray(sources), directed=True)


def _trace(pred: np.ndarray, target: int, stop: set[int]) -> list[int]:
    """Cells from ``target`` back to a source, or to the first cell of ``stop`` on the way."""
    path = [int(target)]
    cur = int(target)
    if cur in stop:
        return path  # already on the network
    while pred[cur] >= 0:
        cur = int(pred[cur])
        path.append(cur)
        if cur in stop:
            break
    return path


def write_osm_xml(
    path, node_lonlat: dict[int, tuple[float, float]], ways: list[tuple[list[int], dict]]
) -> None:
    """Write nodes and ways as OSM XML (deterministic: ids and tags in sorted order)."""
    lons = [ll[0] for ll in node_lonlat.values()]
    lats = [ll[1] for ll in node_lonlat.values()]
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<osm version="0.6" generator="ruralnet.synthetic">',
        f'  <bounds minlat="{min(lats):.7f}" minlon="{min(lons):.7f}" maxlat="{max(lats):.7f}" maxlon="{max(lons):.7f}"/>',
    ]
    for nid in sorted(node_lonlat):
        lon, lat = node_lonlat[nid]
        lines.append(f'  <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for wid, (nodes, tags) in enumerate(ways, start=1):
        lines.append(f'  <way id="{wid}" version="1">')
        lines.extend(f'    <nd ref="{n}"/>' for n in nodes)
        lines.extend(
            f"    <tag k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in sorted(tags.items())
        )
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
