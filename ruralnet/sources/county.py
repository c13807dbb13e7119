"""The county folder: one call reads and validates everything a county brings.

Convention (see the README)::

    COUNTY_DIR/
      roads.osm.pbf        road network (or roads.osm / roads.osm.bz2)      required
      sites.gpkg           school sites (or .parquet/.geojson/.csv/.xlsx)   required*
      villages.gpkg        villages with population / children             required
      dem.tif              elevation (terrain-aware walking)               optional
      population.tif       population raster                               optional
      boundary.geojson     county boundary (study-area check)              optional
      townships.gpkg       township polygons (township_code, name)          optional
      depots.gpkg          bus depots (points; depot_id, name)              optional
      buses.csv            today's school buses (seats, kind, ...)          optional
      county.toml          [county] name, code, coord_system; [settings] overrides;
                           [plan] the county's levers (see ruralnet.sources.scenario)

\\* without ``sites.*`` the sites are read from the OSM file's schools (no pupils).

:func:`read_county` reads the files into a :class:`CountyFolder` (layers validated, every
problem of every file collected and raised once); the road networks are built on demand by
:class:`ruralnet.network.county.County`, which is what :func:`ruralnet.load_county` returns.
"""

from __future__ import annotations

import difflib
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from ..model.coords import COORD_SYSTEMS, normalise_coord_system
from ..model.errors import CountyFolderError, Problem, SchemaError, SettingsError
from ..model.schema import CHILD_COLUMNS, _normalise_code, validate_sites, validate_villages
from ..model.settings import Settings
from .fleet import find_fleet_file, read_fleet
from .layers import read_layer, read_table
from .osm import file_bbox, sites_from_osm
from .rasters import raster_problems
from .roster import looks_like_roster, read_roster
from .scenario import Scenario, read_scenario, scenario_from

log = logging.getLogger(__name__)

ROAD_FILES = ("roads.osm.pbf", "roads.osm", "roads.osm.bz2")
LAYER_SUFFIXES = (".gpkg", ".parquet", ".geoparquet", ".geojson", ".csv", ".xlsx")
#: Keys of the ``[county]`` table of ``county.toml``.
COUNTY_KEYS = ("name", "code", "coord_system", "seat_township", "urban_share", "note", "source")
#: Tables of ``county.toml`` (``[generated]`` is free-form metadata of generated counties).
TOML_TABLES = ("county", "settings", "plan", "generated", "layers")
#: Layers whose coordinate system ``[layers]`` may declare, each on its own
#: (``sites = "gcj02"`` or ``[layers.sites] coord_system = "gcj02"``).
LAYERS = ("sites", "villages", "boundary", "townships", "depots")


def layer_system(meta: dict, stem: str) -> str:
    """The coordinate system of one layer: its ``[layers]`` entry, else ``[county]
    coord_system``, else WGS84 (canonical names)."""
    entry = meta.get("layers", {}).get(stem)
    if isinstance(entry, dict):
        entry = entry.get("coord_system")
    value = entry if entry is not None else meta.get("county", {}).get("coord_system", "wgs84")
    return normalise_coord_system(str(value))


@dataclass
class CountyFolder:
    """A county folder, read and validated.

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
    townships
        Township polygons (``township_code``, ``name``) if given.
    depots
        Bus depots (points, ``depot_id``, ``name``) if given; else buses park at the schools.
    buses
        Today's school buses (:data:`ruralnet.sources.fleet.FLEET_COLUMNS`) if the folder
        lists them (``buses.csv``/``.xlsx``); else the current plan's buses are those needed
        under the rules, never "today's".
    meta
        The whole ``county.toml``.
    scenario
        The levers applied (``county.toml`` ``[plan]`` and a scenario file): ``name``,
        ``description``, ``sources``, ``levers`` (see :meth:`Scenario.record`).
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
    depots: gpd.GeoDataFrame | None = None
    buses: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)
    scenario: dict = field(default_factory=dict)

    def township_names(self) -> dict[str, str]:
        """Township code -> name, from the townships layer (codes without a name map to
        themselves)."""
        names: dict[str, str] = {}
        if self.townships is not None and {"township_code", "name"} <= set(self.townships):
            for code, name in zip(
                self.townships["township_code"], self.townships["name"], strict=True
            ):
                names[str(code)] = str(name)
        for code in self.sites["township_code"].astype(str).unique():
            names.setdefault(code, code)
        return names

    def __repr__(self) -> str:
        return (
            f"<County {self.name} ({self.code or 'no code'}): {len(self.sites)} sites, "
            f"{len(self.villages)} villages, roads={self.roads_path.name}>"
        )


def read_toml(folder: Path) -> dict[str, Any]:
    """``county.toml`` checked: known tables and ``[county]`` keys (with a "did you mean"),
    a valid coordinate system. Missing file: an empty dict."""
    path = folder / "county.toml"
    if not path.exists():
        return {}
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CountyFolderError(f"{path}: cannot read: {exc}") from exc
    problems = []
    for table in sorted(set(meta) - set(TOML_TABLES)):
        problems.append(f"unknown table [{table}]{_suggest(table, TOML_TABLES)}")
    for table in TOML_TABLES:
        if table in meta and not isinstance(meta[table], dict):
            problems.append(
                f"{table} must be a table ([{table}] with name = value lines), got {meta[table]!r}"
            )
    info = meta.get("county", {})
    if isinstance(info, dict):
        for key in sorted(set(info) - set(COUNTY_KEYS)):
            problems.append(f"unknown key {key!r} in [county]{_suggest(key, COUNTY_KEYS)}")
        share = info.get("urban_share")
        if share is not None and not (
            isinstance(share, int | float) and not isinstance(share, bool) and 0 <= share < 1
        ):
            problems.append(f"[county] urban_share must be a share from 0 up to 1, got {share!r}")
        if "coord_system" in info:
            try:
                normalise_coord_system(str(info["coord_system"]))
            except ValueError:
                problems.append(
                    f"[county] coord_system {info['coord_system']!r} is not one of "
                    f"{', '.join(COORD_SYSTEMS)}"
                )
    problems += _layers_problems(meta.get("layers", {}))
    if problems:
        raise CountyFolderError(f"{path}: " + "; ".join(problems))
    return meta


def _layers_problems(layers) -> list[str]:
    """``[layers]``: known layer names, each a coordinate system or a table with one."""
    if not isinstance(layers, dict):
        return []
    problems = []
    for stem, entry in layers.items():
        if stem not in LAYERS:
            problems.append(f"unknown layer {stem!r} in [layers]{_suggest(stem, LAYERS)}")
            continue
        value = entry.get("coord_system") if isinstance(entry, dict) else entry
        try:
            normalise_coord_system(str(value))
        except ValueError:
            problems.append(
                f"[layers] {stem}: coord_system {value!r} is not one of {', '.join(COORD_SYSTEMS)}"
            )
    return problems


def _suggest(key: str, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"


def _find(folder: Path, stem: str) -> Path | None:
    """The one file ``stem.*`` of a layer; two of them is an error (which one was meant?)."""
    found = [folder / f"{stem}{s}" for s in LAYER_SUFFIXES if (folder / f"{stem}{s}").exists()]
    if len(found) > 1:
        raise CountyFolderError(
            f"{folder}: {len(found)} {stem} files ({', '.join(p.name for p in found)}); "
            "keep one so it is clear which is meant"
        )
    return found[0] if found else None


def read_county(
    path: str | Path,
    settings: Settings | None = None,
    scenario: Scenario | str | Path | None = None,
) -> CountyFolder:
    """Read and validate a county folder (everything but the road networks).

    Parameters
    ----------
    path
        The folder (see the module docstring for its files).
    settings
        Base settings; the folder's ``county.toml`` ``[settings]`` table is applied on top,
        then its ``[plan]`` table (the county's levers).
    scenario
        A scenario (or its TOML file, :func:`ruralnet.sources.scenario.read_scenario`)
        applied last.

    Raises
    ------
    CountyFolderError
        If the folder, its road file or its villages file is missing, a layer is given twice,
        or ``county.toml`` cannot be read.
    SettingsError
        For unknown or invalid ``[settings]``, ``[plan]`` or scenario levers (all named).
    SchemaError
        If sites, villages or the boundary are invalid (problems of all layers reported
        together, naming files, rows and columns).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise CountyFolderError(f"county folder not found: {folder}")
    meta = read_toml(folder)
    info = meta.get("county", {})
    settings, record = _settings(folder, meta, settings, scenario)
    roads = _road_file(folder)
    system = {stem: layer_system(meta, stem) for stem in LAYERS}
    code = str(info.get("code", "")) or None

    problems: list[Problem] = []
    boundary = _boundary(folder, system["boundary"], problems)
    study_area = boundary if boundary is not None else _roads_box(roads)
    townships = _townships(folder, system["townships"], problems)
    sites = _layer(folder, "sites", system["sites"], problems, roads=roads, townships=townships)
    villages = _layer(folder, "villages", system["villages"], problems)
    area = {"study_area": study_area, "buffer_km": settings.study_area_buffer_km}
    if sites is not None:
        sites = _validated(validate_sites, sites, problems, **area, county_code=code)
    if villages is not None:
        villages = _validated(
            validate_villages, villages, problems, **area, age_shares=settings.age_shares
        )
    depots = _depots(folder, system["depots"], study_area, settings, problems)
    if sites is not None and villages is not None:
        _across_layers(sites, villages, townships, code, problems)
    buses = _fleet(folder, sites, problems)
    dem, pop = folder / "dem.tif", folder / "population.tif"
    area = study_area if study_area is not None else _extent(sites, villages)
    for path, what in ((dem, "elevation"), (pop, "population")):
        if path.exists():
            problems.extend(raster_problems(path, what, area, zero_is_empty=what == "population"))
    if problems:
        raise SchemaError(f"county {folder.name}", problems)
    return CountyFolder(
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
        depots=depots,
        buses=buses,
        meta=meta,
        scenario=record,
    )


def _roads_box(roads: Path):
    """The road file's extent as the study area of a folder without a boundary."""
    bbox = file_bbox(roads)
    return shapely.box(*bbox) if bbox else None


def _fleet(folder: Path, sites, problems: list[Problem]):
    """Today's buses, if the folder lists them (checked against the site ids)."""
    fleet_file = find_fleet_file(folder)
    if fleet_file is None:
        return None
    return read_fleet(fleet_file, sites["site_id"] if sites is not None else [], problems)


def _settings(
    folder: Path, meta: dict, base: Settings | None, scenario: Scenario | str | Path | None
) -> tuple[Settings, dict]:
    """The base settings with the folder's ``[settings]`` and ``[plan]`` tables on top, then
    the scenario (errors name the file), and the record of the levers applied."""
    try:
        settings = Settings.from_dict(meta.get("settings", {}), base=base or Settings())
    except SettingsError as exc:
        raise SettingsError(f"{folder / 'county.toml'} [settings]: {exc}") from exc
    plan = scenario_from(meta.get("plan", {}), f"{folder / 'county.toml'} [plan]")
    if scenario is not None and not isinstance(scenario, Scenario):
        scenario = read_scenario(scenario)
    levers: dict = {}
    record = {"name": plan.name, "description": plan.description, "sources": [], "levers": {}}
    for part in (plan, scenario):
        if part is None or not (part.levers or part.name):
            continue
        settings = part.apply(settings)
        levers.update(part.record()["levers"])
        record["name"] = part.name or record["name"]
        record["description"] = part.description or record["description"]
        record["sources"].append(part.source)
    record["levers"] = levers
    return settings, record


def _townships(folder: Path, coord_system: str, problems: list[Problem]):
    """Township polygons (``township_code``, ``name``) from ``townships.*``, if given."""
    path = _find(folder, "townships")
    if path is None:
        return None
    try:
        gdf = read_layer(path, coord_system=coord_system)
    except Exception as exc:
        problems.append(Problem(f"{path.name}: cannot read the file ({_short(exc)})"))
        return None
    missing = [c for c in ("township_code", "name") if c not in gdf.columns]
    if missing:
        problems.append(Problem(f"{path.name}: missing column(s) {missing}"))
        return None

    gdf = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf.set_crs("EPSG:4326")
    gdf["township_code"] = _normalise_code(gdf["township_code"])
    return gdf


def _across_layers(sites, villages, townships, code: str | None, problems: list[Problem]) -> None:
    """Problems only the layers together show: ids shared by a site and a village, township
    codes no township list knows, villages without a single child."""
    shared = sorted(set(sites["site_id"].astype(str)) & set(villages["village_id"].astype(str)))
    if shared:
        problems.append(
            Problem(
                f"{len(shared)} id(s) stand in both sites (site_id) and villages (village_id): "
                f"{', '.join(shared[:8])}{' ...' if len(shared) > 8 else ''} (ids must be "
                "unique across layers)",
                "site_id",
                tuple(shared),
            )
        )
    # with a township list, codes must be in it; without, start with the county's code
    known = set(townships["township_code"].astype(str)) if townships is not None else None
    for layer, frame, id_col in (("sites", sites, "site_id"), ("villages", villages, "village_id")):
        towns = frame["township_code"].astype(str)
        if known is not None:
            bad = ~towns.isin(known)
            reason = "township code not in townships layer"
        elif code:
            bad = ~towns.str.startswith(str(code))
            reason = f"township code does not belong to county {code}"
        else:
            continue
        if bad.any():
            codes = sorted(set(towns[bad]))
            named = ", ".join(codes[:8]) + (" ..." if len(codes) > 8 else "")
            problems.append(
                Problem(
                    f"{layer}: {reason}: {named}",
                    "township_code",
                    tuple(frame.loc[bad, id_col].astype(str)),
                )
            )

    if villages[list(CHILD_COLUMNS.values())].to_numpy(float).sum() == 0:
        problems.append(
            Problem(
                "villages: no village has any child (children and population all 0)", "population"
            )
        )


def _extent(sites, villages):
    """The points' convex hull (WGS84), when the folder gives no boundary or OSM box."""
    import shapely

    pts = [g for layer in (sites, villages) if layer is not None for g in layer.geometry]
    return shapely.convex_hull(shapely.MultiPoint(pts)).buffer(0.05) if pts else None


def _boundary(folder: Path, coord_system: str, problems: list[Problem]):
    """The county polygon (WGS84) from ``boundary.*``; unreadable or empty files are problems."""
    path = _find(folder, "boundary")
    if path is None:
        return None
    try:
        gdf = read_layer(path, coord_system=coord_system)
    except Exception as exc:
        problems.append(Problem(f"{path.name}: cannot read the file ({_short(exc)})", "boundary"))
        return None
    gdf = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf.set_crs("EPSG:4326")
    geoms = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    polygons = geoms[geoms.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygons.empty:
        problems.append(Problem(f"{path.name}: no polygon in the file (the county boundary)"))
        return None
    return shapely.make_valid(shapely.union_all(polygons.to_numpy()))


def _depots(folder: Path, coord_system: str, area, settings: Settings, problems: list[Problem]):
    """The optional bus depots: points in the county, with ``depot_id`` and ``name``."""
    if _find(folder, "depots") is None:
        return None
    layer = _layer(folder, "depots", coord_system, problems)
    if layer is None:
        return None
    if layer.crs is not None and layer.crs.to_epsg() != 4326:
        layer = layer.to_crs("EPSG:4326")  # any CRS, as the other layers (UTM was refused)
    name = _find(folder, "depots").name
    if len(layer) == 0:
        problems.append(Problem(f"{name}: no depot in the file", "geometry"))
        return None
    points = layer.geometry.notna() & (layer.geom_type == "Point")
    if not points.all():
        rows = tuple(layer.index[~points])
        problems.append(Problem(f"{name}: depots must be points", "geometry", rows))
        return None
    if area is not None:
        reach = area.buffer(settings.study_area_buffer_km / 111.0)
        outside = ~layer.within(reach)
        if outside.any():
            problems.append(
                Problem(
                    f"{name}: depots outside the county", "geometry", tuple(layer.index[outside])
                )
            )
    layer = layer.reset_index(drop=True)
    if "depot_id" not in layer:
        layer["depot_id"] = [f"depot-{i + 1}" for i in range(len(layer))]
    layer["depot_id"] = layer["depot_id"].astype(str)
    if "name" not in layer:
        layer["name"] = layer["depot_id"]
    return layer[["depot_id", "name", "geometry"]]


def _layer(
    folder: Path,
    stem: str,
    coord_system: str,
    problems: list[Problem],
    roads=None,
    townships=None,
):
    """Read ``stem.*``; a missing or unreadable file is a problem naming the file. A sites
    table with a bureau roster's Chinese headers (学校名称, 学校类型, 在校生数, 经度, 纬度,
    办学状态...) is read as a roster (:func:`ruralnet.sources.roster.read_roster`; township
    names to codes from ``townships.*``)."""
    path = _find(folder, stem)
    if path is None:
        if stem == "sites" and roads is not None:
            log.warning(
                "%s: no sites file; reading schools from %s (no pupils)", folder, roads.name
            )
            return sites_from_osm(roads)
        raise CountyFolderError(f"{folder}: no {stem} file ({stem}.gpkg or .csv/.xlsx...)")
    try:
        if _is_roster(stem, path):
            names = (
                dict(zip(townships["name"].astype(str), townships["township_code"], strict=True))
                if townships is not None
                else None
            )
            return read_roster(path, coord_system=coord_system, townships=names)[0]
        return read_layer(path, coord_system=coord_system)
    except SchemaError as exc:
        problems.extend(
            Problem(f"{path.name}: {p.message}", p.column, p.rows) for p in exc.problems
        )
    except Exception as exc:  # GDAL / parquet / spreadsheet errors
        problems.append(Problem(f"{path.name}: cannot read the file ({_short(exc)})"))
    return None


def _is_roster(stem: str, path: Path) -> bool:
    """A sites table whose headers are a bureau roster's (Chinese) rather than the layer's."""
    tabular = path.suffix.lower() in (".csv", ".xlsx", ".xls")
    return stem == "sites" and tabular and looks_like_roster(read_table(path).columns)


def _validated(validate, layer, problems: list[Problem], **kwargs):
    try:
        return validate(layer, **kwargs)
    except SchemaError as exc:
        problems.extend(
            Problem(f"{exc.layer}: {p.message}", p.column, p.rows) for p in exc.problems
        )
        return None


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _road_file(folder: Path) -> Path:
    """The county's OSM road file (the first of :data:`ROAD_FILES` present)."""
    roads = next((folder / f for f in ROAD_FILES if (folder / f).exists()), None)
    if roads is None:
        raise CountyFolderError(f"{folder}: no road file (one of {', '.join(ROAD_FILES)})")
    return roads
