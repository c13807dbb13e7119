"""A loaded county: its folder's validated layers plus its road networks, built on demand.

:func:`load_county` is the one call a planner needs (``ruralnet.load_county``); the layers
are read and validated by :func:`ruralnet.sources.county.read_county`, and each mode's network
is built once from the folder's OSM file (terrain-adjusted when it has ``dem.tif``).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..model.settings import Settings
from ..sources.county import CountyFolder, _road_file, read_county
from ..sources.osm import read_highways
from .build import Network, build_network, network_from_file

log = logging.getLogger(__name__)


@dataclass(repr=False)
class County(CountyFolder):
    """A loaded, validated county (see :class:`~ruralnet.sources.county.CountyFolder` for the
    attributes) whose road networks are built on first use.

    ``cache`` keeps results derived from the county that several analyses share (the travel
    time matrices), so they are computed once.
    """

    cache: dict = field(default_factory=dict)
    _networks: dict = field(default_factory=dict)

    def roads(self):
        """The highways of the county's OSM file (:class:`~ruralnet.sources.osm.RoadTable`),
        read once."""
        if "_roads" not in self._networks:
            self._networks["_roads"] = read_highways(self.roads_path)
        return self._networks["_roads"]

    def network(self, mode: str) -> Network:
        """The road network of a mode (built once, then cached)."""
        if mode not in self._networks:
            net = build_network(self.roads(), mode, self.settings)
            self._networks[mode] = with_terrain(net, self.dem_path)
        return self._networks[mode]


def load_county(path: str | Path, settings: Settings | None = None) -> County:
    """Read and validate a county folder (see :func:`ruralnet.sources.county.read_county`).

    Returns
    -------
    County
    """
    folder = read_county(path, settings)
    county = County(**{f.name: getattr(folder, f.name) for f in dataclasses.fields(CountyFolder)})
    log.info("loaded %r", county)
    return county


def network_for(path: str | Path, mode: str, settings: Settings | None = None) -> Network:
    """Road network of a county folder (terrain-adjusted if it has ``dem.tif``), without
    loading its layers."""
    folder = Path(path)
    dem = folder / "dem.tif"
    return with_terrain(
        network_from_file(_road_file(folder), mode, settings), dem if dem.exists() else None
    )


def with_terrain(net: Network, dem_path: Path | None) -> Network:
    """Slope-dependent times from the county's DEM, when it has one and terrain is on."""
    if dem_path is None or not net.settings.terrain:
        return net
    from .terrain import apply_terrain

    return apply_terrain(net, dem_path)
