"""A loaded county: its folder's validated layers plus its road networks, built on demand.

:func:`load_county` is the one call a planner needs (``ruralnet.load_county``); the layers
are read and validated by :func:`ruralnet.sources.county.read_county`, and each mode's network
is built once from the folder's OSM file (terrain-adjusted when it has ``dem.tif``).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..model.coords import transform_geometry
from ..model.errors import NetworkError, RuralnetWarning
from ..model.schema import validate_sites
from ..model.settings import Settings
from ..sources.county import CountyFolder, _road_file, layer_system, read_county
from ..sources.osm import read_highways, road_lines
from ..sources.population import spread_villages
from .build import Network, build_network, network_from_file
from .terrain import apply_terrain

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

    def road_lines(self) -> gpd.GeoDataFrame:
        """The highways as lines by class (:func:`~ruralnet.sources.osm.road_lines`), for
        maps; made once."""
        if "_lines" not in self._networks:
            self._networks["_lines"] = road_lines(self.roads())
        return self._networks["_lines"]

    def with_sites(self, sites) -> County:
        """The same county with another sites layer at the same places (another year's
        pupils, status and grades): validated again (its warnings kept in
        ``sites.attrs["warnings"]``, not raised: a projected year is no input to correct),
        sharing the road networks and the travel-time matrices."""
        if list(sites["site_id"].astype(str)) != list(self.sites["site_id"].astype(str)):
            raise ValueError("with_sites: the same sites, in the same order, are needed")
        checked = validate_sites(sites, county_code=self.code or None, quiet=True)
        return dataclasses.replace(self, sites=checked)

    def network(self, mode: str) -> Network:
        """The road network of a mode (built once, then cached)."""
        if mode not in self._networks:
            net = build_network(self.roads(), mode, self.settings)
            if not any(m in self._networks for m in ("walk", "bus")):
                check_cover(net, self)  # once, on the first network built
            self._networks[mode] = with_terrain(net, self.dem_path)
        return self._networks[mode]


def load_county(path: str | Path, settings: Settings | None = None, scenario=None) -> County:
    """Read and validate a county folder (see :func:`ruralnet.sources.county.read_county`;
    ``scenario``: a :class:`~ruralnet.sources.scenario.Scenario` or its TOML file).

    Returns
    -------
    County
    """
    folder = read_county(path, settings, scenario)
    folder = dataclasses.replace(folder, villages=demand_points(folder))
    county = County(**{f.name: getattr(folder, f.name) for f in dataclasses.fields(CountyFolder)})
    log.info("loaded %r", county)
    return county


def demand_points(folder: CountyFolder):
    """The villages as demand points: a village above ``spread_min_population`` spread over
    its cells of ``population.tif`` (:func:`~ruralnet.sources.population.spread_villages`);
    without a raster it stays one point, and a warning names it."""
    s, villages = folder.settings, folder.villages
    if s.spread_min_population <= 0:
        return villages
    big = villages["population"].fillna(0) > s.spread_min_population
    if not big.any():
        return villages
    if folder.population_path is None:
        names = ", ".join(villages.loc[big, "name"].astype(str).tolist()[:8])
        msg = (
            f"{int(big.sum())} village(s) of more than {s.spread_min_population:,.0f} people stay "
            f"one demand point each (no population.tif to spread them over): {names}"
        )
        log.warning(msg)
        warnings.warn(msg, RuralnetWarning, stacklevel=3)
        return villages
    spread, _ = spread_villages(
        villages, folder.population_path, s.spread_min_population, s.spread_spacing_m,
        folder.boundary,
    )  # fmt: skip
    return spread


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
    return apply_terrain(net, dem_path)


#: Share of the sites and villages that must snap within ``max_snap_m`` of the roads.
COVER_SHARE = 0.5
#: A folder's points that snap this much closer after the GCJ-02 shift were read wrongly.
GCJ_GAIN = 0.5


def check_cover(net: Network, county) -> None:
    """Stop when the road file does not cover the county, or when one layer (sites or
    villages) sits a consistent GCJ-02 or BD-09 offset from the roads that its declared
    coordinate system does not explain while the other does not (an undeclared mix: the
    message names the layer and the likely system); warn when both layers sit so.

    Raises
    ------
    NetworkError
        When fewer than half of the sites and villages lie within ``max_snap_m`` of a road,
        or for an undeclared mix of coordinate systems.
    """
    points = pd.concat([county.sites.geometry, county.villages.geometry], ignore_index=True)
    ids = np.concatenate(
        [county.sites["site_id"].astype(str), county.villages["village_id"].astype(str)]
    )
    snap = net.snap(points, ids=ids)
    near = float((snap["snap_m"] <= net.settings.max_snap_m).mean())
    if near < COVER_SHARE:
        west, south, east, north = (
            float(net.lon.min()), float(net.lat.min()), float(net.lon.max()), float(net.lat.max())
        )  # fmt: skip
        raise NetworkError(
            f"the OSM extract {county.roads_path.name} does not cover the county: its roads lie "
            f"in {west:.2f}..{east:.2f} E, {south:.2f}..{north:.2f} N and only {near:.0%} of the "
            f"sites and villages are within {net.settings.max_snap_m:g} m of a road"
        )
    offsets = _offsets(net, county, snap)
    if not offsets:
        return
    said = "; ".join(
        f"{layer}: median snap {before:.0f} m, {after:.0f} m once converted from "
        f'{SYSTEM_NAMES[system]} (set [layers] {layer} = "{system}" in county.toml)'
        for layer, system, before, after in offsets
    )
    if len(offsets) < len(OFFSET_LAYERS):  # one layer off, the others on the roads: a mix
        raise NetworkError(
            f"the layers of {county.path.name} use different coordinate systems, and "
            f"county.toml does not say so: {said}"
        )
    msg = (
        f"the sites and villages lie a consistent offset from the roads ({said}): were they "
        f"copied from Amap or Baidu? Declare their coord_system in county.toml"
    )
    log.warning(msg)
    warnings.warn(msg, RuralnetWarning, stacklevel=3)


#: The layers checked for an undeclared offset (each of at least 10 points: one site 215 m
#: from a road had looked like a GCJ-02 layer), and the systems an offset points to.
OFFSET_LAYERS = ("sites", "villages")
SYSTEM_NAMES = {"gcj02": "GCJ-02 (Amap)", "bd09": "BD-09 (Baidu)"}


def _offsets(net: Network, county, snap: pd.DataFrame) -> list[tuple]:
    """Per layer declared WGS84: a web-map system that brings its points much closer to the
    roads (``(layer, system, median snap before, after)``)."""
    found = []
    start = 0
    for layer in OFFSET_LAYERS:
        frame = getattr(county, layer)
        part = snap.iloc[start : start + len(frame)]
        start += len(frame)
        if layer_system(county.meta, layer) not in ("wgs84", "cgcs2000") or len(frame) < 10:
            continue  # declared shifted, or too few points to judge the layer on its own
        before = float(part["snap_m"].median())
        for system in SYSTEM_NAMES:
            shifted = transform_geometry(frame.geometry.to_numpy(), system)
            moved = net.snap(gpd.GeoSeries(shifted, crs="EPSG:4326"), flag=False)
            after = float(moved["snap_m"].median())
            if before > 100 and after < GCJ_GAIN * before:
                found.append((layer, system, before, after))
                break
    return found
