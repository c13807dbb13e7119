"""The county folder: one call reads and validates everything a county brings.

Convention (see the README)::

    COUNTY_DIR/
      roads.osm.pbf        road network (or roads.osm / roads.osm.bz2)      required
      sites.gpkg           school sites (or .parquet/.geojson/.csv/.xlsx)   required*
      villages.gpkg        villages with population / children             required*
      dem.tif              elevation (terrain-aware walking)               optional
      population.tif       population raster                               optional
      boundary.geojson     county boundary (study-area check)              optional
      townships.gpkg       township polygons (township_code, name)          optional
      county.toml          [county] name, code, coord_system; [settings] overrides

\\* without ``sites.*`` the sites are read from the OSM file's schools (no pupils), without
``villages.*`` from its ``place=*`` nodes; both cases are logged as warnings.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import shapely

from .errors import CountyFolderError, SchemaError
from .io import read_layer
from .network import Network, network_from_file
from .osm import file_bbox
from .schema import validate_sites, validate_villages
from .settings import Settings

log = logging.getLogger(__name__)

ROAD_FILES = ("roads.osm.pbf", "roads.osm", "roads.osm.bz2")
LAYER_SUFFIXES = (".gpkg", ".parquet", ".geoparquet", ".geojson", ".csv", ".xlsx")


@dataclass
class County:
    """A loaded, validated county.

    Attributes
    ----------
    path
        The county folder.
    name, code
        From ``county.toml`` (default: the folder name, empty code).
    settings
        Defaults with the folder's ``[settings]`` overrides.
    sites, villages
        Validated layers in EPSG:4326.
    roads_path, dem_path, population_path
        Files of the folder (the rasters may be None).
    boundary
        County polygon (WGS84) if given, else None.
    """

    path: Path
    name: str
    code: str
    settings: Settings
    sites: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    roads_path: Path
    dem_path: Path | None = None
    population_path: Path | None = None
    boundary: object | None = None
    townships: gpd.GeoDataFrame | None = None
    meta: dict = field(default_factory=dict)
    _networks: dict = field(default_factory=dict, repr=False)

    def network(self, mode: str) -> Network:
        """The road network of a mode (built once, then cached)."""
        if mode not in self._networks:
            if "_roads" not in self._networks:
                from .osm import read_highways

                self._networks["_roads"] = read_highways(self.roads_path)
            from .network import build_network

            net = build_network(self._networks["_roads"], mode, self.settings)
            self._networks[mode] = _with_terrain(net, self.dem_path)
        return self._networks[mode]

    def __repr__(self) -> str:
        return (
            f"<County {self.name} ({self.code or 'no code'}): {len(self.sites)} sites, "
            f"{len(self.villages)} villages, roads={self.roads_path.name}>"
        )


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in LAYER_SUFFIXES:
        p = folder / f"{stem}{suffix}"
        if p.exists():
            return p
    return None


def load_county(path: str | Path, settings: Settings | None = None) -> County:
    """Read and validate a county folder.

    Parameters
    ----------
    path
        The folder (see the module docstring for its files).
    settings
        Base settings; the folder's ``county.toml`` ``[settings]`` table is applied on top.

    Returns
    -------
    County

    Raises
    ------
    CountyFolderError
        If the folder or its road file is missing, or ``county.toml`` cannot be read.
    SchemaError
        If sites or villages are invalid (problems of both layers reported together).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise CountyFolderError(f"county folder not found: {folder}")
    meta: dict = {}
    toml_path = folder / "county.toml"
    if toml_path.exists():
        try:
            meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CountyFolderError(f"{toml_path}: cannot read: {exc}") from exc
    info = meta.get("county", {})
    settings = Settings.from_dict(meta.get("settings", {}), base=settings or Settings())
    roads = _road_file(folder)
    coord_system = info.get("coord_system", "wgs84")

    boundary = None
    bpath = _find(folder, "boundary")
    if bpath is not None:
        bgdf = read_layer(bpath, coord_system=coord_system)
        bgdf = bgdf.to_crs("EPSG:4326") if bgdf.crs is not None else bgdf.set_crs("EPSG:4326")
        boundary = shapely.union_all(bgdf.geometry.to_numpy())
    study_area = boundary
    if study_area is None:
        bbox = file_bbox(roads)
        study_area = shapely.box(*bbox) if bbox else None

    problems: list = []
    sites = villages = None
    spath = _find(folder, "sites")
    vpath = _find(folder, "villages")
    code = str(info.get("code", "")) or None
    try:
        if spath is not None:
            raw_sites = _read(spath, coord_system, "sites")
        else:
            from .osm import sites_from_osm

            log.warning(
                "%s: no sites file; reading schools from %s (no pupil counts)", folder, roads.name
            )
            raw_sites = sites_from_osm(roads)
        sites = validate_sites(
            raw_sites, study_area, buffer_km=settings.study_area_buffer_km, county_code=code
        )
    except SchemaError as exc:
        problems.extend(_layer_problems(exc))
    try:
        if vpath is not None:
            raw_villages = _read(vpath, coord_system, "villages")
        else:
            raise CountyFolderError(f"{folder}: no villages file (villages.gpkg or .csv/.xlsx...)")
        villages = validate_villages(
            raw_villages,
            study_area,
            buffer_km=settings.study_area_buffer_km,
            age_shares=settings.age_shares,
        )
    except SchemaError as exc:
        problems.extend(_layer_problems(exc))
    if problems:
        raise SchemaError(f"county {folder.name}", problems)
    dem = folder / "dem.tif"
    pop = folder / "population.tif"
    tpath = _find(folder, "townships")
    townships = (
        read_layer(tpath, coord_system=coord_system).to_crs("EPSG:4326")
        if tpath is not None
        else None
    )
    county = County(
        path=folder,
        name=str(info.get("name", folder.name)),
        code=str(info.get("code", "")),
        settings=settings,
        sites=sites,
        villages=villages,
        roads_path=roads,
        dem_path=dem if dem.exists() else None,
        population_path=pop if pop.exists() else None,
        boundary=boundary,
        townships=townships,
        meta=meta,
    )
    log.info("loaded %r", county)
    return county


def _layer_problems(exc: SchemaError):
    """The problems of a layer's SchemaError, each prefixed with the layer name."""
    from .errors import Problem

    return [Problem(f"{exc.layer}: {p.message}", p.column, p.rows) for p in exc.problems]


def _read(path: Path, coord_system: str, layer: str):
    """Read a layer file; an unreadable file is a schema problem that names the file."""
    from .errors import Problem

    try:
        return read_layer(path, coord_system=coord_system)
    except SchemaError:
        raise
    except Exception as exc:  # GDAL / parquet / spreadsheet errors
        raise SchemaError(
            layer, [Problem(f"{path.name}: cannot read the file ({type(exc).__name__}: {exc})")]
        ) from exc


def network_for(path: str | Path, mode: str, settings: Settings | None = None) -> Network:
    """Road network of a county folder (terrain-adjusted if it has ``dem.tif``), without
    loading its layers."""
    folder = Path(path)
    dem = folder / "dem.tif"
    return _with_terrain(
        network_from_file(_road_file(folder), mode, settings), dem if dem.exists() else None
    )


def _road_file(folder: Path) -> Path:
    """The county's OSM road file (the first of :data:`ROAD_FILES` present)."""
    roads = next((folder / f for f in ROAD_FILES if (folder / f).exists()), None)
    if roads is None:
        raise CountyFolderError(f"{folder}: no road file (one of {', '.join(ROAD_FILES)})")
    return roads


def _with_terrain(net: Network, dem_path: Path | None) -> Network:
    """Slope-dependent times from the county's DEM, when it has one and terrain is on."""
    if dem_path is None or not net.settings.terrain:
        return net
    from .terrain import apply_terrain

    return apply_terrain(net, dem_path)
